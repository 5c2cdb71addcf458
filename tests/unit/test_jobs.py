"""Job scripts: SBATCH directives, argument lists, quoting, compact array ranges."""

from __future__ import annotations

import shlex
import subprocess
from pathlib import Path

import pytest

from osa_core.config import load_config
from osa_core.generator import NightSpec, generate_night
from osa_core.jobs import compact_ranges, parse_ranges, render_script, write_scripts
from osa_core.plan import build_plan
from tests.conftest import NIGHT, write_config


def _directives(text: str) -> dict[str, str]:
    out = {}
    for line in text.splitlines():
        if line.startswith("#SBATCH --"):
            key, _, value = line[len("#SBATCH --") :].partition("=")
            out[key] = value
    return out


def test_data_script_directives(config) -> None:
    plan = build_plan(config, NIGHT)
    specs = write_scripts(config, plan)
    assert len(specs) == 4
    data = specs[1]
    text = data.script.read_text()
    directives = _directives(text)
    assert directives["array"] == "0-3"
    assert directives["job-name"] == "osa_20200218_dat_02002"
    assert directives["partition"] == "short,long"
    assert directives["mem-per-cpu"] == "6144M"
    assert directives["time"] == "01:15:00"
    assert directives["output"].endswith("log/Run02002.%4a_%A.out")
    assert "array" not in _directives(specs[0].script.read_text())  # calibration: plain job


def test_body_is_one_exec_of_an_argument_list(config) -> None:
    plan = build_plan(config, NIGHT)
    spec = write_scripts(config, plan)[1]
    body = [line for line in spec.script.read_text().splitlines() if line.startswith("exec ")]
    assert len(body) == 1
    argv = shlex.split(body[0])[1:]
    assert tuple(argv) == spec.command
    assert argv[argv.index("--run") + 1] == "2002"
    assert argv[argv.index("--drs4-run") + 1] == "2000"


def test_hostile_base_path_is_quoted_not_executed(tmp_path: Path) -> None:
    """A base folder with spaces, quotes and $() must reach the payload unchanged."""
    base = tmp_path / "we ird $(touch PWNED) 'q'"
    base.mkdir()
    generate_night(base, NightSpec(night=NIGHT, data_runs=1, subruns=1))
    config = load_config(write_config(base))
    spec = write_scripts(config, build_plan(config, NIGHT))[1]
    text = spec.script.read_text()
    # Run the script's body with `exec` replaced by printing its argv, through a real bash.
    probe = text.replace("exec ", "printf '%s\\n' ", 1)
    out = subprocess.run(
        ["bash", "-c", probe], capture_output=True, text=True, cwd=tmp_path, check=True
    )
    assert out.stdout.splitlines() == list(spec.command)
    assert not list(tmp_path.rglob("PWNED"))


def test_unchanged_scripts_are_not_rewritten(config) -> None:
    plan = build_plan(config, NIGHT)
    spec = write_scripts(config, plan)[1]
    before = spec.script.stat().st_mtime_ns
    write_scripts(config, plan)
    assert spec.script.stat().st_mtime_ns == before


@pytest.mark.parametrize(
    ("indices", "text"),
    [
        ([0], "0"),
        ([0, 1, 2], "0-2"),
        ([3, 7, 12, 13, 14, 15], "3,7,12-15"),
        ([5, 1, 2, 2], "1-2,5"),
    ],
)
def test_compact_ranges_round_trip(indices: list[int], text: str) -> None:
    assert compact_ranges(indices) == text
    assert parse_ranges(text) == tuple(sorted(set(indices)))


def test_empty_array_is_refused() -> None:
    with pytest.raises(ValueError, match="empty"):
        compact_ranges([])


def test_render_contains_account_when_set(tmp_path: Path) -> None:
    generate_night(tmp_path, NightSpec(night=NIGHT, data_runs=1, subruns=2))
    config = load_config(write_config(tmp_path, '[slurm]\naccount = "dpps"'))
    plan = build_plan(config, NIGHT)
    from osa_core.jobs import job_spec

    text = render_script(job_spec(config, plan, plan.sequences[1]))
    assert _directives(text)["account"] == "dpps"
