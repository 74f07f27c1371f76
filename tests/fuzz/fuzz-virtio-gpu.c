/* Fuzz target for virtio-gpu: the input is guest memory (what backings
 * point at) followed by a script of commands, which the harness puts on
 * either queue as a well-formed chain of the sizes the script asks for,
 * mixed with raw writes into guest memory (rings included), bare
 * notifications, configuration accesses, size requests, resets and reads
 * of the console. Whatever the guest sends, the device may only touch guest
 * RAM and its own memory (ASan), and the console's pixels and cursor must
 * stay readable and its updates inside the surface. */
#include <string.h>

#include "core/log.h"
#include "fuzz.h"
#include "virtio/gpu.h"
#include "virtio-driver.h"

#define RAM_SIZE 0x40000
#define QSIZE 8
#define CDESC  0x0000
#define CAVAIL 0x0100
#define CUSED  0x0200
#define KDESC  0x0400
#define KAVAIL 0x0500
#define KUSED  0x0600
#define CMD    0x1000
#define CMD_MAX 0x2000
#define RESP   0x3000
#define RESP_MAX 0x800
#define DATA   0x4000           /* the input's guest memory goes here */
/* Small, so that running out is common and every run is quick. */
#define HOSTMEM (4u << 20)

static uint8_t ram[RAM_SIZE];
static uint16_t avail_idx[2];

static void put16(uint64_t at, uint16_t v)
{
    memcpy(ram + at, &v, 2);
}

static void put_desc(uint64_t table, unsigned i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
    memcpy(ram + table + 16 * i, &addr, 8);
    memcpy(ram + table + 16 * i + 8, &len, 4);
    memcpy(ram + table + 16 * i + 12, &flags, 2);
    memcpy(ram + table + 16 * i + 14, &next, 2);
}

