/* virtio-gpu in 2D mode (virtio 1.x, section 5.7) over the virtio-pci
 * transport: the guest draws into resources backed by its own memory and
 * copies them to the host, one scanout shows a resource on a console, and
 * the cursor queue drives the console's hardware cursor. */
#pragma once

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "../core/console.h"
#include "virtio-pci.h"

#define VIRTIO_GPU_F_EDID 1
#define VIRTIO_GPU_EVENT_DISPLAY 1u
#define VIRTIO_GPU_FLAG_FENCE 1u

/* Host memory that all resources together may take (pixels, backing lists,
 * bookkeeping) when the board does not say otherwise. */
#define VIRTIO_GPU_HOSTMEM_DEFAULT (256ull << 20)
/* Limits a guest meets as ERR_OUT_OF_MEMORY or ERR_INVALID_PARAMETER. */
#define VIRTIO_GPU_MAX_DIM 16384
#define VIRTIO_GPU_MAX_RESOURCES 16384
#define VIRTIO_GPU_MAX_ENTRIES 16384
#define VIRTIO_GPU_CURSOR_SIZE 64
/* The display starts at this size; size requests are clamped to what the
 * EDID can describe. */
#define VIRTIO_GPU_DEFAULT_WIDTH 1024
#define VIRTIO_GPU_DEFAULT_HEIGHT 768
#define VIRTIO_GPU_MIN_WIDTH 640
#define VIRTIO_GPU_MIN_HEIGHT 480

/* ---- wire format (5.7.6), little endian ---- */

#define VIRTIO_GPU_CMD_GET_DISPLAY_INFO         0x0100
#define VIRTIO_GPU_CMD_RESOURCE_CREATE_2D       0x0101
#define VIRTIO_GPU_CMD_RESOURCE_UNREF           0x0102
#define VIRTIO_GPU_CMD_SET_SCANOUT              0x0103
#define VIRTIO_GPU_CMD_RESOURCE_FLUSH           0x0104
#define VIRTIO_GPU_CMD_TRANSFER_TO_HOST_2D      0x0105
#define VIRTIO_GPU_CMD_RESOURCE_ATTACH_BACKING  0x0106
#define VIRTIO_GPU_CMD_RESOURCE_DETACH_BACKING  0x0107
#define VIRTIO_GPU_CMD_GET_EDID                 0x010a
#define VIRTIO_GPU_CMD_UPDATE_CURSOR            0x0300
#define VIRTIO_GPU_CMD_MOVE_CURSOR              0x0301

#define VIRTIO_GPU_RESP_OK_NODATA               0x1100
#define VIRTIO_GPU_RESP_OK_DISPLAY_INFO         0x1101
#define VIRTIO_GPU_RESP_OK_EDID                 0x1104
#define VIRTIO_GPU_RESP_ERR_UNSPEC              0x1200
#define VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY       0x1201
#define VIRTIO_GPU_RESP_ERR_INVALID_SCANOUT_ID  0x1202
#define VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID 0x1203
#define VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER   0x1205

/* Formats by the order of their bytes in memory. */
#define VIRTIO_GPU_FORMAT_B8G8R8A8_UNORM 1
#define VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM 2
#define VIRTIO_GPU_FORMAT_A8R8G8B8_UNORM 3
#define VIRTIO_GPU_FORMAT_X8R8G8B8_UNORM 4
#define VIRTIO_GPU_FORMAT_R8G8B8A8_UNORM 67
#define VIRTIO_GPU_FORMAT_X8B8G8R8_UNORM 68
#define VIRTIO_GPU_FORMAT_A8B8G8R8_UNORM 121
#define VIRTIO_GPU_FORMAT_R8G8B8X8_UNORM 134

#define VIRTIO_GPU_MAX_SCANOUTS 16

struct virtio_gpu_ctrl_hdr {
    uint32_t type;
    uint32_t flags;
    uint64_t fence_id;
    uint32_t ctx_id;
    uint8_t ring_idx;
    uint8_t padding[3];
};

struct virtio_gpu_rect {
    uint32_t x, y, width, height;
};

struct virtio_gpu_resp_display_info {
    struct virtio_gpu_ctrl_hdr hdr;
    struct virtio_gpu_display_one {
        struct virtio_gpu_rect r;
        uint32_t enabled;
        uint32_t flags;
    } pmodes[VIRTIO_GPU_MAX_SCANOUTS];
};

