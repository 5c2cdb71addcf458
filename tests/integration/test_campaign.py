"""A reprocessing campaign of 20 generated nights on the real local SLURM cluster: the
pending cap is never exceeded, the campaign is interrupted and resumed, and every night
ends closed exactly once under the campaign's own production id."""

from __future__ import annotations

import datetime as dt
import subprocess
import threading
import time
from pathlib import Path

import pytest

from osa_core.campaign import campaign_status, create_campaign, load_campaign, run_campaign
from osa_core.config import load_config
from osa_core.errors import InputError
from osa_core.generator import NightSpec, generate_night
from osa_core.journal import Journal
from osa_core.paths import NightPaths
from tests.conftest import fake_steps, write_config

pytestmark = [pytest.mark.slurm, pytest.mark.slow]
FIRST = dt.date(2021, 3, 1)
NIGHTS = 20
CAP = 20


def pending_ours() -> int:
    out = subprocess.run(
        ["squeue", "-h", "-r", "-t", "PENDING", "-o", "%j"], capture_output=True, text=True
    )
    return sum(1 for line in out.stdout.splitlines() if line.startswith("osa_2021"))


def test_campaign_of_twenty_nights(tmp_path: Path, slurm_cluster) -> None:
    for offset in range(NIGHTS):
        generate_night(
            tmp_path,
            NightSpec(
                night=FIRST + dt.timedelta(days=offset),
                data_runs=1,
                subruns=2,
                first_run=3000 + offset * 10,
            ),
        )
    (tmp_path / "models").mkdir()
    config = load_config(
        write_config(tmp_path, fake_steps() + '\n[analysis]\nmodels_dir = "models"\n', kind="slurm")
    )
    dates = tmp_path / "dates.txt"
    dates.write_text(
        "# reprocessing test\n"
        + "\n".join((FIRST + dt.timedelta(days=i)).isoformat() for i in range(NIGHTS))
        + "\n"
    )
    with pytest.raises(InputError, match="different from the nightly"):
        create_campaign(
            config, "bad", "v0.12", dates_file=dates, first=None, last=None, cap=CAP, window=None
        )
    create_campaign(
        config, "reproc", "v0.13", dates_file=dates, first=None, last=None, cap=CAP, window=None
    )
    campaign = load_campaign(config, "reproc")

    peak = [0]
    stop = threading.Event()

    def watch() -> None:
        while not stop.is_set():
            peak[0] = max(peak[0], pending_ours())
            time.sleep(0.2)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    passes = 0
    deadline = time.monotonic() + 900
    try:
        while campaign_status(config, campaign).counts.get("done", 0) < NIGHTS:
            assert time.monotonic() < deadline, campaign_status(config, campaign)
            report = run_campaign(config, campaign)
            passes += 1
            assert not report.needs_operator, report
            if passes == 2:
                # "interrupted": a new process would load the campaign from disk again
                campaign = load_campaign(config, "reproc")
            time.sleep(1)
    finally:
        stop.set()
        watcher.join()
    assert peak[0] <= CAP, f"{peak[0]} pending tasks, cap {CAP}"
    assert passes >= 3  # the cap made it take several passes
    campaign_config = load_config(campaign.config_path)
    for offset in range(NIGHTS):
        night = FIRST + dt.timedelta(days=offset)
        paths = NightPaths(campaign_config, night)
        assert paths.night_finished.exists()
        assert "/v0.13/" in str(paths.final_dl1)
        closes = [e for e in Journal(paths.journal).read().entries if e["action"] == "closed"]
        assert len(closes) == 1, (night, closes)
    status = campaign_status(config, campaign)
    assert status.counts == {"done": NIGHTS} and status.per_hour
    print(f"campaign: {NIGHTS} nights in {passes} passes, peak {peak[0]} pending (cap {CAP})")
