/* Unit tests for virtio-blk on a temporary raw image, through the virtio-pci
 * transport as a driver would use it: reads, writes that reach the file,
 * flush, discard, GET_ID, and requests a hostile driver makes (out of range,
 * odd lengths, writes to a read-only disk, no status byte). */
#include <fcntl.h>
#include <unistd.h>

#include "virtio/blk.h"
#include "unit.h"
#include "virtio-driver.h"

#define RAM_SIZE 0x20000
#define QSIZE 8
#define DESC  0x1000
#define AVAIL 0x2000
#define USED  0x3000
#define HDR   0x4000
#define DATA  0x5000
#define STAT  0x9000
#define DISK_SECTORS 64

struct fixture {
    uint8_t *ram;
    struct gmem *mem;
    struct virtio_blk *blk;
    char path[64];
    uint16_t avail;
};

static uint64_t rd(struct fixture *f, uint64_t off, unsigned size)
{
    return dev_read(&virtio_pci_bar4_ops, &f->blk->vpci, off, size);
}

static void wr(struct fixture *f, uint64_t off, unsigned size, uint64_t v)
{
    dev_write(&virtio_pci_bar4_ops, &f->blk->vpci, off, size, v);
}

static void start(struct fixture *f, bool readonly)
{
    char err[256];

    f->blk = virtio_blk_new(f->path, readonly, 1, f->mem, (struct msi_sink){ 0 }, (struct irq_line){ 0 },
                            err, sizeof(err));
    g_assert_nonnull(f->blk);
    g_assert_cmphex(vdrv_negotiate(&f->blk->vpci), ==, 11);
    vdrv_queue(&f->blk->vpci, 0, QSIZE, DESC, AVAIL, USED);
    g_assert_cmphex(vdrv_ready(&f->blk->vpci), ==, 15);
}

static void setup(struct fixture *f, gconstpointer data)
{
    int fd;

    memset(f, 0, sizeof(*f));
    f->ram = g_malloc0(RAM_SIZE);
    f->mem = gmem_new_from_buffer(f->ram, RAM_SIZE, 0);
    strcpy(f->path, "/tmp/nook-blk-XXXXXX");
    fd = mkstemp(f->path);
    g_assert_cmpint(fd, >=, 0);
    g_assert_cmpint(ftruncate(fd, DISK_SECTORS * 512), ==, 0);
    close(fd);
}

static void teardown(struct fixture *f, gconstpointer data)
{
    virtio_blk_free(f->blk);
    unlink(f->path);
    gmem_free(f->mem);
    g_free(f->ram);
}

static void desc(struct fixture *f, uint16_t i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
    uint8_t *d = f->ram + DESC + 16u * i;

    memcpy(d, &addr, 8);
    memcpy(d + 8, &len, 4);
    memcpy(d + 12, &flags, 2);
    memcpy(d + 14, &next, 2);
}

/* header, optional data (device-readable for writes), status; returns the
 * status byte the device wrote. */
static uint8_t request(struct fixture *f, uint32_t type, uint64_t sector, uint32_t len, bool data_out)
{
    uint16_t used_before, used_after;

    memcpy(f->ram + HDR, &type, 4);
    memset(f->ram + HDR + 4, 0, 4);
    memcpy(f->ram + HDR + 8, &sector, 8);
    f->ram[STAT] = 0xee;
    desc(f, 0, HDR, 16, VIRTQ_DESC_F_NEXT, len ? 1 : 2);
    if (len)
        desc(f, 1, DATA, len, VIRTQ_DESC_F_NEXT | (data_out ? 0 : VIRTQ_DESC_F_WRITE), 2);
    desc(f, 2, STAT, 1, VIRTQ_DESC_F_WRITE, 0);
    memset(f->ram + AVAIL + 4 + 2 * (f->avail % QSIZE), 0, 2);
    f->avail++;
    memcpy(f->ram + AVAIL + 2, &f->avail, 2);
    memcpy(&used_before, f->ram + USED + 2, 2);
    wr(f, VIRTIO_PCI_NOTIFY_OFF, 2, 0);
    memcpy(&used_after, f->ram + USED + 2, 2);
    g_assert_cmpuint((uint16_t)(used_after - used_before), ==, 1);
    return f->ram[STAT];
}

static void test_config(struct fixture *f, gconstpointer data)
{
    start(f, false);
    g_assert_cmpuint(rd(f, VIRTIO_PCI_DEVICE_OFF, 4), ==, DISK_SECTORS);
    g_assert_cmpuint(rd(f, VIRTIO_PCI_DEVICE_OFF + 20, 4), ==, 512);
    g_assert_cmphex(f->blk->vpci.pci.cfg[2], ==, 0x42);
}

static void test_write_read_flush(struct fixture *f, gconstpointer data)
{
    uint8_t file[1024];
    int fd;

    start(f, false);
    for (int i = 0; i < 1024; i++)
        f->ram[DATA + i] = (uint8_t)(i * 7 + 1);
    g_assert_cmpuint(request(f, 1, 3, 1024, true), ==, 0);
    g_assert_cmpuint(request(f, 4, 0, 0, false), ==, 0);
    fd = open(f->path, O_RDONLY);
    g_assert_cmpint(pread(fd, file, sizeof(file), 3 * 512), ==, sizeof(file));
    close(fd);
    g_assert_cmpmem(file, sizeof(file), f->ram + DATA, 1024);
    memset(f->ram + DATA, 0, 1024);
    g_assert_cmpuint(request(f, 0, 3, 1024, false), ==, 0);
    g_assert_cmpmem(file, sizeof(file), f->ram + DATA, 1024);
}

