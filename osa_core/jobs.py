"""Job generation: for each sequence a batch script and the submission it needs.

A job is described once, as a ``JobSpec`` (name, array, resources, dependencies, logs,
payload argument list). The batch script rendered from it carries the same facts as
``#SBATCH`` lines so a human can read or ``sbatch`` it by hand; executors submit from the
spec and pass overrides (a smaller ``--array`` for a resubmission, more memory for a
retry) on the command line, where they take precedence over the script.

Nothing from a RunSummary, a catalog or a file name reaches the script as text: the payload
is called with an argument list of validated integers, a date and config paths, each
quoted with ``shlex.quote``; the subrun comes from ``SLURM_ARRAY_TASK_ID``, read by the
payload itself, so no shell expansion is ever involved.
"""

from __future__ import annotations

import re
import shlex
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path

from osa_core.config import Config, JobResources
from osa_core.frozen_config import freeze
from osa_core.fsio import EXEC_MODE, ensure_dir, write_text_atomic
from osa_core.paths import NightPaths
from osa_core.plan import Calibration, Plan, Sequence
from osa_core.vocabulary import JobKind


@dataclass(frozen=True)
class JobSpec:
    """Everything an executor needs to submit one job (or job array)."""

    name: str
    kind: str
    night: str
    run: int
    script: Path
    array: tuple[int, ...] | None
    resources: JobResources
    account: str
    output: Path
    error: Path
    command: tuple[str, ...]
    dependencies: tuple[str, ...] = ()
    attempt: int = 1
    workdir: Path = field(default_factory=Path.cwd)

    @property
    def comment(self) -> str:
        """Stored by SLURM with the job; lets us recognise our jobs after a crash."""
        return f"osa:night={self.night};kind={self.kind};run={self.run};attempt={self.attempt}"

    def with_array(self, indices: tuple[int, ...]) -> JobSpec:
        if not indices:
            raise ValueError("refusing an empty array: it would become a plain job")
        return replace(self, array=tuple(sorted(set(indices))))


def compact_ranges(indices: tuple[int, ...] | list[int]) -> str:
    """``[0,1,2,5,7,8]`` -> ``0-2,5,7-8``: the ``--array`` form; never empty."""
    values = sorted(set(indices))
    if not values:
        raise ValueError("no indices: an empty --array must never be submitted")
    parts = []
    start = prev = values[0]
    for value in values[1:]:
        if value == prev + 1:
            prev = value
            continue
        parts.append(f"{start}-{prev}" if prev != start else f"{start}")
        start = prev = value
    parts.append(f"{start}-{prev}" if prev != start else f"{start}")
    return ",".join(parts)


def parse_ranges(text: str) -> tuple[int, ...]:
    """Inverse of ``compact_ranges`` (also accepts SLURM's ``%N`` throttle suffix)."""
    text = text.split("%")[0].strip().strip("[]")
    result: list[int] = []
    for part in filter(None, text.split(",")):
        if "-" in part:
            low, high = part.split("-", 1)
            result.extend(range(int(low), int(high) + 1))
        else:
            result.append(int(part))
    return tuple(result)


def calibration_arguments(calibration: Calibration) -> list[str]:
    """The Cat-A calibration the plan found, as payload arguments (validated values:
    dates, integers, and paths the finders chose under the configured trees)."""
    args = [
        "--calibration-night",
        calibration.night.isoformat(),
        "--drs4-night",
        calibration.drs4_from.isoformat(),
        "--drs4-run",
        str(calibration.drs4_run),
        "--pedcal-run",
        str(calibration.pedcal_run),
        "--filters",
        str(calibration.filters),
    ]
    if calibration.time_calibration is not None:
        args += ["--time-calibration-file", str(calibration.time_calibration)]
    if calibration.systematics is not None:
        args += ["--systematics-file", str(calibration.systematics)]
    return args


def python_job(module: str, config_file: Path, night: str) -> list[str]:
    """The start of every job's command: this installation's Python running a payload
    module with the (frozen) configuration and the night."""
    return [sys.executable, "-m", module, "--config", str(config_file), "--date", night]


#: The payload's phase argument for each per-subrun job kind.
PHASE_OF = {
    JobKind.GAIN_SELECTION: "gainsel",
    JobKind.DATA: "all",
    JobKind.DL1A: "dl1a",
    JobKind.DL1B: "dl1b",
}


def payload_command(
    config: Config,
    sequence: Sequence,
    plan: Plan,
    kind: JobKind | None = None,
    config_file: Path | None = None,
) -> tuple[str, ...]:
    """The argument list of the job payload for one job of a sequence (validated values).
    ``config_file``: the frozen configuration the job runs with (``osa_core.frozen_config``)."""
    kind = kind or JobKind(sequence.kind)
    command = python_job(
        "osa_core.payload", config_file or config.source.resolve(), plan.night.isoformat()
    )
    calibration = plan.calibration
    if kind == JobKind.CALIBRATION:
        command.append("calibration")
    elif kind == JobKind.RUN_CALIBRATION:
        command += ["runcal", "--run", str(sequence.run)]
        if sequence.source_dec is not None:
            command += ["--pointing-dec", f"{float(sequence.source_dec):.6f}"]
    else:
        command += ["data", "--run", str(sequence.run), "--phase", PHASE_OF[kind]]
    if calibration is None:  # a DAQ-calibrated night (catA_calibrated): no Cat-A files
        return tuple(command)
    return (*command, *calibration_arguments(calibration))


