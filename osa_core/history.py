"""A subrun's step history: JSON lines, one record per step attempt, append-only.

Written by the job payload (one ``write`` per record on an O_APPEND descriptor, so a
record is whole or absent), read by status, resubmission and provenance. This replaces
lstosa's shared ``.history`` text files and screen-scraped tables with structured data.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from osa_core.fsio import append_line, read_json_lines

FIELDS = ("run", "subrun", "step", "prod_id", "start", "end", "rc")
#: The note of a failure the run goes on without (the tail-cut finder that cannot decide):
#: recorded with rc 0, so the step counts as done, and the note says why.
TOLERATED = "tolerated"


@dataclass(frozen=True)
class StepRecord:
    """One attempt of one step on one subrun."""

    run: int
    subrun: int
    step: str
    prod_id: str
    start: str
    end: str
    rc: int
    inputs: list[str] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)
    config: str | None = None
    command: list[str] = field(default_factory=list)
    peak_rss: int | None = None
    cpu: float | None = None
    host: str = ""
    job_id: str = ""
    tool_version: str = ""
    mode: str = ""
    note: str = ""

    def to_json(self) -> str:
        import json

        return json.dumps(asdict(self), separators=(",", ":"), default=str)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StepRecord | None:
        """A record from a parsed line, or None when it is not one of ours."""
        if not all(key in data for key in FIELDS):
            return None
        known = {f for f in cls.__dataclass_fields__}
        try:
            record = cls(**{k: v for k, v in data.items() if k in known})
        except TypeError:
            return None
        if not isinstance(record.rc, int) or not isinstance(record.step, str):
            return None
        return record


def append_record(path: Path, record: StepRecord) -> None:
    append_line(path, record.to_json())


def read_history(path: Path) -> list[StepRecord]:
    """Records in order; torn or foreign lines are skipped, never trusted."""
    records = []
    for data in read_json_lines(path):
        record = StepRecord.from_dict(data)
        if record is not None:
            records.append(record)
    return records


@dataclass(frozen=True)
class HistorySummary:
    """What the history says about a subrun: done steps, and the last failure if any."""

    done: frozenset[str]
    failed_step: str | None
    failed_rc: int | None
    failures: tuple[tuple[str, int], ...]
    attempts: int
    last_note: str = ""
    step_notes: tuple[tuple[str, str], ...] = ()  # the latest note of each step

    @property
    def last_note_of(self) -> dict[str, str]:
        return dict(self.step_notes)

    @property
    def last_failure(self) -> tuple[str, int] | None:
        return self.failures[-1] if self.failures else None


def summarize(records: list[StepRecord]) -> HistorySummary:
    """The latest outcome per step decides: a success after a failure clears it."""
    latest: dict[str, StepRecord] = {}
    failures: list[tuple[str, int]] = []
    for record in records:
        latest[record.step] = record
        if record.rc != 0:
            failures.append((record.step, record.rc))
    done = frozenset(step for step, record in latest.items() if record.rc == 0)
    failed = [r for r in latest.values() if r.rc != 0]
    failed_step = failed[-1].step if failed else None
    failed_rc = failed[-1].rc if failed else None
    return HistorySummary(
        done=done,
        failed_step=failed_step,
        failed_rc=failed_rc,
        failures=tuple(failures),
        attempts=len(records),
        last_note=records[-1].note if records else "",
        step_notes=tuple((step, record.note) for step, record in latest.items()),
    )
