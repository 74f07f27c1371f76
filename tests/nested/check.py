#!/usr/bin/env python3
"""One check of the nested suite against the log of a run of nested.py.

Usage: check.py CHECK RESULT.json
CHECK is one of: l1-kvm, l2-boot, memory, clock, rtc, disk, disk-readonly,
reboot, poweroff, power-button, firmware, reboot-no-reboot, display-console,
display-resize, input-keyboard, input-tablet, cdrom, sound-bind,
sound-playback, sound-playback-whole, sound-record. Exits 0 (pass), 1 (fail, with what went wrong and the end
of L2's console) or 77 (skip: the run could not happen on this machine, or
a tool a check needs is missing).
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

SKIP = 77
TAIL = 40

# Kernel messages that mean L2's clock went wrong.
CLOCK_TROUBLE = re.compile(
    r"clocksource.*unstable|Marking clocksource|timekeeping watchdog|"
    r"clocksource watchdog|TSC calibration failed|Fast TSC calibration failed|"
    r"[Uu]nable to calibrate|TSC.*unstable|tsc: Marking TSC|time went backwards|"
    r"clocksource .* skew")


# What Linux says about ACPI tables or AML it does not like.
ACPI_TROUBLE = re.compile(
    r"ACPI (BIOS )?(Error|Warning)|ACPI Exception|\[Firmware Bug\].*ACPI|"
    r"ACPI: .*(checksum (error|mismatch)|invalid|[Bb]ad|failed|[Ee]rror)|AE_[A-Z_]+")


VMM_NAME = {"nook": "nook-vmm", "qemu": "QEMU"}

# nook-vmm's exit statuses, as --help describes them.
VMM_STATUS = {
    "0": " (power-off, or a reset under --no-reboot: a panic with panic=-1 ends so)",
    "1": " (L2 wrote 0 to the debug-exit port: its /init ran to the end)",
    "2": " (bad configuration)",
    "4": " (the guest hit an error KVM cannot handle)",
    "5": " (L2 wrote 2 to the debug-exit port: its /init waited a minute for the power button)",
    "7": " (L2 wrote 3 to the debug-exit port: poweroff -f or reboot -f returned)",
    "137": " (killed by L1's timeout: L2 hung)",
}

# A kernel oops, not a user process's trap (which says "traps: ...").
KERNEL_TROUBLE = r"Kernel panic|BUG: |Oops|general protection fault.*\[#\d+\]"


# Terminal control sequences: SeaBIOS copies its text screen to the serial
# port with them.
ANSI = re.compile(r"\x1b(?:\[[0-9;?]*[A-Za-z]|[()][0-9A-Za-z]|[A-Za-z])")


class Failure(Exception):
    pass


class Skip(Exception):
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
                    self.lines.append((float(m.group(1)), ANSI.sub("", m.group(2))))

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
        ctl = [s for _, s in self.l1() if s.startswith("CTL| ")]
        if ctl:
            out.append("events on its control socket:")
            out += ["  " + s[5:] for s in ctl[-10:]]
        l1 = [f"  [{t:8.3f}] {s}" for t, s in self.l1() if re.match(
            r"NESTED-L1-(DISK|POWER-BUTTON|SCREEN|RESIZE|INPUT)", s)]
        if l1:
            out.append("what L1 saw and did:")
            out += l1[-8:]
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
    _, panic = run.find(l2, KERNEL_TROUBLE)
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
    acpi = [s for _, s in l2 if ACPI_TROUBLE.search(s)]
    need(not acpi, "L2's kernel found nothing wrong with the ACPI tables"
         + (f" (it said: {acpi[0]})" if acpi else ""))
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
        if "WARNING:" in s or "XSAVE consistency" in s:
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

# ---- virtio-blk, power-off, resets, the power button, firmware ----

def vmm_exit(run):
    """nook-vmm's exit status as L1 saw it, or None."""
    _, exit_ = run.marker(run.l1(), "NESTED-L1-VMM-EXIT")
    return exit_.get("status") if exit_ else None


def events(run):
    """(time, event) for each event nook-vmm sent on its control socket."""
    out = []
    for t, s in run.l1():
        if s.startswith("CTL| {"):
            try:
                out.append((t, json.loads(s[5:])))
            except ValueError:
                pass
    return out


def shutdown_event(run):
    """The data of the state-changed event to "shutdown", or None."""
    for _, e in events(run):
        if e.get("event") == "state-changed" and e.get("data", {}).get("state") == "shutdown":
            return e["data"]
    return None


def need_no_trouble(run, lines=None):
    lines = run.l2() if lines is None else lines
    _, panic = run.find(lines, KERNEL_TROUBLE)
    need(panic is None, "L2's kernel did not panic or oops"
         + (f" (it said: {panic.string})" if panic else ""))
    errors = [s for _, s in run.l1() if s.startswith("VMM| ") and ": error:" in s]
    need(not errors, f"{run.vmm} logged no errors" + (f" (first: {errors[0][5:]})" if errors else ""))


def need_exit(run, status, how):
    got = vmm_exit(run)
    need(got == status, f"{run.vmm} exited with status {status} {how}"
         + (f"; it exited with {got}{VMM_STATUS.get(got, '')}" if got != status
            else ""))


def need_shutdown(run, reason):
    """The control socket's last word: the VM shut down for reason."""
    data = shutdown_event(run)
    if run.result.get("l2_vmm") == "qemu":
        return
    need(data is not None, "nook-vmm announced the shutdown on its control socket")
    right = data.get("reason") == reason and data.get("status") == 0
    need(right, f"the shutdown event gives reason {reason!r} and status 0"
         + ("" if right else f" (it gives {data.get('reason')!r}, status {data.get('status')})"))


def banners(run):
    return [t for t, s in run.l2() if re.search(r"Linux version \d", s)]


def disk_setup(run):
    """L1's description of the disks and L2's view of them."""
    _, l1disk = run.marker(run.l1(), "NESTED-L1-DISK")
    need(l1disk is not None, "L1 made the disk images (rw.img, and ro.img for readonly)")
    l2_init(run)
    l2 = run.l2()
    failed = [s for _, s in l2 if s.startswith("NESTED-L2-INSMOD-FAILED")]
    need(not failed, "L2 loaded virtio_ring, virtio, virtio_pci_legacy_dev, "
         "virtio_pci_modern_dev, virtio_pci and virtio_blk"
         + (f" (not: {', '.join(f.split()[-1] for f in failed)})" if failed else ""))
    disks = {}
    for _, s in l2:
        m = re.match(r"NESTED-L2-DISK-INFO (.*)", s)
        if m:
            f = dict(re.findall(r"(\w+)=(\S*)", m.group(1)))
            disks.setdefault(f.get("dev"), f)
    return l1disk, disks


def need_disk(run, disks, dev, size, ro):
    if dev not in disks:
        _, devs = run.find(run.l2(), r"NESTED-L2-DISK-DEVICES (.*)")
        said = [s for _, s in run.l2() if re.search(r"virtio|vd[a-z]", s)
                and not s.startswith("NESTED-")]
        raise Failure(f"L2 has no /dev/{dev} (block devices: "
                      f"{devs.group(1).strip() if devs else '?'})"
                      + "".join(f"\n  the kernel said: {s}" for s in said[-10:]))
    d = disks[dev]
    need(d.get("size") == str(size),
         f"/dev/{dev} has the image's size, {size} bytes (L2 sees {d.get('size')})")
    need(d.get("ro") == ro, f"/dev/{dev} is {'read-only' if ro == '1' else 'writable'} "
         f"in L2 (ro={d.get('ro')})")
    print(f"/dev/{dev}: serial {d.get('serial')}, cache {d.get('cache')}, {d.get('queues')} queue(s)")


