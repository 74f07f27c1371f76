#!/usr/bin/python3
"""End to end: the nook app under Xvfb, driven the way a person drives it.

An installer ISO with a volume id osinfo-db knows (made here with xorriso,
with the demo boot sector as its El Torito boot image, so SeaBIOS boots it
from the DVD-ROM drive) is dragged from another X client onto Nook's window
with xdotool, through XDND. The
wizard must name the detected OS; Create makes the machine; Start shows the
guest's screen in the window, where OCR reads SeaBIOS's banner; Pause,
Resume and Power Off must change the state the window shows, and the
nook-vmm behind it must agree. Buttons are found and pressed through the
accessibility tree (AT-SPI), by the names a screen reader would speak.
Screenshots of each step stay in the artifact folder.

Run under dbus-run-session and xvfb-run (tests/gui/meson.build does)."""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

try:
    import pyatspi
except ImportError:
    # pyatspi is Debian's python3-pyatspi, for the system's interpreter.
    if sys.executable != "/usr/bin/python3" and os.path.exists("/usr/bin/python3"):
        os.execv("/usr/bin/python3", ["/usr/bin/python3"] + sys.argv)
    print("Bail out! python3-pyatspi is missing: apt-get install python3-pyatspi at-spi2-core")
    sys.exit(1)

VOLID = "Debian 11.7.0 amd64 n"
OS_NAME = "Debian 11"


class Failure(Exception):
    pass


results = []


def ok(what):
    results.append(what)
    print(f"ok {len(results)} - {what}", flush=True)


# Limits grow by NOOK_TEST_TIME_SCALE, which the L1 runner (tests/l1) sets.
TIME_SCALE = float(os.environ.get("NOOK_TEST_TIME_SCALE") or 1)


def wait(cond, what, timeout=30, step=0.2):
    timeout *= TIME_SCALE
    deadline = time.time() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.time() > deadline:
            raise Failure(f"timed out after {timeout} s waiting for {what}")
        time.sleep(step)


def run(*argv, **kw):
    return subprocess.run(argv, check=True, capture_output=True, text=True, **kw).stdout


def named(node, name):
    """Whether node's accessible name is name. GTK 4.8 names a button whose
    label has a mnemonic by its raw label and then its text ("C_reate
    Create")."""
    n = node.name.replace("_", "")
    return n == name or n == f"{name} {name}"


def on_screen(node):
    """GTK 4.8 sets no SHOWING state; what a hidden stack page holds has no
    size."""
    try:
        e = node.queryComponent().getExtents(pyatspi.DESKTOP_COORDS)
    except Exception:
        return node.getRoleName() == "application"
    return e.width > 0 and e.height > 0


class Ui:
    """The app's accessibility tree."""

    def __init__(self, name):
        self.name = name

    def app(self):
        desktop = pyatspi.Registry.getDesktop(0)
        for i in range(desktop.childCount):
            a = desktop.getChildAtIndex(i)
            if a is not None and a.name == self.name:
                return a
        return None

    def all(self, role=None, pred=None):
        found = []
        app = self.app()
        if app is None:
            return found

        def walk(node, depth):
            if node is None or depth > 60:
                return
            try:
                r = node.getRoleName()
            except Exception:
                return
            if (role is None or r == role) and on_screen(node) and (pred is None or pred(node)):
                found.append(node)
            for c in node:
                walk(c, depth + 1)
        walk(app, 0)
        return found

    def labels(self):
        return [n.name for n in self.all("label")]

    def press(self, name, timeout=30):
        """Presses the button or menu item on screen named name. A GtkMenuButton
        is a named group around a toggle button of the same name, which is
        what acts."""
        def find():
            for role in ("push button", "toggle button", "menu item", "check menu item", "radio menu item"):
                for node in self.all(role, lambda n: named(n, name) and
                                     n.getState().contains(pyatspi.STATE_SENSITIVE)):
                    action = node.queryAction()
                    if action.nActions > 0:
                        return action
            return None
        action = wait(find, f"a sensitive button named '{name}' on screen", timeout)
        names = [action.getName(i) for i in range(action.nActions)]
        for preferred in ("click", "press", "activate"):
            if preferred in names:
                action.doAction(names.index(preferred))
                return
        action.doAction(0)

    def wait_label(self, text, timeout=30):
        return wait(lambda: any(text == t for t in self.labels()), f"a label '{text}'", timeout)

    def dump(self):
        lines = []
        for n in self.all():
            try:
                lines.append(f"{n.getRoleName()}: {n.name!r}")
            except Exception:
                pass
        return "\n".join(lines)


