#!/usr/bin/env python3
"""nook-vmm against QEMU on a real Linux guest, inside one nested L1.

QEMU TCG with an emulated AMD-V CPU runs Debian's kernel (L1) with the stock
kvm-amd module, exactly as tests/nested/nested.py builds it; inside it the
same kernel (L2) boots again and again, alternating between nook-vmm, QEMU
-M microvm and QEMU -M pc on L1's KVM:

- boot: milliseconds from the VMM's start to the first line of L2's /init on
  its serial console (console=ttyS0, and again with quiet);
- disk: sequential O_DIRECT read of a raw image on L1's tmpfs through
  virtio-blk, in MiB/s as L2 measures it.

Prints every run, the medians, and nook-vmm/QEMU ratios. Run by hand (see
README.md); exits non-zero when any run missed its marker. Should L1 stop
(a fault of QEMU TCG's nested SVM, see README.md), the rounds it did not
finish run again in a new L1.
"""
import argparse
import difflib
import os
import re
import select
import shutil
import signal
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "nested"))
sys.dont_write_bytecode = True  # nothing of this run in the source tree
import nested  # noqa: E402  (the kernel package, cpio, busybox and libraries)

# Modules of the kernel package: KVM for L1, virtio-blk for L2 (virtio_mmio
# for microvm's virtio-blk-device), each list in load order.
L1_MODULES = nested.KVM_MODULES
L2_MODULES = [
    "drivers/virtio/virtio_ring.ko",
    "drivers/virtio/virtio.ko",
    "drivers/virtio/virtio_pci_legacy_dev.ko",
    "drivers/virtio/virtio_pci_modern_dev.ko",
    "drivers/virtio/virtio_pci.ko",
    "drivers/virtio/virtio_mmio.ko",
    "drivers/block/virtio_blk.ko",
]

# What QEMU needs in L1 to boot a kernel directly on pc (SeaBIOS) and on
# microvm (qboot, which Debian links as bios-microvm.bin).
QEMU_FILES = ["/usr/share/seabios/bios-256k.bin", "/usr/share/qemu/bios-microvm.bin",
              "/usr/share/qemu/linuxboot_dma.bin", "/usr/share/qemu/pvh.bin",
              "/usr/share/qemu/kvmvapic.bin"]

VMMS = ["nook", "microvm", "pc"]
VMM_NAMES = {"nook": "nook-vmm", "microvm": "QEMU microvm", "pc": "QEMU pc",
             "pc-novapic": "QEMU pc, vapic=off"}
ROWS = ["boot", "quiet", "pvh", "disk"]


def log(msg):
    print(f"nested-bench: {msg}", flush=True)


def die(msg):
    print(f"nested-bench: FAILED: {msg}", file=sys.stderr, flush=True)
    sys.exit(1)


def root(busybox, init):
    """An initramfs with busybox, /init, the device nodes the kernel opens
    before init mounts devtmpfs, and /dev/kmsg for L2's /init."""
    c = nested.Cpio()
    for d in ("bin", "dev", "proc", "sys", "tmp"):
        c.dir(d)
    c.chardev("dev/console", 5, 1)
    c.chardev("dev/null", 1, 3)
    c.copy("bin/busybox", busybox, 0o755)
    c.copy("init", init, 0o755)
    c.chardev("dev/kmsg", 1, 11)
    return c


def build_helper(args):
    """The static helper both guests run (nested-bench-helper.c)."""
    src = os.path.join(HERE, "nested-bench-helper.c")
    dest = os.path.join(args.out, "nested-bench-helper")
    if os.path.exists(dest) and os.path.getmtime(dest) >= os.path.getmtime(src):
        return dest
    cmd = [args.cc, "-static", "-O2", "-Wall", "-o", dest, src]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        die(f"cannot build the helper ({' '.join(cmd)}):\n{r.stderr}")
    return dest


