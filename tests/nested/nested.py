#!/usr/bin/env python3
"""Boots real Linux under nook-vmm on a machine whose /dev/kvm cannot run it.

QEMU TCG with an emulated AMD-V CPU runs Debian's kernel (L1) with the stock
kvm-amd module; inside it nook-vmm boots the same kernel again (L2), directly
or through SeaBIOS and SYSLINUX from a disk image made here. One run writes
NAME.log (both consoles, each line stamped with host seconds since QEMU
started) and NAME.json (how the run went) in --out, for check.py.

The run itself always exits 0 once its arguments are valid, so that a broken
guest shows up as failed checks that say what went wrong; a missing
prerequisite is recorded as a skip with the reason. The tests run it through
run-check.py, once per configuration and `meson test`.
"""
import argparse
import base64
import fcntl
import hashlib
import json
import lzma
import os
import re
import select
import shutil
import signal
import struct
import subprocess
import sys
import time
import traceback
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))

# Modules of the kernel package that L1 needs for /dev/kvm, in load order.
KVM_MODULES = [
    "virt/lib/irqbypass.ko",
    "drivers/crypto/ccp/ccp.ko",
    "arch/x86/kvm/kvm.ko",
    "arch/x86/kvm/kvm-amd.ko",
]

# Modules of the same package for L2, in load order: virtio-blk on the
# modern virtio-pci transport, and the ACPI power button with evdev for
# acpid. l2-init loads those its steps need.
L2_MODULES = [
    "drivers/virtio/virtio_ring.ko",
    "drivers/virtio/virtio.ko",
    "drivers/virtio/virtio_pci_legacy_dev.ko",
    "drivers/virtio/virtio_pci_modern_dev.ko",
    "drivers/virtio/virtio_pci.ko",
    "drivers/block/virtio_blk.ko",
    "drivers/acpi/button.ko",
    "drivers/input/evdev.ko",
]

# The DRM driver of each --l2-vga card and what it needs, in load order
# (from the modules' depends=), for l2-init's screen step. Only the
# configurations with that card carry them.
L2_VGA_MODULES = {
    "none": [],
    "std": [
        "drivers/gpu/drm/drm.ko",
        "drivers/gpu/drm/drm_kms_helper.ko",
        "drivers/gpu/drm/ttm/ttm.ko",
        "drivers/gpu/drm/drm_ttm_helper.ko",
        "drivers/gpu/drm/drm_vram_helper.ko",
        "drivers/gpu/drm/tiny/bochs.ko",
    ],
    "virtio": [
        "drivers/virtio/virtio_dma_buf.ko",
        "drivers/gpu/drm/drm.ko",
        "drivers/gpu/drm/drm_kms_helper.ko",
        "drivers/gpu/drm/drm_shmem_helper.ko",
        "drivers/gpu/drm/virtio/virtio-gpu.ko",
    ],
}

# With a graphics card nook-vmm adds a virtio keyboard and tablet; their
# driver (depends=virtio,virtio_ring) for l2-init's input step, with evdev
# from L2_MODULES. Only the configurations with a card carry it.
L2_INPUT_MODULES = ["drivers/virtio/virtio_input.ko"]

# The cdrom step (--l1 cdrom): AHCI, the SCSI CD-ROM driver and ISO 9660,
# in the order of the modules' depends=. Only that configuration carries
# them.
L2_CDROM_MODULES = [
    "drivers/scsi/scsi_common.ko",
    "drivers/scsi/scsi_mod.ko",
    "drivers/ata/libata.ko",
    "drivers/ata/libahci.ko",
    "drivers/ata/ahci.ko",
    "drivers/cdrom/cdrom.ko",
    "drivers/scsi/sr_mod.ko",
    "fs/isofs/isofs.ko",
]

# The sound step (--l1 sound): snd-hda-intel with the generic codec
# parser, in the order of the modules' depends= (snd-intel-dspcfg needs
# snd-intel-sdw-acpi, snd-hda-codec-generic needs ledtrig-audio). Only that
# configuration carries them.
L2_SOUND_MODULES = [
    "sound/soundcore.ko",
    "sound/core/snd.ko",
    "sound/core/snd-timer.ko",
    "sound/core/snd-pcm.ko",
    "sound/core/snd-hwdep.ko",
    "sound/hda/snd-hda-core.ko",
    "sound/hda/snd-intel-sdw-acpi.ko",
    "sound/hda/snd-intel-dspcfg.ko",
    "sound/pci/hda/snd-hda-codec.ko",
    "drivers/leds/trigger/ledtrig-audio.ko",
    "sound/pci/hda/snd-hda-codec-generic.ko",
    "sound/pci/hda/snd-hda-intel.ko",
]

# What aplay and arecord need besides their libraries: libasound's
# configuration (alsa.conf defines hw and plughw; cards/, ctl/ and pcm/ are what
# it includes for a card). Not alsa.conf.d, whose PulseAudio defaults would
# name plugins L2 does not have.
ALSA_CONFIG = ["alsa.conf", "cards", "ctl", "pcm"]
ALSA_DIR = "/usr/share/alsa"

