#!/usr/bin/env python3
"""nook-vmm --display sdl under Xvfb, seen and driven from outside as a user
would: the window of tests/guest/vga.c is 1024x768 and, screenshot from
the X server, equal pixel for pixel to the picture pictures.py draws; made
800x800, it shows the picture letterboxed, and Ctrl+Alt+Q quits. xdotool
types into the window of tests/guest/input.c, which prints the set 1 bytes
its i8042 gives it; a click grabs the pointer (the title says how to let
go), motion and buttons arrive as PS/2 packets, Ctrl+Alt+G and Ctrl+Alt+F
are not the guest's, losing focus releases held keys. Closing the window
once presses the guest's ACPI power button (the title says to close again),
twice quits. Also: no X display, and --display sdl without a graphics card,
are one-line errors.

With --display spice, the control socket's open-window (and nookctl's)
opens the same window beside SPICE, equal to the screendump; its close
button, close-window, or both at once close only the window (the guest
runs on) and send one window-closed event; without an X display
open-window is a GenericError and the VM runs on.

Runs itself under xvfb-run; fails, naming the Debian package, when a tool
is missing (tests/setup-debian.sh test installs them)."""
import ctypes
import os
import re
import shutil
import subprocess
import sys
import time

import nooktest
from nooktest import check

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "guest"))
import images  # noqa: E402
import pictures  # noqa: E402

TOOLS = [("xvfb-run", "xvfb"), ("Xvfb", "xvfb"), ("xauth", "xauth"), ("xdotool", "xdotool"),
         ("import", "imagemagick"), ("xwininfo", "x11-utils")]
# -noreset: without it Xvfb resets when its last client leaves, and a
# client that connects just then is refused.
SCREEN = "-screen 0 1280x1024x24 -noreset"
GRAB_HINT = "Press Ctrl+Alt+G to release grab"


def need_tools():
    missing = sorted({pkg for tool, pkg in TOOLS if not shutil.which(tool)})
    if missing:
        print(f"FAIL: missing {', '.join(t for t, p in TOOLS if p in missing)}: "
              f"install the Debian package(s) {' '.join(missing)} (tests/setup-debian.sh test)")
        sys.exit(1)


def x(*args, timeout=30):
    p = subprocess.run(list(args), capture_output=True, text=True, timeout=nooktest.scaled(timeout))
    if p.returncode != 0:
        raise nooktest.Failure(f"{' '.join(args)} failed: {p.stderr.strip()}")
    return p.stdout


def wait_until(pred, timeout, step=0.1):
    deadline = time.time() + nooktest.scaled(timeout)
    while True:
        v = pred()
        if v or time.time() > deadline:
            return v
        time.sleep(step)


def find_window(name, timeout=30):
    def search():
        p = subprocess.run(["xdotool", "search", "--name", f"^{re.escape(name)} - Nook"],
                           capture_output=True, text=True, timeout=nooktest.scaled(10))
        ids = p.stdout.split()
        return ids[0] if ids else None
    w = wait_until(search, timeout, 0.2)
    if not w:
        raise nooktest.Failure(f"no window titled '{name} - Nook'")
    return w


def geometry(win):
    out = x("xwininfo", "-id", win)
    val = {k: int(re.search(rf"{k}:\s+(-?\d+)", out).group(1))
           for k in ("Absolute upper-left X", "Absolute upper-left Y", "Width", "Height")}
    return (val["Absolute upper-left X"], val["Absolute upper-left Y"], val["Width"], val["Height"])


def title(win):
    return x("xdotool", "getwindowname", win).strip()


def screenshot(win, path):
    """The window's part of the X screen, as the user sees it."""
    gx, gy, w, h = geometry(win)
    x("import", "-window", "root", "-depth", "8", path)
    sw, sh, pix = images.read_image(path)
    if gx < 0 or gy < 0 or gx + w > sw or gy + h > sh:
        raise nooktest.Failure(f"the window at {gx},{gy} {w}x{h} is not all on the {sw}x{sh} screen")
    rows = [pix[((gy + y) * sw + gx) * 3:((gy + y) * sw + gx + w) * 3] for y in range(h)]
    return w, h, b"".join(rows)



