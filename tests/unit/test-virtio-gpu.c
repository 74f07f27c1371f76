/* Unit tests for virtio-gpu 2D, driven through the virtio-pci transport in
 * fake guest memory as Linux's virtio_gpu driver drives it: display info
 * and EDID, a resource drawn in guest memory reaching the console (pixels,
 * formats, dirty rectangles, a scanout of part of a resource), the cursor,
 * fences, every error answer (unknown resources, backing outside RAM, bad
 * rectangles, oversized resources, the memory cap, short and unknown
 * commands), unref and reset letting go of the console's pixels, and size
 * requests raising a display event. */
#include <errno.h>

#include "hw/edid.h"
#include "virtio/gpu.h"
#include "unit.h"
#include "virtio-driver.h"

#define RAM_SIZE (8u << 20)
#define QSIZE 8
#define CDESC  0x1000
#define CAVAIL 0x2000
#define CUSED  0x3000
#define KDESC  0x4000
#define KAVAIL 0x5000
#define KUSED  0x6000
#define CMD    0x10000          /* room for 16384 backing entries */
#define RESP   0x60000
#define BACK   0x100000         /* backing pixels from here to the end */

struct rec {
    unsigned surfaces, updates, cursors, moves;
    struct console_surface s;
    struct console_rect last;
    int cx, cy;
    bool cvisible;
};

struct fixture {
    uint8_t *ram;
    struct gmem *mem;
    struct virtio_gpu *g;
    struct console *con;
    struct rec rec;
    struct console_listener l;
    uint16_t avail[2], used_seen[2];
};

static void rec_surface(void *opaque, const struct console_surface *s)
{
    struct rec *r = opaque;

    r->surfaces++;
    r->s = *s;
}

static void rec_update(void *opaque, const struct console_surface *s, const struct console_rect *rc)
{
    struct rec *r = opaque;

    g_assert_nonnull(s->pixels);
    g_assert_cmpuint(rc->x + rc->w, <=, s->width);
    g_assert_cmpuint(rc->y + rc->h, <=, s->height);
    r->updates++;
    r->last = *rc;
}

static void rec_cursor(void *opaque, const struct console_cursor *c)
{
    struct rec *r = opaque;

    r->cursors++;
}

static void rec_move(void *opaque, int x, int y, bool visible)
{
    struct rec *r = opaque;

    r->moves++;
    r->cx = x;
    r->cy = y;
    r->cvisible = visible;
}

static const struct console_listener_ops rec_ops = {
    .surface_changed = rec_surface,
    .update = rec_update,
    .cursor_changed = rec_cursor,
    .cursor_moved = rec_move,
};

static void setup(struct fixture *f, gconstpointer data)
{
    memset(f, 0, sizeof(*f));
    f->ram = g_malloc0(RAM_SIZE);
    f->mem = gmem_new_from_buffer(f->ram, RAM_SIZE, 0);
}

static void teardown(struct fixture *f, gconstpointer data)
{
    if (f->g)
        console_remove_listener(f->con, &f->l);
    virtio_gpu_free(f->g);
    gmem_free(f->mem);
    g_free(f->ram);
}

static void queues(struct fixture *f)
{
    memset(f->ram + CAVAIL, 0, 0x1000);
    memset(f->ram + CUSED, 0, 0x1000);
    memset(f->ram + KAVAIL, 0, 0x1000);
    memset(f->ram + KUSED, 0, 0x1000);
    memset(f->avail, 0, sizeof(f->avail));
    memset(f->used_seen, 0, sizeof(f->used_seen));
    vdrv_queue(&f->g->vpci, 0, QSIZE, CDESC, CAVAIL, CUSED);
    vdrv_queue(&f->g->vpci, 1, QSIZE, KDESC, KAVAIL, KUSED);
    g_assert_cmphex(vdrv_ready(&f->g->vpci), ==, 15);
}

/* A device with a memory cap of cap bytes (0: the default), brought up
 * with every feature it offers. */
static void start(struct fixture *f, uint64_t cap)
{
    f->g = virtio_gpu_new(f->mem, (struct msi_sink){ 0 }, (struct irq_line){ 0 }, cap, 0);
    g_assert_nonnull(f->g);
    f->con = virtio_gpu_console(f->g);
    f->l = (struct console_listener){ .ops = &rec_ops, .opaque = &f->rec };
    console_add_listener(f->con, &f->l);
    g_assert_cmphex(vdrv_negotiate(&f->g->vpci), ==, 11);
    queues(f);
}

/* Puts cmd in guest memory as one readable buffer followed (resp_len > 0)
 * by one writable buffer, hands it to queue q and returns how many bytes
 * the device wrote; the response is at f->ram + RESP. */
static uint32_t submit(struct fixture *f, unsigned q, const void *cmd, size_t len, uint32_t resp_len)
{
    uint64_t desc = q ? KDESC : CDESC, avail = q ? KAVAIL : CAVAIL, used = q ? KUSED : CUSED;
    uint64_t a0 = CMD, a1 = RESP;
    uint32_t l0 = (uint32_t)len, l1 = resp_len, written, id;
    uint16_t f0 = resp_len ? VIRTQ_DESC_F_NEXT : 0, f1 = VIRTQ_DESC_F_WRITE, n0 = 1, head = 0, idx;
    uint16_t slot = f->avail[q] % QSIZE;

    g_assert_cmpuint(len, <=, RESP - CMD);
    memcpy(f->ram + CMD, cmd, len);
    memset(f->ram + RESP, 0xcc, 2048);
    memcpy(f->ram + desc, &a0, 8);
    memcpy(f->ram + desc + 8, &l0, 4);
    memcpy(f->ram + desc + 12, &f0, 2);
    memcpy(f->ram + desc + 14, &n0, 2);
    memcpy(f->ram + desc + 16, &a1, 8);
    memcpy(f->ram + desc + 24, &l1, 4);
    memcpy(f->ram + desc + 28, &f1, 2);
    memcpy(f->ram + avail + 4 + 2 * slot, &head, 2);
    f->avail[q]++;
    memcpy(f->ram + avail + 2, &f->avail[q], 2);
    vdrv_notify(&f->g->vpci, q);
    memcpy(&idx, f->ram + used + 2, 2);
    g_assert_cmpuint(idx, ==, (uint16_t)(f->used_seen[q] + 1));
    slot = f->used_seen[q]++ % QSIZE;
    memcpy(&id, f->ram + used + 4 + 8 * slot, 4);
    memcpy(&written, f->ram + used + 8 + 8 * slot, 4);
    g_assert_cmpuint(id, ==, 0);
    return written;
}

static struct virtio_gpu_ctrl_hdr hdr(uint32_t type)
{
    return (struct virtio_gpu_ctrl_hdr){ .type = type };
}

static const struct virtio_gpu_ctrl_hdr *resp(struct fixture *f)
{
    return (const struct virtio_gpu_ctrl_hdr *)(f->ram + RESP);
}

/* Sends a control command; returns the response type, after checking that
 * an answer without data is a bare header. */
static uint32_t ctrl(struct fixture *f, const void *cmd, size_t len)
{
    uint32_t written = submit(f, 0, cmd, len, sizeof(struct virtio_gpu_resp_edid));
    uint32_t type = resp(f)->type;

    if (type != VIRTIO_GPU_RESP_OK_DISPLAY_INFO && type != VIRTIO_GPU_RESP_OK_EDID)
        g_assert_cmpuint(written, ==, sizeof(struct virtio_gpu_ctrl_hdr));
    return type;
}

