"""``osa simulate-daq``: write a night into a folder over time, as the DAQ does.

One line per event on stdout (flushed: a test or an operator watches it live). The night is
the generator's (``osa generate-night``), so the end state is what that command writes,
plus ``RunSummary_YYYYMMDD.complete``. The simulator is imported when the command runs:
``osa --help`` imports every command's module.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import TYPE_CHECKING

from osa_core.errors import InputError
from osa_core.paths import parse_night

if TYPE_CHECKING:
    from osa_core.demo.daq import DaqEvent

DEFAULT_NIGHT = "2020-02-18"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dir", required=True, type=Path, help="base folder to write into")
    parser.add_argument(
        "-d",
        "--date",
        default=DEFAULT_NIGHT,
        metavar="YYYY-MM-DD",
        help=f"the night (default {DEFAULT_NIGHT}, the demo's)",
    )
    parser.add_argument("--pace", type=float, default=1.0, help="seconds per subrun (default 1.0)")
    parser.add_argument("--runs", type=int, default=5, help="DATA runs (default 5)")
    parser.add_argument("--subruns", type=int, default=10, help="subruns per DATA run (default 10)")
    parser.add_argument(
        "--late-runs",
        type=int,
        default=1,
        help="DATA runs added after the night looked finished (default 1)",
    )
    parser.add_argument("--first-run", type=int, default=2000, help="first run number")
    parser.add_argument(
        "--zfits",
        action="store_true",
        help="real zfits content from the demo's generator (seconds per subrun) instead of "
        "empty placeholders",
    )


def check_arguments(args: argparse.Namespace) -> None:
    """One-line errors for what the simulator would refuse or misbehave on."""
    if not (math.isfinite(args.pace) and args.pace > 0):
        raise InputError(f"--pace: expected a positive number of seconds, got {args.pace}")
    if args.runs < 0:
        raise InputError(f"--runs: expected 0 or more, got {args.runs}")
    if args.subruns < 1:
        raise InputError(f"--subruns: expected 1 or more, got {args.subruns}")
    if not 0 <= args.late_runs <= args.runs:
        raise InputError(f"--late-runs: expected 0 to --runs ({args.runs}), got {args.late_runs}")
    if not 0 <= args.first_run <= 999_000:
        raise InputError(f"--first-run: out of range, got {args.first_run}")


def run(args: argparse.Namespace) -> int:
    from osa_core.demo.daq import DaqSimulator, DemoZfitsWriter, placeholder_r0
    from osa_core.generator import NightLayout, NightSpec

    check_arguments(args)
    spec = NightSpec(
        night=parse_night(args.date),
        data_runs=args.runs,
        subruns=args.subruns,
        first_run=args.first_run,
    )
    layout = NightLayout(args.dir, spec.night)
    for taken in (layout.run_summary, layout.run_summary_complete):
        if taken.exists():
            raise InputError(f"--dir: {taken} exists: night {spec.night} is already there")
    simulator = DaqSimulator(
        args.dir,
        spec,
        args.pace,
        late_runs=args.late_runs,
        r0_writer=DemoZfitsWriter(spec) if args.zfits else placeholder_r0,
        on_event=lambda event: print(describe(event), flush=True),
    )
    simulator.run()
    return 0


def describe(event: DaqEvent) -> str:
    """``+1.250s r0 R0/20200218/LST-1.1.Run02000.0000.fits.fz`` (paths under --dir)."""
    what = f"run {event.run:05d} ended  " if event.kind == "run_summary" else ""
    return f"+{event.time:.3f}s {event.kind} {what}{event.path}"
