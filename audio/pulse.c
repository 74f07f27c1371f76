/* The PulseAudio backend (vmm/core/audio.h), in nook-audio-pulse.so: one
 * libpulse context on a threaded main loop, one playback or record stream
 * per started voice. The server's requests pace the voices: a playback
 * stream's write callback takes what the server asks for from the ring and
 * kicks the voice, so that the device refills it; a record stream's read
 * callback puts what the server recorded into the ring.
 *
 * Without a server (none at start, or it went away) the guest's streams go
 * on: a 10 ms timer on the same loop drains output rings and fills input
 * rings with silence at the stream's rate, and the context is made again
 * every two seconds. When the server is back, the started voices get their
 * streams again. Works the same against PipeWire's pulse server. */
#include "pulse.h"

#include <errno.h>
#include <pulse/pulseaudio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../vmm/core/audio.h"
#include "../vmm/core/log.h"

#define PULSE_VOICES 8
#define RECONNECT_USEC (2 * PA_USEC_PER_SEC)
#define CLOCK_USEC (10 * PA_USEC_PER_MSEC)
/* What the playback stream keeps queued at the server: low for latency,
 * high enough that a loaded host does not underrun. */
#define TARGET_LATENCY_USEC (30 * PA_USEC_PER_MSEC)

struct pulse_voice {
    struct audio_voice *v;
    pa_stream *stream;          /* NULL while there is no server */
    uint64_t clock_t0;          /* without a server: when the clock started */
    uint64_t clock_moved;       /* frames moved since clock_t0 */
    size_t pending;             /* bytes the server asked for that the ring lacked */
};

struct pulse {
    struct audio_backend b;
    char *name;
    pa_threaded_mainloop *loop;
    pa_context *ctx;
    pa_context *dead;           /* a failed context, freed outside its callbacks */
    pa_time_event *reconnect;
    pa_time_event *clock;
    pa_time_event *refill;      /* asks the rings again for what the server wanted */
    bool ready;                 /* ctx is READY */
    bool warned;                /* "no server" said (or not to be said: a probe) */
    bool lost;                  /* ready once, then no server */
    struct pulse_voice voices[PULSE_VOICES];
    uint8_t scratch[65536];
};

static void connect_context(struct pulse *p);
static void open_stream(struct pulse *p, struct pulse_voice *pv);

static struct pulse_voice *find_voice(struct pulse *p, struct audio_voice *v)
{
    for (unsigned i = 0; i < PULSE_VOICES; i++)
        if (p->voices[i].v == v)
            return &p->voices[i];
    return NULL;
}

static pa_usec_t now_usec(void)
{
    return pa_rtclock_now();
}

static void restart_timer(struct pulse *p, pa_time_event *e, pa_usec_t usec)
{
    struct timeval tv;

    pa_timeval_add(pa_gettimeofday(&tv), usec);
    pa_threaded_mainloop_get_api(p->loop)->time_restart(e, &tv);
}

static void wake_cb(pa_mainloop_api *api, pa_time_event *e, const struct timeval *tv, void *opaque)
{
    struct pulse *p = opaque;

    (void)api;
    (void)e;
    (void)tv;
    pa_threaded_mainloop_signal(p->loop, 0);
}

/* ---- playback and record ---- */

static void write_cb(pa_stream *s, size_t nbytes, void *opaque)
{
    struct pulse_voice *pv = opaque;
    struct pulse *p = pv->v->backend->priv;
    struct audio_voice *v = pv->v;
    unsigned fb = audio_frame_bytes(&v->fmt);

    pv->pending = 0;
    while (nbytes >= fb) {
        void *buf;
        size_t want = nbytes, got;

        if (pa_stream_begin_write(s, &buf, &want) < 0 || !buf)
            break;
        want -= want % fb;
        if (!want) {
            pa_stream_cancel_write(s);
            break;
        }
        got = audio_ring_read(&v->ring, buf, want);
        got -= got % fb;
        if (!got) {
            /* Nothing from the guest yet. The server asks only for room it
             * has not been given: ask the ring again in 2 ms, after the
             * device had its turn (underflow_cb counts a server that ran
             * dry meanwhile). */
            pa_stream_cancel_write(s);
            pv->pending = nbytes;
            restart_timer(p, p->refill, 2 * PA_USEC_PER_MSEC);
            break;
        }
        audio_apply_volume(v, buf, got);
        if (pa_stream_write(s, buf, got, NULL, 0, PA_SEEK_RELATIVE) < 0)
            break;
        atomic_fetch_add(&v->frames, got / fb);
        nbytes -= got;
    }
    audio_voice_kick(v);
}