class Screen:
    def __init__(self, artifacts):
        self.artifacts = artifacts
        self.n = 0

    def shot(self, what):
        self.n += 1
        path = os.path.join(self.artifacts, f"e2e-{self.n}-{what}.png")
        run("import", "-window", "root", path)
        return path

    def text(self, path, window=None):
        """What tesseract reads in a screenshot, or in one window of it,
        scaled up for the small grey print of subtitles."""
        big = path + ".ocr.png"
        args = ["convert", path]
        if window:
            _, x, y, w, h = window_geometry(window)
            args += ["-crop", f"{w}x{h}+{x}+{y}", "+repage"]
        args += ["-colorspace", "Gray", "-resize", "300%", big]
        run(*args)
        out = subprocess.run(["tesseract", big, "-"], capture_output=True, text=True).stdout
        os.unlink(big)
        return out


def window_geometry(title):
    def find():
        r = subprocess.run(["xdotool", "search", "--onlyvisible", "--name", title],
                           capture_output=True, text=True)
        return r.stdout.split() if r.returncode == 0 else None
    wid = wait(find, f"a window titled {title}")[0]
    out = run("xdotool", "getwindowgeometry", "--shell", wid)
    g = dict(line.split("=", 1) for line in out.split())
    return wid, int(g["X"]), int(g["Y"]), int(g["WIDTH"]), int(g["HEIGHT"])


def make_iso(work, top):
    """A Debian-looking installer ISO that boots like one, through its El
    Torito record (no emulation), whose boot image is the demo boot sector:
    SeaBIOS loads it from the DVD-ROM drive at 0x7c00 as from a disk."""
    root = os.path.join(work, "iso-root")
    os.makedirs(os.path.join(root, "isolinux"))
    with open(os.path.join(root, "README.TXT"), "w") as f:
        f.write("Nook test image\n")
    boot_o = os.path.join(work, "boot.o")
    boot = os.path.join(root, "isolinux", "boot.img")
    run("as", "--32", "-o", boot_o, os.path.join(top, "data", "demo", "boot.S"))
    run("ld", "-m", "elf_i386", "-Ttext", "0x7c00", "--oformat", "binary", "-o", boot, boot_o)
    with open(boot, "r+b") as f:
        f.truncate(2048)
    iso = os.path.join(work, "debian-11.7.0-amd64-netinst.iso")
    run("xorriso", "-as", "mkisofs", "-quiet", "-V", VOLID, "-o", iso,
        "-b", "isolinux/boot.img", "-no-emul-boot", "-boot-load-size", "4", root)
    return iso