# The tones of the sound step, made with sox: L2 plays SOUND_PLAY through
# the HDA controller into nook-vmm's wav backend, which feeds SOUND_RECORD
# (looped: one second of a 1 kHz sine holds whole periods) to L2's
# recording.
SOUND_PLAY = ("sine.wav", ["synth", "10", "sine", "440", "vol", "0.5"])
SOUND_RECORD = ("tone1k.wav", ["synth", "1", "sine", "1000", "vol", "0.5"])

# QEMU's RAM for L1: L2's memory plus an uncompressed initramfs of up to
# 80 MiB (the PVH kernel, or QEMU and its libraries), held twice while the
# kernel unpacks it.
L1_MEMORY_MIB = 1536


class Skip(Exception):
    """A prerequisite is missing on this machine; the checks report a skip."""


def log(msg):
    print(f"nested: {msg}", flush=True)


# ---- the kernel package ----

def kernel_package_name():
    """The versioned package linux-image-amd64 points at, e.g.
    linux-image-6.1.0-56-amd64."""
    try:
        out = subprocess.run(["apt-cache", "depends", "linux-image-amd64"],
                             capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError) as e:
        raise Skip(f"cannot ask apt-cache for the kernel package: {e}")
    m = re.search(r"Depends:\s*(linux-image-\S+)", out)
    if not m:
        raise Skip("apt-cache depends linux-image-amd64 names no kernel package "
                   "(is the package list up to date? run apt-get update)")
    return m.group(1)


def kernel_deb(out):
    """Finds or downloads the kernel .deb into out; never installs it."""
    name = kernel_package_name()
    def present():
        debs = sorted(f for f in os.listdir(out) if f.startswith(name + "_") and f.endswith(".deb"))
        return os.path.join(out, debs[-1]) if debs else None
    deb = present()
    if deb:
        return deb
    log(f"downloading {name} with apt-get download")
    r = subprocess.run(["apt-get", "download", name], cwd=out, capture_output=True, text=True)
    deb = present()
    if r.returncode != 0 or not deb:
        raise Skip(f"apt-get download {name} failed: {(r.stderr or r.stdout).strip()}")
    return deb


def unpack_kernel(out, deb, wanted_modules=None, subdir="linux"):
    """Unpacks the bzImage and the modules L1 and L2 load (or
    wanted_modules) from deb into out/subdir (only those: the whole package
    is 400 MB of modules nobody here loads). Returns (bzImage path,
    {module path in the package: path})."""
    if wanted_modules is None:
        wanted_modules = (KVM_MODULES + L2_MODULES + L2_INPUT_MODULES + L2_CDROM_MODULES
                          + L2_SOUND_MODULES)
        for mods in L2_VGA_MODULES.values():
            wanted_modules += [m for m in mods if m not in wanted_modules]
    dest = os.path.join(out, subdir)
    stamp = os.path.join(dest, ".unpacked-from")
    # The stamp names the package and the modules, so that a list that grew
    # unpacks again.
    what = "\n".join([os.path.basename(deb)] + wanted_modules)
    if not (os.path.exists(stamp) and open(stamp).read() == what):
        shutil.rmtree(dest, ignore_errors=True)
        os.makedirs(dest)
        wanted = ["./boot/vmlinuz-*"] + [f"./lib/modules/*/kernel/{m}*"
                                         for m in wanted_modules]
        tar = subprocess.Popen(["dpkg-deb", "--fsys-tarfile", deb], stdout=subprocess.PIPE)
        r = subprocess.run(["tar", "-x", "-C", dest, "--wildcards"] + wanted, stdin=tar.stdout)
        tar.stdout.close()
        if tar.wait() != 0 or r.returncode != 0:
            raise RuntimeError(f"cannot unpack {deb}")
        with open(stamp, "w") as f:
            f.write(what)
    boot = os.path.join(dest, "boot")
    images = [f for f in os.listdir(boot) if f.startswith("vmlinuz-")]
    if len(images) != 1:
        raise RuntimeError(f"{deb} holds {len(images)} kernel images, expected one")
    modules = {}
    moddir = os.path.join(dest, "lib", "modules")
    kver = os.listdir(moddir)[0]
    for m in wanted_modules:
        base = os.path.join(moddir, kver, "kernel", m)
        for ext in ("", ".xz", ".zst"):
            if os.path.exists(base + ext):
                modules[m] = base + ext
                break
        else:
            raise RuntimeError(f"{deb} has no {m}")
    return os.path.join(boot, images[0]), modules


def module_bytes(path):
    """busybox insmod takes plain .ko files only."""
    if path.endswith(".xz"):
        return lzma.decompress(open(path, "rb").read())
    if path.endswith(".zst"):
        if not shutil.which("zstd"):
            raise Skip("the kernel modules are zstd-compressed and zstd is not installed "
                       "(tests/setup-debian.sh nested)")
        return subprocess.run(["zstd", "-dc", path], capture_output=True, check=True).stdout
    return open(path, "rb").read()


