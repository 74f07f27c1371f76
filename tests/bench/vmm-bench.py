#!/usr/bin/env python3
"""nook-vmm against QEMU microvm on the same PVH guests, alternating runs in
one process: start-to-exit wall time, peak resident memory of that run, and
the cost of one port-I/O exit. Prints medians and nook/QEMU ratios, then
where each VMM's resident memory is when the guest has exited (one run of
each, held there by strace; /proc/PID/smaps)."""
import argparse
import glob
import os
import shutil
import statistics
import subprocess
import sys
import time

PIO_EXITS = 100000


def run(args, cmd):
    """Wall seconds, peak RSS in KiB and exit status of one run, measured by
    spawn-measure so that this Python process's memory does not count."""
    p = subprocess.run([args.spawn_measure] + cmd, stdin=subprocess.DEVNULL,
                       capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(f"spawn-measure failed: {p.stderr}")
    ns, rss, status = (int(x) for x in p.stdout.split())
    return ns / 1e9, rss, status, p.stderr


def wait_teardown():
    """nook-vmm leaves the kernel's VM teardown to a child that outlives it;
    let that finish so it does not slow the next run of either VMM."""
    deadline = time.time() + 5
    while time.time() < deadline:
        busy = False
        for pid in os.listdir("/proc"):
            if pid.isdigit():
                try:
                    with open(f"/proc/{pid}/comm") as f:
                        busy = busy or f.read().strip() == "nook-vmm"
                except OSError:
                    pass
        if not busy:
            break
        time.sleep(0.002)
    # The kernel finishes a destroyed VM's RCU work in the background; give
    # every run the same quiet machine to start on.
    time.sleep(0.2)


def commands(args, image):
    nook = [args.nook, "--kernel", image, "--memory", args.memory, "--serial", "none",
            "--control", os.path.join(args.tmp, "bench-control.sock")]
    qemu = [args.qemu, "-M", "microvm", "-enable-kvm", "-nodefaults", "-no-user-config",
            "-display", "none", "-m", args.memory,
            "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04", "-kernel", image]
    # QEMU's own way of leaving teardown to another process, for comparison.
    return {"nook-vmm": nook, "nook-vmm --sync-teardown": nook + ["--sync-teardown"], "qemu": qemu,
            "qemu -async-teardown": qemu + ["-async-teardown"]}


def measure(args, image, runs):
    cmds = commands(args, image)
    results = {who: [] for who in cmds}
    names = list(cmds)
    for i in range(runs):
        order = names[i % len(names):] + names[:i % len(names)]
        for who in order:
            wait_teardown()
            wall, rss, rc, err = run(args, cmds[who])
            if rc != 1:
                sys.exit(f"{who} on {os.path.basename(image)} exited with {rc}, "
                         f"expected 1 (debug-exit 0):\n{err}")
            results[who].append((wall, rss))
    return results


def med(vals):
    return statistics.median(vals)


# ---- where the resident memory is ----

# x86_64 system call numbers: where each VMM is held for a look at its
# memory. nook-vmm forks once, to leave the VM's teardown to a child
# (vm_detach_teardown), after the guest has exited and before anything is
# freed; QEMU exits from the vCPU thread when the guest writes to
# isa-debug-exit. Both points are as late as can be with all still mapped.
SYS_CLONE = 56
SYS_EXIT_GROUP = 231
HOLD_US = 3000000

CATEGORIES = [
    ("binary", "the VMM's own binary (text, data, relocations)"),
    ("lib_clean", "shared libraries, clean: text, rodata (page cache, shared)"),
    ("lib_dirty", "shared libraries, dirty: relocations, GOT, .data, .bss"),
    ("heap", "malloc: main heap and thread arenas"),
    ("stacks", "stacks: main thread and other threads"),
    ("guest", "guest RAM touched"),
    ("kvm", "KVM vCPU mmaps (kvm_run)"),
    ("anon", "other anonymous memory (large malloc blocks, ...)"),
    ("other", "other files and kernel pages (locale, gconv, vdso)"),
]


def read_smaps(pid):
    """The mappings of /proc/PID/smaps, in address order, as dicts with
    start, end, perms, path and the kB fields."""
    maps = []
    with open(f"/proc/{pid}/smaps") as f:
        for line in f:
            head = line.split()
            if "-" in head[0] and not head[0].endswith(":"):
                start, end = (int(x, 16) for x in head[0].split("-"))
                maps.append({"start": start, "end": end, "perms": head[1],
                             "path": " ".join(head[5:]) if len(head) > 5 else ""})
            elif len(head) >= 2 and head[0].endswith(":") and head[1].isdigit():
                maps[-1][head[0][:-1]] = int(head[1])
    return maps


def classify(maps, exe, ram_bytes):
    """Resident kB per category of CATEGORIES."""
    kb = {c: 0 for c, _ in CATEGORIES}
    exe = os.path.realpath(exe)
    prev = None
    owner = None        # the file whose mapping the previous one was
    for m in maps:
        rss = m.get("Rss", 0)
        dirty = m.get("Private_Dirty", 0) + m.get("Shared_Dirty", 0)
        size = m["end"] - m["start"]
        path = m["path"]
        adjacent = prev is not None and prev["end"] == m["start"]
        if path.startswith("/") and not path.startswith("/dev/") and not path.startswith("/memfd:"):
            owner = path
            if path == exe:
                kb["binary"] += rss
            elif ".so" in os.path.basename(path):
                kb["lib_clean"] += rss - dirty
                kb["lib_dirty"] += dirty
            else:
                kb["other"] += rss
        elif path == "[heap]":
            kb["heap"] += rss
        elif path == "[stack]":
            kb["stacks"] += rss
        elif path.startswith("anon_inode:kvm"):
            kb["kvm"] += rss
        elif path.startswith("[") and path != "[anon]" and not path.startswith("[anon:"):
            kb["other"] += rss             # [vdso], [vvar], [vsyscall]
        elif ram_bytes <= size <= ram_bytes + (8 << 20):
            kb["guest"] += rss
        elif adjacent and owner and prev["path"] == owner and "w" in m["perms"]:
            # A binary's or library's .bss, right after its data.
            kb["binary" if owner == exe else "lib_dirty"] += rss
        elif m["start"] % (64 << 20) == 0 and size <= (64 << 20) and "w" in m["perms"]:
            kb["heap"] += rss              # glibc's arenas sit at 64 MiB boundaries
        elif adjacent and prev["perms"].startswith("---") and prev["end"] - prev["start"] <= (1 << 20):
            kb["stacks"] += rss            # a thread stack, above its guard page
        else:
            kb["anon"] += rss
        if path and not path.startswith("/"):
            owner = None
        prev = m
    return kb


def status_kb(pid):
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("VmHWM", "VmRSS", "RssAnon", "RssFile", "RssShmem", "Threads"):
                out[k] = int(v.split()[0])
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("Private_Dirty", "Pss"):
                out[k] = int(v.split()[0])
    return out


def held_at(pid, nr):
    """Whether a thread of pid is in system call nr (strace holds it there)."""
    for path in glob.glob(f"/proc/{pid}/task/*/syscall"):
        try:
            with open(path) as f:
                if f.read().split(" ", 1)[0] == str(nr):
                    return True
        except OSError:
            pass
    return False


def memory_at_exit(args, cmd, nr, exe):
    """Runs cmd under strace, which holds it for a few seconds when it first
    enters system call nr; returns (status figures, kB per category) read
    meanwhile, or None with the reason."""
    name = {SYS_CLONE: "clone", SYS_EXIT_GROUP: "exit_group"}[nr]
    p = subprocess.Popen(["strace", "-f", "-qq", "-o", "/dev/null", "-e", "trace=" + name,
                          "-e", f"inject={name}:delay_enter={HOLD_US}:when=1", *cmd],
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                         text=True)
    result = None
    deadline = time.time() + 30
    try:
        while time.time() < deadline and p.poll() is None:
            # Asked every time: strace's first child may not be the VMM yet.
            try:
                with open(f"/proc/{p.pid}/task/{p.pid}/children") as f:
                    kids = f.read().split()
            except OSError:
                kids = []
            pid = int(kids[0]) if kids else None
            if pid is not None and held_at(pid, nr):
                result = (status_kb(pid), classify(read_smaps(pid), exe, parse_size(args.memory)))
                break
            time.sleep(0.005)
    finally:
        try:
            p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
    if result is None:
        return None, f"never reached {name} (exit status {p.returncode}): {p.stderr.read()[-500:]}"
    return result, None


def parse_size(text):
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    if text[-1:].upper() in units:
        return int(text[:-1]) * units[text[-1:].upper()]
    return int(text)


def print_breakdown(args, image):
    if not shutil.which("strace"):
        print("memory at exit: skipped: strace is not installed")
        return
    cmds = commands(args, image)
    qemu_exe = shutil.which(args.qemu) or args.qemu
    seen = {}
    for who, cmd, nr, exe in (("nook-vmm", cmds["nook-vmm"], SYS_CLONE, args.nook),
                              ("qemu", cmds["qemu"], SYS_EXIT_GROUP, qemu_exe)):
        wait_teardown()
        got, why = memory_at_exit(args, cmd, nr, exe)
        if got is None:
            print(f"memory at exit: {who}: skipped: {why}")
            return
        seen[who] = got
    (ns, nk), (qs, qk) = seen["nook-vmm"], seen["qemu"]
    print(f"memory when the guest has exited ({os.path.basename(image)}, one run each), KiB:")
    print(f"  {'':62} {'nook-vmm':>9} {'qemu':>9}")
    for key, label in (("VmRSS", "resident (VmRSS)"), ("VmHWM", "peak so far (VmHWM)"),
                       ("RssAnon", "  anonymous"), ("RssFile", "  file-backed"),
                       ("Private_Dirty", "  private dirty"), ("Pss", "proportional (Pss)"),
                       ("Threads", "threads")):
        print(f"  {label:62} {ns.get(key, 0):9} {qs.get(key, 0):9}")
    print("  by kind of mapping (/proc/PID/smaps):")
    for key, label in CATEGORIES:
        print(f"  {'  ' + label:62} {nk[key]:9} {qk[key]:9}")


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("nook", help="path to nook-vmm")
    ap.add_argument("--guests", default=None,
                    help="folder with exit.elf and pio-loop.elf (default: tests/guest of the build)")
    ap.add_argument("--qemu", default="qemu-system-x86_64")
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--memory", default="128M")
    ap.add_argument("--spawn-measure", default=None,
                    help="path to spawn-measure (default: beside this script in the build)")
    ap.add_argument("--tmp", default=os.environ.get("TMPDIR", "/tmp"))
    ap.add_argument("--memory-only", action="store_true",
                    help="only the look at each VMM's memory at exit, no timed runs")
    args = ap.parse_args()
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        print("skipped: /dev/kvm is missing or not accessible")
        return 77
    guests = args.guests or os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(args.nook))),
                                         "tests", "guest")
    if not args.spawn_measure:
        args.spawn_measure = os.path.join(os.path.dirname(guests), "bench", "spawn-measure")
    exit_img = os.path.join(guests, "exit.elf")
    pio_img = os.path.join(guests, "pio-loop.elf")
    if args.memory_only:
        print_breakdown(args, exit_img)
        return 0

    print(f"{args.runs} alternating runs each, medians; memory {args.memory}")
    start = measure(args, exit_img, args.runs)
    wall = {who: med([w for w, _ in r]) for who, r in start.items()}
    rss = {who: med([m for _, m in r]) for who, r in start.items()}
    q = "qemu"
    for who in ("nook-vmm", "nook-vmm --sync-teardown"):
        print(f"start-to-exit: {who} {wall[who] * 1000:.1f} ms, qemu {wall[q] * 1000:.1f} ms, "
              f"ratio {wall[who] / wall[q]:.3f} (goal <= 0.25)")
    print(f"(qemu -async-teardown: {wall['qemu -async-teardown'] * 1000:.1f} ms)")
    print(f"peak RSS:      nook-vmm {rss['nook-vmm'] / 1024:.2f} MiB, qemu {rss[q] / 1024:.2f} MiB, "
          f"ratio {rss['nook-vmm'] / rss[q]:.3f} (goal <= 0.30 and < 8 MiB)")

    if os.path.exists(pio_img):
        pio = measure(args, pio_img, args.runs)
        for who in ("nook-vmm", "nook-vmm --sync-teardown"):
            n_exit = (med([w for w, _ in pio[who]]) - wall[who]) / PIO_EXITS
            q_exit = (med([w for w, _ in pio[q]]) - wall[q]) / PIO_EXITS
            print(f"port-I/O exit: {who} {n_exit * 1e6:.2f} us, qemu {q_exit * 1e6:.2f} us, "
                  f"ratio {n_exit / q_exit:.3f} (goal <= 1.0)")
    else:
        print(f"port-I/O exit: skipped: {pio_img} was not built")
    print_breakdown(args, exit_img)
    return 0


if __name__ == "__main__":
    sys.exit(main())
