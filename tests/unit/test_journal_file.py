"""The journal file itself: appends after a crash, malformed lines, their repair."""

from __future__ import annotations

from pathlib import Path

from osa_core.journal import Journal


def _submission(journal: Journal, token: str = "t1", job_id: str = "101") -> None:
    journal.append(
        "submitted", token=token, run=2002, kind="DATA", job_id=job_id, indices=[0, 1], attempt=1
    )


def test_an_append_after_a_torn_line_starts_on_a_fresh_line(tmp_path: Path) -> None:
    """A crash mid-write leaves a line without its newline; the next record must not be
    glued to it (both would be skipped, and a lost submission is submitted twice)."""
    journal = Journal(tmp_path / "journal.jsonl")
    _submission(journal, "t0", "100")
    with journal.path.open("ab") as handle:
        handle.write(b'{"time":"2020-02-19T08:00:00+00:00","action":"inte')  # the crash
    _submission(journal, "t1", "101")
    view = journal.read()
    assert [s.job_id for s in view.submissions] == ["100", "101"]
