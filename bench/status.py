"""Row 2: the status of a big night, ours (``night_status``) vs the bare ``sacct`` it needs.

Why: the console refreshes every 10 s and every cron tick computes the status, so its cost
must stay close to the one scheduler query it cannot avoid. ``night_status`` makes one
``sacct`` (the record) and one ``squeue`` (the live view) for every job of the night and
reads every subrun's history; the reference is that ``sacct`` alone, the very command our
executor runs (same job ids, fields, ``--duplicates`` and ``-S``), as a subprocess.

Setup: a generated night of N subruns (200 per run, one R0 stream), submitted to the local
SLURM cluster through our own submission path (``submit_night``) with every job script's
body replaced by ``exit 0`` just before ``sbatch`` (the ``#SBATCH`` lines are kept), so
that N real array tasks finish in minutes; then 3 successful step records per subrun are
written with ``osa_core.history.append_record``, so the status reads N real histories.
"""

from __future__ import annotations

import datetime as dt
import subprocess
import time
from collections.abc import Callable
from typing import Any

from common import NIGHT, Context, Row, Stat, alternate, fmt, skipped_row, slowdown_row, slurm_up

NAME = "status"
TITLE = "Status of a big night on SLURM"
DESCRIPTION = """\
**Status** — `night_status` (the console's and cron's refresh) on a night whose N subruns
are real, finished SLURM array tasks, against the bare `sacct` that refresh needs. The
night (N/200 runs of 200 subruns, one R0 stream) is submitted to the local SLURM cluster
through `osa_core.usecases.night.submit_night` with every job script's body replaced by
`exit 0` just before `sbatch` (the `#SBATCH` lines stay), so the tasks finish in minutes;
then 3 successful step records per subrun are appended with `osa_core.history` so the
status reads N real history files. With `[closing] auto` (the default) the night also
has its armed close jobs, which both sides query too. Ours: `night_status(config, plan,
SlurmExecutor)` in-process, timed with `perf_counter` (one `sacct`, one `squeue`, the
journal, N histories, the per-subrun reconciliation). Reference: the exact `sacct` command our
executor runs (captured from it: same job ids, fields, `--duplicates`, `-S`), as a
subprocess. Alternated 7 times after one warm-up each. The local cluster drains ~10-15
trivial tasks per second on this 2-core machine (slurmstepd and cgroup set-up per task),
so 10,000 tasks would need 11-17 minutes; the row uses the largest count that drains in
about 4 minutes (3,000 by default, `--status-tasks N` to change) and says so.
"""

SUBRUNS_PER_RUN = 200
DEFAULT_TASKS = 3000
QUICK_TASKS = 400


def _trivial_executor(config: Any) -> Any:
    """Our SLURM executor, submitting each job script with its body replaced by ``exit 0``."""
    from osa_core.executors.slurm import SlurmExecutor

    class TrivialBodySlurm(SlurmExecutor):
        def submit(self, spec, request=None):  # type: ignore[no-untyped-def]
            lines = spec.script.read_text().splitlines()
            head = [line for line in lines if line.startswith(("#!", "#SBATCH"))]
            spec.script.write_text("\n".join([*head, "exit 0", ""]))
            return super().submit(spec, request)

    return TrivialBodySlurm(config)


