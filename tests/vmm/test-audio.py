#!/usr/bin/env python3
"""nook-vmm's sound card and audio backends as a user meets them (SeaBIOS
guest, no guest driver): --sound and --audio, including the configuration
errors; query-status's audio member and the host's mute (control command
and nookctl); and PulseAudio: without a server nook-vmm starts with one
warning, and it connects when a server appears later (a real pulseaudio
daemon with a null sink, on a private socket)."""
import os
import shutil
import subprocess
import sys
import time

import nooktest
from nooktest import check


def config_error(vmm, args, says, env=None):
    p = subprocess.run([vmm, "--control", "none", "--serial", "none"] + args,
                       capture_output=True, text=True, timeout=nooktest.scaled(20), env=env)
    lines = p.stderr.strip().splitlines()
    check(p.returncode == 2 and len(lines) == 1 and says in lines[0],
          f"{' '.join(args)}: status 2 and one line saying '{says}' (got {p.returncode}: {p.stderr.strip()!r})")


def start(vmm, tmp, name, args, env=None):
    sock = os.path.join(tmp, name + ".sock")
    proc = subprocess.Popen([vmm, "--control", sock, "--serial", "none", "--name", name,
                             "--memory", "64M"] + args,
                            stdin=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)
    return proc, nooktest.Control(sock)


def stop(proc, c):
    try:
        c.execute("quit")
        proc.wait(timeout=nooktest.scaled(10))
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return proc.stderr.read()


def start_pulse(tmp):
    """A PulseAudio daemon with a null sink on a private socket; the socket's
    path and the process."""
    home = os.path.join(tmp, "pulse-home")
    os.makedirs(home, exist_ok=True)
    sock = os.path.join(tmp, "pulse.sock")
    env = dict(os.environ, HOME=home, XDG_RUNTIME_DIR=home)
    env.pop("PULSE_SERVER", None)
    p = subprocess.Popen(["pulseaudio", "-n", "--daemonize=no", "--exit-idle-time=-1",
                          "--disallow-exit", "--use-pid-file=no", "--system=false",
                          f"--load=module-native-protocol-unix socket={sock} auth-anonymous=1",
                          "--load=module-null-sink sink_name=nook_test"],
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=open(os.path.join(tmp, "pulse.log"), "w"), env=env)
    deadline = time.time() + nooktest.scaled(10)
    while time.time() < deadline and not os.path.exists(sock):
        time.sleep(0.1)
    check(os.path.exists(sock), "a PulseAudio daemon for the test is up")
    return sock, p


