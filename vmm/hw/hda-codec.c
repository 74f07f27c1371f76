/* The duplex HD Audio codec (hda-codec.h): a root node, an audio function
 * group, an output converter feeding a line-out pin and an input converter
 * fed by a line-in pin, with volume and mute on both converters. The values
 * of every parameter are the ones QEMU's hda-duplex reports with its mixer
 * on, read from what QEMU 7.2 answers a guest. */
#include "hda-codec.h"

#include <string.h>

/* Verbs with a 12-bit identifier and 8-bit payload... */
#define VERB_GET_PARAMETER   0xf00
#define VERB_GET_CONN_SELECT 0xf01
#define VERB_GET_CONN_LIST   0xf02
#define VERB_GET_POWER       0xf05
#define VERB_GET_CONV        0xf06
#define VERB_GET_PINCTL      0xf07
#define VERB_GET_UNSOL       0xf08
#define VERB_GET_PIN_SENSE   0xf09
#define VERB_GET_EAPD        0xf0c
#define VERB_GET_CONFIG      0xf1c
#define VERB_GET_SUBSYSTEM   0xf20
#define VERB_SET_CONN_SELECT 0x701
#define VERB_SET_POWER       0x705
#define VERB_SET_CONV        0x706
#define VERB_SET_PINCTL      0x707
#define VERB_SET_UNSOL       0x708
#define VERB_SET_EAPD        0x70c
#define VERB_SET_CONFIG_0    0x71c
#define VERB_SET_CONFIG_3    0x71f
#define VERB_FUNCTION_RESET  0x7ff
/* ...and with a 4-bit identifier and 16-bit payload (shifted to 12 bits). */
#define VERB_SET_FORMAT      0x200
#define VERB_SET_AMP         0x300
#define VERB_GET_FORMAT      0xa00
#define VERB_GET_AMP         0xb00

/* Parameters. */
#define PAR_VENDOR_ID     0x00
#define PAR_SUBSYSTEM_ID  0x01
#define PAR_REVISION      0x02
#define PAR_NODE_COUNT    0x04
#define PAR_FG_TYPE       0x05
#define PAR_AFG_CAPS      0x08
#define PAR_WIDGET_CAPS   0x09
#define PAR_PCM           0x0a
#define PAR_STREAM_FMTS   0x0b
#define PAR_PIN_CAPS      0x0c
#define PAR_AMP_IN_CAPS   0x0d
#define PAR_CONN_LIST_LEN 0x0e
#define PAR_POWER_STATES  0x0f
#define PAR_PROC_CAPS     0x10
#define PAR_GPIO_CAPS     0x11
#define PAR_AMP_OUT_CAPS  0x12
#define PAR_VOLUME_KNOB   0x13

#define CODEC_ID      0x1af40022u   /* QEMU's vendor, hda-duplex with mixer */
#define CODEC_REV     0x00100101u
#define PCM_CAPS      0x000201fcu   /* 16 bit; 16, 22.05, 32, 44.1, 48, 88.2, 96 kHz */
#define STREAM_PCM    0x00000001u
#define AMP_STEPS     0x4a          /* 1 dB each; the last is 0 dB */
/* Mute, step size 1 dB ((3 + 1) / 4), 0x4a steps, 0 dB at step 0x4a. */
#define AMP_CAPS      (1u << 31 | 3u << 16 | (uint32_t)AMP_STEPS << 8 | AMP_STEPS)

/* Widget capabilities: type in 23:20. */
#define WCAP_STEREO     (1u << 0)
#define WCAP_IN_AMP     (1u << 1)
#define WCAP_OUT_AMP    (1u << 2)
#define WCAP_AMP_OVRD   (1u << 3)
#define WCAP_FORMAT_OVRD (1u << 4)
#define WCAP_CONN_LIST  (1u << 8)
#define WCAP_TYPE(t)    ((uint32_t)(t) << 20)
#define WTYPE_OUT 0
#define WTYPE_IN  1
#define WTYPE_PIN 4

#define PINCAP_OUT (1u << 4)
#define PINCAP_IN  (1u << 5)
#define PINCTL_OUT_EN 0x40
#define PINCTL_IN_EN  0x20

/* Line out: jack, green, association 1; line in: jack, red, association 2. */
#define CONFIG_LINEOUT 0x00004010u
#define CONFIG_LINEIN  0x00805020u

