"""Row 8: a 1,000-night reprocessing campaign: creating it, its status, a cron pass.

Why: every major lstchain release reprocesses ~1,000+ nights (SPEC §7). ``osa campaign
run`` is a cron pass over the whole campaign; ``osa campaign status`` and the console's
campaign screen read every night's state from files. Their cost must not hurt at 1,000
nights, and memory must not grow with the number of nights (nights are read lazily and
each night's plan is dropped after use).

What: a fresh worker process (``python bench/campaign.py --worker``) creates campaigns of
100 and 1,000 nights (dates files), takes their status, and runs passes of
``run_campaign`` with an in-process executor that accepts every submission and keeps every
task PENDING (no SLURM, no job runs: the scheduler's own cost is the scheduler_load and
status rows' business). It reports each step's time and ``VmRSS``/``VmHWM`` from
``/proc/self/status``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

NAME = "campaign"
TITLE = "A 1,000-night reprocessing campaign"
DESCRIPTION = """\
**Campaign** — a fresh worker process times `create_campaign` for 1,000 nights (a dates
file), `campaign_status` over those 1,000 nights, and `run_campaign` passes, reporting each
step's time and `VmRSS`/`VmHWM` from `/proc/self/status` (astropy and the engine are
imported first and reported separately). The passes use an in-process executor that
accepts every submission and keeps every task PENDING: no SLURM and no job runs, so what is
timed is our side of a pass (night states from files, planning, job scripts, journals,
the pending count); the scheduler's cost is in the status and scheduler_load rows.

