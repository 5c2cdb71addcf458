"""``make bench``: every benchmark side by side with its reference, as one table of ratios.

Each row is measured in this run, alternating ours and the reference several times; the
table shows medians with (min–max), the ratio, the goal and whether it is met. A full run
also writes docs/performance.md (machine, date, table, how each row is measured).

    .venv/bin/python bench/run.py                  # everything (< 15 min on 2 cores)
    .venv/bin/python bench/run.py --quick          # smoke test: fewer repetitions, no lstosa
    .venv/bin/python bench/run.py --only planning  # some benchmarks (repeatable, or a,b)
    .venv/bin/python bench/run.py --json out.json  # also the raw samples as JSON
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import shutil
import sys
import tempfile
import time
import traceback
from pathlib import Path
from types import ModuleType

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
for entry in (str(BENCH_DIR), str(REPO)):
    if entry not in sys.path:
        sys.path.insert(0, entry)

from common import Context, Row, machine  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

MODULES = (
    "planning",
    "status",
    "console",
    "payload",
    "latency",
    "live",
    "scheduler_load",
    "scale",
    "campaign",
)
DOCS = REPO / "docs" / "performance.md"


def load(names: list[str]) -> list[ModuleType]:
    return [importlib.import_module(f"{name}") for name in names]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="bench/run.py", description=(__doc__ or "").splitlines()[0]
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="smoke test: fewer repetitions and smaller nights, no lstosa (< 3 min)",
    )
    parser.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="NAME",
        help=f"run only these benchmarks ({', '.join(MODULES)}); repeatable or comma-separated",
    )
    parser.add_argument("--json", type=Path, metavar="FILE", help="write results and samples")
    parser.add_argument(
        "--docs",
        type=Path,
        metavar="FILE",
        help=f"markdown report (default: {DOCS.relative_to(REPO)} after a full run)",
    )
    parser.add_argument("--no-docs", action="store_true", help="write no markdown report")
    parser.add_argument(
        "--status-tasks",
        type=int,
        metavar="N",
        help="SLURM tasks of the status night (default: 3,000; --quick: 400)",
    )
    parser.add_argument("--scratch", type=Path, help="folder for temporary nights (default /tmp)")
    parser.add_argument(
        "--render",
        type=Path,
        metavar="FILE",
        help="measure nothing: print the table of a saved --json run (and write --docs)",
    )
    args = parser.parse_args(argv)
    wanted = [name for item in args.only for name in item.split(",") if name]
    unknown = sorted(set(wanted) - set(MODULES))
    if unknown:
        parser.error(f"unknown benchmark(s) {', '.join(unknown)}; known: {', '.join(MODULES)}")
    args.names = [name for name in MODULES if not wanted or name in wanted]
    return args


def table(rows: list[Row], title: str) -> Table:
    out = Table(title=title, show_lines=True, expand=True)
    out.add_column("benchmark", ratio=3)
    out.add_column("ours", ratio=2)
    out.add_column("reference", ratio=2)
    out.add_column("ratio", ratio=1)
    out.add_column("goal", ratio=1)
    out.add_column("met", ratio=1)
    out.add_column("notes", ratio=3)
    style = {"met": "green", "MISSED": "bold red", "ERROR": "bold red"}
    for row in rows:
        verdict = "ERROR" if row.ours_text == "ERROR" else row.verdict
        out.add_row(
            f"[b]{row.bench}[/b]: {row.name}",
            row.ours_cell(),
            row.ref_cell(),
            row.ratio_text or "—",
            row.goal,
            f"[{style.get(verdict, 'dim')}]{verdict}[/]",
            row.note,
        )
    return out


def markdown(
    rows: list[Row], info: dict, modules: list[ModuleType], total: float, quick: bool
) -> str:
    def cell(text: str) -> str:
        return text.replace("|", "\\|").replace("\n", " ")

    versions = ", ".join(f"{k} {v}" for k, v in info["versions"].items())
    load = " / ".join(str(x) for x in info["load_average"])
    lines = [
        "# Performance",
        "",
        "Written by `make bench` (`.venv/bin/python bench/run.py`"
        + (" --quick" if quick else "")
        + "); rerun it to refresh this page. Each row is measured in one run, ours and the "
        "reference alternated several times; cells are medians with (min–max). The machine "
        "was shared with other work, so absolute numbers are noisy; ratios of alternated "
        "runs are the figures to read.",
        "",
        "## Machine",
        "",
        "| | |",
        "| --- | --- |",
        f"| date (UTC) | {info['date']} |",
        f"| CPU | {info['cpu']} |",
        f"| cores | {info['cores']} |",
        f"| RAM | {info['ram_gb']} GB |",
        f"| OS | {info['os']} |",
        f"| Python | {info['python']} |",
        f"| load average at start (1/5/15 min) | {load} |",
        f"| versions | {cell(versions)} |",
        f"| Python bytecode | {cell(info['bytecode'])} |",
        f"| total run time | {total / 60:.1f} min |",
        "",
        "## Results",
        "",
        "| benchmark | ours | reference | ratio | goal | met | notes |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for row in rows:
        verdict = "ERROR" if row.ours_text == "ERROR" else row.verdict
        mark = {"met": "✅ met", "MISSED": "❌ **MISSED**", "ERROR": "❌ ERROR"}.get(
            verdict, verdict
        )
        lines.append(
            f"| **{row.bench}**: {cell(row.name)} | {cell(row.ours_cell())} | "
            f"{cell(row.ref_cell())} | {cell(row.ratio_text or '—')} | {cell(row.goal)} | "
            f"{mark} | {cell(row.note)} |"
        )
    lines += ["", "## How each row is measured", ""]
    for module in modules:
        lines += [f"### {module.TITLE}", "", module.DESCRIPTION.strip(), ""]
    lines += ["## What is not measured, and why", "", LIMITS.strip(), ""]
    return "\n".join(lines).rstrip() + "\n"


LIMITS = """
- **Status at 10,000 tasks**: the local SLURM cluster starts and ends ~10–15 trivial array
  tasks per second on this 2-core machine (slurmstepd and cgroup set-up per task), so
  10,000 finished tasks would take 11–17 minutes to produce; the status row uses the
  largest count that drains in about 4 minutes and says which.
