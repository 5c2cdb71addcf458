"""Which executor runs the jobs: decided once, here, from the configuration.

Kept apart from ``osa_core.executors.api`` so the interface never imports what implements
it; the implementations are imported only when chosen (SLURM's client code is not loaded
by a night that runs locally, and the other way round).
"""

from __future__ import annotations

from osa_core.config import Config
from osa_core.executors.api import Executor


def get_executor(config: Config) -> Executor:
    """The configured executor; ``auto`` means SLURM when its controller answers."""
    kind = config.executor.kind
    if kind == "auto":
        # imported here: only "auto" needs to probe SLURM
        from osa_core.executors.slurm import slurm_available

        kind = "slurm" if slurm_available(config) else "local"
    if kind == "slurm":
        from osa_core.executors.slurm import SlurmExecutor  # only the chosen one is loaded

        return SlurmExecutor(config)
    from osa_core.executors.local import LocalExecutor  # only the chosen one is loaded

    return LocalExecutor(config)
