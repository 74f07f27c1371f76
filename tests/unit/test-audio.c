/* Unit tests for the audio voices: the ring, the service thread, volume, and
 * the none and wav backends with a device stand-in that fills or drains the
 * ring from its service function as a sound card's DMA would. */
#include "core/audio.h"
#include "core/log.h"
#include "unit.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

static void test_ring(void)
{
    struct audio_ring r = { 0 };
    uint8_t in[10000], out[10000];

    for (unsigned i = 0; i < sizeof(in); i++)
        in[i] = (uint8_t)(i * 7 + 3);
    g_assert_cmpint(audio_ring_init(&r, 5000), ==, 0);
    g_assert_cmpuint(r.size, ==, 8192);
    g_assert_cmpuint(audio_ring_free(&r), ==, 8192);
    /* Fill past the end several times, in odd-sized pieces. */
    size_t wrote = 0, read = 0;
    for (unsigned round = 0; round < 50; round++) {
        size_t n = audio_ring_write(&r, in + (wrote % 5000), 3001);
        wrote += n;
        g_assert_cmpuint(audio_ring_used(&r), ==, wrote - read);
        read += audio_ring_read(&r, out, 2999);
        g_assert_cmpuint(audio_ring_used(&r), ==, wrote - read);
        g_assert_cmpuint(audio_ring_used(&r), <=, 8192);
    }
    /* Full ring: a write moves nothing more than the room. */
    audio_ring_clear(&r);
    g_assert_cmpuint(audio_ring_write(&r, in, sizeof(in)), ==, 8192);
    g_assert_cmpuint(audio_ring_write(&r, in, 1), ==, 0);
    g_assert_cmpuint(audio_ring_read(&r, out, sizeof(out)), ==, 8192);
    g_assert_cmpmem(out, 8192, in, 8192);
    g_assert_cmpuint(audio_ring_read(&r, out, 1), ==, 0);
    audio_ring_destroy(&r);
}

static void test_ring_order(void)
{
    struct audio_ring r = { 0 };
    uint8_t buf[777];
    uint32_t next_w = 0, next_r = 0;

    audio_ring_init(&r, 4096);
    for (unsigned round = 0; round < 200; round++) {
        size_t n = (round * 131) % sizeof(buf);

        for (size_t i = 0; i < n; i++)
            buf[i] = (uint8_t)(next_w + i);
        next_w += audio_ring_write(&r, buf, n);
        n = audio_ring_read(&r, buf, (round * 71) % sizeof(buf));
        for (size_t i = 0; i < n; i++)
            g_assert_cmpuint(buf[i], ==, (uint8_t)(next_r + i));
        next_r += n;
    }
    audio_ring_destroy(&r);
}

/* A device stand-in: its "guest buffer" is a counter of frames. */
struct fake_card {
    GMutex lock;
    struct audio_voice v;
    bool running;
    uint32_t next;          /* output: next frame number to produce */
    uint32_t got;           /* input: frames received */
    uint32_t services;
    int16_t last[2];
};

static void out_service(void *opaque)
{
    struct fake_card *c = opaque;
    int16_t frame[2];

    g_mutex_lock(&c->lock);
    c->services++;
    while (c->running && audio_ring_free(&c->v.ring) >= 4) {
        frame[0] = (int16_t)c->next;
        frame[1] = (int16_t)~c->next;
        audio_ring_write(&c->v.ring, frame, 4);
        c->next++;
    }
    g_mutex_unlock(&c->lock);
}

static void in_service(void *opaque)
{
    struct fake_card *c = opaque;
    int16_t frame[2];

    g_mutex_lock(&c->lock);
    c->services++;
    while (c->running && audio_ring_read(&c->v.ring, frame, 4) == 4) {
        c->last[0] = frame[0];
        c->last[1] = frame[1];
        c->got++;
    }
    g_mutex_unlock(&c->lock);
}

static char *tmp_path(const char *name)
{
    static char *dir;

    if (!dir)
        dir = g_dir_make_tmp("nook-audio-XXXXXX", NULL);
    return g_build_filename(dir, name, NULL);
}

