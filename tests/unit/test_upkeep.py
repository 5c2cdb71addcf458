"""Which holds the upkeep releases: only SLURM's own after a launch failure, never one an
operator or admin put (reasons as SLURM 22.05 prints them on the local cluster)."""

from __future__ import annotations

import pytest

from osa_core.rules.submission import held_by_launch_failure


@pytest.mark.parametrize(
    ("reason", "ours"),
    [
        ("launch failed requeued held", True),
        ("requeued after NODE_FAIL (launch failed requeued held)", True),
        ("job requeued in held state", False),  # scontrol requeuehold
        ("JobHeldUser", False),  # scontrol hold / requeuehold, as the job's user
        ("JobHeldAdmin", False),  # scontrol hold, as an admin
        ("BeginTime", False),
        ("", False),
    ],
)
def test_only_launch_failure_holds_are_released(reason: str, ours: bool) -> None:
    assert held_by_launch_failure(reason) is ours
