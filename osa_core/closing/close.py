"""``osa close``: close a night with jobs on the configured executor, not sleep loops.

When the night is ready (or an operator overrides, with a reason in the journal), one job
array makes the per-run products (a task per run) and one job, chained ``afterok`` on it,
finishes the night (night-wise datacheck, provenance, move with checksums, manifest,
NightFinished). Closing again while those jobs run says so; closing again after a failure
or a crash resubmits them, and their payload skips what was already done; closing a
closed night does nothing.
"""

from __future__ import annotations

import sys

from osa_core.closing.layout import CloseLayout, completed_subruns
from osa_core.closing.readiness import readiness
from osa_core.config import Config
from osa_core.errors import NeedsOperator
from osa_core.executors.base import ACTIVE_STATES, Executor, get_executor
from osa_core.fsio import ensure_dir, write_text_atomic
from osa_core.jobs import JobSpec, compact_ranges, render_script
from osa_core.journal import Journal
from osa_core.locking import night_lock
from osa_core.paths import NightPaths
from osa_core.plan import Plan

CLOSE_RUNS = "CLOSE_RUNS"
CLOSE_NIGHT = "CLOSE_NIGHT"


def close_specs(
    config: Config, plan: Plan, force: bool = False
) -> tuple[list[int], JobSpec | None, JobSpec]:
    """The close jobs: an array over the runs, and the night's finish. ``force`` (an
    operator's override) closes even if some subruns are not done."""
    paths = NightPaths(config, plan.night)
    runs = [s.run for s in plan.data_sequences]
    base_command = (
        sys.executable,
        "-m",
        "osa_core.closing.payload",
        "--config",
        str(config.source.resolve()),
        "--date",
        plan.night.isoformat(),
        *(["--force"] if force else []),
    )
    folder = f"{plan.night:%Y%m%d}"
    runs_spec = None
    if runs:
        runs_spec = JobSpec(
            name=f"osa_{folder}_clo_runs",
            kind=CLOSE_RUNS,
            night=plan.night.isoformat(),
            run=0,
            script=paths.jobs_dir / "close_runs.sh",
            array=tuple(range(len(runs))),
            resources=config.slurm.close,
            account=config.slurm.account,
            output=paths.log_dir / "close_runs.%4a_%A.out",
            error=paths.log_dir / "close_runs.%4a_%A.err",
            command=(*base_command, "runs", "--runs", ",".join(str(r) for r in runs)),
            workdir=paths.running,
        )
    night_spec = JobSpec(
        name=f"osa_{folder}_clo_night",
        kind=CLOSE_NIGHT,
        night=plan.night.isoformat(),
        run=0,
        script=paths.jobs_dir / "close_night.sh",
        array=None,
        resources=config.slurm.close,
        account=config.slurm.account,
        output=paths.log_dir / "close_night_%j.out",
        error=paths.log_dir / "close_night_%j.err",
        command=(*base_command, "night"),
        workdir=paths.running,
    )
    return runs, runs_spec, night_spec


def describe(config: Config, plan: Plan, executor: Executor, override: bool) -> list[str]:
    """Every action the close would take (the dry run)."""
    from osa_core.closing.finalize import planned_moves
    from osa_core.submission import fresh_status

    paths = NightPaths(config, plan.night)
    if paths.night_finished.exists():
        return [f"night {plan.night} is already closed ({paths.night_finished})"]
    _, status = fresh_status(config, plan, executor, recover=False)
    ready = readiness(status)
    lines = [
        ready.summary() + (" — closing anyway (override)" if override and not ready.ready else "")
    ]
    layout = CloseLayout(paths)
    models = config.analysis.models_dir
    for sequence in plan.data_sequences:
        done = completed_subruns(paths, sequence.run, sequence.subruns)
        missing = sorted(set(sequence.subruns) - set(done))
        left = f" (without {compact_ranges(missing)})" if missing else ""
        if not done:
            lines.append(f"run {sequence.run:05d}: no completed subrun: nothing to merge")
            continue
        dl2 = f"DL2 with models {models}" if models else "no DL2 (no models configured)"
        lines.append(
            f"run {sequence.run:05d}: merge {len(done)} DL1b subruns{left} -> "
            f"{layout.merged_dl1_file(sequence.run).name}, merge muons, run-wise "
            f"datacheck, {dl2}"
        )
    moves = planned_moves(paths)
    size = sum(m.src.stat().st_size for m in moves if m.src.exists())
    lines.append(
        f"night: long-term datacheck {layout.longterm_file.name}; provenance "
        "(PROV-JSON + graph) per run"
    )
    lines.append(
        f"move {sum(m.remove for m in moves)} file(s) now in the running tree "
        f"({size / 2**20:.1f} MB, copy-verify-remove) to {paths.final_dl1} and "
        f"{paths.final_dl2}; copy {sum(not m.remove for m in moves)} log/history "
        "file(s)"
    )
    lines.append(f"write {paths.manifest} (SHA-256 of every file) then {paths.night_finished}")
    runs, runs_spec, _ = close_specs(config, plan)
    if runs_spec is not None:
        lines.append(
            f"jobs: close_runs array 0-{len(runs) - 1} (runs "
            f"{', '.join(f'{r:05d}' for r in runs)}), then close_night afterok"
        )
    else:
        lines.append("jobs: close_night")
    return lines


