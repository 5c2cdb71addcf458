"""A night is operable by every operator of its Unix group, whatever their umask.

Real processes on real files: a night is run under umask 000 and 077 and every path osa
made is checked; then, as root (CI runs as root), a second account of a test group
resubmits a night the first account submitted, and is told who holds the night's lock.
"""

from __future__ import annotations

import grp
import os
import pwd
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from osa_core.executors.local import runner_alive
from osa_core.journal import Journal
from osa_core.locking import FileLock
from osa_core.paths import NightPaths
from tests.conftest import NIGHT, fake_steps
from tests.integration.test_executors import make_night, wait_settled

pytestmark = pytest.mark.xdist_group("accounts")  # one worker: they share the test account

REPO = Path(__file__).resolve().parents[2]
OSA = Path(sys.executable).parent / "osa"
GROUP, OTHER = "osatest", "osatest2"  # a test group and a second operator in it
DIR_MODE, FILE_MODES = 0o2770, (0o660, 0o770)  # osa_core/fsio.py: folders, files/scripts

# Drives a whole night (submit, run, armed close) through the engine's use cases, not the
# ``osa`` command (which sets a umask of its own): the modes come from osa_core.fsio alone.
DRIVER = """
import sys, time
from osa_core.config import load_config
from osa_core.paths import NightPaths
from osa_core.usecases.tick import tick
from tests.conftest import NIGHT
config = load_config(sys.argv[1])
tick(config, NIGHT)
deadline = time.monotonic() + 120
while not NightPaths(config, NIGHT).night_finished.exists() and time.monotonic() < deadline:
    time.sleep(0.3)
sys.exit(0 if NightPaths(config, NIGHT).night_finished.exists() else 1)
"""


def env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO)}


def tree(base: Path) -> set[Path]:
    return {p for p in base.rglob("*") if not p.is_symlink()}


