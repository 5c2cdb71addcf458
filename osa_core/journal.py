"""The operator journal: an append-only record of every action on a night.

Who, when, what, why, and the job ids. It is the truth about intent (what was submitted,
resubmitted, given up, closed) and what makes a crash recoverable: a submission is written
as an ``intent`` before ``sbatch`` and as ``submitted`` after, both carrying a token that
also goes into the job's comment, so a job submitted just before a crash is found again
instead of being submitted twice.

A line that is not a record (a bad disk, a hand edit) is never taken as one, and is never
silent either: ``JournalView.malformed`` has its line number, the status a warning, a cron
tick exits 3, and ``Journal.repair`` (``osa journal repair``) moves it aside. A last line
without its newline may be a record being written right now: it counts only when no
writer may be writing it (``journal_problem``).
"""

from __future__ import annotations

import datetime as dt
import getpass
import json
import os
import socket
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from osa_core.fsio import (
    append_line,
    atomic_writer,
    json_record,
    scan_json_lines,
    split_lines,
)
from osa_core.locking import FileLock
from osa_core.vocabulary import sorted_job_ids


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:
        return str(os.getuid())


@dataclass(frozen=True)
class Submission:
    """One job (array) we submitted for a run, as recorded in the journal."""

    token: str
    run: int
    kind: str
    job_id: str
    indices: tuple[int, ...] | None
    attempt: int
    time: str
    action: str
    memory: str = ""
    time_limit: str = ""
    dependencies: tuple[str, ...] = ()
    name: str = ""
    config_sha: str = ""  # the frozen configuration the job runs with


@dataclass
class JournalView:
    """The journal parsed once: submissions, pending intents, give-ups, other actions."""

    entries: list[dict[str, Any]] = field(default_factory=list)
    submissions: list[Submission] = field(default_factory=list)
    intents: dict[str, dict[str, Any]] = field(default_factory=dict)
    given_up: dict[tuple[int, int], dict[str, Any]] = field(default_factory=dict)
    closes: list[dict[str, Any]] = field(default_factory=list)
    malformed: tuple[int, ...] = ()  # complete lines that are not a record (line numbers)
    unterminated: int | None = None  # the last line, without newline, not a record (yet?)

    def for_run(self, run: int) -> list[Submission]:
        return [s for s in self.submissions if s.run == run]

    def attempts(self, run: int, index: int | None) -> int:
        return sum(1 for s in self.for_run(run) if s.indices is None or index in s.indices)

    def job_ids(self) -> list[str]:
        return sorted_job_ids(s.job_id for s in self.submissions)

    def of_kind(self, *kinds: str) -> list[Submission]:
        return [s for s in self.submissions if s.kind in kinds]

    def settled(self, entries: list[tuple[str, dict[str, Any]]]) -> JournalView:
        """A copy with these records applied, as if they had been read (pure): what the
        journal will say once they are appended."""
        view = JournalView(
            entries=list(self.entries),
            submissions=list(self.submissions),
            intents=dict(self.intents),
            given_up=dict(self.given_up),
            closes=list(self.closes),
            malformed=self.malformed,
            unterminated=self.unterminated,
        )
        for action, fields in entries:
            view.apply({"action": action, **fields})
        return view

    def apply(self, entry: dict[str, Any]) -> None:
        """Take one journal record into the view; a malformed one never becomes a fact."""
        self.entries.append(entry)
        action = entry.get("action")
        try:
            if action == "intent":
                self.intents[str(entry["token"])] = entry
            elif action in ("submitted", "recovered"):
                self.intents.pop(str(entry["token"]), None)
                self.submissions.append(_submission(entry))
            elif action == "abandoned":
                self.intents.pop(str(entry["token"]), None)
            elif action == "give_up":
                for index in entry.get("indices") or []:
                    self.given_up[(int(entry["run"]), int(index))] = entry
            elif action == "close":
                self.closes.append(entry)
        except (KeyError, TypeError, ValueError):
            return


