/* Audio voices, their rings and service thread, and the two backends that
 * need no library: none and wav (audio.h). */
#include "audio.h"
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* ---- rings ---- */

int audio_ring_init(struct audio_ring *r, size_t size)
{
    size_t n = 4096;

    while (n < size)
        n <<= 1;
    if (r->buf && r->size == n) {
        audio_ring_clear(r);
        return 0;
    }
    free(r->buf);
    r->buf = calloc(1, n);
    r->size = r->buf ? n : 0;
    atomic_store(&r->head, 0);
    atomic_store(&r->tail, 0);
    return r->buf ? 0 : -ENOMEM;
}

void audio_ring_destroy(struct audio_ring *r)
{
    free(r->buf);
    r->buf = NULL;
    r->size = 0;
}

size_t audio_ring_used(const struct audio_ring *r)
{
    return atomic_load_explicit(&r->head, memory_order_acquire) -
           atomic_load_explicit(&r->tail, memory_order_acquire);
}

size_t audio_ring_free(const struct audio_ring *r)
{
    return r->size - audio_ring_used(r);
}

size_t audio_ring_write(struct audio_ring *r, const void *data, size_t len)
{
    size_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
    size_t tail = atomic_load_explicit(&r->tail, memory_order_acquire);
    size_t room = r->size - (head - tail), off, first;

    if (len > room)
        len = room;
    off = head & (r->size - 1);
    first = r->size - off < len ? r->size - off : len;
    memcpy(r->buf + off, data, first);
    memcpy(r->buf, (const uint8_t *)data + first, len - first);
    atomic_store_explicit(&r->head, head + len, memory_order_release);
    return len;
}

size_t audio_ring_read(struct audio_ring *r, void *data, size_t len)
{
    size_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
    size_t head = atomic_load_explicit(&r->head, memory_order_acquire);
    size_t have = head - tail, off, first;

    if (len > have)
        len = have;
    off = tail & (r->size - 1);
    first = r->size - off < len ? r->size - off : len;
    memcpy(data, r->buf + off, first);
    memcpy((uint8_t *)data + first, r->buf, len - first);
    atomic_store_explicit(&r->tail, tail + len, memory_order_release);
    return len;
}

void audio_ring_clear(struct audio_ring *r)
{
    atomic_store(&r->tail, atomic_load(&r->head));
}

/* ---- the service thread ---- */

/* One thread per process runs the kicked voices' service functions, so that
 * no backend calls into a device with its own locks (or its library's) held. */
static struct {
    pthread_mutex_t lock;
    pthread_cond_t cond;        /* a kick, or the busy voice finished */
    struct audio_voice *voices;
    struct audio_voice *busy;   /* whose service runs now */
    bool started;
} svc = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, NULL, NULL, false };

static void *service_thread(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&svc.lock);
    for (;;) {
        struct audio_voice *v;

        for (v = svc.voices; v; v = v->next_voice)
            if (atomic_exchange(&v->kicked, false))
                break;
        if (!v) {
            pthread_cond_wait(&svc.cond, &svc.lock);
            continue;
        }
        svc.busy = v;
        pthread_mutex_unlock(&svc.lock);
        if (atomic_load(&v->active) && v->service)
            v->service(v->opaque);
        pthread_mutex_lock(&svc.lock);
        svc.busy = NULL;
        pthread_cond_broadcast(&svc.cond);
    }
    return NULL;
}

void audio_voice_kick(struct audio_voice *v)
{
    if (atomic_exchange(&v->kicked, true))
        return;
    pthread_mutex_lock(&svc.lock);
    pthread_cond_broadcast(&svc.cond);
    pthread_mutex_unlock(&svc.lock);
}

