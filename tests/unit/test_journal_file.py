"""The journal file itself: appends after a crash, malformed lines, their repair."""

from __future__ import annotations

import json
import stat
import subprocess
import sys
from pathlib import Path

from osa_core.config import Config
from osa_core.errors import ExitCode
from osa_core.journal import Journal
from osa_core.locking import night_lock
from osa_core.paths import NightPaths
from osa_core.plan import build_plan
from osa_core.snapshot import observe
from osa_core.usecases.tick import tick
from tests.conftest import NIGHT
from tests.helpers.scripted import ScriptedExecutor


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


GARBAGE = b"\x00\xff\xfe garbage from a bad disk\n"


def _corrupt(journal: Journal) -> None:
    """Three good records, a garbage line (2) and a line that is JSON but no record (4)."""
    _submission(journal, "t0", "100")
    with journal.path.open("ab") as handle:
        handle.write(GARBAGE)
    _submission(journal, "t1", "101")
    with journal.path.open("ab") as handle:
        handle.write(b"[1, 2, 3]\n")
    _submission(journal, "t2", "102")


def test_malformed_lines_are_counted_with_their_line_numbers(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "journal.jsonl")
    _corrupt(journal)
    view = journal.read()
    assert [s.job_id for s in view.submissions] == ["100", "101", "102"]
    assert view.malformed == (2, 4)
    assert view.unterminated is None


def _hold_lock_elsewhere(path: Path) -> subprocess.Popen[str]:
    """Another process holding the lock (as a tick writing the journal would)."""
    code = (
        "import sys, time; from pathlib import Path; from osa_core.locking import FileLock;"
        f"lock = FileLock(Path({str(path)!r})); lock.try_acquire() or sys.exit(1);"
        "print('held', flush=True);"
        "time.sleep(60)"
    )
    holder = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    return holder


def test_a_torn_last_line_is_reported_only_when_no_writer_may_be_writing_it(
    config: Config,
) -> None:
    paths = NightPaths(config, NIGHT)
    journal = Journal(paths.journal)
    _submission(journal, "t0", "100")
    with journal.path.open("ab") as handle:
        handle.write(b'{"time":"2020-02-19T08:00:00+00:00","action":"inte')  # no newline
    plan = build_plan(config, NIGHT)
    assert journal.read().unterminated == 2 and journal.read().malformed == ()

    holder = _hold_lock_elsewhere(paths.lock)
    try:  # a lock holder may be writing that line right now: not reported
        assert observe(config, plan, ScriptedExecutor(), settle=False).status.warnings == []
    finally:
        holder.kill()
        holder.wait()
    # the lock is free: nobody is writing it, a crash left it
    warnings = observe(config, plan, ScriptedExecutor(), settle=False).status.warnings
    assert len(warnings) == 1 and str(paths.journal) in warnings[0]
    assert "1 malformed line" in warnings[0] and "line 2" in warnings[0]
    with night_lock(paths.lock):  # held by this very process (a tick): reported as well
        snapshot = observe(config, plan, ScriptedExecutor(), settle=False)
    assert snapshot.status.warnings == warnings


def test_a_tick_with_a_malformed_journal_needs_an_operator(config: Config) -> None:
    paths = NightPaths(config, NIGHT)
    _corrupt(Journal(paths.journal))
    report = tick(config, NIGHT, ScriptedExecutor())
    assert report.exit_code == ExitCode.NEEDS_OPERATOR
    problems = [line for line in report.lines if "PROBLEM" in line]
    assert len(problems) == 1
    assert f"{paths.journal}: 2 malformed lines skipped, first at line 2" in problems[0]
    assert report.to_dict()["journal_problem"]


def test_repair_moves_malformed_lines_aside_and_the_warning_is_gone(config: Config) -> None:
    from osa_core.usecases.night import repair_journal

    paths = NightPaths(config, NIGHT)
    journal = Journal(paths.journal)
    _corrupt(journal)
    with journal.path.open("ab") as handle:
        handle.write(b'{"action":"inte')  # and a torn last line (the lock is free)
    before = journal.read()

    moved = repair_journal(config, NIGHT)
    assert moved == [2, 4, 6]
    view = journal.read()
    assert (view.malformed, view.unterminated) == ((), None)
    assert view.entries[:-1] == before.entries  # every record kept, in order
    assert view.entries[-1]["action"] == "repaired"
    assert view.entries[-1]["count"] == 3 and view.entries[-1]["lines"] == [2, 4, 6]
    aside = [
        json.loads(line) for line in Journal(paths.journal).malformed_path.read_text().splitlines()
    ]
    assert [(a["line"], a["text"]) for a in aside] == [
        (2, "\x00\\xff\\xfe garbage from a bad disk"),
        (4, "[1, 2, 3]"),
        (6, '{"action":"inte'),
    ]
    assert stat.S_IMODE(paths.journal.stat().st_mode) == 0o660
    plan = build_plan(config, NIGHT)
    assert observe(config, plan, ScriptedExecutor(), settle=False).status.warnings == []
    assert repair_journal(config, NIGHT) == []  # nothing more to do
