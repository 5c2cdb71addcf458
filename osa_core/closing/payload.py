"""The close jobs' payload: per-run products (array task per run) and the night's finish.

``python -m osa_core.closing.payload --config C --date D runs --runs 2008,2009`` takes its
run from ``SLURM_ARRAY_TASK_ID`` (the position in ``--runs``) and makes the run's merged
DL1b and muons, run-wise datacheck and DL2 with the real lstchain tools, staged from exactly
the completed subruns. ``... night`` runs the night-wise datacheck, writes provenance,
moves everything to the final tree with checksums, writes the manifest and NightFinished.
Every step is recorded and skipped when already done, so a close rerun after a crash
finishes the work instead of redoing it.
"""

from __future__ import annotations

import argparse
import os
import sys

from osa_core.closing.context import CloseNightContext, CloseRunContext
from osa_core.closing.finalize import (
    link_longterm,
    move_products,
    rename_map,
    run_prod_ids,
    verify_manifest,
    write_manifest,
    write_night_finished,
)
from osa_core.closing.layout import completed_subruns, disk_readiness, stage_run_inputs
from osa_core.closing.provenance import write_run_provenance
from osa_core.config import Config, load_config
from osa_core.errors import Locked, OsaError
from osa_core.faults import fault_point
from osa_core.fsio import SHARED_UMASK, read_json_lines
from osa_core.history import TOLERATED, read_history, summarize
from osa_core.journal import Journal
from osa_core.locking import night_lock
from osa_core.paths import CloseLayout, NightPaths, parse_night
from osa_core.payload import log, run_steps
from osa_core.plan import Plan, build_plan
from osa_core.steps import CLOSE_NIGHT_STEPS, CLOSE_RUN_STEPS


def close_run(config: Config, plan: Plan, run: int) -> int:
    paths = NightPaths(config, plan.night)
    layout = CloseLayout(paths)
    # Two close chains may run at once (an armed one and an operator's): one per run at a
    # time; the second finds the steps done in the history and skips them.
    with night_lock(layout.close_dir / f"close_{run}.lock", wait=6 * 3600):
        return _close_run_locked(config, plan, run, paths, layout)


def _close_run_locked(
    config: Config, plan: Plan, run: int, paths: NightPaths, layout: CloseLayout
) -> int:
    if moving_started(layout):
        # the night's products are already moving to the final tree: every close step
        # succeeded before the first move (making them again would read moved inputs)
        log(f"close run {run}: the move to the final tree has begun; nothing to make")
        return 0
    sequence = plan.sequence_for_run(run)
    completed = completed_subruns(paths, run, sequence.subruns)
    log(f"close run {run}: {len(completed)}/{len(sequence.subruns)} subruns complete")
    stage_run_inputs(layout, run, completed)
    context = CloseRunContext(config, plan.night, run, tuple(completed))
    return run_steps(config, context, CLOSE_RUN_STEPS, layout.run_history(run))


def close_night_products(config: Config, plan: Plan) -> int:
    paths = NightPaths(config, plan.night)
    try:
        with night_lock(paths.closer_lock, wait=0):
            return _close_night_locked(config, plan, paths)
    except Locked:
        log("another closer is finishing this night; nothing to do")
        return 0


