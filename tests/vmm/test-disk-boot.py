#!/usr/bin/env python3
"""SeaBIOS boots from a virtio-blk disk: a raw image whose boot sector (built
at test time) prints a line and exits through the debug-exit port; also a
read-only disk boots, and a bad --disk is refused with a clear message."""
import os
import shutil
import subprocess
import sys

import nooktest
from nooktest import check


def boot(vmm, spec, *extra):
    p = subprocess.run([vmm, "--disk", spec, "--control", "none", *extra], stdin=subprocess.DEVNULL,
                       capture_output=True, timeout=nooktest.scaled(120))
    return p.returncode, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")


def main():
    vmm, sector = os.path.abspath(sys.argv[1]), sys.argv[2]
    nooktest.need_kvm()
    tmp = nooktest.tmpdir()
    img = os.path.join(tmp, "disk.img")
    with open(img, "wb") as f:
        f.write(open(sector, "rb").read().ljust(512, b"\0"))
        f.truncate(2 << 20)
    before = open(img, "rb").read()

    status, out, err = boot(vmm, img + ",format=raw", "-v")
    check(status == (0x2a << 1) | 1 and "NOOK BOOTED FROM VIRTIO" in out,
          f"SeaBIOS boots the disk (status {status}, output {out[-200:]!r}, {err.strip()[-300:]!r})")
    check("Booting from Hard Disk" in out, "the firmware says it boots from the hard disk")
    # The firmware's notifications reach the device's I/O thread through a
    # KVM ioeventfd, not through an exit to nook-vmm.
    check("queue 0 notifications at 0x" in err and "go to its I/O thread" in err,
          f"queue notifications are routed past the VMM: {err.strip()[-300:]!r}")
    check("warning" not in err and "error" not in err, f"nothing went wrong: {err.strip()[-300:]!r}")
    status, out, err = boot(vmm, img + ",readonly")
    check(status == (0x2a << 1) | 1, f"a read-only disk boots too (status {status})")
    check(open(img, "rb").read() == before, "booting changed nothing in the image")

    status, out, err = boot(vmm, img + ",format=qcow7")
    check(status == 2 and "unknown option 'format=qcow7'" in err, f"bad format refused: {err.strip()!r}")
    odd = os.path.join(tmp, "odd.img")
    with open(odd, "wb") as f:
        f.write(b"x" * 1000)
    status, out, err = boot(vmm, odd)
    check(status == 2 and "512-byte sectors" in err, f"a truncated image is refused: {err.strip()!r}")
    status, out, err = boot(vmm, os.path.join(tmp, "missing.img"))
    check(status == 2 and "cannot open disk image" in err, f"a missing image is refused: {err.strip()!r}")
    shutil.rmtree(tmp)


nooktest.run_main(main)
