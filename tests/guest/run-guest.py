#!/usr/bin/env python3
"""Runs one guest test image on nook-vmm and on QEMU (the reference) and checks
exit status, PASS/FAIL lines and that both print the same agreement lines."""

import argparse
import datetime
import difflib
import os
import re
import shutil
import subprocess
import sys
import time

SKIP = 77
AGREE_PREFIX = "= "
RTC_RE = re.compile(r"^RTC (\d{4})-(\d\d)-(\d\d) (\d\d):(\d\d):(\d\d)$")
RTC_TOLERANCE_S = 5


class Run:
    def __init__(self, name):
        self.name = name
        self.status = None
        self.lines = []
        self.stderr = ""
        self.timed_out = False
        self.start = 0.0
        self.end = 0.0
        self.errors = []


def qemu_command(args, image):
    return [
        args.qemu, "-accel", args.qemu_accel, "-M", "q35",
        "-nodefaults", "-no-user-config", "-display", "none",
        "-serial", "stdio",
        "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04",
        "-m", str(args.memory), "-smp", str(args.cpus),
        "-kernel", image,
    ]


def vmm_command(args, image):
    return [
        args.vmm, "--kernel", image, "--memory", str(args.memory),
        "--cpus", str(args.cpus), "--serial", "stdio", "--display", "none",
    ]


def execute(name, cmd, timeout):
    run = Run(name)
    run.start = time.time()
    try:
        proc = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, timeout=timeout)
        run.status = proc.returncode
        out, err = proc.stdout, proc.stderr
    except subprocess.TimeoutExpired as e:
        run.timed_out = True
        out, err = e.stdout or b"", e.stderr or b""
    except OSError as e:
        run.errors.append(f"cannot start {cmd[0]}: {e}")
        out, err = b"", b""
    run.end = time.time()
    text = out.decode("utf-8", errors="replace")
    run.lines = [line.rstrip("\r") for line in text.split("\n")]
    if run.lines and run.lines[-1] == "":
        run.lines.pop()
    run.stderr = err.decode("utf-8", errors="replace")
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
    if args.rtc_check:
        check_rtc(run)


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
    for e in run.errors:
        print(f"{run.name}: {e}")


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
    p.add_argument("--timeout", type=float, default=120.0, help="seconds per VMM run")
    p.add_argument("image")
    args = p.parse_args()

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

    runs = []
    if args.vmm:
        runs.append(execute("nook-vmm", vmm_command(args, args.image), args.timeout))
    if args.qemu:
        runs.append(execute("qemu", qemu_command(args, args.image), args.timeout))

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

    print("ok" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
