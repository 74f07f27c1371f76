/* nook-vmm's board: what sits where, in one place. */
#include "machine.h"

#include <errno.h>
#include <fcntl.h>
#include <glib-unix.h>
#include <glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "arch/x86/acpi.h"
#include "core/keymap.h"
#include "core/screendump.h"
#include "core/vcpu.h"

extern const uint8_t nook_dsdt_aml[];
extern const size_t nook_dsdt_aml_len;

#define BIOS_LOW_MAX (128u << 10)       /* what appears below 1 MiB */
#define DEBUGCON_PORT 0x402
#define SCI_IRQ 9
/* Where a directly booted kernel finds the ACPI tables: the RSDP at the
 * start of the BIOS area (scanned by kernels that get no pointer), the
 * tables after it; e820 reserves 0xf0000-0xfffff. */
#define ACPI_RSDP_ADDR   0xf0000
#define ACPI_TABLES_ADDR 0xf0040
#define ACPI_AREA_END    0x100000

/* Reads a whole file through a private mapping; the caller unmaps it. */
static uint8_t *map_file(const char *path, const char *what, size_t *len, char *err, size_t errlen)
{
    struct stat st;
    uint8_t *p;
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd < 0) {
        snprintf(err, errlen, "cannot open %s '%s': %s", what, path, strerror(errno));
        return NULL;
    }
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "%s '%s' is not a regular file", what, path);
        close(fd);
        return NULL;
    }
    *len = (size_t)st.st_size;
    if (*len == 0) {
        snprintf(err, errlen, "%s '%s' is empty", what, path);
        close(fd);
        return NULL;
    }
    p = mmap(NULL, *len, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (p == MAP_FAILED) {
        snprintf(err, errlen, "cannot read %s '%s': %s", what, path, strerror(errno));
        return NULL;
    }
    return p;
}

static int load_kernel(struct machine *m, char *err, size_t errlen)
{
    size_t klen = 0, ilen = 0;
    uint8_t *k, *initrd = NULL;
    int r;

    k = map_file(m->cfg.kernel, "kernel", &klen, err, errlen);
    if (!k)
        return -ENOENT;
    if (m->cfg.initrd) {
        initrd = map_file(m->cfg.initrd, "initrd", &ilen, err, errlen);
        if (!initrd) {
            munmap(k, klen);
            return -ENOENT;
        }
    }
    r = boot_load_kernel(m->vm->mem, k, klen, initrd, ilen, m->cfg.append, &m->boot, err, errlen);
    if (r < 0 && strncmp(err, "kernel", 6) != 0) {
        char why[256];

        snprintf(why, sizeof(why), "%s", err);
        snprintf(err, errlen, "kernel '%s': %s", m->cfg.kernel, why);
    }
    munmap(k, klen);
    if (initrd)
        munmap(initrd, ilen);
    return r;
}

static void rom_write(void *opaque, uint64_t offset, const uint8_t *data, unsigned size)
{
    /* Writes to ROM are dropped, as on the real thing. */
}

static const struct bus_ops rom_ops = { .write = rom_write };

static int load_firmware(struct machine *m, char *err, size_t errlen)
{
    struct kvm_userspace_memory_region slot;
    size_t len;
    uint8_t *file = map_file(m->cfg.firmware, "firmware", &len, err, errlen);

    if (!file)
        return -ENOENT;
    if (len < 0x10000 || len > (16u << 20) || len % 0x1000) {
        snprintf(err, errlen, "firmware '%s' has a size (%zu bytes) no PC firmware has", m->cfg.firmware, len);
        munmap(file, len);
        return -EINVAL;
    }
    m->bios = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m->bios == MAP_FAILED) {
        m->bios = NULL;
        munmap(file, len);
        snprintf(err, errlen, "out of memory for the firmware");
        return -ENOMEM;
    }
    memcpy(m->bios, file, len);
    munmap(file, len);
    m->bios_size = len;
    slot = (struct kvm_userspace_memory_region){
        .slot = GMEM_MAX_REGIONS,
        .flags = KVM_MEM_READONLY,
        .guest_phys_addr = (1ull << 32) - len,
        .memory_size = len,
        .userspace_addr = (uint64_t)(uintptr_t)m->bios,
    };
    if (ioctl(m->vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &slot) < 0) {
        snprintf(err, errlen, "cannot map the firmware: %s", strerror(errno));
        return -errno;
    }
    bus_register(m->vm->mmio, slot.guest_phys_addr, len, &rom_ops, m, "bios-rom");
    return 0;
}