def check_disk(run):
    l1disk, disks = disk_setup(run)
    need_disk(run, disks, "vda", int(l1disk["rw_size"]), "0")
    l2 = run.l2()
    _, write = run.marker(l2, "NESTED-L2-DISK-WRITE")
    need(write is not None, "L2 wrote 1 MiB of random data to /dev/vda")
    need(write.get("status") == "0", f"the write succeeded (dd exited with {write.get('status')})")
    want = write["sha256"]
    print(f"sha256 of the data: {want}")
    t_sync, synced = run.marker(l2, "NESTED-L2-DISK-SYNCED")
    need(synced is not None, "L2 synced /dev/vda")
    _, read = run.marker(l2, "NESTED-L2-DISK-READ")
    need(read is not None, "L2 read the data back after dropping its caches")
    need(read["sha256"] == want,
         f"what L2 read back has the sha256 it wrote (read {read['sha256']})")
    # L1 watches the image file; its lines are in its own order, so "before
    # the VMM exited" is exact.
    l1 = run.l1()
    t_exit, _ = run.marker(l1, "NESTED-L1-VMM-EXIT")
    seen = [(t, f) for t, f in ((t, dict(re.findall(r"(\w+)=(\S*)", s)))
                                for t, s in l1 if s.startswith("NESTED-L1-DISK-DATA "))]
    for t, f in seen:
        print(f"L1 found sha256 {f.get('sha256')} in rw.img at {t:.1f} s (VMM {f.get('vmm')})")
    match = [(t, f) for t, f in seen if f.get("sha256") == want]
    need(match, "L1 found the data in the image file (the first MiB of rw.img has the sha256 "
         "L2 wrote)" + ("" if seen else "; the first MiB never changed"))
    t_seen, f = match[0]
    need(f.get("vmm") == "running" and (t_exit is None or t_seen < t_exit),
         "L1 found it while nook-vmm was still running")
    _, ack = run.find(l2, r"^NESTED-L2-DISK-ACK (\S+).*")
    need(ack is not None and ack.group(1) == "ok",
         "L2 read L1's acknowledgement of that data from /dev/vda (O_DIRECT): L1 found it "
         "after L2's sync, before L2 went on" + (f" ({ack.group(0)})" if ack else ""))
    _, after = run.marker(l1, "NESTED-L1-DISK-AFTER")
    need(after is not None and after.get("rw_sha256") == want,
         "after nook-vmm exited, rw.img still holds the data"
         + (f" (sha256 {after.get('rw_sha256')})" if after else ""))
    need_no_trouble(run)


def check_disk_readonly(run):
    l1disk, disks = disk_setup(run)
    need_disk(run, disks, "vdb", int(l1disk["ro_size"]), "1")
    l2 = run.l2()
    _, ro = run.marker(l2, "NESTED-L2-DISK-READONLY")
    need(ro is not None, "L2 read /dev/vdb and tried to write it")
    need(ro.get("sha256") == l1disk["ro_sha256"],
         f"/dev/vdb reads as ro.img's bytes (sha256 {ro.get('sha256')}, "
         f"ro.img {l1disk['ro_sha256']})")
    _, err = run.find(l2, r"^NESTED-L2-DISK-READONLY-ERROR (.*)")
    need(ro.get("write_status") not in (None, "0"),
         "a write to /dev/vdb failed in L2" + (f" ({err.group(1)})" if err else ""))
    _, after = run.marker(run.l1(), "NESTED-L1-DISK-AFTER")
    need(after is not None and after.get("ro_sha256") == l1disk["ro_sha256"],
         "ro.img is unchanged after the run"
         + (f" (sha256 {after.get('ro_sha256')})" if after else ""))
    need_no_trouble(run)


def check_reboot(run):
    """reboot -f in L2, nook-vmm without --no-reboot: the machine resets and
    L2 boots again, told apart by a mark the first boot left on vda."""
    l2_init(run)
    l2 = run.l2()
    t_reboot, reboot = run.marker(l2, "NESTED-L2-REBOOT")
    need(reboot is not None, "L2's first boot ran reboot -f")
    resets = [(t, e) for t, e in events(run) if e.get("event") == "reset"]
    if run.result.get("l2_vmm") != "qemu":
        need(resets, "nook-vmm reset the machine (a reset event on its control socket)")
        print(f"reset reason: {resets[0][1].get('data', {}).get('reason')}")
    t_boots = banners(run)
    need(len(t_boots) >= 2 and t_boots[1] > t_reboot,
         f"L2's kernel started again after the reset (kernel banners at "
         f"{', '.join(f'{t:.1f}' for t in t_boots)} s; reboot -f at {t_reboot:.1f} s)")
    need(len(t_boots) == 2, f"L2's kernel started exactly twice ({len(t_boots)} times)")
    inits = [t for t, s in l2 if s.startswith("NESTED-L2-INIT")]
    need(len(inits) == 2, f"L2 reached /init in both boots ({len(inits)} times)")
    boots = [s.split("=")[-1] for _, s in l2 if s.startswith("NESTED-L2-BOOT n=")]
    need(boots == ["1", "2"], "the second boot found the first boot's mark on /dev/vda "
         f"(boot numbers: {', '.join(boots) or 'none'})")
    _, write = run.marker(l2, "NESTED-L2-DISK-WRITE")
    _, kept = run.marker(l2, "NESTED-L2-DISK-KEPT")
    need(write is not None and kept is not None and kept["sha256"] == write["sha256"],
         "the data the first boot wrote to /dev/vda was there in the second")
    need(len([1 for _, s in run.l1() if s.startswith("NESTED-L1-VMM-EXIT")]) == 1
         and vmm_exit(run) not in (None, "137"),
         f"the reset did not end {run.vmm}: it ran on until the second boot ended it")
    need_no_trouble(run)


def check_poweroff(run):
    l2_init(run)
    t_off, off = run.marker(run.l2(), "NESTED-L2-POWEROFF")
    need(off is not None, "L2 ran poweroff -f (and printed its marker just before)")
    need(run.marker(run.l2(), "NESTED-L2-POWEROFF-FAILED")[1] is None,
         "poweroff -f did not return")
    need_exit(run, "0", "(power-off)")
    need_shutdown(run, "poweroff")
    need_no_trouble(run, [(t, s) for t, s in run.l2() if t >= t_off])


def check_power_button(run):
    l1 = run.l1()
    presses = [dict(re.findall(r"(\w+)=(\S*)", s)) for _, s in l1
               if s.startswith("NESTED-L1-POWER-BUTTON ")]
    ok_presses = [p for p in presses if p.get("status") == "0"]
    need(ok_presses, "L1 pressed the power button through nookctl powerdown"
         + (f" ({len(presses)} tries, the first said: {presses[0].get('reply')})" if presses else
            " (it never tried)"))
    print(f"L1 pressed it {len(ok_presses)} time(s) ({len(presses)} tries)")
    l2_init(run)
    l2 = run.l2()
    _, failed = run.find(l2, r"^NESTED-L2-INSMOD-FAILED (\S+)")
    need(failed is None, "L2 loaded button and evdev" + (f" (not {failed.group(1)})" if failed else ""))
    _, inputs = run.find(l2, r"^NESTED-L2-INPUT (\S*)")
    need(inputs is not None and "Power_Button" in inputs.group(1),
         "L2 has the ACPI power button as an input device"
         + (f" (input devices: {inputs.group(1)})" if inputs else ""))
    t_acpid, acpid = run.marker(l2, "NESTED-L2-ACPID")
    need(acpid is not None, "L2 started busybox acpid")
    t_handler, handler = run.find(l2, r"^NESTED-L2-POWER-BUTTON handler")
    _, timeout = run.find(l2, r"^NESTED-L2-POWER-BUTTON-TIMEOUT")
    need(handler is not None, "acpid ran L2's power-button handler"
         + (" (L2 waited a minute after acpid started)" if timeout else ""))
    print(f"acpid started at {t_acpid:.1f} s, the handler ran at {t_handler:.1f} s (host)")
    need_exit(run, "0", "(power-off from the handler)")
    need_shutdown(run, "poweroff")
    need_no_trouble(run)