def extract_vmlinux(bzimage, dest):
    """Writes the ELF kernel inside a bzImage. QEMU boots L1 from it through
    its PVH entry, which skips the decompressor (seconds under TCG); the pvh
    configuration boots L2 from it too."""
    if os.path.exists(dest) and os.path.getmtime(dest) >= os.path.getmtime(bzimage):
        return dest
    k = open(bzimage, "rb").read()
    setup_sects = k[0x1f1] or 4
    payload_offset, payload_length = struct.unpack_from("<II", k, 0x248)
    start = (setup_sects + 1) * 512 + payload_offset
    payload = k[start:start + payload_length]
    if payload.startswith(b"\xfd7zXZ\x00"):
        elf = lzma.LZMADecompressor().decompress(payload)
    elif payload.startswith(b"\x1f\x8b"):
        elf = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(payload)
    elif payload.startswith(b"\x28\xb5\x2f\xfd") and shutil.which("zstd"):
        elf = subprocess.run(["zstd", "-dc"], input=payload, capture_output=True, check=True).stdout
    else:
        raise RuntimeError(f"{bzimage}: payload compression {payload[:4].hex()} is not handled here")
    if not elf.startswith(b"\x7fELF"):
        raise RuntimeError(f"{bzimage}: the payload is not an ELF image")
    with open(dest + ".tmp", "wb") as f:
        f.write(elf)
    os.replace(dest + ".tmp", dest)
    return dest


# ---- initramfs ----

class Cpio:
    """A newc archive built in memory, so that device nodes need no root."""

    def __init__(self):
        self.data = bytearray()
        self.ino = 1
        self.dirs = set()

    def _entry(self, name, mode, body=b"", rdev=(0, 0)):
        name_b = name.encode() + b"\0"
        fields = [self.ino, mode, 0, 0, 2 if mode & 0o040000 else 1, 0, len(body),
                  0, 0, rdev[0], rdev[1], len(name_b), 0]
        self.ino += 1
        self.data += b"070701" + b"".join(b"%08x" % v for v in fields) + name_b
        self.data += b"\0" * (-len(self.data) % 4)
        self.data += body
        self.data += b"\0" * (-len(self.data) % 4)

    def dir(self, path):
        path = path.strip("/")
        parts = path.split("/")
        for i in range(1, len(parts) + 1):
            d = "/".join(parts[:i])
            if d and d not in self.dirs:
                self.dirs.add(d)
                self._entry(d, 0o040755)

    def file(self, path, body, mode=0o644):
        path = path.strip("/")
        self.dir(os.path.dirname(path))
        self._entry(path, 0o100000 | mode, body)

    def copy(self, path, src, mode=None):
        self.file(path, open(src, "rb").read(), mode if mode is not None else os.stat(src).st_mode & 0o777)

    def chardev(self, path, major, minor):
        path = path.strip("/")
        self.dir(os.path.dirname(path))
        self._entry(path, 0o020600, rdev=(major, minor))

    def finish(self):
        self._entry("TRAILER!!!", 0)
        return bytes(self.data)


def static_busybox():
    bb = shutil.which("busybox") or "/bin/busybox"
    if not os.path.exists(bb):
        raise Skip("busybox is not installed (tests/setup-debian.sh nested installs busybox-static)")
    if b"ld-linux" in open(bb, "rb").read(4096):
        raise Skip(f"{bb} is dynamically linked: install busybox-static "
                   "(tests/setup-debian.sh nested)")
    return bb


def shared_libraries(binary):
    """The loader and every library ldd finds for binary, as host paths."""
    out = subprocess.run(["ldd", binary], capture_output=True, text=True, check=True).stdout
    libs = []
    for line in out.splitlines():
        m = re.match(r"\s*\S+ => (/\S+) \(", line) or re.match(r"\s*(/\S+) \(", line)
        if m:
            libs.append(m.group(1))
        elif "not found" in line:
            raise RuntimeError(f"{binary}: {line.strip()}")
    return libs


def base_root(busybox, init):
    c = Cpio()
    for d in ("bin", "dev", "proc", "sys", "tmp"):
        c.dir(d)
    # The kernel opens /dev/console before init mounts devtmpfs.
    c.chardev("dev/console", 5, 1)
    c.chardev("dev/null", 1, 3)
    c.copy("bin/busybox", busybox, 0o755)
    c.copy("init", init, 0o755)
    return c


def build_l2_initramfs(busybox, exit_port, modules, vga="none", input_events=None, cdrom=False,
                       sound=None):
    """sound, for the sound step: {"pcm_stats": helper, "play": WAV file}."""
    c = base_root(busybox, os.path.join(HERE, "l2-init"))
    c.copy("bin/exit-port", exit_port, 0o755)
    with_input = vga != "none"
    for m in L2_MODULES + L2_VGA_MODULES[vga] + (L2_INPUT_MODULES if with_input else []) + \
            (L2_CDROM_MODULES if cdrom else []) + (L2_SOUND_MODULES if sound else []):
        c.file(f"lib/modules/{os.path.basename(m)}", module_bytes(modules[m]))
    if with_input and input_events:
        c.copy("bin/input-events", input_events, 0o755)
    if sound:
        add_sound_tools(c)
        c.copy("bin/pcm-stats", sound["pcm_stats"], 0o755)
        c.copy(SOUND_PLAY[0], sound["play"], 0o644)
    return c.finish()


