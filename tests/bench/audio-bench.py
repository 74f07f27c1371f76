#!/usr/bin/env python3
"""nook-vmm's Intel HD Audio against QEMU's (ich9-intel-hda, hda-duplex,
-audiodev pa) with the same guest (tests/guest/hda.c with play=N: a 1 kHz
square wave at 48 kHz stereo, and one click), both playing into one private
PulseAudio server's null sink, whose monitor parec records. For each VMM,
alternating:

- latency: from the guest's "click written" line (the click is in its DMA
  buffer) to the click arriving in the sink's monitor stream;
- CPU time of the VMM process per second of playback;
- gaps in the recorded tone (runs of silence of 1 ms or more: underruns
  somewhere between the guest's buffer and the sink) over a longer run
  while every CPU of the host is kept busy, as by a parallel build.

Prints medians and nook-vmm/QEMU ratios. No timed assertions: it fails only
when a run does not finish as it should."""
import argparse
import multiprocessing
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

RATE = 48000
CLICK_LEVEL = 20000     # the square wave is +-8000, the click 30000
GAP_FRAMES = RATE // 1000


class Recorder:
    """parec on the sink's monitor: every chunk with the time it arrived."""

    def __init__(self, server, source):
        self.proc = subprocess.Popen(
            ["parec", f"--server={server}", "-d", source, "--raw", "--format=s16le",
             f"--rate={RATE}", "--channels=2", "--latency-msec=5"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        self.chunks = []
        self.thread = threading.Thread(target=self.read, daemon=True)
        self.thread.start()

    def read(self):
        while True:
            data = self.proc.stdout.read1(4096)
            if not data:
                return
            self.chunks.append((time.monotonic(), data))

    def stop(self):
        self.proc.terminate()
        self.proc.wait()
        self.thread.join(timeout=5)

    def frames(self):
        """Left samples with the arrival time of the chunk each came in."""
        buf, times = bytearray(), []
        for t, data in self.chunks:
            buf += data
            times.append((len(buf) // 4, t))
        left = memoryview(bytes(buf[: len(buf) // 4 * 4])).cast("h")[0::2]
        return left, times


def arrival(times, index):
    for end, t in times:
        if index < end:
            return t
    return None


def analyse(left, times, click_time):
    """Latency of the click, and the gaps inside the tone."""
    n = len(left)
    start = next((i for i in range(n) if abs(left[i]) > 1000), None)
    if start is None:
        return None, None, 0, 0.0
    end = max(i for i in range(n) if abs(left[i]) > 1000)
    latency = None
    if click_time is not None:
        for i in range(start, end + 1):
            if left[i] > CLICK_LEVEL:
                t = arrival(times, i)
                if t is not None and t >= click_time - 0.5:
                    latency = t - click_time
                    break
    gaps, longest, run = 0, 0, 0
    for i in range(start, end + 1):
        if abs(left[i]) < 100:
            run += 1
        else:
            if run >= GAP_FRAMES:
                gaps += 1
                longest = max(longest, run)
            run = 0
    return latency, (end - start) / RATE, gaps, longest / RATE * 1000


def busy():
    while True:
        pass


def play_once(args, who, seconds, load):
    server = "unix:" + args.pulse_socket
    image = args.guest
    if who == "nook-vmm":
        cmd = [args.nook, "--kernel", image, "--append", f"play={seconds}", "--memory", "64M",
               "--serial", "stdio", "--control", "none", "--sound", "hda", "--audio", "pulse"]
        env = dict(os.environ, PULSE_SERVER=server)
    else:
        cmd = [args.qemu, "-M", "q35", "-enable-kvm", "-nodefaults", "-no-user-config",
               "-display", "none", "-m", "64", "-serial", "stdio",
               "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04",
               "-audiodev", f"pa,id=snd0,server={server}",
               "-device", "ich9-intel-hda,addr=1b.0", "-device", "hda-duplex,audiodev=snd0",
               "-kernel", image, "-append", f"play={seconds}"]
        env = dict(os.environ)
    hogs = [multiprocessing.Process(target=busy, daemon=True) for _ in range(os.cpu_count() or 1)] \
        if load else []
    for h in hogs:
        h.start()
    rec = Recorder(server, "nook_bench.monitor")
    time.sleep(0.3)
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, env=env)
    click_time, lines = None, []
    for raw in p.stdout:
        line = raw.decode(errors="replace").strip()
        lines.append(line)
        if line == "click written":
            click_time = time.monotonic()
    _, status, usage = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    err = p.stderr.read().decode(errors="replace")
    time.sleep(0.3)
    rec.stop()
    for h in hogs:
        h.terminate()
    if p.returncode != 1 or "PASS" not in lines:
        sys.exit(f"{who} did not play to the end (status {p.returncode}):\n"
                 + "\n".join(lines[-10:]) + "\n" + err[-2000:])
    left, times = rec.frames()
    latency, span, gaps, longest = analyse(left, times, click_time)
    if span is None:
        sys.exit(f"{who}: nothing reached the sink")
    cpu = usage.ru_utime + usage.ru_stime
    return {"latency": latency, "span": span, "gaps": gaps, "longest_gap_ms": longest,
            "cpu_per_s": cpu / seconds}


def start_pulse(tmp):
    home = os.path.join(tmp, "home")
    os.makedirs(home)
    sock = os.path.join(tmp, "pulse.sock")
    env = dict(os.environ, HOME=home, XDG_RUNTIME_DIR=home)
    p = subprocess.Popen(["pulseaudio", "-n", "--daemonize=no", "--exit-idle-time=-1",
                          "--disallow-exit", "--use-pid-file=no", "--system=false",
                          f"--load=module-native-protocol-unix socket={sock} auth-anonymous=1",
                          "--load=module-null-sink sink_name=nook_bench rate=48000"],
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL, env=env)
    for _ in range(100):
        if os.path.exists(sock):
            break
        time.sleep(0.1)
    else:
        sys.exit("pulseaudio did not start")
    subprocess.run(["pactl", f"--server=unix:{sock}", "set-default-sink", "nook_bench"], check=False)
    return sock, p


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("nook")
    ap.add_argument("--guest", required=True, help="hda.elf")
    ap.add_argument("--qemu", default=shutil.which("qemu-system-x86_64"))
    ap.add_argument("--runs", type=int, default=3, help="latency and CPU runs of each (default 3)")
    ap.add_argument("--seconds", type=int, default=10, help="length of those runs")
    ap.add_argument("--loaded-seconds", type=int, default=60,
                    help="length of the run under load (default 60)")
    args = ap.parse_args()
    for tool in ("pulseaudio", "parec", "pactl"):
        if not shutil.which(tool):
            print(f"SKIP: {tool} is not installed (tests/setup-debian.sh test)")
            return 77
    if not args.qemu:
        print("SKIP: qemu-system-x86_64 is not installed")
        return 77
    with tempfile.TemporaryDirectory(prefix="nook-audio-bench-") as tmp:
        args.pulse_socket, daemon = start_pulse(tmp)
        try:
            res = {"nook-vmm": [], "qemu": []}
            for i in range(args.runs):
                for who in (("nook-vmm", "qemu") if i % 2 == 0 else ("qemu", "nook-vmm")):
                    r = play_once(args, who, args.seconds, False)
                    res[who].append(r)
                    print(f"{who}: latency {r['latency'] * 1000 if r['latency'] is not None else float('nan'):.1f} ms, "
                          f"CPU {r['cpu_per_s'] * 1000:.1f} ms/s, gaps {r['gaps']}, "
                          f"{r['span']:.1f} s of tone", flush=True)
            loaded = {}
            for who in ("nook-vmm", "qemu"):
                loaded[who] = play_once(args, who, args.loaded_seconds, True)
                r = loaded[who]
                print(f"{who} under load: {r['gaps']} gaps (longest {r['longest_gap_ms']:.1f} ms) "
                      f"in {r['span']:.1f} s", flush=True)
        finally:
            daemon.terminate()
            daemon.wait()

    def med(who, key):
        vals = [r[key] for r in res[who] if r[key] is not None]
        return statistics.median(vals) if vals else float("nan")

    print(f"\n{'':34} {'nook-vmm':>10} {'qemu':>10} {'ratio':>7}")
    for key, label, scale in (("latency", "output latency (ms)", 1000),
                              ("cpu_per_s", "CPU per second of playback (ms)", 1000)):
        a, b = med("nook-vmm", key) * scale, med("qemu", key) * scale
        print(f"{label:34} {a:10.1f} {b:10.1f} {a / b if b else float('nan'):7.2f}")
    print(f"{'gaps in ' + str(args.loaded_seconds) + ' s under load':34} "
          f"{loaded['nook-vmm']['gaps']:10d} {loaded['qemu']['gaps']:10d}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