def check_firmware(run):
    l2 = run.l2()
    t_bios, bios = run.find(l2, r"SeaBIOS \(version [^)]*\)")
    need(bios is not None, "SeaBIOS started (its banner on L2's console)")
    print(bios.group(0))
    t_disk, disk = run.find(l2, r"Booting from Hard Disk")
    need(disk is not None, "SeaBIOS booted from the hard disk (virtio-blk)")
    _, syslinux = run.find(l2, r"SYSLINUX \d\S* .*?(?= Copyright|$)")
    need(syslinux is not None, "SYSLINUX started from the disk")
    print(syslinux.group(0))
    t_boots = banners(run)
    need(t_boots, "L2's kernel printed its banner")
    l2_init(run)
    ok("L2 reached /init and printed its marker")
    _, cmdline = run.find(l2, r"^NESTED-L2-CMDLINE (.*)")
    # SYSLINUX's own lines are interleaved with SeaBIOS's copy of the
    # screen on the same port; the command line it passed says what it
    # loaded.
    args = cmdline.group(1).split() if cmdline else []
    need("BOOT_IMAGE=/vmlinuz" in args and "initrd=/initrd" in args,
         "SYSLINUX loaded /vmlinuz and /initrd from the disk with syslinux.cfg's command line "
         "(BOOT_IMAGE=/vmlinuz, initrd=/initrd)" + (f": {cmdline.group(1)}" if cmdline else ""))
    # Through fw_cfg's table-loader, SeaBIOS hands on nook-vmm's tables.
    _, acpi = run.marker(l2, "NESTED-L2-ACPI")
    need(acpi is not None and acpi.get("oem") == "NOOK",
         "L2's kernel uses nook-vmm's ACPI tables, passed on by SeaBIOS (FADT OEM ID NOOK)"
         + (f" (OEM ID {acpi.get('oem')!r}, tables {acpi.get('tables')})" if acpi else ""))
    print(f"timings (host): SeaBIOS at {t_bios:.1f} s, boot from disk at {t_disk:.1f} s, "
          f"kernel banner at {t_boots[0]:.1f} s")
    need_no_trouble(run)


def check_reboot_no_reboot(run):
    """reboot -f in L2 under --no-reboot: nook-vmm exits with 0."""
    l2_init(run)
    t_reboot, reboot = run.marker(run.l2(), "NESTED-L2-REBOOT")
    need(reboot is not None, "L2 ran reboot -f (and printed its marker just before)")
    need(run.marker(run.l2(), "NESTED-L2-REBOOT-FAILED")[1] is None, "reboot -f did not return")
    need_exit(run, "0", "(a reset under --no-reboot)")
    need_shutdown(run, "reset-with-no-reboot")
    later = [s for t, s in run.l2() if t > t_reboot and re.search(r"SeaBIOS \(version|Linux version", s)]
    need(not later, "the machine did not start again" + (f" ({later[0]})" if later else ""))
    need(not [e for _, e in events(run) if e.get("event") == "reset"],
         "nook-vmm sent no reset event")
    need_no_trouble(run)


# ---- the graphics card: bochs-drm, virtio-gpu ----

# --l2-vga: the card as l2-init names it, what it is, its DRM driver.
CARDS = {
    "std": ("the std VGA (PCI 1234:1111)", "bochs-drm"),
    "virtio": ("virtio-gpu (PCI 1af4:1050)", "virtio_gpu"),
}

# What l2-init puts on the screen (its SCREEN_TEXT); OCR's lines are
# compared with it without spaces, which OCR puts in or leaves out.
SCREEN_TEXT = "NOOK DISPLAY 4711"


def need_vmm_took_card(run):
    """A card nook-vmm does not know is refused before the guest starts
    (status 2); say so rather than that L2 never reached /init."""
    if run.result.get("l2_vmm") == "qemu" or vmm_exit(run) != "2":
        return
    said = [s[5:] for _, s in run.l1() if s.startswith("VMM| ")]
    raise Failure(f"nook-vmm refused its configuration (exit status 2) with --vga "
                  f"{run.result.get('l2_vga')}: {said[-1] if said else 'it said nothing'}")


def display_setup(run):
    """L2 found the card and its driver gave it a DRM device and /dev/fb0;
    returns the fields of L2's NESTED-L2-DISPLAY line."""
    need_vmm_took_card(run)
    l2_init(run)
    l2 = run.l2()
    vga = run.result.get("l2_vga", "none")
    card, driver = CARDS[vga]
    failed = [s.split()[-1] for _, s in l2 if s.startswith("NESTED-L2-INSMOD-FAILED")]
    need(not failed, "L2 loaded the mailbox's virtio-blk and the card's DRM driver with what "
         "it needs" + (f" (not: {', '.join(failed)})" if failed else ""))
    _, disp = run.marker(l2, "NESTED-L2-DISPLAY")
    need(disp is not None, "L2 looked for its graphics card")
    if disp.get("card") != vga:
        pci = [s for _, s in l2 if re.search(r"pci 0000:\S+: \[[0-9a-f]{4}:[0-9a-f]{4}\]", s)]
        raise Failure(f"L2 has no {card} on its PCI bus (it found: {disp.get('card')})"
                      + "".join(f"\n  the kernel said: {s}" for s in pci))
    ok(f"L2 found {card} at {disp.get('pci')}")
    dmesg = [s[len("NESTED-L2-DMESG "):] for _, s in l2 if s.startswith("NESTED-L2-DMESG ")]
    drm = disp.get("drm", "").split(",")
    what = (f"{driver} gave it a DRM device and, through its fbdev emulation, /dev/fb0 "
            f"(DRM devices: {disp.get('drm') or 'none'}; fb0: {disp.get('fb')}; "
            f"PCI driver: {disp.get('driver')})")
    if "card0" not in drm or disp.get("fb") in (None, "none"):
        raise Failure(what + "".join(f"\n  the kernel said: {s}" for s in dmesg))
    ok(what)
    for s in dmesg:
        print(f"L2's kernel: {s}")
    return disp


def ocr(png):
    """The lines tesseract reads on png, at twice its size first (fbcon's
    8x16 font is small for it) and then as it is."""
    with tempfile.TemporaryDirectory() as tmp:
        tries = []
        if shutil.which("convert"):
            big = os.path.join(tmp, "big.png")
            r = subprocess.run(["convert", png, "-filter", "point", "-resize", "200%",
                                "-bordercolor", "black", "-border", "32", big],
                               capture_output=True, text=True, timeout=60)
            if r.returncode == 0:
                tries.append(big)
        tries.append(png)
        lines = []
        for image in tries:
            p = subprocess.run(["tesseract", image, "-", "--psm", "6"],
                               capture_output=True, text=True, timeout=120)
            lines = [" ".join(line.split()) for line in p.stdout.splitlines() if line.strip()]
            if any(SCREEN_TEXT.replace(" ", "") in line.replace(" ", "").upper() for line in lines):
                break
        return lines


