/* fw_cfg items, the file directory (kept sorted by name, as firmware that
 * bisects it expects), PIO reads and DMA transfers checked against guest RAM. */
#include "fw_cfg.h"

#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define DMA_SIGNATURE 0x51454d5520434647ull     /* "QEMU CFG" */

static void rebuild_dir(struct fw_cfg *f);

void fw_cfg_init(struct fw_cfg *f, const struct gmem *mem)
{
    uint32_t id = 0x3;      /* traditional interface and DMA */

    memset(f, 0, sizeof(*f));
    pthread_mutex_init(&f->lock, NULL);
    f->mem = mem;
    fw_cfg_add_bytes(f, FW_CFG_SIGNATURE, "QEMU", 4);
    fw_cfg_add_u32(f, FW_CFG_ID, id);
    rebuild_dir(f);
}

void fw_cfg_destroy(struct fw_cfg *f)
{
    for (size_t i = 0; i < sizeof(f->items) / sizeof(f->items[0]); i++)
        free(f->items[i].data);
    pthread_mutex_destroy(&f->lock);
}

void fw_cfg_reset(struct fw_cfg *f)
{
    pthread_mutex_lock(&f->lock);
    f->selector = 0;
    f->offset = 0;
    memset(f->dma_addr, 0, sizeof(f->dma_addr));
    pthread_mutex_unlock(&f->lock);
}

static int set_item(struct fw_cfg *f, uint16_t key, const void *data, uint32_t len)
{
    uint8_t *copy = NULL;

    if (len) {
        copy = malloc(len);
        if (!copy)
            return -ENOMEM;
        memcpy(copy, data, len);
    }
    free(f->items[key].data);
    f->items[key].data = copy;
    f->items[key].len = len;
    return 0;
}

int fw_cfg_add_bytes(struct fw_cfg *f, uint16_t key, const void *data, uint32_t len)
{
    if (key >= FW_CFG_FILE_FIRST || key == FW_CFG_FILE_DIR)
        return -EINVAL;
    return set_item(f, key, data, len);
}

int fw_cfg_add_u16(struct fw_cfg *f, uint16_t key, uint16_t v)
{
    uint16_t le = htole16(v);

    return fw_cfg_add_bytes(f, key, &le, sizeof(le));
}

int fw_cfg_add_u32(struct fw_cfg *f, uint16_t key, uint32_t v)
{
    uint32_t le = htole32(v);

    return fw_cfg_add_bytes(f, key, &le, sizeof(le));
}

int fw_cfg_add_u64(struct fw_cfg *f, uint16_t key, uint64_t v)
{
    uint64_t le = htole64(v);

    return fw_cfg_add_bytes(f, key, &le, sizeof(le));
}

/* Directory: be32 count, then { be32 size, be16 select, be16 reserved,
 * char name[56] } per file, in name order. */
static void rebuild_dir(struct fw_cfg *f)
{
    uint32_t len = 4 + 64 * f->nfiles;
    uint8_t *d = calloc(1, len);
    unsigned order[FW_CFG_MAX_FILES];

    if (!d)
        return;
    for (unsigned i = 0; i < f->nfiles; i++)
        order[i] = i;
    for (unsigned i = 1; i < f->nfiles; i++) {
        for (unsigned j = i; j > 0 && strcmp(f->names[order[j - 1]], f->names[order[j]]) > 0; j--) {
            unsigned t = order[j];
            order[j] = order[j - 1];
            order[j - 1] = t;
        }
    }
    uint32_t be = htobe32(f->nfiles);
    memcpy(d, &be, 4);
    for (unsigned i = 0; i < f->nfiles; i++) {
        uint8_t *e = d + 4 + 64 * i;
        unsigned idx = order[i];
        uint32_t size = htobe32(f->items[FW_CFG_FILE_FIRST + idx].len);
        uint16_t sel = htobe16((uint16_t)(FW_CFG_FILE_FIRST + idx));

        memcpy(e, &size, 4);
        memcpy(e + 4, &sel, 2);
        memcpy(e + 8, f->names[idx], 56);
    }
    free(f->items[FW_CFG_FILE_DIR].data);
    f->items[FW_CFG_FILE_DIR].data = d;
    f->items[FW_CFG_FILE_DIR].len = len;
}

int fw_cfg_add_file(struct fw_cfg *f, const char *name, const void *data, uint32_t len)
{
    unsigned idx;
    int r;

    if (!name || !*name || strlen(name) >= 56)
        return -EINVAL;
    for (idx = 0; idx < f->nfiles; idx++)
        if (strcmp(f->names[idx], name) == 0)
            break;
    if (idx == f->nfiles && f->nfiles == FW_CFG_MAX_FILES)
        return -ENOSPC;
    r = set_item(f, (uint16_t)(FW_CFG_FILE_FIRST + idx), data, len);
    if (r < 0)
        return r;
    if (idx == f->nfiles) {
        strncpy(f->names[idx], name, sizeof(f->names[idx]) - 1);
        f->nfiles++;
    }
    rebuild_dir(f);
    return 0;
}

