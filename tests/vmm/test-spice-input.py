#!/usr/bin/env python3
"""Keyboard and mouse from SPICE clients to a guest's PS/2 driver
(tests/guest/input.c prints every byte the i8042 gives it):
- tests/peer/spice-client sends set 1 scancodes and relative motion over the
  inputs channel, and the guest gets exactly those make and break codes and
  the mouse packets with the right buttons and signs;
- remote-viewer (virt-viewer) on an Xvfb display, connected to the unix
  socket, gets keys typed by xdotool (XTEST) and a click, and the guest
  sees them.
No absolute pointer here: the guest has no tablet driver, so clients stay in
server (relative) mouse mode."""
import os
import shutil
import subprocess
import sys
import time

import nooktest
from nooktest import check

# (scancodes for spice-client --keys, the bytes the guest must print)
KEYS = [
    ("1e", ["1e", "9e"]),                   # a
    ("2a,1e", ["2a", "aa", "1e", "9e"]),    # left shift, a
    ("148", ["e0", "48", "e0", "c8"]),      # up (e0 48)
    ("11c", ["e0", "1c", "e0", "9c"]),      # keypad enter
    ("58", ["58", "d8"]),                   # F12
]

# (spice-client --motion DX,DY,BUTTONS with SPICE's wire button bits: 1
# left, 2 middle, 4 right; the packet)
MOTION = [
    ("5,5,1", "29 05 fb"),      # right and down, left button: y points up on PS/2
    ("-3,-7,4", "1a fd 07"),    # SPICE's right button is bit 2, PS/2's bit 1
    ("1,0,2", "0c 01 00"),      # middle (a motion of 0,0 is not sent)
    ("-1,0,0", "18 ff 00"),
]


def start_guest(vmm, image, tmp):
    log, spice = os.path.join(tmp, "serial.log"), os.path.join(tmp, "spice.sock")
    g = nooktest.SerialGuest([vmm, "--kernel", image, "--vga", "std", "--control", "none",
                              "--spice", "unix:" + spice, "--serial", "file:" + log], log)
    g.spice = spice
    return g


def spice_client(client, sock, *args):
    return subprocess.run([client, "--uri", "spice+unix://" + sock, *args], capture_output=True, text=True,
                          timeout=nooktest.scaled(60))


def through_spice_client(g, client):
    for keys, codes in KEYS:
        p = spice_client(client, g.spice, "--keys", keys)
        check(p.returncode == 0, f"spice-client --keys {keys}: {p.stderr.strip()!r}")
        got = g.wait_lines([f"kbd {c}" for c in codes], skip=True)
        check(got is None, f"scancodes {keys} arrive as {' '.join(codes)}" + (f", got {got}" if got else ""))
    for motion, packet in MOTION:
        p = spice_client(client, g.spice, "--motion", motion)
        check(p.returncode == 0, f"spice-client --motion {motion}: {p.stderr.strip()!r}")
        got = g.wait_lines([f"aux {packet}"], skip=True)
        check(got is None, f"motion {motion} arrives as {packet}" + (f", got {got}" if got else ""))


def start_xvfb(tmp):
    r, w = os.pipe()
    xvfb = subprocess.Popen(["Xvfb", "-displayfd", str(w), "-screen", "0", "1280x1024x24", "-nolisten", "tcp"],
                            pass_fds=(w,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(w)
    with os.fdopen(r) as f:
        num = f.readline().strip()
    check(num.isdigit(), "Xvfb started")
    return xvfb, ":" + num


def through_remote_viewer(g, tmp):
    xvfb, display = start_xvfb(tmp)
    env = dict(os.environ, DISPLAY=display, GDK_BACKEND="x11", NO_AT_BRIDGE="1")
    rv = subprocess.Popen(["remote-viewer", "spice+unix://" + g.spice], env=env,
                          stdout=subprocess.DEVNULL, stderr=open(os.path.join(tmp, "remote-viewer.log"), "w"))
    try:
        p = subprocess.run(["xdotool", "search", "--sync", "--onlyvisible", "--class", "remote-viewer"],
                           capture_output=True, text=True, env=env, timeout=nooktest.scaled(60))
        wins = p.stdout.split()
        check(p.returncode == 0 and wins, f"remote-viewer shows a window: {p.stderr.strip()!r}")
        win = wins[-1]
        time.sleep(2)           # the display channel and the inputs channel connect
        subprocess.run(["xdotool", "windowactivate", "--sync", win], env=env, timeout=nooktest.scaled(30))
        subprocess.run(["xdotool", "windowfocus", "--sync", win], env=env, timeout=nooktest.scaled(30))
        p = subprocess.run(["xdotool", "getwindowgeometry", win], capture_output=True, text=True, env=env,
                           timeout=nooktest.scaled(30))
        print(p.stdout.strip())
        for key, codes in (("a", ["1e", "9e"]), ("Up", ["e0", "48", "e0", "c8"]), ("F12", ["58", "d8"])):
            subprocess.run(["xdotool", "key", "--delay", "50", key], env=env, timeout=nooktest.scaled(30))
            got = g.wait_lines([f"kbd {c}" for c in codes], timeout=15, skip=True)
            check(got is None, f"xdotool key {key} in remote-viewer arrives as {' '.join(codes)}"
                  + (f", got {got[-8:]}" if got else ""))
        # A click in the guest's screen: in server mode the first click makes
        # remote-viewer grab the pointer; the clicks after it go to the guest.
        subprocess.run(["xdotool", "mousemove", "--window", win, "200", "200", "click", "1"], env=env, timeout=nooktest.scaled(30))
        time.sleep(0.5)
        subprocess.run(["xdotool", "click", "--repeat", "2", "--delay", "200", "1"], env=env, timeout=nooktest.scaled(30))
        deadline = time.time() + nooktest.scaled(15)
        while time.time() < deadline:
            if any(line.startswith("aux ") and int(line.split()[1], 16) & 1 for line in g.lines()[g.pos:]):
                break
            time.sleep(0.1)
        got = [line for line in g.lines()[g.pos:] if line.startswith("aux ")]
        check(any(int(line.split()[1], 16) & 1 for line in got),
              f"a click in remote-viewer reaches the guest with the left button down: {got[-4:]}")
        check(rv.poll() is None, "remote-viewer is still connected")
    finally:
        rv.kill()
        rv.wait()
        xvfb.kill()
        xvfb.wait()


def main():
    vmm, client, guests = os.path.abspath(sys.argv[1]), sys.argv[2], sys.argv[3]
    nooktest.need_kvm()
    if client.startswith("missing:"):
        check(False, f"tests/peer/spice-client was not built: install {client[8:]} (tests/setup-debian.sh test)")
    for tool, package in (("Xvfb", "xvfb"), ("xdotool", "xdotool"), ("remote-viewer", "virt-viewer")):
        check(shutil.which(tool) is not None, f"{tool} is there (package {package}, tests/setup-debian.sh test)")
    tmp = nooktest.tmpdir()
    g = start_guest(vmm, os.path.join(guests, "input.elf"), tmp)
    try:
        check(g.wait_line("ready for input"), "the guest set up the i8042 and waits for input")
        through_spice_client(g, client)
        through_remote_viewer(g, tmp)
    finally:
        g.stop()


nooktest.run_main(main)
