"""Helpers shared by the tests that drive the nook-vmm process."""
import os
import socket
import subprocess
import sys
import tempfile
import time

SKIP = 77

# Inside an L1 (tests/l1) everything runs several times slower than on a real
# KVM: l1run.py sets NOOK_TEST_TIME_SCALE there, and the limit of every wait
# is multiplied by it. Only limits grow: a passing test is no slower.
TIME_SCALE = float(os.environ.get("NOOK_TEST_TIME_SCALE") or 1)


def scaled(seconds):
    """A time limit, for this machine."""
    return seconds * TIME_SCALE


def need_kvm():
    if not os.path.exists("/dev/kvm"):
        print("skipped: /dev/kvm does not exist on this machine")
        sys.exit(SKIP)
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        print("skipped: no permission to open /dev/kvm")
        sys.exit(SKIP)


class Failure(Exception):
    pass


def check(cond, what):
    if not cond:
        raise Failure(what)
    print(f"ok: {what}")


class Control:
    """A JSON-lines control client that keeps events apart from replies."""

    def __init__(self, path, timeout=10):
        import json
        self.json = json
        deadline = time.time() + scaled(timeout)
        while True:
            try:
                self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                self.sock.connect(path)
                break
            except OSError:
                self.sock.close()
                if time.time() > deadline:
                    raise Failure(f"cannot connect to {path}")
                time.sleep(0.05)
        self.sock.settimeout(scaled(timeout))
        self.buf = b""
        self.events = []
        self.greeting = self.read()

    def read(self):
        while b"\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise Failure("control socket closed")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return self.json.loads(line)

    def send_raw(self, data):
        self.sock.sendall(data)

    def reply(self):
        while True:
            msg = self.read()
            if "event" in msg:
                self.events.append(msg)
                continue
            return msg

    def execute(self, cmd, args=None, id=None):
        req = {"execute": cmd}
        if args is not None:
            req["arguments"] = args
        if id is not None:
            req["id"] = id
        self.send_raw((self.json.dumps(req) + "\n").encode())
        return self.reply()

    def wait_event(self, pred, timeout=10):
        deadline = time.time() + scaled(timeout)
        while True:
            for e in self.events:
                if pred(e):
                    self.events.remove(e)
                    return e
            if time.time() > deadline:
                raise Failure("expected event did not arrive")
            self.events.append(self.read())


def tmpdir():
    return tempfile.mkdtemp(prefix="nook-test-")


def run_main(fn):
    try:
        fn()
    except Failure as e:
        print(f"FAIL: {e}")
        sys.exit(1)
    print("PASS")


def wait_for_text(path, needle, timeout):
    """Whether needle shows up in the file at path within timeout seconds."""
    deadline = time.time() + scaled(timeout)
    while time.time() < deadline:
        if os.path.exists(path) and needle in open(path, errors="replace").read():
            return True
        time.sleep(0.2)
    return False


class SerialGuest:
    """A nook-vmm whose guest prints lines on a serial port logged to a file;
    pos is how many of those lines a test has taken."""

    def __init__(self, cmd, log):
        self.log = log
        self.pos = 0
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)

    def lines(self):
        try:
            with open(self.log, errors="replace") as f:
                return f.read().splitlines()
        except FileNotFoundError:
            return []

    def wait_line(self, line, timeout=60):
        """Waits for a line; takes the lines up to it. Whether it came."""
        deadline = time.time() + scaled(timeout)
        while time.time() < deadline and self.proc.poll() is None:
            lines = self.lines()
            if line in lines:
                self.pos = lines.index(line) + 1
                return True
            time.sleep(0.1)
        return False

    def wait_lines(self, want, timeout=30, skip=False):
        """Waits for the lines after the ones taken to begin with want (or,
        with skip, to hold want somewhere: a client may send more); takes
        them and returns None, or returns what came instead."""
        deadline = time.time() + scaled(timeout)
        while True:
            got = self.lines()[self.pos:]
            for i in range(len(got) - len(want) + 1 if skip else min(1, len(got) - len(want) + 1)):
                if got[i:i + len(want)] == want:
                    self.pos += i + len(want)
                    return None
            if time.time() > deadline or self.proc.poll() is not None:
                return got if skip else got[:len(want)]
            time.sleep(0.05)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        err = self.proc.stderr.read()
        if err:
            print("nook-vmm stderr:\n" + err)