static void read_cb(pa_stream *s, size_t nbytes, void *opaque)
{
    struct pulse_voice *pv = opaque;
    struct audio_voice *v = pv->v;
    unsigned fb = audio_frame_bytes(&v->fmt);

    (void)nbytes;
    for (;;) {
        const void *data;
        size_t len;

        if (pa_stream_peek(s, &data, &len) < 0 || len == 0)
            break;
        if (data) {
            /* The ring holds whole frames: only whole ones go in. */
            size_t room = audio_ring_free(&v->ring);
            size_t n = len < room ? len : room;

            n -= n % fb;
            if (n) {
                struct pulse *p = v->backend->priv;
                size_t chunk = n < sizeof(p->scratch) ? n : sizeof(p->scratch);

                for (size_t off = 0; off < n; off += chunk) {
                    size_t c = n - off < chunk ? n - off : chunk;

                    memcpy(p->scratch, (const uint8_t *)data + off, c);
                    audio_apply_volume(v, p->scratch, c);
                    audio_ring_write(&v->ring, p->scratch, c);
                }
            }
            if (n < len)
                atomic_fetch_add(&v->underruns, 1);
            atomic_fetch_add(&v->frames, n / fb);
        }
        pa_stream_drop(s);
    }
    audio_voice_kick(v);
}

static void underflow_cb(pa_stream *s, void *opaque)
{
    struct pulse_voice *pv = opaque;

    (void)s;
    atomic_fetch_add(&pv->v->underruns, 1);
}

static void stream_state_cb(pa_stream *s, void *opaque)
{
    struct pulse_voice *pv = opaque;

    if (pa_stream_get_state(s) == PA_STREAM_FAILED)
        log_warn("audio: PulseAudio refused the %s stream: %s", pv->v->name,
                 pa_strerror(pa_context_errno(pa_stream_get_context(s))));
}

static void close_stream(struct pulse_voice *pv)
{
    if (!pv->stream)
        return;
    pa_stream_set_write_callback(pv->stream, NULL, NULL);
    pa_stream_set_read_callback(pv->stream, NULL, NULL);
    pa_stream_set_underflow_callback(pv->stream, NULL, NULL);
    pa_stream_set_state_callback(pv->stream, NULL, NULL);
    pa_stream_disconnect(pv->stream);
    pa_stream_unref(pv->stream);
    pv->stream = NULL;
}

static void open_stream(struct pulse *p, struct pulse_voice *pv)
{
    struct audio_voice *v = pv->v;
    pa_sample_spec ss = { PA_SAMPLE_S16LE, v->fmt.rate, (uint8_t)v->fmt.channels };
    size_t fb = audio_frame_bytes(&v->fmt);
    uint32_t period = (uint32_t)(pa_usec_to_bytes(10 * PA_USEC_PER_MSEC, &ss) / fb * fb);
    pa_buffer_attr attr = {
        .maxlength = (uint32_t)-1,
        .tlength = (uint32_t)(pa_usec_to_bytes(TARGET_LATENCY_USEC, &ss) / fb * fb),
        .prebuf = period,       /* start as soon as 10 ms are queued */
        .minreq = period,
        .fragsize = period,
    };
    pa_stream_flags_t flags = PA_STREAM_ADJUST_LATENCY | PA_STREAM_AUTO_TIMING_UPDATE |
                              PA_STREAM_INTERPOLATE_TIMING;
    char sname[64];
    int r;

    snprintf(sname, sizeof(sname), "%s (%s)", p->name, v->dir == AUDIO_OUT ? "output" : "input");
    pv->stream = pa_stream_new(p->ctx, sname, &ss, NULL);
    if (!pv->stream) {
        log_warn("audio: cannot make a PulseAudio stream: %s", pa_strerror(pa_context_errno(p->ctx)));
        return;
    }
    pa_stream_set_state_callback(pv->stream, stream_state_cb, pv);
    if (v->dir == AUDIO_OUT) {
        pa_stream_set_write_callback(pv->stream, write_cb, pv);
        pa_stream_set_underflow_callback(pv->stream, underflow_cb, pv);
        r = pa_stream_connect_playback(pv->stream, NULL, &attr, flags, NULL, NULL);
    } else {
        pa_stream_set_read_callback(pv->stream, read_cb, pv);
        r = pa_stream_connect_record(pv->stream, NULL, &attr, flags);
    }
    if (r < 0) {
        log_warn("audio: cannot connect the %s stream: %s", v->name,
                 pa_strerror(pa_context_errno(p->ctx)));
        close_stream(pv);
    }
}

