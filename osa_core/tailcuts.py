"""Tail cuts of a run: what the finder decided, its additional NSB, and the production id.

``lstchain_find_tailcuts`` samples ~10 subruns of a run and keeps those with at least 100
interleaved pedestal events and 1000 pixels with charge; from them it writes
``dl1ab_RunNNNNN.json`` (the run's cleaning) and logs "Additional NSB rate (over dark MC):
X". Where it cannot decide, the run falls back to the standard cleaning, and the reason
(read from the finder's own log lines) is kept so the status can say it, never silently.

The DL1 production id of a run is ``tailcut{picture}{boundary}`` read from its cleaning,
as the site names it: ``tailcut84``, ``tailcut1005`` (a boundary other than 4 is written
with two digits).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

CLEANING_KEY = "tailcuts_clean_with_pedestal_threshold"
NSB_RE = re.compile(r"Additional NSB rate \(over dark MC\):\s*(-?[0-9.]+(?:[eE][-+]?[0-9]+)?)")
FEW_PEDESTALS_RE = re.compile(r"Too few interleaved pedestals \((\d+)\)")
FEW_PIXELS_RE = re.compile(r"Too few valid pixels \((\d+)\)")
MIN_PEDESTALS = 100  # lstchain.image.cleaning.find_tailcuts
MIN_VALID_PIXELS = 1000


class TailcutError(ValueError):
    """A cleaning config that names no usable thresholds."""


def dl1_prod_id(picture: float, boundary: float) -> str:
    """``tailcut84``; a boundary other than 4 has two digits (``tailcut1005``)."""
    p, b = _integral(picture, "picture"), _integral(boundary, "boundary")
    return f"tailcut{p}{b}" if b == 4 else f"tailcut{p}{b:02d}"


def _integral(value: float, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise TailcutError(f"{what} threshold {value!r} is not a positive number")
    if float(value) != int(value):
        raise TailcutError(f"{what} threshold {value!r} is not a whole number of p.e.")
    return int(value)


def thresholds(config_file: Path) -> tuple[int, int]:
    """(picture, boundary) of a dl1ab/lstchain config (the pedestal-threshold cleaning)."""
    try:
        data = json.loads(config_file.read_text())
    except (OSError, ValueError) as err:
        raise TailcutError(f"{config_file}: cannot read a cleaning config ({err})") from None
    cleaning = data.get(CLEANING_KEY) or data.get("tailcut") or {}
    try:
        picture, boundary = cleaning["picture_thresh"], cleaning["boundary_thresh"]
    except (KeyError, TypeError):
        raise TailcutError(
            f"{config_file}: no picture_thresh/boundary_thresh under {CLEANING_KEY}"
        ) from None
    return _integral(picture, "picture"), _integral(boundary, "boundary")


@dataclass(frozen=True)
class FinderOutcome:
    """What the tail-cut finder found for a run, or why it could not decide."""

    decided: bool
    config: Path | None
    picture: int | None
    boundary: int | None
    nsb: float | None
    reason: str  # why it could not decide ("" when it did)

    @property
    def prod_id(self) -> str | None:
        if self.picture is None or self.boundary is None:
            return None
        return dl1_prod_id(self.picture, self.boundary)


def read_finder(config_file: Path, log_file: Path) -> FinderOutcome:
    """The finder's verdict from its outputs: its config and NSB when it decided, else the
    reason from its log (too few pedestal events, too few valid pixels, or its error)."""
    log = _read(log_file)
    nsb = _nsb(log)
    if config_file.exists():
        try:
            picture, boundary = thresholds(config_file)
        except TailcutError as err:
            return FinderOutcome(False, None, None, None, nsb, str(err))
        if nsb is None:
            return FinderOutcome(
                False, None, None, None, None, f"no 'Additional NSB rate' line in {log_file.name}"
            )
        if nsb < 0:
            return FinderOutcome(False, None, None, None, nsb, f"negative NSB rate {nsb}")
        return FinderOutcome(True, config_file, picture, boundary, nsb, "")
    return FinderOutcome(False, None, None, None, nsb, fallback_reason(log))


def fallback_reason(log: str) -> str:
    """Why the finder decided nothing, in the words a shifter needs."""
    pedestals = [int(n) for n in FEW_PEDESTALS_RE.findall(log)]
    if pedestals:
        return f"{max(pedestals)} pedestal events < {MIN_PEDESTALS} in every sampled subrun"
    pixels = [int(n) for n in FEW_PIXELS_RE.findall(log)]
    if pixels:
        return f"{max(pixels)} valid pixels < {MIN_VALID_PIXELS} in every sampled subrun"
    if "No valid computation" in log:
        return "no sampled subrun allowed a computation"
    lines = [line.strip() for line in log.splitlines() if line.strip()]
    return f"finder failed: {lines[-1][:160]}" if lines else "finder wrote no log"


def _nsb(log: str) -> float | None:
    found = NSB_RE.findall(log)
    try:
        return float(found[-1]) if found else None
    except ValueError:
        return None


def _read(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except OSError:
        return ""
