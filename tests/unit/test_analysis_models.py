"""DL2 random-forest model choice (osa_core.analysis.models), lstosa's get_RF_model rules."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import pytest

from osa_core.analysis.models import (
    LST1_LATITUDE_DEG,
    NSB_LEVELS,
    PICTURE_THRESHOLDS,
    DecLine,
    ModelChoice,
    NoModels,
    choose_dec_line,
    choose_rf_model,
    culmination_zenith,
    nsb_target,
    nsb_tuning_folder,
    parse_dec_line,
    scan_models,
)

MC_PROD = "20240918_v0.10.12_allsky_"
# The lines of the AllSky production (lstosa's conftest uses dec_2276 and dec_4822).
ALL_LINES = (
    "dec_min_2924",
    "dec_min_1802",
    "dec_min_413",
    "dec_931",
    "dec_2276",
    "dec_3476",
    "dec_4822",
    "dec_6166",
)


def make_tree(root: Path, layout: dict[str, tuple[str, ...]], prefix: str = MC_PROD) -> Path:
    """``{"0.14": ("dec_2276", ...)}`` -> ``root/<prefix>nsb_tuning_0.14/dec_2276/``."""
    root.mkdir(parents=True, exist_ok=True)
    for level, lines in layout.items():
        folder = root / f"{prefix}nsb_tuning_{level}"
        folder.mkdir()
        for line in lines:
            (folder / line).mkdir()
    return root


def lines(*names: str) -> list[DecLine]:
    result = []
    for name in names:
        dec = parse_dec_line(name)
        assert dec is not None
        result.append(DecLine(name, dec))
    return result


def choose(
    root: Path, nsb: float = 0.23, pth: int | None = 8, dec: float | None = 22.0
) -> ModelChoice | NoModels:
    return choose_rf_model(
        root, MC_PROD, run_id=2008, nsb=nsb, picture_thresh=pth, pointing_dec=dec
    )


@pytest.fixture
def full_tree(tmp_path: Path) -> Path:
    levels = ("0.00", "0.07", "0.14", "0.22", "0.38", "0.50", "0.81", "1.25", "1.76", "2.34")
    return make_tree(tmp_path / "models" / "AllSky", {lvl: ALL_LINES for lvl in levels})


# --- names and geometry --------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "dec"),
    [
        ("dec_2276", 22.76),
        ("dec_931", 9.31),
        ("dec_min_413", -4.13),
        ("dec_min_2924", -29.24),
        ("dec_6166", 61.66),
        ("dec_0000", 0.0),
    ],
)
def test_dec_line_names_are_hundredths_of_a_degree(name: str, dec: float) -> None:
    assert parse_dec_line(name) == pytest.approx(dec)


@pytest.mark.parametrize(
    "name",
    ["dec_22", "dec_22760", "dec_min_", "decl_2276", "dec_2276_old", "dec_-413", "DEC_2276", ""],
)
def test_other_names_are_not_dec_lines(name: str) -> None:
    assert parse_dec_line(name) is None


def test_site_latitude_is_gammapy_cta_north() -> None:
    # 28d45m43.7904s, gammapy's observatory_locations["cta_north"] used by lstosa
    assert pytest.approx(28.762164, abs=1e-6) == LST1_LATITUDE_DEG
    assert culmination_zenith(LST1_LATITUDE_DEG) == 0.0
    assert culmination_zenith(22.76) == pytest.approx(6.002164)
    assert culmination_zenith(-4.13) == pytest.approx(32.892164)
    assert culmination_zenith(48.22) == pytest.approx(19.457836)


def test_nsb_table_is_lstosas() -> None:
    assert NSB_LEVELS == (0.00, 0.07, 0.14, 0.22, 0.38, 0.50, 0.81, 1.25, 1.76, 2.34)
    assert PICTURE_THRESHOLDS == (8, 8, 8, 8, 10, 10, 12, 14, 16, 18)


@pytest.mark.parametrize(
    ("name", "prefix", "expected"),
    [
        (f"{MC_PROD}nsb_tuning_0.14", MC_PROD, (0.14, "nsb_tuning_0.14")),
        ("mcprod_nsb_tuning_2.34", "mcprod", (2.34, "nsb_tuning_2.34")),  # prefix without "_"
        ("nsb_tuning_0.50", "", (0.50, "nsb_tuning_0.50")),
        ("other_prod_nsb_tuning_0.14", MC_PROD, None),
        (f"{MC_PROD}nsb_tuning_0.14_old", MC_PROD, None),
        (f"{MC_PROD}nsb_tuning_", MC_PROD, None),
        (f"{MC_PROD}nsb_tuning_014", MC_PROD, None),
    ],
)
def test_nsb_folder_names(name: str, prefix: str, expected: tuple[float, str] | None) -> None:
    assert nsb_tuning_folder(name, prefix) == expected


# --- NSB level -----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("nsb", "pth", "level"),
    [
        (0.23, 8, 0.22),
        (0.05, 8, 0.07),
        (0.90, 8, 0.22),  # threshold 8 only has levels up to 0.22
        (0.23, 10, 0.38),  # the cleaning decides the family: 0.38 or 0.50
        (0.46, 10, 0.50),
        (0.10, 12, 0.81),
        (3.00, 18, 2.34),
        (0.105, 8, 0.07),  # exact tie between 0.07 and 0.14: the lower, as lstosa
        (0.23, None, 0.23),  # no threshold: the rate itself
    ],
)
def test_nsb_target_uses_the_levels_of_the_picture_threshold(
    nsb: float, pth: int | None, level: float
) -> None:
    target = nsb_target(nsb, pth)
    assert not isinstance(target, str)
    assert target[0] == pytest.approx(level)


@pytest.mark.parametrize(
    ("nsb", "pth", "words"),
    [
        (-0.01, 8, "below 0"),
        (math.nan, 8, "NaN"),
        (0.2, 9, "picture threshold 9"),
    ],
)
def test_nsb_target_refusals(nsb: float, pth: int, words: str) -> None:
    target = nsb_target(nsb, pth)
    assert isinstance(target, str)
    assert words in target


# --- declination line (pure) ---------------------------------------------------------
@pytest.mark.parametrize(
    ("pointing", "line"),
    [
        (22.76, "dec_2276"),  # on a line
        (48.22, "dec_4822"),  # on a line beyond the site pair: same culmination, kept
        (-4.13, "dec_min_413"),
        (61.66, "dec_6166"),
        (28.0, "dec_2276"),  # between the site pair: nearest
        (33.0, "dec_3476"),
        (34.76, "dec_3476"),  # edge of the pair (inclusive)
        (22.0, "dec_2276"),  # just outside the pair, nearest passes the check
        (50.0, "dec_4822"),  # beyond, nearest culminates nearer the zenith: kept
        (70.0, "dec_6166"),
        (-35.0, "dec_min_2924"),
        (-89.0, "dec_min_2924"),
        (89.0, "dec_6166"),
        # +15 is nearer dec_931 (5.69) than dec_2276 (7.76), but dec_931 culminates at
        # 19.5 deg, lower than the pointing (13.8 deg): skipped
        (15.0, "dec_2276"),
        (5.0, "dec_931"),  # nearest dec_931 (culm 19.5 <= 23.8) passes
    ],
)
def test_dec_line_on_between_and_beyond(pointing: float, line: str) -> None:
    chosen, _ = choose_dec_line(lines(*ALL_LINES), pointing)
    assert chosen is not None and chosen.name == line


def test_culmination_check_skips_a_nearer_line_culminating_lower() -> None:
    # +45: dec_4822 is nearer (3.22 deg) but culminates at 19.5 deg from the zenith, lower
    # than the pointing (16.2 deg): lstosa drops it and takes dec_3476.
    chosen, why = choose_dec_line(lines(*ALL_LINES), 45.0)
    assert chosen is not None and chosen.name == "dec_3476"
    assert "skipped dec_4822 (19.5 deg)" in why
    assert "6.0 deg vs 16.2 deg" in why


def test_culmination_check_south() -> None:
    # -2: dec_min_413 nearer (2.13) but culminates at 32.9 deg, the pointing at 30.8 deg
    chosen, why = choose_dec_line(lines(*ALL_LINES), -2.0)
    assert chosen is not None and chosen.name == "dec_931"
    assert "skipped dec_min_413" in why


def test_culmination_check_can_skip_several_lines() -> None:
    # +36: 34.76 is nearest but the pair is 22.76/34.76, so 36 is outside; lines nearer than
    # any acceptable one that culminate lower are all skipped.
    chosen, why = choose_dec_line(lines("dec_2276", "dec_3476", "dec_3700", "dec_4000"), 38.5)
    # 38.5 culminates at 9.74; 37.0 (8.24) is nearest and passes
    assert chosen is not None and chosen.name == "dec_3700"
    chosen, why = choose_dec_line(lines("dec_2276", "dec_3476", "dec_4000", "dec_4200"), 41.5)
    # 41.5 culminates at 12.74: dec_4200 (13.24) skipped, dec_4000 (11.24) kept
    assert chosen is not None and chosen.name == "dec_4000"
    assert "skipped dec_4200" in why


def test_between_the_site_pair_the_check_is_waived() -> None:
    # Pair nearest the latitude: 26.00 and 34.76. The pointing +33 culminates at 4.2 deg;
    # the nearest line dec_3476 culminates at 6.0 deg. Checked, it would be dropped for
    # dec_2600; between the pair lstosa does not check and takes the nearest.
    chosen, why = choose_dec_line(lines("dec_2276", "dec_2600", "dec_3476", "dec_4822"), 33.0)
    assert chosen is not None and chosen.name == "dec_3476"
    assert "between dec_2600 and dec_3476" in why
    assert "no culmination check" in why


def test_every_line_dropped_is_an_answer_not_a_crash() -> None:
    # pair 22.76/26.00 lies below the latitude; +28.5 (culminating at 0.3 deg) is outside
    # it and every line culminates lower: lstosa's loop would empty the list and crash.
    chosen, why = choose_dec_line(lines("dec_2276", "dec_2600", "dec_4822"), 28.5)
    assert chosen is None
    assert "every line culminates farther from the zenith" in why
    assert "dec_2600 (2.8 deg)" in why


def test_single_line_is_checked_too() -> None:
    chosen, why = choose_dec_line(lines("dec_4822"), 40.0)
    assert chosen is None and "dec_4822" in why
    chosen, _ = choose_dec_line(lines("dec_4822"), 55.0)
    assert chosen is not None and chosen.name == "dec_4822"


def test_distance_tie_goes_to_the_line_culminating_nearer_the_zenith() -> None:
    # +25 is 5 deg from both 20 and 30 (and between the site pair)
    for order in (("dec_2000", "dec_3000"), ("dec_3000", "dec_2000")):
        chosen, _ = choose_dec_line(lines(*order), 25.0)
        assert chosen is not None and chosen.name == "dec_3000"


def test_no_lines() -> None:
    assert choose_dec_line([], 22.0) == (None, "no dec_* lines")


# --- choose_rf_model on a tree -------------------------------------------------------
def test_choice_example(full_tree: Path) -> None:
    choice = choose(full_tree, nsb=0.23, pth=8, dec=22.0)
    assert isinstance(choice, ModelChoice)
    assert choice.path == full_tree / f"{MC_PROD}nsb_tuning_0.22" / "dec_2276"
    assert choice.nsb_folder == f"{MC_PROD}nsb_tuning_0.22"
    assert choice.nsb_level == pytest.approx(0.22)
    assert choice.dec_line == "dec_2276"
    assert choice.dec_line_deg == pytest.approx(22.76)
    assert choice.dl2_prod_id == "nsb_tuning_0.22"
    assert choice.run_id == 2008
    assert choice.reason.startswith("NSB 0.23 at picture threshold 8 -> level 0.22")
    assert "-> nsb_tuning_0.22 (nearest of 0.00, 0.07, 0.14" in choice.reason
    assert "dec +22.0 -> dec_2276" in choice.reason
    with pytest.raises(dataclasses.FrozenInstanceError):
        choice.dec_line = "dec_931"  # type: ignore[misc]


def test_picture_threshold_decides_before_the_folders(full_tree: Path) -> None:
    choice = choose(full_tree, nsb=0.23, pth=10, dec=22.0)
    assert isinstance(choice, ModelChoice)
    assert choice.dl2_prod_id == "nsb_tuning_0.38"
    choice = choose(full_tree, nsb=0.23, pth=None, dec=22.0)
    assert isinstance(choice, ModelChoice)
    assert choice.dl2_prod_id == "nsb_tuning_0.22"
    assert choice.reason.startswith("NSB 0.23 -> nsb_tuning_0.22")


def test_missing_nsb_folders_take_the_nearest_available(tmp_path: Path) -> None:
    root = make_tree(tmp_path, {"0.14": ALL_LINES, "0.50": ALL_LINES})
    choice = choose(root, nsb=0.23, pth=8)  # level 0.22: 0.14 (0.08) beats 0.50 (0.28)
    assert isinstance(choice, ModelChoice)
    assert choice.dl2_prod_id == "nsb_tuning_0.14"
    assert "(nearest of 0.14, 0.50)" in choice.reason
    choice = choose(root, nsb=0.45, pth=10)
    assert isinstance(choice, ModelChoice)
    assert choice.dl2_prod_id == "nsb_tuning_0.50"


def test_folder_of_another_cleaning_level_is_noted(tmp_path: Path) -> None:
    root = make_tree(tmp_path, {"0.14": ALL_LINES, "0.22": ALL_LINES})
    choice = choose(root, nsb=0.45, pth=10)
    assert isinstance(choice, ModelChoice)
    assert choice.dl2_prod_id == "nsb_tuning_0.22"
    assert "note: 0.22 is not a level of picture threshold 10" in choice.reason


def test_nsb_folder_without_lines_is_passed_over(tmp_path: Path) -> None:
    root = make_tree(tmp_path, {"0.00": (), "0.14": ALL_LINES, "0.22": (), "0.50": ALL_LINES})
    choice = choose(root, nsb=0.23, pth=8)
    assert isinstance(choice, ModelChoice)
    assert choice.dl2_prod_id == "nsb_tuning_0.14"
    assert "passed over nsb_tuning_0.22 (no dec_* lines)" in choice.reason
    assert "0.00" not in choice.reason.split("passed over")[1]  # farther, not named


def test_nsb_tie_goes_to_the_lower_folder(tmp_path: Path) -> None:
    root = make_tree(tmp_path, {"0.00": ALL_LINES, "0.14": ALL_LINES})
    choice = choose(root, nsb=0.10, pth=8)  # level 0.07: 0.00 and 0.14 equally near
    assert isinstance(choice, ModelChoice)
    assert choice.dl2_prod_id == "nsb_tuning_0.00"


def test_culmination_case_on_a_tree(full_tree: Path) -> None:
    choice = choose(full_tree, dec=45.0)
    assert isinstance(choice, ModelChoice)
    assert choice.dec_line == "dec_3476"
    assert "skipped dec_4822" in choice.reason


def test_every_line_dropped_on_a_tree(tmp_path: Path) -> None:
    root = make_tree(tmp_path, {"0.22": ("dec_2276", "dec_2600", "dec_4822")})
    result = choose(root, dec=28.5)
    assert isinstance(result, NoModels)
    assert result.message.startswith("run 2008: no RF models: dec +28.5 in ")
    assert "every line culminates farther" in result.message


def test_empty_tree(tmp_path: Path) -> None:
    root = tmp_path / "AllSky"
    root.mkdir()
    result = choose(root)
    assert isinstance(result, NoModels)
    assert result.run_id == 2008
    assert result.searched == root
    assert f"no folder named {MC_PROD}nsb_tuning_X.XX" in result.message
    assert f"searched {root}/{MC_PROD}nsb_tuning_X.XX/dec_*" in result.message


def test_missing_root(tmp_path: Path) -> None:
    result = choose(tmp_path / "nowhere")
    assert isinstance(result, NoModels)
    assert "does not exist" in result.message


def test_only_empty_nsb_folders(tmp_path: Path) -> None:
    root = make_tree(tmp_path, {"0.14": (), "0.22": ()})
    result = choose(root)
    assert isinstance(result, NoModels)
    assert "no dec_* line in any NSB folder" in result.message


def test_other_productions_and_stray_entries_are_ignored(tmp_path: Path) -> None:
    root = make_tree(tmp_path, {"0.22": ALL_LINES}, prefix="20240131_allsky_v0.10.5_")
    (root / "README").write_text("")
    result = choose(root)
    assert isinstance(result, NoModels)
    make_tree(root, {"0.50": ("dec_2276",)})
    (root / f"{MC_PROD}nsb_tuning_0.50" / "dec_931").write_text("")  # a file, not a line
    (root / f"{MC_PROD}nsb_tuning_0.50" / "notes").mkdir()
    choice = choose(root)
    assert isinstance(choice, ModelChoice)
    assert choice.dl2_prod_id == "nsb_tuning_0.50"
    assert choice.dec_line == "dec_2276"


def test_stray_dec_names_do_not_shift_the_lines(tmp_path: Path) -> None:
    # lstosa keeps every "dec*" name but drops only the unparsable values, then pairs them by
    # position: with dec_2276_old listed, values and names no longer line up.
    root = make_tree(tmp_path, {"0.14": ("dec_2276", "dec_2276_old", "dec_4822", "decoy")})
    choice = choose(root, nsb=0.1, dec=50.0)
    assert isinstance(choice, ModelChoice)
    assert choice.dec_line == "dec_4822"
    assert choice.path.name == "dec_4822"


def test_prefix_without_trailing_underscore(tmp_path: Path) -> None:
    root = make_tree(tmp_path, {"0.14": ("dec_2276",)})
    choice = choose_rf_model(
        root, MC_PROD.rstrip("_"), run_id=1, nsb=0.1, picture_thresh=None, pointing_dec=20.0
    )
    assert isinstance(choice, ModelChoice)
    assert choice.dl2_prod_id == "nsb_tuning_0.14"


@pytest.mark.parametrize("dec", [None, math.nan])
def test_no_declination(full_tree: Path, dec: float | None) -> None:
    result = choose(full_tree, dec=dec)
    assert isinstance(result, NoModels)
    assert result.message.startswith("run 2008: no RF models: no pointing declination")
    assert f"{MC_PROD}nsb_tuning_0.22" in result.message  # the folder it would have used
    assert "dec_2276" in result.message


@pytest.mark.parametrize(("nsb", "pth"), [(-0.2, 8), (math.nan, 8), (0.2, 11)])
def test_bad_tail_cut_inputs(full_tree: Path, nsb: float, pth: int) -> None:
    result = choose(full_tree, nsb=nsb, pth=pth)
    assert isinstance(result, NoModels)
    assert result.message.startswith("run 2008: no RF models: ")


def test_scan_lists_levels_in_order(tmp_path: Path) -> None:
    root = make_tree(tmp_path, {"0.50": ("dec_931",), "0.07": ("dec_4822", "dec_min_413")})
    found = scan_models(root, MC_PROD)
    assert [f.level for f in found] == [0.07, 0.50]
    assert [line.name for line in found[0].lines] == ["dec_min_413", "dec_4822"]
    assert found[1].prod_id == "nsb_tuning_0.50"


def test_symlinked_line_counts_as_a_line(tmp_path: Path) -> None:
    root = make_tree(tmp_path, {"0.14": ("dec_2276",), "0.22": ()})
    (root / f"{MC_PROD}nsb_tuning_0.22" / "dec_2276").symlink_to(
        root / f"{MC_PROD}nsb_tuning_0.14" / "dec_2276"
    )
    choice = choose(root, nsb=0.23, pth=8)
    assert isinstance(choice, ModelChoice)
    # named after the folder it is listed in (lstosa would resolve the link: 0.14)
    assert choice.dl2_prod_id == "nsb_tuning_0.22"
