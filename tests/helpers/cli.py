"""The `osa` command as a user runs it, on a night folder's own ``osa.toml``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def osa(base: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "osa_core.cli.main", "--config", str(base / "osa.toml"), *args],
        capture_output=True,
        text=True,
        timeout=120,
    )