static void acpi_config(const struct machine *m, struct acpi_config *cfg)
{
    *cfg = (struct acpi_config){
        .ncpus = m->cfg.ncpus,
        .dsdt = nook_dsdt_aml,
        .dsdt_len = nook_dsdt_aml_len,
        .pm_base = PM_IO_BASE,
        .sci_irq = SCI_IRQ,
        .ecam_base = PCI_ECAM_BASE,
    };
}

/* Tables in guest memory for a kernel that no firmware prepared for. */
static int place_acpi(struct machine *m)
{
    struct acpi_config cfg;
    struct acpi_tables t;
    int r;

    acpi_config(m, &cfg);
    r = acpi_build(&cfg, ACPI_TABLES_ADDR, &t);
    if (r < 0)
        return r;
    if (t.len > ACPI_AREA_END - ACPI_TABLES_ADDR)
        r = -E2BIG;
    if (!r)
        r = gmem_write(m->vm->mem, ACPI_TABLES_ADDR, t.blob, t.len);
    if (!r)
        r = gmem_write(m->vm->mem, ACPI_RSDP_ADDR, t.rsdp, sizeof(t.rsdp));
    if (!r)
        r = boot_set_rsdp(m->vm->mem, &m->boot, ACPI_RSDP_ADDR);
    acpi_tables_free(&t);
    return r;
}

static int machine_reset_hook(struct vm *vm, void *opaque)
{
    struct machine *m = opaque;
    char err[256];
    int r;

    serial_reset(m->com1);
    i8042_reset(&m->kbc);
    pm_reset(&m->pm);
    pci_host_reset(&m->pci);
    if (m->vga)
        vga_reset(m->vga);
    if (m->gpu)
        virtio_pci_reset(&m->gpu->vpci);
    for (unsigned i = 0; i < MACHINE_MAX_DISKS; i++)
        if (m->disks[i])
            virtio_pci_reset(&m->disks[i]->vpci);
    if (m->ahci)
        ahci_reset(m->ahci);
    if (m->hda)
        hda_reset(m->hda);
    if (m->vkbd)
        virtio_pci_reset(&m->vkbd->vpci);
    if (m->vtablet)
        virtio_pci_reset(&m->vtablet->vpci);
    fw_cfg_reset(&m->fw_cfg);

    if (m->cfg.kernel) {
        /* machine_new loaded it already (to report a bad file before the
         * VM starts); every later reset loads it again. */
        r = m->kernel_loaded ? 0 : load_kernel(m, err, sizeof(err));
        m->kernel_loaded = false;
        if (r < 0) {
            log_error("%s", err);
            return r;
        }
        r = place_acpi(m);
        if (r < 0) {
            log_error("cannot place the ACPI tables: %s", strerror(-r));
            return r;
        }
        /* Firmware would have enabled ECAM; the kernel expects it on. */
        pci_config_write(&m->pci, 0, 0, 0x64, 4, (uint32_t)(PCI_ECAM_BASE >> 32));
        pci_config_write(&m->pci, 0, 0, 0x60, 4, (uint32_t)PCI_ECAM_BASE | 1);
        return boot_setup_vcpu(vm->vcpus[0]->fd, vm->mem, &m->boot);
    }
    /* The top of the firmware also appears just below 1 MiB, where a PC
     * starts executing it. */
    uint64_t low = m->bios_size < BIOS_LOW_MAX ? m->bios_size : BIOS_LOW_MAX;
    return gmem_write(vm->mem, 0x100000 - low, m->bios + m->bios_size - low, low);
}

static void power_request_exit(void *opaque, int status, const char *reason)
{
    struct machine *m = opaque;

    vm_request_exit(m->vm, status, reason);
}

static void power_request_reset(void *opaque, const char *reason)
{
    struct machine *m = opaque;

    vm_request_reset(m->vm, reason);
}

static void debugcon_write(void *opaque, uint64_t offset, const uint8_t *data, unsigned size)
{
    struct machine *m = opaque;
    ssize_t r = write(m->debugcon_fd, data, 1);

    (void)r;
}

