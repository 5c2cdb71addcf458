"""One actor at a time per night: cron ticks, the console and the CLI take this lock.

An ``fcntl`` lock on a file in the night's state folder (released by the kernel if the
holder dies, so a crash never leaves a stale lock). The holder writes who it is, so the
one refused can say who is acting and since when.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import getpass
import os
import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from osa_core.errors import Locked
from osa_core.fsio import ensure_dir


def _who() -> str:
    try:
        user = getpass.getuser()
    except Exception:
        user = str(os.getuid())
    command = " ".join(Path(a).name for a in sys.argv[:3])
    return (
        f"{user}@{socket.gethostname()} pid {os.getpid()} ({command}) since "
        f"{dt.datetime.now():%H:%M:%S}"
    )


@contextlib.contextmanager
def night_lock(path: Path, wait: float = 0.0) -> Iterator[None]:
    """Hold the night's action lock; wait up to ``wait`` seconds, then raise ``Locked``."""
    ensure_dir(path.parent)
    handle = open(path, "a+")  # noqa: SIM115 - closed in finally
    try:
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    handle.seek(0)
                    holder = handle.read().strip() or "another process"
                    raise Locked(
                        f"{path.parent.name}: another actor is working on this night: {holder}"
                    ) from None
                time.sleep(0.1)
        handle.seek(0)
        handle.truncate()
        handle.write(_who() + "\n")
        handle.flush()
        try:
            yield
        finally:
            handle.seek(0)
            handle.truncate()
            handle.flush()
            fcntl.flock(handle, fcntl.LOCK_UN)
    finally:
        handle.close()
