/* Fuzz target for the PIO/MMIO bus: random register, unregister and
 * dispatch sequences, each result checked against a plain list of ranges. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "core/bus.h"
#include "fuzz.h"

#define LIMIT 0x1000
#define SLOTS 48

struct slot {
    bool used;
    uint64_t base, len;
};

static struct slot slots[SLOTS];
static struct bus *the_bus;
static struct slot *hit;
static uint64_t hit_offset;
static unsigned hit_size;

static void check(bool ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "bus and model disagree: %s\n", what);
        abort();
    }
}

static void slot_read(void *opaque, uint64_t offset, uint8_t *data, unsigned size)
{
    check(hit == NULL, "two handlers for one access");
    hit = opaque;
    hit_offset = offset;
    hit_size = size;
    memset(data, 0x5a, size);
}

static void slot_write(void *opaque, uint64_t offset, const uint8_t *data, unsigned size)
{
    struct slot *s = opaque;

    check(hit == NULL, "two handlers for one access");
    hit = s;
    hit_offset = offset;
    hit_size = size;
    /* A handler may remove its own range, as a device moving a BAR does. */
    if (data[0] == 0xa5) {
        check(bus_unregister(the_bus, s->base) == 0, "self-unregister");
        s->used = false;
    }
}

static const struct bus_ops slot_ops = { .read = slot_read, .write = slot_write };

static int model_register(uint64_t base, uint64_t len)
{
    if (len == 0 || base + len < base || base + len > LIMIT)
        return -EINVAL;
    for (unsigned i = 0; i < SLOTS; i++) {
        if (slots[i].used && base < slots[i].base + slots[i].len && slots[i].base < base + len)
            return -EEXIST;
    }
    return 0;
}

static struct slot *model_find(uint64_t addr, unsigned size)
{
    for (unsigned i = 0; i < SLOTS; i++) {
        struct slot *s = &slots[i];

        if (s->used && addr >= s->base && addr - s->base < s->len && s->len - (addr - s->base) >= size)
            return s;
    }
    return NULL;
}

static struct slot *free_slot(void)
{
    for (unsigned i = 0; i < SLOTS; i++)
        if (!slots[i].used)
            return &slots[i];
    return NULL;
}

static size_t model_count(void)
{
    size_t n = 0;

    for (unsigned i = 0; i < SLOTS; i++)
        n += slots[i].used;
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_input in = { data, size };

    memset(slots, 0, sizeof(slots));
    the_bus = bus_new("fuzz", LIMIT);
    if (!the_bus)
        return 0;

    while (fi_more(&in)) {
        uint8_t op = fi_u8(&in);

        switch (op & 7) {
        case 0:
        case 1: {
            struct slot *s = free_slot();
            uint64_t base = fi_u16(&in) % (LIMIT + 0x100);
            uint64_t len = fi_u8(&in);
            int want, got;

            if (op & 0x80)
                len |= (uint64_t)fi_u16(&in) << 8;
            if (op & 0x40)
                base = UINT64_MAX - fi_u8(&in);
            if (op & 0x20)
                len = UINT64_MAX - fi_u8(&in);
            if (!s)
                break;
            want = model_register(base, len);
            got = bus_register(the_bus, base, len, &slot_ops, s, "fuzz");
            check(got == want, "register result");
            if (got == 0)
                *s = (struct slot){ true, base, len };
            break;
        }
        case 2: {
            uint64_t base = fi_u16(&in) % (LIMIT + 0x100);
            bool known = false;

            for (unsigned i = 0; i < SLOTS; i++) {
                if (slots[i].used && slots[i].base == base) {
                    slots[i].used = false;
                    known = true;
                }
            }
            check(bus_unregister(the_bus, base) == (known ? 0 : -ENOENT), "unregister result");
            break;
        }
        case 3:
        case 4:
        case 5: {
            uint64_t addr = fi_u16(&in) % (LIMIT + 0x100);
            unsigned n = fi_size(&in);
            uint8_t buf[8] = { fi_u8(&in) };
            struct slot *want = model_find(addr, n);
            bool got;

            hit = NULL;
            /* A write may remove the range; the handler tells the model. */
            if ((op & 7) == 3)
                got = bus_read(the_bus, addr, buf, n);
            else
                got = bus_write(the_bus, addr, buf, n);
            check(got == (want != NULL), "dispatch result");
            check(hit == want, "dispatched to the wrong range");
            if (want) {
                check(hit_offset == addr - want->base, "offset");
                check(hit_size == n, "size");
            }
            break;
        }
        default:
            check(bus_count(the_bus) == model_count(), "count");
            break;
        }
    }
    check(bus_count(the_bus) == model_count(), "final count");
    bus_free(the_bus);
    the_bus = NULL;
    return 0;
}