def resources_for(config: Config, kind: JobKind) -> JobResources:
    """What a job of this kind asks the scheduler for ([slurm.*])."""
    if kind == JobKind.CALIBRATION:
        return config.slurm.calibration
    if kind == JobKind.RUN_CALIBRATION:
        return config.slurm.run_calibration
    if kind.is_close:
        return config.slurm.close
    return config.slurm.data


def job_spec(
    config: Config,
    plan: Plan,
    sequence: Sequence,
    kind: JobKind | None = None,
    config_file: Path | None = None,
) -> JobSpec:
    """The JobSpec of one job of a sequence (dependencies are filled in at submission)."""
    kind = kind or JobKind(sequence.kind)
    paths = NightPaths(config, plan.night)
    if kind == JobKind.CALIBRATION:
        array = None
        output = paths.calibration_log_pattern(sequence.run, "out")
        error = paths.calibration_log_pattern(sequence.run, "err")
    elif kind == JobKind.RUN_CALIBRATION:
        array = None
        output = paths.run_calibration_log_pattern(sequence.run, "out")
        error = paths.run_calibration_log_pattern(sequence.run, "err")
    else:
        array = sequence.subruns
        output = paths.log_pattern(sequence.run, "out")
        error = paths.log_pattern(sequence.run, "err")
    return JobSpec(
        name=sequence.job_name_of(kind),
        kind=kind,
        night=plan.night.isoformat(),
        run=sequence.run,
        script=paths.job_script(kind, sequence.run),
        array=array,
        resources=resources_for(config, kind),
        account=config.slurm.account,
        output=output,
        error=error,
        command=payload_command(config, sequence, plan, kind, config_file),
        workdir=paths.running,
    )


def job_kinds(plan: Plan, sequence: Sequence) -> tuple[JobKind, ...]:
    """The kinds of job a sequence runs: the calibration; a data run's single job, or its
    three phases with the per-run workflow."""
    if sequence.kind == JobKind.CALIBRATION:
        return (JobKind.CALIBRATION,)
    first = (JobKind.GAIN_SELECTION,) if plan.gain_selection else ()
    if plan.per_run:
        return (*first, JobKind.DL1A, JobKind.RUN_CALIBRATION, JobKind.DL1B)
    return (*first, JobKind.DATA)


_PLAIN_RE = re.compile(r"^[A-Za-z0-9_./%+:=,@-]+$")


def _directive_value(path: Path) -> str:
    """A path as an ``#SBATCH`` value: bare when plain, double-quoted otherwise.

    sbatch reads directives itself (no shell), understanding double quotes only; a path
    with a double quote or newline cannot be expressed there and is refused.
    """
    text = str(path)
    if _PLAIN_RE.match(text):
        return text
    if '"' in text or "\n" in text or "\\" in text:
        raise ValueError(f"{text!r}: cannot be written as an #SBATCH value")
    return f'"{text}"'


def render_script(spec: JobSpec) -> str:
    """The batch script text. ``#SBATCH`` lines mirror the spec; the body is one ``exec``."""
    lines = ["#!/bin/bash", f"#SBATCH --job-name={spec.name}"]
    if spec.array is not None:
        lines.append(f"#SBATCH --array={compact_ranges(spec.array)}")
    resources = spec.resources
    if resources.partition:
        lines.append(f"#SBATCH --partition={resources.partition}")
    lines += [
        f"#SBATCH --cpus-per-task={resources.cpus}",
        f"#SBATCH --mem-per-cpu={resources.memory.slurm()}",
        f"#SBATCH --time={resources.time.slurm()}",
    ]
    if spec.account:
        lines.append(f"#SBATCH --account={spec.account}")
    lines += [
        f"#SBATCH --output={_directive_value(spec.output)}",
        f"#SBATCH --error={_directive_value(spec.error)}",
        f"#SBATCH --chdir={_directive_value(spec.workdir)}",
        "",
        "# Generated by osa-console; the payload reads SLURM_ARRAY_TASK_ID itself.",
        "set -euo pipefail",
        "exec " + shlex.join(spec.command),
        "",
    ]
    return "\n".join(lines)


def write_scripts(config: Config, plan: Plan) -> list[JobSpec]:
    """Render and atomically write every job's script; return the specs in plan order."""
    paths = NightPaths(config, plan.night)
    for folder in (paths.jobs_dir, paths.log_dir, paths.history_dir):
        ensure_dir(folder)
    config_file, _ = freeze(config, paths.state_dir)
    specs = []
    for sequence in plan.sequences:
        if not sequence.needs_job or not sequence.subruns:  # a run awaited: no files yet
            continue
        for kind in job_kinds(plan, sequence):
            spec = job_spec(config, plan, sequence, kind, config_file)
            text = render_script(spec)
            if _read_or_none(spec.script) != text:  # an unchanged night rewrites nothing
                write_text_atomic(spec.script, text, file_mode=EXEC_MODE)
            specs.append(spec)
    return specs


def _read_or_none(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except (FileNotFoundError, UnicodeDecodeError):
        return None
