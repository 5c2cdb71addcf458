"""Jobs whose end the scheduler lost: SLURM still says RUNNING, the work is long done.

Found by the fault trials (tests/integration/test_slurm_fault_trials.py): slurmctld killed
with -9 recovers the state it saved last. A job that ended after that save is recovered as
RUNNING, slurmd no longer knows it, and SLURM 22.05 leaves it so until its time limit
(hours). Worse, the jobs chained ``afterok`` on it (every data array on the calibration,
the close on the data) wait for ever. The payload's own record says the truth: every step
of every subrun of that job succeeded, and its history has not moved for minutes.

Such a job is ended by the next tick: the dependency on it is removed from our pending
jobs (its work is done, so what waited for it may start), then it is cancelled (its
subruns stay COMPLETED: the histories decide once the scheduler no longer says RUNNING),
and the journal says so. Nothing is resubmitted and no finished work runs again.

All three rules are pure functions of a snapshot.
"""

from __future__ import annotations

from osa_core.snapshot import NightSnapshot
from osa_core.steps import CALIBRATION_STEPS, CLOSE_RUN_STEPS, DATA_STEPS
from osa_core.vocabulary import ACTIVE_STATES, JobKind, State, sorted_job_ids

# A payload exits within a second of its last step; two minutes of silence after all
# steps succeeded, while the scheduler says RUNNING, is a lost end, not a slow exit.
LOST_END_AFTER_SECONDS = 120.0


def jobs_with_lost_end(snapshot: NightSnapshot) -> dict[str, str]:
    """Job id → why, for analysis jobs SLURM reports RUNNING although every subrun of the
    job finished all its steps more than ``LOST_END_AFTER_SECONDS`` ago."""
    by_job: dict[str, list[tuple[int, int, bool, bool]]] = {}
    for sequence in snapshot.status.sequences:
        kind = sequence.sequence.kind
        steps = CALIBRATION_STEPS if kind == JobKind.CALIBRATION else DATA_STEPS
        for subrun in sequence.subruns:
            if subrun.job_id:
                complete = set(subrun.steps_done) >= set(steps)
                running = subrun.scheduler_state == State.RUNNING
                by_job.setdefault(subrun.job_id, []).append(
                    (subrun.run, subrun.subrun, complete, running)
                )
    lost: dict[str, str] = {}
    for job_id, members in by_job.items():
        if not any(running for *_, running in members):
            continue
        if not all(complete for _, _, complete, _ in members):
            continue
        quiet = min(
            snapshot.now - snapshot.history_mtimes.get((run, subrun), snapshot.now)
            for run, subrun, _, _ in members
        )
        if quiet > LOST_END_AFTER_SECONDS:
            lost[job_id] = (
                f"SLURM says RUNNING but every step ended {quiet:.0f} s ago "
                "(the controller lost the job's end)"
            )
    return lost


def close_jobs_with_lost_end(snapshot: NightSnapshot) -> dict[str, str]:
    """Job id → why, for close_runs jobs SLURM reports RUNNING although every run's close
    history records every per-run close step done, untouched for the same two minutes.
    Their close_night (chained ``afterok``) would otherwise wait for ever."""
    running = {t.job_id for t in snapshot.tasks.values() if t.state == State.RUNNING}
    candidates = [
        s.job_id for s in snapshot.journal.of_kind(JobKind.CLOSE_RUNS) if s.job_id in running
    ]
    if not candidates:
        return {}
    histories = [snapshot.close_histories.get(s.run) for s in snapshot.plan.data_sequences]
    if not all(h is not None and set(CLOSE_RUN_STEPS) <= h[0].done for h in histories):
        return {}
    quiet = min((snapshot.now - h[1] for h in histories if h is not None), default=0.0)
    if quiet <= LOST_END_AFTER_SECONDS:
        return {}
    why = f"SLURM says RUNNING but every run was closed {quiet:.0f} s ago (end lost)"
    return {job_id: why for job_id in candidates}


def leftovers(snapshot: NightSnapshot, finished_at: float) -> list[str]:
    """Jobs of a FINISHED night still active in the scheduler 120 s after it finished.

    The night's products are in the final tree, so nothing of that night has work left:
    such a job is one SLURM brought back from a state saved before it ended (slurmctld
    killed with -9), or a close re-armed just before the end. Left alone it holds its
    CPUs until its time limit. Ended like a lost end."""
    if snapshot.now - finished_at < LOST_END_AFTER_SECONDS or not snapshot.query.reachable:
        return []
    return sorted_job_ids(t.job_id for t in snapshot.query.tasks if t.state in ACTIVE_STATES)
