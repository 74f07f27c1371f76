#!/usr/bin/env python3
"""One check of the nested suite against the log of a run of nested.py.

Usage: check.py CHECK RESULT.json
CHECK is one of: l1-kvm, l2-boot, memory, clock, rtc. Exits 0 (pass),
1 (fail, with what went wrong and the end of L2's console) or 77 (skip:
the run could not happen on this machine).
"""
import json
import re
import sys

SKIP = 77
TAIL = 40

# Kernel messages that mean L2's clock went wrong.
CLOCK_TROUBLE = re.compile(
    r"clocksource.*unstable|Marking clocksource|timekeeping watchdog|"
    r"clocksource watchdog|TSC calibration failed|Fast TSC calibration failed|"
    r"[Uu]nable to calibrate|TSC.*unstable|tsc: Marking TSC|time went backwards|"
    r"clocksource .* skew")


VMM_NAME = {"nook": "nook-vmm", "qemu": "QEMU"}

# nook-vmm's exit statuses, as --help describes them.
VMM_STATUS = {
    "0": " (power-off, or a reset under --no-reboot: a panic with panic=-1 ends so)",
    "1": " (L2 wrote 0 to the debug-exit port: its /init ran to the end)",
    "2": " (bad configuration)",
    "4": " (the guest hit an error KVM cannot handle)",
    "137": " (killed by L1's timeout: L2 hung)",
}


class Failure(Exception):
    pass


class Run:
    def __init__(self, path):
        self.result = json.load(open(path))
        self.name = self.result["config"]
        self.vmm = VMM_NAME[self.result.get("l2_vmm", "nook")]
        self.lines = []         # (host seconds since QEMU started, text)
        if self.result.get("status") == "ran":
            for line in open(self.result["log"], errors="replace"):
                m = re.match(r"\[\s*([\d.]+)\] (.*)", line.rstrip("\n"))
                if m:
                    self.lines.append((float(m.group(1)), m.group(2)))

    def l1(self):
        return [(t, s) for t, s in self.lines if not s.startswith("L2| ")]

    def l2(self):
        return [(t, s[4:]) for t, s in self.lines if s.startswith("L2| ")]

    def find(self, lines, pattern):
        """The first (time, match) for pattern in lines, or (None, None)."""
        rx = re.compile(pattern)
        for t, s in lines:
            m = rx.search(s)
            if m:
                return t, m
        return None, None

    def marker(self, lines, name):
        """The key=value fields of the first marker line NAME."""
        t, m = self.find(lines, r"^" + re.escape(name) + r"(?: (.*))?$")
        if m is None:
            return None, None
        return t, dict(re.findall(r"(\w+)=(\S*)", m.group(1) or ""))

    def diagnosis(self):
        """What a reader needs when a check fails: how the run ended, what
        nook-vmm said, and the end of L2's console."""
        out = [f"log: {self.result['log']}"]
        r = self.result
        if r.get("timed_out"):
            out.append(f"QEMU (L0) was killed after {r['elapsed']:.0f} s")
        else:
            out.append(f"QEMU (L0) exited with status {r.get('qemu_status')} after {r.get('elapsed', 0):.0f} s")
        t, exit_ = self.marker(self.l1(), "NESTED-L1-VMM-EXIT")
        if exit_:
            status = exit_.get("status")
            out.append(f"the VMM in L1 exited with status {status} at {t:.1f} s"
                       + VMM_STATUS.get(status, ""))
        vmm = [s for _, s in self.l1() if s.startswith("VMM| ")]
        if vmm:
            out.append(f"{self.vmm} said:")
            out += ["  " + s[5:] for s in vmm[-20:]]
        l2 = self.l2()
        if l2:
            out.append(f"last {min(TAIL, len(l2))} lines of L2's console:")
            out += [f"  [{t:8.3f}] {s}" for t, s in l2[-TAIL:]]
        else:
            out.append("L2 printed nothing; last lines of L1's console:")
            out += [f"  [{t:8.3f}] {s}" for t, s in self.l1()[-TAIL:]]
        return "\n".join(out)


