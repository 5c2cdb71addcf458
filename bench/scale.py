"""Row 7: planning 1, 10, 100 nights of 10,000 subruns one after the other in one process.

Why: a reprocessing campaign (SPEC §7: ~1,000 nights after every major lstchain release)
plans night after night in one long-lived process; time per night must stay flat and memory
bounded, whatever the number of nights already planned.

What: N nights of 50 runs × 200 subruns (one R0 stream: 10,000 R0 files a night) are
planned by a fresh worker process (``python bench/scale.py --worker``) with ``build_plan``
and ``write_scripts`` (what ``osa sequencer --no-submit`` does, cold: no snapshot yet), one
after the other; the worker reports each night's time and its resident memory (``VmRSS``)
and peak (``VmHWM``) from ``/proc/self/status``. Creating a million R0 files would take
minutes on this disk, so every night's R0 folder is a symlink to one folder holding the
10,000 placeholders: each night still lists and parses 10,000 entries, and every night has
its own RunSummary, RunCatalog, snapshot and job scripts. No reference (lstosa has no
campaign mode).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

NAME = "scale"
TITLE = "Planning many nights in one process"
DESCRIPTION = """\
**Scale** — a fresh worker process plans N nights of 10,000 subruns (50 runs × 200
subruns, one R0 stream) one after the other, as a reprocessing campaign would:
`build_plan` then `write_scripts` per night (what `osa sequencer --no-submit` does, cold),
reporting each night's time and its `VmRSS`/`VmHWM` from `/proc/self/status`. The imports
(astropy among them) are done before the first night and reported separately. N = 100
(the 1- and 10-night figures are read along the way; `--quick`: 10). Every night has its
own RunSummary, RunCatalog, snapshot and job scripts; their R0 folders are symlinks to one
folder of 10,000 placeholders (a million files would take minutes to create here), so each
night still lists and parses 10,000 R0 names. No reference. Goal: memory bounded — peak
RSS after 100 nights within 10 % of the peak after 10 nights.
"""

RUNS = 50
SUBRUNS = 200
FIRST = dt.date(2023, 1, 1)


def worker(config_path: str, nights: int) -> None:
    """Plan ``nights`` nights from FIRST on; print one JSON line per night."""
    from common import process_memory  # stdlib only: does not change the figures

    began = time.perf_counter()
    import astropy.io.ascii  # noqa: F401  - what reading a RunSummary may need

    from osa_core.config import load_config
    from osa_core.jobs import write_scripts
    from osa_core.plan import build_plan

    config = load_config(config_path)
    rss, hwm = process_memory()
    print(json.dumps({"night": 0, "seconds": time.perf_counter() - began, "rss": rss, "hwm": hwm}))
    for index in range(nights):
        night = FIRST + dt.timedelta(days=index)
        began = time.perf_counter()
        plan = build_plan(config, night)
        specs = write_scripts(config, plan)
        seconds = time.perf_counter() - began
        if plan.total_subruns != RUNS * SUBRUNS or len(specs) != RUNS + 1:
            raise SystemExit(f"night {night}: {plan.total_subruns} subruns, {len(specs)} scripts")
        del plan, specs
        rss, hwm = process_memory()
        line = {"night": index + 1, "seconds": seconds, "rss": rss, "hwm": hwm}
        print(json.dumps(line), flush=True)


def _prepare(base: Path, nights: int) -> Path:
    from osa_core.generator import NightSpec, touch_r0, write_run_catalog, write_run_summary

    spec = NightSpec(night=FIRST, data_runs=RUNS, subruns=SUBRUNS, streams=1)
    runs = spec.runs()
    shared = base / "R0-shared"
    touch_r0(shared, runs, 1)
    for index in range(nights):
        night = FIRST + dt.timedelta(days=index)
        folder = night.strftime("%Y%m%d")
        write_run_summary(base / "monitoring/RunSummary" / f"RunSummary_{folder}.ecsv", night, runs)
        write_run_catalog(base / "monitoring/RunCatalog" / f"RunCatalog_{folder}.ecsv", runs)
        link = base / "R0" / folder
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(shared, target_is_directory=True)
    config = base / "osa.toml"
    config.write_text(
        f'[paths]\nbase = "{base}"\n\n[executor]\nkind = "local"\n\n'
        '[night]\nstreams = 1\nworkflow = "fixed"\n'
    )
    return config


def run(ctx: Any) -> list[Any]:
    from common import Row, Stat, fmt

    nights = 10 if ctx.quick else 100
    with ctx.folder("scale") as base:
        ctx.log(f"scale: writing {nights} nights (10,000 subruns each)")
        config = _prepare(base, nights)
        ctx.log(f"scale: one worker plans {nights} nights in a row")
        proc = subprocess.run(
            [sys.executable, __file__, "--worker", str(config), str(nights)],
            capture_output=True,
            text=True,
            check=False,
        )
    if proc.returncode != 0:
        raise RuntimeError(f"scale worker failed:\n{proc.stderr[-1500:]}")
    lines = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    start, per_night = lines[0], lines[1:]
    times = [line["seconds"] for line in per_night]

    def at(count: int) -> dict[str, float]:
        return per_night[min(count, len(per_night)) - 1]

    buckets = [("night 1", times[:1]), ("nights 2–10", times[1:10])]
    if nights > 10:
        buckets.append((f"nights 11–{nights}", times[10:]))
    spread = " · ".join(f"{name} {fmt(statistics.median(t))} s" for name, t in buckets if t)
    checkpoints = [n for n in (1, 10, 100) if n <= nights]
    hwm = " / ".join(f"{fmt(at(n)['hwm'])}" for n in checkpoints)
    rss = " / ".join(f"{fmt(at(n)['rss'])}" for n in checkpoints)
    label = "/".join(str(n) for n in checkpoints)
    rows = [
        Row(
            NAME,
            f"plan {nights} nights of 10,000 subruns in one process: time per night",
            Stat(times),
            note=f"{spread}; imports before night 1: {fmt(start['seconds'])} s",
        )
    ]
    reference, last = at(10), at(nights)
    growth = last["hwm"] / reference["hwm"] - 1
    bounded = Row(
        NAME,
        f"peak RSS (VmHWM) after {label} nights",
        ours_text=f"{hwm} MB",
        goal="flat: +≤10 % from 10 to 100 nights" if nights > 10 else "—",
        met=(growth <= 0.10) if nights > 10 else None,
        note=(
            f"+{growth * 100:.1f} % from 10 to {nights} nights; RSS now {rss} MB; "
            f"{fmt(start['rss'])} MB after the imports"
        ),
    )
    rows.append(bounded)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description="scale worker (run by bench/run.py)")
    parser.add_argument("--worker", nargs=2, metavar=("CONFIG", "NIGHTS"), required=True)
    args = parser.parse_args()
    worker(args.worker[0], int(args.worker[1]))


if __name__ == "__main__":
    main()