The campaign has the site's default pending cap (2,500) and nights of 10 runs × 50
subruns (one R0 stream). A *cold* pass (nothing started yet) reads the 1,000 nights'
states, then plans and starts nights in date order until the next one would pass the cap
(with these nights: 4 started, the 5th planned and left waiting; the row says how many). A
*steady* pass right after (what every later cron pass does while the cap is full) ticks
the running nights, plans the next one again and stops. Only the first 8 nights have data
(RunSummary, RunCatalog, R0 names): the worker checks that each pass stopped at the cap
within them and that no night was skipped for lack of data, so the missing data cannot
shorten a pass; on the other ~995 nights a pass only checks the state (`NightFinished`,
the night's journal), which reads no RunSummary. *Late status* is the same 1,000-night campaign with
900 nights marked closed (their `NightFinished` flags and 900 `closed` journal lines).
Memory: the same steps on a 100-night campaign first, then on the 1,000-night one, in the
same process; the goal is a flat peak (`VmHWM` after the 1,000-night steps within 10 % of
the 100-night ones). Goals: creating and the status answer at once (≤ 1 s: the console's
campaign screen takes the status at every refresh, 10 s by default); a pass takes well
under a minute (cron runs one every 15 min, and a pass holds the campaign's lock). Samples:
5 campaigns of 1,000 nights (one cold and one steady pass each), 5 status calls of each
kind; `--quick`: 1 campaign, 2 status calls. No reference (lstosa has no campaign mode).
"""

FIRST = dt.date(2022, 1, 1)
RUNS, SUBRUNS = 10, 50
DATA_NIGHTS = 8
CAP = 2500


def worker(config_path: str, reps: int, status_reps: int) -> None:
    """Print one JSON line per measured step."""
    from common import process_memory  # stdlib only: does not change the figures

    def emit(step: str, seconds: float, **extra: Any) -> None:
        rss, hwm = process_memory()
        print(json.dumps({"step": step, "seconds": seconds, "rss": rss, "hwm": hwm, **extra}))
        sys.stdout.flush()

    began = time.perf_counter()
    import astropy.io.ascii  # noqa: F401  - what reading a RunSummary may need

    import osa_core.usecases.close
    import osa_core.usecases.night
    import osa_core.usecases.tick  # noqa: F401
    from osa_core.campaign import (
        DONE,
        campaign_status,
        create_campaign,
        load_campaign,
        run_campaign,
    )
    from osa_core.config import load_config
    from osa_core.paths import NightPaths

    config = load_config(config_path)
    base = Path(config_path).parent
    emit("imports", time.perf_counter() - began)

    def timed(func: Any) -> tuple[float, Any]:
        started = time.perf_counter()
        value = func()
        return time.perf_counter() - started, value

    def measure(size: int, copies: int) -> list[Any]:
        """Create ``copies`` campaigns of ``size`` nights; status; a cold and a steady pass."""
        dates = base / f"nights-{size}.txt"
        dates.write_text(
            "".join(f"{FIRST + dt.timedelta(days=i)}\n" for i in range(size)), encoding="utf-8"
        )
        campaigns = []
        for copy in range(copies):
            name = f"c{size}-{copy}"
            started = time.perf_counter()
            create_campaign(
                config,
                name,
                f"v9.{size}.{copy}",
                dates_file=dates,
                first=None,
                last=None,
                cap=CAP,
                window=None,
            )
            emit("create", time.perf_counter() - started, nights=size)
            campaigns.append(load_campaign(config, name))
        for _ in range(status_reps):
            seconds, status = timed(lambda: campaign_status(config, campaigns[0]))
            assert status.total == size and status.counts == {"waiting": size}, status
            emit("status", seconds, nights=size, kind="fresh")
        for campaign in campaigns:
            from osa_core.executors.pending import PendingExecutor

            executor = PendingExecutor()
            seconds, report = timed(lambda c=campaign, e=executor: run_campaign(config, c, e))
            reached = len(report.started) + (1 if report.stopped_because else 0)
            skipped = [e for e in campaign.journal.read().entries if e["action"] == "skipped"]
            if not report.stopped_because.startswith("pending cap") or skipped:
                raise SystemExit(f"cold pass did not stop at the cap: {report} {skipped}")
            if reached > DATA_NIGHTS or report.needs_operator:
                raise SystemExit(f"cold pass reached {reached} nights: {report}")
            emit(
                "cold pass",
                seconds,
                nights=size,
                started=len(report.started),
                planned=reached,
                pending=executor.count_pending("osa_"),
            )
            seconds, report = timed(lambda c=campaign, e=executor: run_campaign(config, c, e))
            if report.started or report.needs_operator or len(report.ticked) != reached - 1:
                raise SystemExit(f"steady pass: {report}")
            emit("steady pass", seconds, nights=size, ticked=len(report.ticked))
        return campaigns

    measure(100, 1)
    campaigns = measure(1000, reps)
    # late in the campaign: 900 of the waiting nights closed
    campaign = campaigns[0]
    campaign_config = load_config(campaign.config_path)
    closed = 0
    for night in campaign.nights():
        if closed == 900:
            break
        paths = NightPaths(campaign_config, night)
        if paths.journal.exists():
            continue  # started by the passes: left running
        paths.night_finished.parent.mkdir(parents=True, exist_ok=True)
        paths.night_finished.write_text("closed\n")
        campaign.journal.append("closed", night=night.isoformat(), state=DONE)
        closed += 1
    for _ in range(status_reps):
        seconds, status = timed(lambda: campaign_status(config, campaign))
        assert status.counts.get(DONE) == 900, status
        emit("status", seconds, nights=1000, kind="late")


def _prepare(base: Path) -> Path:
    from osa_core.generator import NightSpec, generate_night

    for index in range(DATA_NIGHTS):
        night = FIRST + dt.timedelta(days=index)
        generate_night(
            base,
            NightSpec(night=night, data_runs=RUNS, subruns=SUBRUNS, streams=1, first_run=2000),
        )
    (base / "models").mkdir()
    config = base / "osa.toml"
    config.write_text(
        f'[paths]\nbase = "{base}"\n\n[executor]\nkind = "local"\n\n'
        '[night]\nstreams = 1\nworkflow = "fixed"\n\n'
        '[analysis]\nmodels_dir = "models"\n'
    )
    return config


def run(ctx: Any) -> list[Any]:
    from common import Row, Stat, fmt, limit_row

    reps, status_reps = ctx.reps(5, 1), ctx.reps(5, 2)
    with ctx.folder("campaign") as base:
        ctx.log(f"campaign: {DATA_NIGHTS} nights of {RUNS}×{SUBRUNS} subruns with data")
        config = _prepare(base)
        ctx.log("campaign: one worker creates, reads and runs 100- and 1,000-night campaigns")
        proc = subprocess.run(
            [sys.executable, __file__, "--worker", str(config), str(reps), str(status_reps)],
            capture_output=True,
            text=True,
            check=False,
        )
    if proc.returncode != 0:
        raise RuntimeError(f"campaign worker failed:\n{proc.stderr[-1500:]}{proc.stdout[-500:]}")
    lines = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]

    def pick(step: str, nights: int, **match: Any) -> list[dict[str, Any]]:
        return [
            line
            for line in lines
            if line["step"] == step
            and line.get("nights") == nights
            and all(line.get(k) == v for k, v in match.items())
        ]

    def seconds(found: list[dict[str, Any]]) -> Stat:
        return Stat([line["seconds"] for line in found])

    def peak(found: list[dict[str, Any]]) -> float:
        return max(line["hwm"] for line in found)

    imports = lines[0]
    create = pick("create", 1000)
    fresh, late = pick("status", 1000, kind="fresh"), pick("status", 1000, kind="late")
    cold, steady = pick("cold pass", 1000), pick("steady pass", 1000)
    small = {
        "status": pick("status", 100, kind="fresh"),
        "cold": pick("cold pass", 100),
        "steady": pick("steady pass", 100),
    }
    big = {"status": fresh, "cold": cold, "steady": steady}
    first = cold[0]
    rows = [
        limit_row(
            NAME,
            "create a 1,000-night campaign (dates file)",
            seconds(create),
            1.0,
            note=f"validates every date, writes its config and journal; "
            f"100 nights: {fmt(pick('create', 100)[0]['seconds'])} s",
        ),
        limit_row(
            NAME,
            "status of 1,000 nights: fresh (all waiting)",
            seconds(fresh),
            1.0,
            note=f"100 nights: {seconds(small['status']).text()}; from files only "
            "(NightFinished, the night's journal, the campaign's journal)",
        ),
        limit_row(
            NAME,
            "status of 1,000 nights: late (900 closed, 900 journal lines more)",
            seconds(late),
            1.0,
            note="what `osa campaign status` and each refresh of the console's campaign "
            "screen cost at the end of a campaign",
        ),
        limit_row(
            NAME,
            f"cold run pass over 1,000 nights (starts nights up to the cap of {CAP:,})",
            seconds(cold),
            60.0,
            note=f"{first['started']} nights started ({first['pending']:,} tasks pending), "
            f"{first['planned']} planned, {RUNS}×{SUBRUNS} subruns each; "
            f"100-night campaign: {seconds(small['cold']).text()}",
        ),
        limit_row(
            NAME,
            "steady run pass over 1,000 nights (cap full: ticks the running nights)",
            seconds(steady),
            60.0,
            note=f"ticks {steady[0]['ticked']} running nights, plans the next and stops; "
            f"100-night campaign: {seconds(small['steady']).text()}",
        ),
    ]
    hwm_small = max(peak(found) for found in small.values())
    hwm_big = max(peak(found) for found in big.values())
    hwm_late = peak(late)
    growth = max(hwm_big, hwm_late) / hwm_small - 1
    rows.append(
        Row(
            NAME,
            "peak RSS (VmHWM): 100-night steps / 1,000-night steps / late status",
            ours_text=f"{fmt(hwm_small)} / {fmt(hwm_big)} / {fmt(hwm_late)} MB",
            goal="flat: +≤10 % from 100 to 1,000 nights",
            met=growth <= 0.10,
            note=f"+{growth * 100:.1f} % from 100 to 1,000 nights; "
            f"{fmt(imports['hwm'])} MB after the imports ({fmt(imports['seconds'])} s); "
            f"steps: {', '.join(f'{k} {fmt(peak(v))}' for k, v in big.items())} MB",
        )
    )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description="campaign worker (run by bench/run.py)")
    parser.add_argument("--worker", nargs=3, metavar=("CONFIG", "REPS", "STATUS_REPS"))
    args = parser.parse_args()
    worker(args.worker[0], int(args.worker[1]), int(args.worker[2]))


if __name__ == "__main__":
    main()
