"""Night reading: RunSummary/RunCatalog validation and the R0 disk scan."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from osa_core.config import Config
from osa_core.errors import InputError
from osa_core.generator import GeneratedRun, NightSpec, generate_night
from osa_core.night.model import load_night, read_night
from osa_core.night.runsummary import read_run_catalog, read_run_summary
from osa_core.paths import NightPaths
from tests.conftest import NIGHT

HEADER = """# %ECSV 1.0
# ---
# datatype:
# - {name: run_id, datatype: int64}
# - {name: n_subruns, datatype: int64}
# - {name: run_type, datatype: string}
# delimiter: ','
# schema: astropy-2.0
run_id,n_subruns,run_type
"""


def _summary(tmp_path: Path, rows: str, header: str = HEADER) -> Path:
    path = tmp_path / "RunSummary_20200218.ecsv"
    path.write_text(header + rows)
    return path


def test_generated_summary_reads_back(config: Config) -> None:
    night = read_night(NightPaths(config, NIGHT))
    assert [r.run_type for r in night.runs] == ["DRS4", "PEDCALIB", "DATA", "DATA", "DATA"]
    data = night.runs[2]
    assert data.disk_subruns == (0, 1, 2, 3)
    assert not data.subrun_mismatch
    assert data.source is not None and data.source.name == "Crab"


def test_duplicate_run_id_names_both_lines(tmp_path: Path) -> None:
    path = _summary(tmp_path, "2008,3,DATA\n2009,3,DATA\n2008,4,DATA\n")
    with pytest.raises(
        InputError,
        match=r"RunSummary_20200218.ecsv:12: run_id: duplicate run "
        r"2008 \(first on line 10\)",
    ):
        read_run_summary(path, 10000)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="RunSummary not found"):
        read_run_summary(tmp_path / "RunSummary_20200218.ecsv", 10000)


def test_truncated_file(tmp_path: Path) -> None:
    path = _summary(tmp_path, "", header=HEADER[:70])
    with pytest.raises(InputError) as err:
        read_run_summary(path, 10000)
    assert "RunSummary" in str(err.value) and "\n" not in str(err.value)


def test_truncated_row(tmp_path: Path) -> None:
    path = _summary(tmp_path, "2008,3,DATA\n2009,")
    with pytest.raises(InputError, match="RunSummary"):
        read_run_summary(path, 10000)


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ("2008,-1,DATA\n", r":10: n_subruns: negative, got -1"),
        ("2008,99999,DATA\n", r":10: n_subruns: 99999 is absurd"),
        ("-5,1,DATA\n", r":10: run_id: out of range"),
    ],
)
def test_bad_values(tmp_path: Path, rows: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        read_run_summary(_summary(tmp_path, rows), 10000)


def test_missing_column(tmp_path: Path) -> None:
    header = HEADER.replace("# - {name: run_type, datatype: string}\n", "").replace(
        "run_id,n_subruns,run_type", "run_id,n_subruns"
    )
    with pytest.raises(InputError, match=r"lacks column.*run_type"):
        read_run_summary(_summary(tmp_path, "2008,3\n", header), 10000)


def test_bad_encoding_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "RunSummary_20200218.ecsv"
    path.write_bytes(HEADER.encode() + b"2008,3,DAT\xff\n")
    with pytest.raises(InputError, match=r":10: RunSummary is not UTF-8"):
        read_run_summary(path, 10000)


def test_unknown_and_excluded_types_are_warnings(tmp_path: Path) -> None:
    summary = read_run_summary(_summary(tmp_path, "1,2,DATA\n2,2,EDATA\n3,2,WEIRD\n"), 10000)
    assert [r.run_type for r in summary.runs] == ["DATA", "EDATA", "WEIRD"]
    assert any("unknown run_type 'WEIRD'" in w for w in summary.warnings)
    assert not any("EDATA" in w for w in summary.warnings)


def test_catalog_with_shell_metacharacters_is_just_text(tmp_path: Path) -> None:
    path = tmp_path / "RunCatalog_20200218.ecsv"
    path.write_text(
        HEADER.replace("n_subruns, datatype: int64", "source_name, datatype: string")
        .replace("run_type, datatype: string", "source_ra, datatype: float64")
        .replace("run_id,n_subruns,run_type", "run_id,source_name,source_ra")
        + "2008,\"$(rm -rf /); `id` 'Crab' | x\",83.6\n"
    )
    sources, _warnings = read_run_catalog(path)
    assert sources[2008].name == "$(rm -rf /); `id` 'Crab' | x"
    assert sources[2008].dec is None


def test_missing_catalog_is_a_warning(tmp_path: Path) -> None:
    sources, warnings = read_run_catalog(tmp_path / "RunCatalog_20200218.ecsv")
    assert sources == {} and "no RunCatalog" in warnings[0]


def test_disk_wins_and_mismatch_is_reported(tmp_path: Path, config: Config) -> None:
    base = tmp_path / "other"
    base.mkdir()
    spec = NightSpec(
        night=NIGHT, data_runs=0, extra_runs=[GeneratedRun(3000, "DATA", 5, missing_on_disk=(2,))]
    )
    generate_night(base, spec)
    from osa_core.config import load_config
    from tests.conftest import write_config

    night = read_night(NightPaths(load_config(write_config(base)), NIGHT))
    run = night.run(3000)
    assert run.disk_subruns == (0, 1, 3, 4)
    assert run.subrun_mismatch
    assert any("declares 5 subruns, 4 on disk" in w for w in night.warnings)


def test_incomplete_streams_reported(config: Config) -> None:
    paths = NightPaths(config, NIGHT)
    paths.r0_file(2002, 1, stream=3).unlink()
    night = read_night(paths)
    assert night.run(2002).incomplete_subruns == (1,)
    assert any("lack some of the 4 streams" in w for w in night.warnings)


def test_snapshot_is_reused_until_an_input_changes(config: Config) -> None:
    paths = NightPaths(config, NIGHT)
    first = load_night(paths)
    assert paths.plan_cache.exists()
    # Make the snapshot distinguishable: if it is reused, the marker comes back.
    import json

    data = json.loads(paths.plan_cache.read_text())
    data["night"]["warnings"] = ["from-snapshot"]
    paths.plan_cache.write_text(json.dumps(data))
    assert load_night(paths).warnings == ("from-snapshot",)
    # A new R0 file changes the folder's mtime: the snapshot is not trusted any more.
    paths.r0_file(2002, 4, stream=1).touch()
    again = load_night(paths)
    assert again.warnings != ("from-snapshot",)
    assert again.run(2002).disk_subruns == (0, 1, 2, 3, 4)
    assert first.run(2002).disk_subruns == (0, 1, 2, 3)


def test_date_folder(config: Config) -> None:
    assert NightPaths(config, dt.date(2020, 2, 18)).r0_dir.name == "20200218"