@pytest.mark.parametrize("umask", [0o000, 0o077], ids=["umask000", "umask077"])
def test_modes_do_not_depend_on_the_umask(tmp_path: Path, umask: int) -> None:
    config = make_night(tmp_path, fake_steps(), runs=1, subruns=2)
    before = tree(tmp_path)
    done = subprocess.run(
        [sys.executable, "-c", DRIVER, str(config.source)],
        env=env(),
        umask=umask,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    paths = NightPaths(config, NIGHT)
    made = tree(tmp_path) - before
    # what the engine makes itself, each named
    named = [
        paths.journal,
        paths.lock,
        paths.state_dir / "plan-cache.json",
        paths.history_file(2002, 1),
        config.paths.state / "local-executor.sqlite",
        config.paths.state / "local-runner.lock",
        config.paths.state / "local-runner.log",
        paths.night_finished,
    ]
    for path in named:
        assert path in made, path
    wrong = []
    for path in sorted(made):
        mode = stat.S_IMODE(path.stat().st_mode)
        if (path.is_dir() and mode != DIR_MODE) or (path.is_file() and mode not in FILE_MODES):
            wrong.append(f"{oct(mode)} {path.relative_to(tmp_path)}")
    assert not wrong, f"{len(wrong)} of {len(made)} paths:\n" + "\n".join(wrong)
    assert len(made) > 100


# --- a second operator -----------------------------------------------------------------


def _run(*command: str) -> None:
    subprocess.run(command, check=True, capture_output=True)


@pytest.fixture(scope="module")
def other_operator() -> Iterator[tuple[str, int]]:
    """A user in a test group (created for the test, removed after it). Needs root: CI
    runs as root, so there it always runs."""
    if os.geteuid() != 0:
        pytest.skip("needs root to create a second account (CI runs as root)")
    created_group = created_user = False
    try:
        gid = grp.getgrnam(GROUP).gr_gid
    except KeyError:
        _run("groupadd", GROUP)
        created_group = True
        gid = grp.getgrnam(GROUP).gr_gid
    try:
        pwd.getpwnam(OTHER)
    except KeyError:
        _run("useradd", "--no-create-home", "--gid", GROUP, "--shell", "/bin/sh", OTHER)
        created_user = True
    opened = open_the_way()
    try:
        probe = as_other("import osa_core, textual; print('ok')", python=True)
        if probe.returncode != 0:
            pytest.fail(f"{OTHER} cannot run {sys.executable} with {REPO}: {probe.stderr}")
        yield OTHER, gid
    finally:
        for folder, mode in opened.items():
            folder.chmod(mode)
        if created_user:
            subprocess.run(["userdel", OTHER], check=False)
        if created_group:
            subprocess.run(["groupdel", GROUP], check=False)


def open_the_way() -> dict[Path, int]:
    """Let the other account reach the interpreter, the venv and the code: add the search
    bit (x, not r: nothing can be listed) to the folders above them that lack it, e.g.
    /root when Python was installed under root's home. Returns the modes to restore."""
    opened: dict[Path, int] = {}
    for target in (Path(sys.executable).resolve(), Path(sys.base_prefix), Path(sys.prefix), REPO):
        for folder in target.parents:
            mode = stat.S_IMODE(folder.stat().st_mode)
            if not mode & stat.S_IXOTH and folder not in opened:
                opened[folder] = mode
                folder.chmod(mode | stat.S_IXOTH)
    return opened


def as_other(*args: str, python: bool = False, umask: str = "077") -> subprocess.CompletedProcess:
    """``osa ARGS`` (or ``python -c ARGS[0]``) as the other operator, under ``umask``."""
    program = [sys.executable, "-c", *args] if python else [str(OSA), *args]
    return subprocess.run(
        ["runuser", "-u", OTHER, "--", "sh", "-c", f'umask {umask}; exec "$@"', "sh", *program],
        env=env(),
        cwd="/",
        capture_output=True,
        text=True,
        timeout=180,
    )


@pytest.fixture
def shared_base(other_operator: tuple[str, int]) -> Iterator[Path]:
    """A folder of the test group, setgid, outside root's private temporary folder."""
    base = Path(tempfile.mkdtemp(prefix="osa-shared-", dir="/tmp"))
    os.chown(base, -1, other_operator[1])
    base.chmod(DIR_MODE)
    yield base
    shutil.rmtree(base, ignore_errors=True)


def test_another_operator_of_the_group_resubmits_and_sees_who_holds_the_lock(
    shared_base: Path, other_operator: tuple[str, int]
) -> None:
    user, gid = other_operator
    base = shared_base
    steps = fake_steps(
        extra_args={"dl1ab": "--fail-file={history_dir}/../../../../fail-{run}-{subrun}"}
    )
    config = make_night(base, steps)
    marker = base / "fail-2002-1"
    marker.touch()
    # the first operator (root, with a private umask) submits the night
    first = subprocess.run(
        [str(OSA), "--config", str(config.source), "--batch", "--date", "2020-02-18", "--no-close"],
        env=env(),
        umask=0o077,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert first.returncode == 0, first.stdout + first.stderr
    status = wait_settled(config)
    failed = [(s.run, s.subrun) for seq in status.sequences for s in seq.subruns if s.is_failed]
    assert failed == [(2002, 1)]
    deadline = time.monotonic() + 30
    while runner_alive(config) and time.monotonic() < deadline:
        time.sleep(0.2)  # the other operator's resubmission must start a runner of its own
    assert not runner_alive(config)
    marker.unlink()

    # the second operator resubmits it: journal, lock, executor database, runner,
    # histories, logs and folders of the first one are all theirs to use
    done = as_other("--config", str(config.source), "resubmit", "--date", "2020-02-18")
    assert done.returncode == 0, done.stdout + done.stderr
    status = wait_settled(config)
    subrun = status.sequence(2002).subruns[1]
    assert (subrun.state, subrun.attempts) == ("COMPLETED", 2)
    paths = NightPaths(config, NIGHT)
    resubmitted = [
        s for s in Journal(paths.journal).read().entries if s.get("purpose") == "resubmit"
    ]
    assert [e["user"] for e in resubmitted if e["action"] == "submitted"] == [user]
    # setgid folders: everything made by either operator belongs to the night's group
    others = [p for p in tree(base) if p.stat().st_gid != gid]
    assert not others, others[:5]

    # while the first operator holds the night's lock, the second is told who holds it
    lock = FileLock(paths.lock)
    assert lock.try_acquire()
    try:
        refused = as_other(
            "--config", str(config.source), "give-up", "--date", "2020-02-18",
            "--run", "2002", "--subruns", "0", "--reason", "test",
        )  # fmt: skip
    finally:
        lock.release()
    assert refused.returncode == 5, refused.stdout + refused.stderr
    assert f"root@{socket.gethostname()} pid {os.getpid()}" in refused.stderr
    assert "Traceback" not in refused.stderr


def test_a_read_only_state_folder_is_one_line_naming_the_journal(
    shared_base: Path, other_operator: tuple[str, int]
) -> None:
    config = make_night(shared_base, fake_steps())
    paths = NightPaths(config, NIGHT)
    lock = FileLock(paths.lock)  # the night's lock exists, the other operator may take it
    assert lock.try_acquire()
    lock.release()
    paths.state_dir.chmod(0o2750)  # but its state folder is read-only for the group
    give_up = ("give-up", "--date", "2020-02-18", "--run", "2002", "--subruns", "0")
    refused = as_other("--config", str(config.source), *give_up, "--reason", "test")
    assert refused.returncode == 6, refused.stdout + refused.stderr
    assert refused.stderr.strip() == f"osa: error: cannot write {paths.journal}: Permission denied"
    tick = as_other("--config", str(config.source), "--batch", "--date", "2020-02-18")
    assert tick.returncode == 6, tick.stdout + tick.stderr
    # one line naming what could not be written (the jobs' frozen config comes first)
    line = tick.stderr.strip()
    assert "\n" not in line and line.startswith("osa --batch 2020-02-18: FilesystemError: cannot ")
    assert f"{paths.state_dir}" in line and line.endswith(": Permission denied")
    assert not paths.journal.exists()  # nothing was submitted without its intent record
