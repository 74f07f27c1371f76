/* The PC that nook-vmm builds: a q35-like board with legacy devices. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "arch/x86/boot.h"
#include "core/chardev.h"
#include "core/input.h"
#include "core/vm.h"
#include "fw/fw_cfg.h"
#include "hw/ahci.h"
#include "hw/hda.h"
#include "hw/debug_exit.h"
#include "hw/i8042.h"
#include "hw/pm.h"
#include "hw/rtc.h"
#include "hw/serial.h"
#include "hw/vga.h"
#include "pci/pci.h"
#include "virtio/blk.h"
#include "virtio/gpu.h"
#include "virtio/input.h"

#define MACHINE_MAX_DISKS 4

/* The graphics card in PCI slot 2. NONE is 0: 'if (cfg.vga)' asks whether
 * there is one. */
enum machine_vga { MACHINE_VGA_NONE, MACHINE_VGA_STD, MACHINE_VGA_VIRTIO };

struct machine_config {
    const char *accel_path;
    uint64_t ram_size;
    unsigned ncpus;
    const char *kernel;         /* NULL: boot the firmware */
    const char *initrd;
    const char *append;
    const char *firmware;
    const char *serial;         /* chardev spec */
    const char *debugcon;       /* file for port 0x402 output, or NULL */
    bool no_reboot;
    const char *const *disks;   /* "FILE[,format=raw][,readonly]", NULL-terminated */
    enum machine_vga vga;
    bool virtio_input;          /* a virtio keyboard and tablet beside PS/2 */
    const char *cdrom;          /* ISO image, "none" for an empty drive, NULL: no AHCI */
    bool sound;                 /* an Intel HD Audio controller and codec */
    struct audio_backend *audio;    /* borrowed: where its sound goes (sound only) */
};

/* The sound card's state for query-status. */
struct machine_audio_status {
    bool playing, recording, muted;
    uint64_t frames_out, frames_in, underruns;
};

struct machine {
    struct machine_config cfg;
    struct vm *vm;              /* owned */

    struct serial *com1;        /* owned */
    struct chardev *com1_chr;   /* owned */
    struct rtc rtc;
    struct i8042 kbc;
    struct pm pm;
    struct pci_host pci;
    struct fw_cfg fw_cfg;
    struct debug_exit debug_exit;
    struct virtio_blk *disks[MACHINE_MAX_DISKS];    /* owned */
    struct vm_msi_group *disk_msi[MACHINE_MAX_DISKS]; /* owned: their interrupts */
    struct vga *vga;            /* owned; NULL without a display */
    struct virtio_gpu *gpu;     /* owned; NULL unless --vga virtio */
    struct vm_msi_group *gpu_msi;   /* owned: its interrupts */
    struct input input;         /* routes front ends' events to the devices */
    struct virtio_input *vkbd, *vtablet;    /* owned; NULL without virtio input */
    struct ahci *ahci;          /* owned; NULL without a CD-ROM drive */
    struct hda *hda;            /* owned; NULL without a sound card */
    int debugcon_fd;

    uint8_t *bios;              /* owned mapping of the firmware image */
    uint64_t bios_size;
    struct boot_info boot;
    bool kernel_loaded;         /* the kernel in RAM is untouched by the guest */
    unsigned rtc_watch;         /* GLib source id */
    void (*quit)(void *);
    void *quit_opaque;
};

/* The sound card's state (all zero without one), and the host's mute of its
 * output. Any thread. */
void machine_audio_status(struct machine *m, struct machine_audio_status *st);
void machine_audio_mute(struct machine *m, bool mute);

/* Builds the machine; NULL with a one-line reason in err. */
struct machine *machine_new(const struct machine_config *cfg, void (*quit)(void *), void *quit_opaque,
                            char *err, size_t errlen);
void machine_free(struct machine *m);
/* Starts devices' main-loop sources and the vCPUs. */
int machine_start(struct machine *m);
/* Presses the ACPI power button: a guest with ACPI shuts down. */
void machine_power_button(struct machine *m);
/* Puts the image at path in the CD-ROM drive, or ejects the disc for NULL;
 * -EBUSY while the guest locks the tray unless force, -ENODEV without a
 * drive, else 0 or -errno; err says why. Any thread. */
int machine_change_cdrom(struct machine *m, const char *path, bool force, char *err, size_t errlen);
/* Whether the CD-ROM drive holds a disc the guest can read (tray closed). */
bool machine_cdrom_loaded(struct machine *m);
/* The console of the graphics card, NULL without one. */
struct console *machine_console(struct machine *m);
/* Writes the display's picture to path as PNG: 0, -ENODEV when the machine
 * has no display, or -errno; err says why. */
int machine_screendump(struct machine *m, const char *path, char *err, size_t errlen);