static void debugcon_read(void *opaque, uint64_t offset, uint8_t *data, unsigned size)
{
    bus_put(data, size, 0xe9);  /* firmware checks for this to find the port */
}

static const struct bus_ops debugcon_ops = { .read = debugcon_read, .write = debugcon_write };

static int setup_fw_cfg(struct machine *m)
{
    struct fw_cfg *f = &m->fw_cfg;
    struct e820_map map;
    uint16_t sercon = 0x3f8;
    int r = 0;

    fw_cfg_init(f, m->vm->mem);
    r |= fw_cfg_add_u64(f, FW_CFG_RAM_SIZE, m->cfg.ram_size);
    r |= fw_cfg_add_u16(f, FW_CFG_NB_CPUS, (uint16_t)m->cfg.ncpus);
    r |= fw_cfg_add_u16(f, FW_CFG_MAX_CPUS, (uint16_t)m->cfg.ncpus);
    r |= fw_cfg_add_u16(f, FW_CFG_NOGRAPHIC, 1);
    r |= fw_cfg_add_u16(f, FW_CFG_BOOT_MENU, 1);
    e820_for_firmware(m->vm->mem, &map);
    r |= fw_cfg_add_file(f, "etc/e820", map.e, map.n * (uint32_t)sizeof(map.e[0]));
    r |= fw_cfg_add_file(f, "bootorder", "", 0);
    /* No display: the firmware's screen goes to COM1. */
    r |= fw_cfg_add_file(f, "etc/sercon-port", &sercon, sizeof(sercon));
    if (!m->cfg.kernel) {
        struct acpi_config acpi;

        acpi_config(m, &acpi);
        r |= acpi_add_fw_cfg(&acpi, f);
    }
    return r ? -ENOMEM : 0;
}

/* The board. Port and address assignments follow a q35 PC so that firmware
 * and guests find things where they look for them. */
static int build_board(struct machine *m, char *err, size_t errlen)
{
    struct vm *vm = m->vm;
    struct power power = { power_request_exit, power_request_reset, m };
    struct rtc_mem_layout layout = {
        .below_4g = gmem_lowmem_end(vm->mem),
        .above_4g = gmem_highmem_size(vm->mem),
        .ncpus = m->cfg.ncpus,
    };
    int r = 0;

    m->com1 = serial_new(vm_gsi(vm, 4));
    if (!m->com1)
        goto nomem;
    if (rtc_init(&m->rtc, vm_gsi(vm, 8), &layout) < 0)
        goto nomem;
    i8042_init(&m->kbc, vm_gsi(vm, 1), vm_gsi(vm, 12), power);
    pm_init(&m->pm, power, vm_gsi(vm, SCI_IRQ));
    pci_host_init(&m->pci, vm->mmio, &m->pm);
    pci_host_set_io_bus(&m->pci, vm->pio);
    m->debug_exit.power = power;
    if (setup_fw_cfg(m) < 0)
        goto nomem;

    r |= bus_register(vm->pio, 0x3f8, 8, &serial_bus_ops, m->com1, "com1");
    r |= bus_register(vm->pio, 0x70, 2, &rtc_bus_ops, &m->rtc, "rtc");
    /* 0x61 (in between) is the PIT's speaker port, handled inside KVM. */
    r |= bus_register(vm->pio, 0x60, 5, &i8042_bus_ops, &m->kbc, "i8042");
    r |= bus_register(vm->pio, 0x92, 1, &pm_port92_bus_ops, &m->pm, "port92");
    r |= bus_register(vm->pio, PM_IO_BASE, PM_IO_LEN, &pm_bus_ops, &m->pm, "acpi-pm");
    r |= bus_register(vm->pio, 0xcf8, 4, &pci_cf8_bus_ops, &m->pci, "pci-cf8");
    r |= bus_register(vm->pio, 0xcfc, 4, &pci_cfc_bus_ops, &m->pci, "pci-cfc");
    r |= bus_register(vm->pio, FW_CFG_IO_BASE, 2, &fw_cfg_io_bus_ops, &m->fw_cfg, "fw_cfg");
    r |= bus_register(vm->pio, FW_CFG_DMA_BASE, 8, &fw_cfg_dma_bus_ops, &m->fw_cfg, "fw_cfg-dma");
    r |= bus_register(vm->pio, 0xf4, 4, &debug_exit_bus_ops, &m->debug_exit, "debug-exit");
    if (m->debugcon_fd >= 0)
        r |= bus_register(vm->pio, DEBUGCON_PORT, 1, &debugcon_ops, m, "debugcon");
    if (r) {
        snprintf(err, errlen, "internal error: overlapping device ranges");
        return -EEXIST;
    }
    return 0;
nomem:
    snprintf(err, errlen, "out of memory while building the machine");
    return -ENOMEM;
}

