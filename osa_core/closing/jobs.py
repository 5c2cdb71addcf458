"""The close jobs as ``JobSpec``s: an array over the runs, and the night's finish.

Built from validated values only (the config path, the date, run numbers), like every job
of the night (``osa_core.jobs``); the close payload reads the rest from the files.
"""

from __future__ import annotations

import sys
from pathlib import Path

from osa_core.config import Config
from osa_core.jobs import JobSpec
from osa_core.paths import NightPaths
from osa_core.plan import Plan
from osa_core.vocabulary import JobKind


def close_specs(
    config: Config, plan: Plan, force: bool = False, config_file: Path | None = None
) -> tuple[list[int], JobSpec | None, JobSpec]:
    """The close jobs: the runs, an array over them (None without runs), and the night's
    finish. ``force`` (an operator's override) closes even if some subruns are not done."""
    paths = NightPaths(config, plan.night)
    runs = [s.run for s in plan.data_sequences]
    base_command = (
        sys.executable,
        "-m",
        "osa_core.closing.payload",
        "--config",
        str(config_file or config.source.resolve()),
        "--date",
        plan.night.isoformat(),
        *(["--force"] if force else []),
    )
    folder = paths.folder
    runs_spec = None
    if runs:
        runs_spec = JobSpec(
            name=f"osa_{folder}_{JobKind.CLOSE_RUNS.tag}_runs",
            kind=JobKind.CLOSE_RUNS,
            night=plan.night.isoformat(),
            run=0,
            script=paths.jobs_dir / "close_runs.sh",
            array=tuple(range(len(runs))),
            resources=config.slurm.close,
            account=config.slurm.account,
            output=paths.close_log_pattern("runs", "out"),
            error=paths.close_log_pattern("runs", "err"),
            command=(*base_command, "runs", "--runs", ",".join(str(r) for r in runs)),
            workdir=paths.running,
        )
    night_spec = JobSpec(
        name=f"osa_{folder}_{JobKind.CLOSE_NIGHT.tag}_night",
        kind=JobKind.CLOSE_NIGHT,
        night=plan.night.isoformat(),
        run=0,
        script=paths.jobs_dir / "close_night.sh",
        array=None,
        resources=config.slurm.close,
        account=config.slurm.account,
        output=paths.close_log_pattern("night", "out"),
        error=paths.close_log_pattern("night", "err"),
        command=(*base_command, "night"),
        workdir=paths.running,
    )
    return runs, runs_spec, night_spec
