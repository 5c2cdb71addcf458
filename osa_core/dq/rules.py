"""Data-quality rules: pure functions from the subrun/run tables and ``[dq]`` to flags.

Why pure functions on two pandas tables: each rule is a few lines anyone can check
against docs/dq.md, is unit-tested on a hand-made frame, and gives the same flags to the
terminal, the console and the report. Every flag names its rule, the config key that set
the limit, the value that fired and the limit, so a shifter can tell why it is there.

A rule never fires on a figure that is unknown (NaN): missing data is reported as such by
the summary, not as bad data. The "too few interleaved events" rule is the exception by
design: a subrun without any pedestal or flat-field event has a rate of 0, which is bad.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

# Only annotations use pandas, but it stays a run-time import until
# tests/slow/test_close_kill.py waits for the close: without pandas `osa --batch` starts
# 0.4 s sooner, and that test's four quick reference ticks then outrun the close job.
import pandas as pd

from osa_core.config import DQ_RULE_NAMES, DQConfig


@dataclass(frozen=True)
class Flag:
    """One rule that fired, on a subrun or (``subrun is None``) on a whole run."""

    rule: str
    label: str
    run: int
    subrun: int | None
    value: float
    limit: float
    key: str
    message: str

    def as_dict(self) -> dict[str, object]:
        return {
            "rule": self.rule,
            "label": self.label,
            "run": self.run,
            "subrun": self.subrun,
            "value": _plain(self.value),
            "limit": _plain(self.limit),
            "key": f"dq.{self.key}",
            "message": self.message,
        }


def _plain(value: float) -> float | None:
    return None if value is None or math.isnan(value) else round(float(value), 6)


@dataclass(frozen=True)
class Rule:
    """A rule: its name (``[dq] disabled_rules``), level and what it checks."""

    name: str
    level: str  # "subrun" or "run"
    label: str
    description: str
    check: Callable[[pd.DataFrame, pd.DataFrame, DQConfig], Iterator[Flag]]


def _rows(frame: pd.DataFrame, mask: pd.Series) -> Iterator[dict[str, Any]]:
    yield from frame[mask.fillna(False).astype(bool)].to_dict("records")


def _subrun(row: dict[str, Any]) -> int:
    return int(row["subrun"])


def _fmt(value: float) -> str:
    if abs(value) >= 100:
        return f"{value:.0f}"
    if abs(value) >= 1:
        return f"{value:.2f}"
    return f"{value:.3g}"


# --- subrun rules -----------------------------------------------------------------------
def rate_drop(subruns: pd.DataFrame, runs: pd.DataFrame, cfg: DQConfig) -> Iterator[Flag]:
    fraction = cfg.rate_drop_fraction
    frame = subruns.assign(median=subruns.groupby("run")["cosmic_rate"].transform("median"))
    for row in _rows(frame, frame["cosmic_rate"] < fraction * frame["median"]):
        rate, median = row["cosmic_rate"], row["median"]
        yield Flag(
            "rate_drop",
            "rate↓",
            int(row["run"]),
            _subrun(row),
            rate,
            fraction * median,
            "rate_drop_fraction",
            f"cosmic rate {_fmt(rate)} Hz < {fraction:g} × run median {_fmt(median)} Hz",
        )


def rate_jump(subruns: pd.DataFrame, runs: pd.DataFrame, cfg: DQConfig) -> Iterator[Flag]:
    previous = subruns.groupby("run")["cosmic_rate"].shift(1)
    frame = subruns.assign(previous=previous, change=subruns["cosmic_rate"] / previous - 1)
    limit = cfg.rate_jump_fraction
    for row in _rows(frame, (frame["previous"] > 0) & (frame["change"].abs() > limit)):
        yield Flag(
            "rate_jump",
            "jump",
            int(row["run"]),
            _subrun(row),
            row["change"],
            limit,
            "rate_jump_fraction",
            f"cosmic rate {_fmt(row['previous'])} → {_fmt(row['cosmic_rate'])} Hz "
            f"({row['change']:+.0%}) from the previous subrun (limit ±{limit:.0%})",
        )


def interleaved_rate(subruns: pd.DataFrame, runs: pd.DataFrame, cfg: DQConfig) -> Iterator[Flag]:
    minimum = cfg.interleaved_rate_min
    known = subruns["elapsed"] > 0
    for column, label, what in (
        ("ped_rate", "few ped", "pedestal"),
        ("ff_rate", "few FF", "flat-field"),
    ):
        rate = subruns[column].fillna(0.0)
        for row in _rows(subruns, known & (rate < minimum)):
            value = 0.0 if np.isnan(row[column]) else row[column]
            events = int(row["ped_events" if column == "ped_rate" else "ff_events"])
            yield Flag(
                "interleaved_rate",
                label,
                int(row["run"]),
                _subrun(row),
                value,
                minimum,
                "interleaved_rate_min",
                f"{events} interleaved {what} events: {_fmt(value)} Hz < {minimum:g} Hz",
            )


def pedestal_std(subruns: pd.DataFrame, runs: pd.DataFrame, cfg: DQConfig) -> Iterator[Flag]:
    std = subruns["ped_charge_std"]
    for row in _rows(subruns, (std < cfg.pedestal_std_min) | (std > cfg.pedestal_std_max)):
        value = row["ped_charge_std"]
        low = value < cfg.pedestal_std_min
        limit, key = (
            (cfg.pedestal_std_min, "pedestal_std_min")
            if low
            else (cfg.pedestal_std_max, "pedestal_std_max")
        )
        yield Flag(
            "pedestal_std",
            "ped σ",
            int(row["run"]),
            _subrun(row),
            value,
            limit,
            key,
            f"pedestal charge std dev {_fmt(value)} p.e. {'<' if low else '>'} {limit:g} p.e.",
        )


def pedestal_cleaned(subruns: pd.DataFrame, runs: pd.DataFrame, cfg: DQConfig) -> Iterator[Flag]:
    fraction = subruns["ped_cleaned_fraction"]
    for row in _rows(subruns, fraction > cfg.pedestal_cleaned_fraction_max):
        value = row["ped_cleaned_fraction"]
        yield Flag(
            "pedestal_cleaned",
            "ped img",
            int(row["run"]),
            _subrun(row),
            value,
            cfg.pedestal_cleaned_fraction_max,
            "pedestal_cleaned_fraction_max",
            f"{value:.1%} of pedestal events survive the cleaning "
            f"(> {cfg.pedestal_cleaned_fraction_max:.1%})",
        )


def flatfield_charge(subruns: pd.DataFrame, runs: pd.DataFrame, cfg: DQConfig) -> Iterator[Flag]:
    charge = subruns["ff_charge_mean"]
    mask = (charge < cfg.flatfield_charge_min) | (charge > cfg.flatfield_charge_max)
    for row in _rows(subruns, mask):
        value = row["ff_charge_mean"]
        low = value < cfg.flatfield_charge_min
        limit, key = (
            (cfg.flatfield_charge_min, "flatfield_charge_min")
            if low
            else (cfg.flatfield_charge_max, "flatfield_charge_max")
        )
        yield Flag(
            "flatfield_charge",
            "FF q",
            int(row["run"]),
            _subrun(row),
            value,
            limit,
            key,
            f"flat-field charge {_fmt(value)} p.e. {'<' if low else '>'} {limit:g} p.e.",
        )


def trigger_tags(subruns: pd.DataFrame, runs: pd.DataFrame, cfg: DQConfig) -> Iterator[Flag]:
    fraction = subruns["wrong_tag_fraction"]
    for row in _rows(subruns, fraction > cfg.wrong_tag_fraction_max):
        value = row["wrong_tag_fraction"]
        yield Flag(
            "trigger_tags",
            "tags",
            int(row["run"]),
            _subrun(row),
            value,
            cfg.wrong_tag_fraction_max,
            "wrong_tag_fraction_max",
            f"{value:.1%} of events carry a trigger tag contradicting their type "
            f"(UCTS {int(row['wrong_ucts'])}, TIB {int(row['wrong_tib'])} of "
            f"{int(row['tagged_events'])})",
        )


def ucts_jumps(subruns: pd.DataFrame, runs: pd.DataFrame, cfg: DQConfig) -> Iterator[Flag]:
    for row in _rows(subruns, subruns["ucts_jumps"] > cfg.ucts_jumps_max):
        value = row["ucts_jumps"]
        yield Flag(
            "ucts_jumps",
            "ucts",
            int(row["run"]),
            _subrun(row),
            value,
            cfg.ucts_jumps_max,
            "ucts_jumps_max",
            f"{int(value)} UCTS timestamp jumps (corrected by lstchain)",
        )


# --- run rules ---------------------------------------------------------------------------
def rate_reference(subruns: pd.DataFrame, runs: pd.DataFrame, cfg: DQConfig) -> Iterator[Flag]:
    if runs.empty:
        return
    zenith = np.radians(90.0 - runs["alt"])
    reference = cfg.rate_reference_a + cfg.rate_reference_b * np.cos(zenith)
    frame = runs.assign(reference=reference, deviation=runs["cosmic_rate"] / reference - 1)
    tolerance = cfg.rate_reference_tolerance
    for row in _rows(frame, frame["deviation"].abs() > tolerance):
        yield Flag(
            "rate_reference",
            "rate≠ref",
            int(row["run"]),
            None,
            row["cosmic_rate"],
            row["reference"],
            "rate_reference_tolerance",
            f"run cosmic rate {_fmt(row['cosmic_rate'])} Hz is {row['deviation']:+.0%} from "
            f"the reference {_fmt(row['reference'])} Hz at zenith {90 - row['alt']:.0f}° "
            f"(tolerance ±{tolerance:.0%})",
        )


def muon_rings(subruns: pd.DataFrame, runs: pd.DataFrame, cfg: DQConfig) -> Iterator[Flag]:
    if "mu_rings" not in runs:
        return
    for row in _rows(runs, runs["mu_rings"] < cfg.muon_rings_min):
        yield Flag(
            "muon_rings",
            "no μ",
            int(row["run"]),
            None,
            row["mu_rings"],
            cfg.muon_rings_min,
            "muon_rings_min",
            f"{int(row['mu_rings'])} contained muon rings in the run (< {cfg.muon_rings_min})",
        )


def muon_efficiency(subruns: pd.DataFrame, runs: pd.DataFrame, cfg: DQConfig) -> Iterator[Flag]:
    if "mu_efficiency" not in runs:
        return
    for row in _rows(runs, runs["mu_efficiency"] < cfg.muon_efficiency_min):
        yield Flag(
            "muon_efficiency",
            "μ eff",
            int(row["run"]),
            None,
            row["mu_efficiency"],
            cfg.muon_efficiency_min,
            "muon_efficiency_min",
            f"muon efficiency {row['mu_efficiency']:.3f} < {cfg.muon_efficiency_min:g}",
        )


def muon_width(subruns: pd.DataFrame, runs: pd.DataFrame, cfg: DQConfig) -> Iterator[Flag]:
    if "mu_width" not in runs:
        return
    for row in _rows(runs, runs["mu_width"] > cfg.muon_width_max):
        yield Flag(
            "muon_width",
            "μ width",
            int(row["run"]),
            None,
            row["mu_width"],
            cfg.muon_width_max,
            "muon_width_max",
            f"muon ring width {row['mu_width']:.3f}° > {cfg.muon_width_max:g}°",
        )


RULES: tuple[Rule, ...] = (
    Rule(
        "rate_drop", "subrun", "rate↓", "cosmic rate below a fraction of the run median", rate_drop
    ),
    Rule("rate_jump", "subrun", "jump", "cosmic rate changing abruptly between subruns", rate_jump),
    Rule(
        "rate_reference",
        "run",
        "rate≠ref",
        "run cosmic rate far from a + b·cos(zenith)",
        rate_reference,
    ),
    Rule(
        "interleaved_rate",
        "subrun",
        "few ped/FF",
        "too few interleaved pedestal or flat-field events",
        interleaved_rate,
    ),
    Rule("pedestal_std", "subrun", "ped σ", "pedestal charge std dev out of range", pedestal_std),
    Rule(
        "pedestal_cleaned",
        "subrun",
        "ped img",
        "pedestal events surviving the cleaning",
        pedestal_cleaned,
    ),
    Rule("flatfield_charge", "subrun", "FF q", "flat-field charge out of range", flatfield_charge),
    Rule(
        "trigger_tags", "subrun", "tags", "trigger tags contradicting the event type", trigger_tags
    ),
    Rule("ucts_jumps", "subrun", "ucts", "UCTS timestamp jumps", ucts_jumps),
    Rule("muon_rings", "run", "no μ", "too few contained muon rings", muon_rings),
    Rule("muon_efficiency", "run", "μ eff", "low optical efficiency from muons", muon_efficiency),
    Rule("muon_width", "run", "μ width", "wide muon rings (defocus)", muon_width),
)
assert tuple(rule.name for rule in RULES) == DQ_RULE_NAMES, "keep config.DQ_RULE_NAMES in sync"
ORDER = {rule.name: index for index, rule in enumerate(RULES)}


def evaluate(subruns: pd.DataFrame, runs: pd.DataFrame, cfg: DQConfig) -> list[Flag]:
    """Every flag of every enabled rule, ordered by run, rule, subrun."""
    flags: list[Flag] = []
    if subruns.empty:
        return flags
    for rule in RULES:
        if rule.name in cfg.disabled_rules:
            continue
        flags.extend(rule.check(subruns, runs, cfg))
    flags.sort(key=lambda f: (f.run, ORDER[f.rule], -1 if f.subrun is None else f.subrun))
    return flags
