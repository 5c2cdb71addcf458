"""Retry policy by failure class (SPEC §3's known pain, fixed).

lstosa resubmits whole arrays every 30 minutes, counts tries by job ids and raises memory
only by hand. Here each failed subrun is classified from the scheduler's state and its own
history, and the policy says whether to retry it, with which resources, or why not:

* OUT_OF_MEMORY -> more memory (``memory_factor``, capped by ``memory_cap``)
* TIMEOUT -> more time (``time_factor``, capped by ``time_cap``)
* NODE_FAIL / PREEMPTED / BOOT_FAIL / a cancelled dependency -> the same again
* a science failure (an lstchain step exiting non-zero) -> again, unless the same step
  failed with the same exit code ``science_repeats`` times in a row: then stop, say why
* ``max_attempts`` per subrun, whatever the class
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Protocol

from osa_core.config import JobResources, RetryConfig
from osa_core.units import Duration, MemorySize
from osa_core.vocabulary import State

MEMORY, TIME, INFRA, SCIENCE, OPERATOR, DEPENDENCY, OTHER = (
    "memory",
    "time",
    "infrastructure",
    "science",
    "operator",
    "dependency",
    "other",
)


class FailedWork(Protocol):
    """What the policy reads of failed work: a subrun (``status.SubrunStatus``) or a
    run's calibration (``status.RunCalibrationStatus``)."""

    @property
    def state(self) -> State: ...
    @property
    def attempts(self) -> int: ...
    @property
    def reason(self) -> str: ...
    @property
    def failed_step(self) -> str | None: ...
    @property
    def failed_rc(self) -> int | None: ...
    @property
    def failures(self) -> tuple[tuple[str, int], ...]: ...


def classify(subrun: FailedWork) -> str:
    state = subrun.state
    if state == State.OUT_OF_MEMORY:
        return MEMORY
    if state in (State.TIMEOUT, State.DEADLINE):
        return TIME
    if state in (State.NODE_FAIL, State.PREEMPTED, State.BOOT_FAIL, State.LOST):
        return INFRA
    if state == State.CANCELLED:
        return DEPENDENCY if "Dependency" in subrun.reason else OPERATOR
    if subrun.failed_step is not None:
        if subrun.failed_rc in (-9, 137) and "memory" in subrun.reason.lower():
            return MEMORY
        return SCIENCE
    return OTHER


@dataclass(frozen=True)
class RetryDecision:
    retry: bool
    resources: JobResources
    failure_class: str
    reason: str


def decide(
    subrun: FailedWork, resources: JobResources, policy: RetryConfig, *, automatic: bool = True
) -> RetryDecision:
    """Whether and how to retry one failed subrun. ``automatic`` = cron, not a human."""
    failure = classify(subrun)
    if subrun.attempts >= policy.max_attempts:
        return RetryDecision(
            False, resources, failure, f"{subrun.attempts} attempts (limit {policy.max_attempts})"
        )
    if failure == MEMORY:
        more = resources.memory.scaled(policy.memory_factor, policy.memory_cap)
        if more <= resources.memory:
            return RetryDecision(
                False, resources, failure, f"out of memory at the cap ({policy.memory_cap})"
            )
        return RetryDecision(
            True,
            replace(resources, memory=MemorySize(more)),
            failure,
            f"out of memory: {resources.memory} -> {more}",
        )
    if failure == TIME:
        more_time = resources.time.scaled(policy.time_factor, policy.time_cap)
        if more_time <= resources.time:
            return RetryDecision(
                False, resources, failure, f"timeout at the cap ({policy.time_cap})"
            )
        return RetryDecision(
            True,
            replace(resources, time=Duration(more_time)),
            failure,
            f"timeout: {resources.time} -> {more_time}",
        )
    if failure == SCIENCE:
        recent = subrun.failures[-policy.science_repeats :]
        if len(recent) >= policy.science_repeats and len(set(recent)) == 1:
            step, rc = recent[-1]
            return RetryDecision(
                False,
                resources,
                failure,
                f"{step} failed with exit code {rc} {len(recent)} times: "
                "a science failure, not retried",
            )
        return RetryDecision(
            True,
            resources,
            failure,
            f"{subrun.failed_step} exited {subrun.failed_rc}: retry once more",
        )
    if failure == OPERATOR and automatic:
        return RetryDecision(False, resources, failure, "cancelled by an operator")
    return RetryDecision(True, resources, failure, f"{failure} failure: plain retry")


def with_more_memory(resources: JobResources, policy: RetryConfig) -> JobResources:
    """The console's `m`: more memory whatever the failure class (capped)."""
    return replace(
        resources,
        memory=MemorySize(resources.memory.scaled(policy.memory_factor, policy.memory_cap)),
    )


def resources_of(memory: str, time_limit: str, default: JobResources) -> JobResources:
    """Resources a submission used (as journaled), falling back to the configured ones."""
    try:
        result = default
        if memory:
            result = replace(result, memory=MemorySize.parse(memory))
        if time_limit:
            result = replace(result, time=Duration.parse(time_limit))
        return result
    except ValueError:
        return default
