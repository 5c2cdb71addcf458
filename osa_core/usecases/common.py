"""The start every changing use case shares: observe, refuse without a scheduler, then
settle what a crash or the scheduler left (interrupted submissions, held jobs, jobs whose
end was lost) before deciding anything new."""

from __future__ import annotations

from osa_core.config import Config
from osa_core.dispatch import Acted, act
from osa_core.errors import SchedulerUnavailable
from osa_core.executors.api import Executor
from osa_core.plan import Plan
from osa_core.rules.submission import decide_upkeep, refusal
from osa_core.snapshot import NightSnapshot, observe


def observed(config: Config, plan: Plan, executor: Executor, *, settle: bool) -> NightSnapshot:
    """A snapshot the night may be changed from (or previewed with): the scheduler must
    answer, else ``SchedulerUnavailable`` (nothing decided from a partial answer)."""
    snapshot = observe(config, plan, executor, settle=settle)
    if not snapshot.status.scheduler_ok or (settle and snapshot.unsettled_intents):
        raise SchedulerUnavailable(refusal(snapshot))
    return snapshot


def prepared(config: Config, plan: Plan, executor: Executor) -> tuple[NightSnapshot, Acted]:
    """Observe, then carry out the upkeep; returns the snapshot as it is after it."""
    snapshot = observed(config, plan, executor, settle=True)
    upkeep = decide_upkeep(snapshot)
    if not upkeep.intents:
        return snapshot, Acted()
    acted = act(snapshot, executor, upkeep)
    if acted.ended:
        snapshot = snapshot.without_jobs(acted.ended)
    return snapshot, acted
