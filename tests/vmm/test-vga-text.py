#!/usr/bin/env python3
"""SeaBIOS's text screen through the std VGA: nook-vmm boots the firmware
with no disk ('No bootable device'), a screendump through the control
socket (and nookctl) is a 720x400 PNG in which tesseract reads the SeaBIOS
banner; QEMU -vga std shows the same banner, read the same and drawn with
the same pixels. Also: screendump's errors (no display, a path that cannot
be written, no file argument)."""
import os
import shutil
import subprocess
import sys
import time

import nooktest
from nooktest import check

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "guest"))
import images  # noqa: E402

BANNER = "SeaBIOS (version"
# One text row of the 9x16 font at the top of the screen holds the banner.
BANNER_ROWS = 16


def ocr(png):
    p = subprocess.run(["tesseract", png, "-", "--psm", "6"], capture_output=True, text=True, timeout=nooktest.scaled(120))
    return [" ".join(line.split()) for line in p.stdout.splitlines() if line.strip()]


def banner_line(lines):
    return next((line for line in lines if BANNER in line), None)


def nook_screen(vmm, nookctl, tmp):
    sock, serial = os.path.join(tmp, "c.sock"), os.path.join(tmp, "serial.log")
    png = os.path.join(tmp, "nook.png")
    proc = subprocess.Popen([vmm, "--control", sock, "--serial", "file:" + serial],
                            stdin=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        c = nooktest.Control(sock)
        check(nooktest.wait_for_text(serial, "No bootable device", 90), "SeaBIOS finds no bootable device")
        r = c.execute("screendump", {"file": png}, id=3)
        check(r == {"return": {}, "id": 3}, f"screendump returns {{}}: {r}")
        w, h, _ = images.read_png(png)
        check((w, h) == (720, 400), f"the text screen is 720x400 (80x25 cells of 9x16): {w}x{h}")

        rel = "nookctl.png"
        p = subprocess.run([nookctl, "--control", sock, "screendump", rel], cwd=tmp,
                           capture_output=True, text=True, timeout=nooktest.scaled(30))
        check(p.returncode == 0 and os.path.exists(os.path.join(tmp, rel)),
              f"nookctl screendump with a relative path writes there: {p.stderr.strip()!r}")

        r = c.execute("screendump", {"file": os.path.join(tmp, "no", "such", "dir.png")})
        check(r.get("error", {}).get("class") == "GenericError" and "cannot open" in r["error"]["desc"],
              f"an unwritable path is an error: {r}")
        r = c.execute("screendump")
        check(r.get("error", {}).get("class") == "InvalidArgument", f"no file is an error: {r}")
        r = c.execute("screendump", {"file": 7})
        check(r.get("error", {}).get("class") == "InvalidArgument", f"a file that is no string: {r}")
        check(c.execute("quit")["return"] == {}, "quit")
        check(proc.wait(timeout=nooktest.scaled(10)) == 0, "nook-vmm exits 0")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        err = proc.stderr.read()
        if err:
            print("nook-vmm stderr:\n" + err)
    return png


def no_display(vmm, tmp):
    sock = os.path.join(tmp, "none.sock")
    proc = subprocess.Popen([vmm, "--control", sock, "--serial", "none", "--vga", "none"],
                            stdin=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        c = nooktest.Control(sock)
        r = c.execute("screendump", {"file": os.path.join(tmp, "none.png")})
        check(r.get("error", {}).get("class") == "GenericError" and "no display" in r["error"]["desc"]
              and not os.path.exists(os.path.join(tmp, "none.png")),
              f"--vga none: screendump says there is no display: {r}")
        c.execute("quit")
        proc.wait(timeout=nooktest.scaled(10))
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    p = subprocess.run([vmm, "--vga", "vesa"], capture_output=True, text=True, timeout=nooktest.scaled(10))
    check(p.returncode == 2 and "--vga vesa" in p.stderr, f"--vga vesa is refused: {p.stderr.strip()!r}")


def qemu_screen(qemu, tmp):
    import json
    import socket
    qmp, debug, png = (os.path.join(tmp, n) for n in ("qmp.sock", "qemu-debug.log", "qemu.png"))
    proc = subprocess.Popen([qemu, "-M", "q35", "-accel", "tcg", "-nodefaults", "-no-user-config",
                             "-vga", "std", "-display", "none", "-m", "512",
                             "-qmp", f"unix:{qmp},server=on,wait=off",
                             "-chardev", f"file,id=dbg,path={debug}",
                             "-device", "isa-debugcon,iobase=0x402,chardev=dbg"],
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        check(nooktest.wait_for_text(debug, "No bootable device", 120), "QEMU's SeaBIOS finds no bootable device")
        s = socket.socket(socket.AF_UNIX)
        s.connect(qmp)
        f = s.makefile("rw")
        f.readline()
        for cmd in ({"execute": "qmp_capabilities"},
                    {"execute": "screendump", "arguments": {"filename": png, "format": "png"}},
                    {"execute": "quit"}):
            f.write(json.dumps(cmd) + "\n")
            f.flush()
            while True:
                reply = json.loads(f.readline())
                if "event" not in reply:
                    break
        proc.wait(timeout=nooktest.scaled(20))
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return png


def main():
    vmm, nookctl = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    nooktest.need_kvm()
    if not shutil.which("tesseract"):
        print("skipped: tesseract is not installed (tests/setup-debian.sh test installs tesseract-ocr)")
        sys.exit(nooktest.SKIP)
    tmp = nooktest.tmpdir()
    png = nook_screen(vmm, nookctl, tmp)
    lines = ocr(png)
    print("nook-vmm's screen reads:\n  " + "\n  ".join(lines))
    ours = banner_line(lines)
    check(ours is not None, f"OCR reads the SeaBIOS banner on nook-vmm's screen: {ours!r}")
    check(any("No bootable device" in line for line in lines), "and 'No bootable device'")
    no_display(vmm, tmp)

    qemu = shutil.which("qemu-system-x86_64")
    if not qemu:
        print("QEMU not found: no reference screen")
        return
    qpng = qemu_screen(qemu, tmp)
    qlines = ocr(qpng)
    print("QEMU's screen reads:\n  " + "\n  ".join(qlines))
    check(banner_line(qlines) == ours, f"QEMU's banner reads the same: {banner_line(qlines)!r}")
    a, b = images.read_png(png), images.read_png(qpng)
    check((a[0], a[1]) == (b[0], b[1]), f"both screens are {a[0]}x{a[1]}")
    rows = a[0] * 3 * BANNER_ROWS
    check(a[2][:rows] == b[2][:rows], "the banner's text row has the same pixels on both")
    shutil.rmtree(tmp)


nooktest.run_main(main)