static void refill_cb(pa_mainloop_api *api, pa_time_event *e, const struct timeval *tv, void *opaque)
{
    struct pulse *p = opaque;

    (void)api;
    (void)e;
    (void)tv;
    for (unsigned i = 0; i < PULSE_VOICES; i++) {
        struct pulse_voice *pv = &p->voices[i];

        if (pv->v && pv->stream && pv->pending &&
            pa_stream_get_state(pv->stream) == PA_STREAM_READY)
            write_cb(pv->stream, pv->pending, pv);
    }
}

/* ---- without a server: a clock ---- */

static void clock_cb(pa_mainloop_api *api, pa_time_event *e, const struct timeval *tv, void *opaque)
{
    struct pulse *p = opaque;
    uint64_t now = clock_ns();
    bool any = false;

    (void)api;
    (void)tv;
    for (unsigned i = 0; i < PULSE_VOICES; i++) {
        struct pulse_voice *pv = &p->voices[i];
        struct audio_voice *v = pv->v;
        unsigned fb;
        uint64_t due;

        if (!v || pv->stream)
            continue;
        any = true;
        fb = audio_frame_bytes(&v->fmt);
        due = audio_frames_due(&pv->clock_t0, &pv->clock_moved, v->fmt.rate, now);
        pv->clock_moved += due;
        while (due) {
            size_t n = due < sizeof(p->scratch) / fb ? due : sizeof(p->scratch) / fb;

            if (v->dir == AUDIO_OUT) {
                audio_ring_read(&v->ring, p->scratch, n * fb);
            } else {
                memset(p->scratch, 0, n * fb);
                audio_ring_write(&v->ring, p->scratch, n * fb);
            }
            due -= n;
        }
        audio_voice_kick(v);
    }
    if (any)
        restart_timer(p, e, CLOCK_USEC);
}

static void start_clock(struct pulse *p)
{
    restart_timer(p, p->clock, CLOCK_USEC);
}

/* ---- the context ---- */

static void free_dead(struct pulse *p)
{
    if (p->dead) {
        pa_context_disconnect(p->dead);
        pa_context_unref(p->dead);
        p->dead = NULL;
    }
}

static void reconnect_cb(pa_mainloop_api *api, pa_time_event *e, const struct timeval *tv, void *opaque)
{
    struct pulse *p = opaque;

    (void)api;
    (void)e;
    (void)tv;
    free_dead(p);
    if (!p->ctx)
        connect_context(p);
}

