"""The operator journal: an append-only record of every action on a night.

Who, when, what, why, and the job ids. It is the truth about intent (what was submitted,
resubmitted, given up, closed) and what makes a crash recoverable: a submission is written
as an ``intent`` before ``sbatch`` and as ``submitted`` after, both carrying a token that
also goes into the job's comment, so a job submitted just before a crash is found again
instead of being submitted twice.
"""

from __future__ import annotations

import datetime as dt
import getpass
import json
import os
import socket
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from osa_core.fsio import append_line, read_json_lines
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

    def append(self, action: str, **fields: Any) -> dict[str, Any]:
        entry = {
            "time": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "user": _user(),
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "action": action,
            **fields,
        }
        append_line(self.path, json.dumps(entry, separators=(",", ":"), default=str))
        return entry

    @staticmethod
    def new_token() -> str:
        return uuid.uuid4().hex[:12]

    def read(self) -> JournalView:
        view = JournalView()
        for entry in read_json_lines(self.path):
            view.apply(entry)
        return view
