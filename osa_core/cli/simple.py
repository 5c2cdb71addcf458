"""Small night commands: ``osa cancel``, ``osa give-up``, ``osa journal``."""

from __future__ import annotations

import argparse

from osa_core.cli.common import add_date, add_json, config_of, console, night_of, print_json
from osa_core.journal import Journal
from osa_core.paths import NightPaths
from osa_core.plan import build_plan


def add_cancel(parser: argparse.ArgumentParser) -> None:
    add_date(parser)
    parser.add_argument("--run", type=int, action="append", help="only this run (repeatable)")
    parser.add_argument("--reason", default="", help="recorded in the journal")


def run_cancel(args: argparse.Namespace) -> int:
    from osa_core.usecases.night import cancel

    config = config_of(args)
    ids = cancel(config, build_plan(config, night_of(args)), runs=args.run, reason=args.reason)
    console().print(f"cancelled job(s) {', '.join(ids)}" if ids else "nothing to cancel")
    return 0


def add_give_up(parser: argparse.ArgumentParser) -> None:
    add_date(parser)
    parser.add_argument("--run", type=int, required=True)
    parser.add_argument("--subruns", required=True, help="e.g. 3,7,12-15")
    parser.add_argument("--reason", required=True, help="why (recorded in the journal)")


def run_give_up(args: argparse.Namespace) -> int:
    from osa_core.errors import InputError
    from osa_core.jobs import parse_ranges
    from osa_core.usecases.night import give_up

    config = config_of(args)
    try:
        indices = list(parse_ranges(args.subruns))
    except ValueError:
        raise InputError(
            f"--subruns: expected a list like 3,7,12-15, got {args.subruns!r}"
        ) from None
    give_up(config, build_plan(config, night_of(args)), args.run, indices, args.reason)
    console().print(f"gave up run {args.run} subrun(s) {args.subruns}: {args.reason}")
    return 0


def add_journal(parser: argparse.ArgumentParser) -> None:
    add_date(parser)
    add_json(parser)


def run_journal(args: argparse.Namespace) -> int:
    config = config_of(args)
    view = Journal(NightPaths(config, night_of(args)).journal).read()
    if args.json:
        print_json(view.entries)
        return 0
    from rich.table import Table

    table = Table(show_edge=False, header_style="bold", pad_edge=False)
    for name in ("Time", "Who", "Action", "Run", "Job", "Details"):
        table.add_column(name, no_wrap=name != "Details")
    for entry in view.entries:
        details = entry.get("reason") or entry.get("purpose") or ""
        if entry.get("indices"):
            from osa_core.jobs import compact_ranges

            details = f"subruns {compact_ranges(entry['indices'])} {details}".strip()
        table.add_row(
            str(entry.get("time", ""))[11:19],
            str(entry.get("user", "")),
            str(entry.get("action", "")),
            str(entry.get("run", "")),
            str(entry.get("job_id", "") or ",".join(entry.get("job_ids", []) or [])),
            str(details),
        )
    console().print(table)
    return 0
