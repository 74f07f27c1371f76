#!/usr/bin/env python3
"""Runs a command under a real KVM: on this machine's /dev/kvm when it works,
else inside an L1.

    l1run.py --vmm NOOK-VMM --cache DIR [--memory MIB] [--keep] [--why] -- COMMAND [ARG...]

The L1 is QEMU TCG with an emulated AMD-V CPU booting Debian's kernel (the
package linux-image-amd64 depends on, fetched with apt-get download into
DIR, never installed), which loads the stock kvm-amd module; its root is this
machine's / over virtio-9p, so the build folder and every installed program
are there without copying. The command runs as root in the same folder with
the same environment (TMPDIR and XDG_RUNTIME_DIR point at L1's tmpfs), and
its standard output, standard error and exit status come back as if it had
run here. One L1 per command: each test keeps its own timeout and log, two
run side by side on two cores, and a hung guest takes only its own L1 down.

NOOK_TEST_L1=1 sends the command to L1 even where /dev/kvm works; =0 never
does (the command then meets whatever /dev/kvm there is). --why prints which
way a command would go and why, and exits.
"""
import argparse
import contextlib
import fcntl
import hashlib
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "nested"))
import nested  # noqa: E402  (the kernel package and initramfs helpers)

# How much longer than on a real KVM a test may take in L1, where L1 itself
# is emulated: the tests' waits multiply their limits by it. Meson's own
# per-test timeouts are set for L1.
TIME_SCALE = 6

# What L1 loads, in order, from the kernel package: the virtio-pci transport,
# 9p for the root and virtio-serial for the job's output, then KVM.
L1_MODULES = [
    "drivers/virtio/virtio_ring.ko",
    "drivers/virtio/virtio.ko",
    "drivers/virtio/virtio_pci_legacy_dev.ko",
    "drivers/virtio/virtio_pci_modern_dev.ko",
    "drivers/virtio/virtio_pci.ko",
    "fs/netfs/netfs.ko",
    "fs/fscache/fscache.ko",
    "net/9p/9pnet.ko",
    "net/9p/9pnet_virtio.ko",
    "fs/9p/9p.ko",
    "drivers/char/virtio_console.ko",
] + nested.KVM_MODULES

# Variables that describe this machine's session rather than the test.
NOT_PASSED = {"TMPDIR", "XDG_RUNTIME_DIR", "DISPLAY", "XAUTHORITY", "WAYLAND_DISPLAY",
              "DBUS_SESSION_BUS_ADDRESS", "PWD", "OLDPWD", "SHLVL", "_", "TERM",
              "SSH_AUTH_SOCK", "SSH_CONNECTION", "SSH_CLIENT", "SSH_TTY", "MAIL",
              # a device of this machine's; L1's is /dev/kvm
              "NOOK_ACCEL_DEVICE"}


class SetupError(Exception):
    """L1 cannot be made on this machine; the message says what is missing."""


def kvm_problem(vmm):
    """None when this machine's KVM device creates a VM, else why not, in
    nook-vmm's own words (nook-vmm --check-accel)."""
    try:
        p = subprocess.run([vmm, "--check-accel"], capture_output=True, text=True, timeout=60)
        answer = json.loads(p.stdout)
    except (OSError, subprocess.TimeoutExpired, ValueError) as e:
        raise SetupError(f"{vmm} --check-accel gave no answer: {e}") from None
    return None if answer.get("ok") else answer.get("problem") or answer.get("code")


def where(forced, vmm):
    """('host' | 'l1', reason)."""
    if forced == "1":
        return "l1", "NOOK_TEST_L1=1"
    problem = kvm_problem(vmm)
    if forced == "0":
        return "host", "NOOK_TEST_L1=0" + (f" ({problem})" if problem else "")
    if problem:
        return "l1", problem
    return "host", "the KVM device creates VMs"


# ---- the L1 image ----

