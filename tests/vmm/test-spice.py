#!/usr/bin/env python3
"""nook-vmm's SPICE display with a real client, spicy-screenshot
(spice-client-glib): SeaBIOS's text screen arrives over the unix socket and
tesseract reads the banner in it, pixel for pixel what the control socket's
screendump shows; a TCP listener refuses a wrong password and serves the
right one; with TLS (certificates made here with openssl) a client that
trusts the CA gets the picture. Also what --spice refuses: a TCP listener
without a password, unknown options, a path that is not a socket."""
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

import nooktest
from nooktest import check

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "guest"))
import images  # noqa: E402

BANNER = "SeaBIOS (version"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def screenshot(args, out, env=None, timeout=60):
    return subprocess.run(["spicy-screenshot", *args, "-o", out], capture_output=True, text=True,
                          timeout=timeout, env=env)


class Vmm:
    def __init__(self, vmm, tmp, name, spice):
        self.sock = os.path.join(tmp, name + ".sock")
        self.serial = os.path.join(tmp, name + "-serial.log")
        self.proc = subprocess.Popen([vmm, "--control", self.sock, "--serial", "file:" + self.serial,
                                      "--spice", spice],
                                     stdin=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.control = nooktest.Control(self.sock)
        check(nooktest.wait_for_text(self.serial, "No bootable device", 90), f"{name}: SeaBIOS finds no bootable device")

    def quit(self):
        try:
            if self.proc.poll() is None:
                self.control.execute("quit")
                check(self.proc.wait(timeout=nooktest.scaled(10)) == 0, "nook-vmm exits 0")
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
            err = self.proc.stderr.read()
            if err:
                print("nook-vmm stderr:\n" + err)


def same_as_screendump(vm, ppm, png):
    """The client's picture against the VMM's own screendump: SeaBIOS's
    screen does not change once it waits, but the client may have been
    sent the previous frame, so a few tries."""
    for _ in range(10):
        r = vm.control.execute("screendump", {"file": png})
        if r != {"return": {}}:
            return f"screendump failed: {r}"
        diff = images.first_difference(images.read_image(ppm), images.read_image(png))
        if not diff:
            return None
        time.sleep(0.3)
    return diff


def ocr(path):
    p = subprocess.run(["tesseract", path, "-", "--psm", "6"], capture_output=True, text=True, timeout=nooktest.scaled(120))
    return [" ".join(line.split()) for line in p.stdout.splitlines() if line.strip()]


def unix_socket(vmm, tmp):
    path = os.path.join(tmp, "spice", "nook.sock")
    ppm, png = os.path.join(tmp, "unix.ppm"), os.path.join(tmp, "unix.png")
    vm = Vmm(vmm, tmp, "unix", "unix:" + path)
    try:
        check(os.path.exists(path) and (os.stat(path).st_mode & 0o170000) == 0o140000,
              "the SPICE socket exists, in a folder made for it")
        p = screenshot(["--uri", "spice+unix://" + path], ppm)
        check(p.returncode == 0, f"spicy-screenshot connects over the unix socket: {p.stderr.strip()!r}")
        w, h, _ = images.read_image(ppm)
        check((w, h) == (720, 400), f"the client sees the 720x400 text screen: {w}x{h}")
        diff = same_as_screendump(vm, ppm, png)
        check(diff is None, f"the client's picture is the screendump, pixel for pixel ({diff})")
        lines = ocr(ppm)
        check(any(BANNER in line for line in lines), f"tesseract reads '{BANNER}' in the SPICE picture: {lines[:3]}")
        # A second client after the first one left.
        p = screenshot(["--uri", "spice+unix://" + path], ppm)
        check(p.returncode == 0, "a second client connects after the first one left")
    finally:
        vm.quit()
    check(not os.path.exists(path), "nook-vmm removes its SPICE socket when it exits")


def tcp_password(vmm, tmp):
    port = free_port()
    pw = os.path.join(tmp, "password")
    with open(pw, "w") as f:
        f.write("s3cret-words\n")
    ppm = os.path.join(tmp, "tcp.ppm")
    vm = Vmm(vmm, tmp, "tcp", f"tcp:127.0.0.1:{port},password-file={pw}")
    try:
        p = screenshot(["-h", "127.0.0.1", "-p", str(port), "-w", "wrong"], ppm, timeout=nooktest.scaled(30))
        check(p.returncode != 0 and not os.path.exists(ppm), "a wrong password gets no picture")
        p = screenshot(["-h", "127.0.0.1", "-p", str(port)], ppm, timeout=nooktest.scaled(30))
        check(p.returncode != 0 and not os.path.exists(ppm), "no password gets no picture")
        p = screenshot(["-h", "127.0.0.1", "-p", str(port), "-w", "s3cret-words"], ppm)
        check(p.returncode == 0, f"the password from the file opens the display: {p.stderr.strip()!r}")
        check(images.read_image(ppm)[:2] == (720, 400), "and the text screen arrives")
    finally:
        vm.quit()


def make_certs(d):
    def ossl(*a):
        subprocess.run(["openssl", *a], check=True, capture_output=True, timeout=nooktest.scaled(60))
    os.makedirs(d)
    ca_key, ca, key, csr, cert = (os.path.join(d, n) for n in
                                  ("ca-key.pem", "ca-cert.pem", "server-key.pem", "server.csr", "server-cert.pem"))
    ossl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", ca_key, "-out", ca,
         "-days", "2", "-subj", "/CN=Nook test CA")
    ossl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", csr, "-subj", "/CN=localhost")
    ext = os.path.join(d, "ext.cnf")
    with open(ext, "w") as f:
        f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    ossl("x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key, "-CAcreateserial", "-out", cert,
         "-days", "2", "-extfile", ext)
    return ca


