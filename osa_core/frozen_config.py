"""The configuration a night's jobs run with, frozen when they are submitted.

A job reads its configuration when it starts, maybe hours after it was submitted. If an
expert edits the site's config meanwhile (a new models folder, another cleaning), the
jobs already queued would silently run with it, and a night would mix two configs. So
every job is given a frozen copy: the effective configuration (every path made absolute)
as TOML, named by its checksum, in the night's state folder. The copy is written when the
job scripts are; the journal records its checksum with every submission, so the status
can say when the config on disk no longer is the one the night's jobs use.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from osa_core.config import Config, config_to_dict, config_to_toml
from osa_core.fsio import write_text_atomic

FOLDER = "config"


def frozen_text(config: Config) -> tuple[str, str]:
    """(TOML text of the effective config, its SHA-256 prefix)."""
    text = config_to_toml(config_to_dict(config))
    return text, hashlib.sha256(text.encode()).hexdigest()[:12]


def frozen_path(state_dir: Path, sha: str) -> Path:
    return state_dir / FOLDER / f"osa-{sha}.toml"


def freeze(config: Config, state_dir: Path) -> tuple[Path, str]:
    """Write the frozen copy once (atomically); return its path and checksum."""
    text, sha = frozen_text(config)
    path = frozen_path(state_dir, sha)
    if not path.exists():
        write_text_atomic(
            path,
            f"# the configuration of this night's jobs, frozen from {config.source}\n{text}",
        )
    return path, sha