static uint32_t create(struct fixture *f, uint32_t id, uint32_t format, uint32_t w, uint32_t h)
{
    struct virtio_gpu_resource_create_2d c = { hdr(VIRTIO_GPU_CMD_RESOURCE_CREATE_2D), id, format, w, h };

    return ctrl(f, &c, sizeof(c));
}

static uint32_t unref(struct fixture *f, uint32_t id)
{
    struct virtio_gpu_resource_unref c = { hdr(VIRTIO_GPU_CMD_RESOURCE_UNREF), id, 0 };

    return ctrl(f, &c, sizeof(c));
}

static uint32_t attach(struct fixture *f, uint32_t id, const struct virtio_gpu_mem_entry *e, uint32_t n)
{
    struct virtio_gpu_resource_attach_backing c = { hdr(VIRTIO_GPU_CMD_RESOURCE_ATTACH_BACKING), id, n };
    uint8_t buf[sizeof(c) + 8 * sizeof(*e)];

    g_assert_cmpuint(n, <=, 8);
    memcpy(buf, &c, sizeof(c));
    memcpy(buf + sizeof(c), e, n * sizeof(*e));
    return ctrl(f, buf, sizeof(c) + n * sizeof(*e));
}

/* One entry covering len bytes at BACK + off. */
static uint32_t attach_one(struct fixture *f, uint32_t id, uint64_t off, uint32_t len)
{
    struct virtio_gpu_mem_entry e = { BACK + off, len, 0 };

    return attach(f, id, &e, 1);
}

static uint32_t detach(struct fixture *f, uint32_t id)
{
    struct virtio_gpu_resource_detach_backing c = { hdr(VIRTIO_GPU_CMD_RESOURCE_DETACH_BACKING), id, 0 };

    return ctrl(f, &c, sizeof(c));
}

static uint32_t transfer(struct fixture *f, uint32_t id, uint32_t x, uint32_t y, uint32_t w, uint32_t h,
                         uint64_t offset)
{
    struct virtio_gpu_transfer_to_host_2d c = { hdr(VIRTIO_GPU_CMD_TRANSFER_TO_HOST_2D), { x, y, w, h },
                                                offset, id, 0 };

    return ctrl(f, &c, sizeof(c));
}

static uint32_t scanout(struct fixture *f, uint32_t sid, uint32_t id, uint32_t x, uint32_t y, uint32_t w,
                        uint32_t h)
{
    struct virtio_gpu_set_scanout c = { hdr(VIRTIO_GPU_CMD_SET_SCANOUT), { x, y, w, h }, sid, id };

    return ctrl(f, &c, sizeof(c));
}

static uint32_t flush(struct fixture *f, uint32_t id, uint32_t x, uint32_t y, uint32_t w, uint32_t h)
{
    struct virtio_gpu_resource_flush c = { hdr(VIRTIO_GPU_CMD_RESOURCE_FLUSH), { x, y, w, h }, id, 0 };

    return ctrl(f, &c, sizeof(c));
}

/* A cursor command as Linux sends it (no room for an answer) or, with
 * answer, with room for one; returns the response type or 0. */
static uint32_t cursor_cmd(struct fixture *f, uint32_t type, uint32_t sid, int x, int y, uint32_t id,
                           uint32_t hx, uint32_t hy, bool answer)
{
    struct virtio_gpu_update_cursor c = { hdr(type), { sid, (uint32_t)x, (uint32_t)y, 0 }, id, hx, hy, 0 };
    uint32_t written = submit(f, 1, &c, sizeof(c), answer ? 64 : 0);

    if (!answer) {
        g_assert_cmpuint(written, ==, 0);
        return 0;
    }
    g_assert_cmpuint(written, ==, sizeof(struct virtio_gpu_ctrl_hdr));
    return resp(f)->type;
}

static uint32_t pixel(unsigned x, unsigned y)
{
    return ((x * 7) & 0xff) << 16 | ((y * 13) & 0xff) << 8 | (((x + y) * 3) & 0xff);
}

/* Guest memory at BACK + off as a w x h picture of pixel() + salt, 32-bit
 * words in little endian (B, G, R, X in memory). */
static void draw(struct fixture *f, uint64_t off, unsigned w, unsigned h, uint32_t salt)
{
    for (unsigned y = 0; y < h; y++)
        for (unsigned x = 0; x < w; x++) {
            uint32_t v = (pixel(x, y) + salt) & 0xffffff;

            memcpy(f->ram + BACK + off + 4 * ((size_t)y * w + x), &v, 4);
        }
}

/* The console's pixel at x, y as 0xRRGGBB. */
static uint32_t shown(struct fixture *f, unsigned x, unsigned y)
{
    const struct console_surface *s;
    uint32_t v;

    console_lock(f->con);
    s = console_surface_locked(f->con);
    g_assert_nonnull(s->pixels);
    g_assert_cmpuint(x, <, s->width);
    g_assert_cmpuint(y, <, s->height);
    memcpy(&v, s->pixels + (size_t)y * s->stride + 4 * x, 4);
    console_unlock(f->con);
    return v & 0xffffff;
}

static bool has_picture(struct fixture *f)
{
    bool yes;

    console_lock(f->con);
    yes = console_surface_locked(f->con)->pixels != NULL;
    console_unlock(f->con);
    return yes;
}

static uint32_t cfg32(struct fixture *f, unsigned off)
{
    return (uint32_t)vdrv_read(&f->g->vpci, VIRTIO_PCI_DEVICE_OFF + off, 4);
}

static void test_identity(struct fixture *f, gconstpointer data)
{
    const uint8_t *cfg;

    start(f, 0);
    cfg = f->g->vpci.pci.cfg;
    g_assert_cmphex(cfg[0] | cfg[1] << 8, ==, 0x1af4);
    g_assert_cmphex(cfg[2] | cfg[3] << 8, ==, 0x1050);
    g_assert_cmphex(cfg[9] | cfg[10] << 8 | cfg[11] << 16, ==, 0x038000);
    vdrv_write(&f->g->vpci, VDRV_DFSEL, 4, 0);
    g_assert_cmphex(vdrv_read(&f->g->vpci, VDRV_DF, 4) & (1u << VIRTIO_GPU_F_EDID), !=, 0);
    g_assert_cmphex(vdrv_read(&f->g->vpci, VDRV_DF, 4) & 1, ==, 0);    /* no 3D */
    g_assert_cmpuint(vdrv_read(&f->g->vpci, 0x12, 2), ==, 2);         /* control and cursor queues */
    g_assert_cmpuint(cfg32(f, 0), ==, 0);                               /* events_read */
    g_assert_cmpuint(cfg32(f, 8), ==, 1);                               /* num_scanouts */
    g_assert_cmpuint(cfg32(f, 12), ==, 0);                              /* num_capsets */
    g_assert_cmpuint(vdrv_read(&f->g->vpci, VIRTIO_PCI_DEVICE_OFF + 8, 1), ==, 1);
    /* Only events_clear is writable. */
    vdrv_write(&f->g->vpci, VIRTIO_PCI_DEVICE_OFF + 8, 4, 7);
    g_assert_cmpuint(cfg32(f, 8), ==, 1);
    g_assert_false(has_picture(f));
}