/* 65536 * 10^((step - 0x4a) / 20): the gain of each amplifier step. */
static const uint32_t step_volume[AMP_STEPS + 1] = {
    13, 15, 16, 18, 21, 23, 26, 29, 33, 37,
    41, 46, 52, 58, 66, 74, 83, 93, 104, 117,
    131, 147, 165, 185, 207, 233, 261, 293, 328, 369,
    414, 464, 521, 584, 655, 735, 825, 926, 1039, 1165,
    1308, 1467, 1646, 1847, 2072, 2325, 2609, 2927, 3285, 3685,
    4135, 4640, 5206, 5841, 6554, 7353, 8250, 9257, 10387, 11654,
    13076, 14672, 16462, 18471, 20724, 23253, 26090, 29274, 32846, 36854,
    41350, 46396, 52057, 58409, 65536,
};

static uint32_t widget_caps(unsigned nid)
{
    switch (nid) {
    case HDA_NID_DAC:
        return WCAP_TYPE(WTYPE_OUT) | WCAP_FORMAT_OVRD | WCAP_AMP_OVRD | WCAP_OUT_AMP |
               WCAP_STEREO;
    case HDA_NID_LINEOUT:
        return WCAP_TYPE(WTYPE_PIN) | WCAP_CONN_LIST | WCAP_STEREO;
    case HDA_NID_ADC:
        return WCAP_TYPE(WTYPE_IN) | WCAP_CONN_LIST | WCAP_FORMAT_OVRD | WCAP_AMP_OVRD |
               WCAP_IN_AMP | WCAP_STEREO;
    case HDA_NID_LINEIN:
        return WCAP_TYPE(WTYPE_PIN) | WCAP_STEREO;
    default:
        return 0;
    }
}

/* The one node each connection list names. */
static unsigned connection(unsigned nid)
{
    return nid == HDA_NID_LINEOUT ? HDA_NID_DAC : nid == HDA_NID_ADC ? HDA_NID_LINEIN : 0;
}

static bool is_pin(unsigned nid)
{
    return nid == HDA_NID_LINEOUT || nid == HDA_NID_LINEIN;
}

static bool is_widget(unsigned nid)
{
    return nid >= HDA_NID_DAC && nid < HDA_CODEC_NODES;
}

static struct hda_converter *converter(struct hda_codec *c, unsigned nid)
{
    return nid == HDA_NID_DAC ? &c->conv[HDA_CONV_OUT]
         : nid == HDA_NID_ADC ? &c->conv[HDA_CONV_IN] : NULL;
}

static uint32_t parameter(unsigned nid, unsigned p)
{
    switch (nid) {
    case HDA_NID_ROOT:
        switch (p) {
        case PAR_VENDOR_ID: return CODEC_ID;
        case PAR_SUBSYSTEM_ID: return CODEC_ID;
        case PAR_REVISION: return CODEC_REV;
        case PAR_NODE_COUNT: return HDA_NID_AFG << 16 | 1;
        }
        return 0;
    case HDA_NID_AFG:
        switch (p) {
        case PAR_SUBSYSTEM_ID: return CODEC_ID;
        case PAR_NODE_COUNT: return HDA_NID_DAC << 16 | (HDA_CODEC_NODES - HDA_NID_DAC);
        case PAR_FG_TYPE: return 0x01;              /* audio */
        case PAR_AFG_CAPS: return 0x00000808;       /* 8 samples of delay each way */
        case PAR_PCM: return PCM_CAPS;
        case PAR_STREAM_FMTS: return STREAM_PCM;
        }
        return 0;   /* no amplifiers, power states, GPIOs or volume knob here */
    case HDA_NID_DAC:
    case HDA_NID_ADC:
        switch (p) {
        case PAR_WIDGET_CAPS: return widget_caps(nid);
        case PAR_PCM: return PCM_CAPS;
        case PAR_STREAM_FMTS: return STREAM_PCM;
        case PAR_AMP_OUT_CAPS: return nid == HDA_NID_DAC ? AMP_CAPS : 0;
        case PAR_AMP_IN_CAPS: return nid == HDA_NID_ADC ? AMP_CAPS : 0;
        case PAR_CONN_LIST_LEN: return nid == HDA_NID_ADC ? 1 : 0;
        }
        return 0;
    case HDA_NID_LINEOUT:
    case HDA_NID_LINEIN:
        switch (p) {
        case PAR_WIDGET_CAPS: return widget_caps(nid);
        case PAR_PIN_CAPS: return nid == HDA_NID_LINEOUT ? PINCAP_OUT : PINCAP_IN;
        case PAR_CONN_LIST_LEN: return nid == HDA_NID_LINEOUT ? 1 : 0;
        }
        return 0;
    default:
        return 0;
    }
}