def image(cache):
    """Builds, once per kernel package and init, DIR/vmlinux and DIR/initrd."""
    os.makedirs(cache, exist_ok=True)
    with open(os.path.join(cache, "image.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            busybox = nested.static_busybox()
            # nested.py reports on standard output, which is the test's.
            with contextlib.redirect_stdout(sys.stderr):
                deb = nested.kernel_deb(cache)
        except nested.Skip as e:
            raise SetupError(str(e)) from None
        init = open(os.path.join(HERE, "init"), "rb").read()
        stamp_text = "\n".join([os.path.basename(deb), hashlib.sha256(init).hexdigest()]
                               + L1_MODULES)
        stamp = os.path.join(cache, "image.stamp")
        vmlinux = os.path.join(cache, "vmlinux")
        initrd = os.path.join(cache, "initrd")
        if (os.path.exists(stamp) and open(stamp).read() == stamp_text
                and os.path.exists(vmlinux) and os.path.exists(initrd)):
            return vmlinux, initrd
        bzimage, modules = nested.unpack_kernel(cache, deb, L1_MODULES, subdir="l1-kernel")
        nested.extract_vmlinux(bzimage, vmlinux)
        c = nested.base_root(busybox, os.path.join(HERE, "init"))
        c.dir("host")
        for m in L1_MODULES:
            c.file("mod/" + os.path.basename(m), nested.module_bytes(modules[m]))
        with open(initrd + ".tmp", "wb") as f:
            f.write(c.finish())
        os.replace(initrd + ".tmp", initrd)
        with open(stamp, "w") as f:
            f.write(stamp_text)
        return vmlinux, initrd


# ---- one run ----

def tmp_entries(paths):
    """The entries of /tmp that the job needs to see in L1 (its folder, the
    working folder, the build, files named on the command line)."""
    keep = set()
    for p in paths:
        p = os.path.realpath(p)
        if p.startswith("/tmp/") and len(p) > 5:
            keep.add(p[5:].split("/")[0])
    for e in keep:
        if not e or "," in e or " " in e:
            raise SetupError(f"/tmp/{e}: L1 cannot show an entry of /tmp with a comma or a "
                             "space in its name; build elsewhere")
    return ",".join(sorted(keep))


def job_script(job, cmd):
    env = {k: v for k, v in os.environ.items() if k not in NOT_PASSED}
    env.update(TMPDIR="/tmp", XDG_RUNTIME_DIR="/run/user/0", NOOK_TEST_IN_L1="1",
               NOOK_TEST_TIME_SCALE=str(TIME_SCALE))
    env.setdefault("HOME", "/root")
    # GTK draws its windows with cairo in L1: its GL renderer on llvmpipe
    # under TCG takes the whole CPU at 60 frames a second. The app's own GL
    # (NookDisplay's texture uploads, on a GL context of its own) still runs.
    env.setdefault("GSK_RENDERER", "cairo")
    env.setdefault("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
    q = shlex.quote
    lines = ["# The job l1run.py runs inside L1."]
    lines += [f"export {k}={q(v)}" for k, v in sorted(env.items())
              if k.replace("_", "a").isalnum() and not k[0].isdigit()]
    lines.append(f"cd {q(os.getcwd())} || exit 1")
    lines.append(f"echo $(cut -d' ' -f1 /proc/uptime) > {q(job)}/started")
    # Standard output and error go out through virtio-serial ports that QEMU
    # writes straight into JOB/stdout and JOB/stderr on this machine, so they
    # are there as they are written, even when L1 is stopped mid-test (a
    # file written over 9p stays in L1's page cache until written back).
    lines.append(" ".join(q(a) for a in cmd) + " >/dev/l1-stdout 2>/dev/l1-stderr")
    lines.append(f"echo $? > {q(job)}/rc.tmp && mv {q(job)}/rc.tmp {q(job)}/rc")
    return "\n".join(lines) + "\n"


def tail(path, n):
    try:
        with open(path, errors="replace") as f:
            return f.read().splitlines()[-n:]
    except OSError:
        return []


def replay(job):
    for name, stream in (("stdout", sys.stdout), ("stderr", sys.stderr)):
        try:
            with open(os.path.join(job, name), errors="replace") as f:
                shutil.copyfileobj(f, stream)
        except OSError:
            pass
        stream.flush()


def run_in_l1(args, reason):
    vmlinux, initrd = image(args.cache)
    qemu = shutil.which(os.environ.get("NOOK_L1_QEMU", "qemu-system-x86_64"))
    if not qemu:
        raise SetupError("qemu-system-x86_64 is not installed (tests/setup-debian.sh test)")
    jobs = os.path.join(args.cache, "jobs")
    os.makedirs(jobs, exist_ok=True)
    job = tempfile.mkdtemp(prefix=os.path.basename(args.command[0]) + "-", dir=jobs)
    script = os.path.join(job, "job.sh")
    with open(script, "w") as f:
        f.write(job_script(job, args.command))
    keep = tmp_entries([job, os.getcwd()] + [a for a in args.command if a.startswith("/tmp/")])
    console = os.path.join(job, "console.log")
    # highres=off nohz=off: L1 keeps a periodic tick (its local APIC timer
    # in periodic mode) instead of one-shot timers. QEMU 7.2's TCG loses an
    # interrupt of L1's now and then while L1 runs a guest: helper_vmrun
    # sets CPU_INTERRUPT_VIRQ in interrupt_request with a plain |= outside
    # the big QEMU lock whenever L1's KVM opens an interrupt window (V_IRQ),
    # racing the main loop's cpu_interrupt() for L1's APIC timer. The
    # vector stays in the APIC's IRR with nothing to deliver it; with a
    # one-shot timer L1 then waits for it for ever (the whole L1 stops, e.g.
    # after nook-vmm's reset, while SeaBIOS starts with an interrupt pending
    # and interrupts off). The next interrupt from outside L1 delivers it,
    # and a periodic tick is always a next one, at most 4 ms later.
    append = f"console=ttyS0 panic=-1 quiet highres=off nohz=off l1.job={script}"
    if keep:
        append += f" l1.tmp={keep}"
    cmd = [qemu, "-accel", "tcg", "-M", "pc", "-cpu", "EPYC,+svm,+npt", "-smp", "1",
           "-m", str(args.memory), "-nographic", "-nodefaults", "-no-user-config",
           "-no-reboot", "-serial", f"file:{console}", "-monitor", "none",
           "-kernel", vmlinux, "-initrd", initrd, "-append", append,
           "-virtfs", "local,path=/,mount_tag=hostroot,security_model=passthrough,"
                      "multidevs=remap,id=hostroot",
           "-device", "virtio-serial-pci,id=l1ports"]
    for nr, name in enumerate(("stdout", "stderr"), start=1):
        cmd += ["-chardev", f"file,id={name},path=" + os.path.join(job, name).replace(",", ",,"),
                "-device", f"virtserialport,bus=l1ports.0,nr={nr},chardev={name},name=l1.{name}"]
    print(f"l1run: in L1 ({reason}); job {job}", file=sys.stderr, flush=True)
    start = time.monotonic()
    qemu_proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                 stderr=open(os.path.join(job, "qemu.stderr"), "w"))

    def stop(signum, _frame):
        # The main thread may be inside qemu_proc.wait(), holding the lock
        # that Popen.wait() takes: reap QEMU without it.
        qemu_proc.kill()
        try:
            os.waitpid(qemu_proc.pid, 0)
        except ChildProcessError:
            pass
        replay(job)
        print(f"l1run: stopped by signal {signum} after {time.monotonic() - start:.0f} s; "
              f"L1's console ({console}) ends:", file=sys.stderr)
        for line in tail(console, 20):
            print("  " + line, file=sys.stderr)
        sys.stderr.flush()
        os._exit(128 + signum)
    for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(s, stop)

    status = qemu_proc.wait()
    elapsed = time.monotonic() - start
    replay(job)
    rc_path = os.path.join(job, "rc")
    if os.path.exists(rc_path):
        rc = int(open(rc_path).read().strip() or 1)
        boot = open(os.path.join(job, "started")).read().strip() if os.path.exists(
            os.path.join(job, "started")) else "?"
        print(f"l1run: exit status {rc}; L1 up to the job {boot} s, {elapsed:.1f} s in all",
              file=sys.stderr)
        if not args.keep:
            shutil.rmtree(job, ignore_errors=True)
        return rc
    print(f"l1run: L1 ended (QEMU status {status}) after {elapsed:.1f} s without the job's "
          f"exit status; its console ({console}) ends:", file=sys.stderr)
    for line in tail(console, 40) + tail(os.path.join(job, "qemu.stderr"), 10):
        print("  " + line, file=sys.stderr)
    return 1


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--cache", default=os.environ.get("NOOK_L1_CACHE"),
                   help="folder for the kernel, L1's initramfs and the jobs "
                        "(default $NOOK_L1_CACHE)")
    p.add_argument("--vmm", required=True,
                   help="nook-vmm, whose --check-accel says whether this machine's KVM works")
    p.add_argument("--memory", type=int, default=2048, help="L1's RAM in MiB (default 2048)")
    p.add_argument("--keep", action="store_true", help="keep the job folder after a pass")
    p.add_argument("--why", action="store_true", help="say where the command would run, and why")
    p.add_argument("command", nargs="+")
    args = p.parse_args()

    forced = os.environ.get("NOOK_TEST_L1", "")
    if os.environ.get("NOOK_TEST_IN_L1") == "1":
        forced = "0"            # already in L1: its /dev/kvm is the real one
    try:
        place, reason = where(forced, args.vmm)
    except SetupError as e:
        print(f"l1run: {e}", file=sys.stderr)
        return 1
    if args.why:
        print(f"{place}: {reason}")
        return 0
    if place == "host":
        sys.stdout.flush()
        try:
            os.execvp(args.command[0], args.command)
        except OSError as e:
            print(f"l1run: cannot run {args.command[0]}: {e.strerror}", file=sys.stderr)
            return 1
    if not args.cache:
        p.error("--cache (or NOOK_L1_CACHE) is needed to make an L1")
    args.cache = os.path.abspath(args.cache)
    try:
        return run_in_l1(args, reason)
    except SetupError as e:
        # Not a skip: without an L1 this machine tests nothing that needs KVM.
        print(f"l1run: {reason}, and no L1 can be made: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
