/* Logging for nook-vmm: one line per message on stderr, with rate limiting for
 * anything a guest can trigger repeatedly. */
#pragma once

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>

enum log_level { LOG_ERROR, LOG_WARN, LOG_INFO, LOG_DEBUG };

void log_set_level(enum log_level level);
void log_msg(enum log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)

/* A token bucket: a guest that hammers an unmapped port must not flood the
 * host's log. Embed one per message source; it is not thread-safe on purpose
 * (a lost count under a race is harmless). */
struct ratelimit {
    uint64_t window_start_ns;
    unsigned burst;      /* messages allowed per window */
    unsigned used;
    unsigned suppressed;
};

#define RATELIMIT_INIT { 0, 10, 0, 0 }

bool ratelimit_ok(struct ratelimit *rl);

#define log_warn_rl(rl, ...) do { if (ratelimit_ok(rl)) log_warn(__VA_ARGS__); } while (0)

uint64_t clock_ns(void);