def add_sound_tools(c):
    """aplay, arecord and amixer with their libraries and libasound's
    configuration, at the host's paths."""
    tools = [shutil.which(t) for t in ("aplay", "arecord", "amixer")]
    if not all(tools) or not os.path.exists(os.path.join(ALSA_DIR, "alsa.conf")):
        raise Skip("aplay, arecord, amixer or /usr/share/alsa/alsa.conf is missing (package alsa-utils; "
                   "tests/setup-debian.sh nested)")
    libs = []
    for t in tools:
        c.copy(f"bin/{os.path.basename(t)}", t, 0o755)
        libs += [lib for lib in shared_libraries(t) if lib not in libs]
    for lib in libs:
        c.copy(lib, os.path.realpath(lib), 0o755)
    for name in ALSA_CONFIG:
        top = os.path.join(ALSA_DIR, name)
        if os.path.isfile(top):
            c.copy(top, top, 0o644)
            continue
        for d, _, files in os.walk(top):
            for f in sorted(files):
                p = os.path.join(d, f)
                if os.path.isfile(p):
                    c.copy(p, p, 0o644)


def make_tones(out):
    """The sound step's WAV files, made with sox into out; returns
    {name: path}."""
    if not shutil.which("sox"):
        raise Skip("sox is not installed (package sox; tests/setup-debian.sh nested)")
    paths = {}
    for name, effect in (SOUND_PLAY, SOUND_RECORD):
        path = os.path.join(out, name)
        if not os.path.exists(path):
            r = subprocess.run(["sox", "-n", "-r", "48000", "-c", "2", "-b", "16",
                                path + ".tmp.wav"] + effect, capture_output=True, text=True)
            if r.returncode != 0:
                raise RuntimeError(f"sox failed: {r.stderr.strip()[-300:]}")
            os.replace(path + ".tmp.wav", path)
        paths[name] = path
    return paths


# ---- the boot disk for --l2-boot firmware ----

MBR_CODE = ["/usr/lib/SYSLINUX/mbr.bin", "/usr/lib/syslinux/mbr/mbr.bin"]
BOOT_PARTITION_LBA = 2048


