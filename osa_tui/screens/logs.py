"""The Logs screen: a subrun's job stdout/stderr and step history, followed as they grow.

Lustre and NFS have no inotify, so the file is polled (once a second) from the last offset
by a watcher thread: only new bytes are read, never on the UI thread (a slow filesystem
must not freeze the console). The screen keeps a bounded window of the newest
``MAX_LINES`` lines (a job that logs for hours must not grow the console without bound).
Search (``/``) jumps between matching lines of that window (``n``/``N``).
"""

from __future__ import annotations

import threading
from collections import deque
from pathlib import Path

from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer, Input, Log, Static

from osa_core.history import read_history
from osa_core.paths import NightPaths

POLL_SECONDS = 1.0
MAX_INITIAL_BYTES = 4 * 1024 * 1024  # a huge log starts at its last 4 MB
MAX_LINES = 20_000  # the window kept in memory and on screen


def log_files(
    paths: NightPaths, run: int, subrun: int, job_id: str, calibration: bool
) -> dict[str, Path]:
    if calibration:
        return {s: paths.calibration_log_file(run, job_id, s) for s in ("out", "err")}
    return {suffix: paths.log_file(run, subrun, job_id, suffix) for suffix in ("out", "err")}


class LogTail:
    """Reads what was appended to a file since the last call: whole lines only, from the
    last offset; a file that shrank (truncated, replaced) starts again."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0
        self.size = 0

    def start(self) -> str:
        """Where reading starts: the last MAX_INITIAL_BYTES of a huge file."""
        self.offset = 0
        try:
            size = self.path.stat().st_size
        except FileNotFoundError:
            return "(no log file yet: the task has not started, or ran elsewhere)"
        if size > MAX_INITIAL_BYTES:
            self.offset = size - MAX_INITIAL_BYTES
            return f"[… {self.offset} earlier bytes not shown …]"
        return ""

    def read_new(self) -> tuple[list[str], bool]:
        """(new whole lines, whether the file was replaced and reading started again)."""
        try:
            size = self.path.stat().st_size
        except FileNotFoundError:
            return [], False
        self.size = size
        restarted = size < self.offset
        if restarted:
            self.offset = 0
        if size <= self.offset:
            return [], restarted
        with open(self.path, "rb") as handle:
            handle.seek(self.offset)
            data = handle.read(size - self.offset)
        cut = data.rfind(b"\n") + 1  # only whole lines; the rest comes next time
        if not cut:
            return [], restarted
        self.offset += cut
        return data[:cut].decode("utf-8", errors="replace").splitlines(), restarted


class LogsScreen(Screen):
    BINDINGS = [
        Binding("escape", "app.back", "Back", id="back"),
        Binding("o", "show('out')", "stdout", id="stdout"),
        Binding("e", "show('err')", "stderr", id="stderr"),
        Binding("slash", "search", "Search", id="search"),
        Binding("n", "next_match(1)", "Next match", id="next_match"),
        Binding("N", "next_match(-1)", "Prev match", show=False, id="prev_match"),
        Binding("G", "follow", "Follow", id="follow"),
    ]
    DEFAULT_CSS = """
    LogsScreen #log-title { height: auto; padding: 0 1; background: $panel; }
    LogsScreen Log { height: 1fr; }
    LogsScreen #search { dock: bottom; display: none; }
    LogsScreen #search.visible { display: block; }
    """

    def __init__(
        self, paths: NightPaths, run: int, subrun: int, job_id: str, calibration: bool = False
    ) -> None:
        super().__init__()
        self.paths = paths
        self.run, self.subrun, self.job_id = run, subrun, job_id
        self.files = log_files(paths, run, subrun, job_id, calibration)
        self.history_path = paths.history_file(run, subrun)
        self.which = "out"
        self.tail = LogTail(self.files["out"])
        self.lines: deque[str] = deque(maxlen=MAX_LINES)
        self.matches: list[int] = []
        self.match_index = -1
        self.search_text = ""

    def compose(self) -> ComposeResult:
        yield Static("", id="log-title", markup=False)
        yield Log(id="log", highlight=False, auto_scroll=True, max_lines=MAX_LINES)
        yield Input(placeholder="search text, enter to find", id="search")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.stopped = threading.Event()
        self.load()
        self.watcher = threading.Thread(target=self._watch, name="log-watcher", daemon=True)
        self.watcher.start()
        self.query_one(Log).focus()

    def on_unmount(self) -> None:
        self.stopped.set()

    def _watch(self) -> None:
        """The watcher thread: reads new lines and hands them to the UI thread."""
        while not self.stopped.wait(POLL_SECONDS):
            tail = self.tail
            try:
                lines, restarted = tail.read_new()
                if restarted:
                    self.app.call_from_thread(self.load)
                elif lines:
                    self.app.call_from_thread(self._append, tail, lines)
                else:
                    self.app.call_from_thread(self._retitle)
            except RuntimeError:  # the app is shutting down
                return
            except OSError as err:  # the filesystem failed: say so, keep watching
                message = f"cannot read {tail.path}: {err.strerror}"
                try:
                    self.app.call_from_thread(self.notify, message, severity="warning")
                except RuntimeError:
                    return

    def _append(self, tail: LogTail, lines: list[str]) -> None:
        if tail is not self.tail:  # the reader switched file meanwhile
            return
        self.lines.extend(lines)
        self.query_one(Log).write_lines(lines)
        self._retitle()

    def _retitle(self) -> None:
        self.query_one("#log-title", Static).update(self.title_text())

    def title_text(self) -> str:
        path = self.files[self.which]
        size = self.tail.size
        search = (
            f" · search {self.search_text!r}: {len(self.matches)} match(es)"
            if self.search_text
            else ""
        )
        return (
            f"Run {self.run:05d} subrun {self.subrun:04d} · job {self.job_id or '-'} · "
            f"{'stdout' if self.which == 'out' else 'stderr'} {path} ({size} bytes){search}"
            "\n[o] stdout  [e] stderr  [/] search  [n/N] next/prev  [G] follow"
        )

    def history_lines(self) -> list[str]:
        lines = []
        for record in read_history(self.history_path):
            start = record.start[11:19]
            peak = f" peak {record.peak_rss / 2**30:.2f} GB" if record.peak_rss else ""
            note = f" ({record.note})" if record.note else ""
            lines.append(f"[history] {start} {record.step} rc={record.rc}{peak}{note}")
        return lines or ["[history] no step recorded yet"]

    def load(self) -> None:
        """Start over on the current file: the history, then the file's last lines (read
        here once; the watcher thread reads what is appended)."""
        log = self.query_one(Log)
        log.clear()
        self.tail = LogTail(self.files[self.which])
        self.lines.clear()
        self.lines.extend([*self.history_lines(), f"----- {self.files[self.which].name} -----"])
        note = self.tail.start()
        if note:
            self.lines.append(note)
        first, _ = self.tail.read_new()
        self.lines.extend(first)
        log.write_lines(list(self.lines))
        self._retitle()

    def action_show(self, which: str) -> None:
        self.which = which
        self.load()

    def action_search(self) -> None:
        box = self.query_one("#search", Input)
        box.add_class("visible")
        box.focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.search_text = event.value.strip()
        event.input.remove_class("visible")
        needle = self.search_text.lower()
        self.matches = [i for i, line in enumerate(self.lines) if needle and needle in line.lower()]
        self.match_index = -1
        log = self.query_one(Log)
        log.focus()
        if self.matches:
            self.action_next_match(1)
        elif needle:
            self.notify(f"no match for {self.search_text!r}", timeout=3)
        self.query_one("#log-title", Static).update(self.title_text())

    def action_next_match(self, direction: int) -> None:
        if not self.matches:
            return
        self.match_index = (self.match_index + direction) % len(self.matches)
        line = self.matches[self.match_index]
        log = self.query_one(Log)
        log.auto_scroll = False
        log.scroll_to(y=max(0, line - 3), animate=False)
        self.notify(
            f"match {self.match_index + 1}/{len(self.matches)} at line {line + 1}: "
            f"{self.lines[line][:80]}",
            timeout=3,
        )

    def action_follow(self) -> None:
        log = self.query_one(Log)
        log.auto_scroll = True
        log.scroll_end(animate=False)
