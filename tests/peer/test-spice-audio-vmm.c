/* The guest's sound reaches a SPICE client through nook-vmm: the hda test
 * guest plays a 1 kHz square wave (±8000, 48 kHz stereo) through the HD Audio
 * device with --display spice, whose default audio backend is spice-server's
 * playback channel; spice-client-glib connects to the unix socket and must
 * get the wave at its pitch and level for most of the time it plays.
 *
 *   test-spice-audio-vmm --vmm NOOK-VMM --guest HDA-ELF [--tap]
 *
 * Runs on /dev/kvm (through the L1 runner); time limits grow by
 * NOOK_TEST_TIME_SCALE. */
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <math.h>
#include <spice-client.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SPICE_RATE 48000
#define TONE_HZ 1000
#define AMPLITUDE 8000
#define PLAY_S 6
/* The guest's ring (hda.c's FRAMES) is no whole number of periods: the wave
 * starts its period again at each wrap, and so changes sign
 * (RING - 1) / HALF times a ring, 1992.2 times a second, not 2000. */
#define RING 4096
#define HALF (SPICE_RATE / TONE_HZ / 2)
#define CROSSINGS_PER_S ((double)((RING - 1) / HALF) * SPICE_RATE / RING)
/* Left out after the guest says it plays (the ring and the channel filling),
 * then measured, in windows of WINDOW_MS. */
#define SKIP_MS 300
/* How much of the sound is measured. In an L1 (tests/l1) the guest, nook-vmm,
 * spice-server's Opus encoder and this client's decoder share one emulated
 * CPU while the guest plays in real time: about a third of it arrives there
 * (2.1 s of 6 s measured), so 1.5 s is measured. */
static int measure_ms = 4000;
#define WINDOW_MS 100

static const char *vmm_path, *guest_path;

struct fixture {
    char *dir, *sock;
    double scale;
    GMainLoop *loop;
    GSubprocess *vmm;
    GDataInputStream *serial;
    GCancellable *cancel;
    gboolean vmm_exited;
    gboolean playing;
    gboolean timed_out;
    SpiceSession *session;

    /* The client's side. */
    gboolean started;
    int start_format, start_channels, start_rate;
    GArray *played;             /* what the playback channel brought (int16, stereo) */
    size_t mark;                /* frames received when the guest said "playing" */
};

static void on_playback_start(SpicePlaybackChannel *ch, gint format, gint channels, gint rate,
                              gpointer data)
{
    struct fixture *f = data;

    f->started = TRUE;
    f->start_format = format;
    f->start_channels = channels;
    f->start_rate = rate;
}

static void on_playback_data(SpicePlaybackChannel *ch, gpointer samples, gint size, gpointer data)
{
    struct fixture *f = data;

    g_array_append_vals(f->played, samples, (guint)size / 2);
}

static void on_channel_new(SpiceSession *s, SpiceChannel *ch, gpointer data)
{
    if (SPICE_IS_PLAYBACK_CHANNEL(ch)) {
        g_signal_connect(ch, "playback-start", G_CALLBACK(on_playback_start), data);
        g_signal_connect(ch, "playback-data", G_CALLBACK(on_playback_data), data);
        spice_channel_connect(ch);
    }
}

/* The guest's serial console, a line at a time: "playing N s" starts the
 * part that is measured. */
static void on_serial_line(GObject *src, GAsyncResult *res, gpointer data)
{
    struct fixture *f = data;
    g_autoptr(GError) e = NULL;
    g_autofree char *line = g_data_input_stream_read_line_finish(G_DATA_INPUT_STREAM(src), res,
                                                                   NULL, &e);

    if (!line)
        return;                 /* end of file, or cancelled */
    if (line[0] != '=')
        g_test_message("guest: %s", line);
    if (!f->playing && g_str_has_prefix(line, "playing")) {
        f->playing = TRUE;
        f->mark = f->played->len / 2;
    }
    g_data_input_stream_read_line_async(f->serial, G_PRIORITY_DEFAULT, f->cancel, on_serial_line, f);
}

static void on_vmm_exit(GObject *src, GAsyncResult *res, gpointer data)
{
    struct fixture *f = data;

    if (g_subprocess_wait_finish(G_SUBPROCESS(src), res, NULL))
        f->vmm_exited = TRUE;
}