def main():
    vmm, nookctl = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    guests = os.path.abspath(sys.argv[3])
    nooktest.need_kvm()
    tmp = nooktest.tmpdir()

    config_error(vmm, ["--sound", "sb16"], "--sound sb16: expected hda or none")
    config_error(vmm, ["--audio", "alsa"], "--audio alsa: expected pulse, spice")
    config_error(vmm, ["--audio", "spice"], "--audio spice needs --display spice")
    config_error(vmm, ["--sound", "none", "--audio", "none"], "--audio needs a sound card")
    config_error(vmm, ["--audio", "wav:/nonexistent-dir/out.wav"], "cannot write '/nonexistent-dir/out.wav'")
    config_error(vmm, ["--audio", "wav:" + os.path.join(tmp, "o.wav") + ",in=/nonexistent.wav"],
                 "cannot open '/nonexistent.wav'")
    with open(os.path.join(tmp, "text.wav"), "w") as f:
        f.write("not a wave file\n")
    config_error(vmm, ["--audio", "wav:" + os.path.join(tmp, "o.wav") + ",in=" + os.path.join(tmp, "text.wav")],
                 "is not a RIFF WAVE file")

    # The wav backend: the card is there, nothing plays yet, mute holds.
    out = os.path.join(tmp, "out.wav")
    proc, c = start(vmm, tmp, "snd-wav", ["--audio", "wav:" + out])
    a = c.execute("query-status")["return"]["audio"]
    check(a["card"] == "hda" and a["backend"] == "wav" and a["connected"] is True
          and a["playing"] is False and a["recording"] is False and a["muted"] is False,
          f"query-status reports the sound card and its wav backend: {a}")
    check(c.execute("set-audio-mute", {"mute": True}) == {"return": {}}, "set-audio-mute mutes")
    check(c.execute("query-status")["return"]["audio"]["muted"] is True, "query-status says muted")
    r = c.execute("set-audio-mute", {"mute": "yes"})
    check(r.get("error", {}).get("class") == "InvalidArgument", f"mute must be a boolean: {r}")
    sock = os.path.join(tmp, "snd-wav.sock")
    p = subprocess.run([nookctl, "--control", sock, "unmute"], capture_output=True, text=True)
    check(p.returncode == 0, f"nookctl unmute: {p.stderr.strip()}")
    check(c.execute("query-status")["return"]["audio"]["muted"] is False, "nookctl unmute reached nook-vmm")
    err = stop(proc, c)
    check(os.path.exists(out), "the wav backend made its file")
    check("warn" not in err.lower(), f"no warning with a wav backend: {err!r}")

    # Without a sound card there is no audio member and no mute.
    proc, c = start(vmm, tmp, "snd-none", ["--sound", "none"])
    check(c.execute("query-status")["return"]["audio"] is None, "--sound none: audio is null")
    r = c.execute("set-audio-mute", {"mute": True})
    check(r.get("error", {}).get("class") == "WrongState", f"no mute without a sound card: {r}")
    stop(proc, c)

    # PulseAudio: no server at first, then one.
    if not shutil.which("pulseaudio"):
        print("SKIP: pulseaudio is not installed (tests/setup-debian.sh test)")
        sys.exit(77)
    pa_sock = os.path.join(tmp, "pulse.sock")
    env = dict(os.environ, PULSE_SERVER="unix:" + pa_sock)
    proc, c = start(vmm, tmp, "snd-pa", ["--audio", "pulse"], env=env)
    a = c.execute("query-status")["return"]["audio"]
    check(a["backend"] == "pulse" and a["connected"] is False,
          f"--audio pulse without a server: the VM runs, not connected: {a}")
    check(c.execute("query-status")["return"]["state"] == "running", "the VM runs without a sound server")
    _, daemon = start_pulse(tmp)
    try:
        deadline = time.time() + nooktest.scaled(15)
        while time.time() < deadline:
            a = c.execute("query-status")["return"]["audio"]
            if a["connected"]:
                break
            time.sleep(0.3)
        check(a["connected"] is True, f"nook-vmm connects once a server answers: {a}")
        err = stop(proc, c)
        warnings = [l for l in err.splitlines() if "PulseAudio" in l]
        check(len(warnings) == 1 and "no PulseAudio server answers" in warnings[0],
              f"one warning for the missing server, none for its retries: {warnings}")

        # A server that goes away while the guest plays: the guest plays on
        # (its stream keeps its pace), and sound resumes once a server is
        # back on the same socket.
        hda = os.path.join(guests, "hda.elf")
        sock = os.path.join(tmp, "snd-pa2.sock")
        proc = subprocess.Popen([vmm, "--kernel", hda, "--append", "play=15", "--sound", "hda",
                                 "--audio", "pulse", "--serial", "stdio", "--control", sock,
                                 "--memory", "64M"], stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        try:
            c = nooktest.Control(sock)
            for line in proc.stdout:
                if line.startswith("playing"):
                    break
            time.sleep(1)
            a = c.execute("query-status")["return"]["audio"]
            check(a["playing"] and a["connected"] and a["frames-played"] > 0,
                  f"the guest plays into PulseAudio: {a}")
            daemon.terminate()
            daemon.wait()
            time.sleep(1.5)
            a = c.execute("query-status")["return"]["audio"]
            check(a["playing"] and not a["connected"],
                  f"the server went away: the guest still plays, not connected: {a}")
            _, daemon = start_pulse(tmp)
            deadline = time.time() + nooktest.scaled(8)
            while time.time() < deadline:
                a = c.execute("query-status")["return"]["audio"]
                if a["connected"]:
                    break
                time.sleep(0.2)
            # A new null sink takes its first samples only after its first
            # block, up to 2 s: the stream moves again within a few.
            played = a["frames-played"]
            deadline = time.time() + nooktest.scaled(6)
            while time.time() < deadline:
                a = c.execute("query-status")["return"]["audio"]
                if a["frames-played"] > played + 48000:
                    break
                time.sleep(0.2)
            check(a["connected"] and a["playing"] and a["frames-played"] > played + 48000,
                  f"sound resumes once the server is back: {a} (had played {played})")
            out = proc.stdout.read()
            proc.wait(timeout=nooktest.scaled(60))
            check(proc.returncode == 1 and "PASS" in out,
                  f"the guest played to its end through it all (status {proc.returncode})")
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()

        # The default backend picks PulseAudio when a server answers.
        proc, c = start(vmm, tmp, "snd-default", [], env=env)
        a = c.execute("query-status")["return"]["audio"]
        check(a["backend"] == "pulse" and a["connected"] is True, f"default with a server: pulse: {a}")
        stop(proc, c)
    finally:
        daemon.terminate()
        daemon.wait()

    # ... and none when no server answers: a guest that does not play hears
    # nothing of it; one that plays gets one warning saying why.
    proc, c = start(vmm, tmp, "snd-default2", [], env=env)
    a = c.execute("query-status")["return"]["audio"]
    check(a["backend"] == "none", f"default without a server: none: {a}")
    err = stop(proc, c)
    check(err.strip() == "", f"no warning while the guest plays nothing: {err!r}")
    hda = os.path.join(guests, "hda.elf")
    p = subprocess.run([vmm, "--kernel", hda, "--sound", "hda", "--serial", "stdio", "--control", "none",
                        "--memory", "64M"], capture_output=True, text=True,
                       timeout=nooktest.scaled(60), env=env)
    warnings = [l for l in p.stderr.splitlines() if "sound" in l.lower() or "pulse" in l.lower()]
    check(p.returncode == 1 and "PASS" in p.stdout, f"the hda guest plays (status {p.returncode})")
    check(len(warnings) == 1 and "no PulseAudio server answers" in warnings[0],
          f"one warning says why the guest's sound goes nowhere: {warnings}")

nooktest.run_main(main)
