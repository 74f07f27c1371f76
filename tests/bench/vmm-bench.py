#!/usr/bin/env python3
"""nook-vmm against QEMU microvm on the same PVH guests, alternating runs in
one process: start-to-exit wall time, peak resident memory of that run, and
the cost of one port-I/O exit. Prints medians and nook/QEMU ratios."""
import argparse
import os
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
    return 0


if __name__ == "__main__":
    sys.exit(main())
