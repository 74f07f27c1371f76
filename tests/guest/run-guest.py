#!/usr/bin/env python3
"""Runs one guest test image on nook-vmm and on QEMU (the reference) and checks
exit status, PASS/FAIL lines and that both print the same agreement lines."""

import argparse
import datetime
import difflib
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import threading
import time

SKIP = 77
AGREE_PREFIX = "= "
RTC_RE = re.compile(r"^RTC (\d{4})-(\d\d)-(\d\d) (\d\d):(\d\d):(\d\d)$")
RTC_TOLERANCE_S = 5
# With --stdin the runner waits for this line before writing: bytes that reach
# the UART before the guest has set it up are lost when it enables the FIFO.
READY_LINE = "ready for input"
# With --screendump the runner takes a screendump from the VMM when the guest
# prints this line, then writes a line to the serial input to let it go on.
SCREENDUMP_LINE = "ready for screendump"
SECTOR = 512
# nook-vmm puts its first --disk in slot 3; QEMU's device goes there too.
QEMU_DISK_ADDR = 3


class Run:
    def __init__(self, name, is_vmm):
        self.name = name
        self.is_vmm = is_vmm
        self.status = None
        self.lines = []
        self.stderr = ""
        self.timed_out = False
        self.start = 0.0
        self.end = 0.0
        self.errors = []
        self.notes = []             # what a check found that went well
        self.screendump = None      # path of the picture taken


