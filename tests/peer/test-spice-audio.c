/* The SPICE display as the spice clock backend's sink, against a real
 * client: spice-client-glib's playback and record channels, in this process
 * on the same GLib main context as the display. A stand-in for a sound card
 * fills an output voice's ring with a 440 Hz tone (left, and its negative
 * right) from its service function, and drains an input voice's ring; the
 * client takes what the playback channel brings, and sends the tone (left,
 * and half of it right) into the record channel. Each side checks pitch,
 * level and channels; the client also the format the channels announce. */
#include <glib.h>
#include <glib/gstdio.h>
#include <math.h>
#include <pthread.h>
#include <spice-client.h>
#include <stdlib.h>
#include <string.h>

#include "../../display/spice.h"
#include "core/audio.h"
#include "core/console.h"
#include "core/input.h"
#include "core/log.h"

#define TONE_HZ 440
#define AMPLITUDE 12000
/* SPICE carries 48 kHz stereo S16 whatever the guest's rate. */
#define SPICE_RATE 48000
/* What is left out at the start (a codec's and a ring's start) and what is
 * measured after it. */
#define SKIP_MS 200
#define MEASURE_MS 1000
#define TIMEOUT_S 15

static int16_t tone(uint64_t n, unsigned rate)
{
    return (int16_t)lrint(AMPLITUDE * sin(2 * G_PI * TONE_HZ * (double)n / rate));
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

/* Times the left channel crosses zero, with hysteresis: a codec's noise
 * near zero is no crossing. */
static unsigned crossings(const int16_t *s, size_t frames, unsigned channels)
{
    unsigned n = 0;
    int side = 0;

    for (size_t i = 0; i < frames; i++) {
        int v = s[i * channels];
        int now = v > AMPLITUDE / 6 ? 1 : v < -AMPLITUDE / 6 ? -1 : 0;

        if (now && side && now != side)
            n++;
        if (now)
            side = now;
    }
    return n;
}

/* Mean of |left| and of |left - ratio * right| over the frames: whether
 * the right channel is the left over ratio. */
static void channel_match(const int16_t *s, size_t frames, double ratio, double *level, double *diff)
{
    double l = 0, d = 0;

    for (size_t i = 0; i < frames; i++) {
        l += fabs((double)s[2 * i]);
        d += fabs((double)s[2 * i] - ratio * (double)s[2 * i + 1]);
    }
    *level = l / (double)frames;
    *diff = d / (double)frames;
}

/* The tone's pitch in the left channel, relative to TONE_HZ, from the
 * phase of TONE_HZ in successive 20 ms windows: a tone at its pitch keeps
 * its phase, one off by a factor 1 + e turns by 2 pi TONE_HZ e 20 ms a
 * window. The median turn ignores the few windows a click falls in (the
 * record direction has one every 8192 frames: spice-server copies the part
 * of a client's packet that wraps its record buffer from an offset counted
 * in bytes where it means samples). steady: the share of windows that
 * turned by less than 0.05 rad (what is left of the image's leakage is
 * 0.02; a tone 1 % off turns by 0.055); level: the median window's
 * amplitude. */
/* Windows quieter than this hold no tone: under load the client's samples
 * (or the server's) come late and the backend has filled silence. */
#define LIVE_LEVEL 1000.0

static double pitch_error(const int16_t *s, size_t frames, unsigned channels, unsigned rate,
                          double *steady, double *level, double *live)
{
    size_t w = rate / 50, nwin = frames / w, nsteady = 0, nturn = 0, nlive = 0;
    double w0 = 2 * G_PI * TONE_HZ / rate, prev = 0, e;
    g_autofree double *turn = g_new(double, nwin), *amp = g_new(double, nwin);

    g_assert_cmpuint(nwin, >=, 3);
    for (size_t k = 0; k < nwin; k++) {
        double re = 0, im = 0, phase, a;

        /* A Hann window, so that the tone's image at -TONE_HZ does not
         * leak into the phase. */
        for (size_t n = k * w; n < (k + 1) * w; n++) {
            double hann = 1 - cos(2 * G_PI * (double)(n - k * w) / (double)w);

            re += hann * s[n * channels] * cos(w0 * (double)n);
            im -= hann * s[n * channels] * sin(w0 * (double)n);
        }
        phase = atan2(im, re);
        a = 2 * hypot(re, im) / (double)w;
        if (a >= LIVE_LEVEL) {
            /* The phase turns by the same step from one live window to
             * the next only when the pitch is right. */
            if (nlive && amp[nlive - 1] >= LIVE_LEVEL) {
                turn[nturn] = remainder(phase - prev, 2 * G_PI);
                if (fabs(turn[nturn]) < 0.05)
                    nsteady++;
                nturn++;
            }
            amp[nlive++] = a;
        } else if (nlive) {
            amp[nlive - 1] = -amp[nlive - 1];   /* the run of live windows ends */
        }
        prev = phase;
    }
    for (size_t i = 0; i < nlive; i++)
        amp[i] = fabs(amp[i]);
    *live = (double)nlive / (double)nwin;
    if (!nturn || !nlive) {
        *steady = 0;
        *level = 0;
        return 1;
    }
    qsort(turn, nturn, sizeof(double), cmp_double);
    qsort(amp, nlive, sizeof(double), cmp_double);
    e = turn[nturn / 2] / (2 * G_PI * TONE_HZ * (double)w / rate);
    *steady = (double)nsteady / (double)nturn;
    *level = amp[nlive / 2];
    return e;
}

struct fixture {
    char *dir, *sock;
    struct audio_backend *audio;
    struct console *con;
    struct input in;
    struct spice_display *d;
    GMainLoop *loop;
    SpiceSession *session;
    gboolean (*done)(struct fixture *f);
    gboolean timed_out;

    struct audio_voice voice;
    struct audio_format fmt;
    bool voice_started;
    /* The card's side (the service thread). */
    pthread_mutex_t lock;
    uint64_t made;              /* output: frames of the tone made so far */
    GArray *captured;           /* input: the voice's frames (int16) */

    /* The client's side (main loop). */
    gboolean started;
    int start_format, start_channels, start_rate;
    GArray *played;             /* what the playback channel brought (int16, stereo) */
    gint64 first_data_us;
    SpiceRecordChannel *rec;
    guint send_timer;
    gint64 send_t0;
    uint64_t sent;              /* frames of the tone sent */
};

/* ---- the sound card stand-in ---- */

static void out_service(void *opaque)
{
    struct fixture *f = opaque;
    struct audio_voice *v = &f->voice;
    unsigned fb = audio_frame_bytes(&v->fmt);
    int16_t buf[2 * 256];

    pthread_mutex_lock(&f->lock);
    while (atomic_load(&v->active) && audio_ring_free(&v->ring) >= sizeof(buf)) {
        for (unsigned i = 0; i < 256; i++) {
            int16_t s = tone(f->made + i, v->fmt.rate);

            if (v->fmt.channels == 2) {
                buf[2 * i] = s;
                buf[2 * i + 1] = (int16_t)-s;
            } else {
                buf[i] = s;
            }
        }
        audio_ring_write(&v->ring, buf, 256 * fb);
        f->made += 256;
    }
    pthread_mutex_unlock(&f->lock);
}

static void in_service(void *opaque)
{
    struct fixture *f = opaque;
    struct audio_voice *v = &f->voice;
    unsigned fb = audio_frame_bytes(&v->fmt);
    uint8_t buf[4096];
    size_t n;

    pthread_mutex_lock(&f->lock);
    while (atomic_load(&v->active) && (n = audio_ring_read(&v->ring, buf, sizeof(buf) / fb * fb))) {
        g_array_append_vals(f->captured, buf, (guint)(n / 2));
    }
    pthread_mutex_unlock(&f->lock);
}

/* ---- the client ---- */

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

    if (!f->first_data_us)
        f->first_data_us = g_get_monotonic_time();
    g_array_append_vals(f->played, samples, (guint)size / 2);
}

