"""The close jobs as ``JobSpec``s: an array over the runs, and the night's finish.

Built from validated values only (the config path, the date, run numbers), like every job
of the night (``osa_core.jobs``); the close payload reads the rest from the files.
"""

from __future__ import annotations

from pathlib import Path

from osa_core.config import Config
from osa_core.jobs import JobSpec, python_job
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
        *python_job(
            "osa_core.closing.payload",
            config_file or config.source.resolve(),
            plan.night.isoformat(),
        ),
        *(["--force"] if force else []),
    )

    def spec(kind: JobKind, which: str, array: tuple[int, ...] | None, *args: str) -> JobSpec:
        return JobSpec(
            name=f"osa_{paths.folder}_{kind.tag}_{which}",
            kind=kind,
            night=plan.night.isoformat(),
            run=0,
            script=paths.jobs_dir / f"close_{which}.sh",
            array=array,
            resources=config.slurm.close,
            account=config.slurm.account,
            output=paths.close_log_pattern(which, "out"),
            error=paths.close_log_pattern(which, "err"),
            command=(*base_command, *args),
            workdir=paths.running,
        )

    runs_spec = None
    if runs:
        listed = ",".join(str(r) for r in runs)
        runs_spec = spec(
            JobKind.CLOSE_RUNS, "runs", tuple(range(len(runs))), "runs", "--runs", listed
        )
    night_spec = spec(JobKind.CLOSE_NIGHT, "night", None, "night")
    return runs, runs_spec, night_spec