def drag(src, dst):
    """Presses on src, moves in steps to dst and lets go: XDND between two
    X clients, as a person dragging a file."""
    sx, sy = src
    dx, dy = dst
    run("xdotool", "mousemove", str(sx), str(sy))
    time.sleep(0.3)
    run("xdotool", "mousedown", "1")
    time.sleep(0.3)
    steps = 16
    for i in range(1, steps + 1):
        run("xdotool", "mousemove", str(sx + (dx - sx) * i // steps), str(sy + (dy - sy) * i // steps))
        time.sleep(0.08)
    time.sleep(0.5)
    run("xdotool", "mouseup", "1")


def kill_leftovers(work):
    """nook-vmm outlives the app by design; a failed run must not leave
    one behind."""
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmdline = f.read()
        except OSError:
            continue
        if b"nook-vmm" in cmdline and work.encode() in cmdline:
            try:
                os.kill(int(pid), 9)
            except OSError:
                pass


def main():
    top = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    nook = os.environ.get("NOOK_APP")
    source = os.environ.get("NOOK_DRAG_SOURCE")
    nookctl = os.environ.get("NOOKCTL")
    if not nook or not source or not nookctl:
        raise Failure("NOOK_APP, NOOK_DRAG_SOURCE and NOOKCTL name the programs (tests/gui/meson.build sets them)")
    artifacts = os.environ.get("NOOK_TEST_ARTIFACTS", ".")
    for tool, pkg in (("xdotool", "xdotool"), ("import", "imagemagick"), ("tesseract", "tesseract-ocr"),
                      ("xorriso", "xorriso"), ("as", "binutils")):
        if not shutil.which(tool):
            raise Failure(f"{tool} is missing: apt-get install {pkg}")
    if not os.environ.get("DISPLAY") or not os.environ.get("DBUS_SESSION_BUS_ADDRESS"):
        raise Failure("run under xvfb-run and dbus-run-session (tests/gui/meson.build does)")

    work = tempfile.mkdtemp(prefix="nook-e2e-")
    home = os.path.join(work, "home")
    env = dict(os.environ)
    env.update(HOME=home, XDG_DATA_HOME=os.path.join(home, "data"),
               XDG_CONFIG_HOME=os.path.join(home, "config"), XDG_CACHE_HOME=os.path.join(home, "cache"),
               XDG_RUNTIME_DIR=os.path.join(work, "run"), GSETTINGS_BACKEND="memory")
    env["G_DEBUG"] = "fatal-criticals"
    env.pop("GTK_A11Y", None)
    env.pop("NO_AT_BRIDGE", None)
    os.makedirs(env["XDG_RUNTIME_DIR"], mode=0o700)
    screen = Screen(artifacts)
    app = src = ui = None
    app_log = open(os.path.join(artifacts, "e2e-app.log"), "w")
    try:
        iso = make_iso(work, top)
        app = subprocess.Popen([nook], env=env, stdout=app_log, stderr=subprocess.STDOUT)
        ui = Ui("nook")
        wait(lambda: ui.app() is not None and ui.all("frame"), "the app on the accessibility bus", 60)
        ui.wait_label("No Virtual Machines")
        _, nx, ny, nw, nh = window_geometry("^Nook$")
        ok("the app shows its empty library")

        src = subprocess.Popen([source, iso], stdout=app_log, stderr=subprocess.STDOUT)
        wid, _, _, sw, sh = window_geometry("^nook-drag-source$")
        # No window manager: both windows map at 0,0.
        run("xdotool", "windowmove", wid, str(nx + nw + 20), "100")
        time.sleep(1)
        _, sx, sy, sw, sh = window_geometry("^nook-drag-source$")
        screen.shot("before-drag")
        drag((sx + sw // 2, sy + sh // 2), (nx + nw // 2, ny + nh // 2))
        dialog = wait(lambda: ui.all("push button", lambda n: named(n, "Create")),
                      "the creation wizard after the drop", 60)
        # The OS is told after libosinfo has looked at the image.
        wait(lambda: any(OS_NAME in t for t in ui.labels()), f"the wizard naming {OS_NAME}", 60)
        shot = screen.shot("wizard")
        text = screen.text(shot, "^New Virtual Machine$")
        if OS_NAME not in text:
            raise Failure(f"the wizard's screenshot does not read '{OS_NAME}'; tesseract read:\n{text}")
        ok(f"the dropped ISO opened the wizard, which shows '{OS_NAME}'")

        ui.press("Create")
        wait(lambda: not ui.all("frame", lambda n: n.name == "New Virtual Machine"), "the wizard to close")
        machines = os.path.join(env["XDG_DATA_HOME"], "nook", "machines")
        ids = wait(lambda: os.path.isdir(machines)
                   and [d for d in os.listdir(machines) if not d.startswith(".")], "the machine's folder")
        if len(ids) != 1:
            raise Failure(f"one machine was created, but the library holds {ids}")
        mid = ids[0]
        ini = open(os.path.join(machines, mid, "machine.ini")).read()
        if iso not in ini:
            raise Failure(f"machine.ini does not name the ISO:\n{ini}")
        ui.wait_label("Stopped")
        screen.shot("created")
        ok(f"Create made machine '{mid}' with the ISO as its CD-ROM, shown as stopped")

        ui.press("Start")
        control = os.path.join(env["XDG_RUNTIME_DIR"], "nook", mid, "control.sock")

        def status():
            """nook-vmm's own word on the machine's state, "" once it is gone."""
            r = subprocess.run([nookctl, f"--control={control}", "--json", "query-status"],
                               capture_output=True, text=True)
            return json.loads(r.stdout)["state"] if r.returncode == 0 else ""
        wait(lambda: status() == "running", "nook-vmm to report the machine running", 60)
        ui.wait_label("Running")
        text = ""

        def seabios():
            nonlocal text
            shot = screen.shot("running")
            text = screen.text(shot, "^Nook$")
            if "SeaBIOS" in text:
                return shot
            os.unlink(shot)
            screen.n -= 1
            return None
        try:
            wait(seabios, "the view to show SeaBIOS's banner", 120, step=2)
        except Failure:
            raise Failure(f"OCR does not find 'SeaBIOS' in the view; tesseract read:\n{text}")
        ok("Start opened the view, which shows the guest's screen: OCR reads 'SeaBIOS'")

        # A click gives the guest the keyboard; the demo boot sector echoes.
        greeting = wait(lambda: (lambda t: t if "from the Nook demo machine" in t else None)(
            screen.text(screen.shot("greeting"), "^Nook$")), "the demo boot sector's greeting", 60, step=2)
        # tesseract reads this font's V as U or Y now and then.
        if not re.search(r"from D[VUY]D/CD", greeting):
            raise Failure(f"SeaBIOS did not say it booted from the DVD-ROM drive; tesseract read:\n{greeting}")
        ok("SeaBIOS booted the ISO from the DVD-ROM drive: the demo boot sector greets")
        _, nx, ny, nw, nh = window_geometry("^Nook$")
        run("xdotool", "mousemove", str(nx + nw // 2), str(ny + nh * 3 // 4), "click", "1")
        time.sleep(0.5)
        run("xdotool", "type", "--delay", "120", "typed into nook")
        wait(lambda: "typed into nook" in screen.text(screen.shot("typed"), "^Nook$"),
             "the guest to echo the typed text", 30, step=2)
        run("xdotool", "key", "ctrl+alt")
        ok("keys typed into the view reach the guest, which echoes them")

        ui.press("Pause")
        wait(lambda: status() == "paused", "nook-vmm to report the machine paused")
        ui.wait_label("Paused")
        screen.shot("paused")
        ok("Pause: the window shows 'Paused' and nook-vmm is paused")

        ui.press("Back to the Library")
        ui.wait_label("Paused")
        # The library row's own Resume, this time.
        ui.press("Resume")
        wait(lambda: status() == "running", "nook-vmm to report the machine running again")
        ui.wait_label("Running")
        screen.shot("resumed")
        ok("Resume in the library: the row shows 'Running' and nook-vmm runs")
        ui.press("Show")

        ui.press("More Actions")
        ui.press("Power Off")
        # The demo boot sector answers the ACPI power button with S5.
        wait(lambda: not os.path.exists(control) and not status(), "nook-vmm to end after Power Off", 60)
        ui.wait_label("Stopped")
        screen.shot("powered-off")
        ok("Power Off: the guest turned itself off by ACPI and the window shows 'Stopped'")
        if app.poll() is not None:
            raise Failure(f"the app ended with status {app.returncode}")
    except Failure:
        screen.shot("failure")
        if app and ui.app() is not None:
            print("# what the app shows:\n# " + ui.dump().replace("\n", "\n# "))
        raise
    else:
        shutil.rmtree(work, ignore_errors=True)
    finally:
        if src:
            src.kill()
            src.wait()
        if app:
            app.terminate()
            try:
                app.wait(10)
            except subprocess.TimeoutExpired:
                app.kill()
                app.wait()
        app_log.close()
        kill_leftovers(work)


if __name__ == "__main__":
    try:
        main()
    except Failure as e:
        print(f"not ok {len(results) + 1} - {e}")
        print(f"1..{len(results) + 1}")
        sys.exit(1)
    print(f"1..{len(results)}")
