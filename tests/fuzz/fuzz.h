/* Shared by the fuzz targets: reading operations out of the fuzzer's input,
 * and the no-op interrupt line and power object devices are built with. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "core/irq.h"
#include "core/power.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Running out of input reads zeros, so every input is a valid program. */
struct fuzz_input {
    const uint8_t *p;
    size_t n;
};

static inline bool fi_more(const struct fuzz_input *in)
{
    return in->n > 0;
}

static inline uint8_t fi_u8(struct fuzz_input *in)
{
    if (!in->n)
        return 0;
    in->n--;
    return *in->p++;
}

static inline uint16_t fi_u16(struct fuzz_input *in)
{
    uint16_t lo = fi_u8(in);

    return (uint16_t)(lo | fi_u8(in) << 8);
}

static inline uint32_t fi_u32(struct fuzz_input *in)
{
    uint32_t lo = fi_u16(in);

    return lo | (uint32_t)fi_u16(in) << 16;
}

static inline uint64_t fi_u64(struct fuzz_input *in)
{
    uint64_t lo = fi_u32(in);

    return lo | (uint64_t)fi_u32(in) << 32;
}

/* Up to want bytes straight from the input. */
static inline size_t fi_bytes(struct fuzz_input *in, const uint8_t **out, size_t want)
{
    size_t n = want < in->n ? want : in->n;

    *out = in->p;
    in->p += n;
    in->n -= n;
    return n;
}

static inline unsigned fi_size(struct fuzz_input *in)
{
    static const unsigned sizes[4] = { 1, 2, 4, 8 };

    return sizes[fi_u8(in) & 3];
}

/* A line that is only ever at 0 or 1; anything else is a device bug. */
static inline void fuzz_irq_set(void *opaque, unsigned gsi, int level)
{
    if (level != 0 && level != 1)
        abort();
}

static inline struct irq_line fuzz_irq(void)
{
    return (struct irq_line){ .set = fuzz_irq_set };
}

static inline struct power fuzz_power(void)
{
    return (struct power){ 0 };
}
