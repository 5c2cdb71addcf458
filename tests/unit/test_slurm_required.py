"""In CI (OSA_REQUIRE_SLURM=1) no SLURM test may skip: a missing cluster fails every SLURM
test, the local-cluster test's own included, and so does a SLURM test that skips by
itself. Shown by running pytest on them with no SLURM tools on PATH."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _pytest(target: str, require: bool, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "PATH": "/nonexistent",  # no scontrol, sinfo, sbatch, sacct: no cluster
        "PYTHONPATH": str(ROOT),
        "OSA_REQUIRE_SLURM": "1" if require else "0",
    }
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rfs", target],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize("require", [False, True])
def test_the_local_cluster_test_fails_without_a_cluster_in_ci(require: bool) -> None:
    done = _pytest("tests/integration/test_slurm_local.py", require, ROOT)
    if require:
        assert done.returncode == 1, done.stdout
        assert "1 error" in done.stdout and "1 skipped" not in done.stdout
        assert "OSA_REQUIRE_SLURM=1 but the SLURM cluster is not usable" in done.stdout
        assert "scontrol not installed" in done.stdout
    else:
        assert done.returncode == 0, done.stdout
        assert "1 skipped" in done.stdout and "scontrol not installed" in done.stdout


@pytest.mark.parametrize("require", [False, True])
def test_a_slurm_test_skipping_by_itself_fails_in_ci(tmp_path: Path, require: bool) -> None:
    (tmp_path / "conftest.py").write_text(
        "from tests.conftest import pytest_runtest_makereport  # noqa: F401\n"
    )
    (tmp_path / "test_own_skip.py").write_text(
        "import pytest\n\n\n"
        "@pytest.mark.slurm\n"
        "def test_skips_by_itself():\n"
        "    pytest.skip('a fixture of its own found no cluster')\n"
    )
    done = _pytest("test_own_skip.py", require, tmp_path)
    if require:
        assert done.returncode == 1, done.stdout
        assert "SLURM test skipped under OSA_REQUIRE_SLURM=1" in done.stdout
        assert "a fixture of its own found no cluster" in done.stdout
    else:
        assert done.returncode == 0 and "1 skipped" in done.stdout, done.stdout