static void widgets_reset(struct hda_codec *c)
{
    memset(c->conv, 0, sizeof(c->conv));
    for (unsigned i = 0; i < 2; i++) {
        /* 48 kHz, 16 bit, stereo. */
        c->conv[i].format = 0x0011;
    }
    /* The output starts at 0 dB and unmuted, the input at its lowest
     * step: what hda-duplex does. */
    c->conv[HDA_CONV_OUT].gain[0] = AMP_STEPS;
    c->conv[HDA_CONV_OUT].gain[1] = AMP_STEPS;
    memset(c->pinctl, 0, sizeof(c->pinctl));
    c->pinctl[HDA_NID_LINEOUT] = PINCTL_OUT_EN;
    c->pinctl[HDA_NID_LINEIN] = PINCTL_IN_EN;
    memset(c->eapd, 0, sizeof(c->eapd));
    memset(c->unsol, 0, sizeof(c->unsol));
    memset(c->power, 0, sizeof(c->power));
    memset(c->connsel, 0, sizeof(c->connsel));
}

void hda_codec_reset(struct hda_codec *c)
{
    widgets_reset(c);
    memset(c->config, 0, sizeof(c->config));
    c->config[HDA_NID_LINEOUT] = CONFIG_LINEOUT;
    c->config[HDA_NID_LINEIN] = CONFIG_LINEIN;
}

/* GET_AMP_GAIN_MUTE's payload: bit 15 output, bit 13 left, 3:0 index. */
static uint32_t get_amp(struct hda_codec *c, unsigned nid, unsigned payload)
{
    struct hda_converter *cv = converter(c, nid);
    bool output = payload & 0x8000;
    unsigned side = payload & 0x2000 ? 0 : 1;

    if (!cv || (payload & 0xf) != 0 || output != (nid == HDA_NID_DAC))
        return 0;
    return cv->gain[side] | (cv->mute[side] ? 0x80 : 0);
}

/* SET_AMP_GAIN_MUTE's payload: bit 15 output, 14 input, 13 left, 12 right,
 * 11:8 index, 7 mute, 6:0 gain. */
static void set_amp(struct hda_codec *c, unsigned nid, unsigned payload, unsigned *changed)
{
    struct hda_converter *cv = converter(c, nid);
    bool which = nid == HDA_NID_DAC ? payload & 0x8000 : payload & 0x4000;
    unsigned gain = payload & 0x7f;

    if (!cv || !which || ((payload >> 8) & 0xf) != 0)
        return;
    if (gain > AMP_STEPS)
        gain = AMP_STEPS;
    for (unsigned side = 0; side < 2; side++) {
        if (!(payload & (side == 0 ? 0x2000 : 0x1000)))
            continue;
        cv->gain[side] = (uint8_t)gain;
        cv->mute[side] = payload & 0x80;
    }
    *changed |= HDA_CODEC_CHANGED_VOLUME;
}