static void test_none_paces_output(void)
{
    char err[256];
    struct audio_backend *b = audio_none_new(err, sizeof(err));
    struct fake_card c = { 0 };
    struct audio_format fmt = { 48000, 2 };
    uint64_t t0;

    g_assert_nonnull(b);
    g_mutex_init(&c.lock);
    audio_voice_init(&c.v, b, AUDIO_OUT, "test.out", out_service, &c);
    g_mutex_lock(&c.lock);
    c.running = true;
    g_assert_cmpint(audio_voice_start(&c.v, &fmt, 100), ==, 0);
    g_mutex_unlock(&c.lock);
    t0 = clock_ns();
    g_usleep(300000);
    g_mutex_lock(&c.lock);
    c.running = false;
    audio_voice_stop(&c.v);
    g_mutex_unlock(&c.lock);
    double secs = (double)(clock_ns() - t0) / 1e9;
    uint64_t frames = atomic_load(&c.v.frames);
    /* The clock took about the stream's rate; the card stayed one ring ahead. */
    g_assert_cmpfloat(frames, >, 48000 * secs * 0.6);
    g_assert_cmpfloat(frames, <, 48000 * secs * 1.2);
    g_assert_cmpuint(c.next, >=, frames);
    g_assert_cmpuint(c.next, <=, frames + c.v.ring.size / 4);
    g_assert_cmpuint(c.services, >, 5);
    audio_voice_destroy(&c.v);
    audio_backend_free(b);
    g_mutex_clear(&c.lock);
}

static void read_file(const char *path, uint8_t **data, size_t *len)
{
    gchar *d;
    gsize l;

    g_assert_true(g_file_get_contents(path, &d, &l, NULL));
    *data = (uint8_t *)d;
    *len = l;
}

static uint32_t rd32(const uint8_t *p) { return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24; }

static void test_wav_output_sample_for_sample(void)
{
    char err[256];
    g_autofree char *path = tmp_path("out.wav");
    struct audio_backend *b = audio_wav_new(path, err, sizeof(err));
    struct fake_card c = { 0 };
    struct audio_format fmt = { 44100, 2 };
    uint8_t *d;
    size_t len;

    g_assert_nonnull(b);
    g_mutex_init(&c.lock);
    audio_voice_init(&c.v, b, AUDIO_OUT, "test.out", out_service, &c);
    g_mutex_lock(&c.lock);
    c.running = true;
    g_assert_cmpint(audio_voice_start(&c.v, &fmt, 100), ==, 0);
    g_mutex_unlock(&c.lock);
    g_usleep(250000);
    g_mutex_lock(&c.lock);
    c.running = false;
    audio_voice_stop(&c.v);
    g_mutex_unlock(&c.lock);
    /* What the ring held at stop drains at the stream's pace (100 ms). */
    g_usleep(250000);
    audio_voice_destroy(&c.v);
    audio_backend_free(b);

    read_file(path, &d, &len);
    g_assert_cmpuint((len - 44) / 4, ==, c.next);
    g_assert_cmpuint(len, >, 44 + 4 * 4410);
    g_assert_cmpmem(d, 4, "RIFF", 4);
    g_assert_cmpmem(d + 8, 8, "WAVEfmt ", 8);
    g_assert_cmpuint(rd32(d + 24), ==, 44100);
    g_assert_cmpuint(d[22], ==, 2);
    g_assert_cmpuint(rd32(d + 40), ==, len - 44);
    g_assert_cmpuint(rd32(d + 4), ==, len - 8);
    /* Every frame the card produced is there, in order, until the first
     * underrun (none here: the card is always ready). */
    const int16_t *s = (const int16_t *)(d + 44);
    size_t frames = (len - 44) / 4;
    for (size_t i = 0; i < frames; i++) {
        if (s[2 * i] != (int16_t)i || s[2 * i + 1] != (int16_t)~i)
            g_error("frame %zu of %zu is %d,%d", i, frames, s[2 * i], s[2 * i + 1]);
    }
    g_free(d);
    g_mutex_clear(&c.lock);
}

static void write_wav(const char *path, unsigned rate, unsigned ch, const int16_t *s, size_t frames)
{
    uint8_t h[44] = "RIFF....WAVEfmt ";
    uint32_t data = (uint32_t)(frames * ch * 2);
    GString *f = g_string_new(NULL);

#define P32(o, v) do { h[o] = (v); h[o + 1] = (v) >> 8; h[o + 2] = (v) >> 16; h[o + 3] = (v) >> 24; } while (0)
    P32(4, 36 + data);
    P32(16, 16);
    h[20] = 1; h[21] = 0; h[22] = (uint8_t)ch; h[23] = 0;
    P32(24, rate);
    P32(28, rate * ch * 2);
    h[32] = (uint8_t)(ch * 2); h[33] = 0; h[34] = 16; h[35] = 0;
    memcpy(h + 36, "data", 4);
    P32(40, data);
#undef P32
    g_string_append_len(f, (const char *)h, 44);
    g_string_append_len(f, (const char *)s, data);
    g_assert_true(g_file_set_contents(path, f->str, (gssize)f->len, NULL));
    g_string_free(f, TRUE);
}