void audio_voice_init(struct audio_voice *v, struct audio_backend *b, enum audio_dir dir,
                      const char *name, audio_service_fn service, void *opaque)
{
    memset(v, 0, sizeof(*v));
    v->backend = b;
    v->dir = dir;
    v->name = name;
    v->service = service;
    v->opaque = opaque;
    v->fmt = (struct audio_format){ 48000, 2 };
    atomic_store(&v->vol_left, 65536);
    atomic_store(&v->vol_right, 65536);
    pthread_mutex_lock(&svc.lock);
    if (!svc.started) {
        pthread_t t;
        pthread_attr_t attr;

        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        pthread_attr_setstacksize(&attr, 256 << 10);
        if (pthread_create(&t, &attr, service_thread, NULL) == 0)
            svc.started = true;
        else
            log_error("audio: cannot start the service thread");
        pthread_attr_destroy(&attr);
    }
    v->next_voice = svc.voices;
    svc.voices = v;
    pthread_mutex_unlock(&svc.lock);
}

int audio_voice_start(struct audio_voice *v, const struct audio_format *fmt, unsigned ms)
{
    size_t bytes;
    int r;

    if (!v->backend || fmt->rate < 8000 || fmt->rate > 192000 || fmt->channels < 1 ||
        fmt->channels > 2)
        return -EINVAL;
    if (atomic_load(&v->active))
        audio_voice_stop(v);
    /* A drain of the last stream ends before the ring is made anew. */
    if (v->backend->ops->cancel)
        v->backend->ops->cancel(v->backend, v);
    v->fmt = *fmt;
    bytes = (size_t)fmt->rate * audio_frame_bytes(fmt) * (ms ? ms : 100) / 1000;
    r = audio_ring_init(&v->ring, bytes);
    if (r < 0)
        return r;
    atomic_store(&v->active, true);
    r = v->backend->ops->start(v->backend, v);
    if (r < 0) {
        atomic_store(&v->active, false);
        return r;
    }
    audio_voice_kick(v);
    return 0;
}

void audio_voice_stop(struct audio_voice *v)
{
    if (!atomic_exchange(&v->active, false))
        return;
    v->backend->ops->stop(v->backend, v);
}

void audio_voice_destroy(struct audio_voice *v)
{
    struct audio_voice **pp;

    audio_voice_stop(v);
    if (v->backend && v->backend->ops->cancel)
        v->backend->ops->cancel(v->backend, v);
    pthread_mutex_lock(&svc.lock);
    for (pp = &svc.voices; *pp; pp = &(*pp)->next_voice) {
        if (*pp == v) {
            *pp = v->next_voice;
            break;
        }
    }
    while (svc.busy == v)
        pthread_cond_wait(&svc.cond, &svc.lock);
    pthread_mutex_unlock(&svc.lock);
    audio_ring_destroy(&v->ring);
}

static void volume_changed(struct audio_voice *v)
{
    if (v->backend && v->backend->ops->volume_changed && atomic_load(&v->active))
        v->backend->ops->volume_changed(v->backend, v);
}

void audio_voice_set_volume(struct audio_voice *v, uint32_t left, uint32_t right, bool mute)
{
    atomic_store(&v->vol_left, left > 65536 ? 65536 : left);
    atomic_store(&v->vol_right, right > 65536 ? 65536 : right);
    atomic_store(&v->guest_mute, mute);
    volume_changed(v);
}

void audio_voice_set_host_mute(struct audio_voice *v, bool mute)
{
    atomic_store(&v->host_mute, mute);
    volume_changed(v);
}

void audio_apply_volume(const struct audio_voice *v, void *samples, size_t len)
{
    uint32_t l = atomic_load(&v->vol_left), r = atomic_load(&v->vol_right);
    int16_t *s = samples;
    size_t n = len / 2;

    if (atomic_load(&v->guest_mute) || atomic_load(&v->host_mute)) {
        memset(samples, 0, len);
        return;
    }
    if (l == 65536 && r == 65536)
        return;
    for (size_t i = 0; i < n; i++) {
        uint32_t g = (v->fmt.channels == 2 && (i & 1)) ? r : l;

        s[i] = (int16_t)(((int32_t)s[i] * (int64_t)g) >> 16);
    }
}

void audio_backend_free(struct audio_backend *b)
{
    if (b && b->ops->destroy)
        b->ops->destroy(b);
}

/* ---- backends paced by a clock: none and wav ---- */