/* Sends the tone at its rate, by the clock, so that late timers catch up. */
static gboolean send_tone(gpointer data)
{
    struct fixture *f = data;
    uint64_t due = (uint64_t)(g_get_monotonic_time() - f->send_t0) * SPICE_RATE / G_USEC_PER_SEC;
    int16_t buf[2 * 960];

    while (f->sent < due) {
        unsigned n = due - f->sent < 960 ? (unsigned)(due - f->sent) : 960;

        for (unsigned i = 0; i < n; i++) {
            buf[2 * i] = tone(f->sent + i, SPICE_RATE);
            buf[2 * i + 1] = (int16_t)(buf[2 * i] / 2);
        }
        spice_record_channel_send_data(f->rec, buf, n * 4, (uint32_t)(g_get_monotonic_time() / 1000));
        f->sent += n;
    }
    return G_SOURCE_CONTINUE;
}

static void on_record_start(SpiceRecordChannel *ch, gint format, gint channels, gint rate, gpointer data)
{
    struct fixture *f = data;

    f->started = TRUE;
    f->start_format = format;
    f->start_channels = channels;
    f->start_rate = rate;
    f->rec = ch;
    f->send_t0 = g_get_monotonic_time();
    f->sent = 0;
    if (!f->send_timer)
        f->send_timer = g_timeout_add(10, send_tone, f);
}

