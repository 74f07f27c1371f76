/* Opt-in timing marks for tests/bench/gui-bench.py: with NOOK_TRACE_TIMING=1
 * in the environment (or G_MESSAGES_DEBUG naming Nook-Timing), each mark is
 * a line "Nook-Timing: WHAT USEC" on stderr, USEC being CLOCK_MONOTONIC. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

void nook_trace_mark (const char *what);

G_END_DECLS
