#!/usr/bin/python3
"""The nook app against its peers under Xvfb, alternating runs, medians:

- launch: from spawning the app to its window painted with the library in
  it, against gnome-boxes (GTK 3) spawned to its window painted (when it is
  installed); nook's own mark of the library's first frame beside it;
- start: from the click on a machine's Start to the guest's first frame in
  the window (nook only: no peer starts a nook-vmm);
- open view: from the click on Show for a machine already running to its
  first frame, against remote-viewer (virt-viewer, GTK 3, spice-client-gtk)
  spawned onto a running nook-vmm's SPICE socket to its first frame;
- memory: RSS and PSS (/proc/PID/smaps_rollup) of the app with that view
  open, 2 s after its first frame, against remote-viewer's.

The guest is tests/guest/vga.elf (1024x768, eight colour bars over a
pattern, then it waits). "On screen" is read from the X server: the whole
screen is fetched (XGetImage) every few milliseconds and a frame counts when
a row holds the bars in order (yellow, then cyan, then magenta); the window
counts as painted when the area below the header bars is no longer the
black root. nook also says when it drew (NOOK_TRACE_TIMING=1: its window's
first frame, Show, the view's first frame with a guest picture).

Clicks are sent with XTest at the buttons' places, which one run with the
accessibility tree (AT-SPI) finds first; the measured runs have
accessibility off (GTK_A11Y=none, NO_AT_BRIDGE=1) for nook and its peers.
Runs itself under xvfb-run and dbus-run-session, whatever DISPLAY says. No timed assertions: it fails only when a run does not get
its figures."""
import argparse
import ctypes
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

SCREEN = "1280x800x24"
# Below both windows' header bars, inside both windows (nook 900x620,
# gnome-boxes 778x610, both at 0,0 with no window manager).
PAINT_AREA = (0, 60, 600, 300)
BAR_RUN = 24            # pixels of one bar's colour in a row
POLL_S = 0.005


def log(msg):
    print(f"gui-bench: {msg}", flush=True)


class Failure(Exception):
    pass


# ---- the X server, through Xlib and XTest ----

class XImage(ctypes.Structure):
    _fields_ = [("width", ctypes.c_int), ("height", ctypes.c_int), ("xoffset", ctypes.c_int),
                ("format", ctypes.c_int), ("data", ctypes.c_void_p), ("byte_order", ctypes.c_int),
                ("bitmap_unit", ctypes.c_int), ("bitmap_bit_order", ctypes.c_int),
                ("bitmap_pad", ctypes.c_int), ("depth", ctypes.c_int),
                ("bytes_per_line", ctypes.c_int), ("bits_per_pixel", ctypes.c_int)]


HIGH = bytes(int(v >= 0xe0) for v in range(256))
LOW = bytes(int(v <= 0x1f) for v in range(256))
LIT = bytes(int(v > 0x10) for v in range(256))