def tcp_tls(vmm, client, tmp):
    if not shutil.which("openssl"):
        check(False, "openssl is needed to make the TLS certificates (package openssl)")
    x509 = os.path.join(tmp, "x509")
    ca = make_certs(x509)
    port, tls_port = free_port(), free_port()
    pw = os.path.join(tmp, "password")
    ppm = os.path.join(tmp, "tls.ppm")
    vm = Vmm(vmm, tmp, "tls", f"tcp:127.0.0.1:{port},password-file={pw},tls-port={tls_port},x509-dir={x509}")
    uri = f"spice://localhost?tls-port={tls_port}"
    try:
        p = subprocess.run([client, "--uri", uri, "--password", "s3cret-words", "--shot", ppm, "--timeout", "20"],
                           capture_output=True, text=True, timeout=nooktest.scaled(60))
        check(p.returncode != 0 and not os.path.exists(ppm),
              "a client that does not trust the certificate's CA gets no picture over TLS")
        p = subprocess.run([client, "--uri", uri, "--ca-file", ca, "--password", "s3cret-words", "--shot", ppm],
                           capture_output=True, text=True, timeout=nooktest.scaled(60))
        check(p.returncode == 0, f"a client that trusts the CA gets the display over TLS: {p.stderr.strip()!r}")
        check(images.read_image(ppm)[:2] == (720, 400), "and the text screen arrives")
    finally:
        vm.quit()


def refused(vmm, tmp):
    pw = os.path.join(tmp, "password")
    plain = os.path.join(tmp, "not-a-socket")
    with open(plain, "w") as f:
        f.write("user data\n")
    cases = [
        (["--spice", "tcp:127.0.0.1:5999"], "needs password-file"),
        (["--spice", "tcp:127.0.0.1"], "expected tcp:ADDR:PORT"),
        (["--spice", "tcp:127.0.0.1:99999,password-file=" + pw], "not a port number"),
        (["--spice", "tcp:127.0.0.1:5999,password-file=" + os.path.join(tmp, "nope")], "password-file"),
        (["--spice", "vnc:1"], "expected unix:PATH or tcp:"),
        (["--spice", "unix:" + os.path.join(tmp, "x.sock") + ",colour=blue"], "unknown option 'colour=blue'"),
        (["--spice", "unix:" + os.path.join(tmp, "x.sock") + ",password-file=" + pw], "are for tcp: listeners"),
        (["--spice", "unix:" + os.path.join(tmp, "x.sock") + ",image-compression=best"], "image-compression=best"),
        (["--spice", "unix:" + plain], "exists and is not a socket"),
        (["--display", "spice", "--vga", "none"], "no graphics card"),
        (["--display", "vnc"], "--display vnc"),
    ]
    for args, want in cases:
        p = subprocess.run([vmm, "--serial", "none", "--control", "none", *args], capture_output=True,
                           text=True, timeout=nooktest.scaled(20))
        check(p.returncode == 2 and want in p.stderr,
              f"{' '.join(args)} is refused, saying '{want}': {p.returncode} {p.stderr.strip()!r}")
    check(open(plain).read() == "user data\n", "the file in the socket's place is untouched")


def main():
    vmm, client = sys.argv[1], sys.argv[2]
    nooktest.need_kvm()
    if client.startswith("missing:"):
        print(f"FAIL: tests/peer/spice-client was not built: install {client[8:]} (tests/setup-debian.sh test)")
        return 1
    for tool in ("spicy-screenshot", "tesseract"):
        if not shutil.which(tool):
            print(f"FAIL: {tool} is missing (tests/setup-debian.sh test installs it)")
            return 1
    with tempfile.TemporaryDirectory(prefix="nook-spice-") as tmp:
        try:
            refused(vmm, tmp)
            unix_socket(vmm, tmp)
            tcp_password(vmm, tmp)
            tcp_tls(vmm, client, tmp)
        except nooktest.Failure as e:
            print(f"FAIL: {e}")
            return 1
    print("PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