struct virtio_gpu_get_edid {
    struct virtio_gpu_ctrl_hdr hdr;
    uint32_t scanout;
    uint32_t padding;
};

struct virtio_gpu_resp_edid {
    struct virtio_gpu_ctrl_hdr hdr;
    uint32_t size;
    uint32_t padding;
    uint8_t edid[1024];
};

struct virtio_gpu_resource_create_2d {
    struct virtio_gpu_ctrl_hdr hdr;
    uint32_t resource_id;
    uint32_t format;
    uint32_t width;
    uint32_t height;
};

struct virtio_gpu_resource_unref {
    struct virtio_gpu_ctrl_hdr hdr;
    uint32_t resource_id;
    uint32_t padding;
};

struct virtio_gpu_set_scanout {
    struct virtio_gpu_ctrl_hdr hdr;
    struct virtio_gpu_rect r;
    uint32_t scanout_id;
    uint32_t resource_id;
};

struct virtio_gpu_resource_flush {
    struct virtio_gpu_ctrl_hdr hdr;
    struct virtio_gpu_rect r;
    uint32_t resource_id;
    uint32_t padding;
};

struct virtio_gpu_transfer_to_host_2d {
    struct virtio_gpu_ctrl_hdr hdr;
    struct virtio_gpu_rect r;
    uint64_t offset;
    uint32_t resource_id;
    uint32_t padding;
};

/* Followed by nr_entries struct virtio_gpu_mem_entry. */
struct virtio_gpu_resource_attach_backing {
    struct virtio_gpu_ctrl_hdr hdr;
    uint32_t resource_id;
    uint32_t nr_entries;
};

struct virtio_gpu_mem_entry {
    uint64_t addr;
    uint32_t length;
    uint32_t padding;
};

struct virtio_gpu_resource_detach_backing {
    struct virtio_gpu_ctrl_hdr hdr;
    uint32_t resource_id;
    uint32_t padding;
};

struct virtio_gpu_cursor_pos {
    uint32_t scanout_id;
    uint32_t x, y;
    uint32_t padding;
};

/* Both cursor commands; MOVE_CURSOR looks only at pos. */
struct virtio_gpu_update_cursor {
    struct virtio_gpu_ctrl_hdr hdr;
    struct virtio_gpu_cursor_pos pos;
    uint32_t resource_id;
    uint32_t hot_x, hot_y;
    uint32_t padding;
};

struct virtio_gpu_config {
    uint32_t events_read;
    uint32_t events_clear;      /* write 1s to clear events_read bits */
    uint32_t num_scanouts;
    uint32_t num_capsets;
};

/* ---- the device ---- */

#define VIRTIO_GPU_BUCKETS 1024

struct gpu_resource;

struct virtio_gpu {
    struct virtio_pci vpci;
    struct virtio_dev_ops ops;
    struct console *con;                /* owned */
    /* Owned scratch, one per queue: the transport runs a queue on one
     * thread at a time. */
    struct virtq_req *req[2];

    pthread_mutex_t lock;               /* everything below; taken before the console's */
    uint32_t events_read;
    unsigned pref_w, pref_h;            /* the display's size in display info and EDID */
    struct gpu_resource *buckets[VIRTIO_GPU_BUCKETS];  /* owned: resources by id */
    unsigned nresources;
    uint64_t hostmem, hostmem_max;      /* bytes the resources hold, and the cap */
    /* What the console shows: a rectangle of a resource (borrowed from
     * buckets; NULL when the scanout is off). */
    struct gpu_resource *scanout;
    struct virtio_gpu_rect scanout_rect;
    bool cursor_visible;                /* the guest set a cursor image */
    uint8_t *line;                      /* owned: one line of pixels being converted */
    struct ratelimit rl;
};

/* hostmem_max: the cap on resource memory (0: VIRTIO_GPU_HOSTMEM_DEFAULT).
 * The console refreshes at refresh_hz while a backend listens (the guest
 * reports its changes; a refresh only brings a new backend the whole
 * picture). NULL on failure. */
struct virtio_gpu *virtio_gpu_new(const struct gmem *mem, struct msi_sink msi, struct irq_line intx,
                                  uint64_t hostmem_max, unsigned refresh_hz);
void virtio_gpu_free(struct virtio_gpu *g);
struct console *virtio_gpu_console(struct virtio_gpu *g);
