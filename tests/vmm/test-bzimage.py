#!/usr/bin/env python3
"""Direct boot of a bzImage through the 64-bit boot protocol: the payload
checks long mode, the zero page, the command line, the initrd and the e820
map, and exits with the number of the first check that failed."""
import os
import subprocess
import sys

import nooktest
from nooktest import check

CHECKS = {1: "paging on", 2: "EFER.LMA", 3: "setup header in the zero page", 4: "loader type and flags",
          5: "command line", 6: "initrd size and alignment", 7: "initrd contents",
          8: "e820 entry count", 9: "e820 RAM total", 10: "identity map", 90: "entered at the 32-bit entry"}


def main():
    vmm, image = os.path.abspath(sys.argv[1]), sys.argv[2]
    nooktest.need_kvm()
    tmp = nooktest.tmpdir()
    initrd = os.path.join(tmp, "initrd")
    with open(initrd, "wb") as f:
        f.write(b"NOOKINIT" + bytes(4096 - 8))
    p = subprocess.run([vmm, "--kernel", image, "--initrd", initrd, "--memory", "64M",
                        "--append", "console=ttyS0 nook-bzimage-test", "--control", "none", "--no-reboot"],
                       stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=nooktest.scaled(60))
    failed = (p.returncode - 1) // 2 if p.returncode % 2 == 1 else None
    check(p.returncode == 1,
          f"the bzImage payload passes every check (status {p.returncode}: "
          f"{CHECKS.get(failed, 'no debug exit') if p.returncode != 1 else 'ok'}; {p.stderr.strip()!r})")


nooktest.run_main(main)
