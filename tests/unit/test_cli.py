"""The ``osa`` command as a user runs it: a real subprocess, its output and exit code."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from osa_core.generator import GeneratedRun, NightSpec, generate_night
from tests.conftest import NIGHT, write_config


def osa(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "osa_core.cli.main", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=120,
    )


def _one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("osa: error: ")
    assert "Traceback" not in result.stderr
    return lines[0]


def test_simulate_prints_the_table_and_writes_nothing(night_base: Path) -> None:
    cfg = write_config(night_base)
    before = sorted(p for p in night_base.rglob("*"))
    result = osa("-c", str(cfg), "sequencer", "--date", "2020-02-18", "--simulate")
    assert result.returncode == 0, result.stderr
    assert "Night 2020-02-18" in result.stdout
    assert "02004" in result.stdout and "PEDCALIB" in result.stdout
    assert sorted(p for p in night_base.rglob("*")) == before


def test_json_output(night_base: Path) -> None:
    result = osa(
        "-c", str(write_config(night_base)), "sequencer", "-d", "2020-02-18", "--simulate", "--json"
    )
    data = json.loads(result.stdout)
    assert [s["run"] for s in data["sequences"]] == [2001, 2002, 2003, 2004]


def test_no_submit_writes_scripts(night_base: Path) -> None:
    result = osa(
        "-c",
        str(write_config(night_base)),
        "sequencer",
        "-d",
        "2020-02-18",
        "--no-submit",
        "--json",
    )
    assert result.returncode == 0, result.stderr
    scripts = json.loads(result.stdout)["scripts"]
    assert len(scripts) == 4 and all(Path(s).exists() for s in scripts)


def test_missing_run_summary(tmp_path: Path) -> None:
    line = _one_line_error(
        osa("-c", str(write_config(tmp_path)), "sequencer", "-d", "2020-02-18", "--simulate")
    )
    assert "RunSummary_20200218.ecsv: RunSummary not found" in line


def test_truncated_run_summary(night_base: Path) -> None:
    path = night_base / "monitoring/RunSummary/RunSummary_20200218.ecsv"
    text = path.read_text()
    path.write_text(text[: len(text) // 3])
    result = osa("-c", str(write_config(night_base)), "sequencer", "-d", "2020-02-18", "--simulate")
    assert "RunSummary" in _one_line_error(result)
    assert result.returncode == 2


def test_duplicate_run_id(night_base: Path) -> None:
    path = night_base / "monitoring/RunSummary/RunSummary_20200218.ecsv"
    lines = path.read_text().splitlines()
    path.write_text("\n".join([*lines, lines[-1]]) + "\n")
    result = osa("-c", str(write_config(night_base)), "sequencer", "-d", "2020-02-18", "--simulate")
    assert "run_id: duplicate run 2004" in _one_line_error(result)
    assert result.returncode == 2


def test_source_name_with_shell_metacharacters_is_displayed_not_run(tmp_path: Path) -> None:
    evil = 'Crab"; touch PWNED; echo "$(id)`id`'
    generate_night(
        tmp_path,
        NightSpec(
            night=NIGHT,
            data_runs=0,
            extra_runs=[GeneratedRun(2100, "DATA", 2, source=(evil, 83.6, 22.0))],
        ),
    )
    cfg = write_config(tmp_path)
    result = osa("-c", str(cfg), "sequencer", "-d", "2020-02-18", "--no-submit", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["sequences"][1]["source"] == evil
    for script in data["scripts"]:
        assert "PWNED" not in Path(script).read_text()
    assert not list(tmp_path.rglob("PWNED"))


def test_config_with_wrong_type(night_base: Path) -> None:
    cfg = write_config(night_base, "[slurm.data]\nmemory = 6\n")
    result = osa("-c", str(cfg), "sequencer", "-d", "2020-02-18", "--simulate")
    assert _one_line_error(result).endswith(
        'osa.toml:8: [slurm.data] memory: expected a size like "6GB", got 6'
    )
    assert result.returncode == 2


def test_bad_date(night_base: Path) -> None:
    result = osa("-c", str(write_config(night_base)), "sequencer", "-d", "2020-13-45")
    assert "not a calendar date" in _one_line_error(result)


def test_no_calibration_needs_an_operator(tmp_path: Path) -> None:
    generate_night(tmp_path, NightSpec(night=NIGHT, data_runs=1, with_calibration=False))
    result = osa("-c", str(write_config(tmp_path)), "sequencer", "-d", "2020-02-18", "--simulate")
    assert result.returncode == 3
    assert "no DRS4 run on 2020-02-18 nor the 4 nights before" in result.stdout


@pytest.mark.parametrize("action", ["validate", "show"])
def test_config_commands(night_base: Path, action: str) -> None:
    result = osa("-c", str(write_config(night_base)), "config", action)
    assert result.returncode == 0, result.stderr
    if action == "show":
        assert "[slurm.data]" in result.stdout and 'memory = "6GB"' in result.stdout


@pytest.mark.parametrize("command", ["give-up", "--batch"])
def test_a_filesystem_error_is_one_line_naming_the_path(night_base: Path, command: str) -> None:
    """Any OSError (here a state folder that is a file, which fails even as root; a
    read-only one: tests/integration/test_shared_night.py) is one line and exit code 6."""
    (night_base / "OSA").mkdir()
    (night_base / "OSA" / "state").write_text("not a folder")
    config = str(write_config(night_base))
    if command == "--batch":
        result = osa("-c", config, "--batch", "--date", "2020-02-18")
        line = result.stderr.strip()
        assert line.startswith("osa --batch 2020-02-18: FilesystemError: "), result.stderr
    else:
        args = ("give-up", "-d", "2020-02-18", "--run", "2002", "--subruns", "0", "--reason", "x")
        result = osa("-c", config, *args)
        line = _one_line_error(result)
    assert result.returncode == 6
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    assert f"cannot create folder {night_base / 'OSA' / 'state'}: Not a directory" in line


def test_a_night_without_observation_is_normal_for_cron(tmp_path: Path) -> None:
    """No RunSummary and no R0 (moon break, bad weather): exit 0, no alarm. R0 without a
    RunSummary needs an operator, told the command that makes one."""
    base = tmp_path / "site"
    base.mkdir()
    cfg = write_config(base)
    result = osa("-c", str(cfg), "--batch", "--date", "2020-02-18")
    assert result.returncode == 0, result.stderr
    assert "no observation" in result.stdout
    r0 = base / "R0" / "20200218"
    r0.mkdir(parents=True)
    (r0 / "LST-1.1.Run02008.0000.fits.fz").write_bytes(b"")
    result = osa("-c", str(cfg), "--batch", "--date", "2020-02-18")
    assert result.returncode == 3
    assert "but no RunSummary" in result.stdout
    assert "lstchain_create_run_summary -d 20200218 --r0-path" in result.stdout
