/* Port I/O and MMIO buses. Lookups run on an immutable, reference-counted
 * snapshot of the range table so that a handler may change the table (a PCI
 * BAR move) while other vCPUs dispatch, with no lock held across a handler. */
#include "bus.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

struct bus_range {
    uint64_t base, len;
    const struct bus_ops *ops;
    void *opaque;
    const char *name;
};

struct bus_map {
    atomic_uint refs;
    size_t n;
    struct bus_range r[];
};

struct bus {
    pthread_mutex_t lock;   /* guards the map pointer, not the handlers */
    struct bus_map *map;    /* owned: one reference */
    uint64_t limit;         /* addresses are below this */
    const char *name;
};

static struct bus_map *map_alloc(size_t n)
{
    struct bus_map *m = calloc(1, sizeof(*m) + n * sizeof(m->r[0]));

    if (m) {
        atomic_init(&m->refs, 1);
        m->n = n;
    }
    return m;
}

static void map_put(struct bus_map *m)
{
    if (m && atomic_fetch_sub(&m->refs, 1) == 1)
        free(m);
}

static struct bus_map *map_get(struct bus *bus)
{
    struct bus_map *m;

    pthread_mutex_lock(&bus->lock);
    m = bus->map;
    atomic_fetch_add(&m->refs, 1);
    pthread_mutex_unlock(&bus->lock);
    return m;
}

struct bus *bus_new(const char *name, uint64_t limit)
{
    struct bus *bus = calloc(1, sizeof(*bus));

    if (!bus)
        return NULL;
    bus->map = map_alloc(0);
    if (!bus->map) {
        free(bus);
        return NULL;
    }
    pthread_mutex_init(&bus->lock, NULL);
    bus->limit = limit;
    bus->name = name;
    return bus;
}

void bus_free(struct bus *bus)
{
    if (!bus)
        return;
    map_put(bus->map);
    pthread_mutex_destroy(&bus->lock);
    free(bus);
}

/* Index of the last range whose base is <= addr, or -1. */
static long map_find(const struct bus_map *m, uint64_t addr)
{
    long lo = 0, hi = (long)m->n - 1, found = -1;

    while (lo <= hi) {
        long mid = lo + (hi - lo) / 2;

        if (m->r[mid].base <= addr) {
            found = mid;
            lo = mid + 1;
        } else {
            hi = mid - 1;
        }
    }
    return found;
}

int bus_register(struct bus *bus, uint64_t base, uint64_t len,
                 const struct bus_ops *ops, void *opaque, const char *name)
{
    struct bus_map *old, *m;
    long i;

    if (len == 0 || base + len < base || base + len > bus->limit || !ops)
        return -EINVAL;

    pthread_mutex_lock(&bus->lock);
    old = bus->map;
    i = map_find(old, base);
    if ((i >= 0 && old->r[i].base + old->r[i].len > base) ||
        ((size_t)(i + 1) < old->n && old->r[i + 1].base < base + len)) {
        pthread_mutex_unlock(&bus->lock);
        return -EEXIST;
    }
    m = map_alloc(old->n + 1);
    if (!m) {
        pthread_mutex_unlock(&bus->lock);
        return -ENOMEM;
    }
    memcpy(m->r, old->r, (size_t)(i + 1) * sizeof(m->r[0]));
    m->r[i + 1] = (struct bus_range){ base, len, ops, opaque, name };
    memcpy(&m->r[i + 2], &old->r[i + 1], (old->n - (size_t)(i + 1)) * sizeof(m->r[0]));
    bus->map = m;
    pthread_mutex_unlock(&bus->lock);
    map_put(old);
    return 0;
}

int bus_unregister(struct bus *bus, uint64_t base)
{
    struct bus_map *old, *m;
    long i;

    pthread_mutex_lock(&bus->lock);
    old = bus->map;
    i = map_find(old, base);
    if (i < 0 || old->r[i].base != base) {
        pthread_mutex_unlock(&bus->lock);
        return -ENOENT;
    }
    m = map_alloc(old->n - 1);
    if (!m) {
        pthread_mutex_unlock(&bus->lock);
        return -ENOMEM;
    }
    memcpy(m->r, old->r, (size_t)i * sizeof(m->r[0]));
    memcpy(&m->r[i], &old->r[i + 1], (old->n - (size_t)i - 1) * sizeof(m->r[0]));
    bus->map = m;
    pthread_mutex_unlock(&bus->lock);
    map_put(old);
    return 0;
}

static const struct bus_range *range_for(const struct bus_map *m, uint64_t addr, unsigned size)
{
    long i = map_find(m, addr);

    if (i < 0 || size == 0)
        return NULL;
    /* Accesses that straddle the end of a range belong to no device. */
    if (addr - m->r[i].base >= m->r[i].len || m->r[i].len - (addr - m->r[i].base) < size)
        return NULL;
    return &m->r[i];
}

bool bus_read(struct bus *bus, uint64_t addr, uint8_t *data, unsigned size)
{
    struct bus_map *m = map_get(bus);
    const struct bus_range *r = range_for(m, addr, size);
    bool ok = false;

    if (r && r->ops->read) {
        r->ops->read(r->opaque, addr - r->base, data, size);
        ok = true;
    } else if (r) {
        memset(data, 0xff, size);
        ok = true;
    }
    map_put(m);
    return ok;
}

bool bus_write(struct bus *bus, uint64_t addr, const uint8_t *data, unsigned size)
{
    struct bus_map *m = map_get(bus);
    const struct bus_range *r = range_for(m, addr, size);
    bool ok = false;

    if (r) {
        if (r->ops->write)
            r->ops->write(r->opaque, addr - r->base, data, size);
        ok = true;
    }
    map_put(m);
    return ok;
}

size_t bus_count(struct bus *bus)
{
    struct bus_map *m = map_get(bus);
    size_t n = m->n;

    map_put(m);
    return n;
}

void bus_regs32_read(uint64_t offset, uint8_t *data, unsigned size, uint64_t window,
                     uint32_t (*read)(void *opaque, unsigned reg), void *opaque)
{
    memset(data, 0, size);
    for (unsigned i = 0; i < size; i++) {
        uint64_t at = offset + i;

        if (at >= window)
            break;
        data[i] = (uint8_t)(read(opaque, (unsigned)(at & ~3ull)) >> (8 * (at & 3)));
    }
}

void bus_regs32_write(uint64_t offset, const uint8_t *data, unsigned size, uint64_t window,
                      void (*write)(void *opaque, unsigned reg, uint32_t v, uint32_t mask),
                      void *opaque)
{
    for (unsigned i = 0; i < size;) {
        uint64_t at = offset + i;
        unsigned reg = (unsigned)(at & ~3ull), shift = (unsigned)(at & 3);
        uint32_t v = 0, mask = 0;

        if (at >= window)
            break;
        for (; i < size && shift < 4; i++, shift++) {
            v |= (uint32_t)data[i] << (8 * shift);
            mask |= 0xffu << (8 * shift);
        }
        write(opaque, reg, v, mask);
    }
}
