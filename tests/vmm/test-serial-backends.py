#!/usr/bin/env python3
"""COM1's host side other than stdio: --serial unix:PATH (a client types to
the echo guest and reads its answer, a second client is turned away) and
--serial file:PATH (the output lands in the file)."""
import os
import socket
import subprocess
import sys
import time

import nooktest
from nooktest import check

TEXT = "typed through a unix socket, longer than the sixteen-byte FIFO"


def recv_until(sock, needle, timeout):
    data = b""
    deadline = time.time() + nooktest.scaled(timeout)
    while needle.encode() not in data and time.time() < deadline:
        sock.settimeout(max(0.01, deadline - time.time()))
        try:
            chunk = sock.recv(4096)
        except socket.timeout:
            break
        if not chunk:
            break
        data += chunk
    return data.decode(errors="replace")


def main():
    vmm, guests = os.path.abspath(sys.argv[1]), sys.argv[2]
    nooktest.need_kvm()
    tmp = nooktest.tmpdir()
    path = os.path.join(tmp, "com1.sock")

    # The guest waits for input after announcing itself, so a client that
    # connects once the socket exists sees the whole exchange.
    proc = subprocess.Popen([vmm, "--kernel", os.path.join(guests, "echo.elf"), "--serial", "unix:" + path,
                             "--control", "none"], stdin=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.time() + nooktest.scaled(10)
        while not os.path.exists(path) and time.time() < deadline:
            time.sleep(0.01)
        s = socket.socket(socket.AF_UNIX)
        s.connect(path)
        out = recv_until(s, "ready for input", 10)
        check("ready for input" in out, "the guest's output reaches the socket client")
        other = socket.socket(socket.AF_UNIX)
        other.connect(path)
        busy = recv_until(other, "\n", 5)
        check("already has a client" in busy, f"a second client is told the port is taken: {busy.strip()!r}")
        other.close()
        s.sendall((TEXT + "\n").encode())
        out = recv_until(s, "PASS", 15)
        check("= got: " + TEXT in out, "what the client typed reached the guest intact")
        status = proc.wait(timeout=nooktest.scaled(15))
        check(status == 1, f"the guest passes and exits (status {status})")
        check(not os.path.exists(path), "the socket is removed on exit")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()

    log = os.path.join(tmp, "serial.log")
    p = subprocess.run([vmm, "--kernel", os.path.join(guests, "serial.elf"), "--serial", "file:" + log,
                        "--control", "none"], stdin=subprocess.DEVNULL, capture_output=True, timeout=nooktest.scaled(30))
    text = open(log, errors="replace").read()
    check(p.returncode == 1 and "PASS" in text and p.stdout == b"",
          "--serial file: writes the guest's output to the file and nothing to stdout")
    p = subprocess.run([vmm, "--kernel", os.path.join(guests, "serial.elf"), "--serial", "none",
                        "--control", "none"], stdin=subprocess.DEVNULL, capture_output=True, timeout=nooktest.scaled(30))
    check(p.returncode == 1 and p.stdout == b"", "--serial none drops the output and the guest carries on")


nooktest.run_main(main)
