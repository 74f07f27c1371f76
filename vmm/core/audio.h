/* Audio voices (design.md, Audio): PCM between a sound device model and an
 * audio backend. A voice is one direction of one stream: the device model
 * fills its ring with the guest's samples (output) or takes the samples a
 * backend put there (input). The backend moves the ring's contents to or from
 * the host in a thread of its own, at the host's pace, and after each move
 * kicks the voice: audio.c's service thread then calls the voice's service
 * function, in which the device does its DMA and raises its interrupts. So
 * the sound card's clock is the backend's; no vCPU thread ever waits for a
 * sound server, and nothing in a device model includes a sound library's
 * header.
 *
 * Locks: the device calls start, stop and the volume functions with its own
 * lock held; a backend takes its own lock in them and never holds it while
 * the device's lock may be wanted. The service function is called with no
 * lock held and takes the device's; it may run once more after stop
 * returned, so it checks under that lock that its stream still runs.
 *
 * Backends: none (a clock that consumes and produces silence at the
 * stream's rate), wav (a file written and read at that rate), pulse
 * (libpulse, a module) and spice (spice-server's playback and record
 * channels, in the SPICE display module). */
#pragma once

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum audio_dir { AUDIO_OUT, AUDIO_IN };

/* Interleaved signed 16-bit little-endian samples: what every backend takes.
 * A device converts whatever else its guest programs. */
struct audio_format {
    unsigned rate;          /* frames per second, 8000..192000 */
    unsigned channels;      /* 1 or 2 */
};

static inline unsigned audio_frame_bytes(const struct audio_format *f)
{
    return f->channels * 2;
}

/* A single-producer single-consumer byte ring. For output the device
 * produces and the backend consumes; for input the reverse. size is a power
 * of two; head and tail run freely and wrap with the mask. */
struct audio_ring {
    uint8_t *buf;
    size_t size;
    _Atomic size_t head;    /* producer's: bytes written so far */
    _Atomic size_t tail;    /* consumer's: bytes read so far */
};

int audio_ring_init(struct audio_ring *r, size_t size);
void audio_ring_destroy(struct audio_ring *r);
size_t audio_ring_used(const struct audio_ring *r);
size_t audio_ring_free(const struct audio_ring *r);
/* Copy in or out up to len bytes; the number moved. */
size_t audio_ring_write(struct audio_ring *r, const void *data, size_t len);
size_t audio_ring_read(struct audio_ring *r, void *data, size_t len);
/* Drops everything (consumer side, or with both sides stopped). */
void audio_ring_clear(struct audio_ring *r);

struct audio_voice;
struct audio_backend;

/* Called by audio.c's service thread after a backend kicked the voice (it
 * took from an output ring or added to an input ring), and soon after
 * start: the device moves what it can between guest memory and the ring. */
typedef void (*audio_service_fn)(void *opaque);

struct audio_voice {
    struct audio_backend *backend;  /* borrowed */
    enum audio_dir dir;
    const char *name;               /* "hda.out", "hda.in" */
    struct audio_format fmt;        /* set while stopped */
    struct audio_ring ring;         /* about 100 ms at the stream's rate */
    audio_service_fn service;
    void *opaque;

    _Atomic bool active;            /* between start and stop */
    /* Volume from the guest's amplifiers and the host's mute (control
     * socket): 0..65536 per channel, applied by the backend or by
     * audio_apply_volume as the backend moves samples. */
    _Atomic uint32_t vol_left, vol_right;
    _Atomic bool guest_mute, host_mute;

    /* Counters for query-status and the benchmarks. */
    _Atomic uint64_t frames;        /* frames moved to or from the host */
    _Atomic uint64_t underruns;     /* output: the host wanted samples the ring lacked;
                                     * input: the ring was full and samples were dropped */
    void *priv;                     /* the backend's */

    /* audio.c's: the service thread's list and the kick flag. */
    struct audio_voice *next_voice;
    _Atomic bool kicked;
};

/* What a backend provides. Its thread (or its library's) moves samples at
 * the host's pace for every started voice and kicks it after each move. */
