"""``osa resubmit``: resubmit exactly the failed subruns (preview with --dry-run)."""

from __future__ import annotations

import argparse

from osa_core.cli.common import add_date, add_json, config_of, console, night_of, print_json
from osa_core.errors import InputError
from osa_core.jobs import parse_ranges
from osa_core.plan import build_plan
from osa_core.usecases.night import resubmit_failed


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_date(parser)
    add_json(parser)
    parser.add_argument("--run", type=int, action="append", help="only this run (repeatable)")
    parser.add_argument("--subruns", help="only these subruns of --run, e.g. 3,7,12-15")
    parser.add_argument(
        "--more-memory",
        action="store_true",
        help="ask for more memory ([retry] memory_factor), whatever the cause",
    )
    parser.add_argument(
        "--policy",
        action="store_true",
        help="apply the retry policy as cron does (skip what it would not retry)",
    )
    parser.add_argument("-n", "--dry-run", action="store_true", help="show, submit nothing")


def run(args: argparse.Namespace) -> int:
    config = config_of(args)
    plan = build_plan(config, night_of(args))
    indices = None
    if args.subruns:
        if not args.run or len(args.run) != 1:
            raise InputError("--subruns needs exactly one --run")
        try:
            indices = {args.run[0]: list(parse_ranges(args.subruns))}
        except ValueError:
            raise InputError(
                f"--subruns: expected a list like 3,7,12-15, got {args.subruns!r}"
            ) from None
    report = resubmit_failed(
        config,
        plan,
        runs=args.run,
        indices=indices,
        automatic=args.policy,
        more_memory=args.more_memory,
        dry_run=args.dry_run,
    )
    if args.json:
        print_json(report.to_dict())
    else:
        console().print(
            report.summary()
            if report.jobs or report.skipped
            else "nothing to resubmit: no failed subruns",
            soft_wrap=True,
        )
    return 0