def window_difference(win, shot, expected):
    """The first difference between the window and expected, None once they
    agree; a new window may take a few frames to show the picture."""
    diff = "not taken"
    for _ in range(20):
        diff = images.first_difference(screenshot(win, shot), expected)
        if not diff:
            break
        time.sleep(0.5)
    return diff


def pixel(img, px, py):
    w, _, pix = img
    i = (py * w + px) * 3
    return tuple(pix[i:i + 3])


class XClientMessage(ctypes.Structure):
    _fields_ = [("type", ctypes.c_int), ("serial", ctypes.c_ulong), ("send_event", ctypes.c_int),
                ("display", ctypes.c_void_p), ("window", ctypes.c_ulong),
                ("message_type", ctypes.c_ulong), ("format", ctypes.c_int),
                ("data", ctypes.c_long * 5)]


class XEvent(ctypes.Union):
    _fields_ = [("xclient", XClientMessage), ("pad", ctypes.c_long * 24)]


# A window destroyed while the message to it is on its way is no error of
# the test's (Xlib's own handler would exit).
X_ERROR_HANDLER = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p)(lambda dpy, ev: 0)


def close_window(win):
    """What a window manager does when the user closes a window: a
    WM_DELETE_WINDOW client message (Xvfb has no window manager)."""
    xlib = ctypes.CDLL("libX11.so.6")
    xlib.XOpenDisplay.restype = ctypes.c_void_p
    xlib.XOpenDisplay.argtypes = [ctypes.c_char_p]
    xlib.XInternAtom.restype = ctypes.c_ulong
    xlib.XInternAtom.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int]
    xlib.XSendEvent.argtypes = [ctypes.c_void_p, ctypes.c_ulong, ctypes.c_int, ctypes.c_long,
                                ctypes.POINTER(XEvent)]
    xlib.XSync.argtypes = [ctypes.c_void_p, ctypes.c_int]
    xlib.XCloseDisplay.argtypes = [ctypes.c_void_p]
    xlib.XSetErrorHandler.argtypes = [X_ERROR_HANDLER.__class__]
    xlib.XSetErrorHandler(X_ERROR_HANDLER)
    dpy = xlib.XOpenDisplay(None)
    if not dpy:
        raise nooktest.Failure("cannot open the X display")
    ev = XEvent()
    ev.xclient.type = 33    # ClientMessage
    ev.xclient.window = int(win)
    ev.xclient.message_type = xlib.XInternAtom(dpy, b"WM_PROTOCOLS", 0)
    ev.xclient.format = 32
    ev.xclient.data[0] = xlib.XInternAtom(dpy, b"WM_DELETE_WINDOW", 0)
    xlib.XSendEvent(dpy, int(win), 0, 0, ctypes.byref(ev))
    xlib.XSync(dpy, 0)
    xlib.XCloseDisplay(dpy)