struct audio_backend_ops {
    /* The voice's format and ring are set; the backend opens its stream.
     * 0 or -errno. */
    int (*start)(struct audio_backend *b, struct audio_voice *v);
    /* The guest stopped the stream. An output's ring may still hold what
     * the guest played last: the backend plays it out at the stream's pace
     * (or hands it to the host at once) rather than dropping it, then
     * closes the stream. */
    void (*stop)(struct audio_backend *b, struct audio_voice *v);
    /* Optional: ends such a drain at once; after it the backend no longer
     * touches the voice's ring (called before the ring is made anew or
     * freed). */
    void (*cancel)(struct audio_backend *b, struct audio_voice *v);
    /* Volume or mute changed (optional: else the backend scales samples
     * with audio_apply_volume). */
    void (*volume_changed)(struct audio_backend *b, struct audio_voice *v);
    void (*destroy)(struct audio_backend *b);
};

struct audio_backend {
    const char *name;               /* "none", "wav", "pulse", "spice" */
    const struct audio_backend_ops *ops;
    void *priv;
    /* Whether the host end is there now (a sound server may go away and
     * come back); for query-status. */
    _Atomic bool connected;
};

/* Device side. */
void audio_voice_init(struct audio_voice *v, struct audio_backend *b, enum audio_dir dir,
                      const char *name, audio_service_fn service, void *opaque);
/* Opens the host stream at fmt with a ring of about ms milliseconds and
 * kicks the voice, so that the service thread soon fills an output ring.
 * 0 or -errno. */
int audio_voice_start(struct audio_voice *v, const struct audio_format *fmt, unsigned ms);
void audio_voice_stop(struct audio_voice *v);
void audio_voice_destroy(struct audio_voice *v);
void audio_voice_set_volume(struct audio_voice *v, uint32_t left, uint32_t right, bool mute);
void audio_voice_set_host_mute(struct audio_voice *v, bool mute);

/* Backend side: asks for the voice's service function to run soon, on the
 * service thread. Cheap and lock-free; call it after every move. */
void audio_voice_kick(struct audio_voice *v);
/* For a backend that paces a voice by a clock: the frames due at now (ns)
 * since *t0, less the *moved already moved (the caller adds what it
 * moves). After a stall of more than 200 ms it starts again from now
 * rather than catching up. */
uint64_t audio_frames_due(uint64_t *t0, uint64_t *moved, unsigned rate, uint64_t now);
/* Scales len bytes of samples in place by the voice's volume and mutes. */
void audio_apply_volume(const struct audio_voice *v, void *samples, size_t len);

/* A backend paced by a clock of its own (10 ms ticks at the stream's rate),
 * with a sink that takes its output and gives its input: none has no sink
 * (output dropped, input silent), wav has files, spice has spice-server's
 * playback and record channels. The sink's functions run on the clock's
 * thread with the backend's lock held; a sink may come or go while the
 * backend runs (audio_clock_set_sink). */
struct audio_clock_sink {
    /* len bytes of v's format, already scaled by its volume. */
    void (*play)(void *opaque, struct audio_voice *v, const void *samples, size_t len);
    /* Fills up to frames frames of v's format; the number filled (the rest
     * is silence). */
    size_t (*record)(void *opaque, struct audio_voice *v, void *samples, size_t frames);
    void (*started)(void *opaque, struct audio_voice *v);
    void (*stopped)(void *opaque, struct audio_voice *v);
    /* With the backend (optional). */
    void (*destroy)(void *opaque);
};
struct audio_backend *audio_clock_new(const char *name, char *err, size_t errlen);
void audio_clock_set_sink(struct audio_backend *b, const struct audio_clock_sink *sink,
                          void *opaque);

/* A warning the backend logs once, when the guest first starts a stream
 * (why its sound goes nowhere): a VM that never plays says nothing. */
void audio_clock_warn_on_start(struct audio_backend *b, const char *warning);

/* The built-in backends; NULL with a reason in err. */
struct audio_backend *audio_none_new(char *err, size_t errlen);
/* "wav:OUT.wav[,in=IN.wav]": output is written to OUT (created or
 * truncated at start, its header finished at stop and every second); input
 * reads IN's samples (16-bit PCM; looped), else silence. */
struct audio_backend *audio_wav_new(const char *spec, char *err, size_t errlen);
void audio_backend_free(struct audio_backend *b);