def ok(what):
    print(f"ok: {what}")


def need(cond, what):
    if not cond:
        raise Failure(what)
    ok(what)


def l2_init(run):
    t, fields = run.marker(run.l2(), "NESTED-L2-INIT")
    if fields is None:
        _, panic = run.find(run.l2(), r"Kernel panic - not syncing: .*")
        raise Failure(f"L2 never reached /init ({run.name}: {run.vmm} with "
                      f"{run.result['cpus']} CPU(s), {run.result['memory']}, "
                      f"append '{run.result['l2_append']}')"
                      + (f"\n  {panic.group(0)}" if panic else ""))
    return t


def timings(run):
    t = run.result.get("times", {})
    def span(a, b):
        return f"{t[b] - t[a]:.1f} s" if a in t and b in t else "-"
    print(f"timings ({run.name}): L0 start to L1 /init {t.get('l1_init', '-')} s, "
          f"{run.vmm} start to L2 kernel {span('l2_start', 'l2_kernel')}, "
          f"to L2 /init {span('l2_start', 'l2_init')}, whole run {run.result.get('elapsed', 0):.1f} s")


def check_l1_kvm(run):
    l1 = run.l1()
    need(run.marker(l1, "NESTED-L1-INIT")[1] is not None, "L1 reached /init")
    _, m = run.find(l1, r"^NESTED-L1-INSMOD-FAILED (\S+)")
    need(m is None, "L1 loaded irqbypass, ccp, kvm and kvm-amd" + (f" (not {m.group(1)})" if m else ""))
    t, kvm = run.marker(l1, "NESTED-L1-KVM")
    need(kvm is not None and "nested" in kvm, "L1 has /dev/kvm from kvm-amd")
    print(f"L1 kvm_amd: nested={kvm.get('nested')} npt={kvm.get('npt')}")


def check_l2_boot(run):
    cpus = run.result["cpus"]
    t_start, start = run.marker(run.l1(), "NESTED-L1-VMM-START")
    need(start is not None, f"L1 started {run.vmm}")
    _, kernel = run.find(run.l2(), r"Linux version")
    need(kernel is not None, "L2's kernel printed its banner")
    l2_init(run)
    ok("L2 reached /init and printed its marker")
    l2 = run.l2()
    # A kernel oops, not a user process's trap (which says "traps: ...").
    _, panic = run.find(l2, r"Kernel panic|BUG: |Oops|general protection fault.*\[#\d+\]")
    need(panic is None, "L2's kernel did not panic or oops"
         + (f" (it said: {panic.string})" if panic else ""))
    _, cpuline = run.marker(l2, "NESTED-L2-CPUS")
    online = cpuline.get("online", "?") if cpuline else "?"
    want = "0" if cpus == 1 else f"0-{cpus - 1}"
    if online != want:
        # What the kernel found to enumerate CPUs with (MP table, ACPI MADT).
        said = [s for _, s in l2 if re.search(
            r"smpboot: (Boot CPU|Allowing|Total)|MADT or MP tables|MP-table|RSDP|"
            r"ACPI: Using|smp: Brought up", s)]
        raise Failure(f"L2 has CPUs {online} online, expected {want} (nook-vmm --cpus {cpus})"
                      + "".join(f"\n  the kernel said: {s}" for s in said))
    ok(f"L2 has all {cpus} CPU(s) online ({online})")
    need(run.marker(l2, "NESTED-L2-DONE")[1] is not None, "L2's /init ran to its end")
    _, exit_ = run.marker(run.l1(), "NESTED-L1-VMM-EXIT")
    status = exit_.get("status") if exit_ else None
    if run.result.get("l2_vmm") == "qemu" and status == "0":
        # In QEMU on this KVM the helper's outb to 0xf4 takes a #GP
        # (traps: exit-port ... general protection fault), and L2 falls
        # back to reboot -f: the reference still counts as having finished.
        _, trap = run.find(l2, r"traps: exit-port.*")
        print("note: the reference left through reboot -f" + (f" ({trap.group(0)})" if trap else ""))
        return
    need(status == "1", "nook-vmm exited with status 1 (L2 wrote 0 to the debug-exit port 0xf4)"
         + (f"; it exited with {status}" if status != "1" else ""))
    errors = [s for _, s in run.l1() if s.startswith("VMM| ") and ": error:" in s]
    need(not errors, "nook-vmm logged no errors" + (f" (first: {errors[0][5:]})" if errors else ""))
    for _, s in run.l1():
        if s.startswith("VMM| "):
            print(f"note: nook-vmm said: {s[5:]}")
    for _, s in l2:
        if "WARNING:" in s or "XSAVE consistency" in s or "ACPI BIOS Error" in s:
            print(f"note: L2's kernel warned: {s}")


