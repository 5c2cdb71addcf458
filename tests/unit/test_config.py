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
            if isinstance(value, dict) and key not in ("keys", "environment"):
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
