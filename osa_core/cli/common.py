"""Helpers shared by CLI commands: the night argument, JSON output, the rich console."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from typing import Any

from osa_core.config import Config, load_config
from osa_core.paths import parse_night


def add_date(parser: argparse.ArgumentParser, required: bool = True) -> None:
    parser.add_argument(
        "-d",
        "--date",
        required=required,
        metavar="YYYY-MM-DD",
        help="the night (date the observation started)",
    )


def add_json(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="machine-readable output")


def night_of(args: argparse.Namespace) -> dt.date:
    return parse_night(args.date)


def config_of(args: argparse.Namespace, check_paths: bool = True) -> Config:
    return load_config(args.config, check_paths=check_paths)


def print_json(data: Any) -> None:
    json.dump(data, sys.stdout, indent=2, default=str)
    sys.stdout.write("\n")


def console(stderr: bool = False) -> Any:
    """A rich Console honouring NO_COLOR and pipes (imported lazily)."""
    from rich.console import Console

    return Console(stderr=stderr, highlight=False)
