"""Calibration inputs found on disk (osa_core.calibration.finders), trees of empty files."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence
from pathlib import Path

import pytest

from osa_core.calibration.finders import (
    CalibFile,
    CalibVersion,
    FilterWheels,
    FoundRun,
    MissingRun,
    NotFound,
    calibration_filters,
    calibration_version,
    find_calibration_runs,
    find_last_run,
    find_systematics_file,
    find_time_calibration,
    version_series,
)

NIGHT = dt.date(2023, 11, 21)
TIME = "drs4_time_sampling_from_FF"
SYS = "ffactor_systematics"


def d(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


def touch(root: Path, *relatives: str) -> None:
    for relative in relatives:
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("")


def pro(root: Path, relative_dir: str, version: str) -> None:
    """``<relative_dir>/pro -> <version>`` (relative, as lstchain's create_pro_symlink)."""
    link = root / relative_dir / "pro"
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(version)


@pytest.fixture
def cat_a(tmp_path: Path) -> Path:
    root = tmp_path / "monitoring" / "PixelCalibration" / "Cat-A"
    root.mkdir(parents=True)
    return root


# --- DRS4 / PEDCALIB runs ------------------------------------------------------------------
class Summaries:
    """``runs_of`` over a dict of nights, recording the nights asked for."""

    def __init__(self, nights: dict[str, list[tuple[int, str]] | None]) -> None:
        self.nights = {d(k): v for k, v in nights.items()}
        self.calls: list[dt.date] = []

    def __call__(self, night: dt.date) -> Sequence[tuple[int, str]] | None:
        self.calls.append(night)
        return self.nights.get(night, [])


def test_both_tonight_highest_run_id_wins() -> None:
    runs = Summaries(
        {
            "2023-11-21": [
                (15770, "DATA"),
                (15766, "PEDCALIB"),
                (15765, "DRS4"),
                (15780, "DRS4"),  # a second DRS4 later in the night: "last" is the highest
                (15760, "DRS4"),
            ]
        }
    )
    found = find_calibration_runs(NIGHT, runs)
    assert isinstance(found.drs4, FoundRun) and isinstance(found.pedcalib, FoundRun)
    assert (found.drs4.run_id, found.drs4.night, found.drs4.nights_back) == (15780, NIGHT, 0)
    assert found.drs4.reason == (
        "DRS4 run 15780 of 2023-11-21 (tonight; last of 15760, 15765, 15780)"
    )
    assert found.pedcalib.run_id == 15766
    assert found.pedcalib.reason == "PEDCALIB run 15766 of 2023-11-21 (tonight)"
    assert found.complete and found.same_night
    with pytest.raises(dataclasses.FrozenInstanceError):
        found.drs4.run_id = 1  # type: ignore[misc]


def test_each_type_looks_back_on_its_own() -> None:
    runs = Summaries(
        {
            "2023-11-21": [(15770, "DATA"), (15768, "DRS4")],
            "2023-11-20": None,  # no RunSummary that night
            "2023-11-19": [(15700, "PEDCALIB"), (15699, "DRS4")],
        }
    )
    found = find_calibration_runs(NIGHT, runs)
    assert isinstance(found.drs4, FoundRun) and isinstance(found.pedcalib, FoundRun)
    assert (found.drs4.run_id, found.drs4.nights_back) == (15768, 0)
    assert (found.pedcalib.run_id, found.pedcalib.night) == (15700, d("2023-11-19"))
    assert found.pedcalib.nights_back == 2
    assert found.pedcalib.reason == (
        "PEDCALIB run 15700 of 2023-11-19 (2 nights back); "
        "none on 2023-11-21, 2023-11-20 (no RunSummary)"
    )
    assert found.complete and not found.same_night
    # one runs_of call per night for both searches
    assert runs.calls == [NIGHT, d("2023-11-20"), d("2023-11-19")]


def test_one_night_back_wording() -> None:
    runs = Summaries({"2023-11-20": [(15720, "DRS4")]})
    found = find_last_run("DRS4", NIGHT, runs)
    assert isinstance(found, FoundRun)
    assert found.reason == "DRS4 run 15720 of 2023-11-20 (1 night back); none on 2023-11-21"


def test_look_back_is_a_real_bound() -> None:
    # lstosa's loop test `... == False & n <= n_max` never stops; here 4 nights means 4.
    runs = Summaries({"2023-11-16": [(15500, "PEDCALIB")]})  # 5 nights back
    missing = find_last_run("PEDCALIB", NIGHT, runs, look_back=4)
    assert isinstance(missing, MissingRun)
    assert missing.searched == tuple(NIGHT - dt.timedelta(days=n) for n in range(5))
    assert runs.calls == list(missing.searched)
    assert missing.message.startswith(
        "no PEDCALIB run on 2023-11-21 nor the 4 nights before (searched 2023-11-21, "
    )
    found = find_last_run("PEDCALIB", NIGHT, runs, look_back=5)
    assert isinstance(found, FoundRun) and found.nights_back == 5


def test_look_back_zero_and_missing_summaries() -> None:
    runs = Summaries({"2023-11-21": None, "2023-11-20": [(1, "DRS4")]})
    missing = find_last_run("DRS4", NIGHT, runs, look_back=0)
    assert isinstance(missing, MissingRun)
    assert missing.message == ("no DRS4 run on 2023-11-21 (searched 2023-11-21 (no RunSummary))")
    found = find_calibration_runs(NIGHT, runs, look_back=1)
    assert isinstance(found.drs4, FoundRun)
    assert isinstance(found.pedcalib, MissingRun)
    assert not found.complete and not found.same_night
    assert "nor the 1 night before" in found.pedcalib.message


@pytest.mark.parametrize("bad", [-1, 1.5, True, "4"])
def test_look_back_must_be_a_count(bad: object) -> None:
    with pytest.raises(ValueError, match="look_back"):
        find_last_run("DRS4", NIGHT, Summaries({}), look_back=bad)  # type: ignore[arg-type]


# --- calibration version -------------------------------------------------------------
def test_version_from_pro_link(cat_a: Path) -> None:
    touch(cat_a, "calibration/20231121/v0.10.4/calibration_filters_52.Run15766.0000.h5")
    pro(cat_a, "calibration/20231121", "v0.10.4")
    version = calibration_version(cat_a, NIGHT)
    assert isinstance(version, CalibVersion)
    assert version.version == "v0.10.4"
    assert version.via_pro
    assert version.folder == cat_a / "calibration/20231121/v0.10.4"
    assert version.reason == "20231121/pro -> v0.10.4"


def test_absolute_pro_link_elsewhere(cat_a: Path, tmp_path: Path) -> None:
    other = tmp_path / "elsewhere" / "v0.10.3"
    other.mkdir(parents=True)
    (cat_a / "calibration/20231121").mkdir(parents=True)
    (cat_a / "calibration/20231121/pro").symlink_to(other)
    version = calibration_version(cat_a, NIGHT)
    assert isinstance(version, CalibVersion)
    assert version.version == "v0.10.3"
    assert "outside" in version.reason


def test_pinned_version(cat_a: Path) -> None:
    version = calibration_version(cat_a, NIGHT, "v0.10.4")
    assert isinstance(version, CalibVersion)
    assert not version.via_pro
    assert version.version == "v0.10.4"
    assert version.reason.startswith("pinned version v0.10.4 (no ")  # not produced yet
    (cat_a / "calibration/20231121/v0.10.4").mkdir(parents=True)
    version = calibration_version(cat_a, NIGHT, "v0.10.4")
    assert isinstance(version, CalibVersion) and version.reason == "pinned version v0.10.4"


def test_no_pro_link(cat_a: Path) -> None:
    result = calibration_version(cat_a, NIGHT)
    assert isinstance(result, NotFound)
    assert result.what == "calibration version"
    assert "no pro link in" in result.message and "pin a version" in result.message


def test_broken_pro_link(cat_a: Path) -> None:
    pro(cat_a, "calibration/20231121", "v9.9")
    result = calibration_version(cat_a, NIGHT)
    assert isinstance(result, NotFound)
    assert "broken" in result.message


def test_pro_as_a_real_folder(cat_a: Path) -> None:
    (cat_a / "calibration/20231121/pro").mkdir(parents=True)
    version = calibration_version(cat_a, NIGHT)
    assert isinstance(version, CalibVersion)
    assert version.version == "pro" and not version.via_pro


@pytest.mark.parametrize("bad", ["", "..", ".", "v0/../x", "a\\b"])
def test_version_must_be_a_folder_name(cat_a: Path, bad: str) -> None:
    with pytest.raises(ValueError, match="folder name"):
        calibration_version(cat_a, NIGHT, bad)
    with pytest.raises(ValueError, match="folder name"):
        find_time_calibration(cat_a, 1, bad)


@pytest.mark.parametrize(
    ("version", "series"),
    [
        ("v0.10.4", "v0.10"),
        ("v0.10", "v0.10"),
        ("v0.9.13", "v0.9"),
        ("0.10.4", "v0.10"),
        ("v0.10.4.dev12+g1234", "v0.10"),
        ("v0.1", "v0.1"),  # not a prefix match: v0.1 is not v0.10
        ("pro", None),
        ("v1", None),
    ],
)
def test_version_series(version: str, series: str | None) -> None:
    assert version_series(version) == series


# --- time calibration ----------------------------------------------------------------
def time_file(date: str, version: str, run: int) -> str:
    return f"{TIME}/{date}/{version}/time_calibration.Run{run:05d}.0000.h5"


def test_time_calibration_of_the_run_itself(cat_a: Path) -> None:
    touch(
        cat_a,
        time_file("20231102", "v0.10.4", 15253),
        time_file("20231121", "v0.10.4", 15766),
    )
    found = find_time_calibration(cat_a, 15766, "v0.10.4")
    assert isinstance(found, CalibFile)
    assert found.path == cat_a / time_file("20231121", "v0.10.4", 15766)
    assert (found.run, found.night, found.version, found.exact) == (
        15766,
        NIGHT,
        "v0.10.4",
        True,
    )
    assert found.reason == (
        "20231121/v0.10.4/time_calibration.Run15766.0000.h5: the time calibration of "
        "PEDCALIB run 15766 itself (calibration version v0.10.4)"
    )


def test_time_calibration_closest_earlier_never_later(cat_a: Path) -> None:
    touch(
        cat_a,
        time_file("20191124", "v0.10.4", 1625),
        time_file("20231102", "v0.10.4", 15253),
        time_file("20231125", "v0.10.4", 15800),  # later than the PEDCALIB run
    )
    found = find_time_calibration(cat_a, 15766, "v0.10.4")
    assert isinstance(found, CalibFile)
    assert found.run == 15253 and not found.exact
    assert "latest time calibration before PEDCALIB run 15766" in found.reason
    assert "; 1 later run ignored" in found.reason


def test_time_calibration_only_later(cat_a: Path) -> None:
    # lstchain #936: the first time calibration is 2019-11-24; nothing for earlier runs
    touch(cat_a, time_file("20191124", "v0.10.4", 1625))
    result = find_time_calibration(cat_a, 1600, "v0.10.4")
    assert isinstance(result, NotFound)
    assert result.what == "time calibration"
    assert "no time calibration at or before PEDCALIB run 1600 in version v0.10.4" in (
        result.message
    )
    assert "the first later one is 20191124/v0.10.4/time_calibration.Run01625" in (result.message)


def test_time_calibration_no_tree(cat_a: Path) -> None:
    result = find_time_calibration(cat_a, 15766, "v0.10.4")
    assert isinstance(result, NotFound)
    assert result.searched == (cat_a / TIME / "YYYYMMDD" / "v0.10.4",)


def test_issue_1428_time_calibration_wrong_files(cat_a: Path) -> None:
    """lstchain #1428: find_time_calibration_file("pro", 15766) returns
    Trash/20231120/v0.10.4/time_calibration.Run15700 here (rglob ``*/pro/...`` at any depth),
    and without the Trash copy 20231115/v0.10.5/...Run15600 (that date's own pro link), a
    version the night's calibration (v0.10.4) was not made with.
    tests/integration/test_lstchain_1428.py checks those two answers with lstchain itself."""
    touch(
        cat_a,
        time_file("20231102", "v0.10.4", 15253),
        time_file("20231115", "v0.10.5", 15600),
        f"{TIME}/Trash/20231120/v0.10.4/time_calibration.Run15700.0000.h5",
        f"{TIME}/backup/v0.10.4/time_calibration.Run15760.0000.h5",
        "calibration/20231121/v0.10.4/calibration_filters_52.Run15766.0000.h5",
    )
    pro(cat_a, f"{TIME}/20231102", "v0.10.4")
    pro(cat_a, f"{TIME}/20231115", "v0.10.5")
    pro(cat_a, f"{TIME}/Trash/20231120", "v0.10.4")
    pro(cat_a, "calibration/20231121", "v0.10.4")
    version = calibration_version(cat_a, NIGHT)
    assert isinstance(version, CalibVersion)
    found = find_time_calibration(cat_a, 15766, version.version)
    assert isinstance(found, CalibFile)
    assert found.path == cat_a / time_file("20231102", "v0.10.4", 15253)
    assert found.version == "v0.10.4"
    assert "Trash" not in found.reason and "backup" not in found.reason
    # the closer file of another version is named, not used
    assert found.reason.endswith(
        "; not used: 20231115/v0.10.5/time_calibration.Run15600.0000.h5 "
        "(other versions not allowed)"
    )


def test_time_calibration_other_versions_when_allowed(cat_a: Path) -> None:
    touch(
        cat_a,
        time_file("20231102", "v0.10.4", 15253),
        time_file("20231115", "v0.10.5", 15600),
        time_file("20231118", "v0.9.13", 15650),
    )
    series = find_time_calibration(cat_a, 15766, "v0.10.4", allow="series")
    assert isinstance(series, CalibFile)
    assert series.run == 15600 and series.version == "v0.10.5"
    assert "(from v0.10.5, allowed by allow=series; calibration version v0.10.4)" in (series.reason)
    assert "not used: 20231118/v0.9.13/time_calibration.Run15650.0000.h5" in series.reason
    assert "(outside allow=series)" in series.reason
    anything = find_time_calibration(cat_a, 15766, "v0.10.4", allow="any")
    assert isinstance(anything, CalibFile)
    assert anything.run == 15650 and "not used" not in anything.reason


def test_time_calibration_only_in_another_version(cat_a: Path) -> None:
    touch(cat_a, time_file("20231115", "v0.10.5", 15600))
    result = find_time_calibration(cat_a, 15766, "v0.10.4")
    assert isinstance(result, NotFound)
    assert "not used: 20231115/v0.10.5/" in result.message
    found = find_time_calibration(cat_a, 15766, "v0.10.4", allow="series")
    assert isinstance(found, CalibFile) and found.version == "v0.10.5"


def test_time_calibration_same_run_in_two_versions_prefers_the_calibration_version(
    cat_a: Path,
) -> None:
    touch(
        cat_a,
        time_file("20231121", "v0.10.4", 15766),
        time_file("20231121", "v0.10.5", 15766),
    )
    found = find_time_calibration(cat_a, 15766, "v0.10.4", allow="any")
    assert isinstance(found, CalibFile)
    assert found.version == "v0.10.4" and found.exact


def test_time_calibration_folder_out_of_order_does_not_end_the_search(cat_a: Path) -> None:
    # lstchain walks sorted paths and stops at the first run above the target: the
    # 20231001 folder holding Run15900 makes it answer "none found" for run 15766.
    touch(
        cat_a,
        time_file("20231001", "v0.10.4", 15900),
        time_file("20231102", "v0.10.4", 15253),
    )
    found = find_time_calibration(cat_a, 15766, "v0.10.4")
    assert isinstance(found, CalibFile) and found.run == 15253
    assert "1 later run ignored" in found.reason


def test_time_calibration_runs_compare_as_numbers(cat_a: Path) -> None:
    # Text order puts Run100001 before Run99999; lstchain's sorted paths would stop there.
    touch(
        cat_a,
        time_file("20300101", "v1.0.0", 99999),
        f"{TIME}/20300101/v1.0.0/time_calibration.Run100001.0000.h5",
    )
    found = find_time_calibration(cat_a, 100002, "v1.0.0")
    assert isinstance(found, CalibFile) and found.run == 100001
    found = find_time_calibration(cat_a, 100000, "v1.0.0")
    assert isinstance(found, CalibFile) and found.run == 99999


def test_time_calibration_ignores_pro_aliases_and_odd_names(cat_a: Path) -> None:
    touch(
        cat_a,
        time_file("20231102", "v0.10.4", 15253),
        f"{TIME}/20231102/v0.10.4/time_calibration.Run15254.0001.h5",  # not subrun 0
        f"{TIME}/20231102/v0.10.4/time_calibration.Run15255.0000.h5.tmp",
        f"{TIME}/20231199/v0.10.4/time_calibration.Run15256.0000.h5",  # not a date
    )
    pro(cat_a, f"{TIME}/20231102", "v0.10.4")
    found = find_time_calibration(cat_a, 15766, "v0.10.4")
    assert isinstance(found, CalibFile)
    assert found.run == 15253
    assert "/pro/" not in str(found.path)
    # "pro" literally: the pro entries of every date (lstchain's way), and only those
    found = find_time_calibration(cat_a, 15766, "pro")
    assert isinstance(found, CalibFile)
    assert found.path == cat_a / f"{TIME}/20231102/pro/time_calibration.Run15253.0000.h5"
    assert found.version == "pro"


def test_time_calibration_pinned_run(cat_a: Path) -> None:
    touch(cat_a, time_file("20191124", "v0.10.4", 1625), time_file("20231102", "v0.10.4", 15253))
    found = find_time_calibration(cat_a, 15766, "v0.10.4", pinned_run=1625)
    assert isinstance(found, CalibFile)
    assert found.run == 1625
    assert found.reason.endswith("run 1625 pinned by the operator")
    missing = find_time_calibration(cat_a, 15766, "v0.10.4", pinned_run=1626)
    assert isinstance(missing, NotFound)
    assert "pinned time calibration run 1626 not found" in missing.message


# --- F-factor systematics -------------------------------------------------------------
def sys_file(date: str, version: str, name: str | None = None) -> str:
    return f"{SYS}/{date}/{version}/{name or f'ffactor_systematics_{date}.h5'}"


def test_systematics_of_the_night_itself(cat_a: Path) -> None:
    touch(cat_a, sys_file("20230410", "v0.10.4"), sys_file("20231121", "v0.10.4"))
    found = find_systematics_file(cat_a, NIGHT, "v0.10.4")
    assert isinstance(found, CalibFile)
    assert found.path == cat_a / sys_file("20231121", "v0.10.4")
    assert found.exact and found.run is None and found.night == NIGHT
    assert found.reason == (
        "20231121/v0.10.4/ffactor_systematics_20231121.h5: the scan of the night itself "
        "(calibration version v0.10.4)"
    )


def test_systematics_latest_earlier(cat_a: Path) -> None:
    touch(
        cat_a,
        sys_file("20221201", "v0.10.4"),
        sys_file("20230410", "v0.10.4"),
        sys_file("20240101", "v0.10.4"),
    )
    found = find_systematics_file(cat_a, NIGHT, "v0.10.4")
    assert isinstance(found, CalibFile)
    assert found.night == d("2023-04-10") and not found.exact
    assert "latest scan before 2023-11-21" in found.reason
    assert "; 1 later scan ignored" in found.reason


def test_issue_1428_systematics_never_a_later_scan(cat_a: Path) -> None:
    """lstchain's find_systematics_correction_file falls back to the earliest scan when none
    is earlier: for 20200218 it returns 20200725 (its own test expects that)."""
    touch(cat_a, sys_file("20200725", "v0.9.2"))
    pro(cat_a, f"{SYS}/20200725", "v0.9.2")
    result = find_systematics_file(cat_a, d("2020-02-18"), "v0.9.2")
    assert isinstance(result, NotFound)
    assert result.what == "F-factor systematics"
    assert "no F-factor systematics on or before 2020-02-18 in version v0.9.2" in (result.message)
    assert "only later scans exist, e.g. 20200725/v0.9.2/ffactor_systematics_20200725.h5" in (
        result.message
    )
    # an operator may still take it, knowingly
    pinned = find_systematics_file(cat_a, d("2020-02-18"), "v0.9.2", pinned_date=d("2020-07-25"))
    assert isinstance(pinned, CalibFile)
    assert pinned.path == cat_a / sys_file("20200725", "v0.9.2")
    assert pinned.reason.endswith("pinned by the operator (later than the night)")


def test_issue_1428_systematics_folder_without_the_file(cat_a: Path) -> None:
    """lstchain globs ``*/pro/ffactor_systematics*`` and builds
    ``<date>/pro/ffactor_systematics_<date>.h5``: a folder holding only the plot makes it
    return a file that does not exist. Here that folder does not count."""
    touch(
        cat_a,
        sys_file("20221201", "v0.10.3"),
        sys_file("20230410", "v0.10.3", "ffactor_systematics_20230410.pdf"),
        sys_file("20230501", "v0.10.3", "ffactor_systematics_20230410.h5"),  # wrong date
    )
    found = find_systematics_file(cat_a, NIGHT, "v0.10.3")
    assert isinstance(found, CalibFile)
    assert found.path == cat_a / sys_file("20221201", "v0.10.3")
    assert found.path.exists()


def test_systematics_scan_fit_name(cat_a: Path) -> None:
    """onsite_create_ffactor_systematics_file writes <prefix>_scan_fit_<date>.<subrun>.h5."""
    touch(cat_a, sys_file("20230410", "v0.10.3", "calibration_scan_fit_20230410.0000.h5"))
    found = find_systematics_file(cat_a, NIGHT, "v0.10.3")
    assert isinstance(found, CalibFile)
    assert found.path.name == "calibration_scan_fit_20230410.0000.h5"
    # both names in one folder: lstchain's name first, one candidate per folder
    touch(cat_a, sys_file("20230410", "v0.10.3"))
    found = find_systematics_file(cat_a, NIGHT, "v0.10.3")
    assert isinstance(found, CalibFile)
    assert found.path.name == "ffactor_systematics_20230410.h5"
    assert "later" not in found.reason
    # lstcam_calib style, no prefix (lstosa's Cat-B path globs scan_fit*.h5)
    touch(cat_a, sys_file("20230601", "v0.10.3", "scan_fit_20230601.0000.h5"))
    found = find_systematics_file(cat_a, NIGHT, "v0.10.3")
    assert isinstance(found, CalibFile)
    assert found.path.name == "scan_fit_20230601.0000.h5"


def test_systematics_versions(cat_a: Path) -> None:
    # Real sites mix: calibration v0.10.4 with a v0.10.3 scan (lstchain #1183's command).
    touch(
        cat_a,
        sys_file("20230410", "v0.10.3", "calibration_scan_fit_20230410.0000.h5"),
        sys_file("20230601", "v0.9.13"),
    )
    exact = find_systematics_file(cat_a, NIGHT, "v0.10.4")
    assert isinstance(exact, NotFound)
    assert "not used: 20230601/v0.9.13/ffactor_systematics_20230601.h5 and 1 more" in (
        exact.message
    )
    series = find_systematics_file(cat_a, NIGHT, "v0.10.4", allow="series")
    assert isinstance(series, CalibFile)
    assert series.version == "v0.10.3"
    assert "allowed by allow=series" in series.reason
    assert "not used: 20230601/v0.9.13" in series.reason
    anything = find_systematics_file(cat_a, NIGHT, "v0.10.4", allow="any")
    assert isinstance(anything, CalibFile) and anything.version == "v0.9.13"


def test_systematics_pinned_date_missing(cat_a: Path) -> None:
    result = find_systematics_file(cat_a, NIGHT, "v0.10.4", pinned_date=d("2023-04-10"))
    assert isinstance(result, NotFound)
    assert "pinned systematics date 2023-04-10 not found" in result.message


# --- filter wheels --------------------------------------------------------------------
def calib_file(date: str, version: str, filters: str, run: int, prefix: str = "") -> str:
    return (
        f"calibration/{date}/{version}/{prefix}calibration_filters_{filters}.Run{run:05d}.0000.h5"
    )


def test_filters_from_the_calibration_file(cat_a: Path) -> None:
    touch(
        cat_a,
        calib_file("20231121", "v0.10.4", "52", 15766),
        calib_file("20231121", "v0.10.4", "31", 15767),  # another run
    )
    pro(cat_a, "calibration/20231121", "v0.10.4")
    found = calibration_filters(cat_a, 15766, NIGHT, "v0.10.4")
    assert isinstance(found, FilterWheels)
    assert (found.filters, found.wheels, found.source) == ("52", (5, 2), "calibration file")
    assert found.path == cat_a / calib_file("20231121", "v0.10.4", "52", 15766)
    assert found.reason == "filters 52 from v0.10.4/calibration_filters_52.Run15766.0000.h5"


def test_filters_override_wins(cat_a: Path) -> None:
    touch(cat_a, calib_file("20231121", "v0.10.4", "52", 15766))
    found = calibration_filters(cat_a, 15766, NIGHT, "v0.10.4", override=43)
    assert isinstance(found, FilterWheels)
    assert (found.filters, found.source, found.path) == ("43", "override", None)
    assert found.reason == "filters 43: per-night override"


@pytest.mark.parametrize("bad", ["5", "523", "5-2", "ab", 7])
def test_filters_override_must_be_two_digits(cat_a: Path, bad: str | int) -> None:
    with pytest.raises(ValueError, match="two digits"):
        calibration_filters(cat_a, 15766, NIGHT, "v0.10.4", override=bad)


def test_filters_from_another_version(cat_a: Path) -> None:
    touch(cat_a, calib_file("20231121", "v0.10.3", "52", 15766, prefix="no_sys_corrected_"))
    found = calibration_filters(cat_a, 15766, NIGHT, "v0.10.4")
    assert isinstance(found, FilterWheels)
    assert found.filters == "52"
    assert "(none in v0.10.4; filters do not depend on the version)" in found.reason


def test_filters_disagreeing_files(cat_a: Path) -> None:
    touch(
        cat_a,
        calib_file("20231121", "v0.10.3", "52", 15766),
        calib_file("20231121", "v0.10.4", "52", 15766),
        calib_file("20231121", "v0.10.4", "42", 15766),
    )
    result = calibration_filters(cat_a, 15766, NIGHT, "v0.10.4")
    assert isinstance(result, NotFound)
    assert result.what == "filter wheels"
    assert "disagree on the filters" in result.message
    # the calibration version's files win over other versions when they agree
    (cat_a / calib_file("20231121", "v0.10.4", "42", 15766)).unlink()
    touch(cat_a, calib_file("20231121", "v0.10.3", "31", 15766))
    found = calibration_filters(cat_a, 15766, NIGHT, "v0.10.4")
    assert isinstance(found, FilterWheels) and found.filters == "52"


def test_filters_not_found_and_default(cat_a: Path) -> None:
    result = calibration_filters(cat_a, 15766, NIGHT, "v0.10.4")
    assert isinstance(result, NotFound)
    assert "no calibration_filters_XX.Run15766.0000.h5 in" in result.message
    found = calibration_filters(cat_a, 15766, NIGHT, "v0.10.4", default=52)
    assert isinstance(found, FilterWheels)
    assert (found.filters, found.source) == ("52", "default")
    assert found.reason.startswith("filters 52 assumed: no Cat-A calibration file of run 15766")


def test_filters_pro_alias_not_counted_twice(cat_a: Path) -> None:
    touch(cat_a, calib_file("20231121", "v0.10.4", "52", 15766))
    pro(cat_a, "calibration/20231121", "v0.10.4")
    found = calibration_filters(cat_a, 15766, NIGHT, "v0.10.5")
    assert isinstance(found, FilterWheels)
    assert found.path == cat_a / calib_file("20231121", "v0.10.4", "52", 15766)
