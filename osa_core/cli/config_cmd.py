"""``osa config show|validate``."""

from __future__ import annotations

import argparse

from osa_core.cli.common import config_of, console, print_json
from osa_core.config import config_to_dict, find_config_path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=("show", "validate", "path"))
    parser.add_argument("--json", action="store_true", help="show as JSON instead of TOML")


def run(args: argparse.Namespace) -> int:
    if args.action == "path":
        print(find_config_path(args.config))
        return 0
    config = config_of(args)
    if args.action == "validate":
        console().print(f"[green]✓[/] {config.source}: valid (base {config.paths.base})")
        return 0
    data = config_to_dict(config)
    if args.json:
        print_json(data)
    else:
        print(f"# effective configuration from {config.source}")
        print(to_toml(data))
    return 0


def to_toml(data: dict, prefix: str = "") -> str:
    """Minimal TOML writer for the effective config (scalars, lists, nested tables)."""
    import json

    scalars, tables = [], []
    for key, value in data.items():
        if isinstance(value, dict):
            tables.append((key, value))
        else:
            scalars.append(f"{key} = {_toml_value(value, json)}")
    out = []
    if prefix and (scalars or not tables):
        out.append(f"[{prefix}]")
    out.extend(scalars)
    for key, value in tables:
        name = f"{prefix}.{key}" if prefix else key
        block = to_toml(value, name)
        if block:
            out.append("")
            out.append(block)
    return "\n".join(out)


def _toml_value(value: object, json: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v, json) for v in value) + "]"
    return json.dumps(str(value))  # type: ignore[attr-defined]
