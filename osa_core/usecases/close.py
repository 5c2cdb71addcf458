"""``osa close``: close a night with jobs on the configured executor, not sleep loops.

When the night is ready (or an operator overrides, with a reason in the journal), the
close chain is submitted (``osa_core.rules.closing``). Closing again while it runs says
so; closing again after a failure or a crash resubmits it, and its payload skips what was
already done; closing a closed night does nothing.
"""

from __future__ import annotations

from osa_core.closing.context import run_models
from osa_core.closing.finalize import planned_moves
from osa_core.closing.jobs import close_specs
from osa_core.closing.layout import completed_subruns
from osa_core.config import Config
from osa_core.dispatch import act
from osa_core.errors import NeedsOperator
from osa_core.executors.api import Executor
from osa_core.executors.factory import get_executor
from osa_core.jobs import compact_ranges
from osa_core.locking import night_lock
from osa_core.paths import NightPaths
from osa_core.plan import Plan
from osa_core.rules.closing import CloseDecision, decide_close
from osa_core.rules.readiness import readiness
from osa_core.snapshot import NightSnapshot
from osa_core.usecases.common import observed, prepared
from osa_core.vocabulary import JobKind

LOCK_WAIT_SECONDS = 30


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
    with night_lock(NightPaths(config, plan.night).lock, wait=LOCK_WAIT_SECONDS):
        snapshot, _ = prepared(config, plan, executor)
        return close_from(snapshot, executor, override=override, reason=reason)


def close_from(
    snapshot: NightSnapshot,
    executor: Executor,
    *,
    override: bool = False,
    reason: str = "",
    automatic: bool = False,
) -> list[str]:
    """Decide and carry out the close from a snapshot taken under the night's lock."""
    decided: CloseDecision = decide_close(
        snapshot, override=override, reason=reason, automatic=automatic
    )
    acted = act(snapshot, executor, decided.decision) if decided.decision.intents else None
    lines = list(acted.lines) if acted else []
    if decided.needs_operator:
        raise NeedsOperator(decided.needs_operator)
    if decided.message:
        return [*lines, decided.message]
    assert acted is not None
    ids = {job.kind: job.job_id for job in acted.jobs}
    if JobKind.CLOSE_RUNS in ids:
        lines.append(
            f"submitted close_runs job {ids[JobKind.CLOSE_RUNS]} and close_night job "
            f"{ids[JobKind.CLOSE_NIGHT]} (after it)"
        )
    else:
        lines.append(f"submitted close_night job {ids[JobKind.CLOSE_NIGHT]}")
    return lines


def describe(config: Config, plan: Plan, executor: Executor, override: bool) -> list[str]:
    """Every action the close would take (the dry run)."""
    paths = NightPaths(config, plan.night)
    if paths.night_finished.exists():
        return [f"night {plan.night} is already closed ({paths.night_finished})"]
    snapshot = observed(config, plan, executor, settle=False)
    ready = readiness(snapshot.status)
    lines = [
        ready.summary() + (" — closing anyway (override)" if override and not ready.ready else "")
    ]
    layout = paths.close
    for sequence in plan.data_sequences:
        done = completed_subruns(paths, sequence.run, sequence.subruns)
        missing = sorted(set(sequence.subruns) - set(done))
        left = f" (without {compact_ranges(missing)})" if missing else ""
        if not done:
            lines.append(f"run {sequence.run:05d}: no completed subrun: nothing to merge")
            continue
        # the run's own models with the per-run workflow (its phase 2 chose them)
        models, why = run_models(config, plan.night, sequence.run)
        dl2 = f"DL2 with models {models}" if models else why
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
