/* A small SPICE client on spice-client-glib for tests and benchmarks: it
 * connects to a SPICE server, waits for the primary surface and then does
 * one thing:
 *   --shot FILE        writes the picture as PPM once it has stopped changing
 *   --count SECONDS    counts display updates and distinct frames (a frame
 *                      is told by the pixel at --marker X,Y) for that long:
 *                      prints "start T" as it starts, then one line of
 *                      "name value" pairs (updates, frames, fps, its own
 *                      CPU time over the count, the first and last marker);
 *                      with --tsc X,Y the three pixels from X,Y on hold a
 *                      TSC value (bits 0-23, 24-47, 48-63) stamped when the
 *                      frame was drawn, and the line has the latency from
 *                      then to this client seeing it (same host, same TSC);
 *                      --log-frames adds "frame T MARKER LATENCY_US" lines
 *                      (T: CLOCK_MONOTONIC in microseconds)
 *   --keys LIST        presses and releases set 1 scancodes (hex, 0x1NN for
 *                      an 0xe0 prefix), comma-separated
 *   --motion DX,DY[,BUTTONS] / --position X,Y[,BUTTONS]
 *                      a relative or absolute pointer event
 * Exit status 0 on success, 1 with a message on failure. */
#include <glib.h>
#include <spice-client.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>
#define HAVE_TSC 1
#endif

static struct {
    char *uri, *ca_file, *password, *shot, *keys, *motion, *position, *marker, *tsc;
    double count;
    gboolean log_frames;
    int timeout;
} opt = { .timeout = 30 };

static GMainLoop *loop;
static SpiceSession *session;
static SpiceChannel *display, *inputs;
static gboolean inputs_open, have_primary;
static gint64 last_update, count_start, cpu_start;
static unsigned long updates, frames;
static guint32 last_marker, first_marker;
static gboolean marker_seen;
static int marker_x, marker_y, tsc_x = -1, tsc_y;
static guint64 tsc_start;

struct frame_seen {
    gint64 when;                /* CLOCK_MONOTONIC, microseconds */
    guint32 marker;
    gint64 latency;             /* TSC ticks, or -1 */
};
static GArray *frames_seen;
static int status = 1;

static void finish(int st)
{
    status = st;
    g_main_loop_quit(loop);
}

static gboolean finish_ok(gpointer data)
{
    finish(0);
    return G_SOURCE_REMOVE;
}

static guint64 read_tsc(void)
{
#ifdef HAVE_TSC
    return __rdtsc();
#else
    return 0;
#endif
}

static gboolean read_pixel(int x, int y, guint32 *out)
{
    SpiceDisplayPrimary p;

    if (!display || !spice_display_channel_get_primary(display, 0, &p) || x >= p.width || y >= p.height)
        return FALSE;
    /* 32-bit xRGB, little-endian words. */
    memcpy(out, p.data + (size_t)y * p.stride + (size_t)x * 4, 4);
    *out &= 0xffffff;
    return TRUE;
}

static void on_invalidate(SpiceChannel *ch, gint x, gint y, gint w, gint h, gpointer data)
{
    guint32 px;

    last_update = g_get_monotonic_time();
    if (!count_start)
        return;
    updates++;
    if (marker_x >= x && marker_x < x + w && marker_y >= y && marker_y < y + h &&
        read_pixel(marker_x, marker_y, &px) && (!marker_seen || px != last_marker)) {
        struct frame_seen f = { last_update, px, -1 };
        guint32 t0, t1, t2;

        if (tsc_x >= 0 && read_pixel(tsc_x, tsc_y, &t0) && read_pixel(tsc_x + 1, tsc_y, &t1) &&
            read_pixel(tsc_x + 2, tsc_y, &t2))
            f.latency = (gint64)(read_tsc() - ((guint64)(t2 & 0xffff) << 48 | (guint64)t1 << 24 | t0));
        g_array_append_val(frames_seen, f);
        if (!marker_seen)
            first_marker = px;
        last_marker = px;
        marker_seen = TRUE;
        frames++;
    }
}

static int write_ppm(const char *path)
{
    SpiceDisplayPrimary p;
    FILE *f;

    if (!spice_display_channel_get_primary(display, 0, &p)) {
        fprintf(stderr, "spice-client: no primary surface\n");
        return -1;
    }
    f = fopen(path, "wb");
    if (!f) {
        perror(path);
        return -1;
    }
    fprintf(f, "P6\n%d %d\n255\n", p.width, p.height);
    for (int y = 0; y < p.height; y++) {
        for (int x = 0; x < p.width; x++) {
            const guint8 *s = p.data + (size_t)y * p.stride + (size_t)x * 4;
            guint8 rgb[3] = { s[2], s[1], s[0] };

            fwrite(rgb, 1, 3, f);
        }
    }
    return fclose(f) == 0 ? 0 : -1;
}

/* CPU time of this process, all threads, in microseconds. */
static gint64 cpu_us(void)
{
    struct rusage ru;

    getrusage(RUSAGE_SELF, &ru);
    return (gint64)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000 + ru.ru_utime.tv_usec +
           ru.ru_stime.tv_usec;
}