static void test_display_info(struct fixture *f, gconstpointer data)
{
    struct virtio_gpu_ctrl_hdr c = hdr(VIRTIO_GPU_CMD_GET_DISPLAY_INFO);
    const struct virtio_gpu_resp_display_info *info = (const void *)(f->ram + RESP);

    start(f, 0);
    g_assert_cmpuint(submit(f, 0, &c, sizeof(c), 2048), ==, sizeof(*info));
    g_assert_cmphex(info->hdr.type, ==, VIRTIO_GPU_RESP_OK_DISPLAY_INFO);
    g_assert_cmphex(info->hdr.flags, ==, 0);
    g_assert_cmpuint(info->pmodes[0].r.x, ==, 0);
    g_assert_cmpuint(info->pmodes[0].r.y, ==, 0);
    g_assert_cmpuint(info->pmodes[0].r.width, ==, 1024);
    g_assert_cmpuint(info->pmodes[0].r.height, ==, 768);
    g_assert_cmpuint(info->pmodes[0].enabled, ==, 1);
    for (unsigned i = 1; i < VIRTIO_GPU_MAX_SCANOUTS; i++) {
        g_assert_cmpuint(info->pmodes[i].enabled, ==, 0);
        g_assert_cmpuint(info->pmodes[i].r.width, ==, 0);
    }
    /* A buffer too small gets what fits, and the device goes on. */
    g_assert_cmpuint(submit(f, 0, &c, sizeof(c), 100), ==, 100);
    g_assert_cmphex(resp(f)->type, ==, VIRTIO_GPU_RESP_OK_DISPLAY_INFO);
    g_assert_cmpuint(submit(f, 0, &c, sizeof(c), 0), ==, 0);
    g_assert_cmpuint(submit(f, 0, &c, sizeof(c), 2048), ==, sizeof(*info));
}

static void edid_size(const uint8_t *e, unsigned *w, unsigned *h)
{
    *w = e[56] | (e[58] >> 4) << 8;
    *h = e[59] | (e[61] >> 4) << 8;
}

