"""The night-wise file of ``lstchain_longterm_dl1_check`` (``DL1_datacheck_YYYYMMDD.h5``).

Why it is read: it is the only datacheck product with muon figures once the night is
closed (lstchain reads the muon files into it), and the fallback for a run whose
run-wise and subrun datacheck files are gone. Its subrun tables lack the cleaned-event
counts, RA/Dec and the flat-field absolute time, which stay NaN (unknown) when a run's
figures come from here. pandas (PyTables underneath) reads the ``format="table"`` frames
lstchain wrote with ``DataFrame.to_hdf``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from osa_core.dq import layout
from osa_core.dq.reader import COUNT_COLUMNS, RECORD_COLUMNS, Columns, DatacheckError, short_error

# longterm subrun-table column -> record column, per table.
_COMMON = {"time": "time", "elapsed_time": "elapsed", "num_ucts_jumps": "ucts_jumps"}
_BY_TABLE = {
    layout.COSMICS: {
        "events": "cosmics_events",
        "fraction_pulses_above10": "cosmics_frac10",
        "fraction_pulses_above30": "cosmics_frac30",
    },
    layout.PEDESTALS: {
        "events": "ped_events",
        "charge_mean": "ped_charge_mean",
        "charge_stddev": "ped_charge_std",
        "fraction_pulses_above10": "ped_frac10",
        "fraction_pulses_above30": "ped_frac30",
    },
    layout.FLATFIELD: {
        "events": "ff_events",
        "charge_mean": "ff_charge_mean",
        "charge_stddev": "ff_charge_std",
        "rel_time_stddev": "ff_rel_time_std",
    },
}
_MUONS = {
    "num_contained_mu_rings": "mu_rings",
    "mu_effi_mean": "mu_efficiency",
    "mu_width_mean": "mu_width",
}
_TAGS = {
    "wrong_ucts_trig_type": "wrong_ucts",
    "wrong_tib_trig_type": "wrong_tib",
    "unknown_ucts_trig_type": "unknown_ucts",
    "unknown_tib_trig_type": "unknown_tib",
}
#: Not in the longterm subrun tables: unknown rather than zero.
_UNKNOWN = ("cosmics_cleaned", "ped_cleaned", "ra", "dec", "ff_time_mean")
LONGTERM_COLUMNS = (*RECORD_COLUMNS, "mu_rings", "mu_efficiency", "mu_width")


def read_longterm(path: Path) -> Columns:
    """Subrun records (``RECORD_COLUMNS`` plus the muon columns) of every run in the file."""
    import pandas as pd  # heavy (~0.3 s): only when a night-wise file is read

    frames = {}
    try:
        for table in (layout.COSMICS, layout.PEDESTALS, layout.FLATFIELD):
            try:
                frames[table] = pd.read_hdf(path, table)
            except KeyError:
                continue
    except (OSError, ValueError, RuntimeError) as err:
        raise DatacheckError(f"{path.name}: unreadable ({short_error(err)})") from None
    if layout.COSMICS not in frames:
        raise DatacheckError(f"{path.name}: no /cosmics table")
    records: dict[tuple[int, int], dict[str, float]] = {}
    for table in (layout.COSMICS, layout.PEDESTALS, layout.FLATFIELD):
        frame = frames.get(table)
        if frame is None:
            continue
        mapping = {**_BY_TABLE[table], **(_MUONS if table == layout.COSMICS else {})}
        for row in frame.itertuples(index=False):
            values = row._asdict()
            key = (int(values["runnumber"]), int(values["subrun"]))
            record = records.get(key)
            if record is None:
                if table != layout.COSMICS:
                    continue  # a subrun without cosmics is not a subrun we can judge
                record = dict.fromkeys(LONGTERM_COLUMNS, np.nan)
                for name in COUNT_COLUMNS:
                    record[name] = 0.0
                for name in _UNKNOWN:
                    record[name] = np.nan
                record["run"], record["subrun"] = float(key[0]), float(key[1])
                for source, target in _COMMON.items():
                    record[target] = float(values[source])
                record["alt"] = float(np.degrees(values["altitude"]))
                record["az"] = float(np.degrees(values["azimuth"]))
                records[key] = record
            for source, target in mapping.items():
                if source in values:
                    record[target] = float(values[source])
            record["tagged_events"] += float(values["events"])
            for source, target in _TAGS.items():
                record[target] += float(values.get(source, 0.0))
            if table != layout.COSMICS:
                record["ucts_jumps"] += float(values.get("num_ucts_jumps", 0.0))
    out: Columns = {name: [] for name in LONGTERM_COLUMNS}
    for key in sorted(records):
        for name in LONGTERM_COLUMNS:
            out[name].append(records[key][name])
    return out