uint64_t audio_frames_due(uint64_t *t0, uint64_t *moved, unsigned rate, uint64_t now)
{
    uint64_t due = (now - *t0) * rate / 1000000000ull - *moved;

    if (due > rate / 5) {
        /* The clock's thread was held up for more than 200 ms: do not
         * catch up, start again from now with 10 ms. */
        *t0 = now;
        *moved = 0;
        due = rate / 100;
    }
    return due;
}

#define CLOCK_VOICES 8
#define CLOCK_TICK_NS 10000000ull  /* 10 ms */

struct wav_out {
    int fd;                     /* -1: none */
    char *path;
    struct audio_format fmt;    /* of the file's header; rate 0 before the first start */
    uint64_t data_bytes;
    uint64_t last_header_ns;
    bool warned;
};

struct wav_in {
    uint8_t *data;              /* 16-bit samples of the whole file */
    size_t frames;
    struct audio_format fmt;
    size_t pos;                 /* next frame */
};

struct clock_voice {
    struct audio_voice *v;
    uint64_t t0;                /* when the voice started */
    uint64_t moved;             /* frames moved since t0 */
    bool draining;              /* stopped: plays what its ring still holds, then goes */
};

struct clock_backend {
    struct audio_backend b;
    pthread_mutex_t lock;       /* voices, wav state */
    pthread_cond_t cond;
    pthread_t thread;
    bool thread_started, quit;
    struct clock_voice voices[CLOCK_VOICES];
    unsigned nvoices;
    const struct audio_clock_sink *sink;    /* NULL: output is dropped, input silent */
    void *sink_opaque;
    char *start_warning;        /* said once, when the first voice starts */
    uint8_t scratch[65536];
};

struct wav_files {
    struct wav_out out;
    struct wav_in in;           /* data NULL: input is silence */
};

static void put_le16(uint8_t *p, uint16_t v) { p[0] = v; p[1] = v >> 8; }
static void put_le32(uint8_t *p, uint32_t v) { put_le16(p, v); put_le16(p + 2, v >> 16); }
static uint16_t le16(const uint8_t *p) { return p[0] | p[1] << 8; }
static uint32_t le32(const uint8_t *p) { return le16(p) | (uint32_t)le16(p + 2) << 16; }

static void wav_write_header(struct wav_out *w)
{
    uint8_t h[44];
    uint32_t data = w->data_bytes > 0xffffffffu - 36 ? 0xffffffffu - 36 : (uint32_t)w->data_bytes;
    unsigned fb = audio_frame_bytes(&w->fmt);

    memcpy(h, "RIFF", 4);
    put_le32(h + 4, 36 + data);
    memcpy(h + 8, "WAVEfmt ", 8);
    put_le32(h + 16, 16);
    put_le16(h + 20, 1);                        /* PCM */
    put_le16(h + 22, w->fmt.channels);
    put_le32(h + 24, w->fmt.rate);
    put_le32(h + 28, w->fmt.rate * fb);
    put_le16(h + 32, fb);
    put_le16(h + 34, 16);
    memcpy(h + 36, "data", 4);
    put_le32(h + 40, data);
    if (pwrite(w->fd, h, sizeof(h), 0) != (ssize_t)sizeof(h) && !w->warned) {
        w->warned = true;
        log_warn("audio: cannot write %s: %s", w->path, strerror(errno));
    }
}

static void wav_out_start(struct wav_out *w, const struct audio_format *fmt)
{
    if (w->fd < 0)
        return;
    if (w->fmt.rate && (w->fmt.rate != fmt->rate || w->fmt.channels != fmt->channels)) {
        /* One file has one format: a stream in another starts it afresh. */
        log_warn("audio: the guest's output changed from %u Hz %u ch to %u Hz %u ch; "
                 "%s starts again", w->fmt.rate, w->fmt.channels, fmt->rate, fmt->channels,
                 w->path);
        w->fmt.rate = 0;
    }
    if (!w->fmt.rate) {
        w->fmt = *fmt;
        w->data_bytes = 0;
        if (ftruncate(w->fd, 0) < 0 && !w->warned) {
            w->warned = true;
            log_warn("audio: cannot truncate %s: %s", w->path, strerror(errno));
        }
        wav_write_header(w);
    }
}

