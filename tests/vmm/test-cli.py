#!/usr/bin/env python3
"""nook-vmm's answer to bad command lines and bad files: one line on stderr
that names the problem, exit status 2, never a crash or a core dump."""
import os
import shutil
import subprocess
import sys

import nooktest
from nooktest import check


def run(vmm, args, user=None):
    cmd = [vmm] + args
    if user:
        cmd = ["setpriv", "--reuid", user, "--regid", user, "--clear-groups", "--"] + cmd
    p = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=nooktest.scaled(30))
    return p.returncode, p.stderr


def expect_error(vmm, args, needle, user=None):
    status, err = run(vmm, args, user)
    lines = err.strip().splitlines()
    what = f"{' '.join(args) or '(no args)'} -> status 2 and one line naming '{needle}'"
    if status != 2 or len(lines) != 1 or needle not in lines[0] or not lines[0].startswith("nook-vmm: "):
        raise nooktest.Failure(f"{what}; got status {status}, stderr {err!r}")
    print(f"ok: {what}: {lines[0]}")


def main():
    vmm = os.path.abspath(sys.argv[1])
    guests = sys.argv[2]
    exit_elf = os.path.join(guests, "exit.elf")
    tmp = nooktest.tmpdir()

    def f(name, data):
        p = os.path.join(tmp, name)
        with open(p, "wb") as fh:
            fh.write(data)
        return p

    elf = open(exit_elf, "rb").read()
    empty = f("empty", b"")
    text = f("text", b"this is not a kernel\n" * 10)
    trunc_elf = f("trunc.elf", elf[:100])
    # A bzImage header of an old protocol, and one cut short.
    old_bz = bytearray(0x1000)
    old_bz[0x1f1] = 1
    old_bz[0x202:0x206] = b"HdrS"
    old_bz[0x206:0x208] = (0x0208).to_bytes(2, "little")
    old_bz = f("old.bzImage", bytes(old_bz))
    trunc_bz = bytearray(0x300)
    trunc_bz[0x1f1] = 30
    trunc_bz[0x202:0x206] = b"HdrS"
    trunc_bz[0x206:0x208] = (0x020f).to_bytes(2, "little")
    trunc_bz[0x236] = 1
    trunc_bz = f("trunc.bzImage", bytes(trunc_bz))
    small_fw = f("small.bin", b"\0" * 1000)
    # The guest with its first loadable segment moved to 1 GiB.
    far = bytearray(elf)
    phoff = int.from_bytes(far[0x1c:0x20], "little")
    phentsize = int.from_bytes(far[0x2a:0x2c], "little")
    for i in range(int.from_bytes(far[0x2c:0x2e], "little")):
        ph = phoff + i * phentsize
        if int.from_bytes(far[ph:ph + 4], "little") == 1:      # PT_LOAD
            far[ph + 12:ph + 16] = (0x40000000).to_bytes(4, "little")
            break
    far = f("far.elf", bytes(far))

    nooktest.need_kvm()
    ctl = ["--control", "none"]
    expect_error(vmm, ["--memory", "0"], "--memory must be more than 0")
    expect_error(vmm, ["--memory", "100T"], "more than this host has")
    expect_error(vmm, ["--memory", "lots"], "not a size")
    expect_error(vmm, ["--memory", "12Q"], "unknown unit")
    expect_error(vmm, ["--cpus", "0"], "--cpus 0: must be between 1 and 64")
    expect_error(vmm, ["--cpus", "65"], "must be between 1 and 64")
    expect_error(vmm, ["--cpus", "many"], "--cpus")
    expect_error(vmm, ["--frobnicate"], "Unknown option --frobnicate")
    expect_error(vmm, ["stray"], "unexpected argument 'stray'")
    expect_error(vmm, ["--display", "sdl"], "--display sdl")
    expect_error(vmm, ["--serial", "telnet:1"], "bad --serial")
    expect_error(vmm, ["--accel", "nookhv"] + ctl, "/dev/nookhv does not exist")
    expect_error(vmm, ["--accel", "xen"], "--accel xen")
    expect_error(vmm, ["--kernel", os.path.join(tmp, "missing")] + ctl, "cannot open kernel")
    expect_error(vmm, ["--kernel", tmp] + ctl, "is not a regular file")
    expect_error(vmm, ["--kernel", empty] + ctl, "is empty")
    expect_error(vmm, ["--kernel", text] + ctl, "not a kernel nook-vmm can boot")
    expect_error(vmm, ["--kernel", trunc_elf] + ctl, "truncated")
    expect_error(vmm, ["--kernel", old_bz] + ctl, "64-bit boot protocol")
    expect_error(vmm, ["--kernel", trunc_bz] + ctl, "truncated")
    expect_error(vmm, ["--kernel", "/bin/true"] + ctl, "kernel '/bin/true'")
    expect_error(vmm, ["--kernel", far, "--memory", "64M"] + ctl, "does not fit in guest RAM")
    expect_error(vmm, ["--kernel", exit_elf, "--initrd", os.path.join(tmp, "missing")] + ctl,
                 "cannot open initrd")
    expect_error(vmm, ["--initrd", exit_elf], "--initrd and --append need --kernel")
    expect_error(vmm, ["--firmware", os.path.join(tmp, "missing")] + ctl, "cannot open firmware")
    expect_error(vmm, ["--firmware", small_fw] + ctl, "no PC firmware has")
    expect_error(vmm, ["--name", "../evil"], "--name '../evil'")
    expect_error(vmm, ["--kernel", exit_elf, "--control", os.path.join(tmp, "no", "such") + "/" + "x" * 120],
                 "too long")

    if os.geteuid() == 0 and shutil.which("setpriv"):
        expect_error(vmm, ["--kernel", exit_elf] + ctl, "no permission to open /dev/kvm", user="65534")
    else:
        print("skipped: the no-permission case needs root and setpriv to drop to another user")

    # The happy path still works after all that.
    status, err = run(vmm, ["--kernel", exit_elf] + ctl)
    check(status == 1, f"the exit guest ends with status 1 (got {status}, {err.strip()!r})")


nooktest.run_main(main)
