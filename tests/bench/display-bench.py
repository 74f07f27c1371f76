#!/usr/bin/env python3
"""nook-vmm's SPICE display against QEMU -vga std -spice, on the same guest,
alternating runs: tests/guest/vga-stream.elf redraws its whole 1920x1080x32
framebuffer frame after frame, and tests/peer/spice-client (spice-client-glib)
counts over a unix socket what arrives for --seconds:

- fps: distinct frames a second (told apart by the guest's frame marker);
- updates/s: the client's display-invalidate signals a second;
- guest fps: frames the guest drew a second (its marker's frame counter);
- VMM CPU per frame: utime + stime of all the VMM's threads over the count,
  split into its vCPU thread (the guest's drawing and the dirty-page faults
  it takes) and the rest (the display path: dirty log, copies, spice-server);
- client CPU per frame;
- latency: from the guest writing a frame's marker (it stamps the TSC into
  it) to the client seeing that frame, median and 90th percentile;
- other CPUs: what the rest of the host used meanwhile (on a 2-CPU host the
  guest, which never stops drawing, takes one, so this matters).

Prints every run, the medians, and the nook-vmm/QEMU ratios. No timed
assertions: it fails only when a run does not produce its figures."""
import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

WIDTH, HEIGHT = 1920, 1080
MARKER = "8,8"          # a pixel of the guest's frame marker
TSC = "0,0"             # the three pixels holding the TSC of the marker's write
CLK_TCK = os.sysconf("SC_CLK_TCK")
KVM_RUN = 0xae80
SYS_IOCTL = 16          # x86_64


def log(msg):
    print(f"display-bench: {msg}", flush=True)


class Lines:
    """Reads a pipe line by line in a thread; each line with its time."""

    def __init__(self, pipe):
        self.lines = []
        self.cond = threading.Condition()
        self.thread = threading.Thread(target=self._read, args=(pipe,), daemon=True)
        self.thread.start()

    def _read(self, pipe):
        for raw in pipe:
            line = raw.decode(errors="replace").rstrip("\n")
            with self.cond:
                self.lines.append((time.monotonic(), line))
                self.cond.notify_all()
        with self.cond:
            self.lines.append((time.monotonic(), None))
            self.cond.notify_all()

    def wait_for(self, pred, timeout):
        """The first line for which pred holds, or None at EOF or timeout."""
        deadline = time.monotonic() + timeout
        seen = 0
        with self.cond:
            while True:
                for i in range(seen, len(self.lines)):
                    line = self.lines[i][1]
                    if line is None:
                        return None
                    if pred(line):
                        return line
                seen = len(self.lines)
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self.cond.wait(left)

    def text(self):
        with self.cond:
            return "\n".join(l for _, l in self.lines if l is not None)


def thread_cpu(pid):
    """CPU seconds (utime + stime) of each thread of pid, by thread id."""
    out = {}
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return out
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        out[int(tid)] = (int(fields[11]) + int(fields[12])) / CLK_TCK
    return out


def vcpu_threads(pid, tries=10):
    """The VMM's vCPU threads (neither VMM names them by default): a vCPU
    running guest code shows as running, so the VMM is stopped for a moment,
    which brings every vCPU out of the guest, and the threads whose current
    system call is ioctl(KVM_RUN) are the vCPUs. Done before the count; a
    few tries, as a vCPU may be stopped outside the call."""
    found = set()
    for _ in range(tries):
        os.kill(pid, signal.SIGSTOP)
        try:
            deadline = time.monotonic() + 2
            while time.monotonic() < deadline:
                states = []
                for tid in os.listdir(f"/proc/{pid}/task"):
                    try:
                        with open(f"/proc/{pid}/task/{tid}/stat") as f:
                            states.append(f.read().rsplit(")", 1)[1].split()[0])
                    except OSError:
                        pass
                if all(st in "TtZX" for st in states):
                    break
                time.sleep(0.005)
            for tid in os.listdir(f"/proc/{pid}/task"):
                try:
                    with open(f"/proc/{pid}/task/{tid}/comm") as f:
                        if f.read().startswith("kvm-"):
                            continue    # KVM's own kernel workers
                    with open(f"/proc/{pid}/task/{tid}/syscall") as f:
                        parts = f.read().split()
                except OSError:
                    continue
                if len(parts) >= 3 and parts[0] == str(SYS_IOCTL) and int(parts[2], 16) == KVM_RUN:
                    found.add(int(tid))
        finally:
            os.kill(pid, signal.SIGCONT)
        if found:
            break
        time.sleep(0.05)
    return found


