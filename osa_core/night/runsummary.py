"""The night's RunSummary and RunCatalog, validated into plain records.

What is fatal (the night cannot be planned safely) raises ``InputError``; what an operator
should see but can live with (an unknown run type, a run with zero subruns, a missing
catalog) becomes a warning carried along with the night.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

from osa_core.errors import InputError
from osa_core.night.ecsv import read_ecsv

ANALYSED_TYPES = ("DATA",)
CALIBRATION_TYPES = ("DRS4", "PEDCALIB")
KNOWN_TYPES = ("DATA", "PEDCALIB", "DRS4", "ERROR")
REQUIRED_COLUMNS = ("run_id", "n_subruns", "run_type")
EXPECTED_COLUMNS = (
    "run_id",
    "n_subruns",
    "run_type",
    "ucts_timestamp",
    "run_start",
    "dragon_reference_time",
    "dragon_reference_module_id",
    "dragon_reference_module_index",
    "dragon_reference_counter",
    "dragon_reference_source",
)
_RUN_TYPE_RE = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True)
class RunRecord:
    """One line of the RunSummary."""

    run: int
    run_type: str
    declared_subruns: int
    run_start_ns: int | None
    line: int


@dataclass(frozen=True)
class Source:
    """A RunCatalog entry: what the telescope pointed at (free text, display only)."""

    name: str
    ra: float | None
    dec: float | None


@dataclass(frozen=True)
class RunSummary:
    path: Path
    runs: tuple[RunRecord, ...]
    warnings: tuple[str, ...]


def read_run_summary(path: Path, max_subruns: int) -> RunSummary:
    """Read and validate a RunSummary; see the module doc for what is fatal."""
    table = read_ecsv(path, "RunSummary")
    missing = [c for c in REQUIRED_COLUMNS if c not in table.columns]
    if missing:
        raise InputError(f"{path}: RunSummary lacks column(s) {', '.join(missing)}")
    warnings: list[str] = []
    absent = [c for c in EXPECTED_COLUMNS if c not in table.columns]
    if absent:
        warnings.append(f"{path.name}: columns absent (not needed to plan): {', '.join(absent)}")
    seen: dict[int, int] = {}
    runs: list[RunRecord] = []
    for row, line in zip(table.rows, table.lines, strict=False):
        where = f"{path}:{line}"
        run = _as_int(row["run_id"], where, "run_id")
        if not 0 <= run < 1_000_000:
            raise InputError(f"{where}: run_id: out of range, got {run}")
        if run in seen:
            raise InputError(f"{where}: run_id: duplicate run {run} (first on line {seen[run]})")
        seen[run] = line
        subruns = _as_int(row["n_subruns"], where, "n_subruns")
        if subruns < 0:
            raise InputError(f"{where}: n_subruns: negative, got {subruns}")
        if subruns > max_subruns:
            raise InputError(
                f"{where}: n_subruns: {subruns} is absurd (limit "
                f"[night] max_subruns = {max_subruns})"
            )
        run_type = row["run_type"]
        if not isinstance(run_type, str) or not run_type.strip():
            raise InputError(f"{where}: run_type: expected text, got {run_type!r}")
        run_type = run_type.strip()
        if not _RUN_TYPE_RE.match(run_type):
            warnings.append(
                f"{where}: run {run}: run_type {_printable(run_type)!r} is not a "
                "plain word; the run is excluded"
            )
        elif run_type not in KNOWN_TYPES and not _is_operator_exclusion(run_type):
            warnings.append(f"{where}: run {run}: unknown run_type {run_type!r}; excluded")
        if subruns == 0 and run_type in ANALYSED_TYPES:
            warnings.append(f"{where}: run {run}: declares 0 subruns")
        start = row.get("run_start")
        start_ns = None
        if (
            isinstance(start, (int, float))
            and not isinstance(start, bool)
            and start > 0
            and math.isfinite(start)
        ):
            start_ns = int(start)
        runs.append(
            RunRecord(
                run=run,
                run_type=run_type,
                declared_subruns=subruns,
                run_start_ns=start_ns,
                line=line,
            )
        )
    runs.sort(key=lambda record: record.run)
    return RunSummary(path=path, runs=tuple(runs), warnings=tuple(warnings))


def _is_operator_exclusion(run_type: str) -> bool:
    """``EDATA``, ``ERRPEDCALIB``...: an operator renamed a known type to exclude the run."""
    return any(run_type != known and run_type.endswith(known) for known in KNOWN_TYPES)


def exclusion_reason(run_type: str) -> str:
    """Why a run of this type is not analysed as data (shown in the plan)."""
    if run_type in CALIBRATION_TYPES:
        return "calibration run"
    if run_type == "ERROR":
        return "marked ERROR by the DAQ"
    if _RUN_TYPE_RE.match(run_type) and _is_operator_exclusion(run_type):
        return f"excluded by operator (type renamed to {run_type})"
    return f"unknown run type {_printable(run_type)!r}"


def _as_int(value: object, where: str, column: str) -> int:
    if value is None:
        raise InputError(f"{where}: {column}: missing value")
    if isinstance(value, bool):
        raise InputError(f"{where}: {column}: expected an integer, got {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"\s*-?[0-9]+\s*", value):
        return int(value)
    raise InputError(f"{where}: {column}: expected an integer, got {_printable(str(value))!r}")


def _printable(text: str) -> str:
    """Control characters shown escaped: a hand-edited field can hold anything."""
    return _CONTROL_RE.sub(lambda m: f"\\x{ord(m.group()):02x}", text)[:80]


def read_run_catalog(path: Path) -> tuple[dict[int, Source], list[str]]:
    """Read the RunCatalog if there is one; a missing or empty catalog is only a warning."""
    if not path.exists():
        return {}, [f"{path.name}: no RunCatalog for this night; sources unknown"]
    table = read_ecsv(path, "RunCatalog")
    if "run_id" not in table.columns or "source_name" not in table.columns:
        raise InputError(f"{path}: RunCatalog lacks column run_id or source_name")
    warnings: list[str] = []
    sources: dict[int, Source] = {}
    for row, line in zip(table.rows, table.lines, strict=False):
        where = f"{path}:{line}"
        run = _as_int(row["run_id"], where, "run_id")
        if run in sources:
            warnings.append(f"{where}: run {run} listed twice; the first entry is kept")
            continue
        name = row.get("source_name")
        name = _printable(str(name)).strip() if name is not None else ""
        sources[run] = Source(
            name=name or "unknown",
            ra=_as_angle(row.get("source_ra")),
            dec=_as_angle(row.get("source_dec")),
        )
    if not sources:
        warnings.append(f"{path.name}: RunCatalog is empty; sources unknown")
    return sources, warnings


def _as_angle(value: object) -> float | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None