def build_initramfs(args, busybox, helper, bzimage, vmlinux, modules):
    l2 = root(busybox, os.path.join(HERE, "nested-bench-l2-init"))
    l2.copy("bin/bench-helper", helper, 0o755)
    for m in L2_MODULES:
        l2.file(f"lib/modules/{os.path.basename(m)}", nested.module_bytes(modules[m]))
    l2 = l2.finish()

    l1 = root(busybox, os.path.join(HERE, "nested-bench-l1-init"))
    l1.copy("bin/bench-helper", helper, 0o755)
    for m in L1_MODULES:
        l1.file(f"lib/modules/{os.path.basename(m)}", nested.module_bytes(modules[m]))
    qemu = shutil.which(args.qemu)
    l1.copy("usr/bin/nook-vmm", args.vmm, 0o755)
    l1.copy("usr/bin/qemu-system-x86_64", qemu, 0o755)
    for f in QEMU_FILES:
        l1.copy(f, os.path.realpath(f), 0o644)
    libs = set(nested.shared_libraries(args.vmm)) | set(nested.shared_libraries(qemu))
    for lib in sorted(libs):
        l1.copy(lib, os.path.realpath(lib), 0o755)
    l1.copy("l2/kernel", bzimage, 0o644)
    if "pvh" in args.rows.split(","):
        l1.copy("l2/vmlinux", vmlinux, 0o644)
    l1.file("l2/initrd.cpio", l2)
    return l1.finish()


def run_l0(args, vmlinux, initrd, first, attempt):
    """Runs QEMU (L0) until it exits, the timeout, or L1 stops (no output
    at all for longer than one L2 run may take). L1 starts at round first.
    L1's console goes to l1.log (l1-2.log and so on for later attempts) with
    host seconds since the start; BENCH-* lines are shown as they come. L2
    consoles that L1 sends on its second port are split into
    l2-ROW-VMM-RUN.log. Returns (status, timed_out, stalled, [BENCH lines])."""
    start = time.time()
    # idle=poll: L1 never halts its one vCPU. Halted, it now and then stops
    # for good under QEMU TCG with nested SVM (interrupts pending in its
    # LAPIC, not even an NMI wakes it); polling also wakes L2's vCPU thread
    # sooner, for every VMM alike.
    append = " ".join([
        "console=ttyS0", "panic=-1", "idle=poll", f"bench.runs={args.runs}",
        f"bench.first={first}", f"bench.rows={args.rows}",
        f"bench.disk_mib={args.disk_mib}", f"bench.l2timeout={args.l2_timeout}",
        f"bench.profile={int(args.profile)}", f"bench.exitprobe={int(args.exit_probe)}",
        f"bench.microvm={args.microvm_options}"])
    l2_read, l2_write = os.pipe()
    cmd = [args.qemu, "-accel", "tcg", "-M", "pc", "-cpu", "EPYC,+svm,+npt",
           "-smp", "1", "-m", str(args.l1_memory),
           "-nodefaults", "-display", "none", "-no-reboot",
           "-serial", "stdio", "-serial", f"file:/dev/fd/{l2_write}",
           "-kernel", vmlinux, "-initrd", initrd, "-append", append]
    lines = []
    l1_log = os.path.join(args.out, "l1.log" if attempt == 1 else f"l1-{attempt}.log")
    with open(l1_log, "w") as logf:
        logf.write(f"# {' '.join(repr(a) if ' ' in a else a for a in cmd)}\n")
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, pass_fds=(l2_write,),
                                start_new_session=True)
        os.close(l2_write)
        bufs = {proc.stdout.fileno(): b"", l2_read: b""}
        l2_file = None
        timed_out = stalled = False
        deadline = start + args.timeout
        # L1 prints a line every 10 s; silence for much longer means L1
        # itself stopped (see idle=poll above).
        stall = 60
        last_output = start

        def l1_line(text):
            logf.write(f"[{time.time() - start:9.3f}] {text}\n")
            logf.flush()
            if text.startswith("BENCH-L1-ALIVE"):
                return
            if text.startswith(("BENCH-", "VMM| ")) or "Kernel panic" in text:
                lines.append(text)
                print(f"  {text}", flush=True)

        def l2_line(text):
            nonlocal l2_file
            m = re.match(r"=== BENCH-LOG (\S+)", text)
            if m:
                l2_file = open(os.path.join(args.out, f"l2-{m.group(1)}.log"), "w")
            elif text.startswith("=== BENCH-LOG-END"):
                if l2_file:
                    l2_file.close()
                l2_file = None
            elif l2_file:
                l2_file.write(text + "\n")

        while bufs:
            left = deadline - time.time()
            if left <= 0:
                timed_out = True
                break
            if time.time() - last_output > stall:
                stalled = True
                break
            ready, _, _ = select.select(list(bufs), [], [], min(left, 1.0))
            for fd in ready:
                chunk = os.read(fd, 65536)
                last_output = time.time()
                handle = l2_line if fd == l2_read else l1_line
                if not chunk:
                    if bufs[fd]:
                        handle(bufs[fd].decode("utf-8", "replace").replace("\r", ""))
                    del bufs[fd]
                    continue
                buf = bufs[fd] + chunk
                while b"\n" in buf:
                    line, buf = buf.split(b"\n", 1)
                    handle(line.decode("utf-8", "replace").replace("\r", ""))
                bufs[fd] = buf
        if timed_out or stalled:
            os.killpg(proc.pid, signal.SIGKILL)
            logf.write(f"# killed: no exit within {args.timeout} s\n" if timed_out else
                       f"# killed: L1 stopped, no output for {stall} s\n")
        os.close(l2_read)
        if l2_file:
            l2_file.close()
        status = proc.wait()
    return status, timed_out, stalled, lines


