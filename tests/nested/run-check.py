#!/usr/bin/env python3
"""One test of the nested suite: boots its configuration unless another test
of the same `meson test` run has booted it already, then runs its check.

Usage: run-check.py CHECK NAME -- NESTED.PY-ARGUMENTS...
NESTED.PY-ARGUMENTS are nested.py's, with --out DIR and --config NAME among
them. The exit status is check.py's: 0 pass, 1 fail, 77 skip (also when
the boot found a prerequisite missing: every test of NAME then skips with
nested.py's reason).

Several tests read the same boot (the four checks of 'disk' read one run).
Under an exclusive lock on DIR/NAME.lock, the first of them boots NAME with
nested.py and the others wait for it, then find DIR/NAME.json made in this
run and only check it (one at a time: check.py keeps the lock, so that no
boot replaces the result while it reads it). Which run made it is in
DIR/NAME.run: a key of the `meson test` process the tests run under (meson
1.0 starts each test as its child; with a --wrapper, or --gdb, the wrapper
is in between, so the key is that of the nearest ancestor whose command
line is `meson test`): the boot's id, that process's pid and its start time
(field 22 of /proc/PID/stat). A second `meson test` has another key and
boots again. Run by hand, outside `meson test`, every call boots.
"""
import fcntl
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SKIP = 77


def log(msg):
    print(f"run-check: {msg}", flush=True)


def proc_stat(pid):
    """The fields of /proc/PID/stat after the command name, which may
    itself hold spaces and parentheses: [0] is field 3 (state)."""
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()


def is_meson_test(argv):
    for i, a in enumerate(argv[:-1]):
        if (os.path.basename(a) in ("meson", "meson.py", "meson.pyz")
                or a == "mesonbuild.mesonmain") and argv[i + 1] == "test":
            return True
    return False


def meson_test_run():
    """A key for the `meson test` process this test runs under, or None
    when there is none among its nearest ancestors."""
    pid = os.getppid()
    for _ in range(8):
        if pid <= 1:
            break
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                argv = [a.decode(errors="replace") for a in f.read().split(b"\0")]
            stat = proc_stat(pid)
        except OSError:
            break
        if is_meson_test(argv):
            with open("/proc/sys/kernel/random/boot_id") as f:
                boot_id = f.read().strip()
            return f"{boot_id} {pid} {stat[19]}"
        pid = int(stat[1])
    return None


def option(args, name):
    i = args.index(name)
    return args[i + 1]


def boot(name, out, nested_args, lock):
    """Boots NAME unless a test of this run did; returns an error message
    when the result cannot be had, else None. Takes lock, an open file,
    and leaves it locked."""
    run = meson_test_run()
    result = os.path.join(out, name + ".json")
    stamp = os.path.join(out, name + ".run")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        log(f"waiting for another test of {name}, which boots or checks it")
        t = time.monotonic()
        fcntl.flock(lock, fcntl.LOCK_EX)
        log(f"waited {time.monotonic() - t:.1f} s")
    try:
        with open(stamp) as f:
            booted_by = f.read().strip()
    except FileNotFoundError:
        booted_by = None
    if run is not None and booted_by == run:
        if os.path.exists(result):
            log(f"{name} was booted by another test of this meson test run: checking {result}")
            return None
        return (f"another test of this meson test run began booting {name} and did not "
                f"finish (killed by meson's timeout?); see {os.path.join(out, name + '.log')}")
    for path in (result, stamp):
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
    if run is None:
        log("not run by `meson test`: booting without sharing the result")
    else:
        with open(stamp, "w") as f:
            f.write(run + "\n")
    cmd = [sys.executable, os.path.join(HERE, "nested.py")] + nested_args
    log(f"booting {name}: {' '.join(cmd)}")
    t = time.monotonic()
    r = subprocess.run(cmd)
    log(f"nested.py exited with {r.returncode} after {time.monotonic() - t:.1f} s")
    if not os.path.exists(result):
        return f"nested.py (status {r.returncode}) wrote no {result}"
    return None


def main():
    argv = sys.argv[1:]
    if len(argv) < 3 or argv[2] != "--":
        print(__doc__, file=sys.stderr)
        return 2
    check, name, nested_args = argv[0], argv[1], argv[3:]
    if option(nested_args, "--config") != name:
        print(f"run-check: --config is not {name}", file=sys.stderr)
        return 2
    out = os.path.abspath(option(nested_args, "--out"))
    os.makedirs(out, exist_ok=True)
    lock = open(os.path.join(out, name + ".lock"), "w")
    error = boot(name, out, nested_args, lock)
    if error:
        print(f"FAIL: {error}", flush=True)
        return 1
    # check.py keeps the lock (across exec), so that no other boot of NAME
    # (another `meson test` in this build directory) replaces the result
    # while it reads it.
    os.set_inheritable(lock.fileno(), True)
    sys.stdout.flush()
    os.execv(sys.executable, [sys.executable, os.path.join(HERE, "check.py"), check,
                              os.path.join(out, name + ".json")])


if __name__ == "__main__":
    sys.exit(main())