static gboolean on_timeout(gpointer data)
{
    struct fixture *f = data;

    f->timed_out = TRUE;
    g_main_loop_quit(f->loop);
    return G_SOURCE_REMOVE;
}

struct wait {
    struct fixture *f;
    gboolean (*done)(struct fixture *f);
};

static gboolean check_done(gpointer data)
{
    struct wait *w = data;

    if (w->done(w->f) || w->f->vmm_exited)
        g_main_loop_quit(w->f->loop);
    return G_SOURCE_CONTINUE;
}

/* Runs the main loop until done(f), nook-vmm exits, or seconds (scaled)
 * pass; whether done(f). */
static gboolean run_until(struct fixture *f, gboolean (*done)(struct fixture *), double seconds)
{
    struct wait w = { f, done };
    guint poll, timeout;

    if (done(f))
        return TRUE;
    f->timed_out = FALSE;
    poll = g_timeout_add(20, check_done, &w);
    timeout = g_timeout_add((guint)(seconds * f->scale * 1000), on_timeout, f);
    g_main_loop_run(f->loop);
    g_source_remove(poll);
    if (!f->timed_out)
        g_source_remove(timeout);
    return done(f);
}

static gboolean socket_exists(struct fixture *f)
{
    return g_file_test(f->sock, G_FILE_TEST_EXISTS);
}

static gboolean guest_playing(struct fixture *f)
{
    return f->playing;
}

static size_t frames_wanted(void)
{
    return (size_t)SPICE_RATE * (SKIP_MS + measure_ms) / 1000;
}

static gboolean enough_played(struct fixture *f)
{
    return f->playing && f->played->len / 2 >= f->mark + frames_wanted();
}

static int cmp_int(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;

    return x < y ? -1 : x > y;
}

/* Sign changes of the left channel, with hysteresis (the codec's noise
 * near the edges is no crossing): two a period. c carries the sign from
 * one call to the next, so that a crossing on a window's edge counts, and
 * sums the half periods, for the pitch. */
struct crossing_state {
    int side;
    size_t at, last;            /* frames seen, and where the last crossing was */
    double half_sum;            /* half periods between crossings, not over a wrap */
    unsigned halves;
};

static unsigned crossings(const int16_t *s, size_t frames, struct crossing_state *c)
{
    unsigned n = 0;

    for (size_t i = 0; i < frames; i++, c->at++) {
        int v = s[2 * i];
        int now = v > AMPLITUDE / 4 ? 1 : v < -AMPLITUDE / 4 ? -1 : 0;

        if (now && c->side && now != c->side) {
            size_t d = c->at - c->last;

            /* A wrap makes one half period of 40 frames. */
            if (c->last && d >= HALF * 3 / 4 && d <= HALF * 5 / 4) {
                c->half_sum += (double)d;
                c->halves++;
            }
            c->last = c->at;
            n++;
        }
        if (now)
            c->side = now;
    }
    return n;
}

/* The median of |left| over the frames: a square wave's amplitude, which
 * a codec's ringing at the edges and the guest's one click leave alone. */
static int median_level(const int16_t *s, size_t frames)
{
    g_autofree int *a = g_new(int, frames);
    int hist[32769] = { 0 };
    size_t k = 0;

    for (size_t i = 0; i < frames; i++) {
        a[i] = abs((int)s[2 * i]);
        hist[a[i] > 32768 ? 32768 : a[i]]++;
    }
    for (int v = 0; v <= 32768; v++) {
        k += (size_t)hist[v];
        if (k > frames / 2)
            return v;
    }
    return 32768;
}

static void fixture_setup(struct fixture *f, gconstpointer data)
{
    g_autoptr(GError) e = NULL;
    const char *scale = g_getenv("NOOK_TEST_TIME_SCALE");

    memset(f, 0, sizeof(*f));
    f->scale = scale && g_ascii_strtod(scale, NULL) > 0 ? g_ascii_strtod(scale, NULL) : 1;
    f->played = g_array_new(FALSE, FALSE, sizeof(int16_t));
    f->loop = g_main_loop_new(NULL, FALSE);
    f->cancel = g_cancellable_new();
    f->dir = g_dir_make_tmp("nook-spice-audio-vmm-XXXXXX", &e);
    g_assert_no_error(e);
    f->sock = g_build_filename(f->dir, "spice.sock", NULL);
}