/* --vga std: the framebuffer BAR becomes a KVM memory slot whose dirty log
 * tells the device what the guest drew. */
#define VGA_SLOT 2
/* The virtio keyboard, and the tablet in the next slot. */
#define INPUT_SLOT 8
/* A display refresh at 60 Hz, as a monitor; QEMU refreshes every 30 ms. */
#define VGA_REFRESH_HZ 60

static int vga_lfb_map(void *vm, uint64_t gpa, void *hva, uint64_t size)
{
    return vm_map_host_memory(vm, gpa, size, hva, VM_SLOT_LOG_DIRTY);
}

static void vga_lfb_unmap(void *vm, int slot)
{
    vm_unmap_host_memory(vm, slot);
}

static int vga_lfb_dirty(void *vm, int slot, uint64_t *bitmap)
{
    return vm_get_dirty_log(vm, slot, bitmap);
}

static int add_vga(struct machine *m, char *err, size_t errlen)
{
    const struct vga_lfb_ops lfb = { vga_lfb_map, vga_lfb_unmap, vga_lfb_dirty, m->vm };
    struct vm *vm = m->vm;
    uint8_t *rom = NULL;
    size_t len = 0;
    int r = 0;

    /* Firmware runs the VGA BIOS from the expansion ROM; a kernel booted
     * directly does without it. */
    rom = map_file(NOOK_VGABIOS, "VGA BIOS", &len, err, errlen);
    if (!rom && !m->cfg.kernel)
        return -ENOENT;
    m->vga = vga_new(rom, rom ? len : 0, &lfb, VGA_REFRESH_HZ);
    if (rom)
        munmap(rom, len);
    if (!m->vga) {
        snprintf(err, errlen, "out of memory for the VGA");
        return -ENOMEM;
    }
    r = vm_punch_ram_hole(vm, VGA_WINDOW_BASE, VGA_WINDOW_SIZE);
    if (r < 0) {
        snprintf(err, errlen, "cannot make room for the VGA window: %s", strerror(-r));
        return r;
    }
    r = pci_add_device(&m->pci, VGA_SLOT, vga_pci(m->vga));
    r |= bus_register(vm->pio, VGA_IO_BASE, VGA_IO_SIZE, &vga_io_bus_ops, m->vga, "vga");
    r |= bus_register(vm->pio, VGA_VBE_IO_BASE, VGA_VBE_IO_SIZE, &vga_vbe_bus_ops, m->vga, "vbe");
    r |= bus_register(vm->mmio, VGA_WINDOW_BASE, VGA_WINDOW_SIZE, &vga_window_bus_ops, m->vga, "vga-window");
    if (r) {
        snprintf(err, errlen, "internal error: the VGA overlaps another device");
        return -EEXIST;
    }
    return 0;
}

struct console *machine_console(struct machine *m)
{
    if (m->gpu)
        return virtio_gpu_console(m->gpu);
    return m->vga ? vga_console(m->vga) : NULL;
}

int machine_screendump(struct machine *m, const char *path, char *err, size_t errlen)
{
    struct console *c = machine_console(m);

    if (!c) {
        snprintf(err, errlen, "the VM has no display (it runs with --vga none)");
        return -ENODEV;
    }
    return screendump_png(c, path, err, errlen);
}

/* --disk FILE[,format=raw][,readonly] */
static int notify_route_add(void *vm, uint64_t addr, unsigned len, int fd)
{
    return vm_ioeventfd_add(vm, addr, len, false, false, 0, fd);
}

static int notify_route_del(void *vm, uint64_t addr, unsigned len, int fd)
{
    return vm_ioeventfd_del(vm, addr, len, false, false, 0, fd);
}

/* INTx pin (0 = INTA) of a slot reaches this IOAPIC input, as the DSDT's
 * _PRT tells the OS. */
static unsigned pci_intx_gsi(unsigned slot, unsigned pin)
{
    return 16 + ((slot + pin) & 7);
}

