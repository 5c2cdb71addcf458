"""``osa status``: the night's sequences (or one run's subruns) with their live state."""

from __future__ import annotations

import argparse
import datetime as dt

from osa_core.cli.common import add_date, add_json, config_of, console, night_of, print_json
from osa_core.errors import ExitCode
from osa_core.executors.factory import get_executor
from osa_core.plan import build_plan
from osa_core.snapshot import night_status
from osa_core.status import NightStatus


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_date(parser)
    add_json(parser)
    parser.add_argument("--run", type=int, help="show the subruns of this run")
    parser.add_argument("--failed", action="store_true", help="only failed subruns")


def run(args: argparse.Namespace) -> int:
    config = config_of(args)
    plan = build_plan(config, night_of(args))
    status = night_status(config, plan, get_executor(config))
    if args.json:
        print_json(status.to_dict())
    else:
        out = console()
        from osa_core.cli.tables import (  # lazy: rich loads for terminal output only, not --json
            plan_table,
            runs_table,
            status_header,
            status_rows,
            subrun_table,
        )

        out.print(status_header(status, config))
        if args.run is not None or args.failed:
            out.print(subrun_table(status, args.run, only_failed=args.failed))
        else:
            out.print(plan_table(plan, config, "status", out.width, rows=status_rows(status)))
            runs = runs_table(status, out.width)
            if runs is not None:
                out.print(runs)
    return exit_code(status)


def exit_code(status: NightStatus) -> int:
    if not status.scheduler_ok:
        return ExitCode.SCHEDULER_UNREACHABLE
    return ExitCode.OK


def age(moment: dt.datetime) -> str:
    seconds = (dt.datetime.now(dt.timezone.utc) - moment).total_seconds()
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.0f} min"
