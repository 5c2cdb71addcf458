"""The job payload: what a batch script runs for one subrun (or the calibration job).

``python -m osa_core.payload --config C --date D data --run R ...`` reads its subrun from
``SLURM_ARRAY_TASK_ID`` (or ``--subrun``), then runs the steps of its sequence in order.
For each step it appends a record to the subrun's history (JSON lines); a step whose last
record succeeded and whose outputs exist is skipped, so a rerun restarts after the last
good step; outputs of a failed or interrupted attempt are removed before retrying. The exit
code is the failing step's, so the scheduler tells the truth.

Why ``fork`` mode: each lstchain tool spends ~4 s importing ctapipe. The payload imports
the tools' modules once, then forks one child per step (clean process state, its own peak
memory and return code), so a subrun pays the import once instead of three times.
``exec`` mode (one fresh process per step) is used for commands that are not Python
console scripts, and when configured.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import traceback
from collections.abc import Callable
from importlib.metadata import version as package_version
from pathlib import Path
from typing import Protocol

from osa_core.config import Config, load_config
from osa_core.errors import OsaError
from osa_core.fsio import SHARED_UMASK
from osa_core.history import TOLERATED, StepRecord, append_record, read_history, summarize
from osa_core.paths import NightPaths, parse_night
from osa_core.phase2 import RunContext, decide, write_decision
from osa_core.steps import (
    CALIBRATION_STEPS,
    DATA_STEPS,
    DL1A_STEPS,
    DL1B_STEPS,
    GAIN_SELECTION_STEPS,
    RUN_CALIBRATION_STEPS,
    CalibrationInputs,
    StepPlan,
    SubrunContext,
)
from osa_core.tailcuts import TailcutError

MISSING_OUTPUT_RC = 70  # the tool said success but an expected output is not there
IO_ERROR_RC = 74  # the payload itself could not write (history, folders): disk full?


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds")


def log(message: str) -> None:
    print(f"[osa {dt.datetime.now():%H:%M:%S}] {message}", flush=True)


def find_entry_point(tool: str) -> Callable[[], object] | None:
    """The Python function behind a console script, or None (then it is exec'd)."""
    if os.sep in tool:
        return None
    script = Path(sys.executable).parent / tool
    try:
        text = script.read_text(encoding="utf-8", errors="replace")[:2000]
    except OSError:
        return None
    # pip's console-script wrappers say: "from package.module import func"
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("from ") and " import " in line:
            module_name, _, attr = line[5:].partition(" import ")
            try:
                module = importlib.import_module(module_name.strip())
                entry: Callable[[], object] = getattr(module, attr.strip())  # the script's main
                return entry
            except Exception:  # an import error is reported by exec mode instead
                return None
    return None


class StepRunner:
    """Runs one step's argv; returns (return code, peak RSS bytes, CPU seconds)."""

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.child: int | None = None
        self.terminated: int | None = None
        signal.signal(signal.SIGTERM, self._forward)
        signal.signal(signal.SIGINT, self._forward)

    def _forward(self, signum: int, _frame: object) -> None:
        """SLURM sends SIGTERM before a timeout/cancel kill: pass it on, record it."""
        self.terminated = signum
        if self.child:
            try:
                os.kill(self.child, signum)
            except ProcessLookupError:
                pass

    def preload(self, tools: list[str]) -> dict[str, Callable[[], object]]:
        if self.mode != "fork":
            return {}
        loaded = {}
        for tool in tools:
            func = find_entry_point(tool)
            if func is not None:
                loaded[tool] = func
        return loaded

    def run(
        self, argv: tuple[str, ...], func: Callable[[], object] | None
    ) -> tuple[int, int | None, float | None]:
        sys.stdout.flush()
        sys.stderr.flush()
        if func is not None:
            pid = os.fork()
            if pid == 0:  # child: become the tool
                code = 1
                try:
                    signal.signal(signal.SIGTERM, signal.SIG_DFL)
                    signal.signal(signal.SIGINT, signal.SIG_DFL)
                    sys.argv = list(argv)
                    result = func()
                    code = result if isinstance(result, int) else 0
                except SystemExit as exc:
                    code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
                except BaseException:
                    traceback.print_exc()
                    code = 1
                finally:
                    sys.stdout.flush()
                    sys.stderr.flush()
                    os._exit(code & 0xFF if code >= 0 else 1)
        else:
            try:
                pid = subprocess.Popen(list(argv)).pid
            except OSError as err:
                log(f"cannot start {argv[0]}: {err.strerror}")
                return 127, None, None
        self.child = pid
        while True:
            try:
                _, status, usage = os.wait4(pid, 0)
                break
            except InterruptedError:
                continue
        self.child = None
        rc = os.waitstatus_to_exitcode(status)
        return rc, usage.ru_maxrss * 1024, usage.ru_utime + usage.ru_stime


def prepare_environment(config: Config) -> None:
    """The tools' environment: this installation's ``bin/`` first on PATH (the onsite scripts
    start ``lstchain_create_*`` by name), a non-interactive matplotlib, and the configured
    ``[analysis] environment`` (e.g. an offline astropy config)."""
    scripts = str(Path(sys.executable).parent)
    path = os.environ.get("PATH", "")
    if scripts not in path.split(os.pathsep):
        os.environ["PATH"] = os.pathsep.join(p for p in (scripts, path) if p)
    os.environ.setdefault("MPLBACKEND", "Agg")
    base = str(config.paths.base)
    os.environ.update(
        {k: v.replace("{base}", base) for k, v in config.analysis.environment.items()}
    )


def disk_full_note(plan: StepPlan) -> str:
    """Say so when a step failed because its output filesystem is full: the shifter's fix
    (free space, then resubmit) is not the same as for a science failure."""
    for output in plan.outputs:
        folder = output.parent if output.parent.exists() else None
        if folder is None:
            continue
        try:
            free = shutil.disk_usage(folder).free
        except OSError:
            continue
        if free < 1024 * 1024:
            return f"disk full: {free} bytes free under {folder}"
    return ""


def remove_outputs(plan: StepPlan) -> None:
    """Partial products of an earlier attempt must never be taken for products."""
    for path in plan.outputs:
        try:
            path.unlink()
            log(f"removed stale output {path.name}")
        except FileNotFoundError:
            pass
        except IsADirectoryError:
            pass


def tool_version() -> str:
    try:
        return f"lstchain {package_version('lstchain')}"
    except Exception:
        return ""


class StepSource(Protocol):
    """What ``run_steps`` needs of a context (a subrun's, a run's phase 2, a close job's):
    whose history the records name, and each step's plan. Read-only: contexts are frozen."""

    @property
    def run(self) -> int: ...
    @property
    def subrun(self) -> int: ...
    def step(self, name: str) -> StepPlan: ...


def run_steps(config: Config, context: StepSource, steps: tuple[str, ...], history: Path) -> int:
    """Run the remaining steps; return the process exit code."""
    summary = summarize(read_history(history))
    plans = [context.step(name) for name in steps]
    todo: list[StepPlan] = []
    notes = summary.last_note_of
    for plan in plans:
        outputs_there = all(p.exists() for p in plan.outputs)
        tolerated = notes.get(plan.name, "").startswith(TOLERATED)
        if plan.name in summary.done and (outputs_there or tolerated) and not todo:
            log(f"{plan.name}: done earlier, skipped")
            continue
        todo.append(plan)
    if not todo:
        log("all steps already done")
        return 0
    prepare_environment(config)
    # lstchain tools drop a *.provenance.log in their working folder: give each task its
    # own (never a log shared by thousands of tasks); our provenance comes from histories.
    scratch = history.parent.parent / "scratch" / history.stem
    scratch.mkdir(parents=True, exist_ok=True)
    os.chdir(scratch)
    runner = StepRunner(config.analysis.payload_mode)
    loaded = runner.preload(sorted({p.argv[0] for p in todo if p.argv}))
    host = socket.gethostname()
    job_id = os.environ.get("SLURM_ARRAY_JOB_ID") or os.environ.get("SLURM_JOB_ID", "")
    version = tool_version()
    for planned in todo:
        if runner.terminated:
            break
        plan = context.step(planned.name)  # planned again: it may use what a step before made
        remove_outputs(plan)
        if plan.create_output_dirs:
            for output in plan.outputs:
                output.parent.mkdir(parents=True, exist_ok=True)
        missing_inputs = [p for p in plan.inputs if not p.exists()]
        start, t0 = _now(), time.monotonic()
        if plan.skip_reason:
            rc, peak, cpu, note = 0, None, None, f"skipped: {plan.skip_reason}"
            log(f"{plan.name}: {note}")
        elif missing_inputs:
            rc, peak, cpu, note = 66, None, None, f"missing input {missing_inputs[0]}"
        else:
            func = loaded.get(plan.argv[0])
            log(f"{plan.name}: {'fork' if func else 'exec'} {' '.join(plan.argv)}")
            rc, peak, cpu = runner.run(plan.argv, func)
            note = ""
            if rc == 0 and plan.finish is not None:
                plan.finish()
            if rc == 0:
                absent = [p for p in plan.outputs if not p.exists()]
                if absent:
                    rc, note = MISSING_OUTPUT_RC, f"tool succeeded but {absent[0].name} is missing"
                elif plan.notice is not None:
                    note = plan.notice()
            elif rc < 0:
                note = f"killed by signal {-rc}"
            else:
                note = disk_full_note(plan)
                why = plan.tolerate(rc) if plan.tolerate is not None and not note else ""
                if why:
                    if not plan.keep_partial:
                        remove_outputs(plan)  # a failing tool may leave a partial product
                    rc, note = 0, f"{TOLERATED} exit {rc}: {why}"
        record = StepRecord(
            run=context.run,
            subrun=context.subrun,
            step=plan.name,
            prod_id=str(config.production.prod_id),
            start=start,
            end=_now(),
            rc=rc,
            inputs=[str(p) for p in plan.inputs],
            outputs=[str(p) for p in plan.outputs],
            config=str(plan.config_file) if plan.config_file else None,
            command=list(plan.argv),
            peak_rss=peak,
            cpu=cpu,
            host=host,
            job_id=job_id,
            tool_version=version,
            mode="fork" if plan.argv and loaded.get(plan.argv[0]) else "exec",
            note=note,
        )
        append_record(history, record)
        log(
            f"{plan.name}: rc={rc} in {time.monotonic() - t0:.1f} s"
            + (f", peak {peak / 2**30:.2f} GB" if peak else "")
            + (f" ({note})" if note else "")
        )
        if rc != 0:
            if rc > 0:
                remove_outputs(plan)
            return rc if 0 < rc < 256 else 128 + (-rc if rc < 0 else 1)
    if runner.terminated:
        return 128 + runner.terminated
    os.chdir(history.parent)
    shutil.rmtree(scratch, ignore_errors=True)
    return 0


PHASE_STEPS = {
    "gainsel": GAIN_SELECTION_STEPS,
    "all": DATA_STEPS,
    "dl1a": DL1A_STEPS,
    "dl1b": DL1B_STEPS,
}


def add_calibration_arguments(parser: argparse.ArgumentParser) -> None:
    """The Cat-A calibration the plan found (``osa_core.jobs.calibration_arguments``)."""
    parser.add_argument("--calibration-night", help="none: a DAQ-calibrated night")
    parser.add_argument("--drs4-night", help="default: the calibration night")
    parser.add_argument("--drs4-run", type=int)
    parser.add_argument("--pedcal-run", type=int)
    parser.add_argument("--filters", type=int, help="default: [night] filter_wheels")
    parser.add_argument("--time-calibration-file", type=Path)
    parser.add_argument("--systematics-file", type=Path)


def calibration_of(config: Config, args: argparse.Namespace) -> CalibrationInputs | None:
    if args.calibration_night is None or args.drs4_run is None or args.pedcal_run is None:
        return None  # input_state = "catA_calibrated": the DAQ calibrated the data
    night = parse_night(args.calibration_night)
    return CalibrationInputs(
        night=night,
        drs4_night=parse_night(args.drs4_night) if args.drs4_night else night,
        drs4_run=args.drs4_run,
        pedcal_run=args.pedcal_run,
        filters=args.filters if args.filters is not None else config.night.filter_wheels,
        time_calibration=args.time_calibration_file,
        systematics=args.systematics_file,
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m osa_core.payload", description=__doc__)
    parser.add_argument("--config", required=True)
    parser.add_argument("--date", required=True)
    sub = parser.add_subparsers(dest="kind", required=True)
    data = sub.add_parser("data", help="a subrun's steps (one array task)")
    data.add_argument("--run", type=int, required=True)
    data.add_argument("--subrun", type=int, help="default: $SLURM_ARRAY_TASK_ID")
    data.add_argument("--phase", choices=sorted(PHASE_STEPS), default="all")
    add_calibration_arguments(data)
    runcal = sub.add_parser("runcal", help="a run's phase 2: Cat-B, tail cuts, models")
    runcal.add_argument("--run", type=int, required=True)
    runcal.add_argument("--pointing-dec", type=float, help="degrees (RunCatalog source_dec)")
    add_calibration_arguments(runcal)
    calibration = sub.add_parser("calibration", help="the night's Cat-A calibration")
    add_calibration_arguments(calibration)
    return parser


def main(argv: list[str] | None = None) -> int:
    os.umask(SHARED_UMASK)  # the tools' outputs are the group's, like ours (fsio)
    args = build_parser().parse_args(argv)
    try:
        config = load_config(args.config, check_paths=False)
        night = parse_night(args.date)
        calibration = calibration_of(config, args)
        paths = NightPaths(config, night)
        if args.kind == "runcal":
            return run_phase2(config, night, args.run, calibration, args.pointing_dec)
        if args.kind == "data":
            subrun = args.subrun
            if subrun is None:
                task = os.environ.get("SLURM_ARRAY_TASK_ID", "")
                if not task.isdigit():
                    log("no --subrun and no SLURM_ARRAY_TASK_ID: nothing to run")
                    return 2
                subrun = int(task)
            run, steps = args.run, PHASE_STEPS[args.phase]
        else:
            if calibration is None:
                log("a calibration job needs --calibration-night, --drs4-run, --pedcal-run")
                return 2
            run, subrun, steps = args.pedcal_run, 0, CALIBRATION_STEPS
        context = SubrunContext(
            config=config, night=night, run=run, subrun=subrun, calibration=calibration
        )
        history = paths.history_file(run, subrun)
        log(f"{args.kind} run {run} subrun {subrun}: history {history}")
        return run_steps(config, context, steps, history)
    except OsaError as err:
        log(f"error: {err}")
        return 2
    except OSError as err:
        # e.g. ENOSPC while writing the history: say it plainly, fail the task
        log(f"error: {err.filename or ''}: {err.strerror}")
        return IO_ERROR_RC


def run_phase2(
    config: Config,
    night: dt.date,
    run: int,
    calibration: CalibrationInputs | None,
    pointing_dec: float | None,
) -> int:
    """Cat-B and tail cuts (tolerated where the run can go on), then the run's decision."""
    paths = NightPaths(config, night)
    context = RunContext(config=config, night=night, run=run, calibration=calibration)
    log(f"run calibration of run {run}: history {paths.run_history(run)}")
    rc = run_steps(config, context, RUN_CALIBRATION_STEPS, paths.run_history(run))
    if rc != 0:
        return rc
    try:
        record = decide(config, night, run, calibration, pointing_dec)
    except TailcutError as err:
        log(f"error: {err}")
        return 2
    where = write_decision(config, night, record)
    log(
        f"run {run}: cleaning {record.tailcuts.describe()}; Cat-B "
        f"{'ok' if record.catb.ok else 'none: ' + record.catb.reason}; models "
        f"{record.models.path or 'none'} ({record.models.reason}); written {where}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
