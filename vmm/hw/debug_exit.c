/* Debug-exit port: a write of v ends nook-vmm with status (v << 1) | 1, so a
 * test guest's status can never be mistaken for a clean power-off (0). */
#include "debug_exit.h"

static void debug_exit_write(void *opaque, uint64_t offset, const uint8_t *data, unsigned size)
{
    struct debug_exit *d = opaque;
    uint64_t v = bus_get(data, size);

    power_exit(&d->power, (int)(((v << 1) | 1) & 0xff), "debug-exit");
}

static void debug_exit_read(void *opaque, uint64_t offset, uint8_t *data, unsigned size)
{
    bus_put(data, size, ~0ull);
}

const struct bus_ops debug_exit_bus_ops = {
    .read = debug_exit_read,
    .write = debug_exit_write,
};
