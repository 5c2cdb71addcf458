"""``osa sequencer``: plan the night, write its job scripts, submit (SPEC §2 table)."""

from __future__ import annotations

import argparse

from osa_core.cli.common import add_date, add_json, config_of, console, night_of, print_json
from osa_core.errors import ExitCode
from osa_core.plan import build_plan


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_date(parser)
    add_json(parser)
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "-s", "--simulate", action="store_true", help="plan and print only; write nothing"
    )
    mode.add_argument(
        "--no-submit", action="store_true", help="plan and write the job scripts, submit nothing"
    )
    parser.add_argument(
        "--no-cache", action="store_true", help="re-read the RunSummary and R0 even if unchanged"
    )


def run(args: argparse.Namespace) -> int:
    config = config_of(args)
    night = night_of(args)
    write = not args.simulate
    plan = build_plan(config, night, use_cache=not args.no_cache, write_cache=write)
    specs = []
    submitted = None
    if write:
        from osa_core.jobs import write_scripts  # lazy: --simulate writes nothing

        specs = write_scripts(config, plan)
        if not args.no_submit and not plan.problems:
            from osa_core.usecases.night import submit_night  # lazy: the scheduler side

            submitted = submit_night(config, plan)
    if args.json:
        data = plan.to_dict()
        data["scripts"] = [str(spec.script) for spec in specs]
        if submitted is not None:
            data["submission"] = submitted.to_dict()
        print_json(data)
    else:
        from osa_core.cli.tables import plan_header, plan_table  # lazy: rich, not for --json

        out = console()
        out.print(plan_header(plan, config, choices=True))
        mode = "simulate" if args.simulate else "scripts" if args.no_submit else "submit"
        out.print(plan_table(plan, config, mode, out.width))
        if specs:
            out.print(f"[dim]{len(specs)} job script(s) in {specs[0].script.parent}[/]")
        if submitted is not None:
            out.print(submitted.summary())
    return ExitCode.NEEDS_OPERATOR if plan.problems else ExitCode.OK
