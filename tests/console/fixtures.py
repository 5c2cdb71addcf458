"""A frozen, realistic night for console snapshots and Pilot tests.

The plan comes from a real generated night tree (real RunSummary, real planning); the
status is built here with a fixed mix of states, times and reasons, because a snapshot must
not depend on the clock or on how fast jobs ran. This replaces only the scheduler query
(which cannot give a deterministic picture), never the console's own logic.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import shutil
from pathlib import Path

import numpy as np

from osa_core.campaign import Campaign, create_campaign
from osa_core.config import Config, load_config
from osa_core.dq.frames import run_frame, subrun_frame
from osa_core.dq.muons import MUON_COLUMNS
from osa_core.dq.reader import RECORD_COLUMNS
from osa_core.dq.rules import evaluate
from osa_core.dq.summary import NightDQ
from osa_core.executors.api import QueryResult
from osa_core.generator import GeneratedRun, NightSpec, generate_night
from osa_core.history import StepRecord, append_record
from osa_core.paths import NightPaths
from osa_core.plan import Plan, build_plan
from osa_core.rules.readiness import readiness
from osa_core.run_calibration import CatB, Models, RunCalibration, Tailcuts
from osa_core.status import NightStatus, RunCalibrationStatus, SequenceStatus, SubrunStatus
from osa_core.vocabulary import State
from osa_tui.engine import CampaignView, Engine, NightView

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
    write_logs(SNAPSHOT_BASE)
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


def _run_calibration(run: int) -> tuple[RunCalibrationStatus, str]:
    """Each run's phase 2, frozen: decided (the finder's cleaning, or the fallback with its
    reason), or still running, as a per-run night shows them."""
    decided = {
        2002: RunCalibration(
            2002,
            Tailcuts("dl1ab_Run02002.json", "tailcut84", 8, 4, 0.13),
            CatB("cat_B_calibration_filters_52.Run02002.h5"),
            Models("models/AllSky/x", "tailcut84/nsb_tuning_0.14", "NSB 0.13 -> 0.14"),
            "2020-02-19T07:40:00+00:00",
        ),
        2003: RunCalibration(
            2003,
            Tailcuts(
                None, "tailcut84", 8, 4, None, "41 pedestal events < 100 in every sampled subrun"
            ),
            CatB(None, "too few interleaved flat-field events"),
            Models("models/AllSky/y", "tailcut84/nsb_tuning_0.14", "dark-sky models"),
            "2020-02-19T07:41:00+00:00",
        ),
        2005: RunCalibration(
            2005,
            Tailcuts("dl1ab_Run02005.json", "tailcut1005", 10, 5, 0.46),
            CatB("cat_B_calibration_filters_52.Run02005.h5"),
            Models("models/AllSky/z", "tailcut1005/nsb_tuning_0.50", "NSB 0.46 -> 0.50"),
            "2020-02-19T07:42:00+00:00",
        ),
    }
    if run in decided:
        return RunCalibrationStatus(
            State.COMPLETED, job_id=f"2{run}", attempts=1, record=decided[run]
        ), ""
    return (
        RunCalibrationStatus(State.PENDING, job_id=f"2{run}", attempts=1, reason="Dependency"),
        f"run calibration pending (job 2{run})",
    )


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
        from osa_core.status import aggregate_state as _aggregate

        runcal, waiting = _run_calibration(sequence.run)
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
                run_calibration=runcal if sequence.kind != "CALIBRATION" else None,
                waiting=waiting,
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
        dq=frozen_dq(config, plan),
    )


def frozen_dq(config: Config, plan: Plan) -> NightDQ:
    """The night's data quality as the DQ reader builds it (subrun records, the run table,
    the rules' flags), from seeded numbers instead of datacheck files: the DQ screen of
    the snapshots shows real tables, sparklines and flags. Run 2003 has clouds (a cosmic
    rate drop over subruns 20-27), run 2005 a noisy camera (pedestal charge std high)."""
    rng = np.random.default_rng(18)
    columns: dict[str, list[float]] = {name: [] for name in RECORD_COLUMNS}
    muons: dict[str, list[float]] = {name: [] for name in MUON_COLUMNS}
    sources = []
    for sequence in plan.data_sequences:
        for subrun in sequence.subruns:
            rate = 5200.0 * (0.45 if sequence.run == 2003 and 20 <= subrun < 28 else 1.0)
            elapsed = 10.2
            values = {
                "run": sequence.run,
                "subrun": subrun,
                "time": 1582059600.0 + 600 * (sequence.run - 2002) + 10.2 * subrun,
                "elapsed": elapsed,
                "cosmics_events": rate * elapsed * rng.normal(1, 0.01),
                "cosmics_cleaned": rate * elapsed * 0.93,
                "cosmics_frac10": 0.18 + rng.normal(0, 0.005),
                "cosmics_frac30": 0.04 + rng.normal(0, 0.002),
                "ped_events": 100 * elapsed,
                "ped_cleaned": 8.0,
                "ped_charge_mean": 0.4 + rng.normal(0, 0.02),
                "ped_charge_std": (3.1 if sequence.run == 2005 else 1.3) + rng.normal(0, 0.05),
                "ped_frac10": 0.001,
                "ped_frac30": 0.0,
                "ff_events": 100 * elapsed,
                "ff_charge_mean": 69.0 + rng.normal(0, 0.4),
                "ff_charge_std": 4.1,
                "ff_time_mean": 18.4,
                "ff_rel_time_std": 0.35,
                "alt": 62.0 - 0.05 * subrun,
                "az": 160.0 + 0.1 * subrun,
                "ra": 83.63,
                "dec": 22.01,
                "tagged_events": rate * elapsed,
                "wrong_ucts": 0.0,
                "wrong_tib": 0.0,
                "unknown_ucts": 0.0,
                "unknown_tib": 0.0,
                "ucts_jumps": 0.0,
            }
            for name in RECORD_COLUMNS:
                columns[name].append(values[name])
            muons["mu_rings"].append(float(rng.poisson(6)))
            muons["mu_efficiency"].append(0.21 + rng.normal(0, 0.01))
            muons["mu_width"].append(0.045 + rng.normal(0, 0.002))
            sources.append(f"datacheck_dl1_LST-1.Run{sequence.run:05d}.h5")
    data = {k: np.asarray(v) for k, v in {**columns, **muons}.items()}
    subruns = subrun_frame([(data, "frozen")])
    subruns["source"] = sources
    runs = run_frame(subruns)
    return NightDQ(
        night=NIGHT,
        config=config.dq,
        subruns=subruns,
        runs=runs,
        flags=evaluate(subruns, runs, config.dq),
    )


def write_logs(base: Path) -> None:
    """The failed subrun's job logs and history, as the payload and lstchain write them:
    the Logs screen of the snapshots shows a real traceback."""
    config = load_config(base / "osa.toml")
    paths = NightPaths(config, NIGHT)
    paths.log_dir.mkdir(parents=True, exist_ok=True)
    stamp = "2020-02-19T07:12:0{}+00:00"
    for index, step in enumerate(("r0_to_dl1", "dl1ab")):
        append_record(
            paths.history_file(2003, 17),
            StepRecord(
                2003,
                17,
                step,
                "v0.12",
                stamp.format(index),
                stamp.format(index + 1),
                1 if step == "dl1ab" else 0,
                peak_rss=2_400_000_000,
            ),
        )
    (paths.log_dir / "Run02003.0017_102.out").write_text(
        "[osa 07:10:02] data run 2003 subrun 17: history .../history/Run02003.0017.jsonl\n"
        "[osa 07:10:02] r0_to_dl1: fork lstchain_data_r0_to_dl1 --input-file="
        "R0/20200218/LST-1.1.Run02003.0017.fits.fz --output-dir=running_analysis/20200218/"
        "v0.12/dl1a\n"
        "[osa 07:11:41] r0_to_dl1: rc=0 in 99.2 s, peak 2.24 GB\n"
        "[osa 07:11:41] dl1ab: fork lstchain_dl1ab --input-file=running_analysis/20200218/"
        "v0.12/dl1a/dl1_LST-1.Run02003.0017.h5\n"
        "[osa 07:12:03] dl1ab: rc=1 in 21.6 s, peak 1.02 GB\n"
    )
    (paths.log_dir / "Run02003.0017_102.err").write_text(
        "Traceback (most recent call last):\n"
        '  File "lstchain/scripts/lstchain_dl1ab.py", line 211, in main\n'
        "    image = image[~unusable_pixels]\n"
        "ValueError: shape mismatch: value array of shape (1855,) could not be broadcast "
        "to indexing result of shape (1850,)\n"
    )


class FrozenEngine(Engine):
    """The real Engine with its scheduler view replaced by the frozen night."""

    def __init__(self, config: Config, view: NightView, read_only: bool = False) -> None:
        super().__init__(config, read_only=read_only, executor=_NoScheduler())
        self.view = view
        self.loads = 0

    def load(self, night: dt.date, ask_scheduler: bool = True) -> NightView:
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


# --- a frozen campaign (the campaign screen's snapshots) ------------------------------------
CAMPAIGN_BASE = Path("/tmp/osa-console-snapshot-campaign")
CAMPAIGN_FIRST = dt.date(2023, 1, 10)
CAMPAIGN_CREATED = dt.datetime(2023, 3, 1, 8, 0, tzinfo=dt.timezone.utc)


def snapshot_campaign() -> tuple[Config, Campaign]:
    """A 40-night campaign in a fixed state: 19 nights closed and one without data (20
    done), 5 running, 2 needing an operator (a retry limit, a night that could not start),
    13 waiting. The states are written as files exactly where ``night_state`` reads them
    (NightFinished, the night's journal, the campaign's journal), with fixed times so the
    throughput and the ETA do not depend on the clock. No RunSummary: nothing is planned."""
    if CAMPAIGN_BASE.exists():
        shutil.rmtree(CAMPAIGN_BASE)
    CAMPAIGN_BASE.mkdir(parents=True)
    (CAMPAIGN_BASE / "osa.toml").write_text('[paths]\nbase = "."\n[executor]\nkind = "local"\n')
    config = load_config(CAMPAIGN_BASE / "osa.toml")
    nights = [CAMPAIGN_FIRST + dt.timedelta(days=i) for i in range(40)]
    dates = CAMPAIGN_BASE / "nights.txt"
    dates.write_text("".join(f"{night}\n" for night in nights))
    campaign = create_campaign(
        config, "v013", "v0.13", dates_file=dates, first=None, last=None, cap=2500, window=None
    )
    campaign = dataclasses.replace(campaign, created=CAMPAIGN_CREATED.isoformat())
    data = json.loads((campaign.folder / "campaign.json").read_text())
    data["created"] = campaign.created
    (campaign.folder / "campaign.json").write_text(json.dumps(data))
    campaign_config = load_config(campaign.config_path)

    entries = [
        {"time": CAMPAIGN_CREATED.isoformat(), "action": "created", "prod_id": "v0.13", "cap": 2500}
    ]

    def note(minutes: int, action: str, night: dt.date, state: str, **extra: object) -> None:
        """A campaign journal line as run_campaign writes it, at a fixed time."""
        when = (CAMPAIGN_CREATED + dt.timedelta(minutes=minutes)).isoformat()
        line = {"time": when, "action": action, "night": night.isoformat(), "state": state}
        entries.append({**line, **extra})

    for index, night in enumerate(nights):
        paths = NightPaths(campaign_config, night)
        if index == 8:
            note(60, "skipped", night, "done (no data)")
        elif index == 31:
            why = "RunSummary_20230210.ecsv line 4: not a run type: 'DAT'"
            note(300, "needs_operator", night, f"needs operator: {why}")
        elif index < 26:
            note(12 * index, "started", night, "running", tasks=400 + 37 * (index % 7))
            paths.journal.parent.mkdir(parents=True, exist_ok=True)
            paths.journal.write_text('{"action": "intent"}\n')
            if index == 22:
                why = "run 05012 subrun 131: 3 attempts (limit 3)"
                note(290, "needs_operator", night, f"needs operator: {why}")
            elif index < 20:
                note(40 + 12 * index, "closed", night, "done")
                paths.night_finished.parent.mkdir(parents=True, exist_ok=True)
                paths.night_finished.write_text("closed\n")
                # the throughput counts the flags' times: the same as the journal's
                closed_at = (CAMPAIGN_CREATED + dt.timedelta(minutes=40 + 12 * index)).timestamp()
                os.utime(paths.night_finished, (closed_at, closed_at))
    campaign.journal.path.write_text("".join(json.dumps(e) + "\n" for e in entries))
    return campaign_config, campaign


class FrozenCampaignEngine(Engine):
    """The real Engine (the campaign is read from its files) with a fixed refresh time."""

    def __init__(self, config: Config) -> None:
        super().__init__(config, executor=_NoScheduler())

    def load_campaign(self, campaign: Campaign) -> CampaignView:
        view = super().load_campaign(campaign)
        return dataclasses.replace(view, refreshed=FROZEN - dt.timedelta(seconds=4))
