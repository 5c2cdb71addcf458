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
from typing import IO, ClassVar

from osa_core.errors import Locked
from osa_core.fsio import ensure_dir, failing_as, open_shared


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


class FileLock:
    """An exclusive ``flock`` on a file: the kernel releases it when its holder dies, so a
    crash never leaves a stale lock. The holder writes who it is into the file, so the one
    refused can say who holds it. The one lock of the engine: the night's action lock,
    the local runner's lock and the closer's locks are all this."""

    _held_here: ClassVar[set[Path]] = set()  # the locks this process holds

    def __init__(self, path: Path) -> None:
        self.path = path
        self.handle: IO[str] | None = None

    def try_acquire(self, who: str | None = None) -> bool:
        """Take the lock without waiting; write ``who`` (default: this process)."""
        ensure_dir(self.path.parent)
        # group-writable whatever the umask: another operator of the night must be able
        # to take it (and, refused, to read who holds it)
        with failing_as("lock", self.path):
            handle = os.fdopen(open_shared(self.path, os.O_RDWR | os.O_APPEND), "a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            return False
        handle.seek(0)
        handle.truncate()
        handle.write((who or _who()) + "\n")
        handle.flush()
        self.handle = handle
        self._held_here.add(self.path)
        return True

    def release(self) -> None:
        """Unlock (the holder line is cleared first, so nobody reads a stale holder)."""
        if self.handle is None:
            return
        try:
            self.handle.seek(0)
            self.handle.truncate()
            self.handle.flush()
            fcntl.flock(self.handle, fcntl.LOCK_UN)
        finally:
            self.handle.close()
            self.handle = None
            self._held_here.discard(self.path)

    def holder(self) -> str:
        """Who holds it, as its holder wrote (best effort)."""
        try:
            return self.path.read_text().strip()
        except OSError:
            return ""

    def held_elsewhere(self) -> bool:
        """True when another process holds it (or may: a lock file this process cannot
        open). Read-only: never creates, takes or writes the file."""
        if self.path in self._held_here:
            return False
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except FileNotFoundError:
            return False
        except OSError:
            return True
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        finally:
            os.close(fd)  # closing also drops the shared lock taken to probe
        return False

    def is_held(self) -> bool:
        """True when another process holds it (checked without keeping it)."""
        if not self.path.exists():
            return False
        if self.try_acquire("probe"):
            self.release()
            return False
        return True


@contextlib.contextmanager
def night_lock(path: Path, wait: float = 0.0) -> Iterator[None]:
    """Hold the night's action lock; wait up to ``wait`` seconds, then raise ``Locked``."""
    lock = FileLock(path)
    deadline = time.monotonic() + wait
    while not lock.try_acquire():
        if time.monotonic() >= deadline:
            holder = lock.holder() or "another process"
            raise Locked(f"{path.parent.name}: another actor is working on this night: {holder}")
        time.sleep(0.1)
    try:
        yield
    finally:
        lock.release()
