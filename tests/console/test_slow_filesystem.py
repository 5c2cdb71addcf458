"""The console on a slow shared filesystem (Lustre at 5 a.m.): it stays responsive to keys
and says what it waits for, while reading the night's files takes seconds.

The latency is injected from outside, into a real process: the real ``osa console`` runs in
a pseudo-terminal under ``strace``, which delays every open and stat (``openat``,
``newfstatat``, ``statx``: the metadata operations a loaded Lustre is slow at) of the
night's paths a refresh reads: its state folder, journal, plan, RunSummary, task and history
caches, history folder. ``-P`` limits the injection to those paths: Python's own imports and
the terminal are not slowed. The test reads the screen as the terminal receives it and
presses keys as a shifter would; it never looks inside the process.

Before the fix the header said a bare "loading…" for the whole first refresh and, later,
"data N s old" while the next one read, and quitting during a read left the terminal
waiting for the read to finish (the interpreter joins the worker threads at exit).
"""

from __future__ import annotations

import codecs
import fcntl
import os
import pty
import re
import shutil
import struct
import subprocess
import sys
import termios
import threading
import time
from pathlib import Path
from typing import NoReturn

import pytest

from osa_core.config import load_config
from osa_core.generator import NightSpec, generate_night
from osa_core.paths import NightPaths
from tests.conftest import NIGHT, write_config

pytestmark = [pytest.mark.console, pytest.mark.timeout(120)]

DELAY_S = 0.4  # per open or stat of one of the night's paths: ~16 of them per refresh
SYSCALLS = "openat,newfstatat,statx"
COLUMNS, LINES = 160, 40
ROOT = Path(__file__).resolve().parents[2]

# escape sequences a terminal interprets: removed, what is left is the text shown
ESCAPES = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"  # CSI: cursor moves, colours, modes
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)"  # OSC: title, colours
    r"|\x1bP[^\x1b]*\x1b\\"  # DCS
    r"|\x1b[@-Z\\-_=>78]"  # two-byte escapes
)


class PtyConsole:
    """A command in a pseudo-terminal: what it has drawn (as text), keys sent to it."""

    def __init__(self, command: list[str], env: dict[str, str], cwd: Path) -> None:
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", LINES, COLUMNS, 0, 0))
        self.process = subprocess.Popen(
            command,
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=env,
            cwd=cwd,
            start_new_session=True,
        )
        os.close(slave)
        self.master = master
        self.text = ""
        self.lock = threading.Lock()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        raw = ""
        while True:
            try:
                chunk = os.read(self.master, 65536)
            except OSError:  # the process is gone: EIO on the master
                return
            if not chunk:
                return
            raw += decoder.decode(chunk)
            cut = raw.rfind("\x1b")  # keep an escape sequence cut in two for the next chunk
            keep = raw[cut:] if cut >= 0 and len(raw) - cut < 64 else ""
            done = raw[: len(raw) - len(keep)]
            raw = keep
            with self.lock:
                self.text += ESCAPES.sub("", done)

    def mark(self) -> int:
        """Where the screen's text is now: ``wait_for`` from here sees only what comes after."""
        with self.lock:
            return len(self.text)

    def wait_for(self, pattern: str, since: int = 0, timeout: float = 10.0) -> re.Match[str]:
        """The first match of ``pattern`` drawn after ``since``, waiting at most ``timeout``."""
        deadline = time.monotonic() + timeout
        compiled = re.compile(pattern)
        while True:
            with self.lock:
                found = compiled.search(self.text, since)
                tail = self.text[-600:]
            if found:
                return found
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise AssertionError(
                    f"{pattern!r} not drawn within {timeout} s (exit code "
                    f"{self.process.poll()}); the screen's last text: {tail!r}"
                )
            time.sleep(0.05)

    def press(self, keys: bytes) -> None:
        os.write(self.master, keys)

    def close(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, 9)
            self.process.wait(10)
        os.close(self.master)


def slow_paths(paths: NightPaths) -> list[Path]:
    """The night's paths a refresh opens or stats (found with ``strace -e trace=...``)."""
    state = paths.state_dir
    return [
        state,  # stat'd ~16 times a refresh: every path built under it is checked
        paths.journal,
        paths.plan_cache,
        paths.run_summary,
        state / "task-cache.json",
        state / "history-cache.json",
        paths.history_dir,
    ]


