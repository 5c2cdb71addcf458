"""A journal with a malformed line, through the ``osa`` command: the cron tick needs an
operator and names the line, ``osa journal`` and ``osa status`` show it, ``osa journal
repair`` sets it aside, and the next tick is clean. Real processes on a real night (the
local executor, tests/helpers/fake_tool.py in place of lstchain)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from osa_core.journal import Journal
from osa_core.paths import NightPaths
from tests.conftest import NIGHT, fake_steps
from tests.integration.test_executors import make_night, wait_settled


def osa(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "osa_core.cli.main", "--config", str(config), *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "COLUMNS": "250"},
    )


def test_a_malformed_journal_line_needs_an_operator_until_repaired(tmp_path: Path) -> None:
    config = make_night(tmp_path, fake_steps(), runs=1, subruns=2)
    source = config.source
    first = osa(source, "--batch", "--date", "2020-02-18")
    assert first.returncode == 0, first.stdout + first.stderr
    wait_settled(config)
    journal = NightPaths(config, NIGHT).journal
    with journal.open("ab") as handle:
        handle.write(b'{"action":"submitted","token":"\xff\n')  # a corrupted record
    bad = len(journal.read_bytes().splitlines())

    tick = osa(source, "--batch", "--date", "2020-02-18")
    assert tick.returncode == 3, tick.stdout + tick.stderr
    assert f"PROBLEM journal {journal}: 1 malformed line skipped: line {bad};" in tick.stdout
    shown = osa(source, "journal", "--date", "2020-02-18")
    assert shown.returncode == 0 and f"1 malformed line skipped: line {bad}" in shown.stdout
    status = osa(source, "status", "--date", "2020-02-18")
    assert f"malformed line skipped: line {bad}" in status.stdout

    repaired = osa(source, "journal", "repair", "--date", "2020-02-18")
    assert repaired.returncode == 0, repaired.stdout + repaired.stderr
    assert f"moved 1 malformed line(s) ({bad})" in repaired.stdout
    view = Journal(journal).read()
    assert view.malformed == () and view.entries[-1]["action"] == "repaired"
    aside = Journal(journal).malformed_path.read_text().splitlines()
    assert [json.loads(line)["line"] for line in aside] == [bad]

    clean = osa(source, "--batch", "--date", "2020-02-18")
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "PROBLEM" not in clean.stdout