def check_display_console(run):
    """The DRM driver's console (fbcon) is on nook-vmm's display: L1's
    screendump shows the line L2 echoed to tty0."""
    if not shutil.which("tesseract"):
        raise Skip("tesseract is not installed (tests/setup-debian.sh test installs tesseract-ocr)")
    display_setup(run)
    l2 = run.l2()
    _, text = run.find(l2, r"^NESTED-L2-SCREEN-TEXT (.*)")
    need(text is not None, f"L2 cleared its console and echoed {text.group(1) if text else SCREEN_TEXT!r} "
         "to /dev/tty0")
    l1 = run.l1()
    need(run.marker(l1, "NESTED-L1-SCREEN-READY")[1] is not None,
         "L1 found L2's mark in the mailbox disk (the line is on the screen)")
    _, dump = run.marker(l1, "NESTED-L1-SCREENDUMP")
    need(dump is not None and dump.get("status") == "0",
         f"{'nookctl' if run.vmm == 'nook-vmm' else 'the monitor'} took a screendump"
         + (f" (status {dump.get('status')}: {dump.get('reply', '').replace('_', ' ')})"
            if dump and dump.get("status") != "0" else ""))
    screen = run.result.get("screens", {}).get("screen")
    need(screen is not None, "the screendump came out of L1 (base64 on its console)")
    need(screen.get("status") == "ok", f"the screendump arrived whole as a PNG file ({screen.get('status')})")
    print(f"screendump: {screen['file']}, {screen['width']}x{screen['height']}")
    lines = ocr(screen["file"])
    print("OCR reads:\n  " + "\n  ".join(lines or ["(nothing)"]))
    found = [line for line in lines
             if SCREEN_TEXT.replace(" ", "") in line.replace(" ", "").upper()]
    need(found, f"OCR finds {SCREEN_TEXT!r} on the screen ({screen['file']})")
    print(f"found: {found[0]!r}")
    need_no_trouble(run)


def check_display_resize(run):
    """After nook-vmm's resize-display, L2's connector offers the new size
    as its preferred mode: virtio-gpu after its display-config event,
    bochs-drm after binding again (it reads the EDID from BAR2 only then)."""
    disp = display_setup(run)
    l2 = run.l2()
    vga = run.result.get("l2_vga")
    card, driver = CARDS[vga]
    _, before = run.marker(l2, "NESTED-L2-MODES when=before")
    need(before is not None and before.get("first") not in (None, "none"),
         f"L2's connector {before.get('connector') if before else ''} has modes"
         + (f" (first: {before.get('first')})" if before else ""))
    print(f"before: preferred {before['first']}, modes {before.get('modes')}, "
          f"EDID {before.get('edid_bytes')} bytes, fb {before.get('fb')}")
    _, rs = run.marker(run.l1(), "NESTED-L1-RESIZE")
    need(rs is not None, "L1 got to the resize request (L2 marked the mailbox)")
    want = f"{rs.get('width')}x{rs.get('height')}"
    reply = rs.get("reply", "").replace("_", " ")
    if run.result.get("l2_vmm") == "qemu" and rs.get("status") == "unsupported":
        print(f"note: {reply}; nothing more to check on the reference")
        return
    need(rs.get("status") == "0", f"nookctl resize-display width={rs.get('width')} "
         f"height={rs.get('height')} succeeded" + (f" (status {rs.get('status')}: {reply})"
                                                   if rs.get("status") != "0" else ""))
    need(before["first"] != want, f"{want} is a new size (L2 preferred {before['first']} before)")
    _, req = run.marker(l2, "NESTED-L2-RESIZE-REQUEST")
    need(req is not None and req.get("size") == want,
         f"L2 read L1's answer in the mailbox ({req.get('size') if req else 'none'})")
    _, probe = run.marker(l2, "NESTED-L2-MODES when=probe")
    _, rebind = run.marker(l2, "NESTED-L2-MODES when=rebind")
    need(probe is not None, "L2 probed its connector again")
    print(f"after a probe: preferred {probe.get('first')}, modes {probe.get('modes')}, "
          f"EDID {probe.get('edid_bytes')} bytes, fb {probe.get('fb')}")
    if rebind:
        for _, s in l2:
            if s.startswith("NESTED-L2-REBIND-DMESG "):
                print(f"L2's kernel, binding {driver} again: {s.split(' ', 1)[1]}")
        print(f"after binding {driver} again: preferred {rebind.get('first')}, modes "
              f"{rebind.get('modes')}, EDID {rebind.get('edid_bytes')} bytes, fb {rebind.get('fb')}")
    if probe.get("first") == want:
        ok(f"{driver} offers {want} first (preferred) after a probe of the connector")
    elif vga == "std" and rebind and rebind.get("first") == want:
        ok(f"{driver} offers {want} first (preferred) once bound again: it reads the EDID at "
           f"bind time only (a probe alone still gave {probe.get('first')})")
    else:
        last = rebind or probe
        why = ""
        if vga == "std" and last.get("edid_bytes") in ("0", None):
            why = (": L2's connector has no EDID, so nook-vmm's std VGA offers none at "
                   "offset 0 of BAR2 and bochs-drm falls back to its built-in modes "
                   f"({last.get('first')} preferred)")
        elif vga == "std":
            why = f": the EDID at offset 0 of BAR2 still prefers {last.get('first')}"
        else:
            why = (f": within 10 s of the request the driver did not learn of a new size (no "
                   f"display-config event, or the display info still says {last.get('first')})")
        raise Failure(f"L2's connector does not offer {want} as its preferred mode after the "
                      f"request (it offers {last.get('modes')}){why}")
    need_no_trouble(run)


# ---- the virtio keyboard and tablet (with a graphics card) ----

# What L1 sends (l1-init's input_step) and what Linux must deliver.
POINTER_X, POINTER_Y = 12345, 23456
KEY_NAMES = {30: "KEY_A", 42: "KEY_LEFTSHIFT", 48: "KEY_B"}
# send-key a, then send-key shift-b: pressed in order, let go the other way.
KEYS_WANTED = [(30, 1), (30, 0), (42, 1), (48, 1), (48, 0), (42, 0)]
INPUT_DEVICES = {"keyboard": "Nook virtio keyboard", "tablet": "Nook virtio tablet"}


def input_events(run, label):
    """(type, code, value) of each event input-events printed for label."""
    out = []
    for _, s in run.l2():
        m = re.match(r"NESTED-L2-EV (\w+) (\S+) (\S+) (-?\d+)$", s)
        if m and m.group(1) == label:
            out.append((m.group(2), m.group(3), int(m.group(4))))
    return out


def show_events(events):
    return ", ".join(f"{t} {c} {v}" for t, c, v in events) or "none"


