"""``osa config show|validate|path|schema``."""

from __future__ import annotations

import argparse

from osa_core.cli.common import config_of, console, print_json
from osa_core.config import config_to_dict, config_to_toml, find_config_path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "action",
        choices=("show", "validate", "path", "schema"),
        help="show: the effective configuration; validate: check it; path: which file; "
        "schema: the JSON Schema of the file",
    )
    parser.add_argument("--json", action="store_true", help="show as JSON instead of TOML")


def run(args: argparse.Namespace) -> int:
    if args.action == "path":
        print(find_config_path(args.config))
        return 0
    if args.action == "schema":  # needs no config file: it describes every one
        from osa_core.config_doc import json_schema

        print_json(json_schema())
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
        print(config_to_toml(data), end="")
    return 0