static void fixture_teardown(struct fixture *f, gconstpointer data)
{
    /* The client goes first, so that it sees no server hang up on it. */
    if (f->session) {
        spice_session_disconnect(f->session);
        for (int i = 0; i < 50 && g_main_context_iteration(NULL, FALSE); i++)
            ;
        g_clear_object(&f->session);
    }
    if (f->vmm) {
        if (!f->vmm_exited) {
            g_subprocess_send_signal(f->vmm, SIGTERM);
            /* on_vmm_exit is pending: wait here instead. */
            for (int i = 0; i < 500 && !f->vmm_exited; i++)
                g_main_context_iteration(NULL, FALSE), g_usleep(10000);
            if (!f->vmm_exited)
                g_subprocess_force_exit(f->vmm);
        }
        g_subprocess_wait(f->vmm, NULL, NULL);
    }
    g_cancellable_cancel(f->cancel);
    while (g_main_context_iteration(NULL, FALSE))
        ;
    g_clear_object(&f->serial);
    g_clear_object(&f->vmm);
    g_clear_object(&f->cancel);
    g_main_loop_unref(f->loop);
    g_array_unref(f->played);
    g_remove(f->sock);
    g_rmdir(f->dir);
    g_free(f->sock);
    g_free(f->dir);
}

static void test_hda_square(struct fixture *f, gconstpointer data)
{
    g_autoptr(GError) e = NULL;
    g_autofree char *spice = g_strdup_printf("unix:%s", f->sock);
    g_autofree char *append = g_strdup_printf("play=%d", PLAY_S);
    size_t win = (size_t)SPICE_RATE * WINDOW_MS / 1000, nwin = measure_ms / WINDOW_MS, good = 0;
    double expect_win = CROSSINGS_PER_S * WINDOW_MS / 1000, expect = CROSSINGS_PER_S * measure_ms / 1000;
    double sum2 = 0, rms, hz;
    unsigned total = 0, total_good = 0, worst_x = (unsigned)expect_win, level_lo = 32768, level_hi = 0;
    g_autofree int *peaks = g_new0(int, measure_ms / WINDOW_MS);
    struct crossing_state cs = { 0 };
    int peak, level;
    const int16_t *s;

    f->vmm = g_subprocess_new(G_SUBPROCESS_FLAGS_STDOUT_PIPE, &e, vmm_path,
                              "--kernel", guest_path, "--append", append, "--sound", "hda",
                              "--vga", "std", "--display", "spice", "--spice", spice,
                              "--serial", "stdio", "--control", "none", "--memory", "64M", NULL);
    g_assert_no_error(e);
    g_subprocess_wait_async(f->vmm, f->cancel, on_vmm_exit, f);
    f->serial = g_data_input_stream_new(g_subprocess_get_stdout_pipe(f->vmm));
    g_data_input_stream_read_line_async(f->serial, G_PRIORITY_DEFAULT, f->cancel, on_serial_line, f);

    if (!run_until(f, socket_exists, 10))
        g_error("nook-vmm made no SPICE socket at %s (%s)", f->sock,
                f->vmm_exited ? "it exited" : "timed out");

    /* The client is there before the guest plays, as it would be. */
    f->session = spice_session_new();
    g_object_set(f->session, "unix-path", f->sock, "enable-audio", TRUE, NULL);
    g_signal_connect(f->session, "channel-new", G_CALLBACK(on_channel_new), f);
    g_assert_true(spice_session_connect(f->session));

    if (!run_until(f, guest_playing, 20))
        g_error("the guest did not say \"playing\" (%s)", f->vmm_exited ? "nook-vmm exited" : "timed out");
    run_until(f, enough_played, PLAY_S + 5);
    g_test_message("%zu frames received, %zu of them after \"playing\"", f->played->len / (size_t)2,
                   f->played->len / 2 - f->mark);
    g_assert_true(f->started);
    g_assert_cmpint(f->start_format, ==, SPICE_AUDIO_FMT_S16);
    g_assert_cmpint(f->start_channels, ==, 2);
    g_assert_cmpint(f->start_rate, ==, SPICE_RATE);
    /* Four of the six seconds the guest plays, past the start. */
    if (!enough_played(f))
        g_error("only %.2f s of sound after the guest began to play (%.2f s wanted)",
                (double)(f->played->len / 2 - f->mark) / SPICE_RATE,
                (double)frames_wanted() / SPICE_RATE);

    s = (const int16_t *)f->played->data + 2 * (f->mark + (size_t)SPICE_RATE * SKIP_MS / 1000);

    /* Window by window: 199 crossings in 100 ms within 1 %, at the wave's
     * level; a window may hold a glitch (and one holds the guest's click,
     * which leaves crossings and the median level be). */
    for (size_t k = 0; k < nwin; k++) {
        const int16_t *w = s + 2 * k * win;
        unsigned x = crossings(w, win, &cs);
        int lv = median_level(w, win);
        double w2 = 0;

        for (size_t i = 0; i < win; i++) {
            peaks[k] = MAX(peaks[k], abs((int)w[2 * i]));
            w2 += (double)w[2 * i] * w[2 * i];
        }
        total += x;
        if (fabs(x - expect_win) > fabs(worst_x - expect_win))
            worst_x = x;
        level_lo = MIN(level_lo, (unsigned)lv);
        level_hi = MAX(level_hi, (unsigned)lv);
        if (fabs(x - expect_win) <= expect_win / 100 && abs(lv - AMPLITUDE) <= AMPLITUDE / 10) {
            good++;
            total_good += x;
            sum2 += w2;
        }
    }
    qsort(peaks, nwin, sizeof(int), cmp_int);
    peak = peaks[nwin / 2];
    level = median_level(s, nwin * win);
    rms = good ? sqrt(sum2 / (double)(good * win)) : 0;
    hz = cs.halves ? SPICE_RATE / (2 * cs.half_sum / cs.halves) : 0;

    g_test_message("%u crossings in %.1f s: %.1f a second (expected %.1f); %.2f Hz from %u half "
                   "periods", total, measure_ms / 1000.0, total * 1000.0 / measure_ms,
                   CROSSINGS_PER_S, hz, cs.halves);
    g_test_message("median |sample| %d, rms of the good windows %.0f, median window peak %d "
                   "(expected %d)", level, rms, peak, AMPLITUDE);
    g_test_message("%zu of %zu windows of %d ms good (furthest off: %u crossings; median levels "
                   "%u..%u)", good, nwin, WINDOW_MS, worst_x, level_lo, level_hi);
    g_assert_cmpfloat(fabs(hz - TONE_HZ), <=, TONE_HZ / 100.0);
    /* Most of the time played: three quarters of the windows (a loaded
     * machine drops a few tens of milliseconds now and then). */
    g_assert_cmpuint(good, >=, nwin * 3 / 4);
    g_assert_cmpfloat(fabs(total_good - expect * good / nwin), <=, expect * good / nwin / 100);
    g_assert_cmpfloat(fabs(rms - AMPLITUDE), <=, AMPLITUDE * 0.15);
    /* The peak is the wave's plus the codec's noise: SPICE's default
     * playback compression (Opus) leaves edges ringing to about 1.6 times
     * the square wave's level; no more than twice it, and not below it. */
    g_assert_cmpint(peak, >=, AMPLITUDE * 9 / 10);
    g_assert_cmpint(peak, <=, AMPLITUDE * 2);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    if (g_strcmp0(g_getenv("NOOK_TEST_IN_L1"), "1") == 0)
        measure_ms = 1500;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--vmm") && i + 1 < argc)
            vmm_path = argv[++i];
        else if (!strcmp(argv[i], "--guest") && i + 1 < argc)
            guest_path = argv[++i];
    }
    g_test_add("/spice-audio-vmm/hda-square", struct fixture, NULL, fixture_setup, test_hda_square,
               fixture_teardown);
    if (!vmm_path || !guest_path) {
        g_printerr("usage: %s --vmm NOOK-VMM --guest HDA-ELF [--tap]\n", argv[0]);
        return 2;
    }
    if (access(guest_path, R_OK) != 0) {
        g_print("1..0 # SKIP the hda guest %s is not built (-Dguest_tests=true)\n", guest_path);
        return 77;
    }
    if (access("/dev/kvm", R_OK | W_OK) != 0) {
        g_print("1..0 # SKIP no usable /dev/kvm (run through tests/l1/l1run.py)\n");
        return 77;
    }
    return g_test_run();
}