def close_night(
    config: Config,
    plan: Plan,
    executor: Executor | None = None,
    *,
    dry_run: bool = False,
    override: bool = False,
    reason: str = "",
) -> list[str]:
    executor = executor or get_executor(config)
    if dry_run:
        return describe(config, plan, executor, override)
    with night_lock(NightPaths(config, plan.night).lock, wait=30):
        return close_night_locked(config, plan, executor, override=override, reason=reason)


def close_night_locked(
    config: Config, plan: Plan, executor: Executor, *, override: bool = False, reason: str = ""
) -> list[str]:
    """Submit (or report on) the close jobs; the caller holds the night's lock."""
    from osa_core.submission import fresh_status

    paths = NightPaths(config, plan.night)
    if paths.night_finished.exists():
        return [f"night already closed ({paths.night_finished})"]
    journal, status = fresh_status(config, plan, executor)
    ready = readiness(status)
    forced = False
    if not ready.ready:
        if not override:
            raise NeedsOperator(ready.summary())
        if not reason.strip():
            raise NeedsOperator("closing a night that is not ready needs a reason")
        journal.append("close_override", reason=reason.strip(), missing=ready.missing)
        forced = True
    view = journal.read()
    earlier = [s for s in view.submissions if s.kind in (CLOSE_RUNS, CLOSE_NIGHT)]
    if earlier and not forced:
        result = executor.query([s.job_id for s in earlier])
        active = sorted({t.job_id for t in result.tasks if t.state in ACTIVE_STATES}, key=int)
        if active and result.complete:
            from osa_core.lost_ends import close_jobs_with_lost_end

            lost = close_jobs_with_lost_end(config, plan, result.tasks, earlier)
            ended = executor.end_lost(list(lost)) if lost else []
            if ended:
                journal.append("ended_lost", job_ids=ended, reason=lost[ended[0]])
                active = [job for job in active if job not in ended]
        if active:
            return [f"closing in progress: job(s) {', '.join(active)}"]
    ids = submit_close_chain(
        config, plan, executor, journal, after=(), force=forced, purpose="close"
    )
    return [
        f"submitted close_runs job {ids[0]} and close_night job {ids[1]} (after it)"
        if len(ids) == 2
        else f"submitted close_night job {ids[0]}"
    ]


def arm_close(
    config: Config, plan: Plan, executor: Executor, journal: Journal, after: list[str]
) -> list[str]:
    """Submit a close chained ``afterany`` on ``after`` (the night's active data jobs): the
    moment they all end it checks readiness from the files and closes, or exits quietly."""
    if plan.problems or NightPaths(config, plan.night).night_finished.exists():
        return []
    return submit_close_chain(
        config, plan, executor, journal, after=tuple(after), force=False, purpose="armed close"
    )


def submit_close_chain(
    config: Config,
    plan: Plan,
    executor: Executor,
    journal: Journal,
    *,
    after: tuple[str, ...],
    force: bool,
    purpose: str,
) -> list[str]:
    """close_runs (array over runs) then close_night ``afterok`` on it; returns job ids."""
    from osa_core.submission import PlannedJob, _submit

    paths = NightPaths(config, plan.night)
    _, runs_spec, night_spec = close_specs(config, plan, force=force)
    ensure_dir(paths.jobs_dir)
    ensure_dir(paths.log_dir)
    attempt = 1 + sum(1 for s in journal.read().submissions if s.kind == CLOSE_NIGHT)
    ids: list[str] = []
    night_after: tuple[str, ...] = after
    night_kind = "afterany"
    if runs_spec is not None:
        write_text_atomic(runs_spec.script, render_script(runs_spec))
        job = PlannedJob(
            run=0,
            kind=CLOSE_RUNS,
            indices=runs_spec.array,
            resources=config.slurm.close,
            dependencies=after,
            attempt=attempt,
            purpose=purpose,
            dependency_kind="afterany",
        )
        ids.append(_submit(executor, journal, runs_spec, job))
        night_after, night_kind = (ids[0],), "afterok"
    write_text_atomic(night_spec.script, render_script(night_spec))
    job = PlannedJob(
        run=0,
        kind=CLOSE_NIGHT,
        indices=None,
        resources=config.slurm.close,
        dependencies=night_after,
        attempt=attempt,
        purpose=purpose,
        dependency_kind=night_kind,
    )
    ids.append(_submit(executor, journal, night_spec, job))
    return ids