def parse_results(lines):
    """{(row, vmm): [fields of each run]} and the failure lines."""
    results, failures = {}, []
    for text in lines:
        if text.startswith("BENCH-RESULT "):
            fields = dict(re.findall(r'(\w+)=("[^"]*"|\S+)', text))
            results.setdefault((fields["row"], fields["vmm"]), []).append(fields)
        elif text.startswith("BENCH-FAIL") or "Kernel panic" in text:
            failures.append(text)
    return results, failures


def result_round(text):
    """The round of a BENCH-RESULT or BENCH-FAIL line of a measured row,
    else None."""
    m = re.match(r"BENCH-(?:RESULT|FAIL) row=(\w+) vmm=\S+ run=(\d+)", text)
    return int(m.group(2)) if m and m.group(1) in ROWS else None


def completed_rounds(args, lines):
    """How many rounds, from the first, have a result for every row and VMM."""
    results, _ = parse_results(lines)
    done = 0
    while done < args.runs and all(
            any(r["run"] == str(done + 1) for r in results.get((row, v), []))
            for row in args.rows.split(",") for v in VMMS):
        done += 1
    return done


def med(values):
    return statistics.median(values) if values else None


def fmt(v, unit, digits=0):
    return "-" if v is None else f"{v:.{digits}f} {unit}".rstrip()


def phases(runs):
    """Where the time to /init went in each run: the VMM's own start up to
    the VM's creation, where kvm-clock starts (also the marker's way to
    L1); from there to the kernel's kvm-clock start (the rest of the VMM's
    set-up, firmware, the bzImage's decompressor); the kernel (kvm-clock
    from the kernel's start to /init). Then how long the VMM took to exit after /init, and
    how many console bytes came before the marker."""
    try:
        # The log's clock at /init, plus what its early clock missed.
        kern = [float(r["l2_kernel_s"]) * 1000 - int(r["l2_stable_offset_ns"]) / 1e6
                for r in runs]
        pre = [int(r["l2_clock_offset_ns"]) / 1e6 for r in runs]
    except (KeyError, ValueError):
        return []
    total = [float(r["marker_ms"]) for r in runs]
    exits = [float(r["exit_ms"]) - float(r["marker_ms"]) for r in runs]
    return [("VMM before the VM", [t - k - p for t, k, p in zip(total, kern, pre)], "ms"),
            ("VM setup+firmware+decompressor", pre, "ms"), ("kernel", kern, "ms"),
            ("exit after /init", exits, "ms"),
            ("console", [int(r["bytes_before_marker"]) for r in runs], "bytes")]


