"""Calibration inputs of a night, found on disk (not typed in) and explained.

Design note
-----------
Every finder returns either what it chose, with a one-line ``reason`` an operator can check,
or a :class:`NotFound` / :class:`MissingRun` saying what was searched. Nothing here reads a
file: the night's runs come from a callable, products are found by listing folders and
reading names (and the ``pro`` link's target).

**DRS4 and PEDCALIB runs** (lstosa ``nightsummary/extract.py``: ``get_last_drs4``,
``get_last_pedcalib``). Each is searched on its own: the night itself, then one night back
at a time; the first night with a run of that type gives its highest run id ("last" is the
largest ``run_id``, not the last row). lstosa means to stop after 4 earlier nights
(``n_max = 4``), but its loop test ``... == False & n <= n_max`` parses as
``any == (False & n) <= n_max``, i.e. only "none found", so it never stops (and a night
without a RunSummary makes it try to create one). Here the look-back is a real bound
(default 4 earlier nights) and a night without a RunSummary is simply a night without
calibration runs, named in the reason. The two may come from different nights; the answer
says so.

**Calibration version folder** (lstchain ``onsite``). Products live in
``Cat-A/<product>/<YYYYMMDD>/<version>/`` and every onsite script points
``<YYYYMMDD>/pro`` at the version it just wrote (a relative link). The version is either
pinned (``v0.10.4``) or ``pro``: then it is the target of the ``pro`` link of the Cat-A
*charge calibration* of the PEDCALIB night, read once (:func:`calibration_version`), and the
other products are matched by that version name. Their own ``pro`` links are skipped; a
version literally named ``pro`` (a real folder, or an unresolved ``pro``) searches the
``pro`` entries of every date, which is lstchain's per-date way.

**Time calibration and F-factor systematics: lstchain issue #1428** ("Onsite functions
return 'wrong' calibration files"). ``find_time_calibration_file("pro", run)`` globs
``*/pro/time_calibration.Run*.0000.h5`` at any depth, sorts the paths as text and keeps the
last run <= the calibration run, stopping at the first larger one. So: each date's own
``pro`` decides the version, and the result can come from another version than the night's
calibration; non-date folders (a ``Trash`` or backup copy) take part; and text order
decides: a date folder holding a run above the target ends the scan even if a later folder
has a good one, and ``Run100001`` sorts before ``Run99999``.
``find_systematics_correction_file`` takes the latest date folder <= the night, but when
there is none falls back to the *earliest*, i.e. a scan taken *after* the night (lstchain's
own test expects 20200725 for 20200218); it globs
``ffactor_systematics*`` yet returns a path it builds (``ffactor_systematics_<date>.h5``)
whether or not it exists, while ``onsite_create_ffactor_systematics_file`` writes
``<prefix>_scan_fit_<date>.<subrun>.h5`` (and lstosa's Cat-B path globs ``scan_fit*.h5``).
The rules here:

* only ``<YYYYMMDD>/<version>/`` folders are searched (real dates, one level each);
* the file of exactly that run (time) or date (systematics) in the calibration version,
  otherwise the closest *earlier* run / date, never a later one;
* other versions only when allowed (``allow="series"``: the same ``vX.Y`` as lstosa's
  ``get_major_version``; ``allow="any"``); allowed versions compete on closeness and a tie
  goes to the calibration version; a closer file in a version not allowed is named in the
  reason, not used;
* a systematics folder counts only if it holds a file named for its own date
  (``ffactor_systematics_<date>.h5`` first, else ``[<prefix>_]scan_fit_<date>.<subrun>.h5``);
* an operator may pin the run / date; a pin is taken as given (a later date included) and
  said so.

**Filter wheels** (lstosa ``get_calib_filters`` and lstchain ``find_filter_wheels`` read
them from the CaCo MongoDB; lstosa falls back to 52 when the database has no entry, and
reuses the name of an existing ``calibration_filters_*`` file when there is one). Here:
the per-night override if given; else the Cat-A file name
``calibration_filters_{ff}.Run{run:05d}.0000.h5`` of the PEDCALIB run in its night
(the calibration version's files if any, else those of any version: filters do not depend
on the version); files so consulted that disagree are an error, not a guess (lstosa takes
the last name in text order); else an optional default (lstosa's 52).
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

#: ``runs_of(night)``: the (run_id, run_type) rows of the night's RunSummary, or None
#: when the night has no RunSummary.
RunsOf = Callable[[dt.date], Sequence[tuple[int, str]] | None]
VersionPolicy = Literal["exact", "series", "any"]

DEFAULT_LOOK_BACK = 4  # lstosa's n_max: the night and 4 earlier ones

CALIBRATION_DIR = "calibration"
TIME_CALIBRATION_DIR = "drs4_time_sampling_from_FF"
SYSTEMATICS_DIR = "ffactor_systematics"
PRO = "pro"

DATE_DIR_RE = re.compile(r"^[0-9]{8}$")
TIME_CALIBRATION_RE = re.compile(r"^time_calibration\.Run(?P<run>[0-9]+)\.0000\.h5$")
SYSTEMATICS_RE = re.compile(
    r"^(?:ffactor_systematics_(?P<date>[0-9]{8})\.h5"
    r"|(?:[A-Za-z0-9_]+_)?scan_fit_(?P<scan_date>[0-9]{8})\.[0-9]{4}\.h5)$"
)
CALIBRATION_FILTERS_RE = re.compile(
    r"^(?:no_sys_corrected_)?calibration_filters_(?P<filters>[0-9]{2})"
    r"\.Run(?P<run>[0-9]+)\.0000\.h5$"
)
FILTERS_RE = re.compile(r"^[0-9]{2}$")
VERSION_SERIES_RE = re.compile(r"^v?(?P<major>[0-9]+)\.(?P<minor>[0-9]+)(?:[.+-]|$)")


# --- results ---------------------------------------------------------------------------
@dataclass(frozen=True)
class FoundRun:
    """The calibration run of one type the night uses, and where it was found."""

    run_type: str
    run_id: int
    night: dt.date
    nights_back: int
    reason: str


@dataclass(frozen=True)
class MissingRun:
    """No run of that type within the look-back."""

    run_type: str
    message: str
    searched: tuple[dt.date, ...]


@dataclass(frozen=True)
class CalibrationRuns:
    drs4: FoundRun | MissingRun
    pedcalib: FoundRun | MissingRun

    @property
    def complete(self) -> bool:
        return isinstance(self.drs4, FoundRun) and isinstance(self.pedcalib, FoundRun)

    @property
    def same_night(self) -> bool:
        """Both found, on the same night."""
        return (
            isinstance(self.drs4, FoundRun)
            and isinstance(self.pedcalib, FoundRun)
            and self.drs4.night == self.pedcalib.night
        )


@dataclass(frozen=True)
class CalibVersion:
    """The calibration version folder name (``v0.10.4``) and how it was decided."""

    version: str
    via_pro: bool
    folder: Path
    reason: str


@dataclass(frozen=True)
class CalibFile:
    """A chosen calibration product. ``run`` is set for run-keyed products (time
    calibration), None for date-keyed ones (systematics); ``exact`` when it is the file of
    exactly the run / date asked for."""

    path: Path
    version: str
    night: dt.date
    run: int | None
    exact: bool
    reason: str


@dataclass(frozen=True)
class FilterWheels:
    """Calibration-box filter wheel positions, ``filters`` as in file names (``"52"``)."""

    filters: str
    source: Literal["override", "calibration file", "default"]
    path: Path | None
    reason: str

    @property
    def wheels(self) -> tuple[int, int]:
        return int(self.filters[0]), int(self.filters[1])


@dataclass(frozen=True)
class NotFound:
    """Nothing suitable; ``message`` says what was searched and what was refused."""

    what: str
    message: str
    searched: tuple[Path, ...] = field(default_factory=tuple)


# --- DRS4 / PEDCALIB runs ------------------------------------------------------------------
def find_last_run(
    run_type: str,
    night: dt.date,
    runs_of: RunsOf,
    look_back: int = DEFAULT_LOOK_BACK,
) -> FoundRun | MissingRun:
    """The highest run id of ``run_type`` on the night, else on the nearest earlier night
    within ``look_back`` nights."""
    if isinstance(look_back, bool) or not isinstance(look_back, int) or look_back < 0:
        raise ValueError(f"look_back must be a whole number of nights >= 0, got {look_back!r}")
    searched: list[dt.date] = []
    no_summary: list[dt.date] = []
    for back in range(look_back + 1):
        day = night - dt.timedelta(days=back)
        searched.append(day)
        rows = runs_of(day)
        if rows is None:
            no_summary.append(day)
            continue
        ids = sorted({int(run_id) for run_id, kind in rows if kind == run_type})
        if not ids:
            continue
        run_id = ids[-1]
        where = "tonight" if back == 0 else f"{back} night{'s' if back > 1 else ''} back"
        why = f"{run_type} run {run_id} of {day.isoformat()} ({where}"
        why += f"; last of {', '.join(map(str, ids))})" if len(ids) > 1 else ")"
        if back:
            why += f"; none on {_dates(searched[:-1], no_summary)}"
        return FoundRun(run_type, run_id, day, back, why)
    span = (
        f"{night.isoformat()}"
        if look_back == 0
        else f"{night.isoformat()} nor the {look_back} night{'s' if look_back > 1 else ''} before"
    )
    message = f"no {run_type} run on {span} (searched {_dates(searched, no_summary)})"
    return MissingRun(run_type, message, tuple(searched))


def find_calibration_runs(
    night: dt.date, runs_of: RunsOf, look_back: int = DEFAULT_LOOK_BACK
) -> CalibrationRuns:
    """The last DRS4 and the last PEDCALIB run, each searched on its own (one ``runs_of``
    call per night)."""
    cache: dict[dt.date, Sequence[tuple[int, str]] | None] = {}

    def cached(day: dt.date) -> Sequence[tuple[int, str]] | None:
        if day not in cache:
            cache[day] = runs_of(day)
        return cache[day]

    return CalibrationRuns(
        drs4=find_last_run("DRS4", night, cached, look_back),
        pedcalib=find_last_run("PEDCALIB", night, cached, look_back),
    )


def _dates(days: Sequence[dt.date], no_summary: Sequence[dt.date]) -> str:
    parts = [f"{d.isoformat()}{' (no RunSummary)' if d in no_summary else ''}" for d in days]
    return ", ".join(parts)


# --- calibration version --------------------------------------------------------------
def calibration_version(
    cat_a_dir: Path, night: dt.date, version: str = PRO
) -> CalibVersion | NotFound:
    """The Cat-A calibration version of a night: the ``pro`` link's target, or pinned."""
    _check_version(version)
    night_dir = cat_a_dir / CALIBRATION_DIR / _folder(night)
    if version != PRO:
        folder = night_dir / version
        there = "" if folder.is_dir() else f" (no {folder} yet)"
        return CalibVersion(version, False, folder, f"pinned version {version}{there}")
    link = night_dir / PRO
    if not link.is_symlink():
        if link.is_dir():
            return CalibVersion(
                PRO, False, link, f"{link} is a folder, not a link: version named 'pro'"
            )
        return NotFound(
            "calibration version",
            f"no pro link in {night_dir} (no Cat-A calibration of {night.isoformat()} yet?); "
            f"pin a version",
            (link,),
        )
    target = os.readlink(link)
    folder = night_dir / target
    name = Path(target).name
    if not folder.is_dir():
        return NotFound("calibration version", f"{link} -> {target}: the link is broken", (link,))
    if Path(os.path.normpath(folder)).parent != night_dir:
        return CalibVersion(name, True, folder, f"pro -> {target} (outside {night_dir})")
    return CalibVersion(name, True, folder, f"{night_dir.name}/pro -> {name}")


