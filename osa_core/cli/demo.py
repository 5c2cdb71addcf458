"""``osa demo``: build the demo night and process it end to end on this machine.

Real lstchain on real LST-1 data (run 2008) and generated runs, with the embedded local
executor, as today's night runs (``[night] workflow = "per_run"``): Cat-A calibration;
then per run its subruns' DL1a, the run's own calibration (Cat-B, tail cuts and NSB, DL2
models chosen from a toy AllSky tree) and its subruns' DL1b/datacheck with that cleaning;
then the close (merged DL1, DL2, run-wise and night-wise datacheck, provenance, manifest)
which is armed with the data jobs and starts as soon as the last subrun ends. The summary
says per run what its calibration decided, and why where it fell back, because that is
what differs between runs and what a shifter checks first.
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
    from osa_core.status import NightStatus, RunCalibrationStatus


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
    parser.add_argument(
        "--live",
        action="store_true",
        help="replay the night as the DAQ wrote it while `osa live` processes it, in the "
        "console (docs/arrival.md); --dir defaults to ./osa-demo-live, always built fresh",
    )
    parser.add_argument(
        "--pace",
        type=float,
        default=8.0,
        help="with --live: seconds per subrun (default 8)",
    )
    parser.add_argument(
        "--no-console",
        action="store_true",
        help="with --live: no console, wait for the night to close (tests, a headless look)",
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
    if args.live:
        from osa_core.cli.demo_live import run_live  # lazy: see above

        return run_live(args, out)
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
        summarize_products(config, paths, status, out)
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
            + run_calibration_progress(status)
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


def run_calibration_progress(status: NightStatus) -> str:
    """``; run calibration 1/3 decided`` with the per-run workflow (else nothing): phase 2
    is a job per run between a run's DL1a and its DL1b, and the subrun counts do not show
    it."""
    phases = [seq.run_calibration for seq in status.data if seq.run_calibration is not None]
    if not phases:
        return ""
    decided = sum(1 for phase in phases if phase.record is not None)
    running = sum(1 for phase in phases if phase.state == "RUNNING")
    return f"; run calibration {decided}/{len(phases)} decided" + (
        f", {running} running" if running else ""
    )


def summarize_products(
    config: Config, paths: NightPaths, status: NightStatus, out: Console
) -> None:
    """What the night made: the manifest, then per run what its phase 2 decided (cleaning
    and NSB, or why it fell back; Cat-B; the DL2 models and why) and where its products
    are. Each run has its own final folders, named by its own cleaning and NSB tuning."""
    from rich.markup import escape  # lazy: the demo command's own output only

    from osa_core.closing.finalize import run_prod_ids  # lazy: see above (start-up)

    manifest = json.loads(paths.manifest.read_text())
    kinds: dict[str, int] = {}
    for entry in manifest["files"]:
        kinds[entry["kind"]] = kinds.get(entry["kind"], 0) + 1
    out.print(f"final tree: {paths.final_dl1_root}  and  {paths.final_dl2_of('')}")
    out.print("  " + ", ".join(f"{n} {k}" for k, n in sorted(kinds.items())))
    out.print(
        f"  manifest {paths.manifest} ({len(manifest['files'])} files, "
        f"{manifest['total_bytes'] / 2**20:.1f} MB, SHA-256 each)"
    )
    first_dl2 = None
    for seq in status.data:
        run = seq.sequence.run
        dl1_id, dl2_id = run_prod_ids(paths, run)
        dl1_dir, dl2_dir = paths.final_dl1_of(dl1_id), paths.final_dl2_of(dl2_id)
        out.print(f"[bold]run {run:05d}[/]")
        for line in run_lines(seq.run_calibration):  # tool words may hold [brackets]
            out.print(f"    {escape(line)}", soft_wrap=True)
        dl2 = dl2_dir / f"dl2_LST-1.Run{run:05d}.h5"
        first_dl2 = first_dl2 or (dl2 if dl2.exists() else None)
        out.print(f"    DL1: {escape(str(dl1_dir))}", soft_wrap=True)
        missing = "" if dl2.exists() else " (no DL2)"
        out.print(f"    DL2: {escape(str(dl2_dir))}{missing}", soft_wrap=True)
    if first_dl2 is not None:
        out.print(f"  provenance: osa -c {config.source} provenance {first_dl2}", soft_wrap=True)


def run_lines(runcal: RunCalibrationStatus | None) -> list[str]:
    """A run's phase-2 decision, one fact a line: cleaning, NSB, Cat-B, models."""
    if runcal is None:
        return ["no run calibration (fixed workflow)"]
    record = runcal.record
    if record is None:
        return [f"run calibration: {runcal.summary()}"]
    cuts = record.tailcuts
    if cuts.fallback:
        cleaning = f"cleaning {cuts.prod_id} (standard; the finder fell back: {cuts.fallback})"
    else:
        cleaning = f"cleaning {cuts.prod_id} (tail-cut finder: {cuts.picture}/{cuts.boundary})"
    nsb = f"{cuts.nsb:.3f} p.e./ns over dark MC" if cuts.nsb is not None else "not measured"
    catb = "Cat-B ✓" if record.catb.ok else f"Cat-B ✗ ({record.catb.reason})"
    models = record.models
    if models.ok:
        chosen = "/".join(Path(str(models.path)).parts[-2:])
        model_line = f"models {chosen} (TOY): {models.reason}"
    else:
        model_line = f"no models: {models.reason}"
    return [cleaning, f"NSB {nsb}", catb, model_line]
