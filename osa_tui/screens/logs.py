"""The Logs screen: a subrun's job stdout/stderr and step history, followed as they grow.

Lustre and NFS have no inotify, so the file is polled (once a second) from the last offset;
only new bytes are read. Search (``/``) jumps between matching lines (``n``/``N``).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer, Input, Log, Static

from osa_core.history import read_history
from osa_core.paths import NightPaths, run_tag

POLL_SECONDS = 1.0
MAX_INITIAL_BYTES = 4 * 1024 * 1024  # a huge log starts at its last 4 MB


def log_files(
    paths: NightPaths, run: int, subrun: int, job_id: str, calibration: bool
) -> dict[str, Path]:
    if calibration:
        stem = f"calibration_{run_tag(run)}_{job_id}"
        return {"out": paths.log_dir / f"{stem}.out", "err": paths.log_dir / f"{stem}.err"}
    return {suffix: paths.log_file(run, subrun, job_id, suffix) for suffix in ("out", "err")}


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
        self.read_offset = 0
        self.lines: list[str] = []
        self.matches: list[int] = []
        self.match_index = -1
        self.search_text = ""

    def compose(self) -> ComposeResult:
        yield Static("", id="log-title", markup=False)
        yield Log(id="log", highlight=False, auto_scroll=True)
        yield Input(placeholder="search text, enter to find", id="search")
        yield Footer()

    def on_mount(self) -> None:
        self.load()
        self.set_interval(POLL_SECONDS, self.poll)
        self.query_one(Log).focus()

    def title_text(self) -> str:
        path = self.files[self.which]
        size = path.stat().st_size if path.exists() else 0
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
        log = self.query_one(Log)
        log.clear()
        self.lines = [*self.history_lines(), f"----- {self.files[self.which].name} -----"]
        log.write_lines(self.lines)
        self.read_offset = 0
        path = self.files[self.which]
        if path.exists():
            size = path.stat().st_size
            if size > MAX_INITIAL_BYTES:
                self.read_offset = size - MAX_INITIAL_BYTES
                log.write_line(f"[… {self.read_offset} earlier bytes not shown …]")
        else:
            log.write_line("(no log file yet: the task has not started, or ran elsewhere)")
        self.poll()

    def poll(self) -> None:
        path = self.files[self.which]
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            self.query_one("#log-title", Static).update(self.title_text())
            return
        if size < self.read_offset:  # truncated or replaced: start again
            self.load()
            return
        if size > self.read_offset:
            with open(path, "rb") as handle:
                handle.seek(self.read_offset)
                data = handle.read(size - self.read_offset)
            cut = data.rfind(b"\n") + 1  # only whole lines; the rest comes next poll
            if cut:
                new = data[:cut].decode("utf-8", errors="replace").splitlines()
                self.lines.extend(new)
                self.query_one(Log).write_lines(new)
                self.read_offset += cut
        self.query_one("#log-title", Static).update(self.title_text())

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


def now() -> str:
    return dt.datetime.now().strftime("%H:%M:%S")
