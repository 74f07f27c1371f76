/* How devices ask for a power-off or reset without knowing the VM. */
#pragma once

struct power {
    void (*request_exit)(void *opaque, int status, const char *reason);
    void (*request_reset)(void *opaque, const char *reason);
    void *opaque;
};

static inline void power_exit(const struct power *p, int status, const char *reason)
{
    if (p && p->request_exit)
        p->request_exit(p->opaque, status, reason);
}

static inline void power_reset(const struct power *p, const char *reason)
{
    if (p && p->request_reset)
        p->request_reset(p->opaque, reason);
}
