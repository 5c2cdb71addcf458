"""One datacheck HDF5 file (subrun- or run-wise) -> one record per subrun.

Why per subrun: both file kinds hold one row per subrun in each event table, so a
run-wise file and the subrun files of the same run give identical records; the rules and
plots never care which one was read. Only a few scalars per row are kept (the SPEC §5
figures), so a record is ~30 numbers instead of the ~650 kB row lstchain stores.

Definitions follow lstchain (``lstchain_longterm_dl1_check``) so that our numbers match
the ones its night-wise file and HTML page show: camera averages are plain pixel means
of the subrun's per-pixel values; a pulse fraction is the pixel-averaged number of events
with a pulse above 10 (30) p.e. divided by the number of events.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from osa_core.dq import layout
from osa_core.dq.rawtable import read_tables

if TYPE_CHECKING:
    from numpy.typing import NDArray

#: Columns of a subrun record, in order (the cache stores them in this order too).
RECORD_COLUMNS = (
    "run",
    "subrun",
    "time",
    "elapsed",
    "cosmics_events",
    "cosmics_cleaned",
    "cosmics_frac10",
    "cosmics_frac30",
    "ped_events",
    "ped_cleaned",
    "ped_charge_mean",
    "ped_charge_std",
    "ped_frac10",
    "ped_frac30",
    "ff_events",
    "ff_charge_mean",
    "ff_charge_std",
    "ff_time_mean",
    "ff_rel_time_std",
    "alt",
    "az",
    "ra",
    "dec",
    "tagged_events",
    "wrong_ucts",
    "wrong_tib",
    "unknown_ucts",
    "unknown_tib",
    "ucts_jumps",
)
#: Columns that count events: a table missing for a subrun means 0 events, not unknown.
COUNT_COLUMNS = frozenset(
    {
        "cosmics_events",
        "cosmics_cleaned",
        "ped_events",
        "ped_cleaned",
        "ff_events",
        "tagged_events",
        "wrong_ucts",
        "wrong_tib",
        "unknown_ucts",
        "unknown_tib",
        "ucts_jumps",
    }
)

Columns = dict[str, list[float]]


class DatacheckError(Exception):
    """A datacheck file that exists but cannot be used (its message is one line)."""


def run_subrun_of(path: Path) -> tuple[int, int | None]:
    """Run (and subrun for subrun-wise files) from the file name, the only place lstchain
    records the run number."""
    match = layout.DATACHECK_RE.match(path.name)
    if not match:
        raise DatacheckError(f"{path.name}: not a datacheck_dl1_LST-1.Run*.h5 name")
    subrun = match.group("subrun")
    return int(match.group("run")), None if subrun is None else int(subrun)


def _pixel_average(values: NDArray[Any]) -> NDArray[np.float64]:
    """Per-row mean over pixels; NaN for lstchain's scalar placeholders (e.g. the pedestal
    table's ``time_mean``, written as a single 0 because it is not computed)."""
    if values.ndim < 2:
        return np.full(values.shape[0], np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=RuntimeWarning)  # all-NaN rows
        means: NDArray[np.float64] = np.nanmean(values.astype(float), axis=1)
        return means