static void on_record_stop(SpiceRecordChannel *ch, gpointer data)
{
    struct fixture *f = data;

    if (f->send_timer)
        g_source_remove(f->send_timer);
    f->send_timer = 0;
}

static void on_channel_new(SpiceSession *s, SpiceChannel *ch, gpointer data)
{
    if (SPICE_IS_PLAYBACK_CHANNEL(ch)) {
        g_signal_connect(ch, "playback-start", G_CALLBACK(on_playback_start), data);
        g_signal_connect(ch, "playback-data", G_CALLBACK(on_playback_data), data);
        spice_channel_connect(ch);
    } else if (SPICE_IS_RECORD_CHANNEL(ch)) {
        g_signal_connect(ch, "record-start", G_CALLBACK(on_record_start), data);
        g_signal_connect(ch, "record-stop", G_CALLBACK(on_record_stop), data);
        spice_channel_connect(ch);
    }
}

/* ---- set-up ---- */

static void fixture_setup(struct fixture *f, gconstpointer data)
{
    g_autoptr(GError) e = NULL;
    char err[256];

    memset(f, 0, sizeof(*f));
    pthread_mutex_init(&f->lock, NULL);
    f->played = g_array_new(FALSE, FALSE, sizeof(int16_t));
    f->captured = g_array_new(FALSE, FALSE, sizeof(int16_t));
    f->loop = g_main_loop_new(NULL, FALSE);
    f->dir = g_dir_make_tmp("nook-spice-audio-XXXXXX", &e);
    g_assert_no_error(e);
    f->sock = g_build_filename(f->dir, "spice.sock", NULL);

    f->audio = audio_clock_new("spice", err, sizeof(err));
    g_assert_nonnull(f->audio);
    f->con = console_new("test", NULL, NULL, 0);
    g_assert_nonnull(f->con);
    input_init(&f->in);
    g_autofree char *spec = g_strdup_printf("unix:%s", f->sock);
    f->d = spice_display_new(spec, "test", f->con, &f->in, f->audio, err, sizeof(err));
    if (!f->d)
        g_error("spice_display_new: %s", err);
}

static void connect_client(struct fixture *f)
{
    f->session = spice_session_new();
    g_object_set(f->session, "unix-path", f->sock, "enable-audio", TRUE, NULL);
    g_signal_connect(f->session, "channel-new", G_CALLBACK(on_channel_new), f);
    g_assert_true(spice_session_connect(f->session));
}

static void disconnect_client(struct fixture *f)
{
    if (f->send_timer)
        g_source_remove(f->send_timer);
    f->send_timer = 0;
    if (f->session) {
        spice_session_disconnect(f->session);
        /* Let both ends see the sockets close. */
        for (int i = 0; i < 50 && g_main_context_iteration(NULL, FALSE); i++)
            ;
        g_object_unref(f->session);
        f->session = NULL;
    }
}

/* The server goes first: a client that hangs up on it mid-stream makes it
 * warn (ECONNRESET). */
static void fixture_teardown(struct fixture *f, gconstpointer data)
{
    if (f->d)
        spice_display_free(f->d);
    disconnect_client(f);
    if (f->voice_started)
        audio_voice_destroy(&f->voice);
    if (f->audio)
        audio_backend_free(f->audio);
    console_free(f->con);
    input_destroy(&f->in);
    g_main_loop_unref(f->loop);
    g_array_unref(f->played);
    g_array_unref(f->captured);
    pthread_mutex_destroy(&f->lock);
    g_remove(f->sock);
    g_rmdir(f->dir);
    g_free(f->sock);
    g_free(f->dir);
}

