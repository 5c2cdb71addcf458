"""Make datacheck files for DQ tests from a REAL one written by ``lstchain_check_dl1``.

Why: a real night has hundreds of subruns, but running the real chain (R0 -> DL1 ->
``lstchain_check_dl1``) costs ~1 min per subrun here. We run it once (or find a file it
made), then copy that file and change only a few values in place with PyTables, so every
copy keeps exactly the layout, dtypes, compression and attributes lstchain wrote (tables
``/dl1datacheck/{cosmics,pedestals,flatfield}`` with one row per subrun). The copies can
then be merged by the real ``lstchain_check_dl1`` into a run-wise file.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import tables

EVENT_TABLES = ("cosmics", "pedestals", "flatfield")
COUNT_COLUMNS = (
    "num_events",
    "num_cleaned_events",
    "num_pulses_above_0010_pe",
    "num_pulses_above_0030_pe",
    "num_pulses_above_0100_pe",
    "num_pulses_above_0300_pe",
    "num_pulses_above_1000_pe",
)


def datacheck_file_name(run: int, subrun: int | None = None) -> str:
    tag = f"Run{run:05d}" if subrun is None else f"Run{run:05d}.{subrun:04d}"
    return f"datacheck_dl1_LST-1.{tag}.h5"


def _scale_counts(rows: np.ndarray, factor: float) -> None:
    """Multiply every event count of the rows (so fractions per event stay the same)."""
    for name in (*COUNT_COLUMNS, "trigger_type", "ucts_trigger_type"):
        if name not in rows.dtype.names:
            continue
        if name.endswith("trigger_type"):
            rows[name][..., 1] = np.rint(rows[name][..., 1] * factor)
        else:
            rows[name] = np.rint(rows[name] * factor)


def clone_subrun(
    template: Path,
    dest_dir: Path,
    run: int,
    subrun: int,
    *,
    elapsed: float | None = None,
    start_time: float | None = None,
    cosmics_scale: float = 1.0,
    interleaved_scale: float = 1.0,
    pedestal_std_scale: float = 1.0,
    drop: tuple[str, ...] = (),
) -> Path:
    """Copy a real subrun datacheck file as ``run``/``subrun`` with a few values changed.

    ``elapsed`` (s) sets ``elapsed_time``; ``start_time`` (unix s) shifts the sampled
    ``dragon_time`` so the subrun starts there; ``cosmics_scale`` multiplies the cosmics
    counts (so the cosmic rate), ``interleaved_scale`` the pedestal and flat-field counts;
    ``pedestal_std_scale`` multiplies the pedestal pixel charge std dev; ``drop`` removes
    event tables (as lstchain does when a subrun has fewer than two events of a type).
    """
    dest_dir.mkdir(parents=True, exist_ok=True)
    dest = dest_dir / datacheck_file_name(run, subrun)
    shutil.copyfile(template, dest)
    with tables.open_file(dest, "a") as h5:
        group = h5.root.dl1datacheck
        for name in EVENT_TABLES:
            if name not in group:
                continue
            if name in drop:
                h5.remove_node(group, name)
                continue
            table = group[name]
            rows = table.read()  # one read and one write per table: rows are ~650 kB
            rows["subrun_index"] = subrun
            if elapsed is not None:
                rows["elapsed_time"] = elapsed
            if start_time is not None:
                dragon = rows["dragon_time"]
                width = elapsed if elapsed is not None else float(dragon.max() - dragon.min())
                rows["dragon_time"] = start_time + np.linspace(0.0, width, dragon.shape[-1])
            factor = cosmics_scale if name == "cosmics" else interleaved_scale
            if factor != 1.0:
                _scale_counts(rows, factor)
            if name == "pedestals" and pedestal_std_scale != 1.0:
                rows["charge_stddev"] = rows["charge_stddev"] * pedestal_std_scale
            table.modify_rows(0, len(rows), rows=rows)
            table.flush()
    return dest
