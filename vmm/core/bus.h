/* Port I/O and MMIO buses: a device registers a range and is handed offsets
 * into it, never absolute addresses. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct bus_ops {
    /* data is little-endian, size is 1, 2, 4 or 8 (MMIO may be larger for
     * string copies; devices reject what they do not support). */
    void (*read)(void *opaque, uint64_t offset, uint8_t *data, unsigned size);
    void (*write)(void *opaque, uint64_t offset, const uint8_t *data, unsigned size);
};

struct bus;

struct bus *bus_new(const char *name, uint64_t limit);
void bus_free(struct bus *bus);

/* Returns 0, -EINVAL for an empty or wrapping range, -EEXIST when the range
 * overlaps one already registered. */
int bus_register(struct bus *bus, uint64_t base, uint64_t len,
                 const struct bus_ops *ops, void *opaque, const char *name);
/* Removes the range that starts at base; -ENOENT if there is none. */
int bus_unregister(struct bus *bus, uint64_t base);

/* Safe to call from any number of vCPU threads at once, and from within a
 * device handler (which may register or unregister ranges). Returns false
 * when no device covers [addr, addr + size). */
bool bus_read(struct bus *bus, uint64_t addr, uint8_t *data, unsigned size);
bool bus_write(struct bus *bus, uint64_t addr, const uint8_t *data, unsigned size);

size_t bus_count(struct bus *bus);

static inline uint64_t bus_get(const uint8_t *data, unsigned size)
{
    uint64_t v = 0;

    memcpy(&v, data, size > 8 ? 8 : size);
    return v;
}

static inline void bus_put(uint8_t *data, unsigned size, uint64_t v)
{
    memset(data, 0, size);
    memcpy(data, &v, size > 8 ? 8 : size);
}

/* For devices whose registers are 32 bits wide: an access of size bytes at
 * offset of a window of window bytes, split into the registers it touches.
 * A read gets each byte from read(opaque, register offset); a write calls
 * write(opaque, register offset, value, mask of the bytes written) once a
 * register. Bytes beyond the window read 0 and are not written. */
void bus_regs32_read(uint64_t offset, uint8_t *data, unsigned size, uint64_t window,
                     uint32_t (*read)(void *opaque, unsigned reg), void *opaque);
void bus_regs32_write(uint64_t offset, const uint8_t *data, unsigned size, uint64_t window,
                      void (*write)(void *opaque, unsigned reg, uint32_t v, uint32_t mask),
                      void *opaque);