/* Posts the chain already in the descriptor table (head 0) and notifies. */
static void post(struct fixture *f)
{
    memset(f->ram + AVAIL + 4 + 2 * (f->avail % QSIZE), 0, 2);
    f->avail++;
    memcpy(f->ram + AVAIL + 2, &f->avail, 2);
    wr(f, VIRTIO_PCI_NOTIFY_OFF, 2, 0);
}

static void test_scattered(struct fixture *f, gconstpointer data)
{
    /* A write of 1024 bytes whose data starts in the header's buffer and
     * runs on through two more at odd sizes and places. */
    const uint64_t a = DATA, b2 = DATA + 0x800, c = DATA + 0x1400;
    uint32_t type = 1;
    uint64_t sector = 5;
    uint8_t file[1024], expect[1024];
    int fd;

    start(f, false);
    for (int i = 0; i < 1024; i++)
        expect[i] = (uint8_t)(i * 13 + 5);
    memcpy(f->ram + a, &type, 4);
    memset(f->ram + a + 4, 0, 4);
    memcpy(f->ram + a + 8, &sector, 8);
    memcpy(f->ram + a + 16, expect, 100);
    memcpy(f->ram + b2, expect + 100, 700);
    memcpy(f->ram + c, expect + 800, 224);
    desc(f, 0, a, 116, VIRTQ_DESC_F_NEXT, 1);
    desc(f, 1, b2, 700, VIRTQ_DESC_F_NEXT, 2);
    desc(f, 2, c, 224, VIRTQ_DESC_F_NEXT, 3);
    desc(f, 3, STAT, 1, VIRTQ_DESC_F_WRITE, 0);
    f->ram[STAT] = 0xee;
    post(f);
    g_assert_cmpuint(f->ram[STAT], ==, 0);
    fd = open(f->path, O_RDONLY);
    g_assert_cmpint(pread(fd, file, sizeof(file), 5 * 512), ==, sizeof(file));
    close(fd);
    g_assert_cmpmem(file, sizeof(file), expect, sizeof(expect));

    /* Read it back into two buffers, the status byte at the end of the
     * second. */
    type = 0;
    memcpy(f->ram + HDR, &type, 4);
    memcpy(f->ram + HDR + 8, &sector, 8);
    memset(f->ram + a, 0, 0x2000);
    desc(f, 0, HDR, 16, VIRTQ_DESC_F_NEXT, 1);
    desc(f, 1, a, 300, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 2);
    desc(f, 2, c, 725, VIRTQ_DESC_F_WRITE, 0);
    f->ram[c + 724] = 0xee;
    post(f);
    g_assert_cmpuint(f->ram[c + 724], ==, 0);
    g_assert_cmpmem(f->ram + a, 300, expect, 300);
    g_assert_cmpmem(f->ram + c, 724, expect + 300, 724);
}

static void test_bad_requests(struct fixture *f, gconstpointer data)
{
    start(f, false);
    g_assert_cmpuint(request(f, 0, DISK_SECTORS - 1, 1024, false), ==, 1);  /* past the end */
    g_assert_cmpuint(request(f, 0, UINT64_MAX / 256, 512, false), ==, 1);    /* overflow */
    g_assert_cmpuint(request(f, 1, 0, 100, true), ==, 1);                     /* not whole sectors */
    g_assert_cmpuint(request(f, 99, 0, 0, false), ==, 2);                     /* unknown type */
    /* The device is still fine afterwards. */
    g_assert_cmphex(rd(f, 0x14, 1) & VIRTIO_STATUS_NEEDS_RESET, ==, 0);
    g_assert_cmpuint(request(f, 0, 0, 512, false), ==, 0);
}

static void test_readonly(struct fixture *f, gconstpointer data)
{
    start(f, true);
    g_assert_cmphex(rd(f, 0x0c, 4) & (1u << 5), ==, 1u << 5);      /* RO negotiated */
    g_assert_cmpuint(request(f, 1, 0, 512, true), ==, 1);
    g_assert_cmpuint(request(f, 0, 0, 512, false), ==, 0);
}

static void test_get_id_and_discard(struct fixture *f, gconstpointer data)
{
    struct { uint64_t sector; uint32_t n, flags; } __attribute__((packed)) range = { 2, 4, 0 };

    start(f, false);
    g_assert_cmpuint(request(f, 8, 0, 20, false), ==, 0);
    g_assert_cmpmem(f->ram + DATA, 9, "nook-blk-", 9);
    memcpy(f->ram + DATA, &range, sizeof(range));
    g_assert_cmpuint(request(f, 11, 0, sizeof(range), true), ==, 0);
    range.sector = DISK_SECTORS;
    memcpy(f->ram + DATA, &range, sizeof(range));
    g_assert_cmpuint(request(f, 13, 0, sizeof(range), true), ==, 1);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
#define ADD(path, fn) g_test_add("/virtio-blk/" path, struct fixture, NULL, setup, fn, teardown)
    ADD("config", test_config);
    ADD("write-read-flush", test_write_read_flush);
    ADD("scattered", test_scattered);
    ADD("bad-requests", test_bad_requests);
    ADD("readonly", test_readonly);
    ADD("get-id-and-discard", test_get_id_and_discard);
#undef ADD
    return g_test_run();
}