def _write_histories(config: Any, plan: Any) -> int:
    """Three successful step records per subrun, as the payload writes them."""
    from osa_core.history import StepRecord, append_record
    from osa_core.paths import NightPaths
    from osa_core.steps import DATA_STEPS

    paths = NightPaths(config, plan.night)
    paths.history_dir.mkdir(parents=True, exist_ok=True)
    start = dt.datetime(2024, 3, 16, 7, 0, tzinfo=dt.timezone.utc)
    count = 0
    for sequence in plan.data_sequences:
        for subrun in sequence.subruns:
            history = paths.history_file(sequence.run, subrun)
            for number, step in enumerate(DATA_STEPS):
                begin = start + dt.timedelta(minutes=10 * number)
                append_record(
                    history,
                    StepRecord(
                        run=sequence.run,
                        subrun=subrun,
                        step=step,
                        prod_id="v0.12",
                        start=begin.isoformat(timespec="milliseconds"),
                        end=(begin + dt.timedelta(minutes=9)).isoformat(timespec="milliseconds"),
                        rc=0,
                        inputs=[str(paths.r0_file(sequence.run, subrun))],
                        outputs=[str(paths.dl1b_dir / f"dl1_LST-1.Run{sequence.run:05d}.h5")],
                        command=[f"lstchain_{step}", "--input-file=...", "--output-dir=..."],
                        peak_rss=2_400_000_000,
                        cpu=520.0,
                        host="localhost",
                        job_id="1",
                        tool_version="lstchain 0.12.3",
                        mode="fork",
                    ),
                )
                count += 1
    return count


class Unanswered(RuntimeError):
    """SLURM did not fully answer (another user restarted a daemon of the shared cluster)."""


def retried(sample: Callable[[], float], attempts: int = 5) -> Callable[[], float]:
    """A sample taken again (after 3 s) when SLURM did not fully answer; never averaged in."""

    def run() -> float:
        for attempt in range(attempts):
            try:
                return sample()
            except Unanswered:
                if attempt == attempts - 1:
                    raise
                time.sleep(3)
        raise AssertionError("unreachable")

    return run


def _wait_drained(job_ids: list[str], tasks: int, timeout: float) -> float:
    """Seconds until no task of these jobs is pending or running (raises on timeout)."""
    started = time.perf_counter()
    joined = ",".join(job_ids)
    while True:
        out = subprocess.run(
            ["squeue", "-h", "-r", "-t", "PD,R,CG,CF", "-j", joined, "-o", "%i"],
            capture_output=True,
            text=True,
            check=False,
        )
        active = len(out.stdout.split()) if out.returncode == 0 else tasks
        elapsed = time.perf_counter() - started
        if active == 0:
            return elapsed
        if elapsed > timeout:
            subprocess.run(["scancel", *job_ids], check=False)
            raise RuntimeError(f"{active} of {tasks} tasks still active after {timeout:.0f} s")
        time.sleep(2)