static int add_disk(struct machine *m, unsigned idx, const char *spec, char *err, size_t errlen)
{
    g_auto(GStrv) parts = g_strsplit(spec, ",", -1);
    const struct notify_router router = { notify_route_add, notify_route_del, m->vm };
    bool readonly = false;
    unsigned nqueues;
    struct msi_sink msi;
    int r;

    if (!parts[0] || !*parts[0]) {
        snprintf(err, errlen, "--disk '%s': no file named", spec);
        return -EINVAL;
    }
    for (unsigned i = 1; parts[i]; i++) {
        if (strcmp(parts[i], "readonly") == 0 || strcmp(parts[i], "readonly=on") == 0) {
            readonly = true;
        } else if (strcmp(parts[i], "format=raw") != 0) {
            snprintf(err, errlen, "--disk '%s': unknown option '%s' (format=raw and readonly are known)",
                     spec, parts[i]);
            return -EINVAL;
        }
    }
    nqueues = m->cfg.ncpus < VIRTIO_BLK_MAX_QUEUES ? m->cfg.ncpus : VIRTIO_BLK_MAX_QUEUES;
    /* A vector per queue and one for configuration changes, as the device
     * offers; without irqfds, KVM_SIGNAL_MSI from the I/O thread. */
    m->disk_msi[idx] = vm_msi_group_new(m->vm, nqueues + 1);
    if (!m->disk_msi[idx])
        log_warn("--disk '%s': interrupts without irqfds (%s)", spec, strerror(errno));
    msi = m->disk_msi[idx] ? (struct msi_sink){ vm_msi_group_signal, m->disk_msi[idx] }
                           : (struct msi_sink){ vm_signal_msi, m->vm };
    m->disks[idx] = virtio_blk_new(parts[0], readonly, nqueues, m->vm->mem, msi,
                                   vm_gsi(m->vm, pci_intx_gsi(3 + idx, 0)), err, errlen);
    if (!m->disks[idx])
        return -EINVAL;
    /* Slots from 3 on, after the host bridge and where firmware looks. */
    r = pci_add_device(&m->pci, 3 + idx, &m->disks[idx]->vpci.pci);
    if (r == 0)
        r = virtio_pci_start_iothread(&m->disks[idx]->vpci, &router);
    if (r < 0)
        snprintf(err, errlen, "--disk '%s': cannot set up the device: %s", spec, strerror(-r));
    return r;
}

/* --cdrom FILE|none: an ICH9 AHCI controller where a q35 PC has its SATA
 * controller (device 31), a DVD-ROM drive on port 0. Without --cdrom the
 * slot stays empty. */
#define AHCI_SLOT 31
#define CDROM_PORT 0

static int add_ahci(struct machine *m, char *err, size_t errlen)
{
    bool empty = strcmp(m->cfg.cdrom, "none") == 0;
    int r;

    m->ahci = ahci_new(m->vm->mem, (struct msi_sink){ vm_signal_msi, m->vm },
                       vm_gsi(m->vm, pci_intx_gsi(AHCI_SLOT, 0)));
    if (!m->ahci || ahci_attach_cdrom(m->ahci, CDROM_PORT, "NOOK-CD0") < 0) {
        snprintf(err, errlen, "out of memory for the AHCI controller");
        return -ENOMEM;
    }
    if (!empty) {
        char why[400];

        r = ahci_change_cdrom(m->ahci, CDROM_PORT, m->cfg.cdrom, true, why, sizeof(why));
        if (r < 0) {
            snprintf(err, errlen, "--cdrom: %s", why);
            return r;
        }
        /* Present from power-on: no media change to report. */
        ahci_reset(m->ahci);
    }
    r = pci_add_device(&m->pci, AHCI_SLOT, &m->ahci->pci);
    if (r < 0)
        snprintf(err, errlen, "--cdrom: cannot add the AHCI controller: %s", strerror(-r));
    return r;
}

/* The sound card where q35 has it (00:1b.0). */
#define HDA_SLOT 27

