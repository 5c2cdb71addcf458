"""The DQ rules as pure functions on small hand-made subrun/run tables.

The reader is tested on real lstchain files in tests/integration/test_dq_real.py; here
each rule is checked on the few rows that make it fire or stay quiet, including the rule
that unknown figures (NaN) never fire.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd
import pytest

from osa_core.config import DQ_RULE_NAMES, DQConfig
from osa_core.dq.frames import SUBRUN_COLUMNS, run_frame, subrun_frame
from osa_core.dq.reader import COUNT_COLUMNS, RECORD_COLUMNS
from osa_core.dq.rules import RULES, evaluate
from osa_core.dq.summary import summarize_flags

CFG = DQConfig()


def _subruns(rows: list[dict], run: int = 2009) -> pd.DataFrame:
    """A subrun table: healthy 10 s subruns unless a row says otherwise."""
    columns: dict[str, list[float]] = {name: [] for name in RECORD_COLUMNS}
    for index, changes in enumerate(rows):
        record = {
            "run": run,
            "subrun": index,
            "time": 1.582e9 + 10 * index,
            "elapsed": 10.0,
            "cosmics_events": 60000.0,
            "cosmics_cleaned": 58000.0,
            "cosmics_frac10": 0.01,
            "cosmics_frac30": 0.004,
            "ped_events": 1000.0,
            "ped_cleaned": 5.0,
            "ped_charge_mean": 0.2,
            "ped_charge_std": 1.2,
            "ped_frac10": 0.0,
            "ped_frac30": 0.0,
            "ff_events": 1000.0,
            "ff_charge_mean": 69.0,
            "ff_charge_std": 8.0,
            "ff_time_mean": 16.0,
            "ff_rel_time_std": 0.23,
            "alt": 60.0,
            "az": 160.0,
            "ra": 100.0,
            "dec": 0.3,
            "tagged_events": 62000.0,
            "wrong_ucts": 0.0,
            "wrong_tib": 0.0,
            "unknown_ucts": 0.0,
            "unknown_tib": 0.0,
            "ucts_jumps": 0.0,
        }
        record.update(changes)
        for name in RECORD_COLUMNS:
            columns[name].append(float(record[name]))
    frame = subrun_frame([(columns, "subrun files")])
    frame["mu_rings"] = [r.get("mu_rings", 5.0) for r in rows]
    frame["mu_efficiency"] = [r.get("mu_efficiency", 0.2) for r in rows]
    frame["mu_width"] = [r.get("mu_width", 0.045) for r in rows]
    return frame


def _flags(rows: list[dict], cfg: DQConfig = CFG) -> list:
    subruns = _subruns(rows)
    return evaluate(subruns, run_frame(subruns), cfg)


def _fired(rows: list[dict], rule: str, cfg: DQConfig = CFG) -> list:
    return [f for f in _flags(rows, cfg) if f.rule == rule]


def test_healthy_run_has_no_flag() -> None:
    assert _flags([{}] * 20) == []


def test_rate_drop_fires_on_exactly_the_low_subruns() -> None:
    rows = [{}] * 20
    rows = [*rows[:7], {"cosmics_events": 30000.0}, {"cosmics_events": 41000.0}, *rows[9:]]
    fired = _fired(rows, "rate_drop")
    assert [f.subrun for f in fired] == [7, 8]
    flag = fired[0]
    assert flag.value == pytest.approx(3000.0)
    assert flag.limit == pytest.approx(0.7 * 6000.0)
    assert flag.key == "rate_drop_fraction" and flag.label == "rate↓"
    assert "3000 Hz < 0.7 × run median 6000 Hz" in flag.message


def test_rate_drop_threshold_is_configurable() -> None:
    rows = [{}] * 10 + [{"cosmics_events": 50000.0}]
    assert _fired(rows, "rate_drop") == []
    assert [f.subrun for f in _fired(rows, "rate_drop", DQConfig(rate_drop_fraction=0.9))] == [10]


def test_rate_jump_compares_consecutive_subruns_of_the_same_run() -> None:
    rows = [{}] * 5 + [{"cosmics_events": 40000.0}] + [{}] * 5
    fired = _fired(rows, "rate_jump")
    assert [f.subrun for f in fired] == [5, 6]
    assert fired[0].value == pytest.approx(-1 / 3)
    assert fired[1].value == pytest.approx(0.5)


def test_rate_reference_uses_zenith() -> None:
    zenith_30 = 3065.64 + 3403.23 * math.cos(math.radians(30))  # ~6013 Hz
    ok = _subruns([{"cosmics_events": zenith_30 * 10}] * 3)
    assert not [f for f in evaluate(ok, run_frame(ok), CFG) if f.rule == "rate_reference"]
    cloudy = _subruns([{"cosmics_events": 0.5 * zenith_30 * 10}] * 3)
    fired = [f for f in evaluate(cloudy, run_frame(cloudy), CFG) if f.rule == "rate_reference"]
    assert len(fired) == 1 and fired[0].subrun is None
    assert fired[0].limit == pytest.approx(zenith_30)
    assert "-50%" in fired[0].message


def test_interleaved_rate_counts_a_missing_table_as_zero_events() -> None:
    rows = [{}, {"ped_events": 0.0, "ped_charge_std": math.nan}, {"ff_events": 100.0}]
    fired = _fired(rows, "interleaved_rate")
    assert [(f.subrun, f.label, f.value) for f in fired] == [
        (1, "few ped", 0.0),
        (2, "few FF", 10.0),
    ]


@pytest.mark.parametrize(("std", "key"), [(0.1, "pedestal_std_min"), (3.0, "pedestal_std_max")])
def test_pedestal_std_out_of_range(std: float, key: str) -> None:
    fired = _fired([{}, {"ped_charge_std": std}, {}], "pedestal_std")
    assert [(f.subrun, f.key) for f in fired] == [(1, key)]


def test_unknown_figures_never_fire() -> None:
    nan = math.nan
    rows = [{"ped_charge_std": nan, "ff_charge_mean": nan, "ped_cleaned": nan}] * 3
    rules = {f.rule for f in _flags(rows)}
    assert rules.isdisjoint({"pedestal_std", "flatfield_charge", "pedestal_cleaned"})
    unknown_muons = [{"mu_rings": nan, "mu_efficiency": nan, "mu_width": nan}] * 3
    assert {f.rule for f in _flags(unknown_muons)}.isdisjoint(
        {"muon_rings", "muon_efficiency", "muon_width"}
    )


def test_pedestal_contamination_flatfield_tags_and_ucts() -> None:
    rows = [
        {"ped_cleaned": 100.0},
        {"ff_charge_mean": 50.0},
        {"wrong_ucts": 1000.0},
        {"ucts_jumps": 2.0},
    ]
    fired = {(f.rule, f.subrun) for f in _flags(rows)}
    assert fired == {
        ("pedestal_cleaned", 0),
        ("flatfield_charge", 1),
        ("trigger_tags", 2),
        ("ucts_jumps", 3),
    }


def test_muon_rules_are_run_level() -> None:
    rows = [{"mu_rings": 0.0, "mu_efficiency": math.nan, "mu_width": math.nan}] * 4
    assert [(f.rule, f.subrun) for f in _flags(rows)] == [("muon_rings", None)]
    low = [{"mu_efficiency": 0.1, "mu_width": 0.1}] * 4
    assert {f.rule for f in _flags(low)} == {"muon_efficiency", "muon_width"}


def test_disabled_rules_are_skipped() -> None:
    rows = [{}] * 5 + [{"cosmics_events": 10000.0}] + [{}] * 5
    cfg = dataclasses.replace(CFG, disabled_rules=("rate_drop", "rate_jump"))
    assert _flags(rows, cfg) == []


def test_rule_registry_matches_the_config_schema() -> None:
    assert tuple(rule.name for rule in RULES) == DQ_RULE_NAMES


def test_flag_summary_text() -> None:
    rows = [{}] * 5 + [{"cosmics_events": 10000.0}] * 3 + [{"ped_charge_std": 4.0}]
    assert summarize_flags(_flags(rows)) == "rate↓ 3, jump 2, ped σ"
    assert summarize_flags([]) == ""


def test_flags_serialise_without_nan() -> None:
    rows = [{}] * 5 + [{"cosmics_events": 10000.0}]
    data = _flags(rows)[0].as_dict()
    assert data["key"] == "dq.rate_drop_fraction"
    assert {"rule", "label", "run", "subrun", "value", "limit", "message"} <= set(data)


def test_subrun_frame_derives_rates_and_run_frame_aggregates() -> None:
    subruns = _subruns([{}, {"elapsed": 5.0, "cosmics_events": 30000.0}])
    assert list(subruns.columns) == list(SUBRUN_COLUMNS)
    assert subruns["cosmic_rate"].tolist() == [6000.0, 6000.0]
    runs = run_frame(subruns)
    row = runs.iloc[0]
    assert row["subruns"] == 2 and row["elapsed"] == 15.0
    assert row["cosmic_rate"] == pytest.approx(90000.0 / 15.0)
    assert row["mu_rings"] == 10.0
    assert set(RECORD_COLUMNS) >= COUNT_COLUMNS


def test_empty_tables() -> None:
    empty = subrun_frame([])
    assert empty.empty and evaluate(empty, run_frame(empty), CFG) == []
    assert np.isnan(_subruns([{"elapsed": 0.0}])["cosmic_rate"].iloc[0])
