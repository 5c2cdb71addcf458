"""Row 1: planning a night, ours (``osa sequencer --no-submit``) vs lstosa's sequencer.

Why: planning runs at every cron tick and whenever the console opens a night. lstosa pays
~4 s of imports and re-reads its ECSV files at each pass; we read the night once and keep
a JSON snapshot (``OSA/state/YYYYMMDD/plan-cache.json``) so an unchanged night costs a
``stat`` of its inputs.

What: the same generated night (``prepare_lstosa_night`` writes our generator's tree plus
lstosa's extras), planned by both tools as subprocesses under ``/usr/bin/time -v`` (wall,
CPU, peak RSS). Ours *cold* deletes the snapshot before each run; ours *warm* is a repeated
tick on the unchanged night (snapshot present, scripts unchanged). lstosa has no cache, so
its repeated tick costs what its first one does: the same lstosa samples are the
reference of both rows. One unmeasured warm-up run of each side first (lstosa's very first
run in a fresh venv compiles its bytecode).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from common import (
    NIGHT,
    Context,
    Measured,
    Row,
    Stat,
    alternate,
    check,
    fmt,
    limit_row,
    lstosa_available,
    measure,
    osa_command,
    our_env,
    speedup_row,
    write_config,
)

NAME = "planning"
TITLE = "Planning a night"
DESCRIPTION = """\
**Planning** — `osa --config CFG sequencer --date D --no-submit` against lstosa 0.11.10's
`sequencer --no-submit -t -c CFG -d D LST1` on the *same* generated night (our generator's
RunSummary, RunCatalog and R0 placeholders, plus what lstosa needs: merged RunSummary,
tail-cut configs, RF model folders, Cat-A calibration files), both as subprocesses under
`/usr/bin/time -v` (wall clock with `perf_counter`, peak RSS). *Cold*: our snapshot
`OSA/state/YYYYMMDD/plan-cache.json` is deleted before every run, so the RunSummary, the
RunCatalog and the R0 folder are read again. *Warm*: a repeated cron tick on an unchanged
night (the snapshot exists, the job scripts are unchanged). lstosa has no cache, so the
same lstosa samples are the reference of the cold and the warm rows. Runs alternate
ours-cold, ours-warm, lstosa (order reversed every other round) after one unmeasured
warm-up of each; the medians are compared. lstosa runs with the SLURM clients off its PATH
(it would call `sacct` even with `-t`).
"""

SIZES_FULL = ((40, 200), (5, 50))
SCRIPTS_RE = re.compile(r"(\d+) job script\(s\)")


def _ours(config: str, cache_path, *, cold: bool, expected_scripts: int) -> Measured:
    if cold:
        cache_path.unlink(missing_ok=True)
    elif not cache_path.exists():
        raise RuntimeError(f"warm run without a snapshot: {cache_path}")
    cmd = osa_command("--config", config, "sequencer", "--date", NIGHT.isoformat(), "--no-submit")
    result = check(measure(cmd, env=our_env({"COLUMNS": "160"})), "osa sequencer")
    found = SCRIPTS_RE.search(result.output)
    if not found or int(found.group(1)) != expected_scripts:
        raise RuntimeError(
            f"osa sequencer wrote {found.group(1) if found else 'no'} job scripts, "
            f"expected {expected_scripts}:\n{result.output[-1500:]}"
        )
    return result


def _measure_night(
    ctx: Context, runs: int, subruns: int, with_ref: bool, reps: int
) -> dict[str, list[Any]]:
    """Prepare one night, warm both sides up, then alternate ours cold/warm and lstosa."""
    from osa_core.config import load_config
    from osa_core.generator import NightSpec, generate_night
    from osa_core.paths import NightPaths

    label = f"{runs}×{subruns}"
    with ctx.folder(f"planning-{runs}x{subruns}") as base:
        if with_ref:
            from lstosa_ref import prepare_lstosa_night, run_lstosa_sequencer

            lstosa_cfg = prepare_lstosa_night(base, NIGHT, runs, subruns)
        else:
            generate_night(base, NightSpec(night=NIGHT, data_runs=runs, subruns=subruns))
        config = str(write_config(base, '[executor]\nkind = "local"\n'))
        cache = NightPaths(load_config(config), NIGHT).plan_cache
        expected = runs + 1  # one calibration + one per DATA run

        runners: dict[str, Callable[[], Any]] = {
            "cold": lambda: _ours(config, cache, cold=True, expected_scripts=expected),
            "warm": lambda: _ours(config, cache, cold=False, expected_scripts=expected),
        }
        if with_ref:
            runners["lstosa"] = lambda: run_lstosa_sequencer(
                lstosa_cfg, NIGHT, expected_data_runs=runs
            )
        ctx.log(f"planning {label}: warm-up runs")
        for runner in runners.values():
            runner()  # unmeasured: bytecode, disk cache, our first snapshot
        ctx.log(f"planning {label}: {reps} alternated rounds")
        return alternate(runners, reps)


def run(ctx: Context) -> list[Row]:
    with_ref, why_not = lstosa_available()
    if ctx.quick:
        with_ref, why_not = False, "--quick runs without lstosa"
    reps = ctx.reps(5, 2)
    rows: list[Row] = []
    for runs, subruns in SIZES_FULL:
        label = f"{runs}×{subruns} ({runs * subruns:,} subruns)"
        results = _measure_night(ctx, runs, subruns, with_ref, reps)
        cold = Stat([m.wall for m in results["cold"]])
        warm = Stat([m.wall for m in results["warm"]])
        cold_rss = Stat([m.rss_mb for m in results["cold"] if m.rss_mb is not None], "MB")
        cold_cpu = Stat([m.cpu for m in results["cold"] if m.cpu is not None])
        if with_ref:
            ref = Stat([r["wall_s"] for r in results["lstosa"]])
            ref_rss = Stat([r["peak_rss_mb"] for r in results["lstosa"]], "MB")
            ref_cpu = Stat([r["cpu_s"] for r in results["lstosa"]])
            rows.append(
                speedup_row(
                    NAME,
                    f"plan cold, {label}",
                    cold,
                    ref,
                    10,
                    f"CPU {fmt(cold_cpu.median)} s vs lstosa {fmt(ref_cpu.median)} s",
                )
            )
            rows.append(
                speedup_row(
                    NAME,
                    f"repeated tick, unchanged night, {label}",
                    warm,
                    ref,
                    50,
                    "ours reuses its snapshot; lstosa has no cache (same lstosa samples)",
                )
            )
            rss_row = limit_row(
                NAME, f"peak RSS of a cold plan, {label}", cold_rss, 100, ref=ref_rss
            )
            rss_row.ratio = ref_rss.median / cold_rss.median
            rss_row.ratio_text = f"{fmt(rss_row.ratio)}× less"
            rows.append(rss_row)
        else:
            skipped = f"skipped ({why_not})"
            rows.append(
                Row(NAME, f"plan cold, {label}", cold, goal="≥ 10× faster", ref_text=skipped)
            )
            rows.append(
                Row(
                    NAME,
                    f"repeated tick, unchanged night, {label}",
                    warm,
                    goal="≥ 50× faster",
                    ref_text=skipped,
                )
            )
            rows.append(
                limit_row(
                    NAME, f"peak RSS of a cold plan, {label}", cold_rss, 100, ref_text=skipped
                )
            )
    return rows