uint32_t hda_codec_command(struct hda_codec *c, unsigned nid, uint32_t verb, unsigned *changed)
{
    struct hda_converter *cv = converter(c, nid);
    unsigned id, payload;

    if (((verb >> 16) & 0x7) == 0x7) {
        id = (verb >> 8) & 0xfff;
        payload = verb & 0xff;
    } else {
        id = (verb >> 8) & 0xf00;
        payload = verb & 0xffff;
    }
    if (nid >= HDA_CODEC_NODES)
        return 0;

    switch (id) {
    case VERB_GET_PARAMETER:
        return parameter(nid, payload);
    case VERB_GET_SUBSYSTEM:
        return CODEC_ID;

    case VERB_GET_CONN_SELECT:
        return connection(nid) ? c->connsel[nid] : 0;
    case VERB_SET_CONN_SELECT:
        /* A list of one: only index 0 selects anything. */
        if (connection(nid) && payload == 0)
            c->connsel[nid] = 0;
        return 0;
    case VERB_GET_CONN_LIST:
        /* Four entries from the index given, of a list of one. */
        return connection(nid) && payload == 0 ? connection(nid) : 0;

    case VERB_GET_POWER:
        if (nid == HDA_NID_ROOT)
            return 0;
        return (uint32_t)c->power[nid] << 4 | c->power[nid];   /* actual, then set */
    case VERB_SET_POWER:
        if (nid != HDA_NID_ROOT)
            c->power[nid] = payload & 0x3;
        return 0;

    case VERB_GET_CONV:
        return cv ? (uint32_t)cv->stream << 4 | cv->channel : 0;
    case VERB_SET_CONV:
        if (cv && (cv->stream != payload >> 4 || cv->channel != (payload & 0xf))) {
            cv->stream = (uint8_t)(payload >> 4);
            cv->channel = (uint8_t)(payload & 0xf);
            *changed |= HDA_CODEC_CHANGED_STREAM;
        }
        return 0;
    case VERB_GET_FORMAT:
        return cv ? cv->format : 0;
    case VERB_SET_FORMAT:
        if (cv && cv->format != payload) {
            cv->format = (uint16_t)payload;
            *changed |= HDA_CODEC_CHANGED_STREAM;
        }
        return 0;
    case VERB_GET_AMP:
        return get_amp(c, nid, payload);
    case VERB_SET_AMP:
        set_amp(c, nid, payload, changed);
        return 0;

    case VERB_GET_PINCTL:
        return is_pin(nid) ? c->pinctl[nid] : 0;
    case VERB_SET_PINCTL:
        if (is_pin(nid))
            c->pinctl[nid] = (uint8_t)payload;
        return 0;
    case VERB_GET_CONFIG:
        return is_pin(nid) ? c->config[nid] : 0;
    case VERB_GET_EAPD:
        return is_pin(nid) ? c->eapd[nid] : 0;
    case VERB_SET_EAPD:
        if (is_pin(nid))
            c->eapd[nid] = payload & 0x7;
        return 0;
    case VERB_GET_UNSOL:
        return nid == HDA_NID_AFG || is_widget(nid) ? c->unsol[nid] : 0;
    case VERB_SET_UNSOL:
        /* Kept for the guest to read back; this codec never sends one. */
        if (nid == HDA_NID_AFG || is_widget(nid))
            c->unsol[nid] = payload & 0xbf;
        return 0;
    case VERB_GET_PIN_SENSE:
        return 0;   /* the pins do not claim presence detection */

    case VERB_FUNCTION_RESET:
        if (nid == HDA_NID_AFG) {
            widgets_reset(c);
            *changed |= HDA_CODEC_CHANGED_STREAM | HDA_CODEC_CHANGED_VOLUME;
        }
        return 0;

    default:
        if (id >= VERB_SET_CONFIG_0 && id <= VERB_SET_CONFIG_3 && is_pin(nid)) {
            unsigned shift = 8 * (id - VERB_SET_CONFIG_0);

            c->config[nid] = (c->config[nid] & ~(0xffu << shift)) | (uint32_t)payload << shift;
        }
        /* Beep, digital converters, GPIOs, volume knob, processing
         * coefficients: none here, and QEMU's answer is 0 too. */
        return 0;
    }
}

void hda_codec_volume(const struct hda_codec *c, enum hda_conv_dir dir, uint32_t *left,
                      uint32_t *right, bool *mute)
{
    const struct hda_converter *cv = &c->conv[dir];
    uint32_t v[2];

    for (unsigned side = 0; side < 2; side++) {
        unsigned g = cv->gain[side] > AMP_STEPS ? AMP_STEPS : cv->gain[side];

        v[side] = cv->mute[side] ? 0 : step_volume[g];
    }
    *left = v[0];
    *right = v[1];
    *mute = cv->mute[0] && cv->mute[1];
}

bool hda_format_decode(uint16_t fmt, struct hda_pcm_format *out)
{
    static const unsigned bits[8] = { 8, 16, 20, 24, 32, 0, 0, 0 };
    unsigned base = fmt & (1u << 14) ? 44100 : 48000;
    unsigned mult = ((fmt >> 11) & 7) + 1, div = ((fmt >> 8) & 7) + 1;
    unsigned b = bits[(fmt >> 4) & 7], rate;

    if ((fmt & (1u << 15)) || mult > 4 || !b)
        return false;
    rate = base * mult / div;
    if (rate < 8000 || rate > 192000)
        return false;
    out->rate = rate;
    out->bits = b;
    out->channels = (fmt & 0xf) + 1;
    out->frame_bytes = out->channels * (b == 8 ? 1 : b == 16 ? 2 : 4);
    return true;
}
