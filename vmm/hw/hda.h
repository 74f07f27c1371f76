/* Intel ICH9 High Definition Audio controller (8086:293e, HDA 1.0) as QEMU's
 * ich9-intel-hda presents it, with one duplex codec (hda-codec.h). The
 * registers are in BAR 0 (16 KiB); interrupts are MSI or INTA. Samples go
 * to and come from audio voices (core/audio.h): the backend's thread paces
 * the streams, the device never does. */
#pragma once

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "../core/audio.h"
#include "../core/gmem.h"
#include "../core/irq.h"
#include "../core/log.h"
#include "../pci/msix.h"
#include "../pci/pci.h"
#include "hda-codec.h"

#define HDA_MMIO_BAR 0
#define HDA_MMIO_SIZE 0x4000
#define HDA_IN_STREAMS 4        /* descriptors 0..3 */
#define HDA_OUT_STREAMS 4       /* descriptors 4..7 */
#define HDA_STREAMS (HDA_IN_STREAMS + HDA_OUT_STREAMS)
#define HDA_SCRATCH 4096

struct hda_stream {
    /* Registers. */
    uint32_t ctl;               /* SDnCTL, bits 23:0 */
    uint8_t sts;                /* SDnSTS */
    uint32_t lpib, cbl;
    uint16_t lvi, fmt;
    uint32_t bdpl, bdpu;

    /* The DMA engine. */
    bool halted;                /* an error stopped it until RUN is set again */
    unsigned be;                /* the buffer descriptor it is in */
    uint32_t bp;                /* and the offset in that buffer */
    bool have_entry;            /* entry_* hold descriptor be */
    uint64_t entry_addr;
    uint32_t entry_len;
    bool entry_ioc;
    uint8_t carry[64];          /* part of a frame between two calls */
    unsigned ncarry;
};

struct hda {
    pthread_mutex_t lock;       /* everything below; taken inside the PCI host lock */
    struct pci_dev pci;
    const struct gmem *mem;     /* borrowed */
    struct msi_sink msi;
    struct irq_line intx;
    struct audio_backend *backend;  /* borrowed; NULL: no sound */
    struct hda_codec codec;

    /* Global registers. */
    uint32_t gctl, intctl, ssync;
    uint16_t wakeen, statests, gsts;
    uint64_t wall_base_ns;
    uint32_t corb_lbase, corb_ubase, rirb_lbase, rirb_ubase;
    uint16_t corb_wp, corb_rp;  /* corb_rp holds bit 15 (reset) */
    uint8_t corb_ctl, corb_sts;
    uint16_t rirb_wp, rintcnt;
    uint8_t rirb_ctl, rirb_sts;
    unsigned rirb_count;        /* responses since the last response interrupt */
    unsigned rirb_unread;       /* responses since the guest last looked at RIRBWP */
    uint32_t icoi, icii;
    uint16_t icis;
    uint32_t dpl_base, dpu_base;
    struct hda_stream sd[HDA_STREAMS];

    /* The streams that feed or are fed by the voices: -1 none. */
    int out_sd, in_sd;
    struct hda_pcm_format out_fmt, in_fmt;
    struct audio_voice out_voice, in_voice;

    /* PCI command and MSI state, copied when the guest writes config. */
    bool bus_master, intx_disabled, msi_enabled;
    uint64_t msi_addr;
    uint32_t msi_data;
    int intx_level;

    unsigned warned;            /* HDA_WARN_* already logged */
    struct ratelimit rl;
    uint8_t scratch[HDA_SCRATCH];
    uint8_t conv[2 * HDA_SCRATCH];
};

/* backend may be NULL (then streams never move). */
struct hda *hda_new(const struct gmem *mem, struct msi_sink msi, struct irq_line intx,
                    struct audio_backend *backend);
void hda_free(struct hda *h);
/* Power-on state of the controller and its codec; stops the voices. */
void hda_reset(struct hda *h);
/* Whether a running stream feeds the output voice, or the input voice
 * feeds one (query-status). */
bool hda_playing(struct hda *h);
bool hda_recording(struct hda *h);
/* The voices, for the host's mute (audio_voice_set_host_mute) and counters. */
struct audio_voice *hda_output_voice(struct hda *h);
struct audio_voice *hda_input_voice(struct hda *h);

extern const struct bus_ops hda_mmio_ops;