def input_setup(run, label):
    """L2 drives the device with virtio_input, found its event device by
    name and listened on it; L1 asked nook-vmm where input goes. Returns
    query-input's answer."""
    need_vmm_took_card(run)
    l2_init(run)
    l2 = run.l2()
    l1 = run.l1()
    if run.marker(l1, "NESTED-L1-INPUT-UNSUPPORTED")[1] is not None:
        raise Skip("the reference (QEMU in L1) has no virtio input devices and no control socket")
    failed = [s.split()[-1] for _, s in l2 if s.startswith("NESTED-L2-INSMOD-FAILED")]
    need(not failed, "L2 loaded virtio_input and evdev (with the virtio modules before them)"
         + (f" (not: {', '.join(failed)}; is it in L2's initramfs? nested.py's "
            "L2_INPUT_MODULES)" if failed else ""))
    _, devs = run.marker(l2, "NESTED-L2-INPUT-DEVICES")
    need(devs is not None, "L2 ran its input step (nested.l2=input)")
    name = INPUT_DEVICES[label]
    if devs.get(label) in (None, "none"):
        said = [s for _, s in l2 if re.search(r"virtio_input|input: ", s)
                and not s.startswith("NESTED-")]
        raise Failure(f"L2 has no event device named {name!r} (input devices: "
                      f"{devs.get('all', '').replace('_', ' ').rstrip(',') or 'none'})"
                      + "".join(f"\n  the kernel said: {s}" for s in said[-8:]))
    ok(f"L2 has {name!r} as /dev/input/{devs[label]}")
    _, opened = run.find(l2, r"^NESTED-L2-EV-DEVICE label=" + label + r" .*")
    _, open_failed = run.find(l2, r"^NESTED-L2-EV-OPEN-FAILED label=" + label + r" .*")
    _, missing = run.find(l2, r"input-events: not found")
    need(opened is not None, f"L2's reader opened the {label}'s event device"
         + (f" ({open_failed.group(0)})" if open_failed else "")
         + (" (input-events is not in L2's initramfs)" if missing else ""))
    need(run.marker(l1, "NESTED-L1-INPUT-READY")[1] is not None,
         "L1 found L2's mark in the mailbox disk (L2 listens)")
    _, query = run.find(l1, r"^NESTED-L1-INPUT-QUERY status=(\S+) .*reply=(.*)$")
    need(query is not None and query.group(1) == "0", "nookctl query-input succeeded"
         + (f" (status {query.group(1)}: {query.group(2).replace('_', ' ')})"
            if query and query.group(1) != "0" else ""))
    try:
        answer = json.loads(query.group(2))
    except ValueError:
        raise Failure(f"query-input's answer is not JSON: {query.group(2)}")
    print(f"query-input: {answer}")
    _, mark = run.marker(l2, "NESTED-L2-INPUT-ANSWER")
    need(mark is not None and mark.get("mark") == "NESTED-L1-INPUT-SENT",
         "L2 read L1's mark that everything was sent"
         + (f" (it read {mark.get('mark')})" if mark else ""))
    return answer


def need_sent(run, what, command):
    """L1's nookctl commands of one kind (POINTER, KEY) all succeeded."""
    sent = [dict(re.findall(r"(\w+)=(\S*)", s)) for _, s in run.l1()
            if s.startswith(f"NESTED-L1-INPUT-{what} ")]
    bad = [f for f in sent if f.get("status") != "0"]
    need(sent and not bad, f"nookctl {command} succeeded ({len(sent)} times)"
         + (f" ({bad[0].get('args', '').replace(',', ' ')}: status {bad[0].get('status')}, "
            f"{bad[0].get('reply', '').replace('_', ' ')})" if bad else "")
         + ("" if sent else "; L1 never ran it"))


def check_input_tablet(run):
    """An absolute pointer move arrives at the position sent: Linux's
    virtio_input reports ABS_X and ABS_Y as nook-vmm sent them (the tablet's
    range is 0..32767, the control protocol's), with BTN_LEFT down in the
    same report and up in the next."""
    answer = input_setup(run, "tablet")
    need(answer.get("tablet") == "virtio-tablet" and answer.get("absolute") is True,
         "nook-vmm sends the pointer to the virtio tablet, as an absolute pointer "
         f"(tablet: {answer.get('tablet')}, absolute: {answer.get('absolute')})")
    _, dev = run.find(run.l2(), r"^NESTED-L2-EV-DEVICE label=tablet .*")
    rng = dict(re.findall(r"(\w+)=(\S*)", dev.group(0)))
    need(rng.get("abs_x") == "0..32767" and rng.get("abs_y") == "0..32767",
         f"the tablet's ABS_X and ABS_Y range is 0..32767 (ABS_X {rng.get('abs_x')}, "
         f"ABS_Y {rng.get('abs_y')})")
    need_sent(run, "POINTER", f"send-pointer x={POINTER_X} y={POINTER_Y} buttons=1, then buttons=0")
    ev = input_events(run, "tablet")
    need(ev, "the tablet delivered events to L2" + ("" if ev else
         " (nothing arrived: no virtqueue buffers used, or no interrupt)"))
    print(f"tablet events: {show_events(ev)}")
    xs = [v for t, c, v in ev if c == "ABS_X"]
    ys = [v for t, c, v in ev if c == "ABS_Y"]
    need(xs == [POINTER_X] and ys == [POINTER_Y],
         f"the pointer arrived at the position sent, ABS_X {POINTER_X} and ABS_Y {POINTER_Y}, "
         f"once each: Linux drops the release's unchanged values (came: ABS_X {xs or 'none'}, "
         f"ABS_Y {ys or 'none'})")
    buttons = [v for t, c, v in ev if c == "BTN_LEFT"]
    need(buttons == [1, 0], f"BTN_LEFT went down, then up (BTN_LEFT: {buttons or 'none'})")
    # Reports end at SYN_REPORT; the move and the press are one report.
    reports, cur = [], []
    for e in ev:
        if e[1] == "SYN_REPORT":
            reports.append(cur)
            cur = []
        else:
            cur.append(e)
    need(not cur, "every event came with a SYN_REPORT after it"
         + (f" (not: {show_events(cur)})" if cur else ""))
    first = reports[0] if reports else []
    need(("ABS", "ABS_X", POINTER_X) in first and ("ABS", "ABS_Y", POINTER_Y) in first
         and ("KEY", "BTN_LEFT", 1) in first,
         f"the move and the press came in one report ({show_events(first)})")
    need(len(reports) == 2 and ("KEY", "BTN_LEFT", 0) in reports[1],
         f"the release came in a report of its own, the second "
         f"({len(reports)} reports: {' | '.join(show_events(r) for r in reports)})")
    other = [e for e in ev if e[1] not in ("ABS_X", "ABS_Y", "BTN_LEFT", "SYN_REPORT")]
    need(not other, "the tablet sent nothing else" + (f" ({show_events(other)})" if other else ""))
    need_no_trouble(run)


def check_input_keyboard(run):
    """Keys sent through nook-vmm's control socket reach Linux's virtio_input
    as the same key codes, in order, each followed by a SYN_REPORT."""
    answer = input_setup(run, "keyboard")
    need(answer.get("keyboard") == "virtio-keyboard",
         f"nook-vmm sends keys to the virtio keyboard (keyboard: {answer.get('keyboard')})")
    need_sent(run, "KEY", "send-key a, then send-key shift-b")
    ev = input_events(run, "keyboard")
    need(ev, "the keyboard delivered events to L2" + ("" if ev else
         " (nothing arrived: no virtqueue buffers used, or no interrupt)"))
    print(f"keyboard events: {show_events(ev)}")
    def key(code, value):
        how = {1: "down", 0: "up"}.get(value, f"value {value}")
        return f"{KEY_NAMES.get(code, code)} ({code}) {how}"
    # Autorepeat (value 2) is Linux's own, should L2 have been slow.
    repeats = [e for e in ev if e[0] == "KEY" and e[2] == 2]
    if repeats:
        print(f"note: Linux repeated a key {len(repeats)} time(s)")
    keys = [(int(c), v) for t, c, v in ev if t == "KEY" and v != 2 and c.isdigit()]
    want = ", ".join(key(c, v) for c, v in KEYS_WANTED)
    got = ", ".join(key(c, v) for c, v in keys) or "none"
    need(keys[:2] == KEYS_WANTED[:2], f"KEY_A (30) went down, then up ({got})")
    need(keys == KEYS_WANTED, f"the keys arrived in the order sent: {want}"
         + (f" (they came as: {got})" if keys != KEYS_WANTED else ""))
    unreported = [i for i, e in enumerate(ev) if e[0] == "KEY" and e[2] != 2
                  and (i + 1 >= len(ev) or ev[i + 1][1] != "SYN_REPORT")]
    need(not unreported, "a SYN_REPORT followed every key"
         + (f" (not {show_events([ev[unreported[0]]])})" if unreported else ""))
    other = [e for e in ev if e[0] not in ("KEY", "SYN")]
    need(not other, "the keyboard sent nothing else" + (f" ({show_events(other)})" if other else ""))
    need_no_trouble(run)


