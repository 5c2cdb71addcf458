"""The demo night's DATA runs carry what the per-run phase 2 tools need (no lstchain run here:
the counts are lstchain 0.12.3's thresholds, measured in osa_core/demo/NOTES.md)."""

from __future__ import annotations

import pytest

from osa_core.demo import night
from osa_core.demo.r0_writer import data_subrun_event_kinds


def test_event_kinds_counts_and_spread() -> None:
    kinds = data_subrun_event_kinds(198, 100, 50)
    assert len(kinds) == 198
    assert (kinds.count("pedestal"), kinds.count("flatfield"), kinds.count("shower")) == (
        100,
        50,
        48,
    )
    # spread evenly in time: each quarter of the subrun holds its share of every kind
    for quarter in (kinds[i * 49 : (i + 1) * 49] for i in range(4)):
        assert 23 <= quarter.count("pedestal") <= 27
        assert 11 <= quarter.count("flatfield") <= 14
        assert 10 <= quarter.count("shower") <= 14


def test_event_kinds_reject_overfull_subrun() -> None:
    with pytest.raises(ValueError):
        data_subrun_event_kinds(10, 6, 6)


def test_data_runs_feed_the_tail_cut_finder_and_cat_b() -> None:
    data_runs = [r for r in night.demo_runs() if r.kind == "DATA"]
    assert [r.run for r in data_runs] == [2009, 2010]
    for run in data_runs:
        assert run.pedestals is not None and run.flatfields is not None
        # lstchain_find_tailcuts: >= 100 pedestals in every subrun, >= 2 usable subruns
        assert run.pedestals >= night.TAILCUT_FINDER_MIN_PEDESTALS == 100
        assert run.subruns >= 2
        # Cat-B: at least --statistics events of each interleaved type in the run
        assert run.flatfields * run.subruns >= night.CAT_B_STATISTICS
        assert run.pedestals * run.subruns >= night.CAT_B_STATISTICS
        assert run.events - run.pedestals - run.flatfields == night.DATA_SUBRUN_SHOWERS
        assert run.nsb_rate_ghz > 0
