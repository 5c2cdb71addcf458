"""The retry policy (osa_core/rules/retry.py) on plain data, one failure class at a time:
how a failed subrun is classified, and whether and with which resources it is retried.

SLURM states that cannot be produced on the single-node test cluster (PREEMPTED needs a
preemption plugin, BOOT_FAIL power saving or a reboot program; see
tests/integration/test_slurm_node_faults.py) are covered here with the words sacct uses.
"""

from __future__ import annotations

import pytest

from osa_core.config import JobResources, RetryConfig
from osa_core.rules.retry import (
    DEPENDENCY,
    INFRA,
    MEMORY,
    OPERATOR,
    OTHER,
    SCIENCE,
    TIME,
    classify,
    decide,
    resources_of,
    with_more_memory,
)
from osa_core.status import SubrunStatus
from osa_core.units import Duration, MemorySize
from osa_core.vocabulary import State

GB = 1024**3
RESOURCES = JobResources(memory=MemorySize(6 * GB), time=Duration(4500))
POLICY = RetryConfig(
    max_attempts=3,
    memory_factor=1.5,
    memory_cap=MemorySize(16 * GB),
    time_factor=2.0,
    time_cap=Duration(4 * 3600),
    science_repeats=2,
)


def failed(
    state: State,
    *,
    attempts: int = 1,
    reason: str = "",
    step: str | None = None,
    rc: int | None = None,
    failures: tuple[tuple[str, int], ...] = (),
) -> SubrunStatus:
    return SubrunStatus(
        run=2002,
        subrun=3,
        state=state,
        attempts=attempts,
        reason=reason,
        failed_step=step,
        failed_rc=rc,
        failures=failures,
    )


@pytest.mark.parametrize(
    ("subrun", "expected"),
    [
        (failed(State.OUT_OF_MEMORY), MEMORY),
        # jobacct mode (no cgroups): sacct says FAILED 0:9, the step was killed for memory
        (failed(State.FAILED, step="r0_to_dl1", rc=-9, reason="exceeded memory limit"), MEMORY),
        (failed(State.FAILED, step="r0_to_dl1", rc=137, reason="Memory limit"), MEMORY),
        (failed(State.TIMEOUT), TIME),
        (failed(State.DEADLINE), TIME),
        (failed(State.NODE_FAIL, reason="NodeDown"), INFRA),
        (failed(State.PREEMPTED), INFRA),
        (failed(State.BOOT_FAIL), INFRA),
        (failed(State.LOST, reason="the scheduler has had no record of this job for 31 s"), INFRA),
        (failed(State.CANCELLED, reason="Dependency"), DEPENDENCY),
        (failed(State.CANCELLED, reason="DependencyNeverSatisfied"), DEPENDENCY),
        (failed(State.CANCELLED), OPERATOR),
        (failed(State.CANCELLED, reason="cancelled by 0"), OPERATOR),
        (failed(State.FAILED, step="dl1ab", rc=3), SCIENCE),
        (failed(State.FAILED, step="r0_to_dl1", rc=-9), SCIENCE),  # killed, not for memory
        (failed(State.FAILED), OTHER),  # no step failed: the job died around the payload
    ],
    ids=lambda v: v if isinstance(v, str) else f"{v.state}:{v.reason or v.failed_step or ''}",
)
def test_classify(subrun: SubrunStatus, expected: str) -> None:
    assert classify(subrun) == expected


def test_out_of_memory_asks_for_more_memory_up_to_the_cap() -> None:
    verdict = decide(failed(State.OUT_OF_MEMORY), RESOURCES, POLICY)
    assert verdict.retry and verdict.failure_class == MEMORY
    assert verdict.resources.memory == 9 * GB and verdict.resources.time == RESOURCES.time
    assert verdict.reason == "out of memory: 6GB -> 9GB"
    near = JobResources(memory=MemorySize(12 * GB), time=RESOURCES.time)
    assert decide(failed(State.OUT_OF_MEMORY), near, POLICY).resources.memory == 16 * GB
    at_cap = JobResources(memory=MemorySize(16 * GB), time=RESOURCES.time)
    stop = decide(failed(State.OUT_OF_MEMORY), at_cap, POLICY)
    assert not stop.retry and stop.reason == "out of memory at the cap (16GB)"
    assert stop.resources == at_cap


def test_timeout_asks_for_more_time_up_to_the_cap() -> None:
    verdict = decide(failed(State.TIMEOUT), RESOURCES, POLICY)
    assert verdict.retry and verdict.failure_class == TIME
    assert verdict.resources.time == 9000 and verdict.resources.memory == RESOURCES.memory
    assert verdict.reason == "timeout: 01:15:00 -> 02:30:00"
    near = JobResources(memory=RESOURCES.memory, time=Duration(3 * 3600))
    assert decide(failed(State.DEADLINE), near, POLICY).resources.time == 4 * 3600
    at_cap = JobResources(memory=RESOURCES.memory, time=Duration(4 * 3600))
    stop = decide(failed(State.TIMEOUT), at_cap, POLICY)
    assert not stop.retry and stop.reason == "timeout at the cap (04:00:00)"