def _submission(entry: dict[str, Any]) -> Submission:
    indices = entry.get("indices")
    return Submission(
        token=str(entry["token"]),
        run=int(entry["run"]),
        kind=str(entry.get("kind", "DATA")),
        job_id=str(entry["job_id"]),
        indices=None if indices is None else tuple(int(i) for i in indices),
        attempt=int(entry.get("attempt", 1)),
        time=str(entry.get("time", "")),
        action=str(entry.get("purpose", "submit")),
        memory=str(entry.get("memory", "")),
        time_limit=str(entry.get("time_limit", "")),
        dependencies=tuple(entry.get("dependencies") or ()),
        name=str(entry.get("name", "")),
        config_sha=str(entry.get("config_sha", "")),
    )


class Journal:
    def __init__(self, path: Path) -> None:
        self.path = path

    @property
    def malformed_path(self) -> Path:
        """Where ``repair`` moves the lines that are not records: beside the journal."""
        return self.path.with_name(self.path.stem + ".malformed.jsonl")

    def append(self, action: str, **fields: Any) -> dict[str, Any]:
        entry = _entry(action, **fields)
        append_line(self.path, json.dumps(entry, separators=(",", ":"), default=str))
        return entry

    def repair(self) -> list[int]:
        """Move the lines that are not records to ``malformed_path`` (with their line
        numbers) and rewrite the journal without them, atomically, ending with a
        ``repaired`` record. Returns the line numbers moved. The caller holds the lock of
        every writer of this journal, so a last line without newline is a crash's
        leftover, moved too. A crash between the two writes leaves the lines in both files
        (a rerun moves them again): never in neither."""
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return []
        kept: list[bytes] = []
        moved: list[tuple[int, bytes]] = []
        for number, chunk, _complete in split_lines(raw):
            if not chunk.strip():
                continue
            if json_record(chunk) is None:
                moved.append((number, chunk))
            else:
                kept.append(chunk)
        if not moved:
            return []
        numbers = [number for number, _ in moved]
        for number, chunk in moved:
            aside = _entry("malformed", line=number, text=chunk.decode("utf-8", "backslashreplace"))
            append_line(self.malformed_path, json.dumps(aside, separators=(",", ":")))
        repaired = _entry(
            "repaired", count=len(moved), lines=numbers, moved_to=self.malformed_path.name
        )
        with atomic_writer(self.path, "wb") as handle:
            for chunk in kept:
                handle.write(chunk + b"\n")
            handle.write(json.dumps(repaired, separators=(",", ":")).encode() + b"\n")
        return numbers

    @staticmethod
    def new_token() -> str:
        return uuid.uuid4().hex[:12]

    def read(self) -> JournalView:
        lines = scan_json_lines(self.path)
        view = JournalView(malformed=lines.malformed, unterminated=lines.unterminated)
        for _, entry in lines.records:
            view.apply(entry)
        return view


def _entry(action: str, **fields: Any) -> dict[str, Any]:
    return {
        "time": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "user": _user(),
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "action": action,
        **fields,
    }


def journal_problem(
    view: JournalView, path: Path, writer_locks: Sequence[Path], repair: str
) -> str:
    """One line on the journal's lines that are not records, "" when there is none.

    Only lines ended by a newline are complete. A last line without one is counted only
    when no writer may still be writing it: when each of ``writer_locks`` (the locks its
    writers hold while appending) is free, or held by this process, which is not writing
    while it reads. ``repair`` is the command that sets the lines aside."""
    lines = list(view.malformed)
    if view.unterminated is not None and not any(
        FileLock(lock).held_elsewhere() for lock in writer_locks
    ):
        lines.append(view.unterminated)
    if not lines:
        return ""
    if len(lines) == 1:
        where = f"1 malformed line skipped: line {lines[0]}"
    else:
        shown = ", ".join(str(n) for n in lines[:5]) + (", …" if len(lines) > 5 else "")
        where = f"{len(lines)} malformed lines skipped, first at line {lines[0]} ({shown})"
    return f"journal {path}: {where}; `{repair}` sets them aside"
