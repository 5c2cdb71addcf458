"""``osa demo``: build the demo night and process it end to end on this machine.

Real lstchain on real LST-1 data (run 2008) and generated runs, with the embedded local
executor: calibration, then every subrun's DL1a/DL1b/datacheck, then the close (merged
DL1, DL2 with toy models, run-wise and night-wise datacheck, provenance, manifest) which
is armed with the data jobs and starts as soon as the last subrun ends.
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path
from typing import TYPE_CHECKING

from osa_core.cli.common import console

if TYPE_CHECKING:
    from rich.console import Console

    from osa_core.config import Config
    from osa_core.paths import NightPaths
    from osa_core.plan import Plan
    from osa_core.status import NightStatus


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--dir",
        type=Path,
        default=Path("osa-demo"),
        help="where to build the demo night (default ./osa-demo)",
    )
    parser.add_argument(
        "--cache",
        type=Path,
        help="cache for the downloaded real R0 file (default ~/.cache/osa-console)",
    )
    parser.add_argument("--fresh", action="store_true", help="delete --dir first")
    parser.add_argument("--no-run", action="store_true", help="build the night only")
    parser.add_argument(
        "--timeout",
        type=float,
        default=3600.0,
        help="give up waiting after this many seconds (default 3600)",
    )


def run(args: argparse.Namespace) -> int:
    # lazy: `osa --help` imports every command's module; the engine loads when a demo runs
    from osa_core.config import load_config
    from osa_core.demo.night import NIGHT, build_demo_night
    from osa_core.paths import NightPaths
    from osa_core.plan import build_plan
    from osa_core.usecases.night import submit_night

    out = console()
    started = time.monotonic()
    if args.fresh and args.dir.exists():
        shutil.rmtree(args.dir)
    out.print(f"[bold]osa demo[/]: night {NIGHT} under {args.dir.resolve()}")
    config_path = build_demo_night(args.dir, args.cache, say=lambda text: out.print(f"  · {text}"))
    out.print(f"  · config {config_path} (use it with: osa -c {config_path} ...)")
    if args.no_run:
        return 0
    config = load_config(config_path)
    plan = build_plan(config, NIGHT)
    paths = NightPaths(config, NIGHT)
    if not paths.night_finished.exists():
        report = submit_night(config, plan)
        out.print(report.summary(), soft_wrap=True)
    status = follow(config, plan, out, args.timeout)
    from osa_core.cli.tables import plan_table, status_header, status_rows  # lazy: see above

    out.print()
    out.print(status_header(status, config))
    out.print(plan_table(plan, config, "status", out.width, rows=status_rows(status)))
    elapsed = time.monotonic() - started
    if paths.night_finished.exists():
        summarize_products(config, paths, out)
        out.print(f"[bold green]demo night processed and closed in {elapsed / 60:.1f} min[/]")
        out.print(
            f"next: [bold]osa -c {config_path} console --date {NIGHT}[/]  ·  "
            f"osa -c {config_path} dq --date {NIGHT}"
        )
        return 0
    out.print(
        f"[bold red]the demo night did not close[/] after {elapsed / 60:.1f} min: "
        f"see osa -c {config_path} status --date {NIGHT} --failed"
    )
    return 1


def follow(config: Config, plan: Plan, out: Console, timeout: float) -> NightStatus:
    """Poll the status until the night is closed (or nothing is left to run)."""
    # lazy: `osa --help` imports every command's module; the engine loads when a demo runs
    from osa_core.executors.factory import get_executor
    from osa_core.paths import NightPaths
    from osa_core.rules.readiness import readiness
    from osa_core.snapshot import night_status

    executor = get_executor(config)
    paths = NightPaths(config, plan.night)
    deadline = time.monotonic() + timeout
    last = None
    idle_since = None
    while True:
        status = night_status(config, plan, executor)
        totals = status.totals
        done = totals.get("COMPLETED", 0)
        line = (
            f"subruns {done}/{sum(totals.values())} done, "
            f"{totals.get('RUNNING', 0)} running, {totals.get('PENDING', 0)} pending"
            + (
                f", {sum(len(s.failed) for s in status.sequences)} failed"
                if any(s.failed for s in status.sequences)
                else ""
            )
            + f"; calibration {status.sequences[0].state.lower()}"
            + ("; closing" if readiness(status).ready and not status.closed else "")
            + ("; closed" if status.closed else "")
        )
        if line != last:
            out.print(f"  [dim]{time.strftime('%H:%M:%S')}[/] {line}")
            last = line
        if paths.night_finished.exists() or time.monotonic() > deadline:
            return status
        active = totals.get("RUNNING", 0) + totals.get("PENDING", 0)
        if (
            not active
            and not readiness(status).ready
            and status.sequences[0].state not in ("RUNNING", "PENDING")
        ):
            idle_since = idle_since or time.monotonic()
            if time.monotonic() - idle_since > 30:
                return status
        else:
            idle_since = None
        time.sleep(2.0)


def summarize_products(config: Config, paths: NightPaths, out: Console) -> None:
    manifest = json.loads(paths.manifest.read_text())
    kinds: dict[str, int] = {}
    for entry in manifest["files"]:
        kinds[entry["kind"]] = kinds.get(entry["kind"], 0) + 1
    out.print(f"final tree: {paths.final_dl1}  and  {paths.final_dl2}")
    out.print("  " + ", ".join(f"{n} {k}" for k, n in sorted(kinds.items())))
    out.print(
        f"  manifest {paths.manifest} ({len(manifest['files'])} files, "
        f"{manifest['total_bytes'] / 2**20:.1f} MB, SHA-256 each)"
    )
    dl2 = sorted(paths.final_dl2.glob("dl2_*.h5"))
    if dl2:
        out.print(f"  DL2 (toy models): {', '.join(p.name for p in dl2)}")
        out.print(f"  provenance: osa -c {config.source} provenance {dl2[0]}")