def build_boot_disk(path, bzimage, l2_initramfs, append):
    """Writes a raw disk image that SeaBIOS boots: SYSLINUX's MBR code, one
    active FAT16 partition at 1 MiB with SYSLINUX installed by its mtools
    installer (no root, no loop device), and on it the bzImage, L2's
    initramfs and a syslinux.cfg that boots them on the serial console."""
    tools = {"mkfs.fat": "dosfstools", "mcopy": "mtools", "syslinux": "syslinux"}
    for tool, package in tools.items():
        if not shutil.which(tool):
            raise Skip(f"{tool} is not installed (package {package}; tests/setup-debian.sh nested)")
    mbr = next((f for f in MBR_CODE if os.path.exists(f)), None)
    if not mbr:
        raise Skip(f"no SYSLINUX MBR code ({' or '.join(MBR_CODE)}; package syslinux)")
    part = path + ".part"
    tmp = os.path.join(os.path.dirname(path), "boot-files")
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    cfg = os.path.join(tmp, "syslinux.cfg")
    with open(cfg, "w") as f:
        f.write("SERIAL 0 115200\nDEFAULT linux\nPROMPT 0\nTIMEOUT 0\n"
                "LABEL linux\n  LINUX /vmlinuz\n  INITRD /initrd\n"
                f"  APPEND {append}\n")
    initrd = os.path.join(tmp, "initrd")
    with open(initrd, "wb") as f:
        f.write(l2_initramfs)
    # Room for the files and the file system's own structures.
    need = os.path.getsize(bzimage) + len(l2_initramfs) + (2 << 20)
    part_mib = max(16, -(-need // (1 << 20)))
    if os.path.exists(part):
        os.unlink(part)
    def sh(*cmd):
        r = subprocess.run(list(cmd), capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed: {(r.stderr or r.stdout).strip()}")
    # Hidden sectors: where the partition starts, as a BIOS-booted FAT
    # boot sector expects.
    sh("mkfs.fat", "-C", "-F", "16", "-h", str(BOOT_PARTITION_LBA), "-n", "NOOKBOOT",
       part, str(part_mib * 1024))
    sh("mcopy", "-i", part, bzimage, "::vmlinuz")
    sh("mcopy", "-i", part, initrd, "::initrd")
    sh("mcopy", "-i", part, cfg, "::syslinux.cfg")
    sh("syslinux", "--install", part)
    code = open(mbr, "rb").read()[:440]
    sectors = part_mib << 11
    # One active partition, FAT16 with LBA (0x0e); CHS fields saying "use LBA".
    entry = struct.pack("<B3sB3sII", 0x80, b"\xfe\xff\xff", 0x0e, b"\xfe\xff\xff",
                        BOOT_PARTITION_LBA, sectors)
    sector0 = code.ljust(440, b"\0") + struct.pack("<IH", 0x4e4f4f4b, 0) + entry + \
        b"\0" * 48 + b"\x55\xaa"
    with open(path + ".tmp", "wb") as f:
        f.write(sector0.ljust(BOOT_PARTITION_LBA * 512, b"\0"))
        with open(part, "rb") as p:
            shutil.copyfileobj(p, f)
    os.replace(path + ".tmp", path)
    os.unlink(part)
    shutil.rmtree(tmp)
    return path


# What QEMU needs in L1 to boot a kernel directly with SeaBIOS.
QEMU_FIRMWARE = ["/usr/share/seabios/bios-256k.bin", "/usr/share/qemu/linuxboot_dma.bin",
                 "/usr/share/qemu/pvh.bin", "/usr/share/qemu/kvmvapic.bin"]
# And for each --l2-vga card: -vga std's option ROM (Debian's QEMU finds
# SeaBIOS's files where they are), virtio-gpu-pci's loadable modules.
QEMU_VGA_FILES = {
    "none": [],
    "std": ["/usr/share/seabios/vgabios-stdvga.bin"],
    "virtio": ["/usr/lib/x86_64-linux-gnu/qemu/hw-display-virtio-gpu.so",
               "/usr/lib/x86_64-linux-gnu/qemu/hw-display-virtio-gpu-pci.so"],
}


def build_l1_initramfs(busybox, vmm, nookctl, l2_kernel, modules, l2_initramfs,
                       boot_disk=None, firmware=None, vga="none", cdrom_iso=None, sound=None):
    """vmm is nook-vmm, or QEMU for a reference run. L2 boots from
    l2_kernel and l2_initramfs, or from boot_disk through firmware. sound,
    for the sound step: {"pcm_stats": helper, "record": WAV file}."""
    c = base_root(busybox, os.path.join(HERE, "l1-init"))
    for m in KVM_MODULES:
        c.file(f"lib/modules/{os.path.basename(m)}", module_bytes(modules[m]))
    binaries = [vmm]
    if os.path.basename(vmm).startswith("qemu-system"):
        c.copy("usr/bin/qemu-system-x86_64", vmm, 0o755)
        for f in QEMU_FIRMWARE + QEMU_VGA_FILES[vga]:
            c.copy(f, os.path.realpath(f), 0o644)
    else:
        c.copy("usr/bin/nook-vmm", vmm, 0o755)
        if firmware:
            # Where nook-vmm looks for it by default, with what lies next to
            # it (SeaBIOS's VGA BIOSes: nook-vmm gives a firmware-booted
            # machine a VGA with one).
            d = os.path.dirname(firmware)
            for f in sorted(os.listdir(d)):
                if f.endswith(".bin") and os.path.isfile(os.path.join(d, f)):
                    c.copy(os.path.join(d, f), os.path.realpath(os.path.join(d, f)), 0o644)
    if nookctl:
        c.copy("usr/bin/nookctl", nookctl, 0o755)
        binaries.append(nookctl)
    libs = []
    for b in binaries:
        libs += [lib for lib in shared_libraries(b) if lib not in libs]
    for lib in libs:
        # Same paths as on the host, so the loader's built-in search finds them.
        c.copy(lib, os.path.realpath(lib), 0o755)
    if cdrom_iso:
        c.copy("l2/cd.iso", cdrom_iso, 0o644)
    if sound:
        c.copy(SOUND_RECORD[0], sound["record"], 0o644)
        c.copy("bin/pcm-stats", sound["pcm_stats"], 0o755)
    if boot_disk:
        c.copy("l2/boot.img", boot_disk, 0o644)
    else:
        c.copy("l2/kernel", l2_kernel, 0o644)
        c.file("l2/initrd.cpio", l2_initramfs)
    return c.finish()


# ---- the disc of the cdrom step ----

CDROM_FILE = "data.bin"


def build_cdrom_iso(out, config):
    """An ISO 9660 image (not a hybrid one) holding CDROM_FILE, 300 KiB of
    bytes that are the same in every run; returns its path and what L2 must
    find: the image's size and sha256, and the file's sha256."""
    if not shutil.which("xorriso"):
        raise Skip("xorriso is not installed (package xorriso; tests/setup-debian.sh nested)")
    src = os.path.join(out, config + "-cd")
    shutil.rmtree(src, ignore_errors=True)
    os.makedirs(src)
    data = b"".join(hashlib.sha256(b"nook cdrom %d" % i).digest() for i in range(300 * 1024 // 32))
    with open(os.path.join(src, CDROM_FILE), "wb") as f:
        f.write(data)
    iso = os.path.join(out, config + "-cd.iso")
    r = subprocess.run(["xorriso", "-as", "mkisofs", "-R", "-V", "NOOKCD", "-o", iso, src],
                       capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"xorriso failed: {r.stderr.strip()[-300:]}")
    shutil.rmtree(src)
    image = open(iso, "rb").read()
    return iso, {"file": CDROM_FILE, "iso_bytes": len(image),
                 "iso_sha256": hashlib.sha256(image).hexdigest(),
                 "file_sha256": hashlib.sha256(data).hexdigest()}


# ---- the L0 run ----

class Screens:
    """Screendumps that L1 sends on its console, base64 between
    NESTED-L1-SCREEN-BEGIN name=NAME and NESTED-L1-SCREEN-END name=NAME
    bytes=N sha256=HEX: written to OUT/CONFIG-NAME.png and described in
    the result. Their data lines stay out of the log; a kernel message that
    comes in between is logged as usual (and a line it broke shows up as a
    wrong sha256)."""

    BEGIN = re.compile(r"^NESTED-L1-SCREEN-BEGIN name=([\w-]+)")
    END = re.compile(r"^NESTED-L1-SCREEN-END name=([\w-]+) bytes=(\d+) sha256=([0-9a-f]+)")
    DATA = re.compile(r"^[A-Za-z0-9+/=]+$")

    def __init__(self, out, config):
        self.out, self.config = out, config
        self.name = None
        self.lines = []
        self.saved = {}
        # What the last run wrote must not pass for this run's.
        try:
            with open(os.path.join(out, config + ".json")) as f:
                last = json.load(f).get("screens", {})
        except (OSError, ValueError):
            last = {}
        for info in last.values():
            if info.get("file") and os.path.exists(info["file"]):
                os.unlink(info["file"])

    def take(self, text):
        """Whether a line of L1's console is screen data, kept out of the log."""
        if self.name is None:
            m = self.BEGIN.match(text)
            if m:
                self.name, self.lines = m.group(1), []
            return False
        if self.DATA.match(text):
            self.lines.append(text)
            return True
        m = self.END.match(text)
        if m:
            self.save(m.group(1), int(m.group(2)), m.group(3))
            self.name = None
        return False

    def finish(self):
        """After the run: a screendump whose end never came."""
        if self.name is not None:
            self.saved[self.name] = {"name": self.name, "status": f"cut off after "
                                     f"{len(self.lines)} lines (no NESTED-L1-SCREEN-END)"}
            self.name = None

    def save(self, name, size, sha256):
        info = {"name": name, "bytes": size}
        try:
            data = base64.b64decode("".join(self.lines), validate=True)
        except ValueError as e:
            info["status"] = f"bad base64: {e}"
            self.saved[name] = info
            return
        got = hashlib.sha256(data).hexdigest()
        if len(data) != size or got != sha256:
            info["status"] = (f"damaged on the way: {len(data)} bytes with sha256 {got[:16]}..., "
                              f"L1 sent {size} bytes with sha256 {sha256[:16]}...")
        elif data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR":
            info["status"] = "not a PNG file"
        else:
            info["status"] = "ok"
            info["width"], info["height"] = struct.unpack(">II", data[16:24])
        path = os.path.join(self.out, f"{self.config}-{name}.png")
        with open(path, "wb") as f:
            f.write(data)
        info["file"] = path
        self.saved[name] = info


def run_qemu(args, vmlinux, initrd, logpath, screens):
    """Runs QEMU until it exits or the timeout; returns (status, timed_out,
    start epoch). L1's console (COM1, with QEMU's own messages) and L2's
    (L1's COM2) are merged into one log, L2's lines marked "L2| ", and
    written as they arrive, so that a run can be followed. Screendumps on
    L1's console go to screens."""
    start = time.time()
    l1_append = " ".join([
        "console=ttyS0", "panic=-1",
        f"nested.cpus={args.cpus}", f"nested.memory={args.memory}",
        f"nested.timeout={args.l2_timeout}", f"nested.hosttime={int(start)}",
        f"nested.vmm={args.l2_vmm}", f"nested.boot={args.l2_boot}",
        f"nested.l1={args.l1 or '-'}", f"nested.vga={args.l2_vga}",
        "--", args.l2_append,
    ]).strip()
    l2_read, l2_write = os.pipe()
    cmd = [args.qemu, "-accel", "tcg", "-M", "pc", "-cpu", "EPYC,+svm,+npt",
           "-smp", str(args.l1_cpus), "-m", str(L1_MEMORY_MIB),
           "-nodefaults", "-display", "none", "-no-reboot",
           "-serial", "stdio", "-serial", f"file:/dev/fd/{l2_write}",
           "-kernel", vmlinux, "-initrd", initrd, "-append", l1_append]
    with open(logpath, "w") as logf:
        logf.write(f"# {' '.join(repr(a) if ' ' in a else a for a in cmd)}\n")
        logf.write(f"# start {start:.3f}\n")
        logf.flush()
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, pass_fds=(l2_write,),
                                start_new_session=True)
        os.close(l2_write)
        streams = {proc.stdout.fileno(): ["", b""], l2_read: ["L2| ", b""]}
        timed_out = False
        deadline = start + args.timeout

        def emit(prefix, raw):
            text = raw.decode("utf-8", "replace").replace("\r", "")
            if not prefix and screens.take(text):
                return
            logf.write(f"[{time.time() - start:9.3f}] {prefix}{text}\n")
            logf.flush()

        try:
            while streams:
                left = deadline - time.time()
                if left <= 0:
                    timed_out = True
                    break
                ready, _, _ = select.select(list(streams), [], [], min(left, 1.0))
                for fd in ready:
                    prefix, buf = streams[fd]
                    chunk = os.read(fd, 65536)
                    if not chunk:
                        if buf:
                            emit(prefix, buf)
                        del streams[fd]
                        continue
                    buf += chunk
                    while b"\n" in buf:
                        line, buf = buf.split(b"\n", 1)
                        emit(prefix, line)
                    streams[fd][1] = buf
        except BaseException:
            # Interrupted (SIGTERM from meson's test timeout, ^C): QEMU is
            # in a session of its own, so it would outlive us.
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            raise
        if timed_out:
            os.killpg(proc.pid, signal.SIGKILL)
            for prefix, buf in streams.values():
                if buf:
                    emit(prefix, buf)
            logf.write(f"[{time.time() - start:9.3f}] # killed: no exit within {args.timeout} s\n")
        os.close(l2_read)
        status = proc.wait()
    return status, timed_out, start


MARKERS = {
    "l1_init": re.compile(r"^NESTED-L1-INIT\b"),
    "l1_kvm": re.compile(r"^NESTED-L1-KVM ok\b"),
    "l2_start": re.compile(r"^NESTED-L1-VMM-START\b"),
    "l2_kernel": re.compile(r"^L2\| .*Linux version"),
    "l2_init": re.compile(r"^L2\| NESTED-L2-INIT\b"),
    "l2_done": re.compile(r"^L2\| NESTED-L2-DONE\b"),
    "l2_exit": re.compile(r"^NESTED-L1-VMM-EXIT\b"),
}


def milestones(logpath):
    """Host seconds since QEMU started at which each marker first appeared."""
    times = {}
    for line in open(logpath, errors="replace"):
        m = re.match(r"\[\s*([\d.]+)\] (.*)", line)
        if not m:
            continue
        for key, rx in MARKERS.items():
            if key not in times and rx.search(m.group(2)):
                times[key] = float(m.group(1))
    return times


def parse_size(text):
    m = re.fullmatch(r"(\d+)([KMG]?)", text.upper())
    if not m:
        raise SystemExit(f"nested.py: bad size {text!r} (use e.g. 256M)")
    return int(m.group(1)) << {"": 20, "K": 10, "M": 20, "G": 30}[m.group(2)]


def run(args):
    out = args.out
    result = {"config": args.config, "l2_vmm": args.l2_vmm, "cpus": args.cpus,
              "memory": args.memory, "l2_boot": args.l2_boot, "l1": args.l1,
              "l2_vga": args.l2_vga,
              "memory_bytes": parse_size(args.memory), "l2_append": args.l2_append,
              "log": os.path.join(out, args.config + ".log")}
    try:
        if not shutil.which(args.qemu):
            raise Skip(f"{args.qemu} is not installed (tests/setup-debian.sh nested)")
        busybox = static_busybox()
        deb = kernel_deb(out)
        bzimage, modules = unpack_kernel(out, deb)
        vmlinux = extract_vmlinux(bzimage, os.path.join(out, "linux", "vmlinux"))
        cdrom = "cdrom" in (args.l1 or "").split(",")
        sound = None
        if "sound" in (args.l1 or "").split(","):
            if not args.pcm_stats:
                raise RuntimeError("--l1 sound needs --pcm-stats")
            tones = make_tones(out)
            sound = {"pcm_stats": args.pcm_stats, "play": tones[SOUND_PLAY[0]],
                     "record": tones[SOUND_RECORD[0]]}
        l2 = build_l2_initramfs(busybox, args.exit_port, modules, args.l2_vga,
                                args.input_events, cdrom, sound)
        cdrom_iso = None
        if cdrom:
            cdrom_iso, result["cdrom"] = build_cdrom_iso(out, args.config)
        l2_kernel = vmlinux if args.l2_boot == "pvh" else bzimage
        vmm = args.vmm if args.l2_vmm == "nook" else shutil.which(args.qemu)
        boot_disk = firmware = None
        if args.l2_boot == "firmware":
            if not os.path.exists(args.firmware):
                raise Skip(f"{args.firmware} is missing (package seabios; tests/setup-debian.sh nested)")
            firmware = args.firmware
            # The command line l1-init gives a directly booted L2.
            append = f"console=ttyS0 panic=-1 {args.l2_append}".strip()
            boot_disk = build_boot_disk(os.path.join(out, args.config + "-boot.img"),
                                        bzimage, l2, append)
        l1 = build_l1_initramfs(busybox, vmm, args.nookctl, l2_kernel, modules, l2,
                                boot_disk, firmware, args.l2_vga, cdrom_iso, sound)
        # Uncompressed: unpacking gzip in L1 would cost seconds of TCG time,
        # and most of the bytes are the already-compressed bzImage.
        initrd = os.path.join(out, args.config + "-l1.cpio")
        with open(initrd, "wb") as f:
            f.write(l1)
        result["kernel_package"] = os.path.basename(deb)
        vmm_name = {"nook": "nook-vmm", "qemu": "QEMU"}[args.l2_vmm]
        log(f"{args.config}: booting {os.path.basename(deb)}, L2 from the {args.l2_boot} under "
            f"{vmm_name} with {args.cpus} CPU(s) and {args.memory} ({len(l1) >> 20} MiB initramfs)")
        screens = Screens(out, args.config)
        status, timed_out, start = run_qemu(args, vmlinux, initrd, result["log"], screens)
        screens.finish()
        result.update(status="ran", qemu_status=status, timed_out=timed_out, start_epoch=start,
                      elapsed=time.time() - start, times=milestones(result["log"]),
                      screens=screens.saved)
        for info in screens.saved.values():
            log(f"{args.config}: screendump {info['name']}: {info['status']}"
                + (f", {info['width']}x{info['height']}, {info['file']}" if "width" in info else ""))
        t = result["times"]
        log(f"{args.config}: QEMU exited with {status}{' (timed out)' if timed_out else ''} "
            f"after {result['elapsed']:.1f} s; L1 /init at {t.get('l1_init', '-')} s, "
            f"{vmm_name} at {t.get('l2_start', '-')} s, L2 /init at {t.get('l2_init', '-')} s")
    except Skip as e:
        result.update(status="skip", reason=str(e))
        log(f"{args.config}: skipped: {e}")
    except Exception as e:
        result.update(status="error", reason=f"{type(e).__name__}: {e}",
                      traceback=traceback.format_exc())
        log(f"{args.config}: error: {e}")
    with open(os.path.join(out, args.config + ".json.tmp"), "w") as f:
        json.dump(result, f, indent=1)
    os.replace(os.path.join(out, args.config + ".json.tmp"), os.path.join(out, args.config + ".json"))


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", required=True, help="directory for the kernel, initramfs and logs")
    p.add_argument("--config", required=True, help="name of this configuration (NAME.log, NAME.json)")
    p.add_argument("--vmm", help="nook-vmm binary to put in L1")
    p.add_argument("--nookctl", help="nookctl binary to put in L1 (for the control socket: "
                   "its events in the log, the power button)")
    p.add_argument("--l2-vmm", choices=["nook", "qemu"], default="nook",
                   help="run L2 under nook-vmm, or under QEMU (the reference, on L1's KVM, "
                   "with isa-debug-exit at 0xf4) to tell nook-vmm's faults from the "
                   "environment's")
    p.add_argument("--exit-port", required=True, help="static exit-port helper for L2")
    p.add_argument("--input-events", help="static reader of event devices for L2's input "
                   "step (in L2's initramfs with a graphics card)")
    p.add_argument("--pcm-stats", help="static WAV analyser for the sound step (in L1's and "
                   "L2's initramfs with --l1 sound)")
    p.add_argument("--cpus", type=int, default=1, help="L2's --cpus")
    p.add_argument("--l1-cpus", type=int, help="QEMU's -smp for L1 (default: --cpus)")
    p.add_argument("--memory", default="256M", help="L2's --memory")
    p.add_argument("--l2-append", default="", help="added to L2's kernel command line")
    p.add_argument("--l2-boot", choices=["bzimage", "pvh", "firmware"], default="bzimage",
                   help="boot L2 from the bzImage (64-bit boot protocol), from the "
                   "ELF inside it (PVH entry), or through the firmware from a disk image "
                   "with SYSLINUX, the bzImage and L2's initramfs")
    p.add_argument("--firmware", default="/usr/share/seabios/bios.bin",
                   help="nook-vmm's default firmware, put at the same path in L1 for "
                   "--l2-boot firmware")
    p.add_argument("--l2-vga", choices=sorted(L2_VGA_MODULES), default="none",
                   help="L2's graphics card (--vga); its DRM driver goes into L2's initramfs")
    p.add_argument("--l1", default="",
                   help="what L1 does besides running the VMM, comma-separated: disk "
                   "(give L2 a 16 MiB disk and an 8 MiB read-only one, watch the first), "
                   "button (press the power button every 2 s), reboot (let L2 reset "
                   "instead of passing --no-reboot), screen (give L2 a mailbox disk; when "
                   "L2 marks it, take a screendump, send it here and ask for another display "
                   "size), input (once L2 marks the mailbox, ask nook-vmm which devices get "
                   "input, send a pointer move and clicks and keys), cdrom (give L2 a DVD-ROM "
                   "drive on AHCI holding an ISO made here), sound (give L2 an HD Audio "
                   "controller whose output nook-vmm writes to a WAV file and whose input is "
                   "a 1 kHz tone; L1 describes the output after the run)")
    # A run takes 20-45 s on a 2-core host (disk, with two L2 boots, up to
    # 60 s); these bound a hang so that the ten configurations stay under
    # twelve minutes even if every one of them hangs.
    p.add_argument("--timeout", type=int, default=int(os.environ.get("NESTED_TIMEOUT", 110)),
                   help="seconds before QEMU (L0) is killed (default 110, or $NESTED_TIMEOUT)")
    p.add_argument("--l2-timeout", type=int, default=int(os.environ.get("NESTED_L2_TIMEOUT", 100)),
                   help="seconds before L1 kills the VMM (default 100, or $NESTED_L2_TIMEOUT)")
    p.add_argument("--qemu", default="qemu-system-x86_64")
    args = p.parse_args()
    args.l1_cpus = args.l1_cpus or args.cpus
    if args.l2_vmm == "nook" and not args.vmm:
        p.error("--vmm is needed unless --l2-vmm qemu")
    args.out = os.path.abspath(args.out)
    os.makedirs(args.out, exist_ok=True)
    # meson test ends a test that ran out of time with SIGTERM to its process
    # group; run_qemu then kills QEMU, which is not in that group.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    # One run at a time: runs share the unpacked kernel, and two TCG machines
    # on a small host would slow each other into timer trouble.
    with open(os.path.join(args.out, "nested.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        run(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