class Vmm:
    def __init__(self, vmm, tmp, name, args, display="sdl", env=None):
        self.name = name
        self.log = os.path.join(tmp, name + "-serial.log")
        self.sock = os.path.join(tmp, name + ".sock")
        self.err = os.path.join(tmp, name + "-stderr.log")
        self.pos = 0
        with open(self.err, "w") as err:
            self.proc = subprocess.Popen([vmm, "--name", name, "--display", display, "--control", self.sock,
                                          "--serial", "file:" + self.log, *args],
                                         stdin=subprocess.DEVNULL, stderr=err, env=env)

    def lines(self):
        try:
            with open(self.log, errors="replace") as f:
                return f.read().splitlines()
        except FileNotFoundError:
            return []

    def wait_line(self, line, timeout):
        return wait_until(lambda: line in self.lines() or self.proc.poll() is not None, timeout) \
            and line in self.lines()

    def new_lines(self, settle=0.5, timeout=10, until=None):
        """The guest's lines since the last call: waits for until (a
        predicate on them) or for settle seconds without a new line."""
        deadline, last, seen = time.time() + nooktest.scaled(timeout), time.time(), len(self.lines())
        while time.time() < deadline:
            lines = self.lines()
            if until and until(lines[self.pos:]):
                break
            if len(lines) != seen:
                seen, last = len(lines), time.time()
            elif not until and time.time() - last > nooktest.scaled(settle):
                break
            time.sleep(0.05)
        lines = self.lines()
        out, self.pos = lines[self.pos:], len(lines)
        return out

    def stderr(self):
        with open(self.err, errors="replace") as f:
            return f.read()

    def finish(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        err = self.stderr()
        if err:
            lines = err.splitlines()
            print(f"{self.name} stderr ({len(lines)} lines, the last 30):\n" + "\n".join(lines[-30:]))


def windows(name, visible=False):
    """The ids of the X windows titled "NAME - Nook" (mapped ones only with
    visible)."""
    p = subprocess.run(["xdotool", "search", *(["--onlyvisible"] if visible else []),
                        "--name", f"^{re.escape(name)} - Nook"], capture_output=True, text=True, timeout=nooktest.scaled(10))
    return p.stdout.split()


def kbd(*codes):
    return [f"kbd {c}" for c in codes]


def test_errors(vmm, guests):
    env = no_x_env()
    start = time.time()
    p = subprocess.run([vmm, "--kernel", os.path.join(guests, "vga.elf"), "--vga", "std", "--display", "sdl",
                        "--control", "none", "--serial", "stdio"],
                       stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=nooktest.scaled(30), env=env)
    err = p.stderr.strip()
    check(p.returncode == 2 and len(err.splitlines()) == 1
          and "cannot open an SDL window: x11 not available" in err and "DISPLAY" in err,
          f"without an X display: one line and status 2 ({p.returncode}): {err!r}")
    check(p.stdout == "" and time.time() - start < nooktest.scaled(10), "... before the guest ran")
    p = subprocess.run([vmm, "--kernel", os.path.join(guests, "vga.elf"), "--display", "sdl",
                        "--control", "none"], stdin=subprocess.DEVNULL, capture_output=True, text=True,
                       timeout=nooktest.scaled(30))
    err = p.stderr.strip()
    check(p.returncode == 2 and err == "nook-vmm: --display sdl: the VM has no graphics card (--vga none)",
          f"--display sdl without a graphics card is a configuration error: {err!r}")


def test_picture(vmm, guests, tmp):
    v = Vmm(vmm, tmp, "sdlpic", ["--kernel", os.path.join(guests, "vga.elf"), "--vga", "std", "-v"])
    try:
        check(v.wait_line("ready for screendump", 180), "the guest drew its picture")
        win = find_window("sdlpic")
        check(title(win) == "sdlpic - Nook", f"the title names the VM: {title(win)!r}")
        check(wait_until(lambda: geometry(win)[2:] == (1024, 768), 10),
              f"the window takes the picture's size, 1024x768: {geometry(win)}")
        expected = pictures.vga_bars()
        shot = os.path.join(tmp, "root.ppm")
        diff = window_difference(win, shot, expected)
        check(diff is None, f"the window shows the guest's picture pixel for pixel (first difference {diff})")

        x("xdotool", "windowmove", win, "100", "100")
        x("xdotool", "windowsize", win, "800", "800")
        check(wait_until(lambda: geometry(win)[2:] == (800, 800), 10), "the window can be made 800x800")

        def letterboxed():
            img = screenshot(win, shot)
            # 1024x768 in 800x800: 800x600 at y 100, bars over its top 200 lines.
            bars = all(pixel(img, 100 * k + 50, 200) == tuple(pictures.BARS[k].to_bytes(3, "big"))
                       for k in range(8))
            black = all(pixel(img, px, py) == (0, 0, 0) for px in (0, 400, 799) for py in (0, 99, 700, 799))
            return bars and black
        check(wait_until(letterboxed, 10, 0.5), "scaled to 800x600 between black bars, colours kept")
        # The std VGA takes it as its EDID's preferred mode; the guest keeps
        # the mode it set, so the picture stays letterboxed.
        asked = "sdl: asked the graphics card for 800x800"
        check(wait_until(lambda: asked in v.stderr(), 5) and v.stderr().count(asked) == 1,
              "the window's new size went to the std VGA once")

        x("xdotool", "windowfocus", "--sync", win)
        x("xdotool", "key", "ctrl+alt+q")
        status = v.proc.wait(timeout=nooktest.scaled(15))
        check(status == 0, f"Ctrl+Alt+Q quits with status 0 ({status})")
    finally:
        v.finish()


def test_input(vmm, guests, tmp):
    v = Vmm(vmm, tmp, "sdlin", ["--kernel", os.path.join(guests, "input.elf"), "--vga", "std",
                                "--input", "ps2"])
    try:
        check(v.wait_line("ready for input", 60), "the input guest set up its i8042")
        v.new_lines(settle=0)
        win = find_window("sdlin")
        x("xdotool", "windowfocus", "--sync", win)

        # xdotool key lets go of a chord's keys in the order it pressed them.
        for keys, codes in [("a", ["1e", "9e"]),
                            ("shift+a", ["2a", "1e", "aa", "9e"]),
                            ("Up", ["e0", "48", "e0", "c8"]),
                            ("ctrl+alt+Delete", ["1d", "38", "e0", "53", "9d", "b8", "e0", "d3"])]:
            x("xdotool", "key", keys)
            got = v.new_lines()
            check(got == kbd(*codes), f"xdotool key {keys}: {' '.join(codes)}" + ("" if got == kbd(*codes)
                                                                                  else f", got {got}"))
        x("xdotool", "type", "--delay", "30", "Hi!")
        got = v.new_lines()
        check(got == kbd("2a", "23", "aa", "a3", "17", "97", "2a", "02", "aa", "82"),
              f"typing 'Hi!' gives shifted and plain keys: {got}")

        # Leaving the window with a key held lets go of it in the guest.
        x("xdotool", "keydown", "shift")
        check(v.new_lines() == kbd("2a"), "shift held")
        root = re.search(r"Window id: (0x[0-9a-f]+)", x("xwininfo", "-root")).group(1)
        x("xdotool", "windowfocus", root)
        check(v.new_lines() == kbd("aa"), "losing focus releases shift in the guest")
        x("xdotool", "keyup", "shift")
        x("xdotool", "windowfocus", "--sync", win)
        check(v.new_lines() == [], "releasing it elsewhere sends nothing more")

        # The pointer is PS/2, relative: nothing until a click grabs it.
        x("xdotool", "mousemove", "--window", win, "100", "100")
        check(v.new_lines() == [], "motion without a grab stays on the host")
        x("xdotool", "click", "1")
        check(wait_until(lambda: title(win) == f"sdlin - Nook - {GRAB_HINT}", 5),
              f"a click grabs, and the title says how to let go: {title(win)!r}")
        check(v.new_lines() == [], "the click that grabs is not the guest's")
        x("xdotool", "mousemove_relative", "--", "30", "20")
        got = v.new_lines()
        packets = [[int(b, 16) for b in line.split()[1:]] for line in got if line.startswith("aux ")]

        def signed(v, sign):
            return v - 256 if sign else v
        dx = sum(signed(p[1], p[0] & 0x10) for p in packets)
        dy = sum(signed(p[2], p[0] & 0x20) for p in packets)
        check(packets and len(packets) == len(got) and all(p[0] & 0x0f == 0x08 for p in packets)
              and (dx, dy) == (30, -20),
              f"moving 30 right and 20 down gives x +30, y -20 (PS/2 y is up), no buttons: {got}")
        x("xdotool", "click", "1")
        got = v.new_lines()
        check(got == ["aux 09 00 00", "aux 08 00 00"], f"a click: left down, then up: {got}")
        x("xdotool", "click", "3")
        got = v.new_lines()
        check(got == ["aux 0a 00 00", "aux 08 00 00"], f"a right click: {got}")
        x("xdotool", "click", "4")
        got = v.new_lines()
        check(got == ["aux 08 00 00"], f"the wheel is no button (a plain PS/2 mouse has no wheel): {got}")

        x("xdotool", "key", "ctrl+alt+g")
        check(wait_until(lambda: title(win) == "sdlin - Nook", 5), f"Ctrl+Alt+G lets go: {title(win)!r}")
        got = v.new_lines()
        check(got == kbd("1d", "38", "9d", "b8"), f"the guest sees Ctrl and Alt, never the G: {got}")
        x("xdotool", "mousemove_relative", "--", "5", "5")
        check(v.new_lines() == [], "no packets once let go")
        # Fullscreen needs a window manager, which Xvfb lacks: only the
        # keys are checked here, twice so that the window ends as it was.
        for _ in range(2):
            x("xdotool", "key", "ctrl+alt+f")
            got = v.new_lines()
            check(got == kbd("1d", "38", "9d", "b8"), f"Ctrl+Alt+F is not the guest's either: {got}")

        x("xdotool", "key", "Escape")
        check(v.new_lines(until=lambda ls: "PASS" in ls)[:1] == kbd("01"), "Escape ends the guest")
        status = v.proc.wait(timeout=nooktest.scaled(15))
        check(status == 1, f"the guest passed (status {status})")
    finally:
        v.finish()


def test_close(vmm, guests, tmp):
    v = Vmm(vmm, tmp, "sdlclose", ["--kernel", os.path.join(guests, "input.elf"), "--vga", "std",
                                   "--input", "ps2"])
    try:
        check(v.wait_line("ready for input", 60), "the input guest set up its i8042")
        v.new_lines(settle=0)
        win = find_window("sdlclose")
        close_window(win)
        check(v.new_lines(until=lambda ls: ls) == ["power button"],
              "closing the window presses the guest's ACPI power button")
        check(wait_until(lambda: title(win) == "sdlclose - Nook - Close again to quit", 5),
              f"and the title says what a second close does: {title(win)!r}")
        check(v.proc.poll() is None, "the VM keeps running: this guest does not power off")
        check(wait_until(lambda: title(win) == "sdlclose - Nook", 6),
              "the title goes back after a few seconds")
        close_window(win)
        check(v.new_lines(until=lambda ls: ls) == ["power button"], "closing again later presses it again")
        close_window(win)
        status = v.proc.wait(timeout=nooktest.scaled(15))
        check(status == 0, f"a second close within a few seconds quits with status 0 ({status})")
    finally:
        v.finish()


def no_x_env():
    return {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "SDL_VIDEODRIVER")}