def busy_cpus():
    """CPU seconds the whole host has spent busy so far."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return (sum(v[:8]) - v[3] - v[4]) / CLK_TCK     # all but idle and iowait


def wait_teardown(pgid):
    """nook-vmm leaves the kernel's VM teardown to a child that outlives it
    (in the VMM's process group): let it finish so it does not slow the next
    run."""
    deadline = time.time() + 10
    while time.time() < deadline:
        busy = False
        for p in os.listdir("/proc"):
            if p.isdigit():
                try:
                    with open(f"/proc/{p}/stat") as f:
                        busy = busy or int(f.read().rsplit(")", 1)[1].split()[2]) == pgid
                except (OSError, IndexError, ValueError):
                    pass
        if not busy:
            break
        time.sleep(0.01)
    time.sleep(0.5)


def nook_command(args, nook, sock):
    return [nook, "--kernel", args.guest, "--memory", args.memory, "--cpus", "1",
            "--vga", "std", "--display", "spice",
            "--spice", f"unix:{sock},image-compression={args.compression}",
            "--serial", "stdio", "--control", "none"]


def commands(args, sock):
    # How run-guest.py boots the guests under QEMU (q35, SeaBIOS loading
    # the PVH ELF), with the std VGA and SPICE on a unix socket.
    qemu = [args.qemu, "-accel", "kvm", "-M", "q35", "-nodefaults", "-no-user-config",
            "-display", "none", "-vga", "std", "-m", args.memory, "-smp", "1",
            "-spice", f"unix=on,addr={sock},disable-ticketing=on,"
                      f"image-compression={args.compression},streaming-video=off",
            "-serial", "stdio", "-kernel", args.guest]
    cmds = {"nook-vmm": nook_command(args, args.nook, sock), "qemu": qemu}
    for also in args.also:
        name, _, path = also.partition("=")
        cmds[name] = nook_command(args, path, sock)
    return cmds


def parse_summary(line):
    words = line.split()
    return {words[i]: words[i + 1] for i in range(0, len(words) - 1, 2)}


def one_run(args, who, cmd, sock, run):
    if os.path.exists(sock):
        os.unlink(sock)
    errpath = os.path.join(args.tmp, f"{who}-{run}.stderr")
    with open(errpath, "w") as err:
        vmm = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err,
                               start_new_session=True)
    serial = Lines(vmm.stdout)
    client = None
    try:
        if not serial.wait_for(lambda l: l.startswith("streaming"), args.boot_timeout):
            raise RuntimeError(f"the guest did not start streaming:\n{serial.text()}\n"
                               f"{open(errpath).read()}")
        deadline = time.monotonic() + 30
        while not os.path.exists(sock) and time.monotonic() < deadline:
            time.sleep(0.05)
        vcpus = vcpu_threads(vmm.pid)
        time.sleep(args.warmup)
        client = subprocess.Popen([args.client, "--uri", f"spice+unix://{sock}",
                                   "--count", str(args.seconds), "--marker", MARKER, "--tsc", TSC],
                                  stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE)
        out = Lines(client.stdout)
        if not out.wait_for(lambda l: l.startswith("start "), 60):
            raise RuntimeError(f"spice-client did not start counting: {client.stderr.read().decode()}")
        cpu0, t0, host0 = thread_cpu(vmm.pid), time.monotonic(), busy_cpus()
        summary = out.wait_for(lambda l: l.startswith("updates "), args.seconds + 60)
        cpu1, t1, host1 = thread_cpu(vmm.pid), time.monotonic(), busy_cpus()
        if not summary:
            raise RuntimeError(f"spice-client gave no figures: {client.stderr.read().decode()}")
        if client.wait(timeout=30) != 0:
            raise RuntimeError(f"spice-client failed: {client.stderr.read().decode()}")
    finally:
        if client and client.poll() is None:
            client.kill()
            client.wait()
        vmm.send_signal(signal.SIGKILL)
        vmm.wait()
        wait_teardown(vmm.pid)
    if vmm.returncode not in (-signal.SIGKILL,):
        raise RuntimeError(f"{who} ended by itself ({vmm.returncode}):\n{open(errpath).read()}")

    s = parse_summary(summary)
    frames = int(s["frames"])
    secs = float(s["seconds"])
    if frames == 0:
        raise RuntimeError(f"{who}: no frames arrived")
    delta = {tid: cpu1.get(tid, 0) - cpu0.get(tid, 0) for tid in cpu1}
    if not vcpus:
        log(f"{who}: could not tell its vCPU thread; 'of it vCPU' reads 0")
    vcpu = sum(v for tid, v in delta.items() if tid in vcpus)
    total = sum(delta.values())
    advance = (int(s["last_marker"], 16) - int(s["first_marker"], 16)) % (1 << 24)
    return {
        "fps": frames / secs,
        "updates": int(s["updates"]) / secs,
        "guest_fps": advance / secs,
        "cpu": total * 1000 / frames,
        "cpu_vcpu": vcpu * 1000 / frames,
        "cpu_rest": (total - vcpu) * 1000 / frames,
        "vmm_load": total / (t1 - t0),
        "client_cpu": float(s["cpu_ms"]) / frames,
        # Everything else the host ran meanwhile (this script included).
        "others": (host1 - host0 - total - float(s["cpu_ms"]) / 1000) / (t1 - t0),
        "lat": float(s.get("latency_ms_median", "nan")),
        "lat90": float(s.get("latency_ms_p90", "nan")),
    }


COLUMNS = [("fps", "fps", "{:7.2f}"), ("updates", "updates/s", "{:9.1f}"),
           ("guest_fps", "guest fps", "{:9.1f}"), ("cpu", "VMM ms/frame", "{:12.2f}"),
           ("cpu_vcpu", "  of it vCPU", "{:12.2f}"), ("cpu_rest", "  the rest", "{:10.2f}"),
           ("vmm_load", "VMM CPUs", "{:8.2f}"), ("client_cpu", "client ms/frame", "{:15.2f}"),
           ("lat", "latency ms", "{:10.1f}"), ("lat90", "p90 ms", "{:6.1f}"),
           ("others", "other CPUs", "{:10.2f}")]


def row(name, r):
    return f"  {name:16}" + " ".join(fmt.format(r[k]) for k, _, fmt in COLUMNS)


def header():
    return f"  {'':16}" + " ".join(f"{title:>{len(fmt.format(0.0))}}" for _, title, fmt in COLUMNS)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("nook", help="path to nook-vmm")
    ap.add_argument("--guest", default=None,
                    help="vga-stream.elf (default: tests/guest of the build)")
    ap.add_argument("--client", default=None,
                    help="tests/peer/spice-client (default: tests/peer of the build)")
    ap.add_argument("--qemu", default="qemu-system-x86_64")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=10.0, help="how long the client counts")
    ap.add_argument("--warmup", type=float, default=2.0,
                    help="seconds between the guest starting to draw and the count")
    ap.add_argument("--compression", default="off",
                    help="SPICE image compression on both sides (off, auto_glz, auto_lz, quic, glz, lz)")
    ap.add_argument("--memory", default="128M")
    ap.add_argument("--also", action="append", default=[], metavar="NAME=PATH",
                    help="another nook-vmm build to run in the rotation (say, before a change)")
    ap.add_argument("--boot-timeout", type=float, default=120.0)
    ap.add_argument("--tmp", default=None, help="folder for sockets and logs (default: a new one)")
    args = ap.parse_args()

    build = os.path.dirname(os.path.dirname(os.path.abspath(args.nook)))
    args.guest = args.guest or os.path.join(build, "tests", "guest", "vga-stream.elf")
    args.client = args.client or os.path.join(build, "tests", "peer", "spice-client")
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        print("skipped: /dev/kvm is missing or not accessible")
        return 77
    if args.client.startswith("missing:") or not os.path.exists(args.client):
        print("skipped: tests/peer/spice-client was not built (install libspice-client-glib-2.0-dev)")
        return 77
    if not os.path.exists(args.guest):
        sys.exit(f"display-bench: {args.guest} was not built")
    if args.tmp is None:
        args.tmp = tempfile.mkdtemp(prefix="display-bench-")
    os.makedirs(args.tmp, exist_ok=True)
    sock = os.path.join(args.tmp, "spice.sock")
    cmds = commands(args, sock)
    names = list(cmds)

    print(f"{WIDTH}x{HEIGHT}x32 redrawn by the guest continuously; spice-client counts "
          f"{args.seconds:g} s over a unix socket after {args.warmup:g} s; SPICE image compression "
          f"'{args.compression}' on both, no video streaming; {args.runs} alternating runs")
    for who in names:
        print(f"  {who}: {' '.join(cmds[who])}")
    print(f"  host: {os.cpu_count()} CPUs; 'other CPUs' is what everything else used meanwhile; "
          f"VMM logs in {args.tmp}")
    results = {who: [] for who in names}
    failed = []
    for i in range(args.runs):
        order = names[i % len(names):] + names[:i % len(names)]
        for who in order:
            try:
                r = one_run(args, who, cmds[who], sock, i + 1)
            except (RuntimeError, subprocess.TimeoutExpired) as e:
                log(f"run {i + 1}, {who}: FAILED: {e}")
                failed.append(f"{who} run {i + 1}")
                continue
            results[who].append(r)
            print(f"run {i + 1} {who:8}: " + ", ".join(
                f"{title.strip()} {fmt.format(r[k]).strip()}" for k, title, fmt in COLUMNS), flush=True)

    if any(not results[w] for w in names):
        log(f"no figures for {', '.join(w for w in names if not results[w])}")
        return 1
    med = {w: {k: statistics.median(r[k] for r in results[w]) for k, _, _ in COLUMNS} for w in names}
    print(f"\nmedians of {args.runs} runs:")
    print(header())
    for w in names:
        print(row(w, med[w]))
    n, q = med["nook-vmm"], med["qemu"]
    print(f"\nfps ratio nook-vmm/QEMU:              {n['fps'] / q['fps']:.3f} (goal >= 1.5)")
    print(f"VMM CPU per frame ratio nook-vmm/QEMU: {n['cpu'] / q['cpu']:.3f} (goal <= 1.0)")
    print(f"  without the vCPU thread:             {n['cpu_rest'] / q['cpu_rest']:.3f}")
    print(f"latency ratio nook-vmm/QEMU:           {n['lat'] / q['lat']:.3f}")
    if failed:
        log(f"runs that failed: {', '.join(failed)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