def _close_night_locked(config: Config, plan: Plan, paths: NightPaths) -> int:
    layout = CloseLayout(paths)
    if paths.night_finished.exists():
        log("night already finished")
        return 0
    journal = Journal(paths.journal)
    if moving_started(layout):
        # a close killed while moving: the steps and provenance were done before the first
        # move; resume the move from its record, never remake what moved
        log("the move to the final tree had begun: resuming it from its record")
        return _finish(config, plan, paths, journal)
    has_datacheck = any(layout.run_datacheck_file(s.run).exists() for s in plan.data_sequences)
    context = CloseNightContext(config, plan.night, has_datacheck)
    rc = run_steps(config, context, CLOSE_NIGHT_STEPS, layout.night_history)
    if rc != 0:
        return rc
    notes = summarize(read_history(layout.night_history)).last_note_of
    for step in CLOSE_NIGHT_STEPS:
        if notes.get(step, "").startswith(TOLERATED):
            log(f"{step}: {notes[step]}")
            if not any(
                e.get("action") == "close_problem" and e.get("step") == step
                for e in journal.read().entries
            ):
                journal.append("close_problem", step=step, note=notes[step])
    renames = rename_map(paths)
    calibration_run = plan.calibration.pedcal_run if plan.calibration else None
    for sequence in plan.data_sequences:
        write_run_provenance(
            config,
            paths,
            sequence.run,
            sequence.subruns,
            calibration_run,
            renames,
            layout.close_dir / "provenance",
        )
    fault_point("provenance written")
    return _finish(config, plan, paths, journal)


def moving_started(layout: CloseLayout) -> bool:
    """True once the first product was copied to the final tree (the move record exists)."""
    return bool(read_json_lines(layout.moves_record))


def _finish(config: Config, plan: Plan, paths: NightPaths, journal: Journal) -> int:
    """Move (resumable), verify, manifest, NightFinished."""
    entries = move_products(paths)
    for link in link_longterm(paths):
        log(f"night-wise datacheck linked: {link}")
    problems = verify_manifest(paths, entries)
    if problems:
        log(f"manifest check failed: {problems[0]} (and {len(problems) - 1} more)")
        return 1
    write_manifest(paths, entries)
    lines = []
    for sequence in plan.data_sequences:
        dl1_id, dl2_id = run_prod_ids(paths, sequence.run)
        lines.append(
            f"run {sequence.run:05d} subruns {len(sequence.subruns)} dl1 {dl1_id} dl2 {dl2_id}"
        )
    write_night_finished(paths, entries, lines)
    journal.append("closed", files=len(entries), bytes=sum(e["size"] for e in entries))
    log(f"night closed: {len(entries)} files in the final tree, manifest {paths.manifest}")
    return 0


def main(argv: list[str] | None = None) -> int:
    os.umask(SHARED_UMASK)  # the tools' outputs are the group's, like ours (fsio)
    parser = argparse.ArgumentParser(prog="python -m osa_core.closing.payload")
    parser.add_argument("--config", required=True)
    parser.add_argument("--date", required=True)
    parser.add_argument(
        "--force",
        action="store_true",
        help="close even if not every subrun is done (an operator override)",
    )
    sub = parser.add_subparsers(dest="kind", required=True)
    runs = sub.add_parser("runs")
    runs.add_argument("--runs", required=True, help="comma-separated run numbers")
    runs.add_argument("--index", type=int, help="default: $SLURM_ARRAY_TASK_ID")
    sub.add_parser("night")
    args = parser.parse_args(argv)
    try:
        config = load_config(args.config, check_paths=False)
        plan = build_plan(config, parse_night(args.date), write_cache=False)
        if not args.force:
            ready = disk_readiness(config, plan)
            if ready.closed:
                log("night already closed")
                return 0
            if not ready.ready:
                # An armed close whose data jobs ended with failures: nothing to do yet;
                # a resubmission arms a new close, an operator can give up or override.
                log(f"not closing yet: {ready.summary()}")
                return 0
        if args.kind == "night":
            return close_night_products(config, plan)
        run_list = [int(r) for r in args.runs.split(",") if r]
        index = (
            args.index
            if args.index is not None
            else int(os.environ.get("SLURM_ARRAY_TASK_ID", "-1"))
        )
        if not 0 <= index < len(run_list):
            log(f"array index {index} outside the {len(run_list)} runs")
            return 2
        return close_run(config, plan, run_list[index])
    except OsaError as err:
        log(f"error: {err}")
        return 2
    except OSError as err:
        log(f"error: {err.filename or ''}: {err.strerror}")
        return 74


if __name__ == "__main__":
    sys.exit(main())
