#!/usr/bin/env python3
"""The main job: nook-vmm with no arguments but a terminal boots Debian's
SeaBIOS, whose banner and boot menu appear on the serial console, and a key
pressed there (Esc) opens the boot menu."""
import os
import select
import subprocess
import sys
import time

import nooktest
from nooktest import check


def read_until(proc, buf, needle, timeout):
    deadline = time.time() + nooktest.scaled(timeout)
    while needle not in buf[0]:
        left = deadline - time.time()
        if left <= 0:
            return False
        r, _, _ = select.select([proc.stdout], [], [], left)
        if r:
            chunk = os.read(proc.stdout.fileno(), 4096)
            if not chunk:
                return False
            buf[0] += chunk.decode(errors="replace")
    return True


def main():
    vmm = os.path.abspath(sys.argv[1])
    nooktest.need_kvm()
    tmp = nooktest.tmpdir()
    proc = subprocess.Popen([vmm, "--control", os.path.join(tmp, "c.sock")], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    buf = [""]
    try:
        check(read_until(proc, buf, "SeaBIOS (version", 30), "the SeaBIOS banner appears on the serial port")
        check(read_until(proc, buf, "Press ESC for boot menu.", 30), "the boot menu prompt appears")
        proc.stdin.write(b"\x1b")
        proc.stdin.flush()
        check(read_until(proc, buf, "Select boot device:", 30), "Esc opens the boot menu")
        check(read_until(proc, buf, "Floppy", 10) or "Hard" in buf[0] or "1." in buf[0],
              "the menu lists boot entries")
        c = nooktest.Control(os.path.join(tmp, "c.sock"))
        check(c.execute("quit")["return"] == {}, "quit through the control socket")
        check(proc.wait(timeout=nooktest.scaled(10)) == 0, "nook-vmm exits 0")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        print("serial output:\n" + buf[0][-1500:])
        err = proc.stderr.read().decode(errors="replace")
        if err:
            print("nook-vmm stderr:\n" + err)


nooktest.run_main(main)
