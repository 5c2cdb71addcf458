"""``osa close`` (with ``--dry-run`` listing every action) and ``osa provenance FILE``."""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console

from osa_core.cli.common import add_date, config_of, console, night_of
from osa_core.config import Config
from osa_core.executors.factory import get_executor
from osa_core.journal import Journal
from osa_core.paths import NightPaths
from osa_core.plan import Plan, build_plan
from osa_core.usecases.close import close_night
from osa_core.vocabulary import FINAL_STATES, JobKind

if TYPE_CHECKING:
    from osa_core.closing.provenance import Lineage


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_date(parser)
    parser.add_argument("-n", "--dry-run", action="store_true", help="list every action only")
    parser.add_argument(
        "--override",
        action="store_true",
        help="close even though some subruns are not finished (needs --reason)",
    )
    parser.add_argument("--reason", default="", help="why (recorded in the journal)")
    parser.add_argument(
        "--wait", action="store_true", help="wait until the close jobs end (prints the result)"
    )


def run(args: argparse.Namespace) -> int:
    config = config_of(args)
    plan = build_plan(config, night_of(args))
    out = console()
    for line in close_night(
        config, plan, dry_run=args.dry_run, override=args.override, reason=args.reason
    ):
        out.print(line, soft_wrap=True)
    if args.wait and not args.dry_run:
        return wait_closed(config, plan, out)
    return 0


def wait_closed(config: Config, plan: Plan, out: Console, timeout: float = 6 * 3600) -> int:
    paths = NightPaths(config, plan.night)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if paths.night_finished.exists():
            out.print(f"[green]night closed[/]: {paths.night_finished}")
            return 0
        subs = Journal(paths.journal).read().of_kind(JobKind.CLOSE_NIGHT)
        if subs:
            result = get_executor(config).query([subs[-1].job_id])
            finished = result.tasks and all(t.state in FINAL_STATES for t in result.tasks)
            if finished and not paths.night_finished.exists():
                out.print(
                    f"[red]close job {subs[-1].job_id} ended "
                    f"{result.tasks[0].state} without finishing the night[/] "
                    f"(see {paths.log_dir})"
                )
                return 1
        time.sleep(1.0)
    return 1


def add_provenance(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", type=Path, help="a product of a closed night (e.g. a DL2 file)")
    parser.add_argument("--depth", type=int, default=8)


def run_provenance(args: argparse.Namespace) -> int:
    # lazy: `osa --help` and cron's `osa --batch` import every command's module
    from rich.tree import Tree

    from osa_core.closing.provenance import find_document, lineage, started

    config = config_of(args, check_paths=False)
    document, entity = find_document(config, args.file)
    root = lineage(document, entity, depth=args.depth)

    def label(node: Lineage) -> str:
        name = node.entity.removeprefix("osa:")
        if node.activity is None:
            return f"[bold]{name}[/]"
        activity = node.activity
        version = activity.get("osa:tool_version", "")
        return (
            f"[bold]{name}[/]\n  [cyan]{activity.get('osa:tool', '?')}[/] {version} · "
            f"{started(activity)} · {activity.get('osa:host', '')} · job "
            f"{activity.get('osa:job_id', '')}"
            + (
                f"\n  config {activity['osa:config']} sha256 "
                f"{str(activity.get('osa:config_sha256', ''))[:12]}"
                if activity.get("osa:config")
                else ""
            )
        )

    def add(tree: Tree, node: Lineage, seen: set[str]) -> None:
        for child in node.inputs:
            if child.entity in seen:
                continue
            seen.add(child.entity)
            add(tree.add(label(child)), child, seen)

    tree = Tree(label(root))
    add(tree, root, {root.entity})
    out = console()
    out.print(f"provenance from {document}")
    out.print(tree)
    return 0
