"""Subrun records -> the two pandas tables everything else uses: subruns and runs.

Why two fixed tables: the rules, the terminal output, JSON and the report all read the
same named columns, so a figure is computed once, here, and means the same everywhere.

``subruns`` (one row per run and subrun, sorted) has the reader's columns plus the rates
(events / elapsed time), the muon columns and ``source``. ``runs`` (one row per run)
aggregates them the way lstchain's run summary does: counts are summed, rates are total
events over total elapsed time, camera averages are weighted by the number of events,
azimuth is a circular mean, muon figures are weighted by the number of rings.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from numpy.typing import NDArray

from osa_core.dq.muons import MUON_COLUMNS
from osa_core.dq.reader import RECORD_COLUMNS, Columns

SUBRUN_COLUMNS = (
    *RECORD_COLUMNS,
    *MUON_COLUMNS,
    "cosmic_rate",
    "ped_rate",
    "ff_rate",
    "ped_cleaned_fraction",
    "wrong_tag_fraction",
    "source",
)
_INT_COLUMNS = ("run", "subrun")


def _ratio(numerator: pd.Series, denominator: pd.Series) -> pd.Series:
    return (numerator / denominator.where(denominator > 0)).astype(float)


def subrun_frame(parts: list[tuple[Columns, str]]) -> pd.DataFrame:
    """Concatenate record columns (each with its source label) into the subrun table."""
    frames = []
    for columns, source in parts:
        frame = pd.DataFrame({k: v for k, v in columns.items() if k in SUBRUN_COLUMNS})
        frame["source"] = source
        frames.append(frame)
    if not frames:
        return pd.DataFrame({name: pd.Series(dtype=float) for name in SUBRUN_COLUMNS})
    frame = pd.concat(frames, ignore_index=True)
    for name in SUBRUN_COLUMNS:
        if name not in frame:
            frame[name] = np.nan
    for name in _INT_COLUMNS:
        frame[name] = frame[name].astype(int)
    frame = frame.drop_duplicates(["run", "subrun"], keep="first")
    frame["cosmic_rate"] = _ratio(frame["cosmics_events"], frame["elapsed"])
    frame["ped_rate"] = _ratio(frame["ped_events"], frame["elapsed"])
    frame["ff_rate"] = _ratio(frame["ff_events"], frame["elapsed"])
    frame["ped_cleaned_fraction"] = _ratio(frame["ped_cleaned"], frame["ped_events"])
    wrong = frame[["wrong_ucts", "wrong_tib"]].max(axis=1)
    frame["wrong_tag_fraction"] = _ratio(wrong, frame["tagged_events"])
    frame = frame.sort_values(["run", "subrun"]).reset_index(drop=True)
    return frame[list(SUBRUN_COLUMNS)]


def _weighted(values: NDArray[np.float64], weights: NDArray[np.float64]) -> float:
    ok = np.isfinite(values) & np.isfinite(weights) & (weights > 0)
    if not ok.any():
        return float("nan")
    return float(np.average(values[ok], weights=weights[ok]))


def _circular_mean_deg(values: NDArray[np.float64]) -> float:
    values = values[np.isfinite(values)]
    if values.size == 0:
        return float("nan")
    radians = np.radians(values)
    mean = np.degrees(np.arctan2(np.sin(radians).mean(), np.cos(radians).mean()))
    return float(mean % 360.0)


def _sum_known(values: NDArray[np.float64]) -> float:
    known = values[np.isfinite(values)]
    return float(known.sum()) if known.size else float("nan")


_REDUCERS: dict[str, Callable[[NDArray[np.float64]], Any]] = {
    "min": np.min,
    "max": np.max,
    "mean": np.mean,
    "median": np.median,
}


def _stat(values: NDArray[np.float64], how: str) -> float:
    known = values[np.isfinite(values)]
    if known.size == 0:
        return float("nan")
    return float(_REDUCERS[how](known))


def _per_time(events: float, elapsed: float) -> float:
    return events / elapsed if elapsed > 0 else float("nan")


def run_frame(subruns: pd.DataFrame) -> pd.DataFrame:
    """One row per run (see the module docstring for how each figure is aggregated)."""
    if subruns.empty:
        return pd.DataFrame(columns=["run", "subruns"])
    numeric = {
        name: subruns[name].to_numpy(dtype=float)
        for name in SUBRUN_COLUMNS
        if name not in ("source", *_INT_COLUMNS)
    }
    run_numbers = subruns["run"].to_numpy()
    subrun_numbers = subruns["subrun"].to_numpy()
    sources = subruns["source"].to_numpy()
    rows = []
    for run in np.unique(run_numbers):
        at = run_numbers == run
        c = {name: values[at] for name, values in numeric.items()}
        elapsed = float(np.nansum(c["elapsed"]))
        cosmics, peds, ffs = (
            float(np.nansum(c[k])) for k in ("cosmics_events", "ped_events", "ff_events")
        )
        cleaned = _sum_known(c["ped_cleaned"])
        rows.append(
            {
                "run": int(run),
                "subruns": int(at.sum()),
                "first_subrun": int(subrun_numbers[at].min()),
                "last_subrun": int(subrun_numbers[at].max()),
                "source": ", ".join(sorted(set(sources[at]))),
                "start": _stat(c["time"], "min"),
                "end": _stat(c["time"], "max"),
                "elapsed": elapsed,
                "cosmics_events": cosmics,
                "cosmic_rate": _per_time(cosmics, elapsed),
                "rate_median": _stat(c["cosmic_rate"], "median"),
                "rate_min": _stat(c["cosmic_rate"], "min"),
                "ped_events": peds,
                "ff_events": ffs,
                "ped_rate": _per_time(peds, elapsed),
                "ff_rate": _per_time(ffs, elapsed),
                "ped_cleaned_fraction": cleaned / peds if peds > 0 else float("nan"),
                "ped_charge_mean": _weighted(c["ped_charge_mean"], c["ped_events"]),
                "ped_charge_std": _weighted(c["ped_charge_std"], c["ped_events"]),
                "ff_charge_mean": _weighted(c["ff_charge_mean"], c["ff_events"]),
                "ff_charge_std": _weighted(c["ff_charge_std"], c["ff_events"]),
                "ff_rel_time_std": _weighted(c["ff_rel_time_std"], c["ff_events"]),
                "cosmics_frac10": _weighted(c["cosmics_frac10"], c["cosmics_events"]),
                "cosmics_frac30": _weighted(c["cosmics_frac30"], c["cosmics_events"]),
                "ped_frac10": _weighted(c["ped_frac10"], c["ped_events"]),
                "ped_frac30": _weighted(c["ped_frac30"], c["ped_events"]),
                "alt": _stat(c["alt"], "mean"),
                "alt_min": _stat(c["alt"], "min"),
                "alt_max": _stat(c["alt"], "max"),
                "az": _circular_mean_deg(c["az"]),
                "ra": _circular_mean_deg(c["ra"]),
                "dec": _stat(c["dec"], "mean"),
                "wrong_tag_fraction": _weighted(c["wrong_tag_fraction"], c["tagged_events"]),
                "ucts_jumps": float(np.nansum(c["ucts_jumps"])),
                "mu_rings": _sum_known(c["mu_rings"]),
                "mu_efficiency": _weighted(c["mu_efficiency"], c["mu_rings"]),
                "mu_width": _weighted(c["mu_width"], c["mu_rings"]),
            }
        )
    return pd.DataFrame(rows)