def version_series(version: str) -> str | None:
    """``v0.10.4`` -> ``v0.10`` (lstosa's ``get_major_version``); None if not ``vX.Y...``."""
    match = VERSION_SERIES_RE.match(version)
    if match is None:
        return None
    return f"v{int(match['major'])}.{int(match['minor'])}"


def _version_allowed(candidate: str, version: str, allow: VersionPolicy) -> bool:
    if candidate == version:
        return True
    if allow == "any":
        return True
    if allow == "series":
        series = version_series(version)
        return series is not None and version_series(candidate) == series
    return False


# --- products on disk -----------------------------------------------------------------
@dataclass(frozen=True)
class _Product:
    night: dt.date
    version: str
    name: str
    path: Path
    key: int  # run number, or the date as YYYYMMDD


def _scan(
    product_dir: Path,
    pattern: re.Pattern[str],
    key: Callable[[re.Match[str], dt.date], int | None],
    wanted: str,
) -> list[_Product]:
    """``<product_dir>/<YYYYMMDD>/<version>/<file>``: real dates only, one level each. The
    ``pro`` entries are aliases and skipped (versions are compared by name), unless the
    version asked for is literally ``pro`` (then only those are real candidates)."""
    found = []
    for date_name in _list(product_dir, dirs=True):
        night = _parse_folder_date(date_name)
        if night is None:
            continue
        for version in _list(product_dir / date_name, dirs=True):
            if version == PRO and wanted != PRO:
                continue
            folder = product_dir / date_name / version
            for name in _list(folder, dirs=False):
                match = pattern.match(name)
                if match is None:
                    continue
                value = key(match, night)
                if value is not None:
                    found.append(_Product(night, version, name, folder / name, value))
    return found