def report(args, results):
    """Per-run lines, medians, and the final table; returns the rows that
    are missing."""
    missing = []
    titles = {"boot": "boot to /init, console=ttyS0",
              "quiet": "boot to /init, console=ttyS0 quiet",
              "pvh": "boot to /init, console=ttyS0 quiet, ELF kernel through its PVH entry",
              "disk": f"virtio-blk O_DIRECT read, {args.disk_mib} MiB, 1 MiB blocks"}
    table = []
    for row in [r for r in ROWS if r in args.rows.split(",")]:
        print(f"\n{titles[row]} ({args.runs} runs each, alternating):")
        meds = {}
        for vmm in VMMS:
            runs = results.get((row, vmm), [])
            if len(runs) < args.runs:
                missing.append(f"{row}/{VMM_NAMES[vmm]}: {len(runs)} of {args.runs} runs")
            if row == "disk":
                vals = [float(r["mib_s"]) for r in runs]
                meds[vmm] = med(vals)
                print(f"  {VMM_NAMES[vmm]:13} " + "  ".join(f"{v:7.1f}" for v in vals)
                      + f"   median {fmt(meds[vmm], 'MiB/s', 1)}")
            else:
                ms = [float(r["marker_ms"]) for r in runs]
                meds[vmm] = med(ms)
                print(f"  {VMM_NAMES[vmm]:13} " + "  ".join(f"{v:7.0f}" for v in ms)
                      + f"   median {fmt(meds[vmm], 'ms')}")
                parts = phases(runs)
                if parts:
                    print(f"  {'':13} of which: " + "; ".join(
                        f"{what} {fmt(med(v), unit)}" for what, v, unit in parts))
        for peer in ("microvm", "pc"):
            n, q = meds["nook"], meds[peer]
            ratio = n / q if n and q else None
            if row == "disk":
                goal = ">= 1.0"
                table.append((f"{titles[row]} (vs {VMM_NAMES[peer]})", fmt(n, "MiB/s", 1),
                              fmt(q, "MiB/s", 1), ratio, goal))
            else:
                goal = "<= 0.8" if peer == "microvm" else "-"
                table.append((f"{titles[row]} (vs {VMM_NAMES[peer]})", fmt(n, "ms"),
                              fmt(q, "ms"), ratio, goal))
            if ratio is not None:
                print(f"  ratio nook-vmm/{VMM_NAMES[peer]}: {ratio:.3f} (goal {goal})")

    print("\n| what | nook-vmm | QEMU | ratio | goal |")
    print("| --- | --- | --- | --- | --- |")
    for what, n, q, ratio, goal in table:
        print(f"| {what} | {n} | {q} | {'-' if ratio is None else f'{ratio:.3f}'} | {goal} |")
    return missing


def console_lines(path):
    """[(L1 ms since the VMM's start, line with numbers masked, line)] of a
    console log that L1 stamped, up to /init's marker; the kernel's own time
    stamps are left out (its clock is not steady before late boot)."""
    lines = []
    for raw in open(path, errors="replace"):
        m = re.match(r"\[\s*([\d.]+)\] (.*)", raw.rstrip("\n"))
        if m:
            text = re.sub(r"^\[\s*[\d.]+\] ", "", m.group(2))
            lines.append((float(m.group(1)), re.sub(r"0x[0-9a-fA-F]+|\d+", "#", text), text))
            if text.startswith("BENCH-L2-INIT"):
                break
    # From the kernel's first line: firmware may print before it.
    start = next((i for i, (_, _, t) in enumerate(lines) if t.startswith("Linux version")), 0)
    return lines[start:]