static void test_edid(struct fixture *f, gconstpointer data)
{
    struct virtio_gpu_get_edid c = { hdr(VIRTIO_GPU_CMD_GET_EDID), 0, 0 };
    const struct virtio_gpu_resp_edid *r = (const void *)(f->ram + RESP);
    uint8_t sum = 0;
    unsigned w, h;

    start(f, 0);
    g_assert_cmpuint(submit(f, 0, &c, sizeof(c), 2048), ==, sizeof(*r));
    g_assert_cmphex(r->hdr.type, ==, VIRTIO_GPU_RESP_OK_EDID);
    g_assert_cmpuint(r->size, ==, EDID_BLOCK);
    for (unsigned i = 0; i < EDID_BLOCK; i++)
        sum = (uint8_t)(sum + r->edid[i]);
    g_assert_cmphex(sum, ==, 0);
    g_assert_cmpmem(r->edid, 8, "\0\xff\xff\xff\xff\xff\xff\0", 8);
    edid_size(r->edid, &w, &h);
    g_assert_cmpuint(w, ==, 1024);
    g_assert_cmpuint(h, ==, 768);
    g_assert_cmphex(r->edid[72 + 3], ==, 0xfc);
    g_assert_cmpmem(r->edid + 72 + 5, 5, "Nook\n", 5);
    for (unsigned i = EDID_BLOCK; i < sizeof(r->edid); i++)
        g_assert_cmpuint(r->edid[i], ==, 0);
    /* There is one scanout. */
    c.scanout = 1;
    g_assert_cmphex(ctrl(f, &c, sizeof(c)), ==, VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
    c.scanout = 0;
    g_assert_cmphex(ctrl(f, &c, sizeof(c) - 4), ==, VIRTIO_GPU_RESP_ERR_UNSPEC);

    /* A driver that did not take the EDID feature gets no EDID. */
    vdrv_write(&f->g->vpci, VDRV_STATUS, 1, 0);
    vdrv_write(&f->g->vpci, VDRV_STATUS, 1, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
    vdrv_write(&f->g->vpci, VDRV_GFSEL, 4, 1);
    vdrv_write(&f->g->vpci, VDRV_GF, 4, 1);
    vdrv_write(&f->g->vpci, VDRV_STATUS, 1,
               VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK);
    queues(f);
    g_assert_cmphex(ctrl(f, &c, sizeof(c)), ==, VIRTIO_GPU_RESP_ERR_UNSPEC);
}

/* A 64x32 picture in three backing entries of odd sizes, scattered in
 * guest memory: scatter() copies the picture drawn at BACK into them. */
static const uint32_t piece_len[3] = { 1000, 4096 + 12, 64 * 32 * 4 - 1000 - 4096 - 12 };
static const uint64_t piece_at[3] = { 0x40000, 0x10000, 0x20000 };

static void scatter(struct fixture *f)
{
    uint64_t done = 0;

    for (unsigned i = 0; i < 3; i++) {
        memcpy(f->ram + BACK + piece_at[i], f->ram + BACK + done, piece_len[i]);
        done += piece_len[i];
    }
}

static void setup_picture(struct fixture *f, uint32_t id, uint32_t format)
{
    struct virtio_gpu_mem_entry e[3];

    draw(f, 0, 64, 32, 0);
    scatter(f);
    for (unsigned i = 0; i < 3; i++)
        e[i] = (struct virtio_gpu_mem_entry){ BACK + piece_at[i], piece_len[i], 0 };
    g_assert_cmphex(create(f, id, format, 64, 32), ==, VIRTIO_GPU_RESP_OK_NODATA);
    g_assert_cmphex(attach(f, id, e, 3), ==, VIRTIO_GPU_RESP_OK_NODATA);
}

static void test_draw(struct fixture *f, gconstpointer data)
{
    start(f, 0);
    setup_picture(f, 5, VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM);
    g_assert_cmphex(transfer(f, 5, 0, 0, 64, 32, 0), ==, VIRTIO_GPU_RESP_OK_NODATA);
    g_assert_cmpuint(f->rec.surfaces, ==, 1);              /* as the listener came */
    g_assert_cmphex(scanout(f, 0, 5, 0, 0, 64, 32), ==, VIRTIO_GPU_RESP_OK_NODATA);
    g_assert_cmpuint(f->rec.surfaces, ==, 2);
    g_assert_cmpuint(f->rec.s.width, ==, 64);
    g_assert_cmpuint(f->rec.s.height, ==, 32);
    g_assert_cmpuint(f->rec.s.stride, ==, 256);
    g_assert_cmpuint(f->rec.s.format, ==, CONSOLE_FORMAT_XRGB8888);
    for (unsigned y = 0; y < 32; y++)
        for (unsigned x = 0; x < 64; x++)
            g_assert_cmphex(shown(f, x, y), ==, pixel(x, y));
    /* The same scanout again changes nothing. */
    g_assert_cmphex(scanout(f, 0, 5, 0, 0, 64, 32), ==, VIRTIO_GPU_RESP_OK_NODATA);
    g_assert_cmpuint(f->rec.surfaces, ==, 2);

    /* A partial transfer (the backing laid out like the resource, offset
     * at the rectangle's first pixel) changes that rectangle only; the
     * flush reports exactly the flushed one. */
    draw(f, 0, 64, 32, 0x010101);
    scatter(f);
    g_assert_cmphex(transfer(f, 5, 8, 4, 16, 8, 4 * 64 * 4 + 8 * 4), ==, VIRTIO_GPU_RESP_OK_NODATA);
    for (unsigned y = 0; y < 32; y++)
        for (unsigned x = 0; x < 64; x++) {
            bool inside = x >= 8 && x < 24 && y >= 4 && y < 12;

            g_assert_cmphex(shown(f, x, y), ==, (pixel(x, y) + (inside ? 0x010101 : 0)) & 0xffffff);
        }
    f->rec.updates = 0;
    g_assert_cmphex(flush(f, 5, 8, 4, 16, 8), ==, VIRTIO_GPU_RESP_OK_NODATA);
    g_assert_cmpuint(f->rec.updates, ==, 1);
    g_assert_cmpuint(f->rec.last.x, ==, 8);
    g_assert_cmpuint(f->rec.last.y, ==, 4);
    g_assert_cmpuint(f->rec.last.w, ==, 16);
    g_assert_cmpuint(f->rec.last.h, ==, 8);
    /* An empty flush reports nothing. */
    g_assert_cmphex(flush(f, 5, 3, 3, 0, 5), ==, VIRTIO_GPU_RESP_OK_NODATA);
    g_assert_cmpuint(f->rec.updates, ==, 1);

    /* A scanout of part of the resource: pixels and flushes in its own
     * coordinates, clipped to it. */
    g_assert_cmphex(scanout(f, 0, 5, 16, 8, 32, 16), ==, VIRTIO_GPU_RESP_OK_NODATA);
    g_assert_cmpuint(f->rec.surfaces, ==, 3);
    g_assert_cmpuint(f->rec.s.width, ==, 32);
    g_assert_cmpuint(f->rec.s.height, ==, 16);
    g_assert_cmphex(shown(f, 0, 0), ==, (pixel(16, 8) + 0x010101) & 0xffffff);
    g_assert_cmphex(shown(f, 31, 15), ==, pixel(47, 23));
    f->rec.updates = 0;
    g_assert_cmphex(flush(f, 5, 0, 0, 20, 10), ==, VIRTIO_GPU_RESP_OK_NODATA);
    g_assert_cmpuint(f->rec.updates, ==, 1);
    g_assert_cmpuint(f->rec.last.x, ==, 0);
    g_assert_cmpuint(f->rec.last.y, ==, 0);
    g_assert_cmpuint(f->rec.last.w, ==, 4);
    g_assert_cmpuint(f->rec.last.h, ==, 2);
    g_assert_cmphex(flush(f, 5, 0, 0, 16, 32), ==, VIRTIO_GPU_RESP_OK_NODATA);  /* left of it */
    g_assert_cmpuint(f->rec.updates, ==, 1);
    g_assert_cmphex(flush(f, 5, 40, 20, 24, 12), ==, VIRTIO_GPU_RESP_OK_NODATA);
    g_assert_cmpuint(f->rec.updates, ==, 2);
    g_assert_cmpuint(f->rec.last.x, ==, 24);
    g_assert_cmpuint(f->rec.last.y, ==, 12);
    g_assert_cmpuint(f->rec.last.w, ==, 8);
    g_assert_cmpuint(f->rec.last.h, ==, 4);
    /* Flushing another resource reports nothing. */
    g_assert_cmphex(create(f, 6, VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM, 64, 32), ==, VIRTIO_GPU_RESP_OK_NODATA);
    g_assert_cmphex(flush(f, 6, 0, 0, 64, 32), ==, VIRTIO_GPU_RESP_OK_NODATA);
    g_assert_cmpuint(f->rec.updates, ==, 2);
    /* A new backend is given the whole picture by a full refresh. */
    console_refresh(f->con, true);
    g_assert_cmpuint(f->rec.updates, ==, 3);
    g_assert_cmpuint(f->rec.last.w, ==, 32);
    g_assert_cmpuint(f->rec.last.h, ==, 16);
    console_refresh(f->con, false);
    g_assert_cmpuint(f->rec.updates, ==, 3);

    /* Scanout off: no picture; detach keeps the host copy. */
    g_assert_cmphex(detach(f, 5), ==, VIRTIO_GPU_RESP_OK_NODATA);
    g_assert_cmphex(shown(f, 0, 0), ==, (pixel(16, 8) + 0x010101) & 0xffffff);
    g_assert_cmphex(transfer(f, 5, 0, 0, 1, 1, 0), ==, VIRTIO_GPU_RESP_ERR_UNSPEC);
    g_assert_cmphex(detach(f, 5), ==, VIRTIO_GPU_RESP_ERR_UNSPEC);
    g_assert_cmphex(scanout(f, 0, 0, 0, 0, 0, 0), ==, VIRTIO_GPU_RESP_OK_NODATA);
    g_assert_cmpuint(f->rec.surfaces, ==, 4);
    g_assert_null(f->rec.s.pixels);
    g_assert_false(has_picture(f));
}

static void test_formats(struct fixture *f, gconstpointer data)
{
    /* Memory bytes 0x10 0x20 0x30 0x40 in each format: the colour it is,
     * and its alpha (0xff where the format has none). */
    static const struct {
        uint32_t format;
        uint32_t rgb;
        uint8_t alpha;
    } cases[] = {
        { VIRTIO_GPU_FORMAT_B8G8R8A8_UNORM, 0x302010, 0x40 },
        { VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM, 0x302010, 0xff },
        { VIRTIO_GPU_FORMAT_A8R8G8B8_UNORM, 0x203040, 0x10 },
        { VIRTIO_GPU_FORMAT_X8R8G8B8_UNORM, 0x203040, 0xff },
        { VIRTIO_GPU_FORMAT_R8G8B8A8_UNORM, 0x102030, 0x40 },
        { VIRTIO_GPU_FORMAT_X8B8G8R8_UNORM, 0x403020, 0xff },
        { VIRTIO_GPU_FORMAT_A8B8G8R8_UNORM, 0x403020, 0x10 },
        { VIRTIO_GPU_FORMAT_R8G8B8X8_UNORM, 0x102030, 0xff },
    };
    static const uint8_t bytes[4] = { 0x10, 0x20, 0x30, 0x40 };

    start(f, 0);
    for (unsigned i = 0; i < G_N_ELEMENTS(cases); i++) {
        uint32_t id = 10 + i;
        const struct console_cursor *c;

        for (unsigned p = 0; p < 4; p++)
            memcpy(f->ram + BACK + 4 * p, bytes, 4);
        g_assert_cmphex(create(f, id, cases[i].format, 2, 2), ==, VIRTIO_GPU_RESP_OK_NODATA);
        g_assert_cmphex(attach_one(f, id, 0, 16), ==, VIRTIO_GPU_RESP_OK_NODATA);
        g_assert_cmphex(transfer(f, id, 0, 0, 2, 2, 0), ==, VIRTIO_GPU_RESP_OK_NODATA);
        g_assert_cmphex(scanout(f, 0, id, 0, 0, 2, 2), ==, VIRTIO_GPU_RESP_OK_NODATA);
        g_assert_cmphex(shown(f, 1, 1), ==, cases[i].rgb);
        cursor_cmd(f, VIRTIO_GPU_CMD_UPDATE_CURSOR, 0, 0, 0, id, 0, 0, false);
        console_lock(f->con);
        c = console_cursor_locked(f->con);
        g_assert_cmpuint(c->width, ==, 2);
        g_assert_cmphex(c->argb[3], ==, (uint32_t)cases[i].alpha << 24 | cases[i].rgb);
        console_unlock(f->con);
    }
    g_assert_cmphex(create(f, 30, 0, 2, 2), ==, VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
    g_assert_cmphex(create(f, 30, 5, 2, 2), ==, VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
    g_assert_cmphex(create(f, 30, 999, 2, 2), ==, VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
}

static void test_cursor(struct fixture *f, gconstpointer data)
{
    const struct console_cursor *c;

    start(f, 0);
    for (unsigned i = 0; i < 64 * 64; i++) {
        uint32_t v = 0x80000000u | i;

        memcpy(f->ram + BACK + 4 * i, &v, 4);
    }
    g_assert_cmphex(create(f, 7, VIRTIO_GPU_FORMAT_B8G8R8A8_UNORM, 64, 64), ==, VIRTIO_GPU_RESP_OK_NODATA);
    g_assert_cmphex(attach_one(f, 7, 0, 64 * 64 * 4), ==, VIRTIO_GPU_RESP_OK_NODATA);
    g_assert_cmphex(transfer(f, 7, 0, 0, 64, 64, 0), ==, VIRTIO_GPU_RESP_OK_NODATA);
    cursor_cmd(f, VIRTIO_GPU_CMD_UPDATE_CURSOR, 0, 100, 200, 7, 5, 6, false);
    g_assert_cmpuint(f->rec.cursors, ==, 1);
    g_assert_true(f->rec.cvisible);
    g_assert_cmpint(f->rec.cx, ==, 100);
    g_assert_cmpint(f->rec.cy, ==, 200);
    console_lock(f->con);
    c = console_cursor_locked(f->con);
    g_assert_cmpuint(c->width, ==, 64);
    g_assert_cmpuint(c->height, ==, 64);
    g_assert_cmpuint(c->hot_x, ==, 5);
    g_assert_cmpuint(c->hot_y, ==, 6);
    g_assert_cmphex(c->argb[0], ==, 0x80000000u);
    g_assert_cmphex(c->argb[64 * 64 - 1], ==, 0x80000000u | (64 * 64 - 1));
    console_unlock(f->con);

    /* Moving keeps the image; positions may be off the top left. */
    cursor_cmd(f, VIRTIO_GPU_CMD_MOVE_CURSOR, 0, -3, 50, 0, 0, 0, false);
    g_assert_cmpuint(f->rec.cursors, ==, 1);
    g_assert_cmpint(f->rec.cx, ==, -3);
    g_assert_cmpint(f->rec.cy, ==, 50);
    g_assert_true(f->rec.cvisible);
    /* A hotspot outside the image is pulled inside. */
    cursor_cmd(f, VIRTIO_GPU_CMD_UPDATE_CURSOR, 0, 1, 2, 7, 100, 64, false);
    console_lock(f->con);
    c = console_cursor_locked(f->con);
    g_assert_cmpuint(c->hot_x, ==, 63);
    g_assert_cmpuint(c->hot_y, ==, 63);
    console_unlock(f->con);

    /* Errors are answered when there is room for an answer, and leave the
     * cursor as it was. */
    g_assert_cmphex(cursor_cmd(f, VIRTIO_GPU_CMD_UPDATE_CURSOR, 0, 1, 2, 99, 0, 0, true), ==,
                    VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID);
    g_assert_cmphex(cursor_cmd(f, VIRTIO_GPU_CMD_MOVE_CURSOR, 3, 1, 2, 0, 0, 0, true), ==,
                    VIRTIO_GPU_RESP_ERR_INVALID_SCANOUT_ID);
    g_assert_cmphex(create(f, 8, VIRTIO_GPU_FORMAT_B8G8R8A8_UNORM, 65, 64), ==, VIRTIO_GPU_RESP_OK_NODATA);
    g_assert_cmphex(cursor_cmd(f, VIRTIO_GPU_CMD_UPDATE_CURSOR, 0, 1, 2, 8, 0, 0, true), ==,
                    VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
    g_assert_cmphex(cursor_cmd(f, VIRTIO_GPU_CMD_GET_DISPLAY_INFO, 0, 0, 0, 0, 0, 0, true), ==,
                    VIRTIO_GPU_RESP_ERR_UNSPEC);
    g_assert_cmphex(cursor_cmd(f, VIRTIO_GPU_CMD_MOVE_CURSOR, 0, 9, 9, 0, 0, 0, true), ==,
                    VIRTIO_GPU_RESP_OK_NODATA);
    g_assert_cmpuint(f->rec.cursors, ==, 2);
    /* Cursor commands on the control queue are unknown there. */
    {
        struct virtio_gpu_update_cursor m = { hdr(VIRTIO_GPU_CMD_MOVE_CURSOR), { 0, 1, 1, 0 }, 0, 0, 0, 0 };

        g_assert_cmphex(ctrl(f, &m, sizeof(m)), ==, VIRTIO_GPU_RESP_ERR_UNSPEC);
    }

    /* Resource 0 hides and removes it; moving then keeps it hidden. */
    cursor_cmd(f, VIRTIO_GPU_CMD_UPDATE_CURSOR, 0, 10, 20, 0, 0, 0, false);
    g_assert_false(f->rec.cvisible);
    console_lock(f->con);
    g_assert_cmpuint(console_cursor_locked(f->con)->width, ==, 0);
    console_unlock(f->con);
    cursor_cmd(f, VIRTIO_GPU_CMD_MOVE_CURSOR, 0, 11, 21, 0, 0, 0, false);
    g_assert_false(f->rec.cvisible);
    /* The console keeps its own copy of the image. */
    cursor_cmd(f, VIRTIO_GPU_CMD_UPDATE_CURSOR, 0, 1, 2, 7, 0, 0, false);
    g_assert_cmphex(unref(f, 7), ==, VIRTIO_GPU_RESP_OK_NODATA);
    console_lock(f->con);
    g_assert_cmphex(console_cursor_locked(f->con)->argb[1], ==, 0x80000001u);
    console_unlock(f->con);
}

static void test_errors(struct fixture *f, gconstpointer data)
{
    struct virtio_gpu_mem_entry e[2];
    uint8_t junk[64] = { 0 };

    start(f, 0);
    setup_picture(f, 1, VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM);
    g_assert_cmphex(transfer(f, 1, 0, 0, 64, 32, 0), ==, VIRTIO_GPU_RESP_OK_NODATA);
    g_assert_cmphex(scanout(f, 0, 1, 0, 0, 64, 32), ==, VIRTIO_GPU_RESP_OK_NODATA);

    /* Unknown resources, for every command that names one. */
    g_assert_cmphex(unref(f, 2), ==, VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID);
    g_assert_cmphex(unref(f, 0), ==, VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID);
    g_assert_cmphex(scanout(f, 0, 2, 0, 0, 1, 1), ==, VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID);
    g_assert_cmphex(flush(f, 2, 0, 0, 1, 1), ==, VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID);
    g_assert_cmphex(transfer(f, 2, 0, 0, 1, 1, 0), ==, VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID);
    g_assert_cmphex(attach_one(f, 2, 0, 16), ==, VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID);
    g_assert_cmphex(detach(f, 2), ==, VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID);
    g_assert_cmphex(create(f, 0, VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM, 4, 4), ==,
                    VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID);
    g_assert_cmphex(create(f, 1, VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM, 4, 4), ==,
                    VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID);

    /* Sizes. */
    g_assert_cmphex(create(f, 2, VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM, 0, 4), ==,
                    VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
    g_assert_cmphex(create(f, 2, VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM, 4, 0), ==,
                    VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
    g_assert_cmphex(create(f, 2, VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM, 0xffffffffu, 0xffffffffu), ==,
                    VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY);
    g_assert_cmphex(create(f, 2, VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM, VIRTIO_GPU_MAX_DIM + 1, 1), ==,
                    VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY);
    g_assert_cmphex(create(f, 2, VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM, 16384, 16384), ==,
                    VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY);
    g_assert_cmphex(create(f, 2, VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM, 8192, 8192), ==,
                    VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY);     /* the whole default cap and more */

    /* Backing: outside RAM, wrapping around, across the end of RAM, too
     * many entries, fewer entries than announced, attached twice. */
    g_assert_cmphex(create(f, 3, VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM, 8, 8), ==, VIRTIO_GPU_RESP_OK_NODATA);
    e[0] = (struct virtio_gpu_mem_entry){ BACK, 128, 0 };
    e[1] = (struct virtio_gpu_mem_entry){ 0xfffff00000000000ull, 128, 0 };
    g_assert_cmphex(attach(f, 3, e, 2), ==, VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
    e[1] = (struct virtio_gpu_mem_entry){ UINT64_MAX - 15, 128, 0 };
    g_assert_cmphex(attach(f, 3, e, 2), ==, VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
    e[1] = (struct virtio_gpu_mem_entry){ RAM_SIZE - 64, 128, 0 };
    g_assert_cmphex(attach(f, 3, e, 2), ==, VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
    e[1] = (struct virtio_gpu_mem_entry){ RAM_SIZE, 1, 0 };
    g_assert_cmphex(attach(f, 3, e, 2), ==, VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
    g_assert_cmphex(attach(f, 3, e, 0), ==, VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
    {
        struct virtio_gpu_resource_attach_backing c = { hdr(VIRTIO_GPU_CMD_RESOURCE_ATTACH_BACKING), 3,
                                                        VIRTIO_GPU_MAX_ENTRIES + 1 };

        g_assert_cmphex(ctrl(f, &c, sizeof(c)), ==, VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
        c.nr_entries = 0xffffffffu;
        g_assert_cmphex(ctrl(f, &c, sizeof(c)), ==, VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
    }
    {
        struct virtio_gpu_resource_attach_backing c = { hdr(VIRTIO_GPU_CMD_RESOURCE_ATTACH_BACKING), 3, 3 };
        uint8_t buf[sizeof(c) + 2 * sizeof(e[0])];

        e[1] = (struct virtio_gpu_mem_entry){ BACK + 128, 128, 0 };
        memcpy(buf, &c, sizeof(c));
        memcpy(buf + sizeof(c), e, sizeof(e));
        g_assert_cmphex(ctrl(f, buf, sizeof(buf)), ==, VIRTIO_GPU_RESP_ERR_UNSPEC);
    }
    /* Nothing was attached by the failures. */
    g_assert_cmphex(transfer(f, 3, 0, 0, 8, 8, 0), ==, VIRTIO_GPU_RESP_ERR_UNSPEC);
    g_assert_cmphex(attach_one(f, 3, 0, 128), ==, VIRTIO_GPU_RESP_OK_NODATA);
    g_assert_cmphex(attach_one(f, 3, 0, 256), ==, VIRTIO_GPU_RESP_ERR_UNSPEC);
    /* The backing is shorter than the resource: transfers that need more
     * than is there fail, the rest work. */
    g_assert_cmphex(transfer(f, 3, 0, 0, 8, 4, 0), ==, VIRTIO_GPU_RESP_OK_NODATA);
    g_assert_cmphex(transfer(f, 3, 0, 0, 8, 5, 0), ==, VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
    g_assert_cmphex(transfer(f, 3, 0, 0, 8, 4, 4), ==, VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
    g_assert_cmphex(transfer(f, 3, 0, 0, 1, 1, 124), ==, VIRTIO_GPU_RESP_OK_NODATA);
    g_assert_cmphex(transfer(f, 3, 0, 0, 1, 1, 125), ==, VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
    g_assert_cmphex(transfer(f, 3, 0, 0, 1, 1, UINT64_MAX), ==, VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
    g_assert_cmphex(transfer(f, 3, 0, 0, 1, 1, UINT64_MAX - 2), ==, VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);

    /* Rectangles outside the resource, some of them by overflow. */
    g_assert_cmphex(transfer(f, 1, 0, 0, 65, 1, 0), ==, VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
    g_assert_cmphex(transfer(f, 1, 1, 0, 64, 1, 0), ==, VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
    g_assert_cmphex(transfer(f, 1, 0, 31, 1, 2, 0), ==, VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
    g_assert_cmphex(transfer(f, 1, 0xffffffffu, 0, 2, 1, 0), ==, VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
    g_assert_cmphex(transfer(f, 1, 0, 0xfffffff0u, 1, 0x20, 0), ==, VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
    g_assert_cmphex(flush(f, 1, 0, 0, 64, 33), ==, VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
    g_assert_cmphex(flush(f, 1, 0xffffffffu, 0xffffffffu, 2, 2), ==, VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
    g_assert_cmphex(scanout(f, 0, 1, 0, 0, 64, 33), ==, VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
    g_assert_cmphex(scanout(f, 0, 1, 32, 0, 0x80000000u, 32), ==, VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
    g_assert_cmphex(scanout(f, 0, 1, 0, 0, 0, 32), ==, VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
    g_assert_cmphex(scanout(f, 1, 1, 0, 0, 64, 32), ==, VIRTIO_GPU_RESP_ERR_INVALID_SCANOUT_ID);
    g_assert_cmphex(scanout(f, 0xffffffffu, 0, 0, 0, 0, 0), ==, VIRTIO_GPU_RESP_ERR_INVALID_SCANOUT_ID);

    /* Unknown and short commands; a request shorter than a header. */
    {
        struct virtio_gpu_ctrl_hdr h = hdr(0x0999);
        struct virtio_gpu_resource_create_2d c = { hdr(VIRTIO_GPU_CMD_RESOURCE_CREATE_2D), 9, 2, 4, 4 };

        g_assert_cmphex(ctrl(f, &h, sizeof(h)), ==, VIRTIO_GPU_RESP_ERR_UNSPEC);
        h.type = 0x0200;        /* a 3D command */
        g_assert_cmphex(ctrl(f, &h, sizeof(h)), ==, VIRTIO_GPU_RESP_ERR_UNSPEC);
        g_assert_cmphex(ctrl(f, &c, sizeof(c) - 1), ==, VIRTIO_GPU_RESP_ERR_UNSPEC);
        g_assert_cmphex(ctrl(f, junk, 10), ==, VIRTIO_GPU_RESP_ERR_UNSPEC);
        g_assert_cmphex(ctrl(f, &c, sizeof(c)), ==, VIRTIO_GPU_RESP_OK_NODATA);
    }

    /* None of it touched the picture. */
    g_assert_true(has_picture(f));
    for (unsigned y = 0; y < 32; y += 7)
        for (unsigned x = 0; x < 64; x += 5)
            g_assert_cmphex(shown(f, x, y), ==, pixel(x, y));
}

static void test_memory_cap(struct fixture *f, gconstpointer data)
{
    unsigned n = 0;

    /* 1 MiB: room for three 256 KiB resources and their bookkeeping. */
    start(f, 1u << 20);
    while (create(f, 100 + n, VIRTIO_GPU_FORMAT_B8G8R8A8_UNORM, 256, 256) == VIRTIO_GPU_RESP_OK_NODATA)
        n++;
    g_assert_cmpuint(n, ==, 3);
    g_assert_cmphex(create(f, 200, VIRTIO_GPU_FORMAT_B8G8R8A8_UNORM, 256, 256), ==,
                    VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY);
    /* Backing lists count too. */
    {
        struct virtio_gpu_resource_attach_backing c = { hdr(VIRTIO_GPU_CMD_RESOURCE_ATTACH_BACKING), 100,
                                                        VIRTIO_GPU_MAX_ENTRIES };

        g_assert_cmphex(ctrl(f, &c, sizeof(c)), ==, VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY);
    }
    g_assert_cmphex(unref(f, 101), ==, VIRTIO_GPU_RESP_OK_NODATA);
    g_assert_cmphex(create(f, 200, VIRTIO_GPU_FORMAT_B8G8R8A8_UNORM, 256, 256), ==, VIRTIO_GPU_RESP_OK_NODATA);
    g_assert_cmphex(create(f, 201, VIRTIO_GPU_FORMAT_B8G8R8A8_UNORM, 256, 256), ==,
                    VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY);
    g_assert_cmphex(unref(f, 100), ==, VIRTIO_GPU_RESP_OK_NODATA);
    g_assert_cmphex(unref(f, 102), ==, VIRTIO_GPU_RESP_OK_NODATA);
    g_assert_cmphex(unref(f, 200), ==, VIRTIO_GPU_RESP_OK_NODATA);
    g_assert_cmpuint(f->g->hostmem, ==, 0);
    g_assert_cmpuint(f->g->nresources, ==, 0);
}

static void test_resource_count(struct fixture *f, gconstpointer data)
{
    start(f, 0);
    for (unsigned i = 1; i <= VIRTIO_GPU_MAX_RESOURCES; i++)
        g_assert_cmphex(create(f, i, VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM, 1, 1), ==, VIRTIO_GPU_RESP_OK_NODATA);
    g_assert_cmphex(create(f, 0xfffffff0u, VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM, 1, 1), ==,
                    VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY);
    g_assert_cmphex(unref(f, 77), ==, VIRTIO_GPU_RESP_OK_NODATA);
    g_assert_cmphex(create(f, 0xfffffff0u, VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM, 1, 1), ==,
                    VIRTIO_GPU_RESP_OK_NODATA);
    g_assert_cmphex(unref(f, 77), ==, VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID);
}

static void test_fence(struct fixture *f, gconstpointer data)
{
    struct virtio_gpu_resource_create_2d c = { hdr(VIRTIO_GPU_CMD_RESOURCE_CREATE_2D), 4, 2, 4, 4 };
    struct virtio_gpu_ctrl_hdr info = hdr(VIRTIO_GPU_CMD_GET_DISPLAY_INFO);

    start(f, 0);
    c.hdr.flags = VIRTIO_GPU_FLAG_FENCE;
    c.hdr.fence_id = 0x1122334455667788ull;
    c.hdr.ctx_id = 7;
    g_assert_cmphex(ctrl(f, &c, sizeof(c)), ==, VIRTIO_GPU_RESP_OK_NODATA);
    g_assert_cmphex(resp(f)->flags, ==, VIRTIO_GPU_FLAG_FENCE);
    g_assert_cmphex(resp(f)->fence_id, ==, 0x1122334455667788ull);
    g_assert_cmpuint(resp(f)->ctx_id, ==, 7);
    /* Failures are fenced as well. */
    c.hdr.fence_id = 42;
    g_assert_cmphex(ctrl(f, &c, sizeof(c)), ==, VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID);
    g_assert_cmphex(resp(f)->flags, ==, VIRTIO_GPU_FLAG_FENCE);
    g_assert_cmphex(resp(f)->fence_id, ==, 42);
    info.flags = VIRTIO_GPU_FLAG_FENCE;
    info.fence_id = 43;
    g_assert_cmpuint(submit(f, 0, &info, sizeof(info), 2048), ==, sizeof(struct virtio_gpu_resp_display_info));
    g_assert_cmphex(resp(f)->flags, ==, VIRTIO_GPU_FLAG_FENCE);
    g_assert_cmphex(resp(f)->fence_id, ==, 43);
    /* Without the flag: no fence in the answer. */
    c.hdr.flags = 0;
    c.resource_id = 5;
    g_assert_cmphex(ctrl(f, &c, sizeof(c)), ==, VIRTIO_GPU_RESP_OK_NODATA);
    g_assert_cmphex(resp(f)->flags, ==, 0);
    g_assert_cmphex(resp(f)->fence_id, ==, 0);
    g_assert_cmpuint(resp(f)->ctx_id, ==, 0);
}

static void test_unref_scanout(struct fixture *f, gconstpointer data)
{
    unsigned w, h;

    start(f, 0);
    setup_picture(f, 1, VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM);
    g_assert_cmphex(transfer(f, 1, 0, 0, 64, 32, 0), ==, VIRTIO_GPU_RESP_OK_NODATA);
    g_assert_cmphex(scanout(f, 0, 1, 0, 0, 64, 32), ==, VIRTIO_GPU_RESP_OK_NODATA);
    g_assert_true(has_picture(f));
    /* The console lets go of the pixels before they are freed (ASan
     * would see a read of freed memory otherwise). */
    g_assert_cmphex(unref(f, 1), ==, VIRTIO_GPU_RESP_OK_NODATA);
    g_assert_null(f->rec.s.pixels);
    g_assert_false(has_picture(f));
    g_assert_null(console_snapshot_rgb(f->con, &w, &h));
    g_assert_cmpint(errno, ==, ENODATA);
    console_refresh(f->con, true);
    g_assert_cmphex(flush(f, 1, 0, 0, 1, 1), ==, VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID);
    /* The id is free again. */
    g_assert_cmphex(create(f, 1, VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM, 4, 4), ==, VIRTIO_GPU_RESP_OK_NODATA);
}

static void test_reset(struct fixture *f, gconstpointer data)
{
    start(f, 1u << 20);
    setup_picture(f, 1, VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM);
    g_assert_cmphex(transfer(f, 1, 0, 0, 64, 32, 0), ==, VIRTIO_GPU_RESP_OK_NODATA);
    g_assert_cmphex(scanout(f, 0, 1, 0, 0, 64, 32), ==, VIRTIO_GPU_RESP_OK_NODATA);
    g_assert_cmphex(create(f, 2, VIRTIO_GPU_FORMAT_B8G8R8A8_UNORM, 400, 400), ==, VIRTIO_GPU_RESP_OK_NODATA);
    g_assert_cmphex(create(f, 3, VIRTIO_GPU_FORMAT_B8G8R8A8_UNORM, 400, 400), ==,
                    VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY);
    cursor_cmd(f, VIRTIO_GPU_CMD_UPDATE_CURSOR, 0, 5, 5, 1, 0, 0, false);
    g_assert_true(f->rec.cvisible);
    g_assert_true(console_request_size(f->con, 800, 600) == 0);
    g_assert_cmpuint(cfg32(f, 0), ==, VIRTIO_GPU_EVENT_DISPLAY);

    /* The driver resets the device: no picture, no cursor, no resources,
     * no events; the preferred size stays the front end's. */
    vdrv_write(&f->g->vpci, VDRV_STATUS, 1, 0);
    g_assert_false(has_picture(f));
    g_assert_null(f->rec.s.pixels);
    console_lock(f->con);
    g_assert_cmpuint(console_cursor_locked(f->con)->width, ==, 0);
    console_unlock(f->con);
    g_assert_cmpuint(cfg32(f, 0), ==, 0);
    g_assert_cmpuint(f->g->hostmem, ==, 0);
    vdrv_negotiate(&f->g->vpci);
    queues(f);
    g_assert_cmphex(flush(f, 1, 0, 0, 1, 1), ==, VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID);
    g_assert_cmphex(create(f, 3, VIRTIO_GPU_FORMAT_B8G8R8A8_UNORM, 400, 400), ==, VIRTIO_GPU_RESP_OK_NODATA);
    {
        struct virtio_gpu_ctrl_hdr c = hdr(VIRTIO_GPU_CMD_GET_DISPLAY_INFO);
        const struct virtio_gpu_resp_display_info *info = (const void *)(f->ram + RESP);

        submit(f, 0, &c, sizeof(c), 2048);
        g_assert_cmpuint(info->pmodes[0].r.width, ==, 800);
        g_assert_cmpuint(info->pmodes[0].r.height, ==, 600);
    }
    /* A reset of the whole machine does the same. */
    g_assert_cmphex(scanout(f, 0, 3, 0, 0, 400, 400), ==, VIRTIO_GPU_RESP_OK_NODATA);
    g_assert_true(has_picture(f));
    virtio_pci_reset(&f->g->vpci);
    g_assert_false(has_picture(f));
    g_assert_cmpuint(f->g->nresources, ==, 0);
}

/* The configuration-change bit of the ISR (reading acknowledges it). */
static unsigned isr_config(struct fixture *f)
{
    return (unsigned)vdrv_read(&f->g->vpci, VIRTIO_PCI_ISR_OFF, 1) & 2;
}

static void test_resize(struct fixture *f, gconstpointer data)
{
    struct virtio_gpu_ctrl_hdr c = hdr(VIRTIO_GPU_CMD_GET_DISPLAY_INFO);
    struct virtio_gpu_get_edid ge = { hdr(VIRTIO_GPU_CMD_GET_EDID), 0, 0 };
    const struct virtio_gpu_resp_display_info *info = (const void *)(f->ram + RESP);
    const struct virtio_gpu_resp_edid *edid = (const void *)(f->ram + RESP);
    uint8_t gen;
    unsigned w, h;

    start(f, 0);
    g_assert_cmpuint(isr_config(f), ==, 0);
    gen = (uint8_t)vdrv_read(&f->g->vpci, 0x15, 1);
    g_assert_cmpint(console_request_size(f->con, 1280, 800), ==, 0);
    /* A configuration change (ISR bit 1, MSI-X being off) with the display
     * event in events_read. */
    g_assert_cmpuint(isr_config(f), ==, 2);
    g_assert_cmpuint((uint8_t)vdrv_read(&f->g->vpci, 0x15, 1), !=, gen);
    g_assert_cmpuint(cfg32(f, 0), ==, VIRTIO_GPU_EVENT_DISPLAY);
    submit(f, 0, &c, sizeof(c), 2048);
    g_assert_cmpuint(info->pmodes[0].r.width, ==, 1280);
    g_assert_cmpuint(info->pmodes[0].r.height, ==, 800);
    g_assert_cmpuint(info->pmodes[0].enabled, ==, 1);
    submit(f, 0, &ge, sizeof(ge), 2048);
    g_assert_cmphex(edid->hdr.type, ==, VIRTIO_GPU_RESP_OK_EDID);
    edid_size(edid->edid, &w, &h);
    g_assert_cmpuint(w, ==, 1280);
    g_assert_cmpuint(h, ==, 800);
    /* The driver clears the event by writing it to events_clear. */
    vdrv_write(&f->g->vpci, VIRTIO_PCI_DEVICE_OFF + 4, 4, VIRTIO_GPU_EVENT_DISPLAY);
    g_assert_cmpuint(cfg32(f, 0), ==, 0);
    g_assert_cmpuint(cfg32(f, 4), ==, 0);

    /* The same size again is no news. */
    g_assert_cmpint(console_request_size(f->con, 1280, 800), ==, 0);
    g_assert_cmpuint(isr_config(f), ==, 0);
    g_assert_cmpuint(cfg32(f, 0), ==, 0);
    /* Sizes are clamped to what the EDID can describe; none is refused. */
    g_assert_cmpint(console_request_size(f->con, 100000, 20), ==, 0);
    g_assert_cmpuint(isr_config(f), ==, 2);
    submit(f, 0, &c, sizeof(c), 2048);
    g_assert_cmpuint(info->pmodes[0].r.width, ==, EDID_MAX_SIZE);
    g_assert_cmpuint(info->pmodes[0].r.height, ==, VIRTIO_GPU_MIN_HEIGHT);
    submit(f, 0, &ge, sizeof(ge), 2048);
    edid_size(edid->edid, &w, &h);
    g_assert_cmpuint(w, ==, EDID_MAX_SIZE);
    g_assert_cmpuint(h, ==, VIRTIO_GPU_MIN_HEIGHT);
    g_assert_cmpint(console_request_size(f->con, 0, 600), ==, -EINVAL);

    /* Before the driver is ready the size is kept, without an interrupt. */
    vdrv_write(&f->g->vpci, VDRV_STATUS, 1, 0);
    g_assert_cmpint(console_request_size(f->con, 1920, 1080), ==, 0);
    g_assert_cmpuint(isr_config(f), ==, 0);
    vdrv_negotiate(&f->g->vpci);
    queues(f);
    submit(f, 0, &c, sizeof(c), 2048);
    g_assert_cmpuint(info->pmodes[0].r.width, ==, 1920);
    g_assert_cmpuint(info->pmodes[0].r.height, ==, 1080);
}

/* A chain the driver broke: the transport marks the device, which goes on
 * after a reset. */
static void test_broken_ring(struct fixture *f, gconstpointer data)
{
    uint16_t idx = 5;

    start(f, 0);
    memcpy(f->ram + CAVAIL + 2, &idx, 2);
    memset(f->ram + CDESC, 0xff, 16 * QSIZE);
    memset(f->ram + CAVAIL + 4, 0xee, 2 * QSIZE);
    vdrv_notify(&f->g->vpci, 0);
    g_assert_cmphex(vdrv_read(&f->g->vpci, VDRV_STATUS, 1) & VIRTIO_STATUS_NEEDS_RESET, !=, 0);
    vdrv_negotiate(&f->g->vpci);
    queues(f);
    g_assert_cmphex(create(f, 1, VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM, 4, 4), ==, VIRTIO_GPU_RESP_OK_NODATA);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
#define ADD(path, fn) g_test_add("/virtio-gpu/" path, struct fixture, NULL, setup, fn, teardown)
    ADD("identity", test_identity);
    ADD("display-info", test_display_info);
    ADD("edid", test_edid);
    ADD("draw", test_draw);
    ADD("formats", test_formats);
    ADD("cursor", test_cursor);
    ADD("errors", test_errors);
    ADD("memory-cap", test_memory_cap);
    ADD("resource-count", test_resource_count);
    ADD("fence", test_fence);
    ADD("unref-scanout", test_unref_scanout);
    ADD("reset", test_reset);
    ADD("resize", test_resize);
    ADD("broken-ring", test_broken_ring);
#undef ADD
    return g_test_run();
}