static void wav_out_write(struct wav_out *w, const void *data, size_t len, uint64_t now)
{
    if (w->fd < 0 || !w->fmt.rate)
        return;
    if (pwrite(w->fd, data, len, 44 + (off_t)w->data_bytes) != (ssize_t)len) {
        if (!w->warned) {
            w->warned = true;
            log_warn("audio: cannot write %s: %s", w->path, strerror(errno));
        }
        return;
    }
    w->data_bytes += len;
    if (now - w->last_header_ns >= 1000000000ull) {
        w->last_header_ns = now;
        wav_write_header(w);
    }
}

/* Fills n frames of fmt at out from the input file (looped, converted by
 * nearest sample), or silence. */
static void wav_in_read(struct wav_in *in, const struct audio_format *fmt, int16_t *out, size_t n)
{
    if (!in->data || !in->frames) {
        memset(out, 0, n * audio_frame_bytes(fmt));
        return;
    }
    for (size_t i = 0; i < n; i++) {
        /* pos counts frames at the stream's rate; the file's frame is the
         * nearest earlier one at its own rate. At the end it loops. */
        size_t src = (size_t)((uint64_t)in->pos * in->fmt.rate / fmt->rate);
        const uint8_t *f;
        int16_t l, r;

        if (src >= in->frames) {
            in->pos = 0;
            src = 0;
        }
        f = in->data + src * audio_frame_bytes(&in->fmt);
        l = (int16_t)le16(f);
        r = in->fmt.channels == 2 ? (int16_t)le16(f + 2) : l;
        if (fmt->channels == 2) {
            out[2 * i] = l;
            out[2 * i + 1] = r;
        } else {
            out[i] = (int16_t)(((int32_t)l + r) / 2);
        }
        in->pos++;
    }
}

static void clock_tick(struct clock_backend *cb, uint64_t now)
{
    struct audio_voice *kick[CLOCK_VOICES];
    unsigned nkick = 0;

    pthread_mutex_lock(&cb->lock);
    for (unsigned i = 0; i < cb->nvoices; i++) {
        struct clock_voice *cv = &cb->voices[i];
        struct audio_voice *v = cv->v;
        unsigned fb = audio_frame_bytes(&v->fmt);
        uint64_t due = audio_frames_due(&cv->t0, &cv->moved, v->fmt.rate, now);
        size_t max = sizeof(cb->scratch) / fb;

        while (due) {
            size_t n = due < max ? due : max, got;

            if (cv->draining) {
                got = audio_ring_read(&v->ring, cb->scratch, n * fb) / fb;
                audio_apply_volume(v, cb->scratch, got * fb);
                if (got && cb->sink && cb->sink->play)
                    cb->sink->play(cb->sink_opaque, v, cb->scratch, got * fb);
                atomic_fetch_add(&v->frames, got);
                if (got < n)
                    break;
            } else if (v->dir == AUDIO_OUT) {
                got = audio_ring_read(&v->ring, cb->scratch, n * fb) / fb;
                if (got < n) {
                    memset(cb->scratch + got * fb, 0, (n - got) * fb);
                    atomic_fetch_add(&v->underruns, 1);
                }
                audio_apply_volume(v, cb->scratch, n * fb);
                if (cb->sink && cb->sink->play)
                    cb->sink->play(cb->sink_opaque, v, cb->scratch, n * fb);
            } else {
                got = cb->sink && cb->sink->record
                          ? cb->sink->record(cb->sink_opaque, v, cb->scratch, n) : 0;
                if (got < n)
                    memset(cb->scratch + got * fb, 0, (n - got) * fb);
                audio_apply_volume(v, cb->scratch, n * fb);
                if (audio_ring_write(&v->ring, cb->scratch, n * fb) < n * fb)
                    atomic_fetch_add(&v->underruns, 1);
            }
            cv->moved += n;
            if (!cv->draining)
                atomic_fetch_add(&v->frames, n);
            due -= n;
        }
        if (cv->draining) {
            if (audio_ring_used(&v->ring) < fb) {
                if (cb->sink && cb->sink->stopped)
                    cb->sink->stopped(cb->sink_opaque, v);
                cb->voices[i--] = cb->voices[--cb->nvoices];
            }
            continue;
        }
        kick[nkick++] = v;
    }
    pthread_mutex_unlock(&cb->lock);
    for (unsigned i = 0; i < nkick; i++)
        audio_voice_kick(kick[i]);
}

