/* pcm-stats: what a 16-bit PCM WAV file holds, as one line of key=value
 * fields for check.py: a tone's frequency from its zero crossings, its
 * level, and the longest run of silence inside it (an underrun of the
 * device or the backend shows up as zeros in the middle of the tone), and
 * the first channel's samples where the tone begins and ends, so that a
 * lost beginning or end can be told.
 * Usage: pcm-stats FILE.wav
 * Static, like exit-port, so that L1 and L2 need no C library for it. */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Samples at or below this magnitude are not part of the tone when its
 * span is found (about -54 dBFS), and a crossing of zero counts only once
 * the signal has gone this far to the other side, so that noise around
 * zero does not count. */
#define LEVEL 64
#define MAX_CHANNELS 8

struct crossings {
    int side;               /* -1, 0 (not yet known), 1 */
    double last_zero;       /* where x last changed sign, in frames */
    double first, last;     /* first and last counted crossing */
    long count;
};

static uint32_t le32(const unsigned char *p)
{
    return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint16_t le16(const unsigned char *p)
{
    return p[0] | p[1] << 8;
}

static void crossing(struct crossings *c, long i, int prev, int x)
{
    /* Where the line between the two samples meets zero. */
    if ((prev < 0 && x >= 0) || (prev >= 0 && x < 0))
        c->last_zero = i - 1 + (double)prev / (prev - x);
    int side = x > LEVEL ? 1 : x < -LEVEL ? -1 : 0;
    if (!side || side == c->side)
        return;
    if (c->side) {
        if (!c->count)
            c->first = c->last_zero;
        c->last = c->last_zero;
        c->count++;
    }
    c->side = side;
}

static double frequency(const struct crossings *c, unsigned rate)
{
    if (c->count < 2 || c->last <= c->first)
        return 0;
    return (c->count - 1) / 2.0 / ((c->last - c->first) / rate);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: pcm-stats FILE.wav\n");
        return 2;
    }
    FILE *f = fopen(argv[1], "rb");
    if (!f) {
        printf("error=open:%s\n", strerror(errno));
        return 1;
    }
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    rewind(f);
    unsigned char *buf = malloc(size > 0 ? size : 1);
    if (!buf || fread(buf, 1, size, f) != (size_t)size) {
        printf("error=read bytes=%ld\n", size);
        return 1;
    }
    fclose(f);
    if (size < 12 || memcmp(buf, "RIFF", 4) || memcmp(buf + 8, "WAVE", 4)) {
        printf("error=not-wav bytes=%ld\n", size);
        return 1;
    }
    unsigned channels = 0, rate = 0, bits = 0, format = 0;
    long data = -1, data_len = 0, header_len = -1;
    for (long off = 12; off + 8 <= size;) {
        uint32_t len = le32(buf + off + 4);
        if (!memcmp(buf + off, "fmt ", 4) && off + 24 <= size) {
            format = le16(buf + off + 8);
            channels = le16(buf + off + 10);
            rate = le32(buf + off + 12);
            bits = le16(buf + off + 22);
        } else if (!memcmp(buf + off, "data", 4)) {
            data = off + 8;
            /* A writer that has not updated the header yet (it runs, or it
             * was killed) leaves a length that is short, zero or huge: the
             * file's end is what counts. */
            data_len = size - data;
            header_len = len;
            if (len && len < (uint64_t)data_len)
                data_len = len;
            break;
        }
        off += 8 + len + (len & 1);
    }
    if (data < 0 || format != 1 || bits != 16 || !channels || channels > MAX_CHANNELS || !rate) {
        printf("error=unsupported format=%u channels=%u rate=%u bits=%u data=%s\n",
               format, channels, rate, bits, data < 0 ? "none" : "yes");
        return 1;
    }
    const unsigned char *pcm = buf + data;
    long frames = data_len / (2 * channels);
#define SAMPLE(i, ch) ((int16_t)le16(pcm + 2 * ((i) * channels + (ch))))

    /* The tone's span: from the first to the last frame with a sample
     * above LEVEL on any channel. */
    long start = -1, end = -1;
    int peak = 0;
    for (long i = 0; i < frames; i++) {
        for (unsigned ch = 0; ch < channels; ch++) {
            int x = abs(SAMPLE(i, ch));
            if (x > peak)
                peak = x;
            if (x > LEVEL) {
                if (start < 0)
                    start = i;
                end = i;
            }
        }
    }
    if (start < 0) {
        printf("rate=%u channels=%u frames=%ld seconds=%.3f data_header=%ld data_file=%ld "
               "peak=%d silent=1\n", rate, channels, frames, (double)frames / rate, header_len,
               size - data, peak);
        return 0;
    }

    struct crossings cross[MAX_CHANNELS] = { 0 };
    double sum = 0;
    long zero_run = 0, longest_zero = 0, longest_at = 0, zero_runs_1ms = 0;
    int max_step = 0;
    for (long i = start; i <= end; i++) {
        int all_zero = 1;
        for (unsigned ch = 0; ch < channels; ch++) {
            int x = SAMPLE(i, ch);
            if (i > start) {
                int prev = SAMPLE(i - 1, ch);
                crossing(&cross[ch], i, prev, x);
                if (abs(x - prev) > max_step)
                    max_step = abs(x - prev);
            }
            sum += (double)x * x;
            all_zero &= x == 0;
        }
        if (all_zero) {
            zero_run++;
        } else {
            if (zero_run * 1000 >= rate)
                zero_runs_1ms++;
            zero_run = 0;
        }
        if (zero_run > longest_zero) {
            longest_zero = zero_run;
            longest_at = i - zero_run + 1;
        }
    }
    long span = end - start + 1;
    /* From the frame before the first loud one, to the one after the last. */
    char head[64], tail[64];
    int hn = 0, tn = 0;
    long from = start > 0 ? start - 1 : 0, to = end + 1 < frames ? end + 1 : end;
    for (long i = from; i < from + 4 && i < frames; i++)
        hn += snprintf(head + hn, sizeof(head) - hn, "%s%d", hn ? "," : "", SAMPLE(i, 0));
    for (long i = to - 3 < 0 ? 0 : to - 3; i <= to; i++)
        tn += snprintf(tail + tn, sizeof(tail) - tn, "%s%d", tn ? "," : "", SAMPLE(i, 0));
    printf("rate=%u channels=%u frames=%ld seconds=%.3f data_header=%ld data_file=%ld "
           "peak=%d start=%.3f end=%.3f span=%.3f "
           "rms=%.0f crossings=%ld freq=%.2f freq_last=%.2f longest_zero=%ld longest_zero_ms=%.2f "
           "longest_zero_at=%.3f zero_runs_1ms=%ld max_step=%d head=%s tail=%s\n",
           rate, channels, frames, (double)frames / rate, header_len, size - data, peak,
           (double)start / rate,
           (double)(end + 1) / rate, (double)span / rate, sqrt(sum / ((double)span * channels)),
           cross[0].count, frequency(&cross[0], rate), frequency(&cross[channels - 1], rate),
           longest_zero, longest_zero * 1000.0 / rate, (double)longest_at / rate,
           zero_runs_1ms, max_step, head, tail);
    free(buf);
    return 0;
}
