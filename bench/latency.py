"""Row 5: latency to a closed night and to a resubmission.

Why: lstosa closes a night from cron (every 20-30 min) with a closer that sleeps ten
minutes between checks, and resubmits failed work only at the next cron pass; a shifter
waits for both. We arm the close when the data jobs are submitted (``[closing] auto``,
the default: the close jobs wait ``afterany`` on the data jobs) and resubmit from the
console in one call.

What:

- *closed night*: a small night (2 runs × 4 subruns) on the local executor with the fake
  tools of the tests (``tests/helpers/fake_tool.py`` via ``fake_steps``, RF models folder
  set so DL2 runs). From the moment the last data subrun finished (the latest ``end`` of
  the last record of every data subrun's history) to ``NightFinished.txt``'s mtime, minus
  the close steps' own run time (their history records' durations: per run in parallel,
  so the longest run's chain plus the night-wise steps). What remains is pure
  orchestration: the scheduler noticing the dependency, starting the close jobs, staging,
  provenance, moving the products, the manifest.
- *resubmission*: a 20-subrun run on SLURM (local executor without SLURM) whose subrun 5
  fails in ``dl1ab``; one ``resubmit_failed`` call in-process, timed from the call until
  ``sbatch`` returned the new data job's id; and the ``osa --batch`` tick that would do it
  from cron (a subprocess, timed), whose latency is the cron period plus that tick.
- lstosa: not run (its closer sleeps ``time.sleep(600)`` after submitting the close jobs
  and then polls every 600 s: ``src/osa/scripts/closer.py`` in cta-observatory/lstosa,
  lines 213 and 224 of 0.11.10), so its figures are marked "from code, not measured".
"""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from common import (
    NIGHT,
    Context,
    Row,
    Stat,
    fmt,
    limit_row,
    osa_command,
    our_env,
    slurm_up,
    wait_idle,
    write_config,
)

NAME = "latency"
TITLE = "Latency to a closed night and to a resubmission"
DESCRIPTION = """\
**Latency to a closed night** — the armed close (`[closing] auto = true`, the default:
the close jobs are submitted with the data jobs, chained `afterany` on them). A night of
2 runs × 4 subruns runs on the local executor with the tests' fake tools
(`tests/helpers/fake_tool.py` through `fake_steps`, an RF models folder so DL2 runs).
Latency = `NightFinished.txt`'s mtime − the end of the last data subrun (the latest `end`
of every data subrun's last history record) − the close steps' own run time (durations
of their history records; the runs close in parallel, so the longest run's chain plus the
night-wise step). What is left is orchestration: the dependency release, starting the
close jobs, staging, provenance, moving products with checksums, the manifest. 3 nights,
median. lstosa is not run: its `closer` sleeps 600 s after submitting its close jobs and
then checks every 600 s (`time.sleep(600)`, `src/osa/scripts/closer.py` of
cta-observatory/lstosa, lines 213 and 224 in 0.11.10), and it is itself started by cron
every 20–30 min: that reference is *from code, not measured*.

**Latency to a resubmission** — a run of 20 subruns on SLURM (the local executor when
SLURM is down) whose subrun 5 fails in `dl1ab` (fake tools). *Console*: one
`resubmit_failed` call in-process, from the call until `sbatch` returned the new data
job's id (the call then also re-arms the close; its full duration is in the notes), 3
times, waiting for the retry to fail in between. *`osa --batch`*: the cron tick that would
do it, timed as a subprocess on the same night; its latency is the cron period (20 min)
plus the tick.
"""

CLOSE_REPS = 3
LSTOSA_CLOSER_SLEEP_S = 600.0


def _fake_steps(fail: dict[str, str] | None = None) -> str:
    from tests.conftest import fake_steps

    return fake_steps(fail=fail)


