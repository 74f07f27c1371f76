#!/usr/bin/env python3
"""Keyboard and mouse from the control socket to a guest's PS/2 driver:
nookctl send-key and send-pointer against tests/guest/input.c, which prints
every byte the i8042 gives it. The bytes must be the exact scan code set 1
make and break codes (the keyboard speaks set 2, the controller
translates), and the mouse packets must carry the right buttons, signs and
9-bit deltas, with y pointing up as PS/2 has it. This runs the input
router, the key tables and the i8042 end to end; --display none, no
window. powerdown reaches the guest as an ACPI power button press."""
import os
import subprocess
import sys
import time

import nooktest
from nooktest import check

# (keys for send-key, the bytes the guest must print for them)
KEYS = [
    ("a", ["1e", "9e"]),
    ("shift-a", ["2a", "1e", "9e", "aa"]),
    ("ctrl-alt-delete", ["1d", "38", "e0", "53", "e0", "d3", "b8", "9d"]),
    ("up", ["e0", "48", "e0", "c8"]),
    ("kp_enter", ["e0", "1c", "e0", "9c"]),
    ("f12", ["58", "d8"]),
    ("shift_r-1", ["36", "02", "82", "b6"]),
]

# (send-pointer arguments, the packet the guest must print)
POINTER = [
    # right and down on the host: x positive, y negative (PS/2 y points up)
    (["dx=5", "dy=5", "buttons=1"], "29 05 fb"),
    # left and up with the right button: x negative, y positive
    (["dx=-3", "dy=-7", "buttons=2"], "1a fd 07"),
    # the middle button and no motion
    (["buttons=4"], "0c 00 00"),
    (["buttons=0"], "08 00 00"),
    # more than nine bits hold: clamped to the largest packet values
    (["dx=300", "dy=-300"], "08 ff ff"),
    (["dx=-300", "dy=300"], "38 00 00"),
]


def start_guest(vmm, image, tmp):
    log, sock = os.path.join(tmp, "serial.log"), os.path.join(tmp, "control.sock")
    g = nooktest.SerialGuest([vmm, "--kernel", image, "--display", "none", "--control", sock,
                              "--serial", "file:" + log], log)
    g.sock = sock
    return g


def nookctl(ctl, sock, *args):
    return subprocess.run([ctl, "--control", sock, *args], capture_output=True, text=True, timeout=nooktest.scaled(30))


def main():
    vmm, ctl, guests = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2]), sys.argv[3]
    nooktest.need_kvm()
    tmp = nooktest.tmpdir()
    g = start_guest(vmm, os.path.join(guests, "input.elf"), tmp)
    try:
        deadline = time.time() + nooktest.scaled(60)
        while "ready for input" not in g.lines() and time.time() < deadline and g.proc.poll() is None:
            time.sleep(0.1)
        lines = g.lines()
        check("ready for input" in lines, "the guest set up the i8042 and waits for input")
        check("= mouse status 00 02 64" in lines, "the mouse took 100 samples/s and 4 counts/mm")
        g.pos = lines.index("ready for input") + 1

        p = nookctl(ctl, g.sock, "--json", "query-input")
        check(p.returncode == 0 and '"keyboard":"ps2-keyboard"' in p.stdout.replace(" ", "")
              and '"absolute":false' in p.stdout.replace(" ", ""),
              f"query-input names the PS/2 keyboard and no absolute pointer: {p.stdout.strip()}")

        for keys, codes in KEYS:
            p = nookctl(ctl, g.sock, "send-key", keys)
            check(p.returncode == 0, f"nookctl send-key {keys}: {p.stderr.strip()!r}")
            want = [f"kbd {c}" for c in codes]
            got = g.wait_lines(want)
            check(got is None, f"{keys} arrives as {' '.join(codes)}" + (f", got {got}" if got else ""))

        for args, packet in POINTER:
            p = nookctl(ctl, g.sock, "send-pointer", *args)
            check(p.returncode == 0, f"nookctl send-pointer {' '.join(args)}: {p.stderr.strip()!r}")
            got = g.wait_lines([f"aux {packet}"])
            check(got is None, f"send-pointer {' '.join(args)} arrives as {packet}"
                  + (f", got {got}" if got else ""))

        p = nookctl(ctl, g.sock, "send-pointer", "x=100", "y=100")
        check(p.returncode != 0 and "no absolute pointer" in p.stderr,
              f"absolute positions without a tablet are refused: {p.stderr.strip()!r}")
        p = nookctl(ctl, g.sock, "send-key", "ctrl-nosuchkey")
        check(p.returncode != 0 and "nosuchkey" in p.stderr,
              f"an unknown key name is refused: {p.stderr.strip()!r}")
        check(g.wait_lines(["x"], timeout=0.5) == [], "refused requests send the guest nothing")

        p = nookctl(ctl, g.sock, "powerdown")
        check(p.returncode == 0, f"nookctl powerdown: {p.stderr.strip()!r}")
        check(g.wait_lines(["power button"]) is None, "the guest sees the power button pressed")

        p = nookctl(ctl, g.sock, "send-key", "esc")
        check(p.returncode == 0, "nookctl send-key esc")
        check(g.wait_lines(["kbd 01"]) is None, "Escape arrives as 01")
        status = g.proc.wait(timeout=nooktest.scaled(30))
        check(status == 1 and "PASS" in g.lines(), f"the guest passes (status {status})")
    finally:
        if g.proc.poll() is None:
            g.proc.kill()
            g.proc.wait()
        err = g.proc.stderr.read()
        if err:
            print("nook-vmm stderr:\n" + err)


nooktest.run_main(main)