static void context_state_cb(pa_context *c, void *opaque)
{
    struct pulse *p = opaque;

    switch (pa_context_get_state(c)) {
    case PA_CONTEXT_READY:
        p->ready = true;
        atomic_store(&p->b.connected, true);
        if (p->lost)
            log_info("audio: PulseAudio answers again; sound resumes");
        p->warned = p->lost = false;
        for (unsigned i = 0; i < PULSE_VOICES; i++)
            if (p->voices[i].v && !p->voices[i].stream)
                open_stream(p, &p->voices[i]);
        pa_threaded_mainloop_signal(p->loop, 0);
        break;
    case PA_CONTEXT_FAILED:
    case PA_CONTEXT_TERMINATED:
        if (!p->warned)
            log_warn("audio: %s; the guest's sound goes nowhere until a PulseAudio server "
                     "answers (tried again every %u s)",
                     p->ready ? "the PulseAudio server went away" : "no PulseAudio server answers",
                     (unsigned)(RECONNECT_USEC / PA_USEC_PER_SEC));
        p->warned = true;
        p->lost = true;
        p->ready = false;
        atomic_store(&p->b.connected, false);
        for (unsigned i = 0; i < PULSE_VOICES; i++) {
            if (p->voices[i].v) {
                close_stream(&p->voices[i]);
                p->voices[i].clock_t0 = clock_ns();
                p->voices[i].clock_moved = 0;
            }
        }
        /* libpulse may be inside pa_context_connect: free it later. */
        pa_context_set_state_callback(c, NULL, NULL);
        p->dead = c;
        p->ctx = NULL;
        start_clock(p);
        restart_timer(p, p->reconnect, RECONNECT_USEC);
        pa_threaded_mainloop_signal(p->loop, 0);
        break;
    default:
        break;
    }
}

static void connect_context(struct pulse *p)
{
    pa_proplist *props = pa_proplist_new();

    pa_proplist_sets(props, PA_PROP_APPLICATION_NAME, "Nook");
    pa_proplist_sets(props, PA_PROP_APPLICATION_ID, "org.nook.Nook");
    pa_proplist_sets(props, PA_PROP_MEDIA_ROLE, "game");
    p->ctx = pa_context_new_with_proplist(pa_threaded_mainloop_get_api(p->loop), p->name, props);
    pa_proplist_free(props);
    if (!p->ctx) {
        restart_timer(p, p->reconnect, RECONNECT_USEC);
        return;
    }
    pa_context_set_state_callback(p->ctx, context_state_cb, p);
    if (pa_context_connect(p->ctx, NULL, PA_CONTEXT_NOAUTOSPAWN, NULL) < 0 && p->ctx) {
        /* Refused before any state change: fail it as the callback would. */
        pa_context_set_state_callback(p->ctx, NULL, NULL);
        p->dead = p->ctx;
        p->ctx = NULL;
        if (!p->warned)
            log_warn("audio: no PulseAudio server answers; the guest's sound goes nowhere "
                     "until one does (tried again every %u s)",
                     (unsigned)(RECONNECT_USEC / PA_USEC_PER_SEC));
        p->warned = true;
        start_clock(p);
        restart_timer(p, p->reconnect, RECONNECT_USEC);
    }
}

/* ---- audio_backend_ops ---- */

static int pulse_start(struct audio_backend *b, struct audio_voice *v)
{
    struct pulse *p = b->priv;
    struct pulse_voice *pv;

    pa_threaded_mainloop_lock(p->loop);
    pv = find_voice(p, NULL);
    if (!pv) {
        pa_threaded_mainloop_unlock(p->loop);
        return -ENOSPC;
    }
    *pv = (struct pulse_voice){ .v = v, .clock_t0 = clock_ns() };
    if (p->ready)
        open_stream(p, pv);
    else
        start_clock(p);
    pa_threaded_mainloop_unlock(p->loop);
    return 0;
}

static void drained_cb(pa_stream *s, int success, void *opaque)
{
    (void)success;
    (void)opaque;
    pa_stream_disconnect(s);
    pa_stream_unref(s);
}

/* What the guest played last is still in the ring (the DMA runs ahead of
 * the server): it goes to the server now, and the stream is closed once the
 * server has played it. */