static int add_hda(struct machine *m, char *err, size_t errlen)
{
    int r;

    m->hda = hda_new(m->vm->mem, (struct msi_sink){ vm_signal_msi, m->vm },
                     vm_gsi(m->vm, pci_intx_gsi(HDA_SLOT, 0)), m->cfg.audio);
    if (!m->hda) {
        snprintf(err, errlen, "out of memory for the sound card");
        return -ENOMEM;
    }
    r = pci_add_device(&m->pci, HDA_SLOT, &m->hda->pci);
    if (r < 0)
        snprintf(err, errlen, "cannot add the sound card: %s", strerror(-r));
    return r;
}

void machine_audio_status(struct machine *m, struct machine_audio_status *st)
{
    struct audio_voice *out, *in;

    memset(st, 0, sizeof(*st));
    if (!m->hda)
        return;
    out = hda_output_voice(m->hda);
    in = hda_input_voice(m->hda);
    st->playing = hda_playing(m->hda);
    st->recording = hda_recording(m->hda);
    st->muted = atomic_load(&out->host_mute);
    st->frames_out = atomic_load(&out->frames);
    st->frames_in = atomic_load(&in->frames);
    st->underruns = atomic_load(&out->underruns);
}

void machine_audio_mute(struct machine *m, bool mute)
{
    if (m->hda)
        audio_voice_set_host_mute(hda_output_voice(m->hda), mute);
}

int machine_change_cdrom(struct machine *m, const char *path, bool force, char *err, size_t errlen)
{
    if (!m->ahci) {
        snprintf(err, errlen, "the VM has no CD-ROM drive (start it with --cdrom FILE or --cdrom none)");
        return -ENODEV;
    }
    return ahci_change_cdrom(m->ahci, CDROM_PORT, path, force, err, errlen);
}

bool machine_cdrom_loaded(struct machine *m)
{
    return m->ahci && ahci_cdrom_loaded(m->ahci, CDROM_PORT);
}

/* --vga virtio: virtio-gpu in the std VGA's slot. Its transfers copy whole
 * screens, so it gets interrupts and an I/O thread of its own, as a disk
 * does. The guest reports what it drew; the console's refresh only gives a
 * new backend the whole picture, once. */
#define GPU_REFRESH_HZ 1

static int add_virtio_gpu(struct machine *m, char *err, size_t errlen)
{
    const struct notify_router router = { notify_route_add, notify_route_del, m->vm };
    struct msi_sink msi;
    int r;

    /* A vector per queue and one for configuration changes. */
    m->gpu_msi = vm_msi_group_new(m->vm, 3);
    if (!m->gpu_msi)
        log_warn("--vga virtio: interrupts without irqfds (%s)", strerror(errno));
    msi = m->gpu_msi ? (struct msi_sink){ vm_msi_group_signal, m->gpu_msi }
                     : (struct msi_sink){ vm_signal_msi, m->vm };
    m->gpu = virtio_gpu_new(m->vm->mem, msi, vm_gsi(m->vm, pci_intx_gsi(VGA_SLOT, 0)), 0,
                            GPU_REFRESH_HZ);
    if (!m->gpu) {
        snprintf(err, errlen, "out of memory for the virtio-gpu");
        return -ENOMEM;
    }
    r = pci_add_device(&m->pci, VGA_SLOT, &m->gpu->vpci.pci);
    if (r == 0)
        r = virtio_pci_start_iothread(&m->gpu->vpci, &router);
    if (r < 0)
        snprintf(err, errlen, "--vga virtio: cannot set up the device: %s", strerror(-r));
    return r;
}

/* Input: the PS/2 keyboard and mouse always, a virtio keyboard and tablet
 * when asked for; the router prefers the virtio ones once a driver runs. */
static void ps2_key(void *opaque, unsigned code, bool down)
{
    uint8_t bytes[8];
    size_t n = keymap_linux_to_set2(code, down, bytes);

    if (n)
        i8042_key(opaque, bytes, (unsigned)n);
}

static void ps2_rel(void *opaque, int dx, int dy, int wheel, unsigned buttons)
{
    i8042_mouse(opaque, dx, dy, wheel, (uint8_t)(buttons & 7));
}

static unsigned ps2_leds(void *opaque)
{
    return i8042_leds(opaque);
}

static const struct input_device_ops ps2_kbd_ops = { .key = ps2_key, .leds = ps2_leds };
static const struct input_device_ops ps2_mouse_ops = { .rel = ps2_rel };

static bool vinput_active(void *opaque)
{
    return virtio_input_active(opaque);
}