static void test_wav_input(void)
{
    char err[256];
    g_autofree char *out = tmp_path("in-out.wav");
    g_autofree char *in = tmp_path("in.wav");
    int16_t s[2 * 1000];
    struct fake_card c = { 0 };
    struct audio_format fmt = { 48000, 2 };

    for (int i = 0; i < 1000; i++) {
        s[2 * i] = 1234;
        s[2 * i + 1] = -4321;
    }
    write_wav(in, 48000, 2, s, 1000);
    g_autofree char *spec = g_strdup_printf("%s,in=%s", out, in);
    struct audio_backend *b = audio_wav_new(spec, err, sizeof(err));
    g_assert_nonnull(b);
    g_mutex_init(&c.lock);
    audio_voice_init(&c.v, b, AUDIO_IN, "test.in", in_service, &c);
    g_mutex_lock(&c.lock);
    c.running = true;
    g_assert_cmpint(audio_voice_start(&c.v, &fmt, 100), ==, 0);
    g_mutex_unlock(&c.lock);
    g_usleep(200000);
    /* Guest volume: half on the left, mute on the right by gain 0. */
    audio_voice_set_volume(&c.v, 32768, 0, false);
    g_usleep(100000);
    g_mutex_lock(&c.lock);
    c.running = false;
    audio_voice_stop(&c.v);
    g_assert_cmpuint(c.got, >, 48000 / 10);
    g_assert_cmpint(c.last[0], ==, 617);
    g_assert_cmpint(c.last[1], ==, 0);
    g_mutex_unlock(&c.lock);
    audio_voice_destroy(&c.v);
    audio_backend_free(b);
    g_mutex_clear(&c.lock);
}

static void test_wav_bad_specs(void)
{
    char err[256];
    g_autofree char *bad = tmp_path("bad.wav");
    g_autofree char *trunc = tmp_path("trunc.wav");
    g_autofree char *out = tmp_path("o.wav");
    struct {
        const char *spec;
        const char *says;
    } cases[] = {
        { "", "needs a file" },
        { "/nonexistent-dir/x.wav", "cannot write '/nonexistent-dir/x.wav'" },
        { NULL, "not a RIFF WAVE" },
        { NULL, "fmt chunk is truncated" },
        { NULL, "only 'in=FILE'" },
        { NULL, "cannot open" },
    };
    g_autofree char *s2 = g_strdup_printf("%s,in=%s", out, bad);
    g_autofree char *s3 = g_strdup_printf("%s,in=%s", out, trunc);
    g_autofree char *s4 = g_strdup_printf("%s,bogus=1", out);
    g_autofree char *s5 = g_strdup_printf("%s,in=/nonexistent.wav", out);

    g_assert_true(g_file_set_contents(bad, "hello, this is text", -1, NULL));
    g_assert_true(g_file_set_contents(trunc, "RIFF\x10\0\0\0WAVEfmt \x10\0\0\0\x01\0", 22, NULL));
    cases[2].spec = s2;
    cases[3].spec = s3;
    cases[4].spec = s4;
    cases[5].spec = s5;
    for (unsigned i = 0; i < G_N_ELEMENTS(cases); i++) {
        err[0] = '\0';
        g_assert_null(audio_wav_new(cases[i].spec, err, sizeof(err)));
        if (!strstr(err, cases[i].says))
            g_error("wav:%s: '%s' does not say '%s'", cases[i].spec, err, cases[i].says);
    }
}

static void test_volume(void)
{
    struct audio_voice v;
    int16_t s[4] = { 1000, -1000, 32767, -32768 };

    audio_voice_init(&v, NULL, AUDIO_OUT, "vol", NULL, NULL);
    v.fmt = (struct audio_format){ 48000, 2 };
    audio_voice_set_volume(&v, 65536, 16384, false);
    audio_apply_volume(&v, s, sizeof(s));
    g_assert_cmpint(s[0], ==, 1000);
    g_assert_cmpint(s[1], ==, -250);
    g_assert_cmpint(s[2], ==, 32767);
    g_assert_cmpint(s[3], ==, -8192);
    audio_voice_set_host_mute(&v, true);
    audio_apply_volume(&v, s, sizeof(s));
    g_assert_cmpint(s[0], ==, 0);
    g_assert_cmpint(s[2], ==, 0);
    audio_voice_destroy(&v);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    log_set_level(LOG_ERROR);
    g_test_add_func("/audio/ring", test_ring);
    g_test_add_func("/audio/ring-order", test_ring_order);
    g_test_add_func("/audio/volume", test_volume);
    g_test_add_func("/audio/none-paces-output", test_none_paces_output);
    g_test_add_func("/audio/wav-output-sample-for-sample", test_wav_output_sample_for_sample);
    g_test_add_func("/audio/wav-input", test_wav_input);
    g_test_add_func("/audio/wav-bad-specs", test_wav_bad_specs);
    return g_test_run();
}