static void pulse_stop(struct audio_backend *b, struct audio_voice *v)
{
    struct pulse *p = b->priv;
    struct pulse_voice *pv;

    pa_threaded_mainloop_lock(p->loop);
    pv = find_voice(p, v);
    if (pv && pv->stream && v->dir == AUDIO_OUT &&
        pa_stream_get_state(pv->stream) == PA_STREAM_READY) {
        unsigned fb = audio_frame_bytes(&v->fmt);
        size_t got, sz = sizeof(p->scratch) / fb * fb;
        pa_stream *s = pv->stream;
        pa_operation *op;

        while ((got = audio_ring_read(&v->ring, p->scratch, sz)) >= fb) {
            got -= got % fb;
            audio_apply_volume(v, p->scratch, got);
            if (pa_stream_write(s, p->scratch, got, NULL, 0, PA_SEEK_RELATIVE) < 0)
                break;
        }
        pa_stream_set_write_callback(s, NULL, NULL);
        pa_stream_set_underflow_callback(s, NULL, NULL);
        pa_stream_set_state_callback(s, NULL, NULL);
        op = pa_stream_drain(s, drained_cb, NULL);
        if (op) {
            pa_operation_unref(op);
            pv->stream = NULL;      /* drained_cb closes it */
        }
    }
    if (pv) {
        close_stream(pv);
        pv->v = NULL;
    }
    pa_threaded_mainloop_unlock(p->loop);
}

static void pulse_destroy(struct audio_backend *b)
{
    struct pulse *p = b->priv;
    pa_mainloop_api *api;

    pa_threaded_mainloop_lock(p->loop);
    for (unsigned i = 0; i < PULSE_VOICES; i++) {
        close_stream(&p->voices[i]);
        p->voices[i].v = NULL;
    }
    if (p->ctx) {
        pa_context_set_state_callback(p->ctx, NULL, NULL);
        pa_context_disconnect(p->ctx);
        pa_context_unref(p->ctx);
        p->ctx = NULL;
    }
    free_dead(p);
    api = pa_threaded_mainloop_get_api(p->loop);
    api->time_free(p->clock);
    api->time_free(p->reconnect);
    api->time_free(p->refill);
    pa_threaded_mainloop_unlock(p->loop);
    pa_threaded_mainloop_stop(p->loop);
    pa_threaded_mainloop_free(p->loop);
    free(p->name);
    free(p);
}

static const struct audio_backend_ops pulse_ops = {
    .start = pulse_start,
    .stop = pulse_stop,
    .destroy = pulse_destroy,
};

struct audio_backend *pulse_audio_new(const char *name, bool probe, char *err, size_t errlen)
{
    struct pulse *p = calloc(1, sizeof(*p));
    pa_mainloop_api *api;
    pa_time_event *wake;
    pa_usec_t deadline;

    if (!p) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    p->b.name = "pulse";
    p->b.ops = &pulse_ops;
    p->b.priv = p;
    p->name = strdup(name ? name : "nook-vmm");
    p->loop = pa_threaded_mainloop_new();
    if (!p->loop || !p->name) {
        snprintf(err, errlen, "cannot make PulseAudio's main loop");
        free(p->name);
        if (p->loop)
            pa_threaded_mainloop_free(p->loop);
        free(p);
        return NULL;
    }
    pa_threaded_mainloop_set_name(p->loop, "pulse");
    api = pa_threaded_mainloop_get_api(p->loop);
    p->clock = api->time_new(api, NULL, clock_cb, p);
    p->reconnect = api->time_new(api, NULL, reconnect_cb, p);
    p->refill = api->time_new(api, NULL, refill_cb, p);
    if (pa_threaded_mainloop_start(p->loop) < 0) {
        snprintf(err, errlen, "cannot start PulseAudio's main loop");
        pulse_destroy(&p->b);
        return NULL;
    }
    pa_threaded_mainloop_lock(p->loop);
    /* A probe (the default backend) says only whether a server answers
     * now; warn once ourselves rather than through the context's. */
    p->warned = probe;
    connect_context(p);
    deadline = now_usec() + PA_USEC_PER_SEC;
    wake = api->time_new(api, NULL, wake_cb, p);
    restart_timer(p, wake, PA_USEC_PER_SEC);
    while (p->ctx && !p->ready && now_usec() < deadline)
        pa_threaded_mainloop_wait(p->loop);
    api->time_free(wake);
    pa_threaded_mainloop_unlock(p->loop);
    if (probe && !p->ready) {
        snprintf(err, errlen, "no PulseAudio server answers");
        pulse_destroy(&p->b);
        return NULL;
    }
    return &p->b;
}
