"""Sparklines and the rich rendering of a night's data quality."""

from __future__ import annotations

import datetime as dt
import json
import math

from rich.console import Console

from osa_core.config import DQConfig
from osa_core.dq.frames import run_frame
from osa_core.dq.render import night_renderable, run_renderable, subrun_ranges
from osa_core.dq.rules import evaluate
from osa_core.dq.sparkline import BLOCKS, bins, sparkline
from osa_core.dq.summary import NightDQ
from tests.unit.test_dq_rules import _subruns

NIGHT = dt.date(2020, 2, 18)


def test_sparkline_scales_from_zero_and_keeps_gaps() -> None:
    assert sparkline([1, 1, 1]) == BLOCKS[-1] * 3
    assert sparkline([0, 4, 8]) == BLOCKS[0] + BLOCKS[4] + BLOCKS[-1]
    assert sparkline([5, math.nan, 5]) == BLOCKS[-1] + " " + BLOCKS[-1]
    assert sparkline([]) == "" and sparkline([math.nan, math.nan]) == "  "


def test_sparkline_keeps_a_one_subrun_dip_when_compressed() -> None:
    values = [100.0] * 200
    values[123] = 10.0
    line = sparkline(values, width=20)
    assert len(line) == 20
    assert line.count(BLOCKS[0]) == 1 and line[123 * 20 // 200] == BLOCKS[0]
    assert sparkline(values, width=20, how="mean").count(BLOCKS[0]) == 0


def test_bins_cover_everything_once() -> None:
    groups = bins(250, 37)
    assert len(groups) == 37
    assert [i for g in groups for i in g] == list(range(250))
    assert bins(3, 10) == [range(0, 1), range(1, 2), range(2, 3)]


def test_subrun_ranges() -> None:
    assert subrun_ranges([5, 3, 4, 9]) == "3–5, 9"
    assert subrun_ranges(range(0, 20, 2), limit=3) == "0, 2, 4, …"


def _night() -> NightDQ:
    rows = [{}] * 30
    rows[12] = {"cosmics_events": 20000.0}
    rows[20] = {"ped_charge_std": 4.0}
    subruns = _subruns(rows)
    runs = run_frame(subruns)
    cfg = DQConfig()
    return NightDQ(NIGHT, cfg, subruns, runs, evaluate(subruns, runs, cfg))


def _text(renderable: object, width: int) -> str:
    console = Console(width=width, record=True, color_system=None, force_terminal=False)
    console.print(renderable)
    return console.export_text()


def test_night_rendering_fits_80_columns_and_names_the_flags() -> None:
    dq = _night()
    assert dq.flag_summary() == {2009: "rate↓, jump 2, ped σ"}
    text = _text(night_renderable(dq, 80), 80)
    assert all(len(line) <= 80 for line in text.splitlines())
    assert "02009" in text and "rate↓" in text and "subrun 12" in text
    assert any(ch in text for ch in BLOCKS)
    wide = _text(night_renderable(dq, 160), 160)
    assert "Ped σ" in wide and "[dq] rate_drop_fraction" in wide


def test_run_detail_lists_every_subrun() -> None:
    text = _text(run_renderable(_night(), 2009, 120), 120)
    assert "Run 02009" in text and "cosmic rate" in text and "pedestal σ" in text
    assert text.count("\n") > 30


def test_json_is_plain() -> None:
    data = _night().to_json(run=2009)
    json.dumps(data, allow_nan=False)
    assert data["available"] is True and len(data["subruns"]) == 30
    assert data["runs"][0]["flags"] == "rate↓, jump 2, ped σ"
    assert {f["rule"] for f in data["flags"]} == {"rate_drop", "rate_jump", "pedestal_std"}