def test_open_window(vmm, nookctl, guests, tmp):
    name = "sdlwin"
    v = Vmm(vmm, tmp, name, ["--kernel", os.path.join(guests, "vga.elf"), "--vga", "std",
                             "--spice", "unix:" + os.path.join(tmp, name + "-spice.sock")], display="spice")
    try:
        check(v.wait_line("ready for screendump", 180), "the guest drew its picture")
        c = nooktest.Control(v.sock)
        st = c.execute("query-status")["return"]
        check(st["window"] is False and windows(name) == [],
              f"with --display spice no window is open, and query-status says so: {st}")

        def opens(how):
            if how == "nookctl":
                p = subprocess.run([nookctl, "--control", v.sock, "open-window"], capture_output=True,
                                   text=True, timeout=nooktest.scaled(30))
                check(p.returncode == 0 and p.stdout.strip() == "open: true",
                      f"nookctl open-window: {p.returncode} {p.stdout.strip()!r} {p.stderr.strip()!r}")
            else:
                r = c.execute("open-window", id=1)
                check(r == {"return": {"open": True}, "id": 1}, f"open-window: {r}")
            win = find_window(name)
            check(wait_until(lambda: windows(name, visible=True) == [win], 10),
                  f"one window titled '{name} - Nook' shows: {windows(name)}")
            return win

        def closed(reason):
            e = c.wait_event(lambda e: e["event"] == "window-closed", timeout=15)
            check(e.get("data") == {"reason": reason}, f"a window-closed event, reason {reason}: {e}")
            check(wait_until(lambda: windows(name) == [], 10), f"the window is gone: {windows(name)}")
            st = c.execute("query-status")["return"]
            check(st["running"] and st["window"] is False and v.proc.poll() is None,
                  f"the guest runs on, and query-status says no window: {st}")

        win = opens("control")
        check(title(win) == f"{name} - Nook", f"the title names the VM: {title(win)!r}")
        check(c.execute("query-status")["return"]["window"] is True, "query-status says the window is open")
        dump = os.path.join(tmp, name + ".png")
        r = c.execute("screendump", {"file": dump})
        check(r == {"return": {}}, f"screendump: {r}")
        expected = images.read_image(dump)
        check(images.first_difference(expected, pictures.vga_bars()) is None, "the screendump is the guest's picture")
        shot = os.path.join(tmp, name + "-root.ppm")
        diff = window_difference(win, shot, expected)
        check(diff is None, f"the window equals the screendump pixel for pixel (first difference {diff})")
        r = c.execute("open-window")
        check(r == {"return": {"open": True}} and windows(name) == [win],
              f"a second open-window changes nothing: {r}, {windows(name)}")

        close_window(win)
        closed("user")
        check("power button" not in v.lines(), "the guest heard no power button")

        win = opens("nookctl")
        r = c.execute("close-window", id=2)
        check(r == {"return": {"open": False}, "id": 2}, f"close-window: {r}")
        closed("close-window")
        r = c.execute("close-window")
        check(r == {"return": {"open": False}}, f"close-window with no window does nothing: {r}")

        # The close button and close-window at once, in both orders, and
        # open-window right after the close button: one event each time.
        for first in ("button", "command"):
            win = opens("control")
            if first == "button":
                close_window(win)
                r = c.execute("close-window")
            else:
                c.send_raw(b'{"execute": "close-window"}\n')
                close_window(win)
                r = c.reply()
            check(r == {"return": {"open": False}}, f"close-window against the close button ({first} first): {r}")
            e = c.wait_event(lambda e: e["event"] == "window-closed", timeout=15)
            check(e["data"]["reason"] in ("user", "close-window"), f"one window-closed event: {e}")
            closed_again = [e for e in c.events if e["event"] == "window-closed"]
            time.sleep(0.5)
            c.execute("query-status")
            closed_again += [e for e in c.events if e["event"] == "window-closed"]
            check(not closed_again and windows(name) == [], f"... and only one: {closed_again}")
        # Once the window is seen gone, open-window opens a new one,
        # whether or not nook-vmm has freed the old one yet.
        win = opens("control")
        close_window(win)
        check(wait_until(lambda: windows(name, visible=True) == [], 10), "the close button hides the window")
        r = c.execute("open-window")
        check(r == {"return": {"open": True}}, f"open-window right after the close button: {r}")
        e = c.wait_event(lambda e: e["event"] == "window-closed", timeout=15)
        check(e["data"]["reason"] == "user", f"the old window's window-closed event: {e}")
        check(wait_until(lambda: len(windows(name, visible=True)) == 1, 10),
              f"and a new one shows: {windows(name)}")
        r = c.execute("close-window")
        c.wait_event(lambda e: e["event"] == "window-closed", timeout=15)
        check(v.proc.poll() is None and c.execute("query-status")["return"]["running"], "the guest still runs")

        c.execute("quit")
        status = v.proc.wait(timeout=nooktest.scaled(15))
        check(status == 0, f"quit ends it with status 0 ({status})")
    finally:
        v.finish()

    name = "sdlwinnox"
    v = Vmm(vmm, tmp, name, ["--kernel", os.path.join(guests, "vga.elf"), "--vga", "std",
                             "--spice", "unix:" + os.path.join(tmp, name + "-spice.sock")],
            display="spice", env=no_x_env())
    try:
        c = nooktest.Control(v.sock)
        r = c.execute("open-window")
        err = r.get("error", {})
        check(err.get("class") == "GenericError" and "cannot open an SDL window: x11 not available" in err["desc"]
              and "DISPLAY" in err["desc"], f"open-window without an X display is a GenericError: {r}")
        st = c.execute("query-status")["return"]
        check(st["window"] is False and v.proc.poll() is None, f"and the VM runs on: {st}")
        c.execute("quit")
        check(v.proc.wait(timeout=nooktest.scaled(15)) == 0, "quit ends it")
    finally:
        v.finish()


def main():
    vmm, guests = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    nookctl = os.path.abspath(sys.argv[3])
    nooktest.need_kvm()
    tmp = nooktest.tmpdir()
    test_errors(vmm, guests)
    test_picture(vmm, guests, tmp)
    test_input(vmm, guests, tmp)
    test_close(vmm, guests, tmp)
    test_open_window(vmm, nookctl, guests, tmp)


if __name__ == "__main__":
    need_tools()
    if os.environ.get("NOOK_TEST_XVFB") != "1":
        # A server of our own, whatever DISPLAY the caller has.
        env = dict(os.environ, NOOK_TEST_XVFB="1")
        env.pop("WAYLAND_DISPLAY", None)
        env.pop("SDL_VIDEODRIVER", None)
        os.execvpe("xvfb-run", ["xvfb-run", "-a", "-s", SCREEN, sys.executable, os.path.abspath(__file__),
                                *sys.argv[1:]], env)
    nooktest.run_main(main)
