"""Memory sizes and durations as users write them in the config and SLURM expects them.

Kept as ``int`` subclasses (bytes, seconds) so arithmetic (retry multipliers, caps,
budgets) is plain integer maths and only formatting knows about units.
"""

from __future__ import annotations

import re

_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMGT]?)(i?B)?\s*$", re.IGNORECASE)
_UNIT = {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4}


class MemorySize(int):
    """A memory amount in bytes, written like ``"6GB"``, ``"500MB"`` or ``"2.5G"``.

    Units are binary (1 GB = 1024 MB), as SLURM counts them.
    """

    @classmethod
    def parse(cls, text: str) -> MemorySize:
        match = _SIZE_RE.match(text) if isinstance(text, str) else None
        if not match or (match.group(2) == "" and match.group(3) is None):
            raise ValueError(f'expected a size like "6GB", got {text!r}')
        number, unit = float(match.group(1)), match.group(2).upper()
        return cls(int(number * _UNIT[unit]))

    @property
    def megabytes(self) -> int:
        """Whole MiB, rounded up: what ``--mem-per-cpu`` is given."""
        return -(-int(self) // _UNIT["M"])

    def slurm(self) -> str:
        """The form sbatch accepts, e.g. ``6144M``."""
        return f"{self.megabytes}M"

    def __str__(self) -> str:
        for unit in ("T", "G", "M", "K"):
            if int(self) >= _UNIT[unit] and int(self) % (_UNIT[unit] // 4 or 1) == 0:
                value = int(self) / _UNIT[unit]
                return f"{value:g}{unit}B"
        return f"{int(self)}B"

    def scaled(self, factor: float, cap: MemorySize | None = None) -> MemorySize:
        """This size times ``factor``, rounded up to whole MiB, never above ``cap``."""
        mib = -(-int(int(self) * factor) // _UNIT["M"])
        value = MemorySize(mib * _UNIT["M"])
        return MemorySize(min(value, cap)) if cap is not None else value


_DURATION_RE = re.compile(r"^\s*(?:(\d+)-)?(?:(\d+):)?(\d+):(\d+)\s*$")


class Duration(int):
    """A wall time in seconds, written as SLURM does: ``"01:15:00"`` or ``"1-02:00:00"``."""

    @classmethod
    def parse(cls, text: str) -> Duration:
        match = _DURATION_RE.match(text) if isinstance(text, str) else None
        if not match:
            raise ValueError(f'expected a duration like "01:15:00", got {text!r}')
        days, hours, minutes, seconds = (int(g) if g else 0 for g in match.groups())
        if minutes >= 60 or seconds >= 60:
            raise ValueError(f'expected a duration like "01:15:00", got {text!r}')
        return cls(((days * 24 + hours) * 60 + minutes) * 60 + seconds)

    def slurm(self) -> str:
        """``[D-]HH:MM:SS`` as sbatch ``--time`` accepts."""
        days, rest = divmod(int(self), 86400)
        hours, rest = divmod(rest, 3600)
        minutes, seconds = divmod(rest, 60)
        clock = f"{hours:02d}:{minutes:02d}:{seconds:02d}"
        return f"{days}-{clock}" if days else clock

    def __str__(self) -> str:
        return self.slurm()

    def scaled(self, factor: float, cap: Duration | None = None) -> Duration:
        """This duration times ``factor``, rounded up to a minute, never above ``cap``."""
        minutes = -(-int(int(self) * factor) // 60)
        value = Duration(minutes * 60)
        return Duration(min(value, cap)) if cap is not None else value


def human_bytes(value: float | None) -> str:
    """Short human form for tables (``2.4G``); ``-`` when unknown."""
    if value is None:
        return "-"
    for unit in ("T", "G", "M", "K"):
        if value >= _UNIT[unit]:
            return f"{value / _UNIT[unit]:.1f}{unit}"
    return f"{int(value)}B"


def human_seconds(value: float | None) -> str:
    """``1h02m``, ``4m05s`` or ``12s``; ``-`` when unknown."""
    if value is None:
        return "-"
    seconds = round(value)
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    if seconds >= 60:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds}s"
