"""Config loading: precedence, defaults resolved against base, one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest
import tomllib

from osa_core.config import (
    DEFAULT_CONFIG,
    Config,
    build_config,
    config_to_dict,
    find_config_path,
    load_config,
)
from osa_core.errors import ConfigError
from osa_core.units import Duration, MemorySize

REPO = Path(__file__).resolve().parents[2]


def _write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "osa.toml"
    path.write_text('[paths]\nbase = "."\n' + body)
    return path


def test_defaults_are_resolved_against_base(tmp_path: Path) -> None:
    config = load_config(_write(tmp_path, ""))
    assert config.paths.base == tmp_path.resolve()
    assert config.paths.r0 == tmp_path.resolve() / "R0"
    assert config.slurm.data.memory == MemorySize.parse("6GB")
    assert config.slurm.data.time == Duration.parse("01:15:00")


def test_wrong_type_names_file_line_and_key(tmp_path: Path) -> None:
    path = _write(tmp_path, '\n[slurm.data]\npartition = "short"\nmemory = 6\n')
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert str(err.value) == 'osa.toml:6: [slurm.data] memory: expected a size like "6GB", got 6'


def test_unknown_key_suggests_the_close_one(tmp_path: Path) -> None:
    with pytest.raises(
        ConfigError,
        match=r"osa.toml:5: \[slurm\] acount: unknown key "
        r"\(did you mean 'account'\?\)",
    ):
        load_config(_write(tmp_path, '\n[slurm]\nacount = "dpps"\n'))


def test_unknown_section(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="sluRm: unknown key"):
        load_config(_write(tmp_path, '\n[sluRm]\naccount = "dpps"\n'))


def test_missing_base_folder(tmp_path: Path) -> None:
    path = tmp_path / "osa.toml"
    path.write_text('[paths]\nbase = "does-not-exist"\n')
    with pytest.raises(ConfigError, match=r"osa.toml:2: \[paths\] base: folder does not exist"):
        load_config(path)


def test_missing_analysis_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"\[analysis\] models_dir: file or folder does not"):
        load_config(_write(tmp_path, '\n[analysis]\nmodels_dir = "models"\n'))


def test_invalid_toml_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "osa.toml"
    path.write_text("[paths\nbase = 1\n")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert "invalid TOML" in str(err.value) and "\n" not in str(err.value)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('[production]\nprod_id = "../../etc"', "expected an id like"),
        ('[executor]\nkind = "kubernetes"', "expected one of auto, local, slurm"),
        ("[retry]\nmax_attempts = 0", "expected a positive integer"),
        ('[retry]\nmax_attempts = "3"', "expected an integer"),
        ('[slurm.data]\ntime = "75 minutes"', 'expected a duration like "01:15:00"'),
        ('[slurm.data]\npartition = "short; rm -rf /"', "expected names like"),
        ('[slurm]\naccount = "a b"', "expected a plain name"),
        ('[executor.local]\nmemory_budget = "lots"', 'expected "auto" or a size'),
        ("[console]\nkeys = 3", "expected a table"),
    ],
)
def test_value_errors(tmp_path: Path, body: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config(_write(tmp_path, "\n" + body + "\n"))


def test_precedence_flag_then_env_then_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OSA_CONFIG", "/from/env.toml")
    assert find_config_path("/from/flag.toml") == Path("/from/flag.toml")
    assert find_config_path(None) == Path("/from/env.toml")
    monkeypatch.delenv("OSA_CONFIG")
    assert find_config_path(None) == DEFAULT_CONFIG


def test_site_config_lists_every_key_of_the_schema() -> None:
    """config/osa.toml is the documented default: it must hold every key, no more."""
    data = tomllib.loads((REPO / "config" / "osa.toml").read_text())
    site = build_config(data, REPO / "config" / "osa.toml", check_paths=False)
    schema = config_to_dict(site)

    def keys(tree: dict, prefix: str = "") -> set[str]:
        out = set()
        for key, value in tree.items():
            name = f"{prefix}{key}"
            out |= keys(value, name + ".") if isinstance(value, dict) else {name}
        return out

    expected = keys(schema) - {"source", "steps"}
    written = keys(data)
    assert expected - written == set(), "keys missing from config/osa.toml"


def test_every_key_is_documented() -> None:
    doc = (REPO / "docs" / "configuration.md").read_text()
    schema = config_to_dict(
        build_config({"paths": {"base": "/"}}, Path("x.toml"), check_paths=False)
    )
    for section, values in schema.items():
        if not isinstance(values, dict):
            continue
        for key, value in values.items():
            if isinstance(value, dict) and key not in ("keys", "environment", "filters_by_night"):
                assert f"[{section}.{key}]" in doc, f"[{section}.{key}] undocumented"
                for inner in value:
                    assert f"`{inner}`" in doc, f"[{section}.{key}] {inner} undocumented"
            else:
                assert f"`{key}`" in doc, f"[{section}] {key} undocumented"


def test_demo_config_is_valid_without_paths() -> None:
    config = load_config(REPO / "config" / "demo.toml", check_paths=False)
    assert isinstance(config, Config)
    assert config.executor.kind == "local"


def test_units_round_trip() -> None:
    assert MemorySize.parse("2500MB").slurm() == "2500M"
    assert MemorySize.parse("6GB").scaled(1.5) == MemorySize.parse("9GB")
    assert MemorySize.parse("30GB").scaled(1.5, MemorySize.parse("32GB")) == MemorySize.parse(
        "32GB"
    )
    assert Duration.parse("1-02:00:00").slurm() == "1-02:00:00"
    assert Duration.parse("01:15:00").scaled(1.5).slurm() == "01:53:00"
    with pytest.raises(ValueError):
        MemorySize.parse("6")


# --- the schema walk: one line naming file, line and key, whatever the mistake ----------


def _error(tmp_path: Path, text: str) -> str:
    path = tmp_path / "osa.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    message = str(err.value)
    assert "\n" not in message
    return message


@pytest.mark.parametrize(
    ("text", "message"),
    [
        # unknown keys, with a did-you-mean, at every depth
        (
            '[paths]\nbase = "."\n[slurm.data]\nmemroy = "6GB"\n',
            "osa.toml:4: [slurm.data] memroy: unknown key (did you mean 'memory'?)",
        ),
        (
            '[paths]\nbase = "."\nrun_sumary = "raw"\n',
            "osa.toml:3: [paths] run_sumary: unknown key (did you mean 'run_summary'?)",
        ),
        (
            '[paths]\nbase = "."\n[steps.r0_to_dl1]\ncomand = ["x"]\n',
            "osa.toml:4: [steps.r0_to_dl1] comand: unknown key (did you mean 'command'?)",
        ),
        (
            '[paths]\nbase = "."\n[night]\nzzz = 1\n',
            "osa.toml:4: [night] zzz: unknown key (known: telescope, streams, "
            "calibration_lookback_nights, max_subruns, filter_wheels, workflow, "
            "input_state, end_of_observation, morning_utc, live, live_poll_seconds)",
        ),
        # wrong types
        (
            '[paths]\nbase = "."\n[night]\nstreams = 1.5\n',
            "osa.toml:4: [night] streams: expected an integer, got 1.5",
        ),
        (
            '[paths]\nbase = "."\n[closing]\nauto = "yes"\n',
            'osa.toml:4: [closing] auto: expected true or false, got "yes"',
        ),
        (
            '[paths]\nbase = "."\n[retry]\nmax_attempts = true\n',
            "osa.toml:4: [retry] max_attempts: expected an integer, got true",
        ),
        (
            '[paths]\nbase = "."\nr0 = 3\n',
            "osa.toml:3: [paths] r0: expected a path as a string, got 3",
        ),
        (
            '[paths]\nbase = "."\n[dq]\ndisabled_rules = "rate_drop"\n',
            'osa.toml:4: [dq] disabled_rules: expected a list of strings, got "rate_drop"',
        ),
        # constraints
        (
            '[paths]\nbase = "."\n[night]\nfilter_wheels = -1\n',
            "osa.toml:4: [night] filter_wheels: expected a non-negative integer, got -1",
        ),
        (
            '[paths]\nbase = "."\n[retry]\nmemory_factor = 0\n',
            "osa.toml:4: [retry] memory_factor: expected a positive number, got 0",
        ),
        (
            '[paths]\nbase = "."\n[retry]\ntime_factor = nan\n',
            "osa.toml:4: [retry] time_factor: expected a positive number, got nan",
        ),
        (
            '[paths]\nbase = "."\n[dq]\nrate_drop_fraction = 1.5\n',
            "osa.toml:4: [dq] rate_drop_fraction: expected a fraction below 1, got 1.5",
        ),
        (
            '[paths]\nbase = "."\n[executor]\nkind = "slrum"\n',
            'osa.toml:4: [executor] kind: expected one of auto, local, slurm, got "slrum" '
            "(did you mean 'slurm'?)",
        ),
        (
            '[paths]\nbase = "."\n[dq]\ndisabled_rules = ["rate_drop", "muon_widht"]\n',
            "osa.toml:4: [dq] disabled_rules: unknown rule 'muon_widht' "
            "(did you mean 'muon_width'?)",
        ),
        (
            '[paths]\nbase = "."\n[console]\ntheme = "a\\nb"\n',
            'osa.toml:4: [console] theme: expected a plain name ([A-Za-z0-9._-]), got "a\\nb"',
        ),
        (
            '[paths]\nbase = "."\n[slurm]\naccount = "dpps\\n"\n',
            'osa.toml:4: [slurm] account: expected a plain name ([A-Za-z0-9._-]), got "dpps\\n"',
        ),
        (
            '[paths]\nbase = "."\n[dq]\npedestal_std_min = 3.0\n',
            "osa.toml:4: [dq] pedestal_std_min: must be below pedestal_std_max (2.5), got 3.0",
        ),
        # missing required key: the line of its table, when the table is there
        (
            '[paths]\nr0 = "raw"\n',
            "osa.toml:1: [paths] base: missing (the folder every path is under)",
        ),
        (
            "[night]\nstreams = 4\n",
            "osa.toml: [paths] base: missing (the folder every path is under)",
        ),
        # nested tables
        (
            '[paths]\nbase = "."\n[slurm]\ndata = 3\n',
            "osa.toml:4: [slurm] data: expected a table, got 3",
        ),
        ("paths = 3\n", "osa.toml:1: paths: expected a table, got 3"),
        (
            '[paths]\nbase = "."\n[slurm.close]\ncpus = 0\n',
            "osa.toml:4: [slurm.close] cpus: expected a positive integer, got 0",
        ),
        (
            '[paths]\nbase = "."\n[steps.dl1ab]\nextra_args = ["--x", 3]\n',
            'osa.toml:4: [steps.dl1ab] extra_args: expected a list of strings, got ["--x", 3]',
        ),
        (
            '[paths]\nbase = "."\n[steps]\ndl1ab = 3\n',
            "osa.toml:4: [steps] dl1ab: expected a table, got 3",
        ),
        (
            '[paths]\nbase = "."\n[analysis.environment]\n"1X" = "a"\n',
            "osa.toml:4: [analysis.environment] 1X: expected an environment variable name",
        ),
        (
            '[paths]\nbase = "."\n[analysis.environment]\nX = 3\n',
            "osa.toml:4: [analysis.environment] X: expected a string, got 3",
        ),
        (
            '[paths]\nbase = "."\n[console.keys]\nquit = "a\\nb"\n',
            'osa.toml:4: [console.keys] quit: expected a single line of text, got "a\\nb"',
        ),
    ],
)
def test_errors_name_file_line_and_key(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "raw").mkdir()
    assert _error(tmp_path, text) == message


def test_error_lines_follow_the_file(tmp_path: Path) -> None:
    """Comments, blank lines, quoted keys and other tables do not shift the line."""
    text = (
        "# site config\n"  # 1
        "[paths]\n"  # 2
        'base = "."  # root\n'  # 3
        "\n"  # 4
        "[slurm]\n"  # 5
        'account = "dpps"\n'  # 6
        "\n"  # 7
        "[slurm.data]\n"  # 8
        'partition = "short"\n'  # 9
        "  # memory below\n"  # 10
        '"memory" = "lots"\n'  # 11
    )
    assert _error(tmp_path, text).startswith("osa.toml:11: [slurm.data] memory: ")
    assert _error(tmp_path, text.replace("[slurm.data]", "[slurm.close]")).startswith(
        "osa.toml:11: [slurm.close] memory: "
    )


def test_sub_tables_keep_their_own_defaults(tmp_path: Path) -> None:
    """A [slurm.calibration] that sets only memory keeps calibration's time, not data's."""
    config = load_config(_write(tmp_path, '\n[slurm.calibration]\nmemory = "5GB"\n'))
    assert config.slurm.calibration.memory == MemorySize.parse("5GB")
    assert config.slurm.calibration.time == Duration.parse("02:00:00")
    assert config.slurm.close.time == Duration.parse("01:00:00")
    assert config.slurm.data.time == Duration.parse("01:15:00")


def test_paths_resolve_in_one_place(tmp_path: Path) -> None:
    """base against the config's folder; every other path, given or default, against base."""
    (tmp_path / "data" / "models").mkdir(parents=True)
    path = tmp_path / "conf" / "osa.toml"
    path.parent.mkdir()
    path.write_text(
        '[paths]\nbase = "../data"\nr0 = "raw"\ncloser = "/abs"\n'
        '[analysis]\nmodels_dir = "models"\nlstchain_config = ""\n'
    )
    config = load_config(path)
    base = (tmp_path / "data").resolve()
    assert config.paths.base == base
    assert config.paths.r0 == base / "raw"
    assert config.paths.closer == Path("/abs")
    assert config.paths.state == base / "OSA" / "state"
    assert config.analysis.models_dir == base / "models"
    assert config.analysis.lstchain_config is None  # "" = not set