static const struct fw_cfg_item *current(const struct fw_cfg *f)
{
    /* Bit 14 marks a write selector, bit 15 an architecture-specific key;
     * neither exists here, so such keys read as empty. */
    if (f->selector >= sizeof(f->items) / sizeof(f->items[0]))
        return NULL;
    return &f->items[f->selector];
}

static uint8_t read_byte(struct fw_cfg *f)
{
    const struct fw_cfg_item *it = current(f);

    if (!it || f->offset >= it->len)
        return 0;
    return it->data[f->offset++];
}

static void io_read(void *opaque, uint64_t offset, uint8_t *data, unsigned size)
{
    struct fw_cfg *f = opaque;

    pthread_mutex_lock(&f->lock);
    if (offset == 1) {
        for (unsigned i = 0; i < size; i++)
            data[i] = read_byte(f);
    } else {
        memset(data, 0, size);
    }
    pthread_mutex_unlock(&f->lock);
}

static void io_write(void *opaque, uint64_t offset, const uint8_t *data, unsigned size)
{
    struct fw_cfg *f = opaque;

    if (offset != 0 || size != 2)
        return;     /* data-port writes are ignored, as on QEMU since 2.4 */
    pthread_mutex_lock(&f->lock);
    f->selector = (uint16_t)bus_get(data, 2);
    f->offset = 0;
    pthread_mutex_unlock(&f->lock);
}

/* Runs one FWCfgDmaAccess at gpa; the guest owns the descriptor, so every
 * field is read once and checked against RAM. Called with the lock held. */
static void dma_run(struct fw_cfg *f, uint64_t gpa)
{
    struct { uint32_t control, length; uint64_t address; } __attribute__((packed)) d;
    uint32_t control, length, status = 0;
    uint64_t address;

    if (gmem_read(f->mem, gpa, &d, sizeof(d)) < 0)
        return;     /* nowhere to report to */
    control = be32toh(d.control);
    length = be32toh(d.length);
    address = be64toh(d.address);

    if (control & FW_CFG_DMA_SELECT) {
        f->selector = (uint16_t)(control >> 16);
        f->offset = 0;
    }
    if (control & (FW_CFG_DMA_READ | FW_CFG_DMA_SKIP | FW_CFG_DMA_WRITE)) {
        const struct fw_cfg_item *it = current(f);
        uint32_t avail = it && f->offset < it->len ? it->len - f->offset : 0;
        uint32_t n = length < avail ? length : avail;

        if (control & FW_CFG_DMA_READ) {
            /* Reads past the end of the item return zeros, like QEMU. */
            if ((length && !gmem_is_ram(f->mem, address, length)) ||
                (n && gmem_write(f->mem, address, it->data + f->offset, n) < 0)) {
                status = FW_CFG_DMA_ERROR;
            } else if (length > n) {
                uint8_t *p = gmem_ptr(f->mem, address + n, length - n);

                if (p)
                    memset(p, 0, length - n);
                else
                    status = FW_CFG_DMA_ERROR;
            }
        } else if (control & FW_CFG_DMA_WRITE) {
            status = FW_CFG_DMA_ERROR;     /* no writable items */
        }
        if (!status)
            f->offset += n;
    }
    control = htobe32(status);
    gmem_write(f->mem, gpa, &control, sizeof(control));
}

static void dma_read(void *opaque, uint64_t offset, uint8_t *data, unsigned size)
{
    uint64_t sig = htobe64(DMA_SIGNATURE);
    const uint8_t *b = (const uint8_t *)&sig;

    for (unsigned i = 0; i < size; i++)
        data[i] = offset + i < 8 ? b[offset + i] : 0;
}

static void dma_write(void *opaque, uint64_t offset, const uint8_t *data, unsigned size)
{
    struct fw_cfg *f = opaque;
    uint64_t gpa;

    pthread_mutex_lock(&f->lock);
    for (unsigned i = 0; i < size && offset + i < 8; i++)
        f->dma_addr[offset + i] = data[i];
    /* The transfer starts when the low half of the address is written. */
    if (offset + size == 8) {
        memcpy(&gpa, f->dma_addr, 8);
        gpa = be64toh(gpa);
        memset(f->dma_addr, 0, sizeof(f->dma_addr));
        dma_run(f, gpa);
    }
    pthread_mutex_unlock(&f->lock);
}

const struct bus_ops fw_cfg_io_bus_ops = { .read = io_read, .write = io_write };
const struct bus_ops fw_cfg_dma_bus_ops = { .read = dma_read, .write = dma_write };