@pytest.mark.parametrize("state", [State.NODE_FAIL, State.PREEMPTED, State.BOOT_FAIL, State.LOST])
def test_infrastructure_failures_are_retried_with_the_same_resources(state: State) -> None:
    verdict = decide(failed(state), RESOURCES, POLICY)
    assert verdict.retry and verdict.failure_class == INFRA
    assert verdict.resources == RESOURCES
    assert verdict.reason == "infrastructure failure: plain retry"
    # the second time too: an infrastructure failure is not the subrun's fault
    assert decide(failed(state, attempts=2), RESOURCES, POLICY).retry


def test_science_failure_retried_until_the_same_step_fails_the_same_way_again() -> None:
    once = failed(State.FAILED, step="dl1ab", rc=3, failures=(("dl1ab", 3),))
    verdict = decide(once, RESOURCES, POLICY)
    assert verdict.retry and verdict.resources == RESOURCES
    assert verdict.reason == "dl1ab exited 3: retry once more"
    twice = failed(
        State.FAILED, attempts=2, step="dl1ab", rc=3, failures=(("dl1ab", 3), ("dl1ab", 3))
    )
    stop = decide(twice, RESOURCES, POLICY)
    assert not stop.retry and stop.failure_class == SCIENCE
    assert stop.reason == "dl1ab failed with exit code 3 2 times: a science failure, not retried"
    # another step or another exit code is not a repeat
    for failures in ((("r0_to_dl1", 3), ("dl1ab", 3)), (("dl1ab", 2), ("dl1ab", 3))):
        other = failed(State.FAILED, attempts=2, step="dl1ab", rc=3, failures=failures)
        assert decide(other, RESOURCES, POLICY).retry


def test_an_operators_cancel_is_not_retried_by_cron_but_by_an_operator() -> None:
    cancelled = failed(State.CANCELLED, reason="cancelled by 0")
    cron = decide(cancelled, RESOURCES, POLICY, automatic=True)
    assert not cron.retry and cron.failure_class == OPERATOR
    assert cron.reason == "cancelled by an operator"
    shifter = decide(cancelled, RESOURCES, POLICY, automatic=False)
    assert shifter.retry and shifter.resources == RESOURCES


def test_a_cancelled_dependency_is_retried_with_the_same_resources() -> None:
    verdict = decide(failed(State.CANCELLED, reason="DependencyNeverSatisfied"), RESOURCES, POLICY)
    assert verdict.retry and verdict.failure_class == DEPENDENCY
    assert verdict.resources == RESOURCES
    assert verdict.reason == "dependency failure: plain retry"


def test_an_unexplained_failure_is_retried_plainly() -> None:
    verdict = decide(failed(State.FAILED), RESOURCES, POLICY)
    assert verdict.retry and verdict.failure_class == OTHER and verdict.resources == RESOURCES


@pytest.mark.parametrize(
    "subrun",
    [
        failed(State.OUT_OF_MEMORY, attempts=3),
        failed(State.TIMEOUT, attempts=3),
        failed(State.NODE_FAIL, attempts=3),
        failed(State.PREEMPTED, attempts=4),
        failed(State.BOOT_FAIL, attempts=3),
        failed(State.LOST, attempts=3),
        failed(State.CANCELLED, attempts=3, reason="Dependency"),
        failed(State.FAILED, attempts=3, step="dl1ab", rc=3, failures=(("dl1ab", 3),)),
        failed(State.FAILED, attempts=3),
    ],
    ids=lambda s: str(s.state),
)
def test_max_attempts_stops_every_class(subrun: SubrunStatus) -> None:
    verdict = decide(subrun, RESOURCES, POLICY)
    assert not verdict.retry and verdict.resources == RESOURCES
    assert verdict.reason == f"{subrun.attempts} attempts (limit 3)"
    assert verdict.failure_class == classify(subrun)


def test_the_consoles_more_memory_is_capped_too() -> None:
    assert with_more_memory(RESOURCES, POLICY).memory == 9 * GB
    big = JobResources(memory=MemorySize(15 * GB), time=RESOURCES.time)
    assert with_more_memory(big, POLICY).memory == 16 * GB


def test_resources_of_a_submission_as_journaled() -> None:
    assert resources_of("9GB", "02:30:00", RESOURCES) == JobResources(
        memory=MemorySize(9 * GB), time=Duration(9000)
    )
    assert resources_of("", "", RESOURCES) == RESOURCES
    assert resources_of("lots", "02:30:00", RESOURCES) == RESOURCES  # unreadable: configured