def report_console(args):
    """Compares the first console=ttyS0 boot of nook-vmm with QEMU's, line
    by line, on L1's clock: when the first line came (the kernel's early
    console, after firmware, decompressor and early setup), and the
    stretches between lines both printed that took nook-vmm longest more or
    less than QEMU."""
    logs = {v: os.path.join(args.out, f"l2-boot-{v}-1.log") for v in VMMS}
    if not all(os.path.exists(p) for p in logs.values()):
        return
    lines = {v: console_lines(p) for v, p in logs.items()}
    if not all(lines.values()):
        return
    print("\nwhere the time goes: first console=ttyS0 boot, L2's console lines on L1's clock")
    for v in VMMS:
        first, last = lines[v][0], lines[v][-1]
        nbytes = sum(len(t) + 1 for _, _, t in lines[v])
        print(f"  {VMM_NAMES[v]:13} kernel's first line at {first[0]:7.0f} ms, /init at {last[0]:7.0f} ms,"
              f" {len(lines[v])} lines, {nbytes} bytes")
    nook = lines["nook"]
    for peer in ("microvm", "pc"):
        other = lines[peer]
        sm = difflib.SequenceMatcher(None, [k for _, k, _ in nook], [k for _, k, _ in other],
                                     autojunk=False)
        anchors = [(b.a + k, b.b + k) for b in sm.get_matching_blocks() for k in range(b.size)]
        segs = []
        for (i1, j1), (i2, j2) in zip(anchors, anchors[1:]):
            dn = nook[i2][0] - nook[i1][0]
            dq = other[j2][0] - other[j1][0]
            nbytes = sum(len(t) + 1 for _, _, t in nook[i1 + 1:i2 + 1])
            segs.append((dn - dq, dn, dq, nbytes, nook[i1][2], nook[i2][2]))
        segs.sort(key=lambda x: -x[0])
        print(f"  nook-vmm against {VMM_NAMES[peer]} ({len(anchors)} lines in common), "
              f"stretches ending in the same line:")
        for d, dn, dq, nbytes, a, b in segs[:8] + [x for x in segs[-3:] if x[0] < 0]:
            print(f"    {d:+7.0f} ms ({dn:6.0f} vs {dq:6.0f}, {nbytes:5} bytes) "
                  f"{a[:50]!r} -> {b[:50]!r}")


COUNTERS = ["exits", "io_exits", "mmio_exits", "halt_exits", "irq_exits", "irq_window_exits",
            "pf_taken", "pf_fixed", "pf_emulate", "tlb_flush", "insn_emulation",
            "irq_injections", "pages_4k", "pages_2m"]


def report_counters(args, results):
    """Medians of what L1's KVM counted for each VMM's VM up to /init's
    marker, and how much of the VMM's memory was in huge pages then."""
    rows = [r for r in ("boot", "quiet", "pvh") if r in args.rows.split(",")]
    for row in rows:
        runs = {v: results.get((row, v), []) for v in VMMS}
        if not all(runs.values()) or "kvm_exits" not in runs["nook"][0]:
            continue
        print(f"\nL1's KVM up to /init, {row} (medians):")
        print(f"  {'':22}" + "".join(f"{VMM_NAMES[v]:>14}" for v in VMMS))
        for name in [f"kvm_{c}" for c in COUNTERS] + ["rss_kib", "thp_kib"]:
            vals = {v: med([int(r[name]) for r in runs[v] if name in r]) for v in VMMS}
            print(f"  {name:22}" + "".join(
                f"{'-' if vals[v] is None else f'{vals[v]:.0f}':>14}" for v in VMMS))