def _pick(
    products: list[_Product],
    target: int,
    version: str,
    allow: VersionPolicy,
) -> tuple[_Product | None, list[_Product], list[_Product]]:
    """(chosen, later ones of the allowed versions, closer ones of versions not allowed).

    The chosen one has the largest key <= target among the allowed versions; a tie goes to
    the calibration version, then to the highest version, then to the latest folder."""
    allowed = [p for p in products if _version_allowed(p.version, version, allow)]
    later = [p for p in allowed if p.key > target]
    eligible = [p for p in allowed if p.key <= target]
    refused = [
        p for p in products if p.key <= target and not _version_allowed(p.version, version, allow)
    ]
    if not eligible:
        return None, later, refused
    best = max(
        eligible, key=lambda p: (p.key, p.version == version, _version_key(p.version), p.night)
    )
    return best, later, [p for p in refused if p.key > best.key]


def _version_key(version: str) -> tuple[tuple[int, int | str], ...]:
    """``v0.10.4`` sorts after ``v0.9.2`` (numbers as numbers, other parts after them)."""
    return tuple(
        (0, int(part)) if part.isdigit() else (1, part)
        for part in re.split(r"[.+-]", version.lstrip("v"))
    )


def _refusals(refused: list[_Product], allow: VersionPolicy) -> str:
    if not refused:
        return ""
    best = max(refused, key=lambda p: (p.key, p.night))
    rule = "other versions not allowed" if allow == "exact" else f"outside allow={allow}"
    more = f" and {len(refused) - 1} more" if len(refused) > 1 else ""
    return f"; not used: {_rel(best)}{more} ({rule})"