def parse_e820(lines):
    ranges = []
    for _, s in lines:
        m = re.search(r"BIOS-e820: \[mem 0x([0-9a-f]+)-0x([0-9a-f]+)\] (\w+)", s)
        if m:
            ranges.append((int(m.group(1), 16), int(m.group(2), 16) + 1, m.group(3)))
    return ranges


def check_memory(run):
    l2_init(run)
    size = run.result["memory_bytes"]
    if size > 0xb0000000:
        raise Failure("this check knows the layout of guests below 2.75 GiB only")
    e820 = parse_e820(run.l2())
    need(e820, "L2's kernel printed the e820 map")
    for a, b, kind in e820:
        print(f"  e820 {a:#014x}-{b - 1:#014x} {kind}")
    usable = sorted((a, b) for a, b, kind in e820 if kind == "usable")
    # Everything from 1 MiB to the end of RAM, and low memory up to the
    # EBDA, must be usable; nothing beyond the RAM nook-vmm was given.
    need(any(a <= 0x100000 and b == size for a, b in usable),
         f"e820 has one usable range from 1 MiB to the end of RAM ({size:#x})")
    need(any(a == 0 and b >= 0x9f000 for a, b in usable), "e820 has low memory from 0 to the EBDA")
    need(all(b <= size for a, b in usable), f"e820 has no usable RAM beyond {size:#x}")
    total = sum(b - a for a, b in usable)
    _, m = run.find(run.l2(), r"Memory: (\d+)K/(\d+)K available")
    need(m is not None, "L2's kernel printed its memory summary")
    pages_k = int(m.group(2))
    need(abs(pages_k * 1024 - total) < 64 * 1024,
         f"the kernel counts {pages_k}K of RAM, what e820 gives ({total >> 10}K)")
    _, meminfo = run.find(run.l2(), r"NESTED-L2-MEMINFO MemTotal:\s+(\d+) kB")
    need(meminfo is not None, "L2's /init read MemTotal")
    memtotal = int(meminfo.group(1)) * 1024
    # The kernel's image, page structures and reservations take a few tens
    # of MiB of a Debian kernel; more than 64 MiB gone means RAM is missing.
    need(size - 64 * 2**20 <= memtotal <= size,
         f"MemTotal {memtotal >> 10} kB is within 64 MiB below --memory {run.result['memory']} "
         f"({size >> 10} kB)")