static void bring_up(struct virtio_gpu *g, bool edid)
{
    vdrv_write(&g->vpci, VDRV_STATUS, 1, 0);
    vdrv_write(&g->vpci, VDRV_STATUS, 1, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
    vdrv_write(&g->vpci, VDRV_GFSEL, 4, 0);
    vdrv_write(&g->vpci, VDRV_GF, 4, edid ? 1u << VIRTIO_GPU_F_EDID : 0);
    vdrv_write(&g->vpci, VDRV_GFSEL, 4, 1);
    vdrv_write(&g->vpci, VDRV_GF, 4, 1);      /* VERSION_1 */
    vdrv_write(&g->vpci, VDRV_STATUS, 1,
               VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK);
    memset(ram, 0, CMD);
    avail_idx[0] = avail_idx[1] = 0;
    vdrv_queue(&g->vpci, 0, QSIZE, CDESC, CAVAIL, CUSED);
    vdrv_queue(&g->vpci, 1, QSIZE, KDESC, KAVAIL, KUSED);
    vdrv_ready(&g->vpci);
}

/* A command of len bytes from the input as the readable part (split in two
 * descriptors at split, if that is inside it), then a writable buffer of
 * resp_len bytes unless that is 0. */
static void submit(struct virtio_gpu *g, unsigned q, const uint8_t *cmd, size_t len, uint16_t resp_len,
                   uint8_t split)
{
    uint64_t desc = q ? KDESC : CDESC, avail = q ? KAVAIL : CAVAIL;
    unsigned n = 0;

    memcpy(ram + CMD, cmd, len);
    resp_len %= RESP_MAX + 1;
    if (split && split < len) {
        put_desc(desc, n, CMD, split, VIRTQ_DESC_F_NEXT, (uint16_t)(n + 1));
        n++;
        put_desc(desc, n, CMD + split, (uint32_t)(len - split), 0, 0);
    } else {
        put_desc(desc, n, CMD, (uint32_t)len, 0, 0);
    }
    if (resp_len) {
        uint16_t flags = VIRTQ_DESC_F_NEXT;

        memcpy(ram + desc + 16 * n + 12, &flags, 2);
        put16(desc + 16 * n + 14, (uint16_t)(n + 1));
        n++;
        put_desc(desc, n, RESP, resp_len, VIRTQ_DESC_F_WRITE, 0);
    }
    put16(avail + 4 + 2 * (avail_idx[q] % QSIZE), 0);
    avail_idx[q]++;
    put16(avail + 2, avail_idx[q]);
    vdrv_notify(&g->vpci, q);
}

/* ---- a listener that checks what the console tells it ---- */

static void on_surface(void *opaque, const struct console_surface *s)
{
    volatile uint8_t sink;

    if (s->pixels && s->width && s->height) {
        sink = s->pixels[0];
        sink = s->pixels[(size_t)(s->height - 1) * s->stride + 4 * (s->width - 1) + 3];
        (void)sink;
    }
}

static void on_update(void *opaque, const struct console_surface *s, const struct console_rect *r)
{
    volatile uint8_t sink;

    if (!s->pixels || r->x + r->w > s->width || r->y + r->h > s->height || !r->w || !r->h)
        abort();
    sink = s->pixels[(size_t)r->y * s->stride + 4 * r->x];
    sink = s->pixels[(size_t)(r->y + r->h - 1) * s->stride + 4 * (r->x + r->w - 1) + 3];
    (void)sink;
}

static void on_cursor(void *opaque, const struct console_cursor *c)
{
    volatile uint32_t sink = 0;

    if (c->width > VIRTIO_GPU_CURSOR_SIZE || c->height > VIRTIO_GPU_CURSOR_SIZE ||
        (c->width && (c->hot_x >= c->width || c->hot_y >= c->height)))
        abort();
    for (unsigned i = 0; i < c->width * c->height; i++)
        sink += c->argb[i];
    (void)sink;
}

static const struct console_listener_ops checks = {
    .surface_changed = on_surface,
    .update = on_update,
    .cursor_changed = on_cursor,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_input in = { data, size };
    struct console_listener l = { .ops = &checks };
    const uint8_t *bytes;
    struct virtio_gpu *g;
    struct console *con;
    struct gmem *mem;
    uint8_t flags;
    size_t n;

    log_set_level(LOG_ERROR);
    memset(ram, 0, sizeof(ram));
    flags = fi_u8(&in);
    n = fi_bytes(&in, &bytes, fi_u16(&in));
    memcpy(ram + DATA, bytes, n < RAM_SIZE - DATA ? n : RAM_SIZE - DATA);
    mem = gmem_new_from_buffer(ram, sizeof(ram), 0);
    g = virtio_gpu_new(mem, (struct msi_sink){ 0 }, fuzz_irq(), HOSTMEM, 0);
    if (!g)
        abort();
    con = virtio_gpu_console(g);
    console_add_listener(con, &l);
    bring_up(g, flags & 1);

    while (fi_more(&in)) {
        uint8_t op = fi_u8(&in) % 10;

        switch (op) {
        case 0:
        case 1: {
            uint16_t len = fi_u16(&in) % (CMD_MAX + 1), resp_len = fi_u16(&in);
            uint8_t split = fi_u8(&in);

            n = fi_bytes(&in, &bytes, len);
            submit(g, op, bytes, n, resp_len, split);
            break;
        }
        case 2: {
            uint32_t at = fi_u32(&in) % RAM_SIZE;

            n = fi_bytes(&in, &bytes, fi_u8(&in));
            memcpy(ram + at, bytes, n < RAM_SIZE - at ? n : RAM_SIZE - at);
            break;
        }
        case 3: {
            unsigned q = fi_u8(&in) & 1;

            put16((q ? KAVAIL : CAVAIL) + 2, fi_u16(&in));
            vdrv_notify(&g->vpci, q);
            break;
        }
        case 4: {
            uint8_t off = fi_u8(&in) % 24;
            unsigned sz = fi_size(&in);
            bool wr = fi_u8(&in) & 1;
            uint32_t v = fi_u32(&in);

            if (wr)
                vdrv_write(&g->vpci, VIRTIO_PCI_DEVICE_OFF + off, sz, v);
            else
                vdrv_read(&g->vpci, VIRTIO_PCI_DEVICE_OFF + off, sz);
            break;
        }
        case 5: {
            uint16_t w = fi_u16(&in), h = fi_u16(&in);

            console_request_size(con, w, h);
            break;
        }
        case 6:
            bring_up(g, fi_u8(&in) & 1);
            break;
        case 7: {
            unsigned w, h;
            uint8_t *rgb;

            console_refresh(con, true);
            rgb = console_snapshot_rgb(con, &w, &h);
            free(rgb);
            break;
        }
        case 8:
            virtio_pci_reset(&g->vpci);
            bring_up(g, flags & 1);
            break;
        case 9: {
            uint32_t at = DATA + fi_u32(&in) % (RAM_SIZE - DATA);
            uint16_t len = fi_u16(&in);

            memset(ram + at, fi_u8(&in), len < RAM_SIZE - at ? len : RAM_SIZE - at);
            break;
        }
        }
    }
    console_remove_listener(con, &l);
    virtio_gpu_free(g);
    gmem_free(mem);
    return 0;
}