def _version_note(best: _Product, version: str, allow: VersionPolicy) -> str:
    if best.version == version:
        return f" (calibration version {version})"
    return f" (from {best.version}, allowed by allow={allow}; calibration version {version})"


def _versions(version: str, allow: VersionPolicy) -> str:
    if allow == "exact":
        return f"version {version}"
    if allow == "series":
        return f"version {version} or its series {version_series(version) or version}"
    return "any version"


def _rel(p: _Product) -> str:
    return f"{_folder(p.night)}/{p.version}/{p.name}"


# --- time calibration -----------------------------------------------------------------
def find_time_calibration(
    cat_a_dir: Path,
    pedcal_run: int,
    version: str,
    *,
    allow: VersionPolicy = "exact",
    pinned_run: int | None = None,
) -> CalibFile | NotFound:
    """The time calibration for a PEDCALIB run: that run's own file in the calibration
    version, else the latest earlier run's; never a later run."""
    _check_version(version)
    time_dir = cat_a_dir / TIME_CALIBRATION_DIR
    products = _scan(time_dir, TIME_CALIBRATION_RE, lambda m, _night: int(m["run"]), version)
    searched = (time_dir / "YYYYMMDD" / version,)
    if pinned_run is not None:
        pins = [
            p
            for p in products
            if p.key == pinned_run and _version_allowed(p.version, version, allow)
        ]
        if not pins:
            return NotFound(
                "time calibration",
                f"pinned time calibration run {pinned_run} not found in {time_dir}/*/{version}"
                + ("" if allow == "exact" else f" (or allow={allow} versions)"),
                searched,
            )
        pin = max(pins, key=lambda p: (p.version == version, _version_key(p.version), p.night))
        return CalibFile(
            pin.path,
            pin.version,
            pin.night,
            pin.key,
            pin.key == pedcal_run,
            f"{_rel(pin)}: run {pinned_run} pinned by the operator",
        )
    best, later, refused = _pick(products, pedcal_run, version, allow)
    skipped = f"; {len(later)} later run{'s' if len(later) != 1 else ''} ignored" if later else ""
    if best is None:
        first_later = min(later, key=lambda p: p.key) if later else None
        hint = f"; the first later one is {_rel(first_later)} (never used)" if first_later else ""
        return NotFound(
            "time calibration",
            f"no time calibration at or before PEDCALIB run {pedcal_run} in "
            f"{_versions(version, allow)}"
            f" under {time_dir}{hint}{_refusals(refused, allow)}",
            searched,
        )
    if best.key == pedcal_run:
        why = f"{_rel(best)}: the time calibration of PEDCALIB run {pedcal_run} itself"
    else:
        why = f"{_rel(best)}: latest time calibration before PEDCALIB run {pedcal_run}"
    why += _version_note(best, version, allow)
    return CalibFile(
        best.path,
        best.version,
        best.night,
        best.key,
        best.key == pedcal_run,
        why + skipped + _refusals(refused, allow),
    )


