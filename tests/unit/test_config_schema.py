"""The schema as documents: docs/configuration.md and ``osa config schema`` come from the
same dataclasses as the loader, and cannot drift from it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import msgspec
import pytest
import tomllib

from osa_core.bundled import data_folder, source_checkout
from osa_core.config import Config, schema_keys
from osa_core.config_doc import BEGIN, END, _file_type, json_schema, markdown, update_doc

REPO = Path(__file__).resolve().parents[2]


def test_configuration_doc_is_up_to_date() -> None:
    doc = (REPO / "docs" / "configuration.md").read_text(encoding="utf-8")
    assert update_doc(doc) == doc, "run: .venv/bin/python scripts/gen-config-docs"


def test_gen_config_docs_check_mode() -> None:
    result = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "gen-config-docs"), "--check"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_update_doc_keeps_the_hand_written_prose() -> None:
    text = f"# Title\n\nprose before\n\n{BEGIN}\nstale\n{END}\n\nprose after\n"
    updated = update_doc(text)
    assert updated.startswith("# Title\n\nprose before\n\n" + BEGIN + "\n## `[paths]`")
    assert updated.endswith(f"{END}\n\nprose after\n")
    assert "stale" not in updated
    with pytest.raises(ValueError, match="markers"):
        update_doc("no markers here")


def test_doc_tables_show_each_tables_own_defaults() -> None:
    text = markdown()
    calibration = text.split("### `[slurm.calibration]`")[1].split("###")[0]
    close = text.split("### `[slurm.close]`")[1].split("##")[0]
    assert '| `memory` | size | `"3GB"` |' in calibration
    assert '| `time` | duration | `"02:00:00"` |' in calibration
    assert '| `memory` | size | `"4GB"` |' in close
    assert "| `base` | path | (required) |" in text
    assert '| `kind` | one of `auto`, `local`, `slurm` | `"auto"` |' in text


def _objects(schema: dict) -> list[dict]:
    return [d for d in schema["$defs"].values() if d.get("type") == "object"]


def test_json_schema_describes_the_file() -> None:
    schema = json_schema()
    root = schema["$defs"]["Config"]
    assert list(root["properties"]) == [key.name for key in schema_keys(Config)]
    assert "source" not in root["properties"]
    assert root["required"] == ["paths"]
    assert schema["$defs"]["PathsConfig"]["required"] == ["base"]
    for table in _objects(schema):
        assert table["additionalProperties"] is False, table["title"]
        for name, prop in table["properties"].items():
            assert prop.get("description"), f"{table['title']}.{name} has no description"
    slurm = root["properties"]["slurm"]["default"]
    assert slurm["calibration"]["memory"] == "3GB" and slurm["data"]["time"] == "01:15:00"
    retry = schema["$defs"]["RetryConfig"]["properties"]
    assert retry["max_attempts"]["minimum"] == 1
    dq = schema["$defs"]["DQConfig"]["properties"]
    assert dq["rate_drop_fraction"]["exclusiveMaximum"] == 1
    assert "rate_drop" in dq["disabled_rules"]["items"]["enum"]
    json.dumps(schema)  # plain JSON


@pytest.mark.parametrize("name", ["osa.toml", "demo.toml"])
def test_shipped_configs_fit_the_file_schema(name: str) -> None:
    """The Structs the JSON Schema is built from accept the shipped files as they are..."""
    data = tomllib.loads((REPO / "config" / name).read_text())
    msgspec.convert(data, type=_file_type(Config))


def test_file_schema_refuses_what_the_loader_refuses() -> None:
    """... and refuse an unknown key or a wrong type, as the loader does."""
    file_type = _file_type(Config)
    good = {"paths": {"base": "."}, "slurm": {"data": {"memory": "6GB"}}}
    msgspec.convert(good, type=file_type)
    for bad in (
        {"paths": {"base": "."}, "slurm": {"acount": "x"}},
        {"paths": {"base": "."}, "slurm": {"data": {"memory": 6}}},
        {"paths": {"base": "."}, "retry": {"max_attempts": 0}},
        {"paths": {}},
    ):
        with pytest.raises(msgspec.ValidationError):
            msgspec.convert(bad, type=file_type)


def test_osa_config_schema_needs_no_config_file(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "osa_core.cli.main", "config", "schema"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "OSA_CONFIG": str(tmp_path / "missing.toml")},
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == json_schema()


def test_show_prints_toml_that_loads_back(tmp_path: Path) -> None:
    config = tmp_path / "osa.toml"
    config.write_text('[paths]\nbase = "."\n[slurm]\naccount = "dpps"\n')
    result = subprocess.run(
        [sys.executable, "-m", "osa_core.cli.main", "-c", str(config), "config", "show"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    data = tomllib.loads(result.stdout)
    assert "source" not in data
    assert data["slurm"]["account"] == "dpps"
    assert data["paths"]["r0"] == str(tmp_path.resolve() / "R0")


def test_a_checkout_reads_its_own_folders() -> None:
    """Run from a checkout, the shipped files are the checkout's top-level folders."""
    assert source_checkout() == REPO
    assert Path(str(data_folder("osa_core.defaults", "config"))) == REPO / "config"
    assert Path(str(data_folder("osa_tui.bundled_themes", "themes"))) == REPO / "themes"
