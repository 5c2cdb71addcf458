"""Small night commands: ``osa cancel``, ``osa give-up``, ``osa journal [repair]``."""

from __future__ import annotations

import argparse
import datetime as dt
import sys

from osa_core.cli.common import add_date, add_json, config_of, console, night_of, print_json
from osa_core.config import Config
from osa_core.journal import Journal, journal_problem
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
    parser.add_argument(
        "what",
        nargs="?",
        choices=["repair"],
        help="repair: move malformed lines to journal.malformed.jsonl (under the lock)",
    )
    add_date(parser)
    add_json(parser)


def run_journal(args: argparse.Namespace) -> int:
    config = config_of(args)
    night = night_of(args)
    if args.what == "repair":
        return _repair_journal(config, night)
    paths = NightPaths(config, night)
    view = Journal(paths.journal).read()
    repair = f"osa journal repair --date {night.isoformat()}"
    problem = journal_problem(view, paths.journal, (paths.lock, paths.closer_lock), repair)
    if args.json:
        print_json(view.entries)
        if problem:
            print(f"osa: warning: {problem}", file=sys.stderr)
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
    if problem:
        console().print(f"⚠ {problem}", style="bold yellow", markup=False)
    return 0


def _repair_journal(config: Config, night: dt.date) -> int:
    from osa_core.usecases.night import repair_journal

    journal = Journal(NightPaths(config, night).journal)
    moved = repair_journal(config, night)
    if not moved:
        console().print(f"{journal.path}: no malformed line, nothing to repair")
        return 0
    lines = ", ".join(str(n) for n in moved)
    console().print(
        f"{journal.path}: moved {len(moved)} malformed line(s) ({lines}) to "
        f"{journal.malformed_path}; recorded as 'repaired' in the journal"
    )
    return 0
