"""Shared fixtures: generated nights and configs pointing at them."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from osa_core.config import Config, load_config
from osa_core.generator import NightSpec, generate_night

NIGHT = dt.date(2020, 2, 18)


def write_config(base: Path, extra: str = "") -> Path:
    """A config file inside ``base`` pointing at it."""
    path = base / "osa.toml"
    path.write_text(f'[paths]\nbase = "."\n\n[executor]\nkind = "local"\n\n{extra}\n')
    return path


@pytest.fixture
def night_base(tmp_path: Path) -> Path:
    """A small generated night (2 calibration runs + 3 DATA runs x 4 subruns)."""
    generate_night(tmp_path, NightSpec(night=NIGHT, data_runs=3, subruns=4))
    return tmp_path


@pytest.fixture
def config(night_base: Path) -> Config:
    return load_config(write_config(night_base))
