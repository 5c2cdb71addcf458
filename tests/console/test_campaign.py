"""The campaign screen driven key by key (Textual Pilot) on a real campaign: generated
nights, a real ``run_campaign`` pass (with an executor that keeps every task pending, so no
SLURM and no job runs), then the states the pass cannot reach written where ``night_state``
reads them (NightFinished, the campaign's journal)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from textual.widgets import DataTable

from osa_core.campaign import DONE, FAILED, create_campaign, load_campaign, run_campaign
from osa_core.config import load_config
from osa_core.errors import InputError
from osa_core.executors.pending import PendingExecutor
from osa_core.generator import NightSpec, generate_night
from osa_core.paths import NightPaths
from osa_tui.app import OsaApp
from osa_tui.engine import Engine
from osa_tui.screens.campaign import CampaignHeader, CampaignScreen
from osa_tui.screens.modals import ConfirmScreen
from osa_tui.screens.night import NightScreen
from osa_tui.widgets.header import NightHeader
from tests.conftest import fake_steps, write_config
from tests.console.test_pilot import refresh, settle

pytestmark = pytest.mark.console
FIRST = dt.date(2021, 3, 1)
NIGHTS = [FIRST + dt.timedelta(days=i) for i in range(8)]
NO_DATA = NIGHTS[1]


@pytest.fixture
def campaign(tmp_path: Path):
    """8 nights (1 run x 2 subruns; the second without a RunSummary), cap 12 pending.

    One pass starts night 1, skips night 2 (no data), starts night 3 and stops at the cap.
    Then night 1 is closed and night 5 needs an operator, as a later pass would note.
    """
    for index, night in enumerate(NIGHTS):
        if night != NO_DATA:
            spec = NightSpec(night=night, data_runs=1, subruns=2, first_run=3000 + 10 * index)
            generate_night(tmp_path, spec)
    (tmp_path / "models").mkdir()
    config = load_config(
        write_config(tmp_path, fake_steps() + '\n[analysis]\nmodels_dir = "models"\n')
    )
    dates = tmp_path / "nights.txt"
    dates.write_text("".join(f"{night}\n" for night in NIGHTS))
    create_campaign(
        config, "reproc", "v0.13", dates_file=dates, first=None, last=None, cap=12, window=None
    )
    campaign = load_campaign(config, "reproc")
    executor = PendingExecutor()
    report = run_campaign(config, campaign, executor)
    assert report.started == [NIGHTS[0].isoformat(), NIGHTS[2].isoformat()]
    assert report.stopped_because.startswith("pending cap")
    campaign_config = load_config(campaign.config_path)
    close(campaign, campaign_config, NIGHTS[0])
    campaign.journal.append(
        "needs_operator",
        night=NIGHTS[4].isoformat(),
        state=f"{FAILED}: RunSummary_20210305.ecsv: unreadable",
    )
    return config, campaign, campaign_config, executor


def close(campaign, campaign_config, night: dt.date) -> None:
    """What a closed night leaves: its NightFinished flag and the campaign's note."""
    flag = NightPaths(campaign_config, night).night_finished
    flag.parent.mkdir(parents=True, exist_ok=True)
    flag.write_text("closed\n")
    campaign.journal.append("closed", night=night.isoformat(), state=DONE)


def header_text(app) -> str:
    return str(app.screen.query_one(CampaignHeader).render())


def rows(app) -> list[tuple[str, str]]:
    table = app.screen.query_one(DataTable)
    return [
        (str(table.get_row_at(i)[0]), str(table.get_row_at(i)[1])) for i in range(table.row_count)
    ]


async def test_campaign_screen(campaign) -> None:
    _, camp, campaign_config, executor = campaign
    app = OsaApp(
        Engine(campaign_config, executor=executor), FIRST, live_refresh=False, campaign=camp
    )
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app)
        await pilot.pause(0.05)
        assert isinstance(app.screen, CampaignScreen)
        text = header_text(app)
        assert "Campaign reproc" in text and "prod v0.13" in text and "cap 12" in text
        assert "8 nights: ● 2 done · ▶ 1 running · ✗ 1 need an operator · ○ 4 waiting" in text
        assert "throughput" in text and "ETA" in text
        states = rows(app)
        assert [night for night, _ in states] == [n.isoformat() for n in NIGHTS]
        assert [state for _, state in states] == [
            "● done",
            "● done",
            "▶ running",
            "○ waiting",
            "✗ needs operator",
            "○ waiting",
            "○ waiting",
            "○ waiting",
        ]
        table = app.screen.query_one(DataTable)
        assert "no data" in str(table.get_row_at(1)[2])
        assert "started" in str(table.get_row_at(2)[2])
        # the night's keys do nothing here (no night is open): no dialog, no action
        await pilot.press("s", "c")
        await settle(app)
        assert isinstance(app.screen, CampaignScreen)
        assert not any(isinstance(s, ConfirmScreen) for s in app.screen_stack)
        # "f" finds the night that needs an operator; "/" filters, escape clears
        await pilot.press("f")
        assert app.screen.selected_night_key() == NIGHTS[4].isoformat()
        await pilot.press("slash", *"waiting", "enter")
        assert [state for _, state in rows(app)] == ["○ waiting"] * 4
        await pilot.press("escape")
        assert len(rows(app)) == 8
        assert app.screen.selected_night_key() == NIGHTS[3].isoformat()  # kept on its night
        # enter opens the running night, under the campaign's production
        await pilot.press("up", "enter")
        await refresh(pilot)
        assert isinstance(app.screen, NightScreen)
        assert app.night == NIGHTS[2]
        assert app.view is not None and app.view.status is not None
        assert {s.state for seq in app.view.status.data for s in seq.subruns} == {"PENDING"}
        assert "v0.13" in str(NightPaths(app.engine.config, app.night).state_dir)
        night_text = str(app.screen.query_one(NightHeader).render())
        assert "Night 2021-03-03 · campaign reproc (prod v0.13)" in night_text
        # escape goes back to the campaign; a refresh shows what changed on disk
        await pilot.press("escape")
        assert isinstance(app.screen, CampaignScreen)
        close(camp, campaign_config, NIGHTS[2])
        app.refresh_campaign()
        await settle(app)
        await pilot.pause(0.05)
        assert "● 3 done · ▶ 0 running" in header_text(app)
        assert rows(app)[2] == (NIGHTS[2].isoformat(), "● done")
        await pilot.press("q")


def test_console_cli_opens_the_campaign(campaign) -> None:
    from osa_core.cli.main import build_parser
    from osa_tui.cli import build_app

    config = campaign[0]
    parser = build_parser(only="console")
    args = parser.parse_args(["-c", str(config.source), "console", "--campaign", "reproc"])
    app = build_app(args)
    assert app.campaign is not None and app.campaign.name == "reproc"
    assert str(app.engine.config.production.prod_id) == "v0.13"
    args = parser.parse_args(["-c", str(config.source), "console", "--campaign", "nope"])
    with pytest.raises(InputError, match="no campaign 'nope'"):
        build_app(args)
    args = parser.parse_args(
        ["-c", str(config.source), "console", "--campaign", "reproc", "--date", "2021-03-01"]
    )
    with pytest.raises(InputError, match="choose one"):
        build_app(args)
