/* Logging and rate limiting for nook-vmm. */
#include "log.h"

#include <stdio.h>
#include <time.h>

static enum log_level max_level = LOG_WARN;

void log_set_level(enum log_level level)
{
    max_level = level;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
    static const char *const names[] = { "error", "warning", "info", "debug" };
    char buf[1024];
    va_list ap;

    if (level > max_level)
        return;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    /* One fprintf so that lines from several vCPU threads do not interleave. */
    fprintf(stderr, "nook-vmm: %s: %s\n", names[level], buf);
}

uint64_t clock_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

bool ratelimit_ok(struct ratelimit *rl)
{
    uint64_t now = clock_ns();

    if (now - rl->window_start_ns > 5000000000ull) {
        if (rl->suppressed)
            log_warn("%u similar messages suppressed", rl->suppressed);
        rl->window_start_ns = now;
        rl->used = 0;
        rl->suppressed = 0;
    }
    if (rl->used < rl->burst) {
        rl->used++;
        return true;
    }
    rl->suppressed++;
    return false;
}
