"""What R0 is really on disk: the disk is the truth, the RunSummary only a declaration."""

from __future__ import annotations

import os
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from osa_core.paths import R0_RE


@dataclass(frozen=True)
class RunFiles:
    """Subruns of one run found on disk, and those missing some of their streams."""

    subruns: tuple[int, ...]
    incomplete: tuple[int, ...]


def scan_r0(r0_dir: Path, streams: int) -> dict[int, RunFiles]:
    """One ``scandir`` of the night's R0 folder (~30 ms for 32,000 files)."""
    found: dict[int, dict[int, set[int]]] = defaultdict(lambda: defaultdict(set))
    try:
        entries = os.scandir(r0_dir)
    except (FileNotFoundError, NotADirectoryError):
        return {}
    with entries:
        for entry in entries:
            match = R0_RE.match(entry.name)
            if match is None:
                continue
            found[int(match["run"])][int(match["subrun"])].add(int(match["stream"]))
    result = {}
    for run, subruns in found.items():
        ordered = tuple(sorted(subruns))
        incomplete = tuple(s for s in ordered if len(subruns[s]) < streams)
        result[run] = RunFiles(subruns=ordered, incomplete=incomplete)
    return result
