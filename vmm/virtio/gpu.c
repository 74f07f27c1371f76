/* virtio-gpu 2D: host-side copies of the guest's resources, filled from
 * their guest-memory backing by TRANSFER_TO_HOST_2D, one of them shown on
 * the console, and the cursor queue driving the console's cursor. */
#include "gpu.h"
#include "../hw/edid.h"

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CONTROLQ 0
#define CURSORQ 1
#define QUEUE_SIZE 64
#define BPP 4
#define NO_ALPHA 4
#define EDID_NAME "Nook"
/* Attach requests are read this many entries at a time. */
#define ENTRY_CHUNK 256

_Static_assert(sizeof(struct virtio_gpu_ctrl_hdr) == 24, "ctrl_hdr layout");
_Static_assert(sizeof(struct virtio_gpu_resp_display_info) == 408, "display_info layout");
_Static_assert(sizeof(struct virtio_gpu_resp_edid) == 1056, "resp_edid layout");
_Static_assert(sizeof(struct virtio_gpu_set_scanout) == 48, "set_scanout layout");
_Static_assert(sizeof(struct virtio_gpu_transfer_to_host_2d) == 56, "transfer layout");
_Static_assert(sizeof(struct virtio_gpu_update_cursor) == 56, "update_cursor layout");
_Static_assert(sizeof(struct virtio_gpu_mem_entry) == 16, "mem_entry layout");

/* Where a format keeps each channel within its 4 bytes. */
struct format {
    uint32_t id;
    uint8_t b, g, r, a;         /* a == NO_ALPHA: the fourth byte is padding */
};

/* The eight formats QEMU's 2D device takes. */
static const struct format formats[] = {
    { VIRTIO_GPU_FORMAT_B8G8R8A8_UNORM, 0, 1, 2, 3 },
    { VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM, 0, 1, 2, NO_ALPHA },
    { VIRTIO_GPU_FORMAT_A8R8G8B8_UNORM, 3, 2, 1, 0 },
    { VIRTIO_GPU_FORMAT_X8R8G8B8_UNORM, 3, 2, 1, NO_ALPHA },
    { VIRTIO_GPU_FORMAT_R8G8B8A8_UNORM, 2, 1, 0, 3 },
    { VIRTIO_GPU_FORMAT_X8B8G8R8_UNORM, 1, 2, 3, NO_ALPHA },
    { VIRTIO_GPU_FORMAT_A8B8G8R8_UNORM, 1, 2, 3, 0 },
    { VIRTIO_GPU_FORMAT_R8G8B8X8_UNORM, 2, 1, 0, NO_ALPHA },
};

/* One entry of a backing: guest memory at gpa, at byte start of the
 * backing as a whole. */
struct backing {
    uint64_t gpa;
    uint64_t start;
    uint32_t len;
};

struct gpu_resource {
    uint32_t id;
    const struct format *format;
    unsigned width, height;
    /* Owned: width * height pixels, B, G, R, A bytes (XRGB8888 for the
     * console, 0xAARRGGBB as a word). The scanout borrows it. */
    uint8_t *pixels;
    struct backing *backing;    /* owned; NULL: none attached */
    unsigned nbacking;
    uint64_t backing_len;
    uint64_t charged;           /* counted in hostmem, backing excluded */
    struct gpu_resource *next;  /* in its bucket */
};