def _config(base: Path, kind: str, fail: dict[str, str] | None = None) -> Path:
    (base / "models").mkdir(exist_ok=True)
    body = (
        f'[executor]\nkind = "{kind}"\n\n[night]\nstreams = 1\nworkflow = "fixed"\n\n'
        f'{_fake_steps(fail)}\n[analysis]\nmodels_dir = "{base / "models"}"\n'
    )
    return write_config(base, body)


def _iso(text: str) -> float:
    return dt.datetime.fromisoformat(text).timestamp()


def _durations(history: Path) -> float:
    from osa_core.history import read_history

    return sum(_iso(r.end) - _iso(r.start) for r in read_history(history))


def _close_once(base: Path) -> dict[str, float]:
    """One night from submission to NightFinished; returns the latency and its parts."""
    from osa_core.closing.layout import CloseLayout
    from osa_core.config import load_config
    from osa_core.generator import NightSpec, generate_night
    from osa_core.history import read_history
    from osa_core.paths import NightPaths
    from osa_core.plan import build_plan
    from osa_core.usecases.night import submit_night

    generate_night(base, NightSpec(night=NIGHT, data_runs=2, subruns=4, streams=1))
    config = load_config(_config(base, "local"))
    plan = build_plan(config, NIGHT)
    paths = NightPaths(config, NIGHT)
    report = submit_night(config, plan)
    if not report.armed:
        raise RuntimeError("submit_night armed no close ([closing] auto is off?)")
    deadline = time.monotonic() + 300
    while not paths.night_finished.exists():
        if time.monotonic() > deadline:
            raise RuntimeError("the armed close did not finish the night within 300 s")
        time.sleep(0.2)
    finished = paths.night_finished.stat().st_mtime
    last_end = max(
        _iso(read_history(paths.history_file(s.run, sub))[-1].end)
        for s in plan.data_sequences
        for sub in s.subruns
    )
    layout = CloseLayout(paths)
    per_run = [_durations(layout.run_history(s.run)) for s in plan.data_sequences]
    night_steps = _durations(layout.night_history)
    own = max(per_run) + night_steps
    return {
        "latency": finished - last_end - own,
        "wall": finished - last_end,
        "own": own,
        "own_sum": sum(per_run) + night_steps,
    }


def _recording(executor: Any) -> Any:
    """The executor, noting when each DATA submission returned its id."""

    class Recording:
        def __init__(self) -> None:
            self.data_submitted: list[float] = []

        def __getattr__(self, name: str) -> Any:
            return getattr(executor, name)

        def submit(self, spec: Any, request: Any = None) -> str:
            job_id = executor.submit(spec, request)
            if spec.kind == "DATA":
                self.data_submitted.append(time.perf_counter())
            return job_id

    return Recording()


def _resubmission(ctx: Context, base: Path) -> tuple[list[float], list[float], list[float], str]:
    """(call→queued, full call, --batch tick) samples on a night with one failing subrun."""
    from osa_core.config import load_config
    from osa_core.executors.factory import get_executor
    from osa_core.generator import NightSpec, generate_night
    from osa_core.paths import NightPaths
    from osa_core.plan import build_plan
    from osa_core.usecases.night import resubmit_failed, submit_night

    on_slurm, _ = slurm_up()
    kind = "slurm" if on_slurm else "local"
    generate_night(base, NightSpec(night=NIGHT, data_runs=1, subruns=20, streams=1))
    config_path = _config(base, kind, fail={"dl1ab": "5"})
    config = load_config(config_path)
    paths = NightPaths(config, NIGHT)
    for product in (paths.drs4_file(2000), paths.calibration_file(2001, 52)):
        product.parent.mkdir(parents=True, exist_ok=True)
        product.touch()
    plan = build_plan(config, NIGHT)
    executor = get_executor(config)
    submit_night(config, plan, executor)
    wait_idle(config)
    queued, calls, ticks = [], [], []
    for _ in range(ctx.reps(3, 1)):
        recording = _recording(executor)
        began = time.perf_counter()
        report = resubmit_failed(config, plan, recording, runs=[2002])
        calls.append(time.perf_counter() - began)
        if not report.jobs or not recording.data_submitted:
            raise RuntimeError(f"resubmit_failed resubmitted nothing: {report.summary()}")
        queued.append(recording.data_submitted[0] - began)
        wait_idle(config)
    for _ in range(ctx.reps(2, 1)):
        cmd = osa_command("--config", str(config_path), "--batch", "--date", NIGHT.isoformat())
        began = time.perf_counter()
        tick = subprocess.run(cmd, env=our_env(), capture_output=True, text=True, check=False)
        ticks.append(time.perf_counter() - began)
        if tick.returncode not in (0, 3):  # 3 = needs an operator (the retry policy gave up)
            raise RuntimeError(f"osa --batch exited {tick.returncode}: {tick.stderr[-800:]}")
        wait_idle(config)
    return queued, calls, ticks, kind


