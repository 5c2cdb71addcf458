"""Fixtures shared by the integration tests."""

from __future__ import annotations

import pytest


@pytest.fixture(params=["local", pytest.param("slurm", marks=pytest.mark.slurm)])
def kind(request: pytest.FixtureRequest) -> str:
    """The executor a test runs on: the embedded local one, and SLURM (marked ``slurm``:
    in CI the local cluster is up and such a test may not skip)."""
    if request.param == "slurm":
        request.getfixturevalue("slurm_cluster")
    return request.param
