"""Row 6: scheduler load per hour for a night with one failed subrun in a 200-subrun run.

Why: lstosa resubmits whole job arrays from cron every 30 minutes (SPEC §3): a run with a
single failed subrun starts all its 200 tasks again at every pass, and every pass queries
``sacct``/``squeue``. We resubmit exactly the failed subrun, stop after the retry policy
says so, and query the scheduler once per status refresh.

Ours, measured: a real SLURM night (one run of 200 subruns, the tests' fake tools, subrun 5
failing in ``dl1ab`` with exit code 5) is submitted and left to finish; then three ``osa
--batch`` ticks (a cron every 20 min = 3 per hour) run with a ``PATH`` whose ``sbatch``,
``sacct``, ``squeue`` and ``scancel`` are logging wrappers that exec the real clients. Task
starts are counted from ``sacct`` (tasks of the jobs submitted by those ticks that
started). lstosa, modelled per pass: its sequencer (0.11.10, without ``-t``, with
``--no-submit`` so it submits nothing) runs once on the same kind of night with the same
wrappers to count its ``sacct``/``squeue`` calls; its ``sbatch`` calls are the sequences
it marks ``READY -> submitting`` (a whole array each); task starts per pass are the 200
tasks of that array. Two passes per hour.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import time
from collections import Counter
from pathlib import Path
from typing import Any

from common import (
    NIGHT,
    Context,
    Row,
    Stat,
    fmt,
    lstosa_available,
    osa_command,
    our_env,
    skipped_row,
    slurm_up,
    wait_idle,
    write_config,
)

NAME = "scheduler_load"
TITLE = "Scheduler load of a night with one failed subrun"
DESCRIPTION = """\
**Scheduler load** — one run of 200 subruns on the local SLURM cluster, the tests' fake
tools, subrun 5 failing in `dl1ab` (exit code 5); the night is submitted and left to
finish (199 done, 1 failed, the armed close exits quietly: not ready). Then three
`osa --batch` ticks, as a cron every 20 min would run in one hour, with `PATH` starting
with a folder of wrapper scripts that log each call and exec the real `sbatch`, `sacct`,
`squeue`, `scancel`; the ticks wait for the jobs they submitted to end before the next.
Task starts: tasks of the jobs those ticks submitted that `sacct` shows as started.
lstosa (modelled): it resubmits whole arrays from cron every 30 min (SPEC §3), i.e. 2
passes per hour; per pass its sequencer (0.11.10 without `-t`, with `--no-submit`, on the
same kind of night, run once under the same wrappers) makes the counted
`sacct`/`squeue` calls, submits each sequence it logs as `READY -> submitting` (one
`sbatch` of the whole 200-task array for the run with the failed subrun), and the 200
tasks start again (199 of them only to find their steps done). With `--quick` the run has
50 subruns and lstosa is not run.
"""

CLIENTS = ("sbatch", "sacct", "squeue", "scancel")
TICKS = 3
LSTOSA_PASSES_PER_HOUR = 2


def _shims(folder: Path, log: Path) -> dict[str, str]:
    """Wrapper scripts that log then exec the real SLURM clients; returns the real paths."""
    real = {}
    folder.mkdir(parents=True, exist_ok=True)
    for client in CLIENTS:
        found = shutil.which(client)
        if found is None:
            raise RuntimeError(f"{client} not found on PATH")
        real[client] = found
        script = folder / client
        script.write_text(
            "#!/bin/sh\n"
            "t0=$(date +%s.%N)\n"
            f'{shlex.quote(found)} "$@"\n'
            "rc=$?\n"
            f'echo "{client} $t0 $(date +%s.%N)" >> {shlex.quote(str(log))}\n'
            "exit $rc\n"
        )
        script.chmod(0o755)
    return real


def _counts(log: Path) -> tuple[Counter[str], float]:
    """Calls per client, and the seconds spent in all of them."""
    calls: Counter[str] = Counter()
    seconds = 0.0
    if log.exists():
        for line in log.read_text().splitlines():
            client, began, ended = line.split()
            calls[client] += 1
            seconds += float(ended) - float(began)
    return calls, seconds


def _started_tasks(job_ids: list[str]) -> int:
    if not job_ids:
        return 0
    argv = ["sacct", "-X", "-n", "--parsable2", "-j", ",".join(job_ids), "-o", "JobID,Start"]
    for _ in range(10):  # slurmdbd may be restarted by another user of the test cluster
        out = subprocess.run(argv, capture_output=True, text=True, check=False)
        if out.returncode == 0:
            break
        time.sleep(3)
    else:
        raise RuntimeError(f"sacct does not answer: {out.stderr.strip()[:300]}")
    started = 0
    for line in out.stdout.splitlines():
        _, _, start = line.partition("|")
        if start and start not in ("Unknown", "None"):
            started += 1
    return started


def _ours(ctx: Context, base: Path, subruns: int) -> dict[str, Any]:
    from osa_core.config import load_config
    from osa_core.generator import NightSpec, generate_night
    from osa_core.journal import Journal
    from osa_core.paths import NightPaths
    from osa_core.plan import build_plan
    from osa_core.usecases.night import submit_night
    from tests.conftest import fake_steps

    generate_night(base, NightSpec(night=NIGHT, data_runs=1, subruns=subruns, streams=1))
    (base / "models").mkdir()
    body = (
        '[executor]\nkind = "slurm"\n\n[night]\nstreams = 1\nworkflow = "fixed"\n\n'
        f'{fake_steps(fail={"dl1ab": "5"})}\n[analysis]\nmodels_dir = "{base / "models"}"\n'
    )
    config_path = write_config(base, body)
    config = load_config(config_path)
    paths = NightPaths(config, NIGHT)
    for product in (paths.drs4_file(2000), paths.calibration_file(2001, 52)):
        product.parent.mkdir(parents=True, exist_ok=True)
        product.touch()
    plan = build_plan(config, NIGHT)
    ctx.log(f"scheduler_load: submitting the night ({subruns} subruns, fake tools)")
    submit_night(config, plan)
    wait_idle(config)
    before = set(Journal(paths.journal).read().job_ids())

    log = base / "slurm-calls.log"
    _shims(base / "shims", log)
    env = our_env()
    env["PATH"] = os.pathsep.join([str(base / "shims"), env["PATH"]])
    cmd = osa_command("--config", str(config_path), "--batch", "--date", NIGHT.isoformat())
    tick_lines = []
    for tick in range(TICKS):
        ctx.log(f"scheduler_load: osa --batch tick {tick + 1}/{TICKS}")
        result = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
        if result.returncode not in (0, 3):
            raise RuntimeError(f"osa --batch exited {result.returncode}: {result.stderr[-800:]}")
        tick_lines.append(result.stdout)
        wait_idle(config)
    after = Journal(paths.journal).read().job_ids()
    new_jobs = [job for job in after if job not in before]
    data_jobs = [
        s.job_id
        for s in Journal(paths.journal).read().submissions
        if s.job_id in new_jobs and s.kind == "DATA"
    ]
    calls, seconds = _counts(log)
    return {
        "calls": calls,
        "seconds": seconds,
        "starts": _started_tasks(new_jobs),
        "data_starts": _started_tasks(data_jobs),
        "jobs": len(new_jobs),
        "resubmitted": sum("resubmitted" in out for out in tick_lines),
    }


def _lstosa(ctx: Context, base: Path, subruns: int) -> dict[str, Any]:
    """Counts of one lstosa sequencer pass (no -t, --no-submit) under the wrappers."""
    from lstosa_ref import (
        DEFAULT_VENV,
        PROD_ID,
        _lstosa_env,
        measure_command,
        prepare_lstosa_night,
        sequencer_command,
    )

    cfg = prepare_lstosa_night(base, NIGHT, runs=1, subruns=subruns)
    running = base / "running_analysis" / NIGHT.strftime("%Y%m%d") / PROD_ID
    running.mkdir(parents=True, exist_ok=True)
    # Cat-B calibration done for the run: the sequencer then considers it for submission.
    (running / "catB_calibration_02002.closed").touch()
    log = base / "slurm-calls.log"
    _shims(base / "shims", log)
    env = _lstosa_env(DEFAULT_VENV.resolve(), hide_slurm=False)
    env["PATH"] = os.pathsep.join([str(base / "shims"), env["PATH"]])
    cmd = sequencer_command(cfg, NIGHT, DEFAULT_VENV.resolve(), test=False)
    ctx.log("scheduler_load: lstosa sequencer pass (no -t, --no-submit) under the wrappers")
    result = measure_command(cmd, env=env, cwd=cfg.parent)
    if result["returncode"] != 0:
        tail = "\n".join(result["output"].splitlines()[-20:])
        raise RuntimeError(f"lstosa sequencer failed:\n{tail}")
    ready = len(re.findall(r"READY -> submitting", result["output"]))
    calls, seconds = _counts(log)
    return {"calls": calls, "seconds": seconds, "ready": ready}


def run(ctx: Context) -> list[Row]:
    ok, why = slurm_up()
    label = "scheduler load per hour, 1 failed subrun in a 200-subrun run"
    if not ok:
        return [skipped_row(NAME, label, why)]
    with_ref, why_not = lstosa_available()
    if ctx.quick:
        with_ref, why_not = False, "--quick runs without lstosa"
    subruns = 50 if ctx.quick else 200
    label = label.replace("200", str(subruns))
    with ctx.folder("load-ours") as base:
        ours = _ours(ctx, base, subruns)
    ref = None
    if with_ref:
        with ctx.folder("load-lstosa") as base:
            ref = _lstosa(ctx, base, subruns)

    rows = []
    per_hour = f"{TICKS} ticks = 1 h"
    ours_starts = Stat([float(ours["starts"])], "tasks/h")
    note = (
        f"ours: {per_hour}; {ours['jobs']} job(s) submitted by the ticks "
        f"({ours['data_starts']} data task start(s), the rest re-armed close jobs)"
    )
    if ref is not None:
        ref_starts = LSTOSA_PASSES_PER_HOUR * ref["ready"] * subruns
        rows.append(
            _row(
                f"task starts, {label}",
                ours_starts,
                ref_starts,
                note + f"; lstosa: {ref['ready']} whole array(s) × {subruns} tasks × "
                f"{LSTOSA_PASSES_PER_HOUR} passes, each task paying datasequence's ~4 s import",
            )
        )
    else:
        rows.append(
            Row(NAME, f"task starts, {label}", ours_starts, ref_text=f"skipped ({why_not})")
        )
    for client in ("sbatch", "sacct", "squeue"):
        ours_calls = Stat([float(ours["calls"].get(client, 0))], "calls/h")
        name = f"{client} calls per hour"
        if ref is not None:
            per_pass = ref["calls"].get(client, 0)
            if client == "sbatch":
                per_pass = ref["ready"]  # --no-submit: one sbatch per READY sequence
            rows.append(
                _row(
                    name,
                    ours_calls,
                    LSTOSA_PASSES_PER_HOUR * per_pass,
                    f"lstosa: {per_pass} per pass × {LSTOSA_PASSES_PER_HOUR}"
                    + (
                        " (its sacct has no -j: it lists every job since midnight, "
                        "STARTTIME_DAYS_SACCT being empty)"
                        if client == "sacct"
                        else ""
                    ),
                )
            )
        else:
            rows.append(Row(NAME, name, ours_calls, ref_text=f"skipped ({why_not})"))
    seconds = Stat([ours["seconds"]], "s/h")
    name = "time spent in SLURM clients per hour"
    if ref is not None:
        rows.append(
            _row(
                name,
                seconds,
                LSTOSA_PASSES_PER_HOUR * ref["seconds"],
                "wall time of the wrapped calls; lstosa's sacct has no -j: it lists every "
                "job of the day on this shared test cluster",
                unit="s/h",
                word=("less", "more"),
            )
        )
    else:
        rows.append(Row(NAME, name, seconds, ref_text=f"skipped ({why_not})"))
    return rows


def _row(
    name: str,
    ours: Stat,
    modelled: float,
    note: str,
    unit: str = "",
    word: tuple[str, str] = ("fewer", "more"),
) -> Row:
    """Ours measured vs lstosa modelled; the ratio says fewer or more."""
    ratio = modelled / ours.median if ours.median else None
    if ratio is None:
        text = "ours: none"
    elif ratio >= 1:
        text = f"{fmt(ratio)}× {word[0]}"
    else:
        text = f"{fmt(1 / ratio)}× {word[1]}"
    return Row(
        NAME,
        name,
        ours,
        ref_text=f"{fmt(modelled)} {unit or ours.unit} (modelled)",
        ratio=ratio,
        ratio_text=text,
        note=note,
    )