class Screen:
    def __init__(self):
        x = self.x = ctypes.CDLL("libX11.so.6")
        t = self.xtst = ctypes.CDLL("libXtst.so.6")
        x.XOpenDisplay.restype = ctypes.c_void_p
        x.XOpenDisplay.argtypes = [ctypes.c_char_p]
        x.XDefaultRootWindow.restype = ctypes.c_ulong
        x.XDefaultRootWindow.argtypes = [ctypes.c_void_p]
        x.XDisplayWidth.argtypes = x.XDisplayHeight.argtypes = [ctypes.c_void_p, ctypes.c_int]
        x.XGetImage.restype = ctypes.POINTER(XImage)
        x.XGetImage.argtypes = [ctypes.c_void_p, ctypes.c_ulong, ctypes.c_int, ctypes.c_int,
                                ctypes.c_uint, ctypes.c_uint, ctypes.c_ulong, ctypes.c_int]
        x.XDestroyImage.argtypes = [ctypes.POINTER(XImage)]
        x.XSync.argtypes = [ctypes.c_void_p, ctypes.c_int]
        t.XTestFakeMotionEvent.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_int, ctypes.c_int,
                                           ctypes.c_ulong]
        t.XTestFakeButtonEvent.argtypes = [ctypes.c_void_p, ctypes.c_uint, ctypes.c_int, ctypes.c_ulong]
        self.dpy = x.XOpenDisplay(None)
        if not self.dpy:
            raise Failure(f"cannot open the display {os.environ.get('DISPLAY')}")
        self.root = x.XDefaultRootWindow(self.dpy)
        self.width = x.XDisplayWidth(self.dpy, 0)
        self.height = x.XDisplayHeight(self.dpy, 0)
        self.intervals = []

    def grab(self, area=None):
        """The pixels of area (x, y, w, h) as rows of 32-bit BGRx."""
        ax, ay, w, h = area or (0, 0, self.width, self.height)
        img = self.x.XGetImage(self.dpy, self.root, ax, ay, w, h, 0xffffffff, 2)  # ZPixmap
        if not img:
            raise Failure("XGetImage failed")
        i = img.contents
        try:
            if i.bits_per_pixel != 32:
                raise Failure(f"the screen has {i.bits_per_pixel} bits a pixel, not 32")
            return ctypes.string_at(i.data, i.bytes_per_line * i.height), i.bytes_per_line, w, h
        finally:
            self.x.XDestroyImage(img)

    def click(self, x, y):
        """Left click at x, y; returns when the server has the release (the
        moment GtkButton's clicked comes from)."""
        self.xtst.XTestFakeMotionEvent(self.dpy, -1, x, y, 0)
        self.x.XSync(self.dpy, 0)
        time.sleep(0.2)
        self.xtst.XTestFakeButtonEvent(self.dpy, 1, 1, 0)
        self.x.XSync(self.dpy, 0)
        time.sleep(0.05)
        self.xtst.XTestFakeButtonEvent(self.dpy, 1, 0, 0)
        self.x.XSync(self.dpy, 0)
        return time.monotonic()

    def wait(self, pred, area, timeout, what):
        """Fetches area until pred holds; the time of the fetch that showed
        it (the picture came between the fetch before and that one)."""
        deadline = time.monotonic() + timeout
        last = None
        while True:
            t = time.monotonic()
            if pred(*self.grab(area)):
                if last is not None:
                    self.intervals.append(t - last)
                return t
            if t > deadline:
                raise Failure(f"timed out after {timeout:g} s waiting for {what}")
            last = t
            time.sleep(POLL_S)


def _rows(data, bpl, w, h, step):
    rows = b"".join(data[y * bpl:y * bpl + w * 4] for y in range(0, h, step))
    return rows[0::4], rows[1::4], rows[2::4]


def _mask(channel, table):
    return int.from_bytes(channel.translate(table), "little")