def disk_pattern(size):
    """The test disk's contents: 32-bit little-endian words reading
    (sector << 16) | index of the word within its 512-byte sector."""
    words = SECTOR // 4
    return b"".join(struct.pack(f"<{words}I", *((s << 16 | w) & 0xffffffff for w in range(words)))
                    for s in range(size // SECTOR))


def make_disk(tmpdir, name, size):
    path = os.path.join(tmpdir, name)
    with open(path, "wb") as f:
        f.write(disk_pattern(size))
    return path


def check_disk(run, path, size):
    """Guests only read the test disk: a changed image means a VMM wrote it."""
    with open(path, "rb") as f:
        if f.read() != disk_pattern(size):
            run.errors.append("the disk image changed, though the guest only reads it")


def qemu_command(args, image, disk=None):
    cmd = [
        args.qemu, "-accel", args.qemu_accel, "-M", "q35",
        "-nodefaults", "-no-user-config", "-display", "none",
        "-serial", "stdio",
        "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04",
        "-m", str(args.memory), "-smp", str(args.cpus),
        "-kernel", image,
    ]
    if args.append is not None:
        cmd += ["-append", args.append]
    if args.no_reboot:
        cmd.append("-no-reboot")
    if disk:
        cmd += ["-drive", f"file={disk},format=raw,if=none,id=disk0",
                "-device", f"virtio-blk-pci,drive=disk0,disable-legacy=on,addr={QEMU_DISK_ADDR}"]
    if args.screendump:
        cmd += ["-qmp", f"unix:{args.screendump_dir}/qmp.sock,server=on,wait=off"]
    if args.spice:
        cmd += ["-spice", f"unix=on,addr={args.screendump_dir}/qemu-spice.sock,disable-ticketing=on"]
    return cmd + args.qemu_arg


def vmm_command(args, image, disk=None):
    cmd = [
        args.vmm, "--kernel", image, "--memory", str(args.memory),
        "--cpus", str(args.cpus), "--serial", "stdio", "--display", "none",
    ]
    if args.append is not None:
        cmd += ["--append", args.append]
    if args.no_reboot:
        cmd.append("--no-reboot")
    if disk:
        cmd += ["--disk", disk]
    if args.screendump:
        cmd += ["--control", f"{args.screendump_dir}/nook.sock"]
    if args.spice:
        cmd += ["--display", "spice", "--spice", f"unix:{args.screendump_dir}/nook-spice.sock"]
    if args.vmm_wav_pattern:
        cmd += ["--sound", "hda", "--audio", f"wav:{args.screendump_dir}/nook.wav"]
    return cmd + args.vmm_arg


def control_request(path, requests):
    """Sends JSON requests over a unix socket (nook-vmm's control protocol
    or QEMU's QMP: both greet first) and returns the last reply."""
    import json
    import socket
    with socket.socket(socket.AF_UNIX) as sock:
        sock.settimeout(60)
        sock.connect(path)
        f = sock.makefile("rw")
        f.readline()
        reply = None
        for req in requests:
            f.write(json.dumps(req) + "\n")
            f.flush()
            while True:
                reply = json.loads(f.readline())
                if "event" not in reply:
                    break
        return reply


def spice_screenshot(args, run):
    """The picture a SPICE client sees: spicy-screenshot connects to the
    VMM's SPICE socket. The display is sent at the device's refresh rate,
    so a picture that is not the expected one yet is taken again."""
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import images
    import pictures
    sock = os.path.join(args.screendump_dir, ("nook" if run.is_vmm else "qemu") + "-spice.sock")
    path = os.path.join(args.screendump_dir, ("nook-vmm" if run.is_vmm else "qemu") + "-spice.ppm")
    expected = pictures.PICTURES[args.expect_picture]() if args.expect_picture else None
    for _ in range(10):
        proc = subprocess.run(["spicy-screenshot", f"--uri=spice+unix://{sock}", "-o", path],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
        if proc.returncode != 0:
            run.errors.append(f"spicy-screenshot failed: {proc.stdout.decode(errors='replace')}")
            return
        if not expected or not images.first_difference(images.read_image(path), expected):
            break
        time.sleep(0.3)
    run.screendump = path


def take_screendump(args, run):
    """The VMM's picture, through its control socket (nook-vmm: PNG) or
    QMP (QEMU: PPM, which every QEMU version writes), or with --spice
    through a SPICE client."""
    if args.spice:
        spice_screenshot(args, run)
        return
    if run.is_vmm:
        path = os.path.join(args.screendump_dir, "nook-vmm.png")
        reply = control_request(os.path.join(args.screendump_dir, "nook.sock"),
                                [{"execute": "screendump", "arguments": {"file": path}}])
    else:
        path = os.path.join(args.screendump_dir, "qemu.ppm")
        reply = control_request(os.path.join(args.screendump_dir, "qmp.sock"),
                                [{"execute": "qmp_capabilities"},
                                 {"execute": "screendump", "arguments": {"filename": path}}])
    if reply is None or "error" in reply:
        run.errors.append(f"screendump failed: {reply}")
        return
    run.screendump = path


def execute(name, is_vmm, cmd, timeout, stdin_text=None, screendump=None):
    """Runs cmd to completion. With stdin_text, stdin is a pipe that receives
    the text once the guest printed READY_LINE and stays open until the VMM
    exits: a VMM may stop reading its serial input at end of file. With
    screendump, a function of the run called when the guest printed
    SCREENDUMP_LINE, after which stdin gets a newline."""
    run = Run(name, is_vmm)
    if screendump and stdin_text is None:
        stdin_text = ""
    run.start = time.time()
    try:
        proc = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL if stdin_text is None else subprocess.PIPE)
    except OSError as e:
        run.errors.append(f"cannot start {cmd[0]}: {e}")
        run.end = time.time()
        return run

    out, err = [], []

    def read_stdout():
        for line in iter(proc.stdout.readline, b""):
            out.append(line)
            if screendump and line.rstrip(b"\r\n") == SCREENDUMP_LINE.encode():
                try:
                    screendump(run)
                except (OSError, ValueError) as e:
                    run.errors.append(f"screendump failed: {e}")
                try:
                    proc.stdin.write(b"\n")
                    proc.stdin.flush()
                except OSError:
                    pass
            if (stdin_text and
                    line.rstrip(b"\r\n") == READY_LINE.encode()):
                try:
                    proc.stdin.write(stdin_text.encode() + b"\n")
                    proc.stdin.flush()
                except OSError:
                    pass    # the VMM is gone; its exit status tells why

    def read_stderr():
        err.append(proc.stderr.read())

    readers = [threading.Thread(target=read_stdout), threading.Thread(target=read_stderr)]
    for t in readers:
        t.start()
    try:
        run.status = proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        run.timed_out = True
        proc.kill()
        proc.wait()
    for t in readers:
        t.join()
    if proc.stdin:
        try:
            proc.stdin.close()
        except OSError:
            pass
    run.end = time.time()
    text = b"".join(out).decode("utf-8", errors="replace")
    run.lines = [line.rstrip("\r") for line in text.split("\n")]
    if run.lines and run.lines[-1] == "":
        run.lines.pop()
    run.stderr = b"".join(err).decode("utf-8", errors="replace")
    return run


def check_rtc(run):
    found = [m for m in (RTC_RE.match(line) for line in run.lines) if m]
    if not found:
        run.errors.append("no 'RTC YYYY-MM-DD HH:MM:SS' line")
        return
    try:
        guest = datetime.datetime(*(int(g) for g in found[0].groups()),
                                  tzinfo=datetime.timezone.utc).timestamp()
    except ValueError as e:
        run.errors.append(f"RTC line is not a valid date: {e}")
        return
    # The line was printed at some unknown moment while the VMM ran.
    if guest < run.start - RTC_TOLERANCE_S or guest > run.end + RTC_TOLERANCE_S:
        host = datetime.datetime.fromtimestamp(run.start, datetime.timezone.utc)
        run.errors.append(
            f"RTC {found[0].group(0)[4:]} is off from host UTC "
            f"{host:%Y-%m-%d %H:%M:%S} (run took {run.end - run.start:.1f} s)")


def check_wav_pattern(run, path, frames):
    """The guest played frames frames of (k, ~k) over and over: nook-vmm's
    wav backend must hold exactly that, from its first frame, at 48 kHz
    16-bit stereo, at least twice round."""
    import struct
    import wave
    try:
        with wave.open(path, "rb") as w:
            params = (w.getframerate(), w.getnchannels(), w.getsampwidth())
            data = w.readframes(w.getnframes())
    except (OSError, EOFError, wave.Error) as e:
        run.errors.append(f"the wav backend's file: {e}")
        return
    if params != (48000, 2, 2):
        run.errors.append(f"the wav file is {params} (rate, channels, bytes), expected (48000, 2, 2)")
        return
    n = len(data) // 4
    if n < 2 * frames:
        run.errors.append(f"the wav file has {n} frames, expected at least {2 * frames}")
        return
    samples = struct.unpack(f"<{2 * n}h", data[:4 * n])
    for i in range(n):
        k = i % frames
        want = (struct.unpack("<h", struct.pack("<H", k & 0xffff))[0],
                struct.unpack("<h", struct.pack("<H", ~k & 0xffff))[0])
        if (samples[2 * i], samples[2 * i + 1]) != want:
            run.errors.append(f"wav frame {i} of {n} is {samples[2 * i]},{samples[2 * i + 1]}, "
                              f"the guest played {want[0]},{want[1]}")
            return
    run.notes.append(f"the wav file holds the guest's pattern sample for sample: {n} frames")


def check(run, args):
    if run.timed_out:
        run.errors.append(f"timed out after {args.timeout} s")
    elif run.status is not None and run.status != args.expect_status:
        run.errors.append(f"exit status {run.status}, expected {args.expect_status}")
    if args.pass_check and not any(line.startswith("PASS") for line in run.lines):
        run.errors.append("no PASS line")
    fails = [line for line in run.lines if line.startswith("FAIL")]
    if fails:
        run.errors.append("guest reported: " + fails[0])
    for want in args.expect_line:
        if want not in run.lines:
            run.errors.append(f"no line '{want}'")
    if args.rtc_check:
        check_rtc(run)
    if run.is_vmm:
        for want in args.vmm_expect_line:
            if want not in run.lines:
                run.errors.append(f"no line '{want}'")
        stderr_lines = run.stderr.splitlines()
        limit = args.vmm_max_stderr_lines
        if limit is not None and len(stderr_lines) > limit:
            run.errors.append(f"{len(stderr_lines)} lines on stderr, at most {limit} expected")
        for pattern in args.vmm_stderr_match:
            if not any(re.search(pattern, line) for line in stderr_lines):
                run.errors.append(f"no stderr line matches '{pattern}'")
        for pattern, want in args.vmm_stderr_count:
            n = sum(1 for line in stderr_lines if re.search(pattern, line))
            if n < int(want):
                run.errors.append(f"{n} stderr lines match '{pattern}', at least {want} expected")
        for pattern in args.vmm_stderr_every:
            for line in stderr_lines:
                if not re.search(pattern, line):
                    run.errors.append(f"stderr line does not match '{pattern}': {line}")
                    break


def report(run):
    print(f"--- {run.name}: status {run.status}"
          f"{' (timed out)' if run.timed_out else ''}, {run.end - run.start:.2f} s")
    for line in run.lines:
        print(f"    {line}")
    stderr = run.stderr.strip()
    if stderr:
        print(f"--- {run.name} stderr:")
        for line in stderr.splitlines()[-30:]:
            print(f"    {line}")
    for n in run.notes:
        print(f"{run.name}: {n}")
    for e in run.errors:
        print(f"{run.name}: {e}")


def compare_pictures(args, runs):
    """Each run's screendump against the expected picture and the other's."""
    if not args.screendump:
        return True
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import images
    import pictures
    ok = True
    expected = pictures.PICTURES[args.expect_picture]() if args.expect_picture else None
    got = []
    for run in runs:
        if not run.screendump or not os.path.exists(run.screendump):
            print(f"{run.name}: no screendump")
            ok = False
            continue
        img = images.read_image(run.screendump)
        print(f"{run.name}: screendump {img[0]}x{img[1]}")
        got.append((run.name, img))
        if expected:
            diff = images.first_difference(img, expected)
            if diff:
                print(f"{run.name}: the picture differs from '{args.expect_picture}' at {diff}")
                ok = False
            else:
                print(f"{run.name}: the picture is '{args.expect_picture}', pixel for pixel")
    if len(got) == 2:
        diff = images.first_difference(got[0][1], got[1][1])
        if diff:
            print(f"the screendumps differ at {diff}")
            ok = False
        else:
            print("the screendumps are equal pixel for pixel")
    return ok


def kvm_unusable():
    try:
        fd = os.open("/dev/kvm", os.O_RDWR | os.O_CLOEXEC)
    except OSError as e:
        return f"/dev/kvm cannot be opened: {e.strerror}"
    os.close(fd)
    return None


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--vmm", help="nook-vmm executable; without it only QEMU runs")
    p.add_argument("--qemu", default=None,
                   help="qemu-system-x86_64 executable, or 'none' to run only --vmm")
    p.add_argument("--qemu-accel", default="tcg", help="QEMU accelerator (default tcg)")
    p.add_argument("--cpus", type=int, default=1)
    p.add_argument("--memory", type=int, default=128, help="MiB")
    p.add_argument("--expect-status", type=int, default=1,
                   help="expected VMM exit status (debug-exit value v gives 2v+1)")
    p.add_argument("--rtc-check", action="store_true",
                   help="compare the guest's RTC line with the host's UTC clock")
    p.add_argument("--no-pass-check", dest="pass_check", action="store_false",
                   help="for guests that print nothing")
    p.add_argument("--expect-line", action="append", default=[], metavar="LINE",
                   help="a line every run must print (repeatable); for guests that end "
                        "without PASS, such as by powering off")
    p.add_argument("--vmm-expect-line", action="append", default=[], metavar="LINE",
                   help="a line the nook-vmm run must print (repeatable), for where "
                        "nook-vmm deliberately differs from QEMU")
    p.add_argument("--no-reboot", action="store_true",
                   help="pass --no-reboot / -no-reboot: a guest reset ends the VMM")
    p.add_argument("--append", metavar="STR", help="kernel command line for both VMMs")
    p.add_argument("--stdin", metavar="TEXT",
                   help=f"write TEXT and a newline to the serial input once the guest "
                        f"printed '{READY_LINE}'")
    p.add_argument("--vmm-arg", action="append", default=[], metavar="ARG",
                   help="extra nook-vmm argument (repeatable)")
    p.add_argument("--qemu-arg", action="append", default=[], metavar="ARG",
                   help="extra QEMU argument (repeatable)")
    p.add_argument("--vmm-max-stderr-lines", type=int, metavar="N",
                   help="nook-vmm may print at most N lines on stderr")
    p.add_argument("--vmm-stderr-match", action="append", default=[], metavar="REGEX",
                   help="nook-vmm's stderr must have a line matching REGEX (repeatable)")
    p.add_argument("--vmm-stderr-count", action="append", default=[], nargs=2,
                   metavar=("REGEX", "N"),
                   help="nook-vmm's stderr must have at least N lines matching REGEX "
                        "(repeatable)")
    p.add_argument("--vmm-stderr-every", action="append", default=[], metavar="REGEX",
                   help="every line of nook-vmm's stderr must match REGEX (repeatable)")
    p.add_argument("--disk-image", type=int, metavar="KIB",
                   help="give each VMM a virtio-blk disk of KIB KiB, a fresh raw image in a "
                        "temporary directory whose 32-bit words read (sector << 16) | word "
                        "index; it must be unchanged after the run")
    p.add_argument("--screendump", action="store_true",
                   help=f"when the guest prints '{SCREENDUMP_LINE}', take a screendump from each "
                        "VMM (nook-vmm's control socket, QEMU's QMP), then send it a line; the "
                        "two pictures must be equal pixel for pixel")
    p.add_argument("--expect-picture", metavar="NAME",
                   help="with --screendump: each picture must equal the one pictures.py draws "
                        "under NAME")
    p.add_argument("--spice", action="store_true",
                   help="with --screendump: each VMM serves a SPICE display on a unix socket and "
                        "the pictures are taken by spicy-screenshot (spice-client-gtk)")
    p.add_argument("--vmm-wav-pattern", type=int, metavar="FRAMES",
                   help="give nook-vmm a sound card whose output goes to a wav file, which must "
                        "hold frames (k, ~k) for k = 0..FRAMES-1 over and over, sample for sample")
    p.add_argument("--timeout", type=float, default=120.0, help="seconds per VMM run")
    p.add_argument("image")
    args = p.parse_args()

    # Inside an L1 (tests/l1) everything is slower: l1run.py sets
    # NOOK_TEST_TIME_SCALE there, and each run's limit grows by it.
    args.timeout *= float(os.environ.get("NOOK_TEST_TIME_SCALE") or 1)

    if not os.path.isfile(args.image):
        print(f"no such image: {args.image}")
        return 1

    if args.vmm:
        why = kvm_unusable()
        if why:
            print(f"SKIP: {why}")
            return SKIP

    if args.qemu == "none":
        args.qemu = None
    elif args.qemu is None:
        args.qemu = shutil.which("qemu-system-x86_64")
        if args.qemu is None:
            print("qemu-system-x86_64 not found: no reference run")

    if not args.vmm and not args.qemu:
        print("SKIP: neither nook-vmm nor QEMU to run")
        return SKIP

    if args.spice and not shutil.which("spicy-screenshot"):
        print("spicy-screenshot not found: install spice-client-gtk (tests/setup-debian.sh test)")
        return 1

    disk_size = args.disk_image * 1024 if args.disk_image else 0
    if disk_size % SECTOR:
        print(f"--disk-image {args.disk_image}: not a whole number of sectors")
        return 1

    runs = []
    with tempfile.TemporaryDirectory(prefix="nook-guest-") as tmpdir:
        args.screendump_dir = tmpdir
        # Each VMM gets its own copy: one cannot change what the other reads.
        for name, is_vmm, make_cmd, enabled in (
                ("nook-vmm", True, vmm_command, args.vmm),
                ("qemu", False, qemu_command, args.qemu)):
            if not enabled:
                continue
            disk = make_disk(tmpdir, f"{name}.img", disk_size) if disk_size else None
            run = execute(name, is_vmm, make_cmd(args, args.image, disk), args.timeout,
                          args.stdin,
                          (lambda r: take_screendump(args, r)) if args.screendump else None)
            if disk:
                check_disk(run, disk, disk_size)
            if is_vmm and args.vmm_wav_pattern:
                check_wav_pattern(run, os.path.join(tmpdir, "nook.wav"), args.vmm_wav_pattern)
            runs.append(run)
        picture_ok = compare_pictures(args, runs)

    ok = True
    for run in runs:
        check(run, args)
        report(run)
        ok = ok and not run.errors

    if len(runs) == 2:
        a, b = ([line for line in r.lines if line.startswith(AGREE_PREFIX)] for r in runs)
        if a != b:
            ok = False
            print("agreement lines differ:")
            for line in difflib.unified_diff(a, b, runs[0].name, runs[1].name, lineterm=""):
                print(line)
        else:
            print(f"agreement: {len(a)} lines equal")
    elif args.vmm:
        print("agreement not checked: no QEMU")

    ok = ok and picture_ok
    print("ok" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