static gboolean on_timeout(gpointer data)
{
    struct fixture *f = data;

    f->timed_out = TRUE;
    g_main_loop_quit(f->loop);
    return G_SOURCE_REMOVE;
}

static gboolean check_done(gpointer data)
{
    struct fixture *f = data;

    if (f->done(f))
        g_main_loop_quit(f->loop);
    return G_SOURCE_CONTINUE;
}

/* Runs the main loop until done(f) or the time-out. */
static void run_until(struct fixture *f, gboolean (*done)(struct fixture *))
{
    guint poll, timeout;

    f->done = done;
    f->timed_out = FALSE;
    poll = g_timeout_add(20, check_done, f);
    timeout = g_timeout_add_seconds(TIMEOUT_S, on_timeout, f);
    g_main_loop_run(f->loop);
    g_source_remove(poll);
    if (!f->timed_out)
        g_source_remove(timeout);
}

/* ---- playback ---- */

static size_t frames_wanted(unsigned rate)
{
    return (size_t)rate * (SKIP_MS + MEASURE_MS) / 1000;
}

static gboolean enough_played(struct fixture *f)
{
    return f->played->len / 2 >= frames_wanted(SPICE_RATE);
}

static void start_voice(struct fixture *f, enum audio_dir dir, unsigned rate, unsigned channels)
{
    f->fmt = (struct audio_format){ rate, channels };
    audio_voice_init(&f->voice, f->audio, dir, dir == AUDIO_OUT ? "test.out" : "test.in",
                     dir == AUDIO_OUT ? out_service : in_service, f);
    f->voice_started = true;
    g_assert_cmpint(audio_voice_start(&f->voice, &f->fmt, 100), ==, 0);
}

static void test_playback(struct fixture *f, gconstpointer data)
{
    const struct audio_format *fmt = data;
    const int16_t *s;
    size_t skip = (size_t)SPICE_RATE * SKIP_MS / 1000, n = (size_t)SPICE_RATE * MEASURE_MS / 1000;
    double expect = 2.0 * TONE_HZ * MEASURE_MS / 1000, got, level, diff, pace, e, steady, live;
    unsigned crossed;
    gint64 elapsed;

    start_voice(f, AUDIO_OUT, fmt->rate, fmt->channels);
    connect_client(f);
    run_until(f, enough_played);
    elapsed = g_get_monotonic_time() - f->first_data_us;
    g_assert_false(f->timed_out);

    /* What the channel said it carries. */
    g_assert_true(f->started);
    g_assert_cmpint(f->start_format, ==, SPICE_AUDIO_FMT_S16);
    g_assert_cmpint(f->start_channels, ==, 2);
    g_assert_cmpint(f->start_rate, ==, SPICE_RATE);

    /* The tone at its pitch, whatever the guest's rate: 880 crossings a
     * second of the channel's frames, within 1 %. */
    s = (const int16_t *)f->played->data + 2 * skip;
    crossed = crossings(s, n, 2);
    got = crossed;
    g_test_message("%u Hz %u ch: %u crossings in %zu frames (expected %.0f)", fmt->rate,
                   fmt->channels, crossed, n, expect);
    g_assert_cmpfloat(fabs(got - expect), <=, expect / 100);
    e = pitch_error(s, n, 2, SPICE_RATE, &steady, &level, &live);
    g_test_message("pitch off by %.3f %%, %.0f %% of windows steady, %.0f %% live", e * 100,
                   steady * 100, live * 100);
    g_assert_cmpfloat(fabs(e), <, 0.002);
    g_assert_cmpfloat(steady, >, 0.95);

    /* Right is minus left from a stereo guest, and left again from a mono
     * one (a lossy codec may carry it: compare levels, not samples). */
    channel_match(s, n, fmt->channels == 2 ? -1 : 1, &level, &diff);
    g_test_message("level %.0f, right vs left %.0f", level, diff);
    g_assert_cmpfloat(level, >, AMPLITUDE / 2.0);
    g_assert_cmpfloat(diff, <, level / 10);

    /* At the channel's pace: frames received over the time they took. */
    pace = (double)(f->played->len / 2) * G_USEC_PER_SEC / (double)elapsed;
    g_test_message("%.0f frames a second", pace);
    g_assert_cmpfloat(pace, >, SPICE_RATE * 0.85);
    g_assert_cmpfloat(pace, <, SPICE_RATE * 1.3);

    /* The display goes first, with the voice running: the backend plays
     * on to nowhere, and nothing of the display is touched any more. */
    spice_display_free(f->d);
    f->d = NULL;
    g_usleep(50000);
    audio_voice_stop(&f->voice);
}

