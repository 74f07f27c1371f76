#!/usr/bin/env python3
"""The control socket of a running nook-vmm (SeaBIOS guest): greeting,
query-status, pause/resume/reset/quit with their events, nookctl, and bad
input (garbage, half lines, wrong types, unknown commands) that gets an error
reply while the connection and the VM carry on."""
import os
import subprocess
import sys
import time

import nooktest
from nooktest import check


def main():
    vmm, nookctl = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    nooktest.need_kvm()
    tmp = nooktest.tmpdir()
    sock = os.path.join(tmp, "control.sock")
    serial = os.path.join(tmp, "serial.log")
    proc = subprocess.Popen([vmm, "--control", sock, "--serial", "file:" + serial, "--name", "ctl-test",
                             "--cpus", "2", "--memory", "256M"],
                            stdin=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        c = nooktest.Control(sock)
        g = c.greeting.get("greeting", {})
        check(g.get("protocol") == "nook-control" and g.get("version") == 1,
              f"greeting names the protocol and version 1: {c.greeting}")

        r = c.execute("query-status", id=7)
        check(r.get("id") == 7 and r["return"]["state"] == "running" and r["return"]["cpus"] == 2
              and r["return"]["memory"] == 256 << 20 and r["return"]["name"] == "ctl-test",
              f"query-status: {r}")

        r = c.execute("pause", id="p")
        check(r == {"return": {}, "id": "p"}, f"pause returns {{}} with the id: {r}")
        e = c.wait_event(lambda e: e["event"] == "state-changed" and e["data"]["state"] == "paused")
        check("seconds" in e["timestamp"], "pause emits a state-changed event with a timestamp")
        check(c.execute("query-status")["return"]["state"] == "paused", "state is paused")
        # The guest must not move while paused: the serial log stays still.
        size = os.path.getsize(serial)
        time.sleep(0.5)
        check(os.path.getsize(serial) == size, "no serial output while paused")
        r = c.execute("powerdown")
        check(r.get("error", {}).get("class") == "WrongState", f"powerdown while paused is refused: {r}")
        check(c.execute("resume")["return"] == {}, "resume")
        c.wait_event(lambda e: e["event"] == "state-changed" and e["data"]["state"] == "running")

        # Bad input, each answered, none fatal.
        bad = [
            (b"this is not json\n", "ParseError"),
            (b"[1,2,3]\n", "InvalidRequest"),
            (b'{"execute": 42}\n', "InvalidRequest"),
            (b'{"no-execute": "x"}\n', "InvalidRequest"),
            (b'{"execute": "pause", "arguments": [1]}\n', "InvalidArgument"),
            (b'{"execute": "self-destruct"}\n', "CommandNotFound"),
            (b"\xff\xfe\n", "ParseError"),
            (b"[" * 100000 + b"\n", "TooLong"),
            (b"[" * 1000 + b"\n", "ParseError"),
            (b'{"execute": "query-status"\n', "ParseError"),
        ]
        for data, klass in bad:
            c.send_raw(data)
            r = c.reply()
            check(r.get("error", {}).get("class") == klass and r["error"].get("desc"),
                  f"{data[:30]!r}... -> {klass}: {r.get('error', {}).get('desc', r)[:80]}")
        # A request split across writes, with a pause between the halves.
        c.send_raw(b'{"execute": "query-')
        time.sleep(0.3)
        c.send_raw(b'status", "id": [1, {"x": null}]}\n')
        r = c.reply()
        check(r.get("id") == [1, {"x": None}] and r["return"]["state"] == "running",
              "a request in two halves is answered, with a structured id echoed")
        c.send_raw(b'{"execute":"query-version","id":1}\n{"execute":"query-status","id":2}\n')
        r1, r2 = c.reply(), c.reply()
        check(r1["id"] == 1 and r1["return"]["protocol"] == 1 and r2["id"] == 2,
              "two requests in one write are answered in order")

        # nookctl speaks the same protocol.
        def ctl(*args):
            return subprocess.run([nookctl, "--control", sock] + list(args), capture_output=True,
                                  text=True, timeout=nooktest.scaled(10))
        p = ctl("status")
        check(p.returncode == 0 and "state: running" in p.stdout, f"nookctl status: {p.stdout!r}")
        check(ctl("pause").returncode == 0 and "state: paused" in ctl("status").stdout, "nookctl pause")
        check(ctl("resume").returncode == 0 and "state: running" in ctl("status").stdout, "nookctl resume")
        p = ctl("bogus")
        check(p.returncode == 1 and "unknown command 'bogus'" in p.stderr, f"nookctl bogus: {p.stderr!r}")
        p = subprocess.run([nookctl, "--control", os.path.join(tmp, "nothing.sock"), "status"],
                           capture_output=True, text=True, timeout=nooktest.scaled(10))
        check(p.returncode == 2 and "cannot connect" in p.stderr, f"nookctl without a VM: {p.stderr!r}")

        # The power button reaches the board (SeaBIOS has no OS to act on it).
        check(c.execute("powerdown") == {"return": {}}, "powerdown presses the ACPI power button")

        # Reset brings the firmware back: its banner is printed again.
        before = open(serial, errors="replace").read().count("SeaBIOS (version")
        check(c.execute("reset")["return"] == {}, "reset")
        c.wait_event(lambda e: e["event"] == "reset")
        deadline = time.time() + nooktest.scaled(30)
        while time.time() < deadline:
            if open(serial, errors="replace").read().count("SeaBIOS (version") > before:
                break
            time.sleep(0.1)
        check(open(serial, errors="replace").read().count("SeaBIOS (version") > before,
              "the firmware starts again after reset")

        check(c.execute("quit")["return"] == {}, "quit")
        e = c.wait_event(lambda e: e["event"] == "state-changed" and e["data"]["state"] == "shutdown")
        check(e["data"]["reason"] == "quit", f"shutdown event says why: {e['data']}")
        status = proc.wait(timeout=nooktest.scaled(10))
        check(status == 0, f"nook-vmm exits 0 after quit (got {status})")
        check(not os.path.exists(sock), "the control socket is removed on exit")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        err = proc.stderr.read()
        if err:
            print("nook-vmm stderr:\n" + err)


nooktest.run_main(main)