# libata's words for a command that failed or a link it had to reset.
ATA_TROUBLE = re.compile(r"exception Emask|failed command|hard resetting link|"
                         r"SError: |timeout|revalidation failed|link is slow to respond|"
                         r"I/O error|sr0: CDROM not ready")


def check_cdrom(run):
    """The DVD-ROM drive on AHCI (nook-vmm --cdrom): L2's ahci and sr_mod
    find it, and the disc reads back as the ISO made on the host, raw and
    through ISO 9660."""
    disc = run.result.get("cdrom")
    if not disc:
        raise Failure("the run gave L2 no CD-ROM (nested.py --l1 cdrom)")
    l2_init(run)
    l2 = run.l2()
    failed = [s.split()[-1] for _, s in l2 if s.startswith("NESTED-L2-INSMOD-FAILED")]
    need(not failed, "L2 loaded scsi_common, scsi_mod, libata, libahci, ahci, cdrom, sr_mod "
         "and isofs" + (f" (not: {', '.join(failed)})" if failed else ""))
    _, ahci = run.find(l2, r"ahci \S+: AHCI (\S+) (\d+) slots (\d+) ports .*")
    need(ahci is not None, "ahci took the controller"
         + (f": {ahci.group(0)}" if ahci else ""))
    _, atapi = run.find(l2, r"ata\d+\.00: ATAPI: (.*)")
    need(atapi is not None, "libata found an ATAPI device" + (f": {atapi.group(1)}" if atapi else ""))
    _, info = run.marker(l2, "NESTED-L2-CDROM-INFO")
    if info is None:
        _, devs = run.find(l2, r"NESTED-L2-CDROM-DEVICES (.*)")
        said = [s for _, s in l2 if re.search(r"\bata\d|ahci|scsi|sr0|sr \d", s)
                and not s.startswith("NESTED-")]
        raise Failure(f"L2 has no /dev/sr0 (block devices: {devs.group(1).strip() if devs else '?'})"
                      + "".join(f"\n  the kernel said: {s}" for s in said[-12:]))
    ok(f"L2 has /dev/sr0: {info.get('vendor')} {info.get('model')}, SCSI type {info.get('type')}")
    need(info.get("type") == "5", "it is a CD/DVD device (SCSI type 5)")
    need(info.get("size") == str(disc["iso_bytes"]),
         f"/dev/sr0 has the ISO's size, {disc['iso_bytes']} bytes (L2 sees {info.get('size')})")
    need(info.get("ro") == "1", f"/dev/sr0 is read-only (ro={info.get('ro')})")
    _, raw = run.marker(l2, "NESTED-L2-CDROM-RAW")
    need(raw is not None and raw.get("sha256") == disc["iso_sha256"],
         f"the whole of /dev/sr0 reads as the ISO (sha256 {raw.get('sha256') if raw else '?'}, "
         f"the ISO {disc['iso_sha256']})")
    _, mount = run.marker(l2, "NESTED-L2-CDROM-MOUNT")
    need(mount is not None and mount.get("status") == "0",
         "L2 mounted /dev/sr0 as iso9660"
         + (f" (status {mount.get('status')}, {mount.get('error')})" if mount else ""))
    _, f = run.marker(l2, "NESTED-L2-CDROM-FILE")
    need(f is not None and f.get("sha256") == disc["file_sha256"],
         f"{disc['file']} on it has the sha256 of the file put in the ISO "
         f"({f.get('sha256') if f else '?'}, want {disc['file_sha256']})")
    _, irq = run.find(l2, r"^NESTED-L2-CDROM-IRQ (.*)")
    if irq:
        print(f"L2's /proc/interrupts: {irq.group(1).replace('_', ' ')}")
    need(irq is not None and "MSI" in irq.group(1),
         "the controller interrupts through MSI")
    trouble = [s for _, s in l2 if ATA_TROUBLE.search(s) and not s.startswith("NESTED-")]
    need(not trouble, "libata and sr report no failed commands or link resets"
         + "".join(f"\n  the kernel said: {s}" for s in trouble[:10]))
    need_no_trouble(run)


# ---- the HD Audio controller (--sound hda, the wav backend) ----

# What L2 plays (nested.py's SOUND_PLAY) and what nook-vmm feeds to its
# recording (SOUND_RECORD), 48 kHz stereo S16_LE both.
PLAY_HZ, PLAY_SECONDS, RECORD_HZ, RECORD_SECONDS = 440, 10, 1000, 3
SOUND_RATE, SOUND_CHANNELS = 48000, 2
# Within 1 %: zero crossings over the whole tone.
FREQ_TOLERANCE = 0.01
# The longest run of zero frames allowed inside the tone: an underrun of
# the controller's DMA (or of the backend) shows up as silence in the file.
MAX_GAP_MS = 20
# How long aplay may take for the 10 s tone, in L2's time: the controller
# consumes the stream at its rate, so playback takes 10 s, plus what aplay
# needs to start (about 0.13 s from its start to the stream's trigger under
# nested TCG), less what the device holds in its ring when Linux's drain
# ends (up to the 32 ms the device runs ahead). Measured: 9.99 s under nook-vmm,
# 10.16 s under QEMU as the L2 VMM. A device that does not pace the DMA
# by the stream's rate ends within a second; one that runs 20 % slow or
# stalls, after 12.
APLAY_MIN_S, APLAY_MAX_S = 9.5, 12.5
# The first samples of the 440 Hz tone at 48 kHz (sox's sine, half of full
# scale, starting at phase 0).
TONE_HEAD = [0, 943, 1883, 2816]
# sox dithers: a sample is within a few steps of the sine.
TONE_SLACK = 8

# What snd-hda-intel and the HDA core say when the controller or the codec
# does not answer as they expect.
HDA_TROUBLE = re.compile(
    r"azx_get_response timeout|no codecs found|[Cc]odec.*(fail|error|timeout)|"
    r"spurious response|unsolicited|CORB reset timeout|RIRB|"
    r"(controller|codec) not ready|couldn'?t (bind|find|get|reset)|"
    r"probe.* failed|failed to|no AFG|Invalid position buffer|position_fix|"
    r"Unstable LPIB|BDL|(in|out) of range|IRQ timing workaround|"
    r"timeout", re.I)


def sound_dmesg(run):
    return [s[len("NESTED-L2-SOUND-DMESG "):] for _, s in run.l2()
            if s.startswith("NESTED-L2-SOUND-DMESG ")]