def has_bars(data, bpl, w, h):
    """A row with a run of yellow, then of cyan, then of magenta: the bars
    of tests/guest/vga.c at any scale."""
    b, g, r = _rows(data, bpl, w, h, 8)
    n = len(b)
    bh, gh, rh = _mask(b, HIGH), _mask(g, HIGH), _mask(r, HIGH)
    bl, gl, rl = _mask(b, LOW), _mask(g, LOW), _mask(r, LOW)
    yellow = (rh & gh & bl).to_bytes(n, "little")
    cyan = (rl & gh & bh).to_bytes(n, "little")
    magenta = (rh & gl & bh).to_bytes(n, "little")
    run = b"\x01" * BAR_RUN
    pos = 0
    while True:
        i = yellow.find(run, pos)
        if i < 0:
            return False
        end = (i // w + 1) * w
        c = cyan.find(run, i, end)
        if c >= 0 and magenta.find(run, c, end) >= 0:
            return True
        pos = end


def no_bars(*args):
    return not has_bars(*args)


def painted(data, bpl, w, h):
    """Nine tenths of the area is no longer the black root."""
    b, g, r = _rows(data, bpl, w, h, 8)
    lit = (_mask(b, LIT) | _mask(g, LIT) | _mask(r, LIT)).bit_count()
    return lit >= 0.9 * len(b)


# ---- processes ----

class Lines:
    """Reads a pipe line by line in a thread."""

    def __init__(self, pipe, keep=None):
        self.lines = []
        self.cond = threading.Condition()
        self.keep = keep
        threading.Thread(target=self._read, args=(pipe,), daemon=True).start()

    def _read(self, pipe):
        for raw in pipe:
            line = raw.decode(errors="replace").rstrip("\n")
            if self.keep:
                self.keep.write(line + "\n")
                self.keep.flush()
            with self.cond:
                self.lines.append(line)
                self.cond.notify_all()
        with self.cond:
            self.lines.append(None)
            self.cond.notify_all()

    def wait_for(self, pred, timeout, what):
        deadline = time.monotonic() + timeout
        seen = 0
        with self.cond:
            while True:
                for line in self.lines[seen:]:
                    if line is None:
                        raise Failure(f"the output ended before {what}")
                    v = pred(line)
                    if v is not None and v is not False:
                        return v
                seen = len(self.lines)
                left = deadline - time.monotonic()
                if left <= 0:
                    raise Failure(f"timed out after {timeout:g} s waiting for {what}")
                self.cond.wait(left)


def mark(lines, what, after, timeout=60):
    """The time (s, CLOCK_MONOTONIC) of nook's first mark 'what' after
    'after'."""
    def pred(line):
        parts = line.split()
        if len(parts) == 3 and parts[0] == "Nook-Timing:" and parts[1] == what:
            t = int(parts[2]) / 1e6
            if t >= after:
                return t
        return None
    return lines.wait_for(pred, timeout, f"nook's '{what}' mark")


def memory(pid):
    """RSS and PSS in MiB."""
    out = {}
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("Rss", "Pss"):
                out[k.lower()] = int(v.split()[0]) / 1024
    return out["rss"], out["pss"]


def group_alive(pgid):
    for p in os.listdir("/proc"):
        if p.isdigit():
            try:
                with open(f"/proc/{p}/stat") as f:
                    if int(f.read().rsplit(")", 1)[1].split()[2]) == pgid:
                        return True
            except (OSError, IndexError, ValueError):
                pass
    return False


def children(pid):
    out = []
    for p in os.listdir("/proc"):
        if p.isdigit():
            try:
                with open(f"/proc/{p}/stat") as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == pid:
                        out.append(int(p))
            except (OSError, IndexError, ValueError):
                pass
    return out


def stop_app(proc):
    """Ends the app and its nook-vmm, which runs in a session of its own
    (and outlives an app that is killed)."""
    vmms = children(proc.pid)
    stop_group(proc)
    for pid in vmms:
        try:
            os.killpg(pid, signal.SIGKILL)
        except ProcessLookupError:
            continue
        deadline = time.monotonic() + 15
        while group_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.02)


def stop_group(proc):
    """Ends proc and everything in its process group (the app's nook-vmm,
    and the child nook-vmm leaves the kernel's VM teardown to), and waits
    for them: the next run should not share the CPUs with a teardown."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()
    deadline = time.monotonic() + 15
    while group_alive(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(0.5)


def vmm_argv(args, sock):
    """What nook_machine_build_argv() gives for the bench machine, with the
    serial port on stdout to see when the guest's picture is up."""
    return [args.vmm, "--name", "bench", "--control", "none", "--memory=128M", "--cpus=1",
            "--serial=stdio", "--display=spice", f"--spice=unix:{sock}",
            "--kernel", args.guest, "--vga=std"]


