"""Copy a processed night tree for a trial, while its local runner may still be exiting.

The local executor's runner lingers a moment after its last task and, on exit, folds its
SQLite write-ahead log into the database and deletes it: a ``copytree`` listing the folder
just before finds ``*.sqlite-wal`` gone when it copies it (a flaky failure seen in CI).
Once the log is gone the database holds everything, so copying again gives a consistent
tree; a copy that keeps failing is a real problem and raises.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path


def copy_night(source: Path, target: Path, attempts: int = 5) -> None:
    for attempt in range(attempts):
        try:
            shutil.copytree(source, target, symlinks=True)
            return
        except shutil.Error:
            if attempt == attempts - 1:
                raise
            shutil.rmtree(target, ignore_errors=True)
            time.sleep(0.5)