def sound_setup(run):
    """L2 loaded the sound modules and ran its step; returns its device line."""
    if not run.result.get("l1") or "sound" not in run.result["l1"].split(","):
        raise Failure("the run gave L2 no sound card (nested.py --l1 sound)")
    l2_init(run)
    l2 = run.l2()
    failed = [s.split()[-1] for _, s in l2 if s.startswith("NESTED-L2-INSMOD-FAILED")]
    need(not failed, "L2 loaded soundcore, snd, snd-timer, snd-pcm, snd-hwdep, snd-hda-core, "
         "snd-intel-sdw-acpi, snd-intel-dspcfg, snd-hda-codec, ledtrig-audio, "
         "snd-hda-codec-generic and snd-hda-intel"
         + (f" (not: {', '.join(failed)})" if failed else ""))
    _, dev = run.marker(l2, "NESTED-L2-SOUND-DEVICE")
    need(dev is not None, "L2 ran its sound step (nested.l2=sound)")
    return dev


def stats_of(fields, what):
    if fields is None:
        raise Failure(f"no description of {what}")
    if "error" in fields:
        raise Failure(f"pcm-stats could not read {what}: {fields}")
    return fields


def need_tone(stats, what, hz, stream_rate=True):
    """The stream's rate and channels, and a tone of hz over the span.
    QEMU's wav audiodev (the reference) writes at its own rate."""
    rate, channels = stats.get("rate"), stats.get("channels")
    if stream_rate:
        need(rate == str(SOUND_RATE) and channels == str(SOUND_CHANNELS),
             f"{what} is {SOUND_RATE} Hz, {SOUND_CHANNELS} channels, as the stream (it is "
             f"{rate} Hz, {channels} channels)")
    else:
        print(f"note: {what} is {rate} Hz, {channels} channels")
    need(stats.get("silent") != "1" and int(stats.get("peak", 0)) > 1000,
         f"{what} holds a tone (peak {stats.get('peak')}, rms {stats.get('rms')})"
         + (": it is silent" if stats.get("silent") == "1" else ""))
    print(f"{what}: {stats.get('span')} s of tone from {stats.get('start')} s, "
          f"{stats.get('crossings')} zero crossings, {stats.get('freq')} Hz "
          f"(last channel {stats.get('freq_last')} Hz), rms {stats.get('rms')}, "
          f"longest run of zero frames {stats.get('longest_zero_ms')} ms at "
          f"{stats.get('longest_zero_at')} s, {stats.get('zero_runs_1ms')} runs of 1 ms or more, "
          f"largest step between samples {stats.get('max_step')}")
    for key in ("freq", "freq_last"):
        f = float(stats.get(key, 0))
        need(abs(f - hz) <= hz * FREQ_TOLERANCE,
             f"{what}'s {'first' if key == 'freq' else 'last'} channel holds {hz} Hz within "
             f"{FREQ_TOLERANCE:.0%} (zero crossings over the tone give {f:.2f} Hz)")


def check_sound_bind(run):
    """snd-hda-intel binds to the ICH9 HDA controller, finds the codec
    through CORB/RIRB, and the generic parser gives it a PCM device that
    plays and records."""
    dev = sound_setup(run)
    l2 = run.l2()
    dmesg = sound_dmesg(run)
    need(dev.get("pci") not in (None, "none"),
         "L2 has the ICH9 HD Audio controller (8086:293e) on its PCI bus"
         + (f" at {dev['pci']}" if dev.get("pci") not in (None, "none") else
            " (nook-vmm --sound hda gave it none)"))
    if dev.get("driver") != "snd_hda_intel":
        raise Failure(f"snd-hda-intel did not bind to {dev.get('pci')} (driver: "
                      f"{dev.get('driver') or 'none'})"
                      + "".join(f"\n  the kernel said: {s}" for s in dmesg[-20:]))
    ok(f"snd-hda-intel drives {dev['pci']}")
    _, cards = run.find(l2, r"^NESTED-L2-SOUND-CARDS (.*)")
    card = cards.group(1).replace("_", " ").strip(" |") if cards else ""
    need(dev.get("card0") == "yes" and card,
         "ALSA has card 0 (/proc/asound/card0)" + (f": {card}" if card else "")
         + "".join(f"\n  the kernel said: {s}" for s in ([] if card else dmesg[-20:])))
    _, codec = run.marker(l2, "NESTED-L2-SOUND-CODEC")
    vendor = codec.get("vendor", "") if codec else ""
    if not re.fullmatch(r"0x[0-9a-f]{8}", vendor) or int(vendor, 16) == 0:
        raise Failure("the codec is not found (/proc/asound/card0/codec#0 gives no vendor id)"
                      + "".join(f"\n  the kernel said: {s}" for s in dmesg[-20:]))
    ok(f"the codec is found: vendor id {vendor}, {codec.get('name', '').replace('_', ' ')}, "
       f"subsystem {codec.get('subsystem')}, revision {codec.get('revision')}, "
       f"{codec.get('converters')} converter widget(s)")
    for _, s in l2:
        if s.startswith("NESTED-L2-SOUND-AMP "):
            print(f"codec amplifier at power-on: {s[len('NESTED-L2-SOUND-AMP '):]}")
    for _, s in l2:
        if s.startswith("NESTED-L2-SOUND-MIXER "):
            print(f"mixer, set by L2: {s[len('NESTED-L2-SOUND-MIXER '):].replace('_', ' ')}")
    pcms = [s[len("NESTED-L2-SOUND-PCM "):] for _, s in l2 if s.startswith("NESTED-L2-SOUND-PCM ")]
    for p in pcms:
        print(f"PCM: {p}")
    first = next((p for p in pcms if p.startswith("00-00:")), "")
    need("playback 1" in first and "capture 1" in first,
         "the generic codec parser made PCM 0 with a playback and a capture stream"
         + (f" (PCMs: {'; '.join(pcms) or 'none'})" if not ("playback 1" in first and
                                                              "capture 1" in first) else ""))
    nodes = dev.get("nodes", "").split(",")
    need("pcmC0D0p" in nodes and "pcmC0D0c" in nodes and "controlC0" in nodes,
         f"L2 has /dev/snd/pcmC0D0p, pcmC0D0c and controlC0 ({dev.get('nodes') or 'none'})")
    trouble = [s for s in dmesg if HDA_TROUBLE.search(s)]
    need(not trouble, "snd-hda-intel and the HDA core report no trouble with the controller "
         "or the codec" + "".join(f"\n  the kernel said: {s}" for s in trouble[:12]))
    _, irq = run.find(l2, r"^NESTED-L2-SOUND-IRQ (.*)")
    if irq:
        print(f"L2's /proc/interrupts: {irq.group(1).replace('_', ' ')}")
    need_no_trouble(run)


