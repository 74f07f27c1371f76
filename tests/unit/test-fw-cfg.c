/* Unit tests for fw_cfg: the PIO interface, the file directory and DMA
 * transfers against fake guest memory, including descriptors and targets
 * that point outside it. */
#include <errno.h>

#include "fw/fw_cfg.h"
#include "unit.h"

#define RAM_SIZE (1u << 20)
#define DESC 0x1000
#define TARGET 0x2000
#define FILE_LEN 300

struct fixture {
    uint8_t *ram;
    struct gmem *mem;
    struct fw_cfg cfg;
    uint8_t pattern[FILE_LEN];
    uint16_t test_key;
};

static uint16_t find_file(struct fixture *f, const char *name);

static void setup(struct fixture *f, gconstpointer data)
{
    memset(f, 0, sizeof(*f));
    f->ram = g_malloc0(RAM_SIZE);
    f->mem = gmem_new_from_buffer(f->ram, RAM_SIZE, 0);
    fw_cfg_init(&f->cfg, f->mem);
    for (unsigned i = 0; i < FILE_LEN; i++)
        f->pattern[i] = (uint8_t)(i * 7 + 1);
    g_assert_cmpint(fw_cfg_add_file(&f->cfg, "etc/test", f->pattern, FILE_LEN), ==, 0);
    f->test_key = find_file(f, "etc/test");
}

static void teardown(struct fixture *f, gconstpointer data)
{
    fw_cfg_destroy(&f->cfg);
    gmem_free(f->mem);
    g_free(f->ram);
}

static void select_key(struct fixture *f, uint16_t key)
{
    dev_write(&fw_cfg_io_bus_ops, &f->cfg, 0, 2, key);
}

static void pio_read(struct fixture *f, void *buf, size_t len)
{
    uint8_t *p = buf;

    for (size_t i = 0; i < len; i++)
        p[i] = dev_inb(&fw_cfg_io_bus_ops, &f->cfg, 1);
}