static void vinput_key(void *opaque, unsigned code, bool down)
{
    virtio_input_send(opaque, INPUT_EV_KEY, (uint16_t)code, down);
    virtio_input_send(opaque, INPUT_EV_SYN, INPUT_SYN_REPORT, 0);
}

static void vinput_abs(void *opaque, unsigned x, unsigned y, int wheel, unsigned buttons)
{
    struct virtio_input *d = opaque;
    static const uint16_t codes[] = { INPUT_BTN_LEFT, INPUT_BTN_RIGHT, INPUT_BTN_MIDDLE,
                                      INPUT_BTN_SIDE, INPUT_BTN_EXTRA };
    unsigned changed = buttons ^ d->host_buttons;

    d->host_buttons = buttons;
    virtio_input_send(d, INPUT_EV_ABS, INPUT_ABS_X, (int32_t)x);
    virtio_input_send(d, INPUT_EV_ABS, INPUT_ABS_Y, (int32_t)y);
    for (unsigned i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
        if (changed & (1u << i))
            virtio_input_send(d, INPUT_EV_KEY, codes[i], !!(buttons & (1u << i)));
    if (wheel)
        virtio_input_send(d, INPUT_EV_REL, INPUT_REL_WHEEL, wheel);
    virtio_input_send(d, INPUT_EV_SYN, INPUT_SYN_REPORT, 0);
}

/* Linux numbers the LEDs 0 Num Lock, 1 Caps Lock, 2 Scroll Lock. */
static unsigned vinput_leds(void *opaque)
{
    uint8_t l = virtio_input_leds(opaque);

    return ((l & 1) ? INPUT_LED_NUM : 0) | ((l & 2) ? INPUT_LED_CAPS : 0) | ((l & 4) ? INPUT_LED_SCROLL : 0);
}

static const struct input_device_ops vkbd_ops = { .key = vinput_key, .active = vinput_active,
                                                  .leds = vinput_leds };
static const struct input_device_ops vtablet_ops = { .abs = vinput_abs, .active = vinput_active };

static int add_input(struct machine *m, char *err, size_t errlen)
{
    int r = input_add_device(&m->input, "ps2-keyboard", INPUT_CAP_KEYBOARD, &ps2_kbd_ops, &m->kbc);

    r |= input_add_device(&m->input, "ps2-mouse", INPUT_CAP_REL, &ps2_mouse_ops, &m->kbc);
    if (!m->cfg.virtio_input)
        return r;
    m->vkbd = virtio_input_new(VIRTIO_INPUT_KEYBOARD, m->vm->mem,
                               (struct msi_sink){ vm_signal_msi, m->vm },
                               vm_gsi(m->vm, pci_intx_gsi(INPUT_SLOT, 0)));
    m->vtablet = virtio_input_new(VIRTIO_INPUT_TABLET, m->vm->mem,
                                  (struct msi_sink){ vm_signal_msi, m->vm },
                                  vm_gsi(m->vm, pci_intx_gsi(INPUT_SLOT + 1, 0)));
    if (!m->vkbd || !m->vtablet) {
        snprintf(err, errlen, "cannot create the virtio input devices: out of memory");
        return -ENOMEM;
    }
    r |= pci_add_device(&m->pci, INPUT_SLOT, &m->vkbd->vpci.pci);
    r |= pci_add_device(&m->pci, INPUT_SLOT + 1, &m->vtablet->vpci.pci);
    r |= input_add_device(&m->input, "virtio-keyboard", INPUT_CAP_KEYBOARD, &vkbd_ops, m->vkbd);
    r |= input_add_device(&m->input, "virtio-tablet", INPUT_CAP_ABS, &vtablet_ops, m->vtablet);
    if (r)
        snprintf(err, errlen, "cannot add the virtio input devices");
    return r ? -EINVAL : 0;
}

struct machine *machine_new(const struct machine_config *cfg, void (*quit)(void *), void *quit_opaque,
                            char *err, size_t errlen)
{
    struct machine *m = calloc(1, sizeof(*m));
    struct vm_config vc = { cfg->accel_path, cfg->ram_size, cfg->ncpus };

    if (!m) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    m->cfg = *cfg;
    m->debugcon_fd = -1;
    m->rtc.timer_fd = -1;
    m->quit = quit;
    m->quit_opaque = quit_opaque;
    input_init(&m->input);
    if (cfg->debugcon) {
        m->debugcon_fd = open(cfg->debugcon, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (m->debugcon_fd < 0) {
            snprintf(err, errlen, "cannot open '%s': %s", cfg->debugcon, strerror(errno));
            goto fail;
        }
    }
    /* Check the files before anything heavy is set up. */
    if (cfg->kernel) {
        size_t len;
        uint8_t *k = map_file(cfg->kernel, "kernel", &len, err, errlen);

        if (!k)
            goto fail;
        munmap(k, len);
    }
    m->vm = vm_new(&vc, err, errlen);
    if (!m->vm)
        goto fail;
    if (build_board(m, err, errlen) < 0)
        goto fail;
    if (cfg->vga == MACHINE_VGA_STD && add_vga(m, err, errlen) < 0)
        goto fail;
    if (cfg->vga == MACHINE_VGA_VIRTIO && add_virtio_gpu(m, err, errlen) < 0)
        goto fail;
    if (add_input(m, err, errlen) < 0)
        goto fail;
    for (unsigned i = 0; cfg->disks && cfg->disks[i]; i++) {
        if (i == MACHINE_MAX_DISKS) {
            snprintf(err, errlen, "at most %d --disk options", MACHINE_MAX_DISKS);
            goto fail;
        }
        if (add_disk(m, i, cfg->disks[i], err, errlen) < 0)
            goto fail;
    }
    if (cfg->sound && cfg->audio && add_hda(m, err, errlen) < 0)
        goto fail;
    if (cfg->cdrom && add_ahci(m, err, errlen) < 0)
        goto fail;
    m->com1_chr = chardev_new(cfg->serial, m->com1, quit, quit_opaque, err, errlen);
    if (!m->com1_chr)
        goto fail;
    if (cfg->kernel) {
        if (load_kernel(m, err, errlen) < 0)
            goto fail;
        m->kernel_loaded = true;
    } else if (load_firmware(m, err, errlen) < 0) {
        goto fail;
    }
    m->vm->reset_hook = machine_reset_hook;
    m->vm->reset_opaque = m;
    return m;

fail:
    machine_free(m);
    return NULL;
}

static gboolean on_rtc_timer(gint fd, GIOCondition cond, gpointer data)
{
    struct machine *m = data;

    rtc_timer_fired(&m->rtc);
    return G_SOURCE_CONTINUE;
}

void machine_power_button(struct machine *m)
{
    pm_power_button(&m->pm);
}

int machine_start(struct machine *m)
{
    chardev_start(m->com1_chr);
    m->rtc_watch = g_unix_fd_add(rtc_timer_fd(&m->rtc), G_IO_IN, on_rtc_timer, m);
    return vm_start(m->vm);
}

void machine_free(struct machine *m)
{
    if (!m)
        return;
    if (m->vm)
        vm_stop(m->vm);
    /* Before the VM goes: I/O threads interrupt it. */
    for (unsigned i = 0; i < MACHINE_MAX_DISKS; i++)
        if (m->disks[i])
            virtio_pci_stop_iothread(&m->disks[i]->vpci);
    if (m->gpu)
        virtio_pci_stop_iothread(&m->gpu->vpci);
    for (unsigned i = 0; i < MACHINE_MAX_DISKS; i++)
        vm_msi_group_free(m->disk_msi[i]);
    vm_msi_group_free(m->gpu_msi);
    /* Before the VM goes: its backend's threads reach the sound card. */
    hda_free(m->hda);
    m->hda = NULL;
    if (m->rtc_watch)
        g_source_remove(m->rtc_watch);
    chardev_free(m->com1_chr);
    if (m->vm) {
        pci_host_destroy(&m->pci);
        vga_free(m->vga);
        virtio_gpu_free(m->gpu);
        fw_cfg_destroy(&m->fw_cfg);
        rtc_destroy(&m->rtc);
        serial_free(m->com1);
        vm_free(m->vm);
        for (unsigned i = 0; i < MACHINE_MAX_DISKS; i++)
            virtio_blk_free(m->disks[i]);
        virtio_input_free(m->vkbd);
        virtio_input_free(m->vtablet);
        ahci_free(m->ahci);
    }
    input_destroy(&m->input);
    if (m->bios)
        munmap(m->bios, m->bios_size);
    if (m->debugcon_fd >= 0)
        close(m->debugcon_fd);
    free(m);
}