def cannot(message: str) -> NoReturn:
    """Skip, except under OSA_REQUIRE_STRACE=1 (CI, ``.ci/run``), where it is a failure."""
    if os.environ.get("OSA_REQUIRE_STRACE") == "1":
        pytest.fail(f"OSA_REQUIRE_STRACE=1 but {message}")
    pytest.skip(message)


@pytest.fixture
def strace() -> str:
    found = shutil.which("strace")
    if found is None:
        cannot("strace is missing (scripts/install-system-deps installs it)")
    probe = subprocess.run([found, "-qq", "-o", "/dev/null", "true"], capture_output=True)
    if probe.returncode != 0:  # e.g. a container that forbids ptrace
        cannot(f"strace cannot trace here: {probe.stderr.decode().strip()}")
    return found


def test_the_console_stays_responsive_and_says_what_it_reads(tmp_path: Path, strace: str) -> None:
    base = tmp_path / "night"
    generate_night(base, NightSpec(night=NIGHT, data_runs=2, subruns=3))
    config_file = write_config(base, "[console]\nrefresh_seconds = 2.0\n")
    paths = NightPaths(load_config(config_file), NIGHT)
    delay = ["-e", f"trace={SYSCALLS}", "-e", f"inject={SYSCALLS}:delay_enter={DELAY_S * 1e6:.0f}"]
    command = [strace, "-f", "-qq", "--seccomp-bpf", "-o", "/dev/null", *delay]
    for path in slow_paths(paths):
        command += ["-P", str(path)]
    command += [sys.executable, "-m", "osa_core.cli.main", "--config", str(config_file)]
    command += ["console", "--date", NIGHT.isoformat()]
    env = {
        **os.environ,
        "TERM": "xterm-256color",
        "COLUMNS": str(COLUMNS),
        "LINES": str(LINES),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    console = PtyConsole(command, env, tmp_path)
    reading = re.escape(f"reading the night's files on {base}") + r"… (\d+) s"
    loaded = r"2 runs · 0/6 subruns done"
    try:
        started = time.monotonic()
        # (b) the first refresh is slow: the header says what it reads, and for how long
        first = console.wait_for(reading, timeout=20)
        said_after = time.monotonic() - started
        later = console.wait_for(reading, since=first.end(), timeout=5)
        while int(later.group(1)) <= int(first.group(1)):  # the seconds go on
            later = console.wait_for(reading, since=later.end(), timeout=5)
        # (a) keys meanwhile: the help opens, closes, the cursor moves
        mark = console.mark()
        pressed = time.monotonic()
        console.press(b"?")
        console.wait_for(r"Command palette \(every action, themes\)", since=mark, timeout=5)
        help_after = time.monotonic() - pressed
        console.press(b"\x1b")
        console.wait_for(reading, since=console.mark(), timeout=5)
        with console.lock:
            assert "subruns done" not in console.text, "the read was over before the keys"
        # the night shows once read
        console.wait_for(loaded, timeout=40)
        refresh_took = time.monotonic() - started
        # quitting 1 or 2 s into a slow refresh (~6 s): the console is gone at once, not
        # when the read ends (strace holds the exit until the delayed call in flight returns)
        console.wait_for(reading.replace(r"(\d+)", "[12]"), since=console.mark(), timeout=20)
        pressed = time.monotonic()
        console.press(b"q")
        console.process.wait(timeout=30)
        quit_after = time.monotonic() - pressed
    finally:
        console.close()
    print(
        f"injected {DELAY_S} s per call on {len(slow_paths(paths))} paths: said what it reads "
        f"after {said_after:.1f} s, first refresh shown after {refresh_took:.1f} s, help "
        f"opened {help_after:.2f} s after '?', quit {quit_after:.2f} s after 'q'"
    )
    assert help_after < 2, f"the help took {help_after:.1f} s to open during a slow read"
    assert quit_after < 2.5, f"'q' during a slow read took {quit_after:.1f} s to quit"
