"""Unicode sparklines (▁▂▃▄▅▆▇█): a run's subrun-by-subrun figures in one table cell.

Why these choices: bars start at zero (``low=0``) so that 2 % noise on a stable rate looks
flat and a 40 % drop looks like a drop; when a run has more subruns than the cell has
characters, each character shows the *minimum* of its subruns by default, so a dip of one
subrun is never averaged away (rates drop when something is wrong, they do not spike).
A missing subrun is a space.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

BLOCKS = "▁▂▃▄▅▆▇█"
GAP = " "


def bins(count: int, width: int) -> list[range]:
    """Split ``range(count)`` into at most ``width`` contiguous, near-equal bins."""
    if count <= 0 or width <= 0:
        return []
    width = min(width, count)
    edges = [round(i * count / width) for i in range(width + 1)]
    return [range(edges[i], edges[i + 1]) for i in range(width)]


def _reduce(values: list[float], how: str) -> float:
    finite = [v for v in values if not math.isnan(v)]
    if not finite:
        return math.nan
    if how == "max":
        return max(finite)
    if how == "mean":
        return sum(finite) / len(finite)
    return min(finite)


def sparkline(
    values: Sequence[float],
    width: int | None = None,
    low: float | None = 0.0,
    high: float | None = None,
    how: str = "min",
) -> str:
    """``values`` (NaN = missing) as at most ``width`` block characters.

    ``low``/``high`` fix the scale (default: zero to the largest value; ``low=None`` uses
    the smallest value). ``how`` reduces several values into one character: ``min``,
    ``max`` or ``mean``.
    """
    data = [float(v) for v in values]
    if not data:
        return ""
    groups = bins(len(data), width or len(data))
    reduced = [_reduce([data[i] for i in group], how) for group in groups]
    finite = [v for v in reduced if not math.isnan(v)]
    if not finite:
        return GAP * len(reduced)
    lo = min(finite) if low is None else low
    hi = max(finite) if high is None else high
    span = hi - lo
    out = []
    for value in reduced:
        if math.isnan(value):
            out.append(GAP)
        elif span <= 0:
            out.append(BLOCKS[len(BLOCKS) // 2])
        else:
            level = (min(max(value, lo), hi) - lo) / span
            out.append(BLOCKS[min(int(level * len(BLOCKS)), len(BLOCKS) - 1)])
    return "".join(out)