def check_sound_playback(run):
    """aplay plays the 10 s tone on hw:0,0 as it is, in about 10 s of L2's
    time, and what nook-vmm's wav backend wrote in L1 is that tone: its
    rate, its frequency, and no silence inside it."""
    sound_setup(run)
    l2 = run.l2()
    t_play, play = run.marker(l2, "NESTED-L2-SOUND-PLAY")
    need(play is not None, "L2 ran aplay (it had a PCM device)")
    said = [s[len("NESTED-L2-SOUND-APLAY "):] for _, s in l2
            if s.startswith("NESTED-L2-SOUND-APLAY ")]
    for s in said:
        print(f"aplay said: {s}")
    need(play.get("status") == "0", f"aplay -D hw:0,0 exited with 0 (it exited with "
         f"{play.get('status')}{', killed after 60 s' if play.get('status') == '143' else ''})"
         + "".join(f"\n  the kernel said: {s}" for s in
                   ([] if play.get("status") == "0" else sound_dmesg(run)[-15:])))
    _, params = run.find(l2, r"^NESTED-L2-SOUND-HW-PARAMS (.*)")
    if params:
        print(f"the stream as the driver set it up: {params.group(1).replace('_', ' ').replace(',', ', ')}")
        hw = params.group(1)
        need("S16_LE" in hw and "channels:_2" in hw and f"rate:_{SOUND_RATE}" in hw,
             f"the stream ran as the file is, S16_LE, 2 channels, {SOUND_RATE} Hz (no conversion)")
    _, status = run.find(l2, r"^NESTED-L2-SOUND-PLAY-STATUS (.*)")
    if status:
        print(f"the stream 2 s in: {status.group(1).replace('_', ' ').replace(',', ', ')}")
    seconds = int(play.get("centis", 0)) / 100
    print(f"aplay took {seconds:.2f} s of L2's time for the {PLAY_SECONDS} s tone "
          f"(host: the line arrived at {t_play:.1f} s)")
    need(APLAY_MIN_S <= seconds <= APLAY_MAX_S,
         f"aplay took {APLAY_MIN_S}-{APLAY_MAX_S} s for {PLAY_SECONDS} s of sound "
         f"({seconds:.2f} s): the controller consumes the stream at its rate")
    underruns = [s for s in said if "underrun" in s]
    if underruns:
        print(f"note: aplay reported {len(underruns)} underrun(s)")
    _, out = run.marker(run.l1(), "NESTED-L1-SOUND-OUT")
    need(out is not None and out.get("missing") != "1",
         f"{run.vmm}'s wav backend wrote /tmp/out.wav in L1"
         + ("" if out is not None else " (L1 described no output)"))
    stats = stats_of(out, "L1's /tmp/out.wav")
    need(stats.get("data_header") == stats.get("data_file"),
         f"its header gives the length of the data the file holds ({stats.get('data_header')} "
         f"in the header, {stats.get('data_file')} in the file)")
    need_tone(stats, "/tmp/out.wav", PLAY_HZ, run.result.get("l2_vmm") != "qemu")
    gap = float(stats.get("longest_zero_ms", 0))
    need(gap <= MAX_GAP_MS, f"no run of silence longer than {MAX_GAP_MS} ms inside the tone "
         f"(the longest is {gap:.2f} ms at {stats.get('longest_zero_at')} s into the file)")
    need_no_trouble(run)


def check_sound_playback_whole(run):
    """All of the tone reached the backend: what the guest had played when
    its drain ended is in the file, from the tone's first sample to its
    last. A device whose position runs ahead of what reaches the backend
    (samples taken into its ring, dropped when the stream stops) loses the
    end of every sound."""
    sound_setup(run)
    _, out = run.marker(run.l1(), "NESTED-L1-SOUND-OUT")
    stats = stats_of(out if out and out.get("missing") != "1" else None, "L1's /tmp/out.wav")
    if stats.get("silent") == "1":
        raise Failure("/tmp/out.wav is silent")
    rate = int(stats["rate"])
    span = float(stats.get("span", 0))
    head = [int(x) for x in stats.get("head", "").split(",") if x]
    tail = [int(x) for x in stats.get("tail", "").split(",") if x]
    print(f"/tmp/out.wav: {span:.3f} s of tone at {rate} Hz, first samples {head}, last {tail}")
    if not head or not tail:
        raise Failure("pcm-stats gave no first and last samples (head=, tail=) of the tone")
    if rate == SOUND_RATE:
        good_head = len(head) == 4 and all(abs(a - b) <= TONE_SLACK
                                           for a, b in zip(head, TONE_HEAD))
        need(good_head, f"the tone begins with its first samples, {TONE_HEAD} (the file has "
             f"{head}: the beginning is {'there' if good_head else 'lost'})")
        # After the tone the file may hold what the device went on playing
        # from the guest's buffer until the guest stopped the stream (a
        # sound card plays its buffer until then; under nested TCG the
        # guest takes up to a few hundred ms to stop it): only a loss is
        # a fault.
        lost_ms = (PLAY_SECONDS - span) * 1000
        need(span >= PLAY_SECONDS - 0.001,
             f"the whole tone reached the backend: it lasts {span:.3f} s of the {PLAY_SECONDS} s "
             f"played (file ends with {tail[-3:]})"
             + (f": its last {lost_ms:.0f} ms ({round(lost_ms * rate / 1000)} frames) did not "
                f"reach the backend" if lost_ms >= 1 else ""))
    else:
        # QEMU's wav audiodev resamples: only the length can be compared.
        need(span >= PLAY_SECONDS - MAX_GAP_MS / 1000,
             f"the tone lasts the {PLAY_SECONDS} s played, less at most {MAX_GAP_MS} ms "
             f"({span:.3f} s)")
    need_no_trouble(run)


def check_sound_record(run):
    """arecord on plughw:0,0 records what nook-vmm's wav backend feeds in:
    the 1 kHz tone."""
    if run.result.get("l2_vmm") == "qemu":
        raise Skip("the reference (QEMU's wav audiodev) has no input")
    sound_setup(run)
    l2 = run.l2()
    _, rec = run.marker(l2, "NESTED-L2-SOUND-RECORD")
    need(rec is not None, "L2 ran arecord (it had a PCM device)")
    said = [s[len("NESTED-L2-SOUND-ARECORD "):] for _, s in l2
            if s.startswith("NESTED-L2-SOUND-ARECORD ")]
    for s in said:
        print(f"arecord said: {s}")
    seconds = int(rec.get("centis", 0)) / 100
    print(f"arecord took {seconds:.2f} s of L2's time for {RECORD_SECONDS} s")
    need(rec.get("status") == "0", f"arecord -D plughw:0,0 exited with 0 (it exited with "
         f"{rec.get('status')})")
    _, m = run.find(l2, r"^NESTED-L2-SOUND-REC-STATS (.*)")
    stats = stats_of(dict(re.findall(r"(\w+)=(\S*)", m.group(1))) if m else None,
                     "L2's recording")
    need(abs(float(stats.get("seconds", 0)) - RECORD_SECONDS) < 0.05,
         f"the recording is {RECORD_SECONDS} s long ({stats.get('seconds')} s)")
    need_tone(stats, "the recording", RECORD_HZ)
    span = float(stats.get("span", 0))
    need(span >= RECORD_SECONDS * 0.8,
         f"the tone fills most of the recording ({span:.3f} s of {RECORD_SECONDS} s, from "
         f"{stats.get('start')} s)")
    gap = float(stats.get("longest_zero_ms", 0))
    if gap > MAX_GAP_MS:
        print(f"note: the recording has {gap:.2f} ms of silence inside the tone "
              f"at {stats.get('longest_zero_at')} s")
    need_no_trouble(run)


CHECKS = {
    "l1-kvm": check_l1_kvm,
    "l2-boot": check_l2_boot,
    "memory": check_memory,
    "clock": check_clock,
    "rtc": check_rtc,
    "disk": check_disk,
    "disk-readonly": check_disk_readonly,
    "reboot": check_reboot,
    "poweroff": check_poweroff,
    "power-button": check_power_button,
    "firmware": check_firmware,
    "reboot-no-reboot": check_reboot_no_reboot,
    "display-console": check_display_console,
    "display-resize": check_display_resize,
    "input-keyboard": check_input_keyboard,
    "input-tablet": check_input_tablet,
    "cdrom": check_cdrom,
    "sound-bind": check_sound_bind,
    "sound-playback": check_sound_playback,
    "sound-playback-whole": check_sound_playback_whole,
    "sound-record": check_sound_record,
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
    except Skip as e:
        print(f"skipped: {e}")
        return SKIP
    except Failure as e:
        print(f"FAIL: {e}")
        print(run.diagnosis())
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