/* ---- record ---- */

static gboolean enough_captured(struct fixture *f)
{
    gboolean enough;

    pthread_mutex_lock(&f->lock);
    /* Silence comes first, until the client's samples arrive. */
    enough = false;
    for (size_t i = 0; i < f->captured->len; i++) {
        if (g_array_index(f->captured, int16_t, i)) {
            enough = (f->captured->len - i) / f->fmt.channels >= frames_wanted(f->fmt.rate);
            break;
        }
    }
    pthread_mutex_unlock(&f->lock);
    return enough;
}

static void test_record(struct fixture *f, gconstpointer data)
{
    const struct audio_format *fmt = data;
    size_t skip = (size_t)fmt->rate * SKIP_MS / 1000, n = (size_t)fmt->rate * MEASURE_MS / 1000;
    double level, diff, e, steady, live;
    const int16_t *s;
    size_t first = 0;

    connect_client(f);
    start_voice(f, AUDIO_IN, fmt->rate, fmt->channels);
    run_until(f, enough_captured);
    g_assert_false(f->timed_out);

    g_assert_true(f->started);
    g_assert_cmpint(f->start_format, ==, SPICE_AUDIO_FMT_S16);
    g_assert_cmpint(f->start_channels, ==, 2);
    g_assert_cmpint(f->start_rate, ==, SPICE_RATE);

    pthread_mutex_lock(&f->lock);
    while (!g_array_index(f->captured, int16_t, first))
        first++;
    first -= first % fmt->channels;
    s = (const int16_t *)f->captured->data + first + skip * fmt->channels;
    /* The tone at its pitch at the voice's rate, within 0.2 %; the clicks
     * spice-server adds (see pitch_error) keep crossings from telling. */
    e = pitch_error(s, n, fmt->channels, fmt->rate, &steady, &level, &live);
    g_test_message("%u Hz %u ch: pitch off by %.3f %%, %.0f %% of windows steady, %.0f %% of "
                   "them live, level %.0f, %u crossings in %zu frames", fmt->rate, fmt->channels,
                   e * 100, steady * 100, live * 100, level, crossings(s, n, fmt->channels), n);
    /* The client sends from a timer of this process's main loop: on a
     * loaded machine (the test suite's other tests) some of its samples
     * come after the backend filled silence. The tone must be there for a
     * quarter of the time at least, at its pitch and level. */
    g_assert_cmpfloat(live, >=, 0.25);
    g_assert_cmpfloat(fabs(e), <, 0.002);
    g_assert_cmpfloat(steady, >, 0.6);
    /* Left, or the mean of left and half of it for a mono voice. */
    g_assert_cmpfloat(fabs(level - AMPLITUDE * (fmt->channels == 2 ? 1 : 0.75)), <, AMPLITUDE / 10.0);
    if (fmt->channels == 2) {
        channel_match(s, n, 2, &level, &diff);
        g_test_message("right vs left / 2: %.0f", diff);
        g_assert_cmpfloat(diff, <, level / 10);
    }
    pthread_mutex_unlock(&f->lock);

    /* The backend goes first: the display must not reach for it after. */
    audio_voice_destroy(&f->voice);
    f->voice_started = false;
    audio_backend_free(f->audio);
    f->audio = NULL;
}

int main(int argc, char **argv)
{
    static const struct audio_format stereo48 = { 48000, 2 }, mono44 = { 44100, 1 };

    g_test_init(&argc, &argv, NULL);
    log_set_level(g_test_verbose() ? LOG_DEBUG : LOG_WARN);
    g_test_add("/spice-audio/playback/48000-stereo", struct fixture, &stereo48, fixture_setup,
               test_playback, fixture_teardown);
    g_test_add("/spice-audio/playback/44100-mono", struct fixture, &mono44, fixture_setup,
               test_playback, fixture_teardown);
    g_test_add("/spice-audio/record/48000-stereo", struct fixture, &stereo48, fixture_setup,
               test_record, fixture_teardown);
    g_test_add("/spice-audio/record/44100-mono", struct fixture, &mono44, fixture_setup,
               test_record, fixture_teardown);
    return g_test_run();
}