static uint32_t fail(struct virtio_gpu *g, uint32_t code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Logs why a command failed (rate-limited: the guest decides how often)
 * and returns the error for its response. */
static uint32_t fail(struct virtio_gpu *g, uint32_t code, const char *fmt, ...)
{
    char msg[256];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    log_warn_rl(&g->rl, "virtio-gpu: %s", msg);
    return code;
}

static const struct format *find_format(uint32_t id)
{
    for (unsigned i = 0; i < sizeof(formats) / sizeof(formats[0]); i++)
        if (formats[i].id == id)
            return &formats[i];
    return NULL;
}

/* ---- resources ---- */

static struct gpu_resource **bucket(struct virtio_gpu *g, uint32_t id)
{
    return &g->buckets[id % VIRTIO_GPU_BUCKETS];
}

static struct gpu_resource *find(struct virtio_gpu *g, uint32_t id)
{
    for (struct gpu_resource *r = *bucket(g, id); r; r = r->next)
        if (r->id == id)
            return r;
    return NULL;
}

static uint64_t backing_charge(unsigned n)
{
    return (uint64_t)n * sizeof(struct backing);
}

static void detach(struct virtio_gpu *g, struct gpu_resource *r)
{
    g->hostmem -= backing_charge(r->nbacking);
    free(r->backing);
    r->backing = NULL;
    r->nbacking = 0;
    r->backing_len = 0;
}

/* The console must not show r any more. */
static void destroy(struct virtio_gpu *g, struct gpu_resource *r)
{
    detach(g, r);
    g->hostmem -= r->charged;
    g->nresources--;
    free(r->pixels);
    free(r);
}

/* Called with the lock held. The console's pixels are the resource's, so
 * the console lets go of them before the resource may go. */
static void scanout_off(struct virtio_gpu *g)
{
    struct console_surface none = { 0 };

    if (!g->scanout)
        return;
    g->scanout = NULL;
    g->scanout_rect = (struct virtio_gpu_rect){ 0 };
    console_set_surface(g->con, &none);
}

static void drop_all(struct virtio_gpu *g)
{
    for (unsigned i = 0; i < VIRTIO_GPU_BUCKETS; i++) {
        while (g->buckets[i]) {
            struct gpu_resource *r = g->buckets[i];

            g->buckets[i] = r->next;
            destroy(g, r);
        }
    }
}

/* Whether r lies inside a width x height picture, without overflow. */
static bool rect_inside(const struct virtio_gpu_rect *r, unsigned width, unsigned height)
{
    return r->x <= width && r->width <= width - r->x && r->y <= height && r->height <= height - r->y;
}

/* Copies len bytes from offset off of r's backing; -EFAULT when they are
 * not all there. */
static int backing_read(const struct virtio_gpu *g, const struct gpu_resource *r, uint64_t off,
                        uint8_t *dst, size_t len)
{
    unsigned lo = 0, hi = r->nbacking;

    /* The last entry that starts at or before off. */
    while (hi - lo > 1) {
        unsigned mid = lo + (hi - lo) / 2;

        if (r->backing[mid].start <= off)
            lo = mid;
        else
            hi = mid;
    }
    for (unsigned i = lo; len && i < r->nbacking; i++) {
        const struct backing *b = &r->backing[i];
        uint64_t in = off - b->start;
        size_t n;

        if (off < b->start || in >= b->len)
            continue;
        n = b->len - in < len ? (size_t)(b->len - in) : len;
        if (gmem_read(g->vpci.mem, b->gpa + in, dst, n) < 0)
            return -EFAULT;
        dst += n;
        off += n;
        len -= n;
    }
    return len ? -EFAULT : 0;
}

/* A line of n pixels of format f into B, G, R, A. */
static void convert(const struct format *f, const uint8_t *src, uint8_t *dst, unsigned n)
{
    for (unsigned i = 0; i < n; i++, src += BPP, dst += BPP) {
        dst[0] = src[f->b];
        dst[1] = src[f->g];
        dst[2] = src[f->r];
        dst[3] = f->a == NO_ALPHA ? 0xff : src[f->a];
    }
}

/* ---- control queue commands; called with the lock held ---- */

static bool get(const struct virtq *vq, const struct virtq_req *req, void *cmd, size_t size)
{
    return virtq_req_read(vq, req, 0, cmd, size) == size;
}

static uint32_t display_info(struct virtio_gpu *g, struct virtio_gpu_resp_display_info *resp)
{
    resp->pmodes[0].r = (struct virtio_gpu_rect){ 0, 0, g->pref_w, g->pref_h };
    resp->pmodes[0].enabled = 1;
    return VIRTIO_GPU_RESP_OK_DISPLAY_INFO;
}

static uint32_t get_edid(struct virtio_gpu *g, const struct virtq *vq, const struct virtq_req *req,
                         struct virtio_gpu_resp_edid *resp)
{
    struct virtio_gpu_get_edid c;

    if (!virtio_pci_feature(&g->vpci, VIRTIO_GPU_F_EDID))
        return fail(g, VIRTIO_GPU_RESP_ERR_UNSPEC, "GET_EDID without the EDID feature");
    if (!get(vq, req, &c, sizeof(c)))
        return fail(g, VIRTIO_GPU_RESP_ERR_UNSPEC, "GET_EDID: the command is cut short");
    if (c.scanout != 0)
        return fail(g, VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER, "GET_EDID of scanout %u", c.scanout);
    resp->size = (uint32_t)edid_generate(resp->edid, sizeof(resp->edid), g->pref_w, g->pref_h, EDID_NAME);
    return VIRTIO_GPU_RESP_OK_EDID;
}

static uint32_t create_2d(struct virtio_gpu *g, const struct virtq *vq, const struct virtq_req *req)
{
    struct virtio_gpu_resource_create_2d c;
    const struct format *f;
    struct gpu_resource *r;
    uint64_t bytes;

    if (!get(vq, req, &c, sizeof(c)))
        return fail(g, VIRTIO_GPU_RESP_ERR_UNSPEC, "RESOURCE_CREATE_2D: the command is cut short");
    if (c.resource_id == 0 || find(g, c.resource_id))
        return fail(g, VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID, "RESOURCE_CREATE_2D: resource id %u is %s",
                    c.resource_id, c.resource_id ? "taken" : "reserved");
    f = find_format(c.format);
    if (!f || !c.width || !c.height)
        return fail(g, VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER, "RESOURCE_CREATE_2D: format %u, %ux%u",
                    c.format, c.width, c.height);
    /* Within the dimensions' limits the size cannot overflow. */
    bytes = c.width <= VIRTIO_GPU_MAX_DIM && c.height <= VIRTIO_GPU_MAX_DIM
                ? (uint64_t)c.width * c.height * BPP + sizeof(*r) : UINT64_MAX;
    if (g->nresources >= VIRTIO_GPU_MAX_RESOURCES || bytes > g->hostmem_max - g->hostmem)
        return fail(g, VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY,
                    "RESOURCE_CREATE_2D: %ux%u does not fit (%llu of %llu bytes, %u resources in use)",
                    c.width, c.height, (unsigned long long)g->hostmem,
                    (unsigned long long)g->hostmem_max, g->nresources);
    r = calloc(1, sizeof(*r));
    if (r)
        r->pixels = calloc((size_t)c.width * c.height, BPP);
    if (!r || !r->pixels) {
        free(r);
        return fail(g, VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY, "RESOURCE_CREATE_2D: the host is out of memory");
    }
    r->id = c.resource_id;
    r->format = f;
    r->width = c.width;
    r->height = c.height;
    r->charged = bytes;
    r->next = *bucket(g, r->id);
    *bucket(g, r->id) = r;
    g->hostmem += bytes;
    g->nresources++;
    return VIRTIO_GPU_RESP_OK_NODATA;
}

static uint32_t unref(struct virtio_gpu *g, const struct virtq *vq, const struct virtq_req *req)
{
    struct virtio_gpu_resource_unref c;
    struct gpu_resource **p, *r;

    if (!get(vq, req, &c, sizeof(c)))
        return fail(g, VIRTIO_GPU_RESP_ERR_UNSPEC, "RESOURCE_UNREF: the command is cut short");
    for (p = bucket(g, c.resource_id); *p && (*p)->id != c.resource_id; p = &(*p)->next)
        ;
    r = *p;
    if (!r)
        return fail(g, VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID, "RESOURCE_UNREF of unknown resource %u",
                    c.resource_id);
    if (g->scanout == r)
        scanout_off(g);
    *p = r->next;
    destroy(g, r);
    return VIRTIO_GPU_RESP_OK_NODATA;
}

static uint32_t set_scanout(struct virtio_gpu *g, const struct virtq *vq, const struct virtq_req *req)
{
    struct virtio_gpu_set_scanout c;
    struct console_surface s;
    struct gpu_resource *r;
    size_t stride;

    if (!get(vq, req, &c, sizeof(c)))
        return fail(g, VIRTIO_GPU_RESP_ERR_UNSPEC, "SET_SCANOUT: the command is cut short");
    if (c.scanout_id != 0)
        return fail(g, VIRTIO_GPU_RESP_ERR_INVALID_SCANOUT_ID, "SET_SCANOUT of scanout %u", c.scanout_id);
    if (c.resource_id == 0) {
        scanout_off(g);
        return VIRTIO_GPU_RESP_OK_NODATA;
    }
    r = find(g, c.resource_id);
    if (!r)
        return fail(g, VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID, "SET_SCANOUT to unknown resource %u",
                    c.resource_id);
    if (!c.r.width || !c.r.height || !rect_inside(&c.r, r->width, r->height))
        return fail(g, VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER,
                    "SET_SCANOUT: %ux%u+%u+%u is not inside resource %u (%ux%u)", c.r.width, c.r.height,
                    c.r.x, c.r.y, r->id, r->width, r->height);
    stride = (size_t)r->width * BPP;
    s = (struct console_surface){
        .width = c.r.width,
        .height = c.r.height,
        .stride = (unsigned)stride,
        .format = CONSOLE_FORMAT_XRGB8888,
        .pixels = r->pixels + c.r.y * stride + (size_t)c.r.x * BPP,
    };
    if (g->scanout == r && !memcmp(&g->scanout_rect, &c.r, sizeof(c.r)))
        return VIRTIO_GPU_RESP_OK_NODATA;
    g->scanout = r;
    g->scanout_rect = c.r;
    console_set_surface(g->con, &s);
    console_update(g->con, 0, 0, s.width, s.height);
    return VIRTIO_GPU_RESP_OK_NODATA;
}

static uint32_t flush(struct virtio_gpu *g, const struct virtq *vq, const struct virtq_req *req)
{
    struct virtio_gpu_resource_flush c;
    const struct virtio_gpu_rect *s = &g->scanout_rect;
    struct gpu_resource *r;
    unsigned x0, y0, x1, y1;

    if (!get(vq, req, &c, sizeof(c)))
        return fail(g, VIRTIO_GPU_RESP_ERR_UNSPEC, "RESOURCE_FLUSH: the command is cut short");
    r = find(g, c.resource_id);
    if (!r)
        return fail(g, VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID, "RESOURCE_FLUSH of unknown resource %u",
                    c.resource_id);
    if (!rect_inside(&c.r, r->width, r->height))
        return fail(g, VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER,
                    "RESOURCE_FLUSH: %ux%u+%u+%u is not inside resource %u (%ux%u)", c.r.width,
                    c.r.height, c.r.x, c.r.y, r->id, r->width, r->height);
    if (g->scanout != r)
        return VIRTIO_GPU_RESP_OK_NODATA;
    /* The part of the flushed rectangle that is on the screen, in screen
     * coordinates. Both lie inside the resource: no overflow. */
    x0 = c.r.x > s->x ? c.r.x : s->x;
    y0 = c.r.y > s->y ? c.r.y : s->y;
    x1 = c.r.x + c.r.width < s->x + s->width ? c.r.x + c.r.width : s->x + s->width;
    y1 = c.r.y + c.r.height < s->y + s->height ? c.r.y + c.r.height : s->y + s->height;
    if (x0 < x1 && y0 < y1)
        console_update(g->con, x0 - s->x, y0 - s->y, x1 - x0, y1 - y0);
    return VIRTIO_GPU_RESP_OK_NODATA;
}

/* The backing holds the picture with the resource's own stride; offset is
 * where the rectangle's first pixel is in it. */
static uint32_t transfer(struct virtio_gpu *g, const struct virtq *vq, const struct virtq_req *req)
{
    struct virtio_gpu_transfer_to_host_2d c;
    struct gpu_resource *r;
    uint64_t stride, need;
    size_t line;
    bool native;

    if (!get(vq, req, &c, sizeof(c)))
        return fail(g, VIRTIO_GPU_RESP_ERR_UNSPEC, "TRANSFER_TO_HOST_2D: the command is cut short");
    r = find(g, c.resource_id);
    if (!r)
        return fail(g, VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID, "TRANSFER_TO_HOST_2D to unknown resource %u",
                    c.resource_id);
    if (!r->backing)
        return fail(g, VIRTIO_GPU_RESP_ERR_UNSPEC, "TRANSFER_TO_HOST_2D to resource %u, which has no backing",
                    r->id);
    if (!rect_inside(&c.r, r->width, r->height))
        return fail(g, VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER,
                    "TRANSFER_TO_HOST_2D: %ux%u+%u+%u is not inside resource %u (%ux%u)", c.r.width,
                    c.r.height, c.r.x, c.r.y, r->id, r->width, r->height);
    if (!c.r.width || !c.r.height)
        return VIRTIO_GPU_RESP_OK_NODATA;
    stride = (uint64_t)r->width * BPP;
    line = (size_t)c.r.width * BPP;
    need = (c.r.height - 1) * stride + line;
    if (c.offset > r->backing_len || r->backing_len - c.offset < need)
        return fail(g, VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER,
                    "TRANSFER_TO_HOST_2D: %llu bytes from offset %llu of a backing of %llu",
                    (unsigned long long)need, (unsigned long long)c.offset,
                    (unsigned long long)r->backing_len);
    /* B, G, R and anything in the fourth byte: copied as it is. */
    native = r->format->b == 0 && r->format->g == 1 && r->format->r == 2;
    for (unsigned y = 0; y < c.r.height; y++) {
        uint8_t *dst = r->pixels + (c.r.y + y) * stride + (size_t)c.r.x * BPP;
        int e = backing_read(g, r, c.offset + y * stride, native ? dst : g->line, line);

        if (e < 0)
            return fail(g, VIRTIO_GPU_RESP_ERR_UNSPEC, "TRANSFER_TO_HOST_2D: resource %u's backing "
                        "is not guest memory any more", r->id);
        if (!native)
            convert(r->format, g->line, dst, c.r.width);
    }
    return VIRTIO_GPU_RESP_OK_NODATA;
}

static uint32_t attach(struct virtio_gpu *g, const struct virtq *vq, const struct virtq_req *req)
{
    struct virtio_gpu_resource_attach_backing c;
    struct virtio_gpu_mem_entry chunk[ENTRY_CHUNK];
    struct backing *list;
    struct gpu_resource *r;
    uint64_t total = 0;

    if (!get(vq, req, &c, sizeof(c)))
        return fail(g, VIRTIO_GPU_RESP_ERR_UNSPEC, "RESOURCE_ATTACH_BACKING: the command is cut short");
    r = find(g, c.resource_id);
    if (!r)
        return fail(g, VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID,
                    "RESOURCE_ATTACH_BACKING to unknown resource %u", c.resource_id);
    if (r->backing)
        return fail(g, VIRTIO_GPU_RESP_ERR_UNSPEC, "RESOURCE_ATTACH_BACKING: resource %u has one already",
                    r->id);
    if (!c.nr_entries || c.nr_entries > VIRTIO_GPU_MAX_ENTRIES)
        return fail(g, VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER, "RESOURCE_ATTACH_BACKING with %u entries",
                    c.nr_entries);
    if (backing_charge(c.nr_entries) > g->hostmem_max - g->hostmem)
        return fail(g, VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY,
                    "RESOURCE_ATTACH_BACKING: no room for %u entries", c.nr_entries);
    list = calloc(c.nr_entries, sizeof(*list));
    if (!list)
        return fail(g, VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY, "RESOURCE_ATTACH_BACKING: the host is out of memory");
    for (unsigned i = 0; i < c.nr_entries; i += ENTRY_CHUNK) {
        unsigned n = c.nr_entries - i < ENTRY_CHUNK ? c.nr_entries - i : ENTRY_CHUNK;
        uint64_t want = (uint64_t)n * sizeof(chunk[0]);

        if (virtq_req_read(vq, req, sizeof(c) + (uint64_t)i * sizeof(chunk[0]), chunk, want) != want) {
            free(list);
            return fail(g, VIRTIO_GPU_RESP_ERR_UNSPEC, "RESOURCE_ATTACH_BACKING: %u entries announced, "
                        "fewer sent", c.nr_entries);
        }
        for (unsigned j = 0; j < n; j++) {
            const struct virtio_gpu_mem_entry *e = &chunk[j];

            if (e->addr > UINT64_MAX - e->length || !gmem_is_ram(g->vpci.mem, e->addr, e->length)) {
                free(list);
                return fail(g, VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER, "RESOURCE_ATTACH_BACKING: "
                            "entry %u (%u bytes at 0x%llx) is not guest RAM", i + j, e->length,
                            (unsigned long long)e->addr);
            }
            list[i + j] = (struct backing){ e->addr, total, e->length };
            total += e->length;
        }
    }
    r->backing = list;
    r->nbacking = c.nr_entries;
    r->backing_len = total;
    g->hostmem += backing_charge(c.nr_entries);
    return VIRTIO_GPU_RESP_OK_NODATA;
}

static uint32_t detach_backing(struct virtio_gpu *g, const struct virtq *vq, const struct virtq_req *req)
{
    struct virtio_gpu_resource_detach_backing c;
    struct gpu_resource *r;

    if (!get(vq, req, &c, sizeof(c)))
        return fail(g, VIRTIO_GPU_RESP_ERR_UNSPEC, "RESOURCE_DETACH_BACKING: the command is cut short");
    r = find(g, c.resource_id);
    if (!r)
        return fail(g, VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID, "RESOURCE_DETACH_BACKING of unknown resource %u",
                    c.resource_id);
    if (!r->backing)
        return fail(g, VIRTIO_GPU_RESP_ERR_UNSPEC, "RESOURCE_DETACH_BACKING of resource %u, which has no backing",
                    r->id);
    detach(g, r);
    return VIRTIO_GPU_RESP_OK_NODATA;
}

/* ---- cursor queue commands; called with the lock held ---- */

static uint32_t cursor(struct virtio_gpu *g, const struct virtq *vq, const struct virtq_req *req, uint32_t type)
{
    struct virtio_gpu_update_cursor c;
    uint32_t argb[VIRTIO_GPU_CURSOR_SIZE * VIRTIO_GPU_CURSOR_SIZE];
    struct gpu_resource *r;
    int x, y;

    if (!get(vq, req, &c, sizeof(c)))
        return fail(g, VIRTIO_GPU_RESP_ERR_UNSPEC, "cursor command 0x%x: the command is cut short", type);
    if (c.pos.scanout_id != 0)
        return fail(g, VIRTIO_GPU_RESP_ERR_INVALID_SCANOUT_ID, "cursor command on scanout %u",
                    c.pos.scanout_id);
    /* Positions may be left of or above the screen. */
    x = (int)(int32_t)c.pos.x;
    y = (int)(int32_t)c.pos.y;
    if (type == VIRTIO_GPU_CMD_MOVE_CURSOR) {
        console_move_cursor(g->con, x, y, g->cursor_visible);
        return VIRTIO_GPU_RESP_OK_NODATA;
    }
    if (c.resource_id == 0) {
        g->cursor_visible = false;
        console_set_cursor(g->con, NULL, 0, 0, 0, 0);
        console_move_cursor(g->con, x, y, false);
        return VIRTIO_GPU_RESP_OK_NODATA;
    }
    r = find(g, c.resource_id);
    if (!r)
        return fail(g, VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID, "UPDATE_CURSOR with unknown resource %u",
                    c.resource_id);
    if (r->width > VIRTIO_GPU_CURSOR_SIZE || r->height > VIRTIO_GPU_CURSOR_SIZE)
        return fail(g, VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER, "UPDATE_CURSOR: resource %u is %ux%u, "
                    "more than %ux%u", r->id, r->width, r->height, VIRTIO_GPU_CURSOR_SIZE,
                    VIRTIO_GPU_CURSOR_SIZE);
    for (unsigned i = 0; i < r->width * r->height; i++) {
        memcpy(&argb[i], r->pixels + (size_t)i * BPP, BPP);
        if (r->format->a == NO_ALPHA)
            argb[i] |= 0xff000000u;
    }
    if (console_set_cursor(g->con, argb, r->width, r->height,
                           c.hot_x < r->width ? c.hot_x : r->width - 1,
                           c.hot_y < r->height ? c.hot_y : r->height - 1) < 0)
        return fail(g, VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY, "UPDATE_CURSOR: the host is out of memory");
    g->cursor_visible = true;
    console_move_cursor(g->con, x, y, true);
    return VIRTIO_GPU_RESP_OK_NODATA;
}

/* ---- requests ---- */

union response {
    struct virtio_gpu_ctrl_hdr hdr;
    struct virtio_gpu_resp_display_info info;
    struct virtio_gpu_resp_edid edid;
};

/* Runs one command and fills in its response; returns the response's
 * length. Called with the lock held. */
static size_t run(struct virtio_gpu *g, unsigned qn, const struct virtq_req *req, union response *resp)
{
    const struct virtq *vq = &g->vpci.queues[qn].vq;
    struct virtio_gpu_ctrl_hdr hdr;
    uint32_t type;
    size_t len = sizeof(resp->hdr);

    memset(resp, 0, sizeof(*resp));
    if (!get(vq, req, &hdr, sizeof(hdr))) {
        resp->hdr.type = fail(g, VIRTIO_GPU_RESP_ERR_UNSPEC, "a request shorter than its header");
        return len;
    }
    if (qn == CURSORQ) {
        if (hdr.type == VIRTIO_GPU_CMD_UPDATE_CURSOR || hdr.type == VIRTIO_GPU_CMD_MOVE_CURSOR)
            type = cursor(g, vq, req, hdr.type);
        else
            type = fail(g, VIRTIO_GPU_RESP_ERR_UNSPEC, "unknown command 0x%x on the cursor queue", hdr.type);
    } else {
        switch (hdr.type) {
        case VIRTIO_GPU_CMD_GET_DISPLAY_INFO:
            type = display_info(g, &resp->info);
            len = sizeof(resp->info);
            break;
        case VIRTIO_GPU_CMD_GET_EDID:
            type = get_edid(g, vq, req, &resp->edid);
            len = sizeof(resp->edid);
            break;
        case VIRTIO_GPU_CMD_RESOURCE_CREATE_2D:
            type = create_2d(g, vq, req);
            break;
        case VIRTIO_GPU_CMD_RESOURCE_UNREF:
            type = unref(g, vq, req);
            break;
        case VIRTIO_GPU_CMD_SET_SCANOUT:
            type = set_scanout(g, vq, req);
            break;
        case VIRTIO_GPU_CMD_RESOURCE_FLUSH:
            type = flush(g, vq, req);
            break;
        case VIRTIO_GPU_CMD_TRANSFER_TO_HOST_2D:
            type = transfer(g, vq, req);
            break;
        case VIRTIO_GPU_CMD_RESOURCE_ATTACH_BACKING:
            type = attach(g, vq, req);
            break;
        case VIRTIO_GPU_CMD_RESOURCE_DETACH_BACKING:
            type = detach_backing(g, vq, req);
            break;
        default:
            type = fail(g, VIRTIO_GPU_RESP_ERR_UNSPEC, "unknown command 0x%x on the control queue", hdr.type);
            break;
        }
    }
    if (type >= VIRTIO_GPU_RESP_ERR_UNSPEC) {
        memset(resp, 0, sizeof(*resp));
        len = sizeof(resp->hdr);
    }
    resp->hdr.type = type;
    /* Commands are done when they are answered, so a fence is too. */
    if (hdr.flags & VIRTIO_GPU_FLAG_FENCE) {
        resp->hdr.flags = VIRTIO_GPU_FLAG_FENCE;
        resp->hdr.fence_id = hdr.fence_id;
        resp->hdr.ctx_id = hdr.ctx_id;
    }
    return len;
}

static void queue_notify(void *opaque, unsigned qn)
{
    struct virtio_gpu *g = opaque;
    struct virtq_req *req = g->req[qn];
    const struct virtq *vq = &g->vpci.queues[qn].vq;

    while (virtio_pci_pop(&g->vpci, qn, req) == 1) {
        union response resp;
        size_t len;
        uint64_t written;

        pthread_mutex_lock(&g->lock);
        len = run(g, qn, req, &resp);
        pthread_mutex_unlock(&g->lock);
        /* Linux's cursor commands come without room for an answer. */
        written = virtq_req_write(vq, req, 0, &resp, len);
        if (written < len && req->in_len)
            log_warn_rl(&g->rl, "virtio-gpu: a response of %zu bytes got a buffer of %llu", len,
                        (unsigned long long)req->in_len);
        virtio_pci_push(&g->vpci, qn, req->head, (uint32_t)written);
    }
}

/* ---- configuration, reset, console ---- */

static void config_read(void *opaque, uint64_t off, uint8_t *data, unsigned size)
{
    struct virtio_gpu *g = opaque;
    struct virtio_gpu_config cfg = { .num_scanouts = 1 };
    const uint8_t *b = (const uint8_t *)&cfg;

    pthread_mutex_lock(&g->lock);
    cfg.events_read = g->events_read;
    pthread_mutex_unlock(&g->lock);
    for (unsigned i = 0; i < size; i++)
        data[i] = off + i < sizeof(cfg) ? b[off + i] : 0;
}

static void config_write(void *opaque, uint64_t off, const uint8_t *data, unsigned size)
{
    struct virtio_gpu *g = opaque;
    const uint64_t clear = offsetof(struct virtio_gpu_config, events_clear);

    /* Only events_clear is the driver's to write. */
    pthread_mutex_lock(&g->lock);
    for (unsigned i = 0; i < size; i++)
        if (off + i >= clear && off + i < clear + 4)
            g->events_read &= ~((uint32_t)data[i] << (8 * (off + i - clear)));
    pthread_mutex_unlock(&g->lock);
}

static void reset(void *opaque)
{
    struct virtio_gpu *g = opaque;

    pthread_mutex_lock(&g->lock);
    scanout_off(g);
    if (g->cursor_visible)
        console_set_cursor(g->con, NULL, 0, 0, 0, 0);
    g->cursor_visible = false;
    drop_all(g);
    g->events_read = 0;
    pthread_mutex_unlock(&g->lock);
}

static void hw_refresh(void *opaque, bool full)
{
    struct virtio_gpu *g = opaque;

    if (!full)
        return;
    pthread_mutex_lock(&g->lock);
    if (g->scanout)
        console_update(g->con, 0, 0, g->scanout_rect.width, g->scanout_rect.height);
    pthread_mutex_unlock(&g->lock);
}

/* A front end's size becomes the display's: the driver hears of it through
 * a configuration change and asks for the display info and EDID again. */
static int hw_request_size(void *opaque, unsigned width, unsigned height)
{
    struct virtio_gpu *g = opaque;
    bool changed, live;

    if (!width || !height)
        return -EINVAL;
    width = width < VIRTIO_GPU_MIN_WIDTH ? VIRTIO_GPU_MIN_WIDTH : width > EDID_MAX_SIZE ? EDID_MAX_SIZE : width;
    height = height < VIRTIO_GPU_MIN_HEIGHT ? VIRTIO_GPU_MIN_HEIGHT
             : height > EDID_MAX_SIZE ? EDID_MAX_SIZE : height;
    pthread_mutex_lock(&g->lock);
    changed = g->pref_w != width || g->pref_h != height;
    g->pref_w = width;
    g->pref_h = height;
    if (changed)
        g->events_read |= VIRTIO_GPU_EVENT_DISPLAY;
    pthread_mutex_unlock(&g->lock);
    pthread_mutex_lock(&g->vpci.lock);
    live = (g->vpci.status & VIRTIO_STATUS_DRIVER_OK) && !(g->vpci.status & VIRTIO_STATUS_NEEDS_RESET);
    pthread_mutex_unlock(&g->vpci.lock);
    if (changed && live)
        virtio_pci_config_changed(&g->vpci);
    return 0;
}

static const struct console_hw_ops hw_ops = { .refresh = hw_refresh, .request_size = hw_request_size };

struct virtio_gpu *virtio_gpu_new(const struct gmem *mem, struct msi_sink msi, struct irq_line intx,
                                  uint64_t hostmem_max, unsigned refresh_hz)
{
    struct virtio_gpu *g = calloc(1, sizeof(*g));

    if (!g)
        return NULL;
    pthread_mutex_init(&g->lock, NULL);
    g->rl = (struct ratelimit)RATELIMIT_INIT;
    g->hostmem_max = hostmem_max ? hostmem_max : VIRTIO_GPU_HOSTMEM_DEFAULT;
    g->pref_w = VIRTIO_GPU_DEFAULT_WIDTH;
    g->pref_h = VIRTIO_GPU_DEFAULT_HEIGHT;
    g->req[CONTROLQ] = calloc(1, sizeof(*g->req[CONTROLQ]));
    g->req[CURSORQ] = calloc(1, sizeof(*g->req[CURSORQ]));
    g->line = malloc((size_t)VIRTIO_GPU_MAX_DIM * BPP);
    /* The transport resets the device as it starts: the console must be there. */
    g->con = console_new("virtio-gpu", &hw_ops, g, refresh_hz);
    if (!g->req[CONTROLQ] || !g->req[CURSORQ] || !g->line || !g->con)
        goto fail;
    g->ops = (struct virtio_dev_ops){
        .device_id = 16,
        .pci_class = 0x038000,          /* display controller, other */
        .num_queues = 2,
        .queue_max = QUEUE_SIZE,
        .features = 1ull << VIRTIO_GPU_F_EDID,
        .config_read = config_read,
        .config_write = config_write,
        .queue_notify = queue_notify,
        .reset = reset,
    };
    if (virtio_pci_init(&g->vpci, &g->ops, g, mem, msi, intx, "virtio-gpu") < 0)
        goto fail;
    return g;

fail:
    virtio_gpu_free(g);
    return NULL;
}

void virtio_gpu_free(struct virtio_gpu *g)
{
    if (!g)
        return;
    /* No request and no refresh runs from here on. */
    virtio_pci_destroy(&g->vpci);
    console_free(g->con);
    drop_all(g);
    free(g->line);
    free(g->req[CONTROLQ]);
    free(g->req[CURSORQ]);
    pthread_mutex_destroy(&g->lock);
    free(g);
}

struct console *virtio_gpu_console(struct virtio_gpu *g)
{
    return g->con;
}