def _remove_when_runners_exit(folders: list[Path], timeout: float = 30) -> None:
    """The local executor's runner lingers ~5 s after its last task and writes its state
    then: remove the nights only once it is gone, or it recreates their state folders."""
    from osa_core.config import load_config
    from osa_core.executors.local import runner_alive

    deadline = time.monotonic() + timeout
    for folder in folders:
        config = load_config(folder / "osa.toml")
        while runner_alive(config) and time.monotonic() < deadline:
            time.sleep(0.5)
        shutil.rmtree(folder, ignore_errors=True)


def run(ctx: Context) -> list[Row]:
    reps = ctx.reps(CLOSE_REPS, 1)
    samples = []
    folders = []
    for index in range(reps):
        ctx.log(f"latency: night {index + 1}/{reps} to NightFinished (armed close)")
        folders.append(Path(tempfile.mkdtemp(prefix="latency-close-", dir=ctx.scratch)))
        samples.append(_close_once(folders[-1]))
    latency = Stat([s["latency"] for s in samples])
    wall = Stat([s["wall"] for s in samples])
    own = Stat([s["own"] for s in samples])
    reference = f"≥ {LSTOSA_CLOSER_SLEEP_S:.0f} s + a 20–30 min cron wait (from code, not measured)"
    close_row = limit_row(
        NAME,
        "latency to a closed night (armed close, local executor, fake tools)",
        latency,
        30,
        note=(
            f"last subrun end → NightFinished {fmt(wall.median)} s, of which the close steps' "
            f"own run time {fmt(own.median)} s; lstosa's closer sleeps 600 s "
            "(closer.py:213,224)"
        ),
        ref_text=reference,
    )
    close_row.ratio = LSTOSA_CLOSER_SLEEP_S / latency.median
    close_row.ratio_text = f"≥ {fmt(close_row.ratio)}× faster"
    rows = [close_row]

    ctx.log("latency: resubmission (console call, --batch tick)")
    folders.append(Path(tempfile.mkdtemp(prefix="latency-resubmit-", dir=ctx.scratch)))
    try:
        queued, calls, ticks, kind = _resubmission(ctx, folders[-1])
    finally:
        _remove_when_runners_exit(folders)
    tick = Stat(ticks)
    where = "SLURM" if kind == "slurm" else "local executor (SLURM down)"
    resubmit = Row(
        NAME,
        f"latency to a resubmission: console resubmit_failed ({where})",
        Stat(queued),
        ref_text=f"--batch: next cron tick, ≤ 20 min + {fmt(tick.median)} s",
        note=(
            f"call → new data job queued; the whole call (re-arms the close too) "
            f"{fmt(Stat(calls).median)} s; lstosa: next cron pass (30 min) resubmits the "
            "whole array"
        ),
    )
    rows.append(resubmit)
    rows.append(
        Row(
            NAME,
            f"osa --batch tick on that night ({where})",
            tick,
            note="the cron path's own cost; add the cron period (20 min) for its latency",
        )
    )
    return rows