static uint32_t be32_at(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Looks the file up in the directory the way firmware does. */
static uint16_t find_file(struct fixture *f, const char *name)
{
    uint8_t count[4], entry[64];

    select_key(f, FW_CFG_FILE_DIR);
    pio_read(f, count, 4);
    for (uint32_t i = 0; i < be32_at(count); i++) {
        pio_read(f, entry, sizeof(entry));
        if (strcmp((const char *)entry + 8, name) == 0)
            return (uint16_t)(entry[4] << 8 | entry[5]);
    }
    return 0;
}

static void put_desc(struct fixture *f, uint64_t at, uint32_t control, uint32_t length,
                     uint64_t address)
{
    uint32_t c = GUINT32_TO_BE(control), l = GUINT32_TO_BE(length);
    uint64_t a = GUINT64_TO_BE(address);

    memcpy(f->ram + at, &c, 4);
    memcpy(f->ram + at + 4, &l, 4);
    memcpy(f->ram + at + 8, &a, 8);
}

static uint32_t desc_control(struct fixture *f, uint64_t at)
{
    return be32_at(f->ram + at);
}

/* Starts a transfer as SeaBIOS does: high half, then low half, each a
 * big-endian dword. */
static void dma_kick(struct fixture *f, uint64_t gpa)
{
    dev_write(&fw_cfg_dma_bus_ops, &f->cfg, 0, 4, GUINT32_SWAP_LE_BE((uint32_t)(gpa >> 32)));
    dev_write(&fw_cfg_dma_bus_ops, &f->cfg, 4, 4, GUINT32_SWAP_LE_BE((uint32_t)gpa));
}

static void test_signature_pio(struct fixture *f, gconstpointer data)
{
    char sig[6] = { 0 };

    select_key(f, FW_CFG_SIGNATURE);
    pio_read(f, sig, 4);
    g_assert_cmpstr(sig, ==, "QEMU");
    /* Past the end of an item reads are zero. */
    pio_read(f, sig, 2);
    g_assert_cmpmem(sig, 2, "\0\0", 2);
    /* Selecting again starts over. */
    select_key(f, FW_CFG_SIGNATURE);
    g_assert_cmphex(dev_inb(&fw_cfg_io_bus_ops, &f->cfg, 1), ==, 'Q');
    /* A word read of the data port reads two bytes of the item. */
    g_assert_cmphex(dev_read(&fw_cfg_io_bus_ops, &f->cfg, 1, 2), ==, 'E' | 'M' << 8);
    /* The selector port reads as zero, byte writes to it are ignored. */
    g_assert_cmphex(dev_inb(&fw_cfg_io_bus_ops, &f->cfg, 0), ==, 0);
    dev_outb(&fw_cfg_io_bus_ops, &f->cfg, 0, FW_CFG_ID);
    g_assert_cmphex(dev_inb(&fw_cfg_io_bus_ops, &f->cfg, 1), ==, 'U');
}

static void test_id(struct fixture *f, gconstpointer data)
{
    uint8_t id[4];

    select_key(f, FW_CFG_ID);
    pio_read(f, id, 4);
    g_assert_cmphex(id[0] & 0x01, ==, 0x01);   /* traditional interface */
    g_assert_cmphex(id[0] & 0x02, ==, 0x02);   /* DMA */
    g_assert_cmphex(id[1] | id[2] | id[3], ==, 0);
}

static void test_file_dir(struct fixture *f, gconstpointer data)
{
    static const char *const sorted[] = { "alpha", "etc/mid", "etc/test", "zeta" };
    static const uint32_t sizes[] = { 7, 4, FILE_LEN, 5 };
    static const char *const contents[] = { "AAAAAAA", "mmmm", NULL, "zzzzz" };
    uint8_t count[4], entry[64], content[FILE_LEN];

    g_assert_cmpint(fw_cfg_add_file(&f->cfg, "zeta", "zzzzz", 5), ==, 0);
    g_assert_cmpint(fw_cfg_add_file(&f->cfg, "alpha", "aaa", 3), ==, 0);
    g_assert_cmpint(fw_cfg_add_file(&f->cfg, "etc/mid", "mmmm", 4), ==, 0);
    /* Adding a name again replaces the contents, not the entry. */
    g_assert_cmpint(fw_cfg_add_file(&f->cfg, "alpha", "AAAAAAA", 7), ==, 0);

    select_key(f, FW_CFG_FILE_DIR);
    pio_read(f, count, 4);
    g_assert_cmpuint(be32_at(count), ==, 4);
    for (unsigned i = 0; i < 4; i++) {
        uint16_t sel;

        select_key(f, FW_CFG_FILE_DIR);
        pio_read(f, count, 4);
        for (unsigned j = 0; j <= i; j++)
            pio_read(f, entry, sizeof(entry));
        g_assert_cmpstr((const char *)entry + 8, ==, sorted[i]);
        g_assert_cmpuint(be32_at(entry), ==, sizes[i]);
        sel = (uint16_t)(entry[4] << 8 | entry[5]);
        g_assert_cmpuint(sel, >=, FW_CFG_FILE_FIRST);
        g_assert_cmphex(entry[6] | entry[7], ==, 0);

        select_key(f, sel);
        pio_read(f, content, sizes[i]);
        if (contents[i])
            g_assert_cmpmem(content, sizes[i], contents[i], sizes[i]);
        else
            g_assert_cmpmem(content, FILE_LEN, f->pattern, FILE_LEN);
    }
}

static void test_add_errors(struct fixture *f, gconstpointer data)
{
    char name[64];

    g_assert_cmpint(fw_cfg_add_file(&f->cfg, "", "x", 1), ==, -EINVAL);
    g_assert_cmpint(fw_cfg_add_file(&f->cfg, NULL, "x", 1), ==, -EINVAL);
    memset(name, 'n', 56);
    name[56] = '\0';
    g_assert_cmpint(fw_cfg_add_file(&f->cfg, name, "x", 1), ==, -EINVAL);
    name[55] = '\0';
    g_assert_cmpint(fw_cfg_add_file(&f->cfg, name, "x", 1), ==, 0);
    g_assert_cmpuint(find_file(f, name), !=, 0);
    g_assert_cmpint(fw_cfg_add_bytes(&f->cfg, FW_CFG_FILE_DIR, "x", 1), ==, -EINVAL);
    g_assert_cmpint(fw_cfg_add_bytes(&f->cfg, FW_CFG_FILE_FIRST, "x", 1), ==, -EINVAL);

    /* Two files are in; fill the rest, then one more does not fit. */
    for (unsigned i = 2; i < FW_CFG_MAX_FILES; i++) {
        g_snprintf(name, sizeof(name), "file%02u", i);
        g_assert_cmpint(fw_cfg_add_file(&f->cfg, name, name, 6), ==, 0);
    }
    g_assert_cmpint(fw_cfg_add_file(&f->cfg, "one-too-many", "x", 1), ==, -ENOSPC);
    /* Replacing an existing file still works when full. */
    g_assert_cmpint(fw_cfg_add_file(&f->cfg, "file63", "y", 1), ==, 0);
    g_assert_cmpuint(find_file(f, "file63"), ==, FW_CFG_FILE_FIRST + FW_CFG_MAX_FILES - 1);
}

static void test_dma_read_file(struct fixture *f, gconstpointer data)
{
    memset(f->ram + TARGET, 0xaa, 2 * FILE_LEN);
    put_desc(f, DESC, (uint32_t)f->test_key << 16 | FW_CFG_DMA_SELECT | FW_CFG_DMA_READ,
             FILE_LEN, TARGET);
    dma_kick(f, DESC);
    g_assert_cmphex(desc_control(f, DESC), ==, 0);
    g_assert_cmpmem(f->ram + TARGET, FILE_LEN, f->pattern, FILE_LEN);
    g_assert_cmphex(f->ram[TARGET + FILE_LEN], ==, 0xaa);

    /* The same, started by a single 64-bit write. */
    memset(f->ram + TARGET, 0xaa, FILE_LEN);
    put_desc(f, DESC, (uint32_t)f->test_key << 16 | FW_CFG_DMA_SELECT | FW_CFG_DMA_READ,
             FILE_LEN, TARGET);
    dev_write(&fw_cfg_dma_bus_ops, &f->cfg, 0, 8, GUINT64_SWAP_LE_BE((uint64_t)DESC));
    g_assert_cmphex(desc_control(f, DESC), ==, 0);
    g_assert_cmpmem(f->ram + TARGET, FILE_LEN, f->pattern, FILE_LEN);
}

static void test_dma_high_half_waits(struct fixture *f, gconstpointer data)
{
    put_desc(f, DESC, (uint32_t)f->test_key << 16 | FW_CFG_DMA_SELECT | FW_CFG_DMA_READ, 4, TARGET);
    dev_write(&fw_cfg_dma_bus_ops, &f->cfg, 0, 4, 0);
    g_assert_cmphex(desc_control(f, DESC), !=, 0);
    g_assert_cmphex(f->ram[TARGET], ==, 0);
    dev_write(&fw_cfg_dma_bus_ops, &f->cfg, 4, 4, GUINT32_SWAP_LE_BE(DESC));
    g_assert_cmphex(desc_control(f, DESC), ==, 0);
    g_assert_cmpmem(f->ram + TARGET, 4, f->pattern, 4);
}

static void test_dma_select_skip_read(struct fixture *f, gconstpointer data)
{
    put_desc(f, DESC, (uint32_t)f->test_key << 16 | FW_CFG_DMA_SELECT | FW_CFG_DMA_SKIP, 100, 0);
    dma_kick(f, DESC);
    g_assert_cmphex(desc_control(f, DESC), ==, 0);
    g_assert_cmphex(f->ram[0], ==, 0);       /* a skip writes nothing */

    put_desc(f, DESC, FW_CFG_DMA_READ, 50, TARGET);
    dma_kick(f, DESC);
    g_assert_cmphex(desc_control(f, DESC), ==, 0);
    g_assert_cmpmem(f->ram + TARGET, 50, f->pattern + 100, 50);
    /* DMA and PIO share the item offset. */
    g_assert_cmphex(dev_inb(&fw_cfg_io_bus_ops, &f->cfg, 1), ==, f->pattern[150]);

    /* A skip past the end is not an error. */
    put_desc(f, DESC, FW_CFG_DMA_SKIP, 1000, 0);
    dma_kick(f, DESC);
    g_assert_cmphex(desc_control(f, DESC), ==, 0);
    g_assert_cmphex(dev_inb(&fw_cfg_io_bus_ops, &f->cfg, 1), ==, 0);
}

static void test_dma_read_past_end(struct fixture *f, gconstpointer data)
{
    memset(f->ram + TARGET, 0xaa, 2 * FILE_LEN);
    put_desc(f, DESC, (uint32_t)f->test_key << 16 | FW_CFG_DMA_SELECT | FW_CFG_DMA_READ,
             FILE_LEN + 100, TARGET);
    dma_kick(f, DESC);
    g_assert_cmphex(desc_control(f, DESC), ==, 0);
    g_assert_cmpmem(f->ram + TARGET, FILE_LEN, f->pattern, FILE_LEN);
    for (unsigned i = FILE_LEN; i < FILE_LEN + 100; i++)
        g_assert_cmphex(f->ram[TARGET + i], ==, 0);
    g_assert_cmphex(f->ram[TARGET + FILE_LEN + 100], ==, 0xaa);

    /* At the end, a further read is all zeros. */
    memset(f->ram + TARGET, 0xaa, 16);
    put_desc(f, DESC, FW_CFG_DMA_READ, 16, TARGET);
    dma_kick(f, DESC);
    g_assert_cmphex(desc_control(f, DESC), ==, 0);
    for (unsigned i = 0; i < 16; i++)
        g_assert_cmphex(f->ram[TARGET + i], ==, 0);

    /* So is an item that does not exist (a write-selector key here). */
    memset(f->ram + TARGET, 0xaa, 16);
    put_desc(f, DESC, 0x4000u << 16 | FW_CFG_DMA_SELECT | FW_CFG_DMA_READ, 16, TARGET);
    dma_kick(f, DESC);
    g_assert_cmphex(desc_control(f, DESC), ==, 0);
    for (unsigned i = 0; i < 16; i++)
        g_assert_cmphex(f->ram[TARGET + i], ==, 0);
}

static void test_dma_target_outside(struct fixture *f, gconstpointer data)
{
    static const uint64_t bad[] = {
        RAM_SIZE,                   /* just past the end */
        RAM_SIZE - 16,              /* straddles the end */
        0xfffffffffffffff0ull,      /* wraps */
        1ull << 40,
    };
    uint8_t *snapshot = g_malloc(RAM_SIZE);

    for (unsigned i = 0; i < G_N_ELEMENTS(bad); i++) {
        put_desc(f, DESC, (uint32_t)f->test_key << 16 | FW_CFG_DMA_SELECT | FW_CFG_DMA_READ,
                 FILE_LEN, bad[i]);
        memcpy(snapshot, f->ram, RAM_SIZE);
        dma_kick(f, DESC);
        g_assert_cmphex(desc_control(f, DESC), ==, FW_CFG_DMA_ERROR);
        /* Only the status word changed. */
        memcpy(snapshot + DESC, f->ram + DESC, 4);
        g_assert_true(memcmp(snapshot, f->ram, RAM_SIZE) == 0);
    }
    /* A failed transfer does not move the offset. */
    put_desc(f, DESC, FW_CFG_DMA_READ, 10, TARGET);
    dma_kick(f, DESC);
    g_assert_cmphex(desc_control(f, DESC), ==, 0);
    g_assert_cmpmem(f->ram + TARGET, 10, f->pattern, 10);

    /* An empty read touches no memory, so its address does not matter. */
    put_desc(f, DESC, FW_CFG_DMA_READ, 0, 1ull << 40);
    dma_kick(f, DESC);
    g_assert_cmphex(desc_control(f, DESC), ==, 0);

    /* Writes are refused: no item here is writable. */
    put_desc(f, DESC, FW_CFG_DMA_WRITE, 4, TARGET);
    dma_kick(f, DESC);
    g_assert_cmphex(desc_control(f, DESC), ==, FW_CFG_DMA_ERROR);
    g_free(snapshot);
}

static void test_dma_descriptor_outside(struct fixture *f, gconstpointer data)
{
    static const uint64_t bad[] = {
        RAM_SIZE, RAM_SIZE - 8, 0xfffffffffffffff8ull, 0xffffffffffffffffull, 1ull << 33,
    };
    uint8_t *snapshot = g_malloc(RAM_SIZE);

    /* Guest memory full of plausible descriptors pointing at each other. */
    for (unsigned at = 0; at < RAM_SIZE; at += 16)
        put_desc(f, at, (uint32_t)f->test_key << 16 | FW_CFG_DMA_SELECT | FW_CFG_DMA_READ, 16, at);
    memcpy(snapshot, f->ram, RAM_SIZE);
    for (unsigned i = 0; i < G_N_ELEMENTS(bad); i++) {
        dma_kick(f, bad[i]);
        g_assert_true(memcmp(snapshot, f->ram, RAM_SIZE) == 0);
    }
    g_free(snapshot);
}

static void test_dma_signature(struct fixture *f, gconstpointer data)
{
    uint8_t sig[8];

    bus_put(sig, 8, dev_read(&fw_cfg_dma_bus_ops, &f->cfg, 0, 8));
    g_assert_cmpmem(sig, 8, "QEMU CFG", 8);
    bus_put(sig, 4, dev_read(&fw_cfg_dma_bus_ops, &f->cfg, 4, 4));
    g_assert_cmpmem(sig, 4, " CFG", 4);
    g_assert_cmphex(dev_inb(&fw_cfg_dma_bus_ops, &f->cfg, 0), ==, 'Q');
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
#define ADD(path, fn) g_test_add("/fw-cfg/" path, struct fixture, NULL, setup, fn, teardown)
    ADD("signature-pio", test_signature_pio);
    ADD("id", test_id);
    ADD("file-dir", test_file_dir);
    ADD("add-errors", test_add_errors);
    ADD("dma-read-file", test_dma_read_file);
    ADD("dma-high-half-waits", test_dma_high_half_waits);
    ADD("dma-select-skip-read", test_dma_select_skip_read);
    ADD("dma-read-past-end", test_dma_read_past_end);
    ADD("dma-target-outside", test_dma_target_outside);
    ADD("dma-descriptor-outside", test_dma_descriptor_outside);
    ADD("dma-signature", test_dma_signature);
#undef ADD
    return g_test_run();
}