def report_profile(args, results):
    """What the profile runs found: where L2's kernel spends its time under
    each VMM (from its own log with initcall_debug), and how the debug-exit
    port behaves."""
    logs = {}
    for vmm in VMMS:
        path = os.path.join(args.out, f"l2-profile-{vmm}-1.log")
        if os.path.exists(path):
            logs[vmm] = open(path, errors="replace").read().splitlines()
    if logs:
        print("\nprofile (one run each, quiet initcall_debug; L2's own clock):")
        initcalls = {}
        for vmm, text in logs.items():
            for line in text:
                m = re.search(r"initcall (\S+) returned -?\d+ after (\d+) usecs", line)
                if m:
                    name = m.group(1).split("+")[0]
                    initcalls.setdefault(name, {})[vmm] = int(m.group(2)) / 1000
        top = sorted(initcalls.items(), key=lambda kv: -max(kv[1].values()))[:20]
        print(f"  {'initcall (>= 1 ms somewhere)':40} " + " ".join(f"{VMM_NAMES[v]:>13}" for v in VMMS))
        for name, per in top:
            print(f"  {name[:40]:40} " + " ".join(
                f"{fmt(per.get(v), 'ms', 1):>13}" for v in VMMS))
        per = {v: {w: (x[0], u) for w, x, u in phases(results.get(("profile", v), []))}
               for v in VMMS}
        for what in next((list(p) for p in per.values() if p), []):
            print(f"  {what:40} " + " ".join(
                f"{fmt(*per[v][what]) if what in per[v] else '-':>13}" for v in VMMS))
        print(f"  logs: {args.out}/l2-profile-*.log, first boots: {args.out}/l2-boot-*-1.log")
    exits = [(k, v[0]) for k, v in sorted(results.items()) if k[0].startswith("exit-")]
    if exits:
        print("\ndebug-exit port 0xf4 from L2 user space:")
        for (row, vmm), r in exits:
            how = "left" if r["status"] == "1" else f"did not leave (VMM status {r['status']})"
            print(f"  {row[5:]:7} {VMM_NAMES[vmm]:18} {how}"
                  f"  {r.get('exitport', '').strip(chr(34))}")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", required=True, help="directory for the kernel, initramfs and logs")
    p.add_argument("--vmm", required=True, help="nook-vmm binary to put in L1")
    p.add_argument("--runs", type=int, default=3, help="runs of each VMM per row (default 3)")
    p.add_argument("--rows", default="boot,quiet,disk",
                   help="what to measure, of boot,quiet,pvh,disk (default boot,quiet,disk)")
    p.add_argument("--disk-mib", type=int, default=256, help="disk image size (default 256)")
    p.add_argument("--profile", action="store_true",
                   help="also boot once under each VMM with initcall_debug and compare where "
                   "L2's kernel spends its time")
    p.add_argument("--exit-probe", action="store_true",
                   help="also try, under each VMM, whether L2's user space can leave through the "
                   "debug-exit port 0xf4 with ioperm() and with iopl()")
    p.add_argument("--microvm-options", default="rtc=on",
                   help="added to QEMU's -M microvm (default rtc=on: without an RTC, which "
                   "microvm leaves out under KVM, Debian's rtc_cmos spends about 20 s in L2 "
                   "probing for one; '' for microvm as it comes)")
    p.add_argument("--deb", help="the kernel package (default: as tests/nested finds it in --out)")
    p.add_argument("--qemu", default="qemu-system-x86_64", help="QEMU for L0 and for L1")
    p.add_argument("--cc", default=os.environ.get("CC", "cc"))
    p.add_argument("--l1-memory", type=int, default=2048, help="L1's RAM in MiB (default 2048)")
    p.add_argument("--timeout", type=int, default=3600,
                   help="seconds before QEMU (L0) is killed (default 3600)")
    p.add_argument("--l2-timeout", type=int, default=120,
                   help="seconds before L1 kills one L2 run (default 120)")
    p.add_argument("--retries", type=int, default=10,
                   help="new L1s to start when L1 stops, for the rounds it did not finish "
                   "(default 10)")
    args = p.parse_args()
    args.out = os.path.abspath(args.out)
    args.vmm = os.path.abspath(args.vmm)
    bad = [r for r in args.rows.split(",") if r not in ROWS]
    if bad:
        p.error(f"unknown rows {bad}; choose from {ROWS}")
    os.makedirs(args.out, exist_ok=True)
    if not shutil.which(args.qemu):
        die(f"{args.qemu} is not installed (tests/setup-debian.sh nested)")
    if not os.access(args.vmm, os.X_OK):
        die(f"{args.vmm} is not an executable")
    for f in QEMU_FILES:
        if not os.path.exists(f):
            die(f"{f} is missing (qemu-system-x86 and seabios provide it)")
    try:
        busybox = nested.static_busybox()
        deb = os.path.abspath(args.deb) if args.deb else nested.kernel_deb(args.out)
        bzimage, modules = nested.unpack_kernel(args.out, deb, L1_MODULES + L2_MODULES, "bench-linux")
        vmlinux = nested.extract_vmlinux(bzimage, os.path.join(args.out, "bench-linux", "vmlinux"))
    except nested.Skip as e:
        die(str(e))
    helper = build_helper(args)
    l1 = build_initramfs(args, busybox, helper, bzimage, vmlinux, modules)
    initrd = os.path.join(args.out, "bench-l1.cpio")
    with open(initrd, "wb") as f:
        f.write(l1)
    for old in os.listdir(args.out):
        if old.startswith(("l1", "l2-")) and old.endswith(".log"):
            os.remove(os.path.join(args.out, old))

    log(f"{os.path.basename(deb)}; L1: QEMU TCG, 1 CPU, {args.l1_memory} MiB, "
        f"{len(l1) >> 20} MiB initramfs; L2: 1 CPU, 256 MiB; {args.runs} runs of {args.rows}; "
        f"-M microvm{',' + args.microvm_options if args.microvm_options else ''}")
    lines, first, notes = [], 1, []
    for attempt in range(1, args.retries + 2):
        t0 = time.time()
        status, timed_out, stalled, got = run_l0(args, vmlinux, initrd, first, attempt)
        name = "l1.log" if attempt == 1 else f"l1-{attempt}.log"
        log(f"QEMU (L0) exited with {status}{' (timed out)' if timed_out else ''}"
            f"{' (L1 stopped)' if stalled else ''} after {time.time() - t0:.0f} s; "
            f"L1's console: {args.out}/{name}")
        if not stalled or attempt == args.retries + 1:
            lines += got
            break
        # Keep the rounds that finished; the rest runs again in a new L1,
        # so that the VMMs of one round still share one L1.
        done = completed_rounds(args, lines + got)
        lines = [t for t in lines + got if result_round(t) is not None and result_round(t) <= done]
        again = (f"rounds {done + 1} to {args.runs} and what follows them" if done < args.runs
                 else "the runs after the rounds")
        notes.append(f"L1 stopped in attempt {attempt}; {again} ran again in a new L1")
        log(notes[-1])
        first = done + 1
    results, failures = parse_results(lines)
    missing = report(args, results)
    report_console(args)
    report_counters(args, results)
    if args.profile or args.exit_probe:
        report_profile(args, results)
    for note in notes:
        print(f"note: {note}")
    problems = failures + [f"missing: {m}" for m in missing]
    if timed_out:
        problems.append(f"L0 QEMU killed after {args.timeout} s")
    if stalled:
        problems.append(f"L1 stopped (no output for 60 s) in all {args.retries + 1} attempts")
    if not any(t.startswith("BENCH-L1-DONE") for t in lines):
        problems.append("L1 did not finish (no BENCH-L1-DONE)")
    if problems:
        die("\n  ".join(["some runs did not reach their marker or result:"] + problems)
            + f"\n  L2 consoles of failed runs: {args.out}/l2-*.log")
    return 0


if __name__ == "__main__":
    sys.exit(main())
