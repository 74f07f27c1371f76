#!/usr/bin/env python3
"""SeaBIOS boots an El Torito no-emulation image from the AHCI DVD-ROM drive:
an ISO made here with xorriso (not a hybrid image: nothing but the El Torito
record makes it bootable) whose boot image writes a line to COM1 and leaves
through the debug-exit port. QEMU's q35 boots the same ISO as the peer, and
both must print the same line. Also: a bad --cdrom is refused, an empty
drive (--cdrom none) boots nothing, and the control socket swaps discs."""
import os
import shutil
import subprocess
import sys
import time

import nooktest
from nooktest import check

MARKER = "NOOK BOOTED FROM CDROM"
EXIT_STATUS = (0x2a << 1) | 1


def make_iso(tmp, boot):
    src = os.path.join(tmp, "iso")
    os.makedirs(src)
    shutil.copy(boot, os.path.join(src, "boot.bin"))
    with open(os.path.join(src, "readme.txt"), "w") as f:
        f.write("a disc for nook-vmm's CD-ROM test\n")
    iso = os.path.join(tmp, "boot.iso")
    subprocess.run(["xorriso", "-as", "mkisofs", "-R", "-J", "-b", "boot.bin", "-no-emul-boot",
                    "-boot-load-size", "4", "-o", iso, src], check=True, capture_output=True)
    return iso


def serial_text(path):
    try:
        return open(path, errors="replace").read()
    except FileNotFoundError:
        return ""


def run_nook(vmm, tmp, iso):
    log = os.path.join(tmp, "nook-serial.log")
    p = subprocess.run([vmm, "--cdrom", iso, "--serial", "file:" + log, "--control", "none"],
                       stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=nooktest.scaled(120))
    return p.returncode, serial_text(log), p.stderr


def run_qemu(tmp, iso):
    qemu = shutil.which("qemu-system-x86_64")
    if not qemu:
        return None, "", "no qemu-system-x86_64"
    log = os.path.join(tmp, "qemu-serial.log")
    p = subprocess.run([qemu, "-accel", "kvm", "-M", "q35", "-m", "256", "-cdrom", iso,
                        "-serial", "file:" + log, "-display", "none", "-nodefaults",
                        "-device", "isa-debug-exit,iobase=0xf4,iosize=4"],
                       stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=nooktest.scaled(120))
    return p.returncode, serial_text(log), p.stderr


def marker_lines(text):
    # SeaBIOS mirrors its own console on COM1, so the marker may share a line.
    return [l[l.index(MARKER):].strip() for l in text.splitlines() if MARKER in l]


def main():
    vmm, boot = os.path.abspath(sys.argv[1]), sys.argv[2]
    nooktest.need_kvm()
    if not shutil.which("xorriso"):
        print("skipped: xorriso (package xorriso) is not installed")
        sys.exit(nooktest.SKIP)
    tmp = nooktest.tmpdir()
    iso = make_iso(tmp, boot)
    with open(iso, "rb") as f:
        head = f.read(512)
    check(head[510:512] != b"\x55\xaa", "the ISO is not a hybrid image (no MBR)")

    status, out, err = run_nook(vmm, tmp, iso)
    check(status == EXIT_STATUS and MARKER in out,
          f"SeaBIOS boots the ISO from the DVD-ROM drive (status {status}, serial {out[-300:]!r}, "
          f"stderr {err.strip()[-300:]!r})")
    check("Booting from DVD/CD" in out, "the firmware says it boots from the DVD/CD")
    check("warning" not in err and "error" not in err, f"nothing went wrong: {err.strip()[-300:]!r}")

    qstatus, qout, qerr = run_qemu(tmp, iso)
    if qstatus is None:
        print("note: no QEMU here; the peer comparison is skipped")
    else:
        check(qstatus == EXIT_STATUS and MARKER in qout,
              f"QEMU's q35 boots the same ISO (status {qstatus}, serial {qout[-300:]!r}, "
              f"stderr {qerr.strip()[-300:]!r})")
        check(marker_lines(out) == marker_lines(qout),
              f"both print the same line: {marker_lines(out)!r} and {marker_lines(qout)!r}")

    p = subprocess.run([vmm, "--cdrom", os.path.join(tmp, "missing.iso"), "--control", "none"],
                       stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=nooktest.scaled(60))
    check(p.returncode == 2 and "--cdrom" in p.stderr and "cannot open" in p.stderr,
          f"a missing ISO is refused: {p.stderr.strip()!r}")

    # An empty drive: the firmware finds no bootable disc and the control
    # socket can put one in (the guest sees it at its next boot here).
    sock = os.path.join(tmp, "control.sock")
    log = os.path.join(tmp, "empty-serial.log")
    proc = subprocess.Popen([vmm, "--cdrom", "none", "--serial", "file:" + log, "--control", sock],
                            stdin=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        ctl = nooktest.Control(sock)
        r = ctl.execute("change-cdrom", {"file": os.path.join(tmp, "missing.iso")})
        check("error" in r and "cannot open" in r["error"]["desc"],
              f"change-cdrom to a missing file fails: {r!r}")
        r = ctl.execute("eject-cdrom")
        check("return" in r, f"eject-cdrom of an empty drive succeeds: {r!r}")
        r = ctl.execute("change-cdrom", {"file": iso})
        check("return" in r, f"change-cdrom puts the ISO in: {r!r}")
        # SeaBIOS found the drive empty at boot; a reset boots the disc.
        r = ctl.execute("reset")
        check("return" in r, f"reset: {r!r}")
        try:
            proc.wait(timeout=nooktest.scaled(120))
        except subprocess.TimeoutExpired:
            pass
        check(proc.returncode == EXIT_STATUS and MARKER in serial_text(log),
              f"after change-cdrom and a reset the disc boots (status {proc.returncode}, "
              f"serial {serial_text(log)[-300:]!r})")
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
    shutil.rmtree(tmp)


nooktest.run_main(main)
