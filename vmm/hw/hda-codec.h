/* The codec on nook-vmm's HD Audio link: one duplex codec at address 0 whose
 * node tree and answers are those of QEMU's hda-duplex (with its mixer), so
 * that a guest's driver sees the same card under both. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

/* Node IDs. */
#define HDA_NID_ROOT    0x00
#define HDA_NID_AFG     0x01    /* audio function group */
#define HDA_NID_DAC     0x02    /* audio output converter */
#define HDA_NID_LINEOUT 0x03    /* pin: line out, fed by the DAC */
#define HDA_NID_ADC     0x04    /* audio input converter */
#define HDA_NID_LINEIN  0x05    /* pin: line in, feeding the ADC */
#define HDA_CODEC_NODES 6

/* The two converters, by direction. */
enum hda_conv_dir { HDA_CONV_OUT, HDA_CONV_IN };

struct hda_converter {
    uint8_t stream;             /* stream tag 0..15 (0: not bound) */
    uint8_t channel;            /* lowest channel of the stream it takes */
    uint16_t format;            /* stream format, as SDnFMT */
    uint8_t gain[2];            /* amplifier steps, left and right */
    bool mute[2];
};

struct hda_codec {
    struct hda_converter conv[2];
    uint8_t pinctl[HDA_CODEC_NODES];
    uint8_t eapd[HDA_CODEC_NODES];
    uint8_t unsol[HDA_CODEC_NODES];
    uint8_t power[HDA_CODEC_NODES];     /* the state last set, D0..D3 */
    uint8_t connsel[HDA_CODEC_NODES];
    uint32_t config[HDA_CODEC_NODES];   /* pins' configuration default */
};

/* What a command changed, for the controller to act on. */
#define HDA_CODEC_CHANGED_STREAM (1u << 0)  /* a converter's stream, channel or format */
#define HDA_CODEC_CHANGED_VOLUME (1u << 1)  /* a converter's amplifier */

/* Power-on state (link reset). */
void hda_codec_reset(struct hda_codec *c);

/* Runs one command for node nid; verb is the command's low 20 bits (verb
 * and payload). Returns the response; every command to this codec has one
 * (0 for what it does not know, as QEMU's). Sets bits in *changed. */
uint32_t hda_codec_command(struct hda_codec *c, unsigned nid, uint32_t verb, unsigned *changed);

/* The converter's amplifier as audio voice volume: 0..65536 per side,
 * 65536 at 0 dB; muted when both sides are. */
void hda_codec_volume(const struct hda_codec *c, enum hda_conv_dir dir, uint32_t *left,
                      uint32_t *right, bool *mute);

/* Stream format (SDnFMT and the converter format) decoded; false for a
 * format nook-vmm cannot carry (non-PCM, reserved fields, rates outside
 * 8..192 kHz). */
struct hda_pcm_format {
    unsigned rate;
    unsigned bits;              /* 8, 16, 20, 24, 32 */
    unsigned channels;          /* 1..16 */
    unsigned frame_bytes;       /* in guest memory */
};
bool hda_format_decode(uint16_t fmt, struct hda_pcm_format *out);
