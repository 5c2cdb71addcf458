"""Which DL2 random-forest models a run uses, chosen from the models tree and explained.

Design note
-----------
The models tree is ``<models root>/<mc_prod>nsb_tuning_X.XX/dec_<line>/`` (lstosa's
``RF_MODELS`` is ``<BASE>/models/AllSky`` and its ``mc_prod`` a prefix such as
``20240918_v0.10.12_allsky_``). The choice is lstosa's ``get_RF_model`` with its rules spelt
out and its crashes turned into a :class:`NoModels` answer that says what was searched.

1. **NSB.** The tail-cut finder (``lstchain_find_tailcuts``) gives an additional NSB rate and a
   picture threshold (8, 10, ..., 18). lstosa (``get_nsb_level``) first snaps the rate to
   the nearest of the NSB levels trained *for that picture threshold*::

       level  0.00 0.07 0.14 0.22 0.38 0.50 0.81 1.25 1.76 2.34
       thresh    8    8    8    8   10   10   12   14   16   18

   so a run cleaned at 10 goes to 0.38 or 0.50 whatever its rate; then (``get_mc_nsb_dir``)
   it takes the ``nsb_tuning`` folder nearest that level. Both steps are kept. Without a
   picture threshold the rate is compared to the folders directly. A negative or NaN rate,
   or a threshold outside the table, gives :class:`NoModels` (lstosa raises or crashes).
   Folders holding no ``dec_*`` line are passed over (lstosa would crash in them). Ties go
   to the lower level, as lstosa's ordered search does.
2. **Declination line.** ``dec_2276`` is +22.76 deg and ``dec_min_413`` is -4.13 deg (three
   or four digits, hundredths of a degree; lstosa's ``convert_dec_string``). Other names are
   ignored (lstosa pairs names and values by position after dropping only the values, so a
   stray ``dec_2276_old`` shifts its pairs). The line nearest the pointing declination (the
   RunCatalog ``source_dec``, which is the pointing) is taken, unless it culminates farther
   from the zenith than the pointing does: the culmination zenith angle is
   ``|latitude - dec|`` with the site latitude of gammapy's ``cta_north`` (28d45m43.7904s =
   28.762164 deg), and a line culminating lower in the sky than the pointing was not trained
   down to the pointing's smallest zenith angles. Such lines are skipped, nearest first,
   until one culminates at most as far from the zenith as the pointing. The check is waived
   when the pointing lies between (inclusive) the two lines nearest the site latitude: there
   it could drop both (a pointing at the latitude culminates at the zenith, nearer than any
   line), and the nearest line is the best there is. Distance ties go to the line
   culminating nearer the zenith (lstosa leaves them to the directory listing order). With
   one line only there is no pair to lie between, so the check applies (lstosa crashes).
3. **Product id.** The DL2 sub-production is named after the NSB folder: ``nsb_tuning_X.XX``
   (lstosa's ``get_dl2_nsb_prod_id``). lstosa reads it from the resolved model path; here it
   comes from the folder name, so a ``dec_*`` symlink into another NSB folder is not
   followed (this module only lists folders).

No declination means no line can be chosen: :class:`NoModels`, naming the NSB folder that
would have been used. Nothing here reads a file or imports numpy/astropy.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
from pathlib import Path

#: Latitude (deg) of gammapy's ``observatory_locations["cta_north"]`` (28d45m43.7904s),
#: which lstosa's ``culmination_angle`` and ``get_RF_model`` use for LST-1.
LST1_LATITUDE_DEG = 28.0 + 45.0 / 60.0 + 43.7904 / 3600.0

#: lstosa ``get_nsb_level``: the NSB levels of the MC tunings and the picture threshold
#: the tail-cut finder gives for each.
NSB_LEVELS: tuple[float, ...] = (0.00, 0.07, 0.14, 0.22, 0.38, 0.50, 0.81, 1.25, 1.76, 2.34)
PICTURE_THRESHOLDS: tuple[int, ...] = (8, 8, 8, 8, 10, 10, 12, 14, 16, 18)

DEC_LINE_RE = re.compile(r"^dec_(?P<minus>min_)?(?P<hundredths>[0-9]{3,4})$")
NSB_SUFFIX_RE = re.compile(r"^_?(?P<tag>nsb_tuning_(?P<level>[0-9]+\.[0-9]+))$")

# Differences below this are float noise (inputs carry at most hundredths of a degree).
_EPS = 1e-9


@dataclass(frozen=True)
class DecLine:
    """One ``dec_*`` folder and the declination its name encodes."""

    name: str
    dec: float

    def culmination(self, latitude_deg: float = LST1_LATITUDE_DEG) -> float:
        return culmination_zenith(self.dec, latitude_deg)


@dataclass(frozen=True)
class NsbFolder:
    """One ``<mc_prod>nsb_tuning_X.XX`` folder and the declination lines inside it."""

    name: str
    level: float
    prod_id: str  # "nsb_tuning_0.14"
    lines: tuple[DecLine, ...]


@dataclass(frozen=True)
class ModelChoice:
    """The models of one run: ``path`` is ``<root>/<nsb folder>/<dec line>``."""

    run_id: int
    path: Path
    nsb_folder: str
    nsb_level: float
    dec_line: str
    dec_line_deg: float
    dl2_prod_id: str
    reason: str


@dataclass(frozen=True)
class NoModels:
    """No models can be chosen for the run; ``message`` says why and what was searched."""

    run_id: int
    message: str
    searched: Path


def parse_dec_line(name: str) -> float | None:
    """``dec_2276`` -> 22.76, ``dec_min_413`` -> -4.13, anything else -> None."""
    match = DEC_LINE_RE.match(name)
    if match is None:
        return None
    value = int(match["hundredths"]) / 100.0
    return -value if match["minus"] else value


def culmination_zenith(dec_deg: float, latitude_deg: float = LST1_LATITUDE_DEG) -> float:
    """Zenith angle (deg) at which a declination culminates seen from the site."""
    return abs(latitude_deg - dec_deg)


def nsb_tuning_folder(name: str, mc_prod: str) -> tuple[float, str] | None:
    """``(0.14, "nsb_tuning_0.14")`` for ``<mc_prod>[_]nsb_tuning_0.14``, else None."""
    if not name.startswith(mc_prod):
        return None
    match = NSB_SUFFIX_RE.match(name[len(mc_prod) :])
    if match is None:
        return None
    return float(match["level"]), match["tag"]


def scan_models(models_root: Path, mc_prod: str) -> tuple[NsbFolder, ...]:
    """The NSB folders of ``mc_prod`` under the root, lowest level first (two listings deep)."""
    found = []
    for entry in _list_dirs(models_root):
        parsed = nsb_tuning_folder(entry, mc_prod)
        if parsed is None:
            continue
        level, prod_id = parsed
        lines = []
        for sub in _list_dirs(models_root / entry):
            dec = parse_dec_line(sub)
            if dec is not None:
                lines.append(DecLine(sub, dec))
        lines.sort(key=lambda line: (line.dec, line.name))
        found.append(NsbFolder(entry, level, prod_id, tuple(lines)))
    found.sort(key=lambda folder: (folder.level, folder.name))
    return tuple(found)


def nsb_target(nsb: float, picture_thresh: int | None) -> tuple[float, str] | str:
    """The NSB level the folders are compared with, and how it was reached.

    Returns an error sentence (a plain ``str``) when no level can be given."""
    if math.isnan(nsb):
        return "the tail-cut finder gave no NSB rate (NaN)"
    if nsb < 0:
        return f"the additional NSB rate {nsb:.2f} is below 0 (lstosa refuses it too)"
    if picture_thresh is None:
        return nsb, f"NSB {nsb:.2f}"
    candidates = [
        lvl for lvl, th in zip(NSB_LEVELS, PICTURE_THRESHOLDS, strict=True) if th == picture_thresh
    ]
    if not candidates:
        known = ", ".join(str(t) for t in sorted(set(PICTURE_THRESHOLDS)))
        return f"picture threshold {picture_thresh} is not one the tail-cut finder gives ({known})"
    level = _nearest(candidates, nsb)
    listed = ", ".join(f"{c:.2f}" for c in candidates)
    return level, (
        f"NSB {nsb:.2f} at picture threshold {picture_thresh} -> level {level:.2f} "
        f"(nearest of {listed})"
    )


def choose_dec_line(
    lines: tuple[DecLine, ...] | list[DecLine],
    pointing_dec: float,
    latitude_deg: float = LST1_LATITUDE_DEG,
) -> tuple[DecLine | None, str]:
    """The declination line for a pointing, and why (or why none)."""
    if not lines:
        return None, "no dec_* lines"
    by_site = sorted(lines, key=lambda line: (abs(line.dec - latitude_deg), line.dec))[:2]
    pointing_culm = culmination_zenith(pointing_dec, latitude_deg)
    ordered = sorted(
        lines,
        key=lambda line: (
            round(abs(line.dec - pointing_dec), 9),
            line.culmination(latitude_deg),
            line.dec,
        ),
    )
    if len(by_site) == 2:
        low, high = sorted(by_site, key=lambda line: line.dec)
        if low.dec - _EPS <= pointing_dec <= high.dec + _EPS:
            return ordered[0], (
                f"nearest line; the pointing lies between {low.name} and {high.name}, the "
                f"lines nearest the site latitude {latitude_deg:.2f}, so no culmination check"
            )
    skipped: list[DecLine] = []
    for line in ordered:
        culm = line.culmination(latitude_deg)
        if culm > pointing_culm + _EPS:
            skipped.append(line)
            continue
        why = (
            f"nearest line culminating no farther from the zenith than the pointing: "
            f"{culm:.1f} deg vs {pointing_culm:.1f} deg"
        )
        if skipped:
            why += "; skipped " + ", ".join(
                f"{s.name} ({s.culmination(latitude_deg):.1f} deg)" for s in skipped
            )
        return line, why
    every = ", ".join(f"{s.name} ({s.culmination(latitude_deg):.1f} deg)" for s in skipped)
    return None, (
        f"every line culminates farther from the zenith than the pointing "
        f"({pointing_culm:.1f} deg): {every}"
    )


def choose_rf_model(
    models_root: Path,
    mc_prod: str,
    *,
    run_id: int,
    nsb: float,
    picture_thresh: int | None,
    pointing_dec: float | None,
    latitude_deg: float = LST1_LATITUDE_DEG,
) -> ModelChoice | NoModels:
    """The RF models of a run, by lstosa's rules (see the module note)."""
    pattern = f"{models_root}/{mc_prod}nsb_tuning_X.XX/dec_*"

    def none(why: str) -> NoModels:
        return NoModels(
            run_id, f"run {run_id}: no RF models: {why} (searched {pattern})", models_root
        )

    target = nsb_target(nsb, picture_thresh)
    if isinstance(target, str):
        return none(target)
    level, nsb_why = target
    if not models_root.is_dir():
        return none(f"the models folder {models_root} does not exist")
    folders = scan_models(models_root, mc_prod)
    if not folders:
        return none(f"no folder named {mc_prod}nsb_tuning_X.XX")
    usable = [f for f in folders if f.lines]
    if not usable:
        names = ", ".join(f.name for f in folders)
        return none(f"no dec_* line in any NSB folder ({names})")
    folder = usable[_nearest_index([f.level for f in usable], level)]
    listed = ", ".join(f"{f.level:.2f}" for f in usable)
    nsb_part = f"{nsb_why} -> {folder.prod_id} (nearest of {listed})"
    passed = [
        f for f in folders if not f.lines and abs(f.level - level) < abs(folder.level - level)
    ]
    if passed:
        nsb_part += "; passed over " + ", ".join(f.prod_id for f in passed) + " (no dec_* lines)"
    if picture_thresh is not None and not _same_cleaning(folder.level, picture_thresh):
        nsb_part += (
            f"; note: {folder.level:.2f} is not a level of picture threshold {picture_thresh}"
        )
    if pointing_dec is None or math.isnan(pointing_dec):
        names = ", ".join(line.name for line in folder.lines)
        return none(
            f"no pointing declination to choose among {names} in {folder.name} ({nsb_part})"
        )
    line, dec_why = choose_dec_line(folder.lines, pointing_dec, latitude_deg)
    if line is None:
        return none(f"dec {pointing_dec:+.1f} in {folder.name}: {dec_why} ({nsb_part})")
    return ModelChoice(
        run_id=run_id,
        path=models_root / folder.name / line.name,
        nsb_folder=folder.name,
        nsb_level=folder.level,
        dec_line=line.name,
        dec_line_deg=line.dec,
        dl2_prod_id=folder.prod_id,
        reason=f"{nsb_part}; dec {pointing_dec:+.1f} -> {line.name} ({dec_why})",
    )


def _same_cleaning(level: float, picture_thresh: int) -> bool:
    return any(
        abs(lvl - level) < _EPS and th == picture_thresh
        for lvl, th in zip(NSB_LEVELS, PICTURE_THRESHOLDS, strict=True)
    )


def _nearest_index(values: list[float], target: float) -> int:
    """Index of the value nearest the target; ties go to the lower value."""
    return min(range(len(values)), key=lambda i: (round(abs(values[i] - target), 9), values[i]))


def _nearest(values: list[float], target: float) -> float:
    return values[_nearest_index(values, target)]


def _list_dirs(folder: Path) -> list[str]:
    """Names of the sub-folders (links to folders included); nothing when unreadable."""
    try:
        with os.scandir(folder) as entries:
            return sorted(e.name for e in entries if e.is_dir())
    except (FileNotFoundError, NotADirectoryError, PermissionError):
        return []