def _tag_counts(
    pairs: NDArray[Any], expected: int
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """(wrong, unknown) events per row from the ``(10, 2)`` (trigger bits, count) pairs.

    Same rule as lstchain's ``trigtag_mismatches``: a tag sharing no bit with the tag the
    event type should carry is wrong; tag 0 is "unknown"; zero-count pairs are padding.
    """
    tags, counts = pairs[..., 0], pairs[..., 1]
    used = counts > 0
    wrong = np.where(used & (tags != 0) & ((tags & expected) == 0), counts, 0).sum(axis=1)
    unknown = np.where(used & (tags == 0), counts, 0).sum(axis=1)
    return wrong.astype(float), unknown.astype(float)


def _ratio(numerator: NDArray[Any], denominator: NDArray[Any]) -> NDArray[np.float64]:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(
            denominator > 0, numerator / np.where(denominator > 0, denominator, 1), np.nan
        )


def _table_records(kind: str, cols: dict[str, NDArray[Any]]) -> dict[int, dict[str, float]]:
    """Subrun -> the figures one event table gives for it."""
    missing = [name for name in layout.FIELDS if name not in cols]
    required = [name for name in missing if name not in layout.OPTIONAL_FIELDS]
    if required:
        raise KeyError(f"/dl1datacheck/{kind} has no column {required[0]!r}")
    for name in missing:  # older lstchain (< 0.8) wrote no UCTS jump counts
        cols[name] = np.zeros(len(cols["subrun_index"]))
    prefix = layout.PREFIX[kind]
    events = cols["num_events"].astype(float)
    pulses10 = _pixel_average(cols["num_pulses_above_0010_pe"])
    pulses30 = _pixel_average(cols["num_pulses_above_0030_pe"])
    wrong_ucts, unknown_ucts = _tag_counts(cols["ucts_trigger_type"], layout.EXPECTED_TAG[kind])
    wrong_tib, unknown_tib = _tag_counts(cols["trigger_type"], layout.EXPECTED_TAG[kind])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=RuntimeWarning)
        times = np.nanmean(cols["dragon_time"].astype(float), axis=-1)
    columns: dict[str, NDArray[Any]] = {
        "time": times,
        "elapsed": cols["elapsed_time"].astype(float),
        "alt": np.degrees(cols["mean_alt_tel"].astype(float)),
        "az": np.degrees(cols["mean_az_tel"].astype(float)),
        "ra": cols["tel_ra"].astype(float),
        "dec": cols["tel_dec"].astype(float),
        "tagged_events": events,
        "wrong_ucts": wrong_ucts,
        "wrong_tib": wrong_tib,
        "unknown_ucts": unknown_ucts,
        "unknown_tib": unknown_tib,
        "ucts_jumps": cols["num_ucts_jumps"].astype(float),
        f"{prefix}_events": events,
    }
    if kind in (layout.COSMICS, layout.PEDESTALS):
        columns[f"{prefix}_cleaned"] = cols["num_cleaned_events"].astype(float)
        columns[f"{prefix}_frac10"] = _ratio(pulses10, events)
        columns[f"{prefix}_frac30"] = _ratio(pulses30, events)
    if kind in (layout.PEDESTALS, layout.FLATFIELD):
        columns[f"{prefix}_charge_mean"] = _pixel_average(cols["charge_mean"])
        columns[f"{prefix}_charge_std"] = _pixel_average(cols["charge_stddev"])
    if kind == layout.FLATFIELD:
        columns["ff_time_mean"] = _pixel_average(cols["time_mean"])
        columns["ff_rel_time_std"] = _pixel_average(cols["relative_time_stddev"])
    records: dict[int, dict[str, float]] = {}
    for row, subrun in enumerate(cols["subrun_index"].astype(int).tolist()):
        records[subrun] = {name: float(values[row]) for name, values in columns.items()}
    return records


# Figures every table has; the first table having the subrun gives them (cosmics first).
_SHARED = ("time", "elapsed", "alt", "az", "ra", "dec")
_SUMMED = ("tagged_events", "wrong_ucts", "wrong_tib", "unknown_ucts", "unknown_tib", "ucts_jumps")


def read_datacheck(path: Path, fast: bool = True) -> Columns:
    """All subrun records of one datacheck file, as columns (``RECORD_COLUMNS``).

    Raises ``DatacheckError`` (one line) for a file that is not a readable datacheck file
    (not HDF5, truncated by a crash, no event table at all).
    """
    run, _ = run_subrun_of(path)
    wanted = {f"{layout.GROUP}/{kind}": layout.FIELDS for kind in layout.EVENT_TABLES}
    try:
        tables = read_tables(path, wanted, fast=fast)
    except (OSError, RuntimeError, KeyError, ValueError) as err:
        raise DatacheckError(f"{path.name}: unreadable ({short_error(err)})") from None
    try:
        per_kind = {
            kind: _table_records(kind, cols)
            for kind in layout.EVENT_TABLES
            if (cols := tables.get(f"{layout.GROUP}/{kind}")) is not None
        }
    except KeyError as err:
        raise DatacheckError(f"{path.name}: not lstchain's layout ({err.args[0]})") from None
    if not per_kind:
        raise DatacheckError(f"{path.name}: no cosmics, pedestals or flatfield table")
    subruns = sorted({s for records in per_kind.values() for s in records})
    out: Columns = {name: [] for name in RECORD_COLUMNS}
    for subrun in subruns:
        record = dict.fromkeys(RECORD_COLUMNS, np.nan)
        for name in COUNT_COLUMNS:
            record[name] = 0.0
        record["run"], record["subrun"] = float(run), float(subrun)
        for kind in layout.EVENT_TABLES:  # cosmics first: its pointing/time win
            values = per_kind.get(kind, {}).get(subrun)
            if values is None:
                continue
            for name, value in values.items():
                if name in _SUMMED:
                    record[name] += value
                elif name in _SHARED:
                    if np.isnan(record[name]):
                        record[name] = value
                else:
                    record[name] = value
        for name in RECORD_COLUMNS:
            out[name].append(record[name])
    return out


def short_error(err: BaseException) -> str:
    """One informative line of an exception (HDF5 errors come with a whole back trace)."""
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    for line in lines:
        if "checksum" in line.lower() or "truncated" in line.lower():
            return line
    if not lines:
        return type(err).__name__
    if lines[0].startswith("HDF5 error back trace") and len(lines) > 1:
        return lines[-1][:200]
    return lines[0][:200]
