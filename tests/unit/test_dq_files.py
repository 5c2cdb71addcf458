"""Finding, caching and tolerating files; the fast table reader; the ``[dq]`` config.

No lstchain here (tests/integration/test_dq_real.py reads real lstchain files): tables are
written with PyTables using exactly the filters lstchain's datacheck writer uses
(``blosc:zstd`` level 9, shuffle, Fletcher-32), so both read paths can be compared.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tables

from osa_core.config import load_config
from osa_core.dq import cache as dq_cache
from osa_core.dq.cache import FileCache
from osa_core.dq.locate import FileStat, find_night_files
from osa_core.dq.rawtable import fletcher32_ok, read_tables
from osa_core.dq.render import night_renderable
from osa_core.dq.summary import night_dq
from osa_core.errors import ConfigError
from osa_core.paths import NightPaths
from tests.conftest import write_config

NIGHT = dt.date(2020, 2, 18)
LSTCHAIN_FILTERS = tables.Filters(complevel=9, complib="blosc:zstd", fletcher32=True)


class Row(tables.IsDescription):
    subrun_index = tables.Int64Col()
    num_events = tables.Int64Col()
    charge_mean = tables.Float32Col(shape=(1855,))
    trigger_type = tables.Int64Col(shape=(10, 2))


def _write_table(path: Path, rows: int, filters: tables.Filters = LSTCHAIN_FILTERS) -> None:
    rng = np.random.default_rng(1)
    with tables.open_file(path, "w") as h5:
        table = h5.create_table(
            "/dl1datacheck", "cosmics", Row, createparents=True, filters=filters, chunkshape=(1,)
        )
        for index in range(rows):
            row = table.row
            row["subrun_index"] = index
            row["num_events"] = 1000 + index
            row["charge_mean"] = rng.normal(0, 1, 1855).astype(np.float32)
            row["trigger_type"] = [[1, 1000 + index]] + [[0, 0]] * 9
            row.append()
        table.flush()


@pytest.mark.parametrize(
    "filters", [LSTCHAIN_FILTERS, tables.Filters(complevel=1, complib="zlib")], ids=str
)
def test_fast_and_pytables_reads_agree(tmp_path: Path, filters: tables.Filters) -> None:
    path = tmp_path / "t.h5"
    _write_table(path, 4, filters)
    fields = ("subrun_index", "num_events", "charge_mean", "trigger_type")
    wanted = {"/dl1datacheck/cosmics": fields, "/dl1datacheck/pedestals": fields}
    fast = read_tables(path, wanted)
    slow = read_tables(path, wanted, fast=False)
    assert fast["/dl1datacheck/pedestals"] is None and slow["/dl1datacheck/pedestals"] is None
    for name in fields:
        a, b = fast["/dl1datacheck/cosmics"][name], slow["/dl1datacheck/cosmics"][name]
        assert a.shape == b.shape and a.dtype == b.dtype and np.array_equal(a, b)
    assert fast["/dl1datacheck/cosmics"]["num_events"].tolist() == [1000, 1001, 1002, 1003]


def test_fletcher32_matches_hdf5(tmp_path: Path) -> None:
    """Checksums HDF5 itself wrote (odd and even chunk sizes) are accepted, damage is not."""
    import h5py

    path = tmp_path / "t.h5"
    with h5py.File(path, "w") as h5:
        h5.create_dataset(
            "odd", data=np.arange(1001, dtype=np.uint8), chunks=(1001,), fletcher32=True
        )
        h5.create_dataset(
            "even", data=np.arange(5000, dtype=np.int32), chunks=(5000,), fletcher32=True
        )
    with h5py.File(path, "r") as h5:
        for name in ("odd", "even"):
            _, raw = h5[name].id.read_direct_chunk((0,))
            assert fletcher32_ok(raw[:-4], raw[-4:])
            damaged = bytes([raw[0] ^ 0xFF]) + raw[1:-4]
            assert not fletcher32_ok(damaged, raw[-4:])


def test_a_damaged_chunk_is_reported_not_misread(tmp_path: Path) -> None:
    import h5py

    path = tmp_path / "t.h5"
    _write_table(path, 2)
    with h5py.File(path, "r") as h5:
        info = h5["dl1datacheck/cosmics"].id.get_chunk_info(1)
    data = bytearray(path.read_bytes())
    data[info.byte_offset + info.size // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises((OSError, RuntimeError)):
        read_tables(path, {"/dl1datacheck/cosmics": ("num_events",)})


def _touch(path: Path, mtime: float | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x")
    if mtime is not None:
        os.utime(path, (mtime, mtime))
    return path


def test_locate_prefers_a_run_wise_file_unless_a_subrun_file_is_newer(tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path))
    paths = NightPaths(config, NIGHT)
    for subrun in range(3):
        _touch(paths.datacheck_dir / f"datacheck_dl1_LST-1.Run02009.{subrun:04d}.h5", 1000)
        _touch(paths.datacheck_dir / f"datacheck_dl1_LST-1.Run02010.{subrun:04d}.h5", 1000)
        _touch(paths.dl1a_dir / f"muons_LST-1.Run02009.{subrun:04d}.fits")
    staged = paths.close_dir / "staged" / "Run02009" / "datacheck"
    _touch(staged / "datacheck_dl1_LST-1.Run02009.h5", 2000)
    (staged / "datacheck_dl1_LST-1.Run02009.0000.h5").symlink_to(
        paths.datacheck_dir / "datacheck_dl1_LST-1.Run02009.0000.h5"
    )
    _touch(paths.close_dir / "datacheck" / "datacheck_dl1_LST-1.Run02010.h5", 500)
    _touch(paths.close_dir / "datacheck" / "DL1_datacheck_20200218.h5")
    _touch(paths.datacheck_dir / "datacheck_dl1_LST-1.Run02010.0003.pdf")
    _touch(paths.datacheck_dir / ".datacheck_dl1_LST-1.Run02010.0004.h5.tmp")
    files = find_night_files(paths)
    assert sorted(files.runs) == [2009, 2010]
    run9, run10 = files.runs[2009], files.runs[2010]
    assert run9.run_file is not None and run9.run_file.path.parent == staged
    assert run9.subrun_files[0].path.parent == paths.datacheck_dir  # not the staging link
    assert sorted(run9.muon_files) == [0, 1, 2]
    assert run10.run_file is None and sorted(run10.subrun_files) == [0, 1, 2]
    assert files.longterm is not None and not files.closed


def test_cache_round_trip_and_invalidation(tmp_path: Path) -> None:
    dq_cache.clear_memory()
    store = tmp_path / "state" / "dq-cache.json"
    stat = FileStat(tmp_path / "a.h5", 123, 456)
    cache = FileCache(store)
    assert cache.get("datacheck", stat) is None
    cache.put("datacheck", stat, {"run": [1.0], "x": [float("nan")]})
    cache.save()
    assert json.loads(store.read_text())["version"] == dq_cache.CACHE_VERSION
    dq_cache.clear_memory()
    again = FileCache(store)
    value = again.get("datacheck", stat)
    assert value["run"] == [1.0] and np.isnan(value["x"][0])
    assert again.get("datacheck", FileStat(stat.path, 124, 456)) is None
    assert FileCache(store, enabled=False).get("datacheck", stat) is None
    store.write_text("{not json")
    dq_cache.clear_memory()
    assert FileCache(store).get("datacheck", stat) is None


def test_a_night_without_datacheck_says_so(tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path))
    dq = night_dq(config, NIGHT)
    assert not dq.available and dq.flags == [] and dq.flag_summary() == {}
    assert "no datacheck yet for 2020-02-18" in dq.notes[0]
    assert dq.to_json()["available"] is False
    from rich.console import Console

    console = Console(width=100, record=True, color_system=None)
    console.print(night_renderable(dq, 100))
    assert "no datacheck yet" in console.export_text()


def test_unreadable_files_become_a_note(tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path))
    paths = NightPaths(config, NIGHT)
    _touch(paths.datacheck_dir / "datacheck_dl1_LST-1.Run02009.0000.h5")
    (paths.datacheck_dir / "datacheck_dl1_LST-1.Run02009.0001.h5").write_bytes(b"\0" * 4096)
    dq = night_dq(config, NIGHT)
    assert not dq.available
    assert "2 unreadable file(s)" in dq.notes[-1]
    assert "datacheck_dl1_LST-1.Run02009.0000.h5: unreadable" in dq.notes[-1]
    again = night_dq(config, NIGHT)  # the errors are cached too, by mtime
    assert again.stats.files_read == 0 and again.stats.files_cached == 2


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("rate_drop_fraction = 1.5", r"\[dq\] rate_drop_fraction: expected a fraction below 1"),
        ("rate_drop_fraction = 0", "expected a positive number"),
        ("pedestal_std_min = 3.0", r"pedestal_std_min: must be below pedestal_std_max"),
        ('disabled_rules = ["rate_drp"]', r"unknown rule 'rate_drp' \(did you mean 'rate_drop'"),
        ("muon_rings_min = -1", "expected a non-negative integer"),
        ("colour = 1", "unknown key"),
    ],
)
def test_dq_config_errors(tmp_path: Path, body: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config(write_config(tmp_path, f"[dq]\n{body}\n"))


def test_dq_config_values(tmp_path: Path) -> None:
    config = load_config(
        write_config(tmp_path, '[dq]\nrate_drop_fraction = 0.5\ndisabled_rules = ["muon_rings"]\n')
    )
    assert config.dq.rate_drop_fraction == 0.5
    assert config.dq.disabled_rules == ("muon_rings",)
    assert config.dq.pedestal_std_max == 2.5


def test_osa_dq_cli_on_a_night_without_datacheck(tmp_path: Path) -> None:
    cfg = write_config(tmp_path)
    run = [sys.executable, "-m", "osa_core.cli.main", "-c", str(cfg), "dq", "-d", "2020-02-18"]
    text = subprocess.run(run, capture_output=True, text=True, timeout=120)
    assert text.returncode == 0, text.stderr
    assert "no datacheck yet" in text.stdout
    data = json.loads(subprocess.run([*run, "--json"], capture_output=True, text=True).stdout)
    assert data["available"] is False and data["runs"] == []
    report = subprocess.run([*run, "--report"], capture_output=True, text=True, timeout=120)
    assert report.returncode == 0, report.stderr
    path = Path(report.stdout.strip())
    assert path.name == "dq_report_20200218.html" and path.parent.name == "dq"
    assert "no datacheck yet" in path.read_text()
    missing = subprocess.run([*run, "--run", "2009"], capture_output=True, text=True)
    assert missing.returncode == 2


def test_a_table_without_lstchain_columns_is_not_misread(tmp_path: Path) -> None:
    from osa_core.dq.reader import DatacheckError, read_datacheck

    path = tmp_path / "datacheck_dl1_LST-1.Run02009.0000.h5"
    _write_table(path, 2)
    with pytest.raises(DatacheckError, match=r"not lstchain's layout .*no column 'elapsed_time'"):
        read_datacheck(path)
