"""A frozen, realistic night for console snapshots and Pilot tests.

The plan comes from a real generated night tree (real RunSummary, real planning); the
status is built here with a fixed mix of states, times and reasons, because a snapshot must
not depend on the clock or on how fast jobs ran. This replaces only the scheduler query
(which cannot give a deterministic picture), never the console's own logic.
"""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

from osa_core.closing.readiness import readiness
from osa_core.config import Config, load_config
from osa_core.executors.base import QueryResult
from osa_core.generator import GeneratedRun, NightSpec, generate_night
from osa_core.plan import build_plan
from osa_core.status import NightStatus, SequenceStatus, SubrunStatus
from osa_tui.engine import Engine, NightView

NIGHT = dt.date(2020, 2, 18)
FROZEN = dt.datetime(2020, 2, 19, 7, 30, 0, tzinfo=dt.timezone.utc)
SNAPSHOT_BASE = Path("/tmp/osa-console-snapshot-night")


def snapshot_config() -> Config:
    if SNAPSHOT_BASE.exists():
        shutil.rmtree(SNAPSHOT_BASE)
    SNAPSHOT_BASE.mkdir(parents=True)
    generate_night(
        SNAPSHOT_BASE,
        NightSpec(
            night=NIGHT,
            data_runs=4,
            subruns=60,
            extra_runs=[
                GeneratedRun(
                    2010, "DATA", 48, source=("Mrk 421", 166.1, 38.2), missing_on_disk=(47,)
                ),
                GeneratedRun(2011, "EDATA", 3),
            ],
        ),
    )
    (SNAPSHOT_BASE / "osa.toml").write_text('[paths]\nbase = "."\n[executor]\nkind = "local"\n')
    return load_config(SNAPSHOT_BASE / "osa.toml")


def _state_for(run: int, subrun: int) -> tuple[str, tuple[str, ...], str, int]:
    """Deterministic mix: most done, a running tail, some pending, a few failures."""
    if run == 2002:
        return "COMPLETED", ("r0_to_dl1", "dl1ab", "datacheck"), "", 1
    if run == 2003:
        if subrun == 17:
            return "FAILED", ("r0_to_dl1",), "dl1ab exited 1", 2
        if subrun == 41:
            return "OUT_OF_MEMORY", ("r0_to_dl1",), "memory limit exceeded", 1
        return "COMPLETED", ("r0_to_dl1", "dl1ab", "datacheck"), "", 1
    if run == 2004:
        if subrun < 35:
            return "COMPLETED", ("r0_to_dl1", "dl1ab", "datacheck"), "", 1
        if subrun < 45:
            return "RUNNING", ("r0_to_dl1",), "", 1
        return "PENDING", (), "Resources", 1
    if run == 2005:
        if subrun == 3:
            return "GIVEN_UP", (), "corrupted R0 (given up by shifter)", 2
        if subrun == 9:
            return "TIMEOUT", ("r0_to_dl1", "dl1ab"), "time limit reached", 1
        return "COMPLETED", ("r0_to_dl1", "dl1ab", "datacheck"), "", 1
    return "PENDING", (), "Dependency", 1


def frozen_view(config: Config) -> NightView:
    plan = build_plan(config, NIGHT)
    sequences = []
    for number, sequence in enumerate(plan.sequences):
        subs = []
        for index in sequence.subruns:
            if sequence.kind == "CALIBRATION":
                state, steps, reason, tries = "COMPLETED", ("drs4_baseline", "calibration"), "", 1
            else:
                state, steps, reason, tries = _state_for(sequence.run, index)
            failed = state in ("FAILED", "OUT_OF_MEMORY", "TIMEOUT")
            subs.append(
                SubrunStatus(
                    run=sequence.run,
                    subrun=index,
                    state=state,
                    attempts=tries,
                    job_id=str(100 + number) if state != "NOT_SUBMITTED" else "",
                    exit_code=1 if state == "FAILED" else 0 if state == "COMPLETED" else None,
                    elapsed=1800.0 + index,
                    cpu=1700.0,
                    max_rss=2_400_000_000,
                    steps_done=steps,
                    failed_step="dl1ab" if failed else None,
                    failed_rc=1 if failed else None,
                    failures=(("dl1ab", 1),) * (tries if failed else 0),
                    reason=reason,
                    scheduler_state=state,
                )
            )
        counts: dict[str, int] = {}
        for sub in subs:
            counts[sub.state] = counts.get(sub.state, 0) + 1
        total = len(subs) or 1
        percent = (
            {}
            if sequence.kind == "CALIBRATION"
            else {
                "DL1": 100 * sum("r0_to_dl1" in s.steps_done for s in subs) / total,
                "MUONS": 100 * sum("r0_to_dl1" in s.steps_done for s in subs) / total,
                "DL1AB": 100 * sum("dl1ab" in s.steps_done for s in subs) / total,
                "DCHECK": 100 * sum("datacheck" in s.steps_done for s in subs) / total,
                "DL2": 0.0,
            }
        )
        from osa_core.status import _aggregate

        sequences.append(
            SequenceStatus(
                sequence=sequence,
                state=_aggregate(subs),
                subruns=subs,
                counts=counts,
                percent=percent,
                job_ids=[str(100 + number)],
                attempts=max(s.attempts for s in subs),
                cpu=1700.0 * len(subs),
                exit_code=None,
            )
        )
    status = NightStatus(
        night=NIGHT,
        plan=plan,
        sequences=sequences,
        executor="SLURM",
        scheduler_ok=True,
        scheduler_message="",
        as_of=FROZEN,
    )
    journal = [
        {
            "time": "2020-02-19T07:02:11+00:00",
            "user": "shifter",
            "action": "submitted",
            "run": 2001,
            "job_id": "100",
            "purpose": "submit",
        },
        {
            "time": "2020-02-19T07:02:12+00:00",
            "user": "shifter",
            "action": "submitted",
            "run": 2002,
            "job_id": "101",
            "indices": list(range(60)),
            "purpose": "submit",
        },
        {
            "time": "2020-02-19T07:25:40+00:00",
            "user": "cron",
            "action": "submitted",
            "run": 2003,
            "job_id": "107",
            "indices": [17],
            "purpose": "resubmit",
        },
        {
            "time": "2020-02-19T07:28:03+00:00",
            "user": "shifter",
            "action": "give_up",
            "run": 2005,
            "indices": [3],
            "reason": "corrupted R0",
        },
    ]
    return NightView(
        night=NIGHT,
        plan=plan,
        status=status,
        readiness=readiness(status),
        journal=journal,
        refreshed=FROZEN,
    )


class FrozenEngine(Engine):
    """The real Engine with its scheduler view replaced by the frozen night."""

    def __init__(self, config: Config, view: NightView, read_only: bool = False) -> None:
        super().__init__(config, read_only=read_only, executor=_NoScheduler())
        self.view = view
        self.loads = 0

    def load(self, night: dt.date) -> NightView:
        self.loads += 1
        return (
            self.view
            if night == self.view.night
            else NightView(
                night=night,
                plan=None,
                status=None,
                readiness=None,
                journal=[],
                error=f"no RunSummary for {night}",
                refreshed=FROZEN,
            )
        )


class _NoScheduler:
    name = "frozen"

    def describe(self) -> str:
        return "SLURM"

    def query(self, job_ids):  # pragma: no cover - never called by the frozen engine
        return QueryResult()
