"""The console when the scheduler does not answer — exactly when a shifter opens it.

Before the fix, with the SLURM controller down the console stayed on "loading…" for two
minutes, with two squeue calls at once: every refresh slower than the refresh period was
cancelled by the next before it could land. Now the files are shown at once (plan,
journal, histories, the last known task states with their age), the unreachable banner
follows when the scheduler's answer (or its timeout) comes, and a refresh never starts
while one is running.

The scheduler here is the real SLURM client (squeue, sacct) talking to a controller that
accepts connections and never answers (a socket in this test: it stands in for a hung
slurmctld, which we cannot hang on demand without breaking the cluster other tests use).
"""

from __future__ import annotations

import json
import socket
import threading
import time
from pathlib import Path

import pytest

from osa_core.config import load_config
from osa_core.executors.slurm import SlurmExecutor
from osa_core.generator import NightSpec, generate_night
from osa_core.journal import Journal
from osa_core.paths import NightPaths
from osa_tui.app import OsaApp
from osa_tui.engine import Engine
from osa_tui.widgets.header import NightHeader
from tests.conftest import NIGHT, write_config

pytestmark = pytest.mark.console


class SilentController:
    """Accepts TCP connections and never answers: a hung slurmctld, to the client."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.open: list[socket.socket] = []
        self.stop = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        self.sock.settimeout(0.2)
        while not self.stop.is_set():
            try:
                connection, _ = self.sock.accept()
                self.open.append(connection)
            except OSError:
                continue

    def close(self) -> None:
        self.stop.set()
        for connection in self.open:
            connection.close()
        self.sock.close()


class CountingSlurm(SlurmExecutor):
    """The real SLURM executor, counting how many queries run at once."""

    def __init__(self, config) -> None:  # type: ignore[no-untyped-def]
        super().__init__(config)
        self.in_flight = 0
        self.max_in_flight = 0
        self.lock = threading.Lock()

    def query(self, job_ids):  # type: ignore[no-untyped-def]
        with self.lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            return super().query(job_ids)
        finally:
            with self.lock:
                self.in_flight -= 1


@pytest.fixture
def hung_scheduler(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    controller = SilentController()
    conf = tmp_path / "slurm.conf"
    conf.write_text(
        "ClusterName=unreachable\n"
        f"SlurmctldHost=hung(127.0.0.1)\nSlurmctldPort={controller.port}\n"
        "AuthType=auth/munge\nMessageTimeout=4\n"
        "NodeName=localhost CPUs=1\nPartitionName=short Nodes=localhost Default=YES\n"
    )
    monkeypatch.setenv("SLURM_CONF", str(conf))
    yield
    controller.close()


async def test_the_console_shows_the_night_at_once_when_the_scheduler_hangs(
    tmp_path: Path, hung_scheduler: None
) -> None:
    base = tmp_path / "night"
    generate_night(base, NightSpec(night=NIGHT, data_runs=2, subruns=3))
    config = load_config(write_config(base, "[console]\nrefresh_seconds = 1.0\n", kind="slurm"))
    paths = NightPaths(config, NIGHT)
    journal = Journal(paths.journal)
    for run, job in ((2002, "71"), (2003, "72")):
        journal.append(
            "submitted",
            token=f"t{job}",
            run=run,
            kind="DATA",
            job_id=job,
            indices=[0, 1, 2],
            name=f"osa_20200218_dat_{run:05d}",
        )
    # the last complete answer, taken before the controller hung
    as_of = "2020-02-19T07:00:00+00:00"
    tasks = [
        {
            "job_id": job,
            "index": i,
            "state": "RUNNING",
            "exit_code": None,
            "signal": None,
            "elapsed": 60.0,
            "cpu": None,
            "max_rss": None,
            "reason": "",
            "name": "",
            "comment": "",
        }
        for job in ("71", "72")
        for i in range(3)
    ]
    paths.state_dir.mkdir(parents=True, exist_ok=True)
    (paths.state_dir / "task-cache.json").write_text(json.dumps({"as_of": as_of, "tasks": tasks}))
    executor = CountingSlurm(config)
    app = OsaApp(Engine(config, executor=executor), NIGHT)
    async with app.run_test(size=(120, 40)) as pilot:
        started = time.monotonic()
        while time.monotonic() - started < 3:
            await pilot.pause(0.1)
            if app.view is not None and app.view.status is not None:
                break
        shown_after = time.monotonic() - started
        assert app.view is not None and app.view.status is not None, "nothing shown"
        assert shown_after < 3, f"the night took {shown_after:.1f} s to show"
        header = str(app.screen.query_one(NightHeader).render())
        assert "asking SLURM" in header and "last known state" in header, header
        states = {s.state for seq in app.view.status.data for s in seq.subruns}
        assert states == {"RUNNING"}  # the last known state, not "UNKNOWN"
        while time.monotonic() - started < 40:  # squeue: 4 s timeout, one retry
            await pilot.pause(0.5)
            if app.view is not None and not app.view.provisional:
                break
        header = str(app.screen.query_one(NightHeader).render())
        assert "SCHEDULER UNREACHABLE" in header, header
        await pilot.pause(3)  # refresh period is 1 s: refreshes must not pile up
        assert executor.max_in_flight == 1
