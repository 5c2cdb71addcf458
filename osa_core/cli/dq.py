"""``osa dq``: a night's data quality in the terminal, as JSON, or as the night report.

Imports pandas and the readers only when run, so ``osa --help`` stays fast. The exit code
is 0 whether or not flags fired (flags are information for the shifter, not failures); 2
when the asked run has no datacheck.
"""

from __future__ import annotations

import argparse

from osa_core.cli.common import add_date, add_json, config_of, console, night_of, print_json
from osa_core.dq.render import night_renderable, run_renderable
from osa_core.errors import ExitCode
from osa_core.paths import NightPaths


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_date(parser)
    add_json(parser)
    parser.add_argument("--run", type=int, help="one run in detail: sparklines and subruns")
    parser.add_argument(
        "--report",
        action="store_true",
        help="write the night's HTML report (with PNG plots) next to its products",
    )
    parser.add_argument("--no-cache", action="store_true", help="read every datacheck file again")


def run(args: argparse.Namespace) -> int:
    from osa_core.dq.summary import night_dq  # heavy (pandas): not for `osa --help`

    config = config_of(args, check_paths=False)
    night = night_of(args)
    runs = None if args.run is None or args.report else [args.run]
    status = None if args.json else console(stderr=True).status("reading datacheck files…")
    if status is not None:
        status.start()
    try:
        dq = night_dq(config, night, runs=runs, use_cache=not args.no_cache)
    finally:
        if status is not None:
            status.stop()
    if args.report:
        from osa_core.dq.report import write_report  # heavy (matplotlib): --report only

        path = write_report(dq, NightPaths(config, night))
        if args.json:
            print_json({"report": str(path), **dq.to_json()})
        else:
            console().print(str(path), soft_wrap=True)
        return ExitCode.OK
    if args.json:
        print_json(dq.to_json(run=args.run))
    else:
        out = console()
        if args.run is not None:
            out.print(run_renderable(dq, args.run, out.width))
        else:
            out.print(night_renderable(dq, out.width))
    if args.run is not None and args.run not in dq.run_numbers():
        return ExitCode.BAD_INPUT
    return ExitCode.OK