def test_typed_values(tmp_path: Path) -> None:
    from osa_core.config import Name, ProductionId

    config = load_config(_write(tmp_path, '\n[production]\nprod_id = "v0.13"\n'))
    assert type(config.production.prod_id) is ProductionId
    assert type(config.night.telescope) is Name
    assert type(config.slurm.data.memory) is MemorySize
    assert type(config.retry.time_cap) is Duration
    assert type(config.retry.memory_factor) is float
    assert config.dq.disabled_rules == ()


def test_show_round_trips(tmp_path: Path) -> None:
    """``osa config show``'s TOML (tomli-w) loads back into the same configuration."""
    from osa_core.config import config_to_toml

    (tmp_path / "models").mkdir()
    body = (
        '\n[analysis]\nmodels_dir = "models"\n[analysis.environment]\nA = "{base}/x"\n'
        '[steps.dl1ab]\nextra_args = ["--a=1"]\n[dq]\ndisabled_rules = ["rate_drop"]\n'
        '[console.keys]\nquit = "Q"\n'
    )
    config = load_config(_write(tmp_path, body))
    text = config_to_toml(config_to_dict(config))
    assert "source" not in tomllib.loads(text)
    again = tmp_path / "again.toml"
    again.write_text(text)
    reloaded = load_config(again)
    assert config_to_dict(reloaded) | {"source": ""} == config_to_dict(config) | {"source": ""}


def test_site_config_round_trips() -> None:
    from osa_core.config import config_to_toml

    site = load_config(REPO / "config" / "osa.toml", check_paths=False)
    text = config_to_toml(config_to_dict(site))
    again = build_config(tomllib.loads(text), Path("again.toml"), text, check_paths=False)
    assert again == Config(**{**site.__dict__, "source": Path("again.toml")})
