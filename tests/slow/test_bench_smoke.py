"""The benchmark harness works: ``bench/run.py --quick --only planning`` end to end.

A smoke test, not a measurement: it runs our side of the planning benchmark on generated
nights (no lstosa in --quick) and checks the JSON it writes, so a broken harness is caught
before a full ``make bench``. It must not rewrite docs/performance.md.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]


def run_quick(bench: str, tmp_path: Path) -> tuple[subprocess.CompletedProcess[str], dict]:
    """``bench/run.py --quick --only BENCH`` as a user runs it; its JSON results."""
    out = tmp_path / "bench.json"
    proc = subprocess.run(
        [
            sys.executable,
            str(REPO / "bench" / "run.py"),
            *("--quick", "--only", bench, "--json", str(out)),
            *("--scratch", str(tmp_path / "scratch")),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    return proc, json.loads(out.read_text())


def test_bench_quick_planning(tmp_path: Path) -> None:
    docs = REPO / "docs" / "performance.md"
    before = docs.stat().st_mtime_ns if docs.exists() else None
    proc, data = run_quick("planning", tmp_path)
    assert data["quick"] is True
    assert data["machine"]["cores"] >= 1
    rows = {row["name"]: row for row in data["rows"]}
    assert all(row["bench"] == "planning" for row in rows.values())
    assert not [row for row in rows.values() if row["ours_text"] == "ERROR"]
    cold = rows["plan cold, 40×200 (8,000 subruns)"]
    warm = rows["repeated tick, unchanged night, 40×200 (8,000 subruns)"]
    assert warm["ours"]["median"] > 0
    assert cold["ours"]["median"] > 0
    assert "skipped" in cold["reference_text"]  # --quick runs without lstosa, and says so
    assert rows["peak RSS of a cold plan, 5×50 (250 subruns)"]["ours"]["unit"] == "MB"
    assert "planning" in proc.stdout  # the rich table was printed
    after = docs.stat().st_mtime_ns if docs.exists() else None
    assert after == before, "--quick must not rewrite docs/performance.md"


def test_bench_quick_campaign(tmp_path: Path) -> None:
    """The campaign row (a few seconds): its worker's own checks (the cold pass stops at the
    pending cap, no night skipped for lack of data) hold, and every row has its figure."""
    _, data = run_quick("campaign", tmp_path)
    rows = {row["name"]: row for row in data["rows"]}
    assert all(row["bench"] == "campaign" and row["ours_text"] != "ERROR" for row in rows.values())
    assert rows["status of 1,000 nights: fresh (all waiting)"]["ours"]["median"] > 0
    memory = rows["peak RSS (VmHWM): 100-night steps / 1,000-night steps / late status"]
    assert memory["ours_text"].endswith(" MB") and memory["met"] is not None