static void *clock_thread(void *arg)
{
    struct clock_backend *cb = arg;
    struct timespec next;

    clock_gettime(CLOCK_MONOTONIC, &next);
    pthread_mutex_lock(&cb->lock);
    while (!cb->quit) {
        if (!cb->nvoices) {
            pthread_cond_wait(&cb->cond, &cb->lock);
            clock_gettime(CLOCK_MONOTONIC, &next);
            continue;
        }
        pthread_mutex_unlock(&cb->lock);
        next.tv_nsec += CLOCK_TICK_NS;
        if (next.tv_nsec >= 1000000000) {
            next.tv_nsec -= 1000000000;
            next.tv_sec++;
        }
        while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL) == EINTR)
            ;
        clock_tick(cb, clock_ns());
        pthread_mutex_lock(&cb->lock);
    }
    pthread_mutex_unlock(&cb->lock);
    return NULL;
}

static int clock_start(struct audio_backend *b, struct audio_voice *v)
{
    struct clock_backend *cb = b->priv;
    int r = 0;

    pthread_mutex_lock(&cb->lock);
    if (cb->nvoices == CLOCK_VOICES) {
        r = -ENOSPC;
    } else {
        cb->voices[cb->nvoices++] = (struct clock_voice){ v, clock_ns(), 0, false };
        if (cb->start_warning) {
            log_warn("%s", cb->start_warning);
            free(cb->start_warning);
            cb->start_warning = NULL;
        }
        if (cb->sink && cb->sink->started)
            cb->sink->started(cb->sink_opaque, v);
        pthread_cond_broadcast(&cb->cond);
    }
    pthread_mutex_unlock(&cb->lock);
    return r;
}

/* Takes v off the clock at once (lock held). */
static void clock_remove(struct clock_backend *cb, struct audio_voice *v)
{
    for (unsigned i = 0; i < cb->nvoices; i++) {
        if (cb->voices[i].v == v) {
            cb->voices[i] = cb->voices[--cb->nvoices];
            if (cb->sink && cb->sink->stopped)
                cb->sink->stopped(cb->sink_opaque, v);
            return;
        }
    }
}

/* An output's ring still holds what the guest played last (the DMA runs
 * ahead of the clock): it drains at the stream's pace, as a sound card's
 * FIFO would, before the voice goes. */
static void clock_stop(struct audio_backend *b, struct audio_voice *v)
{
    struct clock_backend *cb = b->priv;

    pthread_mutex_lock(&cb->lock);
    for (unsigned i = 0; i < cb->nvoices; i++) {
        if (cb->voices[i].v == v && v->dir == AUDIO_OUT &&
            audio_ring_used(&v->ring) >= audio_frame_bytes(&v->fmt)) {
            cb->voices[i].draining = true;
            pthread_mutex_unlock(&cb->lock);
            return;
        }
    }
    clock_remove(cb, v);
    pthread_mutex_unlock(&cb->lock);
}

static void clock_cancel(struct audio_backend *b, struct audio_voice *v)
{
    struct clock_backend *cb = b->priv;

    pthread_mutex_lock(&cb->lock);
    clock_remove(cb, v);
    pthread_mutex_unlock(&cb->lock);
}

static void clock_destroy(struct audio_backend *b)
{
    struct clock_backend *cb = b->priv;

    pthread_mutex_lock(&cb->lock);
    cb->quit = true;
    pthread_cond_broadcast(&cb->cond);
    pthread_mutex_unlock(&cb->lock);
    if (cb->thread_started)
        pthread_join(cb->thread, NULL);
    if (cb->sink && cb->sink->destroy)
        cb->sink->destroy(cb->sink_opaque);
    free(cb->start_warning);
    pthread_mutex_destroy(&cb->lock);
    pthread_cond_destroy(&cb->cond);
    free(cb);
}

