"""Sequences: calibration choice (with look-back), data sequences, exclusions."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from osa_core.config import Config, load_config
from osa_core.generator import GeneratedRun, NightSpec, generate_night
from osa_core.plan import build_plan
from osa_core.vocabulary import JobKind
from tests.conftest import NIGHT, write_config


def test_calibration_first_then_one_data_sequence_per_run(config: Config) -> None:
    plan = build_plan(config, NIGHT)
    assert [s.kind for s in plan.sequences] == [
        JobKind.CALIBRATION,
        JobKind.DATA,
        JobKind.DATA,
        JobKind.DATA,
    ]
    calib = plan.sequences[0]
    assert (calib.drs4_run, calib.run, calib.parent) == (2000, 2001, None)
    assert all(s.parent == 0 for s in plan.data_sequences)
    assert [s.run for s in plan.data_sequences] == [2002, 2003, 2004]
    assert plan.total_subruns == 12
    assert not plan.problems


def test_highest_calibration_runs_win(tmp_path: Path) -> None:
    generate_night(
        tmp_path,
        NightSpec(
            night=NIGHT,
            data_runs=1,
            extra_runs=[
                GeneratedRun(2010, "DRS4", 1),
                GeneratedRun(2011, "PEDCALIB", 1),
                GeneratedRun(2012, "ERRPEDCALIB", 1),
            ],
        ),
    )
    plan = build_plan(load_config(write_config(tmp_path)), NIGHT)
    assert plan.calibration is not None
    assert (plan.calibration.drs4_run, plan.calibration.pedcal_run) == (2010, 2011)
    reasons = {e.run: e.reason for e in plan.excluded}
    assert reasons[2000] == "calibration run"  # the lower DRS4 is not used
    assert "excluded by operator" in reasons[2012]


def test_lookback_uses_the_last_good_night_and_says_so(tmp_path: Path) -> None:
    earlier = NIGHT - dt.timedelta(days=2)
    generate_night(tmp_path, NightSpec(night=earlier, data_runs=1, first_run=1900))
    generate_night(tmp_path, NightSpec(night=NIGHT, data_runs=2, with_calibration=False))
    plan = build_plan(load_config(write_config(tmp_path)), NIGHT)
    assert plan.calibration is not None
    assert plan.calibration.night == earlier and plan.calibration.lookback == 2
    assert (plan.calibration.drs4_run, plan.calibration.pedcal_run) == (1900, 1901)
    assert any("using DRS4 1900 + PEDCALIB 1901 from 2020-02-16" in w for w in plan.warnings)
    assert plan.sequences[0].night == earlier


def test_lookback_is_bounded(tmp_path: Path) -> None:
    generate_night(
        tmp_path, NightSpec(night=NIGHT - dt.timedelta(days=5), data_runs=1, first_run=1900)
    )
    generate_night(tmp_path, NightSpec(night=NIGHT, data_runs=2, with_calibration=False))
    plan = build_plan(load_config(write_config(tmp_path)), NIGHT)
    assert plan.calibration is None
    assert plan.problems and "nor the 4 nights before" in plan.problems[0]
    assert all(s.parent is None for s in plan.data_sequences)


def test_existing_calibration_products_need_no_job(config: Config) -> None:
    from osa_core.paths import NightPaths

    paths = NightPaths(config, NIGHT)
    for path in (paths.drs4_file(2000), paths.calibration_file(2001, 52)):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x")
    plan = build_plan(config, NIGHT)
    assert plan.calibration is not None and plan.calibration.products_exist
    assert not plan.sequences[0].needs_job


def test_data_run_declared_without_files_is_awaited_not_excluded(tmp_path: Path) -> None:
    """A run the RunSummary declares whose files have not landed is awaited: excluding it
    (as before issue 15) let a night close without a run that landed later."""
    generate_night(
        tmp_path,
        NightSpec(
            night=NIGHT,
            data_runs=1,
            extra_runs=[GeneratedRun(2100, "DATA", 3, missing_on_disk=(0, 1, 2))],
        ),
    )
    plan = build_plan(load_config(write_config(tmp_path)), NIGHT)
    assert not [e for e in plan.excluded if e.run == 2100]
    assert [(s.run, s.awaited) for s in plan.awaited_runs] == [(2100, (0, 1, 2))]
    assert 2100 not in [s.run for s in plan.data_sequences]  # no job, no merge for it yet


def test_subruns_declared_but_not_on_disk_are_awaited(tmp_path: Path) -> None:
    generate_night(
        tmp_path,
        NightSpec(
            night=NIGHT,
            data_runs=0,
            extra_runs=[GeneratedRun(2100, "DATA", 5, missing_on_disk=(1, 4))],
        ),
    )
    plan = build_plan(load_config(write_config(tmp_path)), NIGHT)
    sequence = plan.sequence_for_run(2100)
    assert (sequence.subruns, sequence.awaited) == ((0, 2, 3), (1, 4))


def test_plan_json_round_trip_fields(config: Config) -> None:
    data = build_plan(config, NIGHT).to_dict()
    assert data["night"] == "2020-02-18"
    assert data["sequences"][1]["subruns"] == [0, 1, 2, 3]
    assert data["calibration"]["description"].startswith("DRS4 2000 + PEDCALIB 2001")
