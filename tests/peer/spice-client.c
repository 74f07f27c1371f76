/* A small SPICE client on spice-client-glib for tests and benchmarks: it
 * connects to a SPICE server, waits for the primary surface and then does
 * one thing:
 *   --shot FILE        writes the picture as PPM once it has stopped changing
 *   --count SECONDS    counts display updates and distinct frames (a frame
 *                      is told by the pixel at --marker X,Y) for that long
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

static struct {
    char *uri, *ca_file, *password, *shot, *keys, *motion, *position, *marker;
    double count;
    int timeout;
} opt = { .timeout = 30 };

static GMainLoop *loop;
static SpiceSession *session;
static SpiceChannel *display, *inputs;
static gboolean inputs_open, have_primary;
static gint64 last_update, count_start;
static unsigned long updates, frames;
static guint32 last_marker;
static gboolean marker_seen;
static int marker_x, marker_y;
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

static gboolean on_count_done(gpointer data)
{
    double secs = (g_get_monotonic_time() - count_start) / 1e6;

    printf("updates %lu frames %lu seconds %.3f fps %.2f\n", updates, frames, secs, frames / secs);
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