static int cmp_double(gconstpointer a, gconstpointer b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

static gboolean on_count_done(gpointer data)
{
    gint64 now = g_get_monotonic_time();
    double secs = (now - count_start) / 1e6;
    /* TSC ticks per microsecond, from the span of the count. */
    double tsc_per_us = (double)(read_tsc() - tsc_start) / (double)(now - count_start);
    g_autoptr(GArray) lat = g_array_new(FALSE, FALSE, sizeof(double));

    for (guint i = 0; i < frames_seen->len; i++) {
        struct frame_seen *f = &g_array_index(frames_seen, struct frame_seen, i);
        double us = f->latency >= 0 ? f->latency / tsc_per_us : -1;

        if (us >= 0)
            g_array_append_val(lat, us);
        if (opt.log_frames)
            printf("frame %" G_GINT64_FORMAT " %06x %.0f\n", f->when, f->marker, us);
    }
    printf("updates %lu frames %lu seconds %.3f fps %.2f cpu_ms %.1f first_marker %06x last_marker %06x",
           updates, frames, secs, frames / secs, (cpu_us() - cpu_start) / 1e3, first_marker, last_marker);
    if (lat->len) {
        double *v = (double *)lat->data;

        g_array_sort(lat, cmp_double);
        printf(" latency_ms_median %.2f latency_ms_p90 %.2f latency_ms_min %.2f latency_ms_max %.2f",
               v[lat->len / 2] / 1e3, v[lat->len * 9 / 10] / 1e3, v[0] / 1e3, v[lat->len - 1] / 1e3);
    }
    printf("\n");
    fflush(stdout);
    finish(0);
    return G_SOURCE_REMOVE;
}

/* Waits until the picture has not changed for 300 ms. */
static gboolean on_shot_poll(gpointer data)
{
    if (g_get_monotonic_time() - last_update < 300000)
        return G_SOURCE_CONTINUE;
    finish(write_ppm(opt.shot) == 0 ? 0 : 1);
    return G_SOURCE_REMOVE;
}

static gboolean parse_ints(const char *s, int *v, int n, int min_n)
{
    g_auto(GStrv) parts = g_strsplit(s, ",", -1);
    int i;

    for (i = 0; parts[i]; i++) {
        char *end;

        if (i == n)
            return FALSE;
        v[i] = (int)strtol(parts[i], &end, 0);
        if (*end || end == parts[i])
            return FALSE;
    }
    return i >= min_n;
}

static gboolean do_input(gpointer data)
{
    SpiceInputsChannel *in = SPICE_INPUTS_CHANNEL(inputs);
    int v[3] = { 0, 0, 0 };

    if (opt.keys) {
        g_auto(GStrv) codes = g_strsplit(opt.keys, ",", -1);

        for (int i = 0; codes[i]; i++) {
            guint sc = (guint)strtoul(codes[i], NULL, 16);

            spice_inputs_channel_key_press(in, sc);
            spice_inputs_channel_key_release(in, sc);
        }
    } else if (opt.motion) {
        if (!parse_ints(opt.motion, v, 3, 2)) {
            fprintf(stderr, "spice-client: --motion DX,DY[,BUTTONS]\n");
            finish(1);
            return G_SOURCE_REMOVE;
        }
        spice_inputs_channel_motion(in, v[0], v[1], v[2]);
    } else if (opt.position) {
        if (!parse_ints(opt.position, v, 3, 2)) {
            fprintf(stderr, "spice-client: --position X,Y[,BUTTONS]\n");
            finish(1);
            return G_SOURCE_REMOVE;
        }
        spice_inputs_channel_position(in, v[0], v[1], 0, v[2]);
    }
    /* Let the messages leave before disconnecting. */
    g_timeout_add(300, finish_ok, NULL);
    return G_SOURCE_REMOVE;
}

static void maybe_start(void)
{
    static gboolean started;
    gboolean want_input = opt.keys || opt.motion || opt.position;

    if (started || !have_primary || (want_input && !inputs_open))
        return;
    started = TRUE;
    if (opt.shot) {
        g_timeout_add(50, on_shot_poll, NULL);
    } else if (opt.count > 0) {
        count_start = g_get_monotonic_time();
        tsc_start = read_tsc();
        cpu_start = cpu_us();
        printf("start %" G_GINT64_FORMAT "\n", count_start);
        fflush(stdout);
        g_timeout_add((guint)(opt.count * 1000), on_count_done, NULL);
    } else if (want_input) {
        g_idle_add(do_input, NULL);
    } else {
        finish(0);
    }
}

static void on_primary_create(SpiceChannel *ch, gint format, gint w, gint h, gint stride, gint shmid,
                              gpointer imgdata, gpointer data)
{
    have_primary = TRUE;
    last_update = g_get_monotonic_time();
    maybe_start();
}

static void on_channel_event(SpiceChannel *ch, SpiceChannelEvent ev, gpointer data)
{
    if (ev == SPICE_CHANNEL_OPENED) {
        if (ch == inputs) {
            inputs_open = TRUE;
            maybe_start();
        }
        return;
    }
    if (ev == SPICE_CHANNEL_CLOSED)
        return;
    fprintf(stderr, "spice-client: channel %s: event %d (connection failed or refused)\n",
            g_type_name(G_OBJECT_TYPE(ch)), ev);
    finish(1);
}

static void on_new_channel(SpiceSession *s, SpiceChannel *ch, gpointer data)
{
    g_signal_connect(ch, "channel-event", G_CALLBACK(on_channel_event), NULL);
    if (SPICE_IS_DISPLAY_CHANNEL(ch) && !display) {
        display = ch;
        g_signal_connect(ch, "display-primary-create", G_CALLBACK(on_primary_create), NULL);
        g_signal_connect(ch, "display-invalidate", G_CALLBACK(on_invalidate), NULL);
        spice_channel_connect(ch);
    } else if (SPICE_IS_INPUTS_CHANNEL(ch) && !inputs) {
        inputs = ch;
        spice_channel_connect(ch);
    }
}

static gboolean on_timeout(gpointer data)
{
    fprintf(stderr, "spice-client: nothing after %d s\n", opt.timeout);
    finish(1);
    return G_SOURCE_REMOVE;
}

int main(int argc, char **argv)
{
    GOptionEntry entries[] = {
        { "uri", 0, 0, G_OPTION_ARG_STRING, &opt.uri, "spice://HOST?port=N&tls-port=N or spice+unix://PATH", "URI" },
        { "ca-file", 0, 0, G_OPTION_ARG_FILENAME, &opt.ca_file, "CA certificate for TLS", "FILE" },
        { "password", 0, 0, G_OPTION_ARG_STRING, &opt.password, "Password", "PW" },
        { "shot", 0, 0, G_OPTION_ARG_FILENAME, &opt.shot, "Write the picture as PPM", "FILE" },
        { "count", 0, 0, G_OPTION_ARG_DOUBLE, &opt.count, "Count frames for this long", "SECONDS" },
        { "marker", 0, 0, G_OPTION_ARG_STRING, &opt.marker, "The pixel that tells frames apart (0,0)", "X,Y" },
        { "tsc", 0, 0, G_OPTION_ARG_STRING, &opt.tsc, "Three pixels holding the TSC of each frame's drawing", "X,Y" },
        { "log-frames", 0, 0, G_OPTION_ARG_NONE, &opt.log_frames, "With --count, print every frame seen", NULL },
        { "keys", 0, 0, G_OPTION_ARG_STRING, &opt.keys, "Set 1 scancodes to type (hex)", "LIST" },
        { "motion", 0, 0, G_OPTION_ARG_STRING, &opt.motion, "Relative pointer motion", "DX,DY[,B]" },
        { "position", 0, 0, G_OPTION_ARG_STRING, &opt.position, "Absolute pointer position", "X,Y[,B]" },
        { "timeout", 0, 0, G_OPTION_ARG_INT, &opt.timeout, "Give up after this long (30 s)", "SECONDS" },
        { NULL },
    };
    g_autoptr(GOptionContext) ctx = g_option_context_new("- a SPICE client for tests");
    g_autoptr(GError) error = NULL;
    int xy[2] = { 0, 0 };

    g_option_context_add_main_entries(ctx, entries, NULL);
    if (!g_option_context_parse(ctx, &argc, &argv, &error) || !opt.uri) {
        fprintf(stderr, "spice-client: %s\n", error ? error->message : "--uri is needed");
        return 2;
    }
    if (opt.marker && !parse_ints(opt.marker, xy, 2, 2)) {
        fprintf(stderr, "spice-client: --marker X,Y\n");
        return 2;
    }
    marker_x = xy[0], marker_y = xy[1];
    if (opt.tsc) {
#ifdef HAVE_TSC
        if (!parse_ints(opt.tsc, xy, 2, 2) || xy[0] < 0 || xy[1] < 0) {
            fprintf(stderr, "spice-client: --tsc X,Y\n");
            return 2;
        }
        tsc_x = xy[0], tsc_y = xy[1];
#else
        fprintf(stderr, "spice-client: --tsc needs an x86 TSC\n");
        return 2;
#endif
    }
    frames_seen = g_array_new(FALSE, FALSE, sizeof(struct frame_seen));
    loop = g_main_loop_new(NULL, FALSE);
    session = spice_session_new();
    g_object_set(session, "uri", opt.uri, NULL);
    if (opt.ca_file)
        g_object_set(session, "ca-file", opt.ca_file, NULL);
    if (opt.password)
        g_object_set(session, "password", opt.password, NULL);
    g_signal_connect(session, "channel-new", G_CALLBACK(on_new_channel), NULL);
    if (!spice_session_connect(session)) {
        fprintf(stderr, "spice-client: cannot connect to %s\n", opt.uri);
        return 1;
    }
    g_timeout_add_seconds((guint)opt.timeout + (guint)opt.count, on_timeout, NULL);
    g_main_loop_run(loop);
    spice_session_disconnect(session);
    g_object_unref(session);
    return status;
}