def check_clock(run):
    l2_init(run)
    l2 = run.l2()
    trouble = [s for _, s in l2 if CLOCK_TROUBLE.search(s)]
    _, tsc = run.marker(l2, "NESTED-L2-TSC")
    flags = tsc.get("flags", "").split(",") if tsc else []
    if run.result["cpus"] > 1 and "constant_tsc" not in flags:
        # Linux's guess from CPUID, before any CPU is compared: a CPU model
        # without invariant TSC (CPUID 0x80000007 EDX bit 8) on an SMP
        # machine. KVM offers that bit only when its host has it.
        guess = [s for s in trouble if "TSCs unsynchronized" in s]
        for s in guess:
            print(f"note: no invariant TSC in L2's CPUID, so the kernel assumed: {s}")
        trouble = [s for s in trouble if s not in guess]
    need(not trouble, "L2's kernel reported no clock trouble" + (f" (it said: {trouble[0]})" if trouble else ""))
    _, cs = run.marker(l2, "NESTED-L2-CLOCKSOURCE")
    current = cs.get("current") if cs else None
    need(current in ("kvm-clock", "tsc"),
         f"L2's clocksource is kvm-clock or tsc (it is {current}, available {cs.get('available') if cs else '?'})")
    _, m1 = run.find(run.l1(), r"^\[[\s\d.]+\] tsc: Detected ([\d.]+) MHz")
    _, m2 = run.find(l2, r"tsc: Detected ([\d.]+) MHz")
    need(m2 is not None, "L2 knows its TSC frequency")
    if m1:
        f1, f2 = float(m1.group(1)), float(m2.group(1))
        need(abs(f1 - f2) / f1 < 0.01, f"L2's TSC ({f2} MHz) runs at L1's rate ({f1} MHz) within 1%")
    # The sleep lines are printed live on L2's own port: host stamps and
    # L2's uptime must advance together.
    t1, s1 = run.marker(l2, "NESTED-L2-SLEEP-START")
    t2, s2 = run.marker(l2, "NESTED-L2-SLEEP-END")
    need(s1 is not None and s2 is not None, "L2's /init timed its sleep")
    guest = float(s2["uptime"]) - float(s1["uptime"])
    host = t2 - t1
    need(abs(guest - host) <= max(0.3, 0.1 * host),
         f"L2's clock kept pace with the host's over a sleep ({guest:.2f} s in L2, {host:.2f} s on the host)")
    need(guest >= 2.9, f"L2's sleep 3 lasted at least 2.9 s of its own time ({guest:.2f} s)")


def check_rtc(run):
    l2_init(run)
    t, date = run.marker(run.l2(), "NESTED-L2-DATE")
    need(date is not None, "L2's /init printed the date")
    _, l1clock = run.marker(run.l1(), "NESTED-L1-CLOCK")
    hosttime = int(l1clock["hosttime"]) if l1clock and l1clock.get("hosttime") else int(run.result["start_epoch"])
    # hosttime (on L1's command line) is when QEMU started, in whole
    # seconds; the line's stamp says how long after that it arrived.
    expected = run.result["start_epoch"] + t
    l2_epoch = int(date["epoch"])
    print(f"host time passed to L1: {hosttime}; L2's date line arrived {t:.1f} s later; "
          f"L1 said {l1clock.get('epoch') if l1clock else '?'}")
    need(abs(l2_epoch - expected) <= 3,
         f"L2's date ({l2_epoch}) is within 3 s of the host's ({expected:.0f}), off by {l2_epoch - expected:+.1f} s")
    rtc = date.get("rtc")
    need(rtc not in (None, "none"), "L2 has an RTC device (rtc0)")
    need(abs(int(rtc) - l2_epoch) <= 2, f"L2's RTC ({rtc}) agrees with its system clock ({l2_epoch})")


CHECKS = {
    "l1-kvm": check_l1_kvm,
    "l2-boot": check_l2_boot,
    "memory": check_memory,
    "clock": check_clock,
    "rtc": check_rtc,
}


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in CHECKS:
        print(__doc__, file=sys.stderr)
        return 2
    try:
        run = Run(sys.argv[2])
    except FileNotFoundError as e:
        print(f"FAIL: no result from the nested run: {e}")
        return 1
    status = run.result.get("status")
    if status == "skip":
        print(f"skipped: {run.result['reason']}")
        return SKIP
    if status != "ran":
        print(f"FAIL: the nested run did not happen: {run.result.get('reason')}")
        print(run.result.get("traceback", ""))
        return 1
    timings(run)
    try:
        CHECKS[sys.argv[1]](run)
    except Failure as e:
        print(f"FAIL: {e}")
        print(run.diagnosis())
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