- **lstosa's scheduler load** is modelled from one measured sequencer pass (its `sacct` and
  `squeue` calls counted with the same wrappers, its `READY -> submitting` sequences taken
  as whole-array `sbatch` calls, 2 cron passes per hour), not from an hour of lstosa
  running against the cluster: it would resubmit 200-task arrays of real jobs.
- **lstosa's latency to a closed night** comes from its code (`time.sleep(600)` in its
  closer, cron every 20–30 min), not from a run: measuring it would take an hour per sample.
- **Per-subrun overhead** runs the lstchain tools with `--help`: their imports count, their
  analysis does not, and lstosa's `datasequence` runs in simulate mode, so its history and
  resume logic is not exercised (that needs real R0 and calibration files).
- **Console** timings are headless: writing the escape sequences to a real terminal is not
  included, on either side.
- **Scale**: the nights' R0 folders are symlinks to one folder of 10,000 placeholders (a
  million files take minutes to create on this disk); the directory listing is then served
  from a warm cache.
- **Campaign** passes run against an in-process executor that keeps every task pending:
  the pass's own work is measured (night states, planning, scripts, journals), not
  `sbatch`/`squeue` (their cost is in the status and scheduler_load rows). Only the nights
  a pass reaches before the pending cap have data; the others are only state-checked,
  which reads no RunSummary.
- The machine is shared with other work (load average in the table above): wall times are
  noisy, which is why both sides are alternated and medians compared.
