"""Live processing: latency from a subrun's files complete to its data check, and the cost
of ticking a quiet night.

Why: the onsite analysis runs the next morning; a problem the DL1 data check shows is
found twelve hours after it could have been fixed (issue 15). With ``osa live`` a subrun's
data check should follow its files within seconds.

What:

- *latency*: the DAQ simulator (``osa_core.demo.daq``) writes a night (DRS4, PEDCALIB, 2
  DATA runs × 4 subruns, placeholder R0) at a pace of ``PACE`` s per subrun while
  ``osa live`` (a subprocess, as on site) ticks on file events. The tools are the tests'
  fake tools (``tests/helpers/fake_tool.py``); the workflow is ``fixed`` (one job per
  subrun: DL1a, DL1b, data check), so the subrun's own chain is what is timed — the
  per-run workflow's DL1b waits by design for its run to end. For every DATA subrun:
  latency = the end of its ``datacheck`` history record (what the status shows at its next
  read) − the moment its files were complete − the run time of its own steps (their
  history records). "Complete" is the moment the ready rule was satisfied: the next
  subrun's first stream landed, or its run's RunSummary row for a run's last subrun
  (docs/arrival.md; the rule itself costs one subrun period, reported apart). Local
  executor and local SLURM (when up).
- *quiet night*: ``osa live`` on a night with nothing changing for ``QUIET_S`` s with
  ``live_poll_seconds = QUIET_POLL``: ticks in the window (→ per hour at that poll) and
  the median cost of a tick (from its summary line).
- lstosa: not run; it has no live mode (its sequencer runs from cron the next morning).
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from common import NIGHT, Context, Row, Stat, fmt, limit_row, osa_command, our_env, slurm_up

NAME = "live"
TITLE = "Live processing: a subrun's data check after its files, and a quiet night's ticks"
DESCRIPTION = """\
**Latency while observing** — `osa demo`'s DAQ simulator writes a night (DRS4, PEDCALIB, 2
DATA runs × 4 subruns, placeholder R0) at 2 s per subrun while `osa live` ticks on file
events; fake tools, `fixed` workflow (the subrun's own chain). Per DATA subrun: the end
of its `datacheck` record − the moment its files were complete (the ready rule: the next
subrun begun, or its run ended) − its steps' own run time. Median over the subruns of one
night per executor. Goal ≤ 10 s on the local executor, ≤ 30 s on the local SLURM.
**Quiet night** — `osa live` on a night where nothing changes: ticks in 60 s at a 5 s
poll, and the median cost of one tick. lstosa has no live mode (not run).
"""

PACE = 2.0
QUIET_S = 60.0
QUIET_POLL = 5.0
SUMMARY_RE = re.compile(
    r"live: (\d+) ticks \((\d+) on file events, (\d+) on the poll\), median (\d+) ms"
)


def _config(base: Path, kind: str, poll: float) -> Path:
    from tests.conftest import fake_steps

    (base / "models").mkdir(exist_ok=True)
    text = (
        f'[paths]\nbase = "{base}"\n\n[executor]\nkind = "{kind}"\n\n{fake_steps()}\n'
        f'[analysis]\nmodels_dir = "{base / "models"}"\n\n[night]\nworkflow = "fixed"\n'
        f'live = true\nlive_poll_seconds = {poll}\nend_of_observation = ["runsummary_complete"]\n'
    )
    path = base / "osa.toml"
    path.write_text(text)
    return path


def _osa_live(config_path: Path) -> subprocess.Popen[str]:
    """`osa live` on the night of ``config_path``, as on site, its output captured."""
    return subprocess.Popen(
        osa_command("--config", str(config_path), "live", "--date", NIGHT.isoformat()),
        env=our_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _iso(text: str) -> float:
    return dt.datetime.fromisoformat(text).timestamp()


def _latencies(base: Path, kind: str) -> tuple[list[float], list[float], str]:
    """(latency per DATA subrun, ready-rule wait per subrun, live's summary line)."""
    from osa_core.config import load_config
    from osa_core.demo.daq import DaqEvent, DaqSimulator
    from osa_core.generator import NightSpec
    from osa_core.history import read_history
    from osa_core.paths import NightPaths

    config_path = _config(base, kind, poll=30.0)
    config = load_config(config_path, check_paths=False)
    paths = NightPaths(config, NIGHT)
    spec = NightSpec(night=NIGHT, data_runs=2, subruns=4)
    seen: dict[tuple[str, int | None, int | None, int | None], float] = {}

    def note(event: DaqEvent) -> None:
        seen[(event.kind, event.run, event.subrun, event.stream)] = time.time()

    simulator = DaqSimulator(base, spec, PACE, late_runs=0, on_event=note)
    live = _osa_live(config_path)
    writer = threading.Thread(target=simulator.run, daemon=True)
    writer.start()
    try:
        output, _ = live.communicate(timeout=600)
    finally:
        if live.poll() is None:
            live.kill()
    if not paths.night_finished.exists():
        raise RuntimeError(f"osa live did not close the night: {output[-800:]}")
    latencies, rule = [], []
    for run in (r for r in spec.runs() if r.run_type == "DATA"):
        for subrun in range(run.subruns):
            last_stream = seen[("r0", run.run, subrun, spec.streams)]
            if subrun + 1 < run.subruns:
                ready = seen[("r0", run.run, subrun + 1, 1)]
            else:
                ready = seen[("run_summary", run.run, None, None)]
            records = read_history(paths.history_file(run.run, subrun))
            check = [r for r in records if r.step == "datacheck" and r.rc == 0]
            own = sum(_iso(r.end) - _iso(r.start) for r in records)
            latencies.append(_iso(check[-1].end) - ready - own)
            rule.append(ready - last_stream)
    summary = next((line for line in output.splitlines() if line.startswith("live:")), "")
    return latencies, rule, summary


def _quiet(base: Path) -> tuple[int, int, int, float]:
    """(ticks, on events, on the poll, median ms) of `osa live` on an unchanging night."""
    from osa_core.generator import NightSpec, generate_night

    generate_night(base, NightSpec(night=NIGHT, data_runs=2, subruns=4))
    config_path = _config(base, "local", poll=QUIET_POLL)
    # processed already: a first live run submits; the measured one finds nothing to do
    warm = _osa_live(config_path)
    time.sleep(20)
    warm.send_signal(signal.SIGTERM)
    warm.communicate(timeout=60)
    live = _osa_live(config_path)
    time.sleep(QUIET_S)
    live.send_signal(signal.SIGTERM)
    output, _ = live.communicate(timeout=60)
    match = SUMMARY_RE.search(output)
    if match is None:
        raise RuntimeError(f"no summary from osa live: {output[-800:]}")
    ticks, events, polls, median = (int(x) for x in match.groups())
    return ticks, events, polls, float(median)


def _remove_later(folder: Path) -> None:
    """The local runner lingers a few seconds after its last task: remove when it is gone."""
    time.sleep(8)
    shutil.rmtree(folder, ignore_errors=True)


def run(ctx: Context) -> list[Row]:
    rows: list[Row] = []
    kinds: list[tuple[str, float]] = [("local", 10.0)]
    on_slurm, why = slurm_up()
    if on_slurm:
        kinds.append(("slurm", 30.0))
    details: dict[str, Any] = {}
    for kind, goal in kinds:
        ctx.log(f"live: a night written at {PACE:g} s per subrun, processed live on {kind}")
        base = Path(tempfile.mkdtemp(prefix=f"live-{kind}-", dir=ctx.scratch))
        latencies, rule, summary = _latencies(base, kind)
        details[kind] = summary
        stat = Stat(latencies)
        rows.append(
            limit_row(
                NAME,
                f"files complete → data check, minus the tools ({kind})",
                stat,
                goal,
                note=(
                    f"{len(latencies)} subruns; the ready rule (next subrun begun) adds "
                    f"{fmt(Stat(rule).median)} s at this pace; {summary}"
                ),
                ref_text="no live mode (next morning, from cron)",
            )
        )
        _remove_later(base)
    if not on_slurm:
        from common import skipped_row

        rows.append(skipped_row(NAME, "files complete → data check (slurm)", why, "≤ 30 s"))
    ctx.log(f"live: a quiet night for {QUIET_S:g} s at a {QUIET_POLL:g} s poll")
    base = Path(tempfile.mkdtemp(prefix="live-quiet-", dir=ctx.scratch))
    ticks, events, polls, median = _quiet(base)
    per_hour = ticks * 3600 / QUIET_S
    rows.append(
        Row(
            NAME,
            f"quiet night: ticks per hour at a {QUIET_POLL:g} s poll, and one tick's cost",
            Stat([median / 1000]),
            ours_text=f"{per_hour:.0f} ticks/h, {median:.0f} ms each",
            note=(
                f"{ticks} ticks in {QUIET_S:g} s ({events} on file events, {polls} on the "
                f"poll): {per_hour * median / 1000 / 3600 * 100:.2f} % of one core; at the "
                "default 30 s poll, 120 ticks/h"
            ),
            ref_text="no live mode",
        )
    )
    _remove_later(base)
    return rows