def run(ctx: Context) -> list[Row]:
    ok, why = slurm_up()
    tasks = ctx.options.get("status_tasks") or (QUICK_TASKS if ctx.quick else DEFAULT_TASKS)
    label = f"status of a night of {tasks:,} finished SLURM tasks"
    if not ok:
        return [skipped_row(NAME, label, why, "≤ 1.5×")]
    import osa_core.executors.slurm as slurm_module
    from osa_core.config import load_config
    from osa_core.executors.slurm import SlurmExecutor
    from osa_core.generator import NightSpec, generate_night
    from osa_core.journal import Journal
    from osa_core.paths import NightPaths
    from osa_core.plan import build_plan
    from osa_core.snapshot import night_status
    from osa_core.usecases.night import submit_night

    runs = max(1, tasks // SUBRUNS_PER_RUN)
    subruns = min(tasks, SUBRUNS_PER_RUN)
    tasks = runs * subruns
    label = f"status of a night of {tasks:,} finished SLURM tasks"
    reps = ctx.reps(7, 3)
    with ctx.folder("status") as base:
        generate_night(base, NightSpec(night=NIGHT, data_runs=runs, subruns=subruns, streams=1))
        config_path = base / "osa.toml"
        config_path.write_text(
            f'[paths]\nbase = "{base}"\n\n[executor]\nkind = "slurm"\n\n'
            '[night]\nstreams = 1\nworkflow = "fixed"\n\n'
            "[slurm]\nmax_pending_jobs = 100000\n"
        )
        config = load_config(config_path)
        paths = NightPaths(config, NIGHT)
        for product in (paths.drs4_file(2000), paths.calibration_file(2001, 52)):
            product.parent.mkdir(parents=True, exist_ok=True)
            product.touch()  # calibration done: data arrays need no dependency
        plan = build_plan(config, NIGHT)
        ctx.log(f"status: submitting {runs} arrays × {subruns} trivial tasks")
        submitted_at = time.perf_counter()
        report = submit_night(config, plan, executor=_trivial_executor(config))
        job_ids = [job.job_id for job in report.jobs]
        armed = [job.job_id for job in report.armed]  # the close chain (PlannedJob, with ids)
        try:
            if len(job_ids) != runs:
                raise RuntimeError(f"submitted {len(job_ids)} arrays, expected {runs}")
            records = _write_histories(config, plan)
            ctx.log(f"status: {records:,} history records written; waiting for SLURM to drain")
            # the armed close ([closing] auto) runs right after the data: wait for it too
            _wait_drained([*job_ids, *armed], tasks, timeout=max(420.0, tasks / 4))
        except BaseException:  # interrupted or failed: leave no task behind on the cluster
            subprocess.run(["scancel", *job_ids, *armed], check=False)
            raise
        drain_total = time.perf_counter() - submitted_at
        rate = tasks / drain_total
        ctx.log(f"status: drained in {drain_total:.0f} s ({rate:.1f} tasks/s)")
        executor = SlurmExecutor(config)
        view = Journal(paths.journal).read()
        calls: list[tuple[list[str], float]] = []
        real_run = slurm_module._run

        def recording_run(argv: list[str], timeout: float) -> subprocess.CompletedProcess[str]:
            began = time.perf_counter()
            result = real_run(argv, timeout)
            calls.append((list(argv), time.perf_counter() - began))
            return result

        slurm_module._run = recording_run
        try:
            status = night_status(config, plan, executor)  # warm-up and check
            done = status.totals.get("COMPLETED", 0)
            if done != tasks or not status.scheduler_ok:
                raise RuntimeError(f"status sees {done} of {tasks} subruns COMPLETED")
            sacct_argv = next(argv for argv, _ in calls if argv[0] == "sacct")
            lines = subprocess.run(sacct_argv, capture_output=True, text=True, check=True)
            sacct_rows = len(lines.stdout.splitlines())
            calls.clear()

            def ours() -> float:
                began = time.perf_counter()
                result = night_status(config, plan, executor, view)
                elapsed = time.perf_counter() - began
                if not result.scheduler_ok or result.totals.get("COMPLETED", 0) != tasks:
                    raise Unanswered(result.scheduler_message or "status changed")
                return elapsed

            def bare_sacct() -> float:
                began = time.perf_counter()
                done = subprocess.run(sacct_argv, capture_output=True, text=True, check=False)
                elapsed = time.perf_counter() - began
                if done.returncode != 0:
                    raise Unanswered(done.stderr.strip()[:200])
                return elapsed

            ctx.log(f"status: {reps} alternated rounds")
            results = alternate({"ours": retried(ours), "sacct": retried(bare_sacct)}, reps)
        finally:
            slurm_module._run = real_run
    ours_stat = Stat(results["ours"])
    ref = Stat(results["sacct"])
    inner = {
        name: [seconds for argv, seconds in calls if argv[0] == name]
        for name in ("sacct", "squeue")
    }
    parts = ", ".join(
        f"its {name} {fmt(sorted(values)[len(values) // 2])} s"
        for name, values in inner.items()
        if values
    )
    rest = ours_stat.median - sum(
        sorted(values)[len(values) // 2] for values in inner.values() if values
    )
    note = (
        f"{parts}, histories + reconciliation {fmt(rest)} s; sacct prints {sacct_rows:,} rows. "
        f"{tasks:,} tasks, not 10,000: the local cluster drained {rate:.1f} tasks/s "
        f"({drain_total:.0f} s), so 10,000 would take ~{10000 / rate / 60:.0f} min"
    )
    if tasks >= 10000:
        note = note.split(". ")[0]
    return [slowdown_row(NAME, label, ours_stat, ref, 1.5, note)]