static const struct audio_backend_ops clock_ops = {
    .start = clock_start,
    .stop = clock_stop,
    .cancel = clock_cancel,
    .destroy = clock_destroy,
};

static struct clock_backend *clock_new(const char *name, char *err, size_t errlen)
{
    struct clock_backend *cb = calloc(1, sizeof(*cb));
    pthread_attr_t attr;

    if (!cb) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    cb->b.name = name;
    cb->b.ops = &clock_ops;
    cb->b.priv = cb;
    atomic_store(&cb->b.connected, true);
    pthread_mutex_init(&cb->lock, NULL);
    pthread_cond_init(&cb->cond, NULL);
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 256 << 10);
    if (pthread_create(&cb->thread, &attr, clock_thread, cb) != 0) {
        pthread_attr_destroy(&attr);
        snprintf(err, errlen, "cannot start the audio clock thread");
        clock_destroy(&cb->b);
        return NULL;
    }
    pthread_attr_destroy(&attr);
    cb->thread_started = true;
    return cb;
}

struct audio_backend *audio_clock_new(const char *name, char *err, size_t errlen)
{
    struct clock_backend *cb = clock_new(name, err, errlen);

    return cb ? &cb->b : NULL;
}

void audio_clock_set_sink(struct audio_backend *b, const struct audio_clock_sink *sink,
                          void *opaque)
{
    struct clock_backend *cb = b->priv;

    pthread_mutex_lock(&cb->lock);
    cb->sink = sink;
    cb->sink_opaque = opaque;
    pthread_mutex_unlock(&cb->lock);
}

void audio_clock_warn_on_start(struct audio_backend *b, const char *warning)
{
    struct clock_backend *cb = b->priv;

    pthread_mutex_lock(&cb->lock);
    free(cb->start_warning);
    cb->start_warning = warning ? strdup(warning) : NULL;
    pthread_mutex_unlock(&cb->lock);
}

struct audio_backend *audio_none_new(char *err, size_t errlen)
{
    return audio_clock_new("none", err, errlen);
}

/* Reads a RIFF WAVE file of 16-bit PCM, mono or stereo, any rate. 0, or -1
 * with what is wrong with it in err. */
static int wav_load(const char *path, struct wav_in *in, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    uint8_t h[12], ch[8];
    bool have_fmt = false;

    if (!f) {
        snprintf(err, errlen, "cannot open '%s': %s", path, strerror(errno));
        return -1;
    }
    if (fread(h, 1, 12, f) != 12 || memcmp(h, "RIFF", 4) || memcmp(h + 8, "WAVE", 4)) {
        snprintf(err, errlen, "'%s' is not a RIFF WAVE file", path);
        goto fail;
    }
    while (fread(ch, 1, 8, f) == 8) {
        uint32_t len = le32(ch + 4);

        if (!memcmp(ch, "fmt ", 4)) {
            uint8_t fm[16];

            if (len < 16 || fread(fm, 1, 16, f) != 16) {
                snprintf(err, errlen, "'%s': its fmt chunk is truncated", path);
                goto fail;
            }
            if (le16(fm) != 1 || le16(fm + 14) != 16 || le16(fm + 2) < 1 || le16(fm + 2) > 2 ||
                le32(fm + 4) < 8000 || le32(fm + 4) > 192000) {
                snprintf(err, errlen, "'%s' is not 16-bit PCM, mono or stereo, 8 to 192 kHz "
                         "(format %u, %u bits, %u channels, %u Hz)", path, le16(fm),
                         le16(fm + 14), le16(fm + 2), le32(fm + 4));
                goto fail;
            }
            in->fmt = (struct audio_format){ le32(fm + 4), le16(fm + 2) };
            have_fmt = true;
            if (fseek(f, (long)(len - 16 + (len & 1)), SEEK_CUR) < 0)
                break;
        } else if (!memcmp(ch, "data", 4)) {
            size_t fb;

            if (!have_fmt) {
                snprintf(err, errlen, "'%s': its data chunk comes before its fmt chunk", path);
                goto fail;
            }
            fb = audio_frame_bytes(&in->fmt);
            if (len > (64u << 20))
                len = 64u << 20;            /* about six minutes of 48 kHz stereo */
            in->data = malloc(len ? len : 1);
            if (!in->data) {
                snprintf(err, errlen, "'%s': out of memory", path);
                goto fail;
            }
            len = (uint32_t)fread(in->data, 1, len, f);
            in->frames = len / fb;
            if (!in->frames) {
                snprintf(err, errlen, "'%s' holds no samples", path);
                goto fail;
            }
            fclose(f);
            return 0;
        } else if (fseek(f, (long)len + (len & 1), SEEK_CUR) < 0) {
            break;
        }
    }
    snprintf(err, errlen, "'%s' has no %s chunk", path, have_fmt ? "data" : "fmt");
fail:
    free(in->data);
    in->data = NULL;
    fclose(f);
    return -1;
}