"""


def bytecode_cache() -> str:
    """Let every Python we start use compiled bytecode, as an installed system does.

    This machine's environment sets ``PYTHONDONTWRITEBYTECODE``, so our editable
    ``osa_core`` would be compiled from source at every start (~30 ms per process, which
    lstosa's pip-installed venv never pays). Bytecode then goes to a cache outside the
    repository (``~/.cache/osa-bench/pycache``); the first run fills it (about a minute).
    Subprocesses and SLURM jobs inherit this environment.
    """
    if not os.environ.get("PYTHONDONTWRITEBYTECODE"):
        return "bytecode written normally"
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "osa-bench"
    prefix = cache / "pycache"
    prefix.mkdir(parents=True, exist_ok=True)
    del os.environ["PYTHONDONTWRITEBYTECODE"]
    os.environ["PYTHONPYCACHEPREFIX"] = str(prefix)
    return f"PYTHONDONTWRITEBYTECODE unset; bytecode cached in {prefix}"


def render(args: argparse.Namespace) -> int:
    """Re-print (and with --docs, re-write) a saved run without measuring anything."""
    saved = json.loads(args.render.read_text())
    rows = [Row.from_dict(row) for row in saved["rows"]]
    names = list(dict.fromkeys(row.bench for row in rows if row.bench in MODULES))
    console = Console(width=max(Console().width, 160))
    console.print(table(rows, f"osa-console vs reference — {saved['machine']['date']}"))
    if args.docs and not args.no_docs:
        text = markdown(rows, saved["machine"], load(names), saved["total_s"], saved["quick"])
        args.docs.write_text(text)
        console.print(f"wrote {args.docs}")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.render:
        return render(args)
    bytecode_note = bytecode_cache()
    progress = Console(stderr=True)
    started = time.perf_counter()
    info = machine()
    info["bytecode"] = bytecode_note
    progress.print(
        f"[b]osa-console bench[/b] {'(quick) ' if args.quick else ''}"
        f"{', '.join(args.names)} · {info['cpu']} × {info['cores']} · load {info['load_average']}"
    )
    scratch_parent = args.scratch or Path(tempfile.gettempdir())
    scratch_parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="osa-bench-", dir=scratch_parent))
    options = {"status_tasks": args.status_tasks}

    def log(message: str) -> None:
        progress.print(f"[dim]{time.perf_counter() - started:6.0f} s[/] {message}")

    ctx = Context(quick=args.quick, scratch=scratch, log=log, options=options)
    modules = load(args.names)
    rows: list[Row] = []
    timings: dict[str, float] = {}
    failed = False
    try:
        for module in modules:
            log(f"[b]{module.NAME}[/b]: {module.TITLE}")
            begun = time.perf_counter()
            try:
                rows += module.run(ctx)
            except Exception as err:  # one broken benchmark must not hide the others
                failed = True
                detail = "".join(traceback.format_exception_only(type(err), err)).strip()
                progress.print(traceback.format_exc(), style="red", markup=False)
                rows.append(
                    Row(module.NAME, "benchmark failed", ours_text="ERROR", note=detail[-400:])
                )
            timings[module.NAME] = time.perf_counter() - begun
            log(f"{module.NAME} done in {timings[module.NAME]:.0f} s")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    total = time.perf_counter() - started

    console = Console(width=max(Console().width, 160))
    console.print(table(rows, f"osa-console vs reference — {info['date']}"))
    spent = ", ".join(f"{name} {seconds:.0f} s" for name, seconds in timings.items())
    console.print(f"total {total / 60:.1f} min ({spent})")

    if args.json:
        payload = {
            "machine": info,
            "quick": args.quick,
            "total_s": total,
            "timings_s": timings,
            "rows": [row.to_dict() for row in rows],
        }
        args.json.write_text(json.dumps(payload, indent=2) + "\n")
    full_run = not args.quick and args.names == list(MODULES)
    docs = args.docs or (DOCS if full_run else None)
    if docs and not args.no_docs:
        docs.write_text(markdown(rows, info, modules, total, args.quick))
        console.print(f"wrote {docs}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
