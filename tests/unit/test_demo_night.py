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


def test_toy_allsky_tree_makes_the_choice_visible(tmp_path) -> None:
    """The demo's toy tree is laid out as the site's, says it is toys at every level, and
    with the RunCatalog's declinations and the NSB the finder measured (NOTES.md) each run
    gets its own NSB folder and declination line."""
    from osa_core.analysis.models import ModelChoice, choose_rf_model
    from osa_core.config import load_config
    from osa_core.demo.auxiliary import TOY_MODELS_README, write_toy_allsky_tree

    toy = tmp_path / "models" / "toy"
    toy.mkdir(parents=True)
    for name in ("reg_energy.sav", "cls_gh.sav"):
        (toy / name).write_bytes(b"toy")
    (tmp_path / "osa.toml").write_text(night.demo_config_text())
    analysis = load_config(tmp_path / "osa.toml", check_paths=False).analysis
    assert analysis.models_root == tmp_path / "models" / "AllSky" and analysis.models_dir is None
    root = write_toy_allsky_tree(
        analysis.models_root, toy, analysis.mc_prod, night.TOY_NSB_LEVELS, night.TOY_DEC_LINES
    )
    write_toy_allsky_tree(root, toy, analysis.mc_prod, night.TOY_NSB_LEVELS, night.TOY_DEC_LINES)
    lines = list(root.glob("*/dec_*"))
    assert len(lines) == 4
    for folder in [root, *root.glob("*nsb_tuning_*"), *lines]:
        assert "TOY MODELS - NOT FOR SCIENCE" in (folder / TOY_MODELS_README).read_text()
    for line in lines:
        assert (line / "cls_gh.sav").is_symlink() and (line / "cls_gh.sav").read_bytes() == b"toy"
    dec = {run: dec for run, _, _, dec in night.CATALOG}
    measured = {2008: (0.0, 8), 2009: (0.1302, 8), 2010: (0.456, 10)}  # (NSB, picture)
    chosen = {}
    for run, (nsb, picture) in measured.items():
        choice = choose_rf_model(
            root,
            analysis.mc_prod,
            run_id=run,
            nsb=nsb,
            picture_thresh=picture,
            pointing_dec=dec[run],
        )
        assert isinstance(choice, ModelChoice), choice
        chosen[run] = (choice.dl2_prod_id, choice.dec_line)
    assert chosen == {
        2008: ("nsb_tuning_0.14", "dec_2276"),
        2009: ("nsb_tuning_0.14", "dec_3476"),
        2010: ("nsb_tuning_0.50", "dec_2276"),
    }


def test_catb_reason_quotes_what_the_tool_collected(tmp_path) -> None:
    """The Cat-B tool says why it wrote nothing at CRITICAL level (lstchain 0.12.3, the
    real run 2008 of the demo night); the run's record keeps its counts."""
    from osa_core.phase2 import _catb_reason

    log = tmp_path / "cat_B_calibration_filters_52.Run02008.log"
    tool = "CRITICAL [lstchain.CatBCalibrationHDF5Writer] (lstchain_create_cat_B_calibration_file"
    log.write_text(
        f"2026-11-30 06:39:00,198 {tool}.finish): !!! No calibration events in the output file\n"
        f"2026-11-30 06:39:00,198 {tool}.finish): flatfield collected statistics = 1 events\n"
        f"2026-11-30 06:39:00,198 {tool}.finish): pedestal collected statistics = 0 events\n"
        "2026-11-30 06:39:00,198 CRITICAL [lstchain.CatBCalibrationHDF5Writer] (tool.run): "
        "Caught SystemExit with exit code 1\n"
    )
    assert _catb_reason("tolerated exit 1", log) == (
        "no calibration events: flatfield collected statistics = 1 events; "
        "pedestal collected statistics = 0 events"
    )
    log.write_text("ERROR [x] (y): cannot open input file\nCaught SystemExit with exit code 1\n")
    assert _catb_reason("tolerated exit 1", log) == "ERROR [x] (y): cannot open input file"
    assert _catb_reason("tolerated exit 1", tmp_path / "missing.log") == "tolerated exit 1"


def test_demo_config_runs_todays_night_with_the_demo_statistics(tmp_path) -> None:
    """config/demo.toml asks Cat-B for the sample size the generated subruns are built for,
    and keeps the standard cleaning as the finder's fallback."""
    from osa_core.config import load_config

    (tmp_path / "osa.toml").write_text(night.demo_config_text())
    config = load_config(tmp_path / "osa.toml", check_paths=False)
    assert config.night.workflow == "per_run"
    assert f"--statistics={night.CAT_B_STATISTICS}" in config.steps["catb"].extra_args
    assert config.analysis.dl1ab_config == tmp_path / "config" / "lstchain_demo_analysis.json"
    assert not config.analysis.catb_required and config.analysis.apply_catb
