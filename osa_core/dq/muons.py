"""Muon rings of one subrun (``muons_LST-1.RunRRRRR.SSSS.fits``) -> count, efficiency, width.

Why read the FITS files ourselves: ``lstchain_check_dl1 --omit-pdf`` (how the pipeline
runs it) never opens them, so before the night-wise check exists the muon figures are
nowhere else. Rings are selected as ``lstchain_longterm_dl1_check`` does (contained
``ring_containment > 0.99``, clean ``size_outside < 1``, physical ``muon_efficiency < 1``),
so the numbers agree with its night-wise file. astropy is imported only when a muon file
is actually read.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from osa_core.dq import layout

MUON_COLUMNS = ("mu_rings", "mu_efficiency", "mu_width")


def read_muons(path: Path) -> dict[str, float]:
    """Contained rings, their mean efficiency and width (NaN when there is no ring).

    Raises ``OSError`` (or ``ValueError``) for an unreadable file; an empty table (a subrun
    without rings, common) is 0 rings, not an error.
    """
    from astropy.io import fits  # heavy (~0.15 s): only when a muon file is read

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # astropy's FITS unit/verification chatter
        with fits.open(path, memmap=False) as hdus:
            table = next((hdu for hdu in hdus[1:] if isinstance(hdu, fits.BinTableHDU)), None)
            if table is None or table.data is None or len(table.data) == 0:
                return {"mu_rings": 0.0, "mu_efficiency": np.nan, "mu_width": np.nan}
            names = set(table.columns.names)
            missing = [c for c in layout.MUON_COLUMNS if c not in names]
            if missing:
                raise ValueError(f"{path.name}: no column {missing[0]!r}")
            data = {c: np.asarray(table.data[c], dtype=float) for c in layout.MUON_COLUMNS}
    good = (
        (data["ring_containment"] > layout.MUON_CONTAINMENT_MIN)
        & (data["size_outside"] < layout.MUON_SIZE_OUTSIDE_MAX)
        & (data["muon_efficiency"] < 1)
    )
    if not good.any():
        return {"mu_rings": 0.0, "mu_efficiency": np.nan, "mu_width": np.nan}
    return {
        "mu_rings": float(good.sum()),
        "mu_efficiency": float(np.mean(data["muon_efficiency"][good])),
        "mu_width": float(np.mean(data["ring_width"][good])),
    }
