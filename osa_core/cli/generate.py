"""``osa generate-night``: a synthetic night tree (placeholder R0) for tests and benchmarks."""

from __future__ import annotations

import argparse
from pathlib import Path

from osa_core.cli.common import add_date, console, night_of
from osa_core.generator import NightSpec, generate_night


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--base", required=True, type=Path, help="base folder to write into")
    add_date(parser)
    parser.add_argument("--runs", type=int, default=5, help="DATA runs (default 5)")
    parser.add_argument("--subruns", type=int, default=10, help="subruns per run (default 10)")
    parser.add_argument("--first-run", type=int, default=2000)
    parser.add_argument(
        "--no-calibration",
        action="store_true",
        help="no DRS4/PEDCALIB runs (exercises the look-back)",
    )


def run(args: argparse.Namespace) -> int:
    spec = NightSpec(
        night=night_of(args),
        data_runs=args.runs,
        subruns=args.subruns,
        first_run=args.first_run,
        with_calibration=not args.no_calibration,
    )
    runs = generate_night(args.base, spec)
    files = sum(r.subruns for r in runs) * spec.streams
    console().print(
        f"wrote night {spec.night} under {args.base}: {len(runs)} runs, "
        f"{files} R0 placeholder files"
    )
    return 0