class Bench:
    def __init__(self, args):
        self.args = args
        self.tmp = args.tmp
        self.screen = Screen()
        home = os.path.join(self.tmp, "home")
        self.machine_dir = os.path.join(home, "data", "nook", "machines", "bench")
        os.makedirs(self.machine_dir, exist_ok=True)
        with open(os.path.join(self.machine_dir, "machine.ini"), "w") as f:
            f.write("[machine]\nname=Bench\nos-name=tests/guest/vga.elf\nmemory=128\ncpus=1\n"
                    f"firmware=bios\ndisplay=spice\n\n[kernel]\npath={args.guest}\n")
        config = os.path.join(home, "config")
        os.makedirs(os.path.join(config, "glib-2.0", "settings"), exist_ok=True)
        # gnome-boxes' first run opens a tutorial over its window.
        with open(os.path.join(config, "glib-2.0", "settings", "keyfile"), "w") as f:
            f.write("[org/gnome/boxes]\nfirst-run=false\n")
        self.runtime = os.path.join(self.tmp, "run")
        env = dict(os.environ)
        env.update(HOME=home, XDG_DATA_HOME=os.path.join(home, "data"), XDG_CONFIG_HOME=config,
                   XDG_CACHE_HOME=os.path.join(home, "cache"), XDG_RUNTIME_DIR=self.runtime,
                   GSETTINGS_BACKEND="keyfile", NOOK_VMM=args.vmm, GTK_A11Y="none", NO_AT_BRIDGE="1")
        env.pop("G_MESSAGES_DEBUG", None)
        env.pop("NOOK_TRACE_TIMING", None)
        self.env = env
        self.buttons = {}

    def fresh_runtime(self):
        shutil.rmtree(self.runtime, ignore_errors=True)
        os.makedirs(self.runtime, mode=0o700)

    def spawn_nook(self, name, a11y=False):
        env = dict(self.env, NOOK_TRACE_TIMING="1")
        if a11y:
            env.pop("GTK_A11Y")
            env.pop("NO_AT_BRIDGE")
        self.fresh_runtime()
        keep = open(os.path.join(self.tmp, f"{name}.log"), "w")
        t0 = time.monotonic()
        app = subprocess.Popen([self.args.nook], env=env, stdin=subprocess.DEVNULL, stdout=keep,
                               stderr=subprocess.PIPE, start_new_session=True)
        return t0, app, Lines(app.stderr, keep)

    def calibrate(self):
        """Where Start, Back and Show are, from the accessibility tree."""
        import pyatspi

        def app_node():
            desktop = pyatspi.Registry.getDesktop(0)
            for i in range(desktop.childCount):
                a = desktop.getChildAtIndex(i)
                if a is not None and a.name == "nook":
                    return a
            return None

        def find(role, name):
            out = []

            def walk(node, depth):
                if node is None or depth > 60:
                    return
                try:
                    r = node.getRoleName()
                    st = node.getState()
                except Exception:
                    return
                # GTK 4.8 sets no 'showing': what is not shown has no size.
                if r == role and (name is None or node.name.replace("_", "") == name):
                    e = node.queryComponent().getExtents(pyatspi.WINDOW_COORDS)
                    if e.width > 0 and e.height > 0 and st.contains(pyatspi.STATE_SENSITIVE):
                        out.append((node, (e.x, e.y, e.width, e.height)))
                for c in node:
                    walk(c, depth + 1)
            walk(app_node(), 0)
            return out

        def wait_find(role, name, timeout=60):
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                try:
                    hits = find(role, name)
                except Exception:
                    hits = []
                if hits:
                    return hits[0]
                time.sleep(0.2)
            raise Failure(f"calibration: no '{name}' {role} in nook's accessibility tree")

        def press(node):
            action = node.queryAction()
            for i in range(action.nActions):
                if action.getName(i) in ("click", "press", "activate"):
                    action.doAction(i)
                    return
            action.doAction(0)

        t0, app, lines = self.spawn_nook("calibration", a11y=True)
        try:
            mark(lines, "library-shown", 0)
            _, (fx, fy, fw, fh) = wait_find("frame", None)
            # The accessible frame is the window without the surface's
            # margin (client-side decorations): the X window is larger.
            geo = None
            for wid in subprocess.run(["xdotool", "search", "--onlyvisible", "--name", "^Nook$"],
                                      capture_output=True, text=True).stdout.split():
                g = dict(l.split("=", 1) for l in subprocess.run(
                    ["xdotool", "getwindowgeometry", "--shell", wid],
                    capture_output=True, text=True, check=True).stdout.split())
                if not geo or int(g["WIDTH"]) * int(g["HEIGHT"]) > int(geo["WIDTH"]) * int(geo["HEIGHT"]):
                    geo = g
            if not geo:
                raise Failure("calibration: no window titled Nook")
            ox = int(geo["X"]) + (int(geo["WIDTH"]) - fw) // 2 - fx
            oy = int(geo["Y"]) + (int(geo["HEIGHT"]) - fh) // 2 - fy

            def centre(extents):
                x, y, w, h = extents
                return x + w // 2 + ox, y + h // 2 + oy

            node, ext = wait_find("push button", "Start")
            self.buttons["start"] = centre(ext)
            t = time.monotonic()
            press(node)
            mark(lines, "first-guest-frame", t)
            node, ext = wait_find("push button", "Back to the Library")
            self.buttons["back"] = centre(ext)
            press(node)
            node, ext = wait_find("push button", "Show")
            self.buttons["show"] = centre(ext)
        finally:
            stop_app(app)
        log(f"buttons (X screen): {self.buttons}; window {geo['WIDTH']}x{geo['HEIGHT']} at "
            f"{geo['X']},{geo['Y']}, accessible frame offset {ox},{oy}")

    def run_nook(self, run):
        s = self.screen
        t0, app, lines = self.spawn_nook(f"nook-{run}")
        r = {}
        try:
            t_paint = s.wait(painted, PAINT_AREA, 60, "nook's window")
            t_main = mark(lines, "main", 0)
            t_lib = mark(lines, "library-shown", 0)
            r["launch_screen"] = t_paint - t0
            r["launch_trace"] = t_lib - t0
            r["launch_main"] = t_main - t0
            time.sleep(self.args.pause)

            t_click = s.click(*self.buttons["start"])
            t_show = mark(lines, "show-machine", t_click - 1)
            t_frame = mark(lines, "first-guest-frame", t_click - 1)
            t_bars = s.wait(has_bars, None, 60, "the guest's bars in nook's view")
            r["start_trace"] = t_frame - t_click
            r["start_screen"] = t_bars - t_click
            r["start_show"] = t_show - t_click
            time.sleep(self.args.settle)
            r["rss_start"], r["pss_start"] = memory(app.pid)

            s.click(*self.buttons["back"])
            s.wait(no_bars, None, 30, "nook's library again")
            time.sleep(self.args.pause)
            t_click = s.click(*self.buttons["show"])
            mark(lines, "show-machine", t_click - 1)
            t_frame = mark(lines, "first-guest-frame", t_click - 1)
            t_bars = s.wait(has_bars, None, 60, "the guest's bars in nook's view")
            r["view_trace"] = t_frame - t_click
            r["view_screen"] = t_bars - t_click
            time.sleep(self.args.settle)
            r["rss"], r["pss"] = memory(app.pid)
        finally:
            stop_app(app)
        return r

    def run_viewer(self, run):
        s = self.screen
        self.fresh_runtime()
        sock = os.path.join(self.runtime, "spice.sock")
        vmm = subprocess.Popen(vmm_argv(self.args, sock), env=self.env, stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
        viewer = None
        r = {}
        try:
            Lines(vmm.stdout).wait_for(lambda l: "ready for screendump" in l, 60,
                                       "the guest's picture (serial 'ready for screendump')")
            time.sleep(self.args.pause)
            t0 = time.monotonic()
            viewer = subprocess.Popen([self.args.viewer, f"spice+unix://{sock}"], env=self.env,
                                      stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                      stderr=open(os.path.join(self.tmp, f"remote-viewer-{run}.log"), "w"),
                                      start_new_session=True)
            t_bars = s.wait(has_bars, None, 60, "the guest's bars in remote-viewer")
            r["view_screen"] = t_bars - t0
            time.sleep(self.args.settle)
            r["rss"], r["pss"] = memory(viewer.pid)
        finally:
            if viewer:
                stop_group(viewer)
            stop_group(vmm)
        return r

    def run_boxes(self, run):
        t0 = time.monotonic()
        boxes = subprocess.Popen([self.args.boxes], env=self.env, stdin=subprocess.DEVNULL,
                                 stdout=subprocess.DEVNULL,
                                 stderr=open(os.path.join(self.tmp, f"gnome-boxes-{run}.log"), "w"),
                                 start_new_session=True)
        try:
            t_paint = self.screen.wait(painted, PAINT_AREA, 60, "gnome-boxes' window")
            return {"launch_screen": t_paint - t0}
        finally:
            stop_group(boxes)


def fmt(values, scale=1000.0):
    if not values:
        return "-"
    v = [x * scale for x in values]
    return f"{statistics.median(v):7.1f} ({min(v):.0f}-{max(v):.0f})"


def fmt_mib(values):
    if not values:
        return "-"
    return f"{statistics.median(values):7.1f} ({min(values):.1f}-{max(values):.1f})"


def ratio(a, b):
    if not a or not b:
        return "-"
    return f"{statistics.median(a) / statistics.median(b):.2f}"


def load():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def report(res, args, boxes_note):
    def col(who, key):
        return [r[key] for r in res[who] if key in r]

    n, v, b = "nook", "viewer", "boxes"
    rows = [
        ("launch to window painted, ms", fmt(col(n, "launch_screen")), b, fmt(col(b, "launch_screen")),
         ratio(col(n, "launch_screen"), col(b, "launch_screen"))),
        ("  nook's mark: library's first frame", fmt(col(n, "launch_trace")), "", "", ""),
        ("  nook's mark: main()", fmt(col(n, "launch_main")), "", "", ""),
        ("Start to guest picture on screen, ms", fmt(col(n, "start_screen")), "", "", ""),
        ("  nook's mark: first guest frame", fmt(col(n, "start_trace")), "", "", ""),
        ("  nook's mark: view shown (Start done)", fmt(col(n, "start_show")), "", "", ""),
        ("open view to guest picture on screen, ms", fmt(col(n, "view_screen")), v,
         fmt(col(v, "view_screen")), ratio(col(n, "view_screen"), col(v, "view_screen"))),
        ("  nook's mark: first guest frame", fmt(col(n, "view_trace")), "", "", ""),
        ("RSS with the view open, MiB", fmt_mib(col(n, "rss")), v, fmt_mib(col(v, "rss")),
         ratio(col(n, "rss"), col(v, "rss"))),
        ("PSS with the view open, MiB", fmt_mib(col(n, "pss")), v, fmt_mib(col(v, "pss")),
         ratio(col(n, "pss"), col(v, "pss"))),
        ("  nook RSS / PSS after Start, MiB", fmt_mib(col(n, "rss_start")) + " /" +
         fmt_mib(col(n, "pss_start")), "", "", ""),
    ]
    names = {"boxes": "gnome-boxes", "viewer": "remote-viewer", "": ""}
    print(f"\nmedians (min-max) of {args.runs} runs; ratio nook/peer:")
    print(f"  {'':42} {'nook':>30}   {'peer':14} {'peer figure':>22} {'ratio':>6}")
    for what, nook, peer, pfig, rat in rows:
        print(f"  {what:42} {nook:>30}   {names[peer]:14} {pfig:>22} {rat:>6}")
    if boxes_note:
        print(f"  launch peer: {boxes_note}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("nook", help="the nook app (build/gui/nook)")
    ap.add_argument("--vmm", default=None, help="nook-vmm (default: vmm/nook-vmm of the same build)")
    ap.add_argument("--guest", default=None, help="vga.elf (default: tests/guest of the same build)")
    ap.add_argument("--viewer", default="remote-viewer")
    ap.add_argument("--boxes", default="gnome-boxes")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--settle", type=float, default=2.0, help="seconds after the first frame before memory")
    ap.add_argument("--pause", type=float, default=1.0, help="seconds of quiet before each click or spawn")
    ap.add_argument("--tmp", default=None, help="folder for the home, logs and sockets (default: a new one)")
    args = ap.parse_args()

    build = os.path.dirname(os.path.dirname(os.path.abspath(args.nook)))
    args.nook = os.path.abspath(args.nook)
    args.vmm = os.path.abspath(args.vmm or os.path.join(build, "vmm", "nook-vmm"))
    args.guest = os.path.abspath(args.guest or os.path.join(build, "tests", "guest", "vga.elf"))
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        print("skipped: /dev/kvm is missing or not accessible")
        return 77
    for path in (args.nook, args.vmm, args.guest):
        if not os.path.exists(path):
            sys.exit(f"gui-bench: {path} was not built")
    args.viewer = shutil.which(args.viewer)
    if not args.viewer:
        print("skipped: remote-viewer is missing (apt-get install virt-viewer)")
        return 77
    for tool, pkg in (("xvfb-run", "xvfb xauth"), ("dbus-run-session", "dbus"), ("xdotool", "xdotool")):
        if not shutil.which(tool):
            print(f"skipped: {tool} is missing (apt-get install {pkg})")
            return 77
    python = sys.executable
    try:
        import pyatspi  # noqa: F401
    except ImportError:
        # Debian's python3-pyatspi is for the system's interpreter.
        python = "/usr/bin/python3"
        if subprocess.run([python, "-c", "import pyatspi"], capture_output=True).returncode != 0:
            print("skipped: python3-pyatspi is missing (apt-get install python3-pyatspi at-spi2-core)")
            return 77
    if os.environ.get("GUI_BENCH_XVFB") != "1":
        # Always an Xvfb of its own (no window manager: windows at 0,0) and
        # one session bus for every run; the accessibility bus goes to a
        # runtime folder of its own.
        args.tmp = args.tmp or tempfile.mkdtemp(prefix="gui-bench-")
        rt = os.path.join(args.tmp, "session")
        os.makedirs(rt, mode=0o700, exist_ok=True)
        env = dict(os.environ, XDG_RUNTIME_DIR=rt, GUI_BENCH_XVFB="1")
        argv = [a for a in sys.argv[1:]]
        os.execvpe("dbus-run-session", ["dbus-run-session", "--", "xvfb-run", "-a", "-s",
                                        f"-screen 0 {SCREEN}", python,
                                        os.path.abspath(__file__), *argv, "--tmp", args.tmp], env)
    args.tmp = args.tmp or tempfile.mkdtemp(prefix="gui-bench-")
    os.makedirs(args.tmp, exist_ok=True)

    boxes = shutil.which(args.boxes)
    boxes_note = None
    if boxes:
        args.boxes = boxes
    else:
        boxes_note = ("gnome-boxes is not installed (apt-get install gnome-boxes): "
                      "nook's launch figure stands alone")

    print(f"Xvfb {SCREEN}; guest {args.guest} (1024x768 colour bars); {args.runs} alternating runs; "
          f"settle {args.settle:g} s; {os.cpu_count()} CPUs, load average {load()} at the start")
    print(f"  nook: {args.nook} (nook-vmm {args.vmm})")
    print(f"  open-view peer: {args.viewer} spice+unix://SOCK onto {' '.join(vmm_argv(args, 'SOCK'))}")
    print(f"  launch peer: {args.boxes if boxes else 'none'}; logs in {args.tmp}")

    bench = Bench(args)
    try:
        bench.calibrate()
    except Failure as e:
        log(f"calibration FAILED: {e}")
        return 1
    kinds = {"nook": bench.run_nook, "viewer": bench.run_viewer}
    if boxes:
        kinds["boxes"] = bench.run_boxes
    names = list(kinds)
    res = {k: [] for k in ("nook", "viewer", "boxes")}
    failed = []
    for i in range(args.runs):
        order = names[i % len(names):] + names[:i % len(names)]
        for who in order:
            try:
                r = kinds[who](i + 1)
            except (Failure, subprocess.TimeoutExpired, OSError, KeyError) as e:
                log(f"run {i + 1}, {who}: FAILED: {e}")
                failed.append(f"{who} run {i + 1}")
                continue
            res[who].append(r)
            print(f"run {i + 1} {who:6}: " + ", ".join(
                f"{k} {v * 1000:.1f} ms" if not k.startswith(("rss", "pss")) else f"{k} {v:.1f} MiB"
                for k, v in r.items()), flush=True)
    iv = sorted(bench.screen.intervals)
    if iv:
        print(f"screen fetches: every {statistics.median(iv) * 1000:.1f} ms (median; "
              f"90th percentile {iv[int(len(iv) * 0.9)] * 1000:.1f} ms): the resolution of 'on screen'")
    print(f"load average {load()} at the end")
    report(res, args, boxes_note)
    if failed or not res["nook"] or not res["viewer"]:
        log(f"runs that failed: {', '.join(failed) or 'none'}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