static void wav_play(void *opaque, struct audio_voice *v, const void *samples, size_t len)
{
    struct wav_files *w = opaque;

    (void)v;
    wav_out_write(&w->out, samples, len, clock_ns());
}

static size_t wav_record(void *opaque, struct audio_voice *v, void *samples, size_t frames)
{
    struct wav_files *w = opaque;

    wav_in_read(&w->in, &v->fmt, samples, frames);
    return frames;
}

static void wav_started(void *opaque, struct audio_voice *v)
{
    struct wav_files *w = opaque;

    if (v->dir == AUDIO_OUT)
        wav_out_start(&w->out, &v->fmt);
}

static void wav_stopped(void *opaque, struct audio_voice *v)
{
    struct wav_files *w = opaque;

    if (v->dir == AUDIO_OUT && w->out.fd >= 0 && w->out.fmt.rate)
        wav_write_header(&w->out);
}

static void wav_destroy(void *opaque)
{
    struct wav_files *w = opaque;

    if (w->out.fd >= 0) {
        if (w->out.fmt.rate)
            wav_write_header(&w->out);
        close(w->out.fd);
    }
    free(w->out.path);
    free(w->in.data);
    free(w);
}

static const struct audio_clock_sink wav_sink = {
    .play = wav_play,
    .record = wav_record,
    .started = wav_started,
    .stopped = wav_stopped,
    .destroy = wav_destroy,
};

struct audio_backend *audio_wav_new(const char *spec, char *err, size_t errlen)
{
    char *s = strdup(spec ? spec : ""), *comma, *out = s, *inpath = NULL;
    struct clock_backend *cb;
    struct wav_files *w = NULL;
    char why[256];

    if (!s) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    comma = strchr(s, ',');
    if (comma) {
        *comma = '\0';
        if (strncmp(comma + 1, "in=", 3) || !comma[4]) {
            snprintf(err, errlen, "wav:%s: after the output file only 'in=FILE' may follow",
                     spec);
            goto fail;
        }
        inpath = comma + 4;
    }
    if (!*out) {
        snprintf(err, errlen, "wav: needs a file to write, as in wav:OUT.wav");
        goto fail;
    }
    w = calloc(1, sizeof(*w));
    if (!w) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    w->out.fd = -1;
    if (inpath && wav_load(inpath, &w->in, why, sizeof(why)) < 0) {
        snprintf(err, errlen, "wav input: %s", why);
        goto fail;
    }
    w->out.fd = open(out, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    if (w->out.fd < 0) {
        snprintf(err, errlen, "cannot write '%s': %s", out, strerror(errno));
        goto fail;
    }
    w->out.path = strdup(out);
    cb = clock_new("wav", err, errlen);
    if (!cb)
        goto fail;
    cb->sink = &wav_sink;
    cb->sink_opaque = w;
    free(s);
    return &cb->b;

fail:
    if (w)
        wav_destroy(w);
    free(s);
    return NULL;
}
