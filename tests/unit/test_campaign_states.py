"""Campaign night states from files (no SLURM): what ``osa campaign status`` counts and the
console's campaign screen lists, with an executor that keeps every task pending."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from osa_core.campaign import (
    DONE,
    NO_DATA,
    RUNNING,
    WAITING,
    campaign_nights,
    campaign_status,
    create_campaign,
    run_campaign,
)
from osa_core.config import load_config
from osa_core.executors.pending import PendingExecutor
from osa_core.generator import NightSpec, generate_night
from tests.conftest import fake_steps, write_config

FIRST = dt.date(2021, 3, 1)


def test_night_without_data_is_done_once_and_waits_again_if_data_appears(tmp_path: Path) -> None:
    nights = [FIRST + dt.timedelta(days=i) for i in range(2)]
    generate_night(tmp_path, NightSpec(night=nights[0], data_runs=1, subruns=2))
    (tmp_path / "models").mkdir()
    config = load_config(
        write_config(tmp_path, fake_steps() + '\n[analysis]\nmodels_dir = "models"\n')
    )
    campaign = create_campaign(
        config, "c", "v0.13", dates_file=None, first="2021-03-01", last="2021-03-02", cap=100,
        window=None,
    )  # fmt: skip
    executor = PendingExecutor()
    first = run_campaign(config, campaign, executor)
    second = run_campaign(config, campaign, executor)
    assert first.started == ["2021-03-01"] and second.ticked == ["2021-03-01"]
    skipped = [e for e in campaign.journal.read().entries if e["action"] == "skipped"]
    assert len(skipped) == 1, "a night without data is noted once, not at every pass"
    states = list(campaign_nights(config, campaign))
    assert [(s.state, s.detail.split(" 20")[0]) for s in states] == [
        (RUNNING, "started"),
        (DONE, "no data (no RunSummary)"),
    ]
    assert campaign_status(config, campaign).counts == {RUNNING: 1, DONE: 1}
    # its RunSummary appears later: the night is waiting again, and the next pass starts it
    generate_night(tmp_path, NightSpec(night=nights[1], data_runs=1, subruns=2, first_run=3000))
    assert [s.state for s in campaign_nights(config, campaign)] == [RUNNING, WAITING]
    assert run_campaign(config, campaign, executor).started == ["2021-03-02"]
    assert NO_DATA == "done (no data)"  # the word journals already hold


def test_status_from_listed_nights_is_the_same(tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path))
    campaign = create_campaign(
        config, "c", "v0.13", dates_file=None, first="2021-03-01", last="2021-03-10", cap=100,
        window=None,
    )  # fmt: skip
    campaign.journal.append("needs_operator", night="2021-03-04", state="needs operator: why")
    nights = list(campaign_nights(config, campaign))
    assert [n.night for n in nights] == [FIRST + dt.timedelta(days=i) for i in range(10)]
    assert nights[3].detail == "why"
    listed = campaign_status(config, campaign, nights)
    assert listed == campaign_status(config, campaign)
    assert listed.counts == {WAITING: 9, "needs operator": 1}
    assert listed.problems == ["2021-03-04: why"]
