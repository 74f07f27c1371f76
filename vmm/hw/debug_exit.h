/* Test-exit port compatible with QEMU's isa-debug-exit. */
#pragma once

#include "../core/bus.h"
#include "../core/power.h"

struct debug_exit {
    struct power power;
};

extern const struct bus_ops debug_exit_bus_ops;