# --- F-factor systematics -------------------------------------------------------------
def find_systematics_file(
    cat_a_dir: Path,
    night: dt.date,
    version: str,
    *,
    allow: VersionPolicy = "exact",
    pinned_date: dt.date | None = None,
) -> CalibFile | NotFound:
    """The F-factor systematics for a night: that date's scan in the calibration version,
    else the latest earlier scan; never a later one unless pinned."""
    _check_version(version)
    sys_dir = cat_a_dir / SYSTEMATICS_DIR
    products = _scan(sys_dir, SYSTEMATICS_RE, _systematics_key, version)
    products = _one_per_folder(products)
    searched = (sys_dir / "YYYYMMDD" / version,)
    target = _date_key(night)
    if pinned_date is not None:
        pinned = _date_key(pinned_date)
        pins = [
            p for p in products if p.key == pinned and _version_allowed(p.version, version, allow)
        ]
        if not pins:
            return NotFound(
                "F-factor systematics",
                f"pinned systematics date {pinned_date.isoformat()} not found in "
                f"{sys_dir}/{_folder(pinned_date)}/{version}",
                searched,
            )
        pin = max(pins, key=lambda p: (p.version == version, _version_key(p.version)))
        when = " (later than the night)" if pinned > target else ""
        return CalibFile(
            pin.path,
            pin.version,
            pin.night,
            None,
            pinned == target,
            f"{_rel(pin)}: date {pinned_date.isoformat()} pinned by the operator{when}",
        )
    best, later, refused = _pick(products, target, version, allow)
    if best is None:
        first_later = min(later, key=lambda p: p.key) if later else None
        hint = (
            f"; only later scans exist, e.g. {_rel(first_later)} (a later scan is never "
            f"taken unasked; pin its date to use it)"
            if first_later
            else ""
        )
        return NotFound(
            "F-factor systematics",
            f"no F-factor systematics on or before {night.isoformat()} in "
            f"{_versions(version, allow)}"
            f" under {sys_dir}{hint}{_refusals(refused, allow)}",
            searched,
        )
    exact = best.key == target
    scan = "the scan of the night itself" if exact else f"latest scan before {night.isoformat()}"
    why = f"{_rel(best)}: {scan}" + _version_note(best, version, allow)
    if later:
        why += f"; {len(later)} later scan{'s' if len(later) != 1 else ''} ignored"
    return CalibFile(
        best.path, best.version, best.night, None, exact, why + _refusals(refused, allow)
    )


