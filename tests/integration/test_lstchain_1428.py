"""lstchain #1428 ("Onsite functions return 'wrong' calibration files"), shown with lstchain.

The same trees as the #1428 cases of tests/unit/test_calibration_finders.py: lstchain's
finders return the wrong files described there, ours the right ones.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from osa_core.calibration.finders import (
    CalibFile,
    NotFound,
    find_systematics_file,
    find_time_calibration,
)

pytestmark = pytest.mark.lstchain

CAT_A = "monitoring/PixelCalibration/Cat-A"
TIME = f"{CAT_A}/drs4_time_sampling_from_FF"
SYS = f"{CAT_A}/ffactor_systematics"


def touch(root: Path, *relatives: str) -> None:
    for relative in relatives:
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("")


def pro(root: Path, relative_dir: str, version: str) -> None:
    (root / relative_dir / "pro").symlink_to(version)


def test_time_calibration_wrong_version_and_trash(tmp_path: Path) -> None:
    onsite = pytest.importorskip("lstchain.onsite")
    touch(
        tmp_path,
        f"{TIME}/20231102/v0.10.4/time_calibration.Run15253.0000.h5",
        f"{TIME}/20231115/v0.10.5/time_calibration.Run15600.0000.h5",
    )
    pro(tmp_path, f"{TIME}/20231102", "v0.10.4")
    pro(tmp_path, f"{TIME}/20231115", "v0.10.5")

    theirs = onsite.find_time_calibration_file("pro", 15766, base_dir=tmp_path)
    assert theirs.parts[-2:] == ("v0.10.5", "time_calibration.Run15600.0000.h5")
    ours = find_time_calibration(tmp_path / CAT_A, 15766, "v0.10.4")
    assert isinstance(ours, CalibFile)
    assert ours.path.parts[-3:] == ("20231102", "v0.10.4", "time_calibration.Run15253.0000.h5")

    touch(tmp_path, f"{TIME}/Trash/20231120/v0.10.4/time_calibration.Run15700.0000.h5")
    pro(tmp_path, f"{TIME}/Trash/20231120", "v0.10.4")
    theirs = onsite.find_time_calibration_file("v0.10.4", 15766, base_dir=tmp_path)
    assert "Trash" in theirs.parts
    ours = find_time_calibration(tmp_path / CAT_A, 15766, "v0.10.4")
    assert isinstance(ours, CalibFile) and ours.run == 15253


def test_systematics_later_scan_and_missing_file(tmp_path: Path) -> None:
    onsite = pytest.importorskip("lstchain.onsite")
    touch(tmp_path, f"{SYS}/20200725/v0.9.2/ffactor_systematics_20200725.h5")
    pro(tmp_path, f"{SYS}/20200725", "v0.9.2")

    theirs = onsite.find_systematics_correction_file("pro", "20200218", base_dir=tmp_path)
    assert theirs.name == "ffactor_systematics_20200725.h5"  # after the night
    ours = find_systematics_file(tmp_path / CAT_A, dt.date(2020, 2, 18), "v0.9.2")
    assert isinstance(ours, NotFound)

    touch(tmp_path, f"{SYS}/20230410/v0.10.3/ffactor_systematics_20230410.pdf")
    pro(tmp_path, f"{SYS}/20230410", "v0.10.3")
    theirs = onsite.find_systematics_correction_file("pro", "20231121", base_dir=tmp_path)
    assert theirs.name == "ffactor_systematics_20230410.h5"
    assert not theirs.exists()
    ours = find_systematics_file(tmp_path / CAT_A, dt.date(2023, 11, 21), "v0.10.3")
    assert isinstance(ours, NotFound)  # no v0.10.3 file on or before the night
    ours = find_systematics_file(tmp_path / CAT_A, dt.date(2023, 11, 21), "v0.9.2", allow="any")
    assert isinstance(ours, CalibFile) and ours.path.exists()


def test_time_calibration_text_order(tmp_path: Path) -> None:
    onsite = pytest.importorskip("lstchain.onsite")
    touch(
        tmp_path,
        f"{TIME}/20231001/v1/time_calibration.Run15900.0000.h5",
        f"{TIME}/20231102/v1/time_calibration.Run15253.0000.h5",
        f"{TIME}/20300101/v1/time_calibration.Run99999.0000.h5",
        f"{TIME}/20300101/v1/time_calibration.Run100001.0000.h5",
    )
    with pytest.raises(OSError, match="No time calibration file found before run 15766"):
        onsite.find_time_calibration_file("v1", 15766, base_dir=tmp_path)
    ours = find_time_calibration(tmp_path / CAT_A, 15766, "v1")
    assert isinstance(ours, CalibFile) and ours.run == 15253
    theirs = onsite.find_time_calibration_file("v1", 100002, base_dir=tmp_path)
    assert theirs.name == "time_calibration.Run99999.0000.h5"
    ours = find_time_calibration(tmp_path / CAT_A, 100002, "v1")
    assert isinstance(ours, CalibFile) and ours.run == 100001
