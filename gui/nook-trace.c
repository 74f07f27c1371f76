/* Timing marks on stderr, off unless asked for (see nook-trace.h). */
#include "nook-trace.h"

#include <stdio.h>
#include <time.h>

#define TRACE_DOMAIN "Nook-Timing"

static gboolean
trace_enabled (void)
{
  static gsize once;
  static gboolean enabled;

  if (g_once_init_enter (&once))
    {
      enabled = g_strcmp0 (g_getenv ("NOOK_TRACE_TIMING"), "1") == 0 ||
                !g_log_writer_default_would_drop (G_LOG_LEVEL_DEBUG, TRACE_DOMAIN);
      g_once_init_leave (&once, 1);
    }
  return enabled;
}

void
nook_trace_mark (const char *what)
{
  struct timespec ts;

  if (!trace_enabled ())
    return;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  /* One write per line, unbuffered: the reader times the lines too. */
  fprintf (stderr, TRACE_DOMAIN ": %s %" G_GINT64_FORMAT "\n", what,
           (gint64) ts.tv_sec * G_USEC_PER_SEC + ts.tv_nsec / 1000);
  fflush (stderr);
}