def _systematics_key(match: re.Match[str], night: dt.date) -> int | None:
    """The folder's date, if the file is named for it (else the file is not this date's)."""
    named = match["date"] or match["scan_date"]
    return _date_key(night) if named == _folder(night) else None


def _one_per_folder(products: list[_Product]) -> list[_Product]:
    """One file per date/version folder: lstchain's ``ffactor_systematics_<date>.h5`` first,
    then the scan-fit name of ``onsite_create_ffactor_systematics_file``."""
    best: dict[tuple[dt.date, str], _Product] = {}
    for p in sorted(products, key=lambda p: (not p.name.startswith("ffactor_"), p.name)):
        best.setdefault((p.night, p.version), p)
    return list(best.values())


# --- filter wheels --------------------------------------------------------------------
def calibration_filters(
    cat_a_dir: Path,
    pedcal_run: int,
    pedcal_night: dt.date,
    version: str,
    *,
    override: str | int | None = None,
    default: str | int | None = None,
) -> FilterWheels | NotFound:
    """The filter wheels of a PEDCALIB run: a per-night override, else the Cat-A
    calibration file name of that run, else ``default`` (lstosa uses 52), else NotFound."""
    _check_version(version)
    if override is not None:
        filters = _check_filters(override, "override")
        return FilterWheels(filters, "override", None, f"filters {filters}: per-night override")
    night_dir = cat_a_dir / CALIBRATION_DIR / _folder(pedcal_night)
    found: dict[str, list[tuple[str, Path]]] = {}
    for sub in _list(night_dir, dirs=True):
        if sub == PRO and sub != version:
            continue
        for name in _list(night_dir / sub, dirs=False):
            match = CALIBRATION_FILTERS_RE.match(name)
            if match and int(match["run"]) == pedcal_run:
                found.setdefault(sub, []).append((match["filters"], night_dir / sub / name))
    preferred = found.get(version, [])
    pool = preferred or [item for sub in sorted(found) for item in found[sub]]
    values = sorted({filters for filters, _ in pool})
    if len(values) > 1:
        listed = ", ".join(str(path.relative_to(night_dir)) for _, path in pool)
        return NotFound(
            "filter wheels",
            f"Cat-A calibration files of run {pedcal_run} disagree on the filters ({listed}); "
            f"set a per-night override",
            (night_dir,),
        )
    if values:
        filters, path = pool[0]
        where = path.relative_to(night_dir)
        extra = "" if preferred else f" (none in {version}; filters do not depend on the version)"
        return FilterWheels(
            filters, "calibration file", path, f"filters {filters} from {where}{extra}"
        )
    if default is not None:
        filters = _check_filters(default, "default")
        return FilterWheels(
            filters,
            "default",
            None,
            f"filters {filters} assumed: no Cat-A calibration file of run {pedcal_run} "
            f"in {night_dir}",
        )
    return NotFound(
        "filter wheels",
        f"no calibration_filters_XX.Run{pedcal_run:05d}.0000.h5 in {night_dir}/*; "
        f"set a per-night override",
        (night_dir,),
    )


def _check_filters(value: str | int, what: str) -> str:
    text = str(value).strip()
    if not FILTERS_RE.match(text):
        raise ValueError(f"filter wheels {what}: expected two digits like 52, got {value!r}")
    return text


# --- helpers --------------------------------------------------------------------------
def _check_version(version: str) -> None:
    if not version or version in {".", ".."} or "/" in version or "\\" in version:
        raise ValueError(f"calibration version must be a folder name, got {version!r}")


def _folder(night: dt.date) -> str:
    return night.strftime("%Y%m%d")


def _date_key(night: dt.date) -> int:
    return int(_folder(night))


def _parse_folder_date(name: str) -> dt.date | None:
    if not DATE_DIR_RE.match(name):
        return None
    try:
        return dt.datetime.strptime(name, "%Y%m%d").date()
    except ValueError:
        return None


def _list(folder: Path, *, dirs: bool) -> list[str]:
    """Names of the folder's sub-folders (``dirs``) or files, links followed; sorted."""
    try:
        with os.scandir(folder) as entries:
            return sorted(e.name for e in entries if (e.is_dir() if dirs else e.is_file()))
    except (FileNotFoundError, NotADirectoryError, PermissionError):
        return []
