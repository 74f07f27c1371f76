/* Unit tests for MSI-X: delivery with the table's address and data, the
 * per-vector and function masks holding messages as pending bits, and the
 * release of pending messages when unmasked. */
#include "pci/msix.h"
#include "unit.h"

#define CAP 0x40
#define NVEC 4

struct fixture {
    struct pci_dev dev;
    struct msix m;
    unsigned sent;
    uint64_t addr;
    uint32_t data;
    unsigned vec;
};

static int record(void *opaque, unsigned vec, uint64_t addr, uint32_t data)
{
    struct fixture *f = opaque;

    f->sent++;
    f->addr = addr;
    f->data = data;
    f->vec = vec;
    return 0;
}

static void setup(struct fixture *f, gconstpointer data)
{
    memset(f, 0, sizeof(*f));
    g_assert_cmpint(msix_init(&f->m, &f->dev, NVEC, CAP, 1, 0, 0x800,
                              (struct msi_sink){ record, f }), ==, 0);
}

static void teardown(struct fixture *f, gconstpointer data)
{
    msix_destroy(&f->m);
}

static void set_control(struct fixture *f, uint16_t v)
{
    pci_set16(&f->dev.cfg[CAP + 2], (uint16_t)((f->dev.cfg[CAP + 2] | f->dev.cfg[CAP + 3] << 8) & 0x7ff) |
                                    (v & 0xc000));
    msix_config_written(&f->m, CAP + 2, 2);
}

static void program(struct fixture *f, unsigned vec, uint64_t addr, uint32_t data, bool masked)
{
    uint8_t e[16] = { 0 };

    memcpy(e, &addr, 8);
    memcpy(e + 8, &data, 4);
    e[12] = masked;
    msix_table_write(&f->m, 16 * vec, e, 16);
}

static uint8_t pba(struct fixture *f)
{
    uint8_t b;

    msix_pba_read(&f->m, 0, &b, 1);
    return b;
}

static void test_capability(struct fixture *f, gconstpointer data)
{
    uint8_t v[16];

    g_assert_cmpuint(f->dev.cfg[CAP], ==, 0x11);
    g_assert_cmpuint(f->dev.cfg[CAP + 2], ==, NVEC - 1);
    g_assert_cmphex(pci_get32(&f->dev.cfg[CAP + 4]), ==, 1);
    g_assert_cmphex(pci_get32(&f->dev.cfg[CAP + 8]), ==, 0x801);
    g_assert_cmphex(f->dev.cfg[PCI_STATUS] & 0x10, ==, 0x10);
    /* Vectors start masked. */
    msix_table_read(&f->m, 16, v, 16);
    g_assert_cmpuint(v[12], ==, 1);
    g_assert_cmpint(msix_init(&f->m, &f->dev, 0, CAP, 1, 0, 0x800, (struct msi_sink){ 0 }), ==, -EINVAL);
}

static void test_delivery(struct fixture *f, gconstpointer data)
{
    program(f, 2, 0xfee00000, 0x4041, false);
    msix_notify(&f->m, 2);
    g_assert_cmpuint(f->sent, ==, 0);       /* not enabled: dropped */
    set_control(f, 0x8000);
    msix_notify(&f->m, 2);
    g_assert_cmpuint(f->sent, ==, 1);
    g_assert_cmphex(f->addr, ==, 0xfee00000);
    g_assert_cmphex(f->data, ==, 0x4041);
    g_assert_cmpuint(f->vec, ==, 2);
    msix_notify(&f->m, NVEC);               /* out of range: ignored */
    msix_notify(&f->m, 0xffff);
    g_assert_cmpuint(f->sent, ==, 1);
}

static void test_vector_mask(struct fixture *f, gconstpointer data)
{
    uint8_t unmask = 0;

    set_control(f, 0x8000);
    program(f, 1, 0xfee01000, 7, true);
    msix_notify(&f->m, 1);
    g_assert_cmpuint(f->sent, ==, 0);
    g_assert_cmphex(pba(f), ==, 0x02);
    msix_table_write(&f->m, 16 + 12, &unmask, 1);
    g_assert_cmpuint(f->sent, ==, 1);
    g_assert_cmphex(f->data, ==, 7);
    g_assert_cmpuint(f->vec, ==, 1);
    g_assert_cmphex(pba(f), ==, 0);
}

static void test_function_mask(struct fixture *f, gconstpointer data)
{
    program(f, 0, 0xfee00000, 1, false);
    program(f, 3, 0xfee00000, 3, false);
    set_control(f, 0xc000);
    msix_notify(&f->m, 0);
    msix_notify(&f->m, 3);
    g_assert_cmpuint(f->sent, ==, 0);
    g_assert_cmphex(pba(f), ==, 0x09);
    set_control(f, 0x8000);
    g_assert_cmpuint(f->sent, ==, 2);
    g_assert_cmphex(pba(f), ==, 0);
}

static void test_table_bounds(struct fixture *f, gconstpointer data)
{
    uint8_t junk[16];

    memset(junk, 0xff, sizeof(junk));
    msix_table_write(&f->m, 16 * NVEC, junk, 16);
    msix_table_write(&f->m, 16 * NVEC - 4, junk, 8);
    msix_table_read(&f->m, 16 * NVEC - 4, junk, 8);
    g_assert_cmpuint(junk[0], ==, 1);       /* vector control: only the mask bit */
    g_assert_cmpuint(junk[4], ==, 0);
    msix_pba_read(&f->m, 4096, junk, 4);
    g_assert_cmpuint(junk[0], ==, 0);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
#define ADD(path, fn) g_test_add("/msix/" path, struct fixture, NULL, setup, fn, teardown)
    ADD("capability", test_capability);
    ADD("delivery", test_delivery);
    ADD("vector-mask", test_vector_mask);
    ADD("function-mask", test_function_mask);
    ADD("table-bounds", test_table_bounds);
#undef ADD
    return g_test_run();
}
