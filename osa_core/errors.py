"""Errors the engine raises on purpose, each mapped to a documented exit code.

Every error a user can cause (bad config, bad RunSummary, a night that cannot be planned)
is one of these, so the CLI prints one line and exits with a meaningful code instead of a
traceback. Exit codes are part of the ``--batch`` contract documented in docs/batch.md.
"""

from __future__ import annotations

from pathlib import Path


class ExitCode:
    """Exit codes shared by every face (CLI, ``--batch``)."""

    OK = 0
    FAILURE = 1
    BAD_INPUT = 2
    NEEDS_OPERATOR = 3
    SCHEDULER_UNREACHABLE = 4
    LOCKED = 5
    FILESYSTEM = 6


class OsaError(Exception):
    """Base of all expected errors; ``str(err)`` is the one line shown to the user."""

    exit_code = ExitCode.FAILURE


class InputError(OsaError):
    """A file the user gave us (RunSummary, catalog, config) is wrong or missing."""

    exit_code = ExitCode.BAD_INPUT


class ConfigError(InputError):
    """The configuration is invalid: names the file, line and key."""


class NeedsOperator(OsaError):
    """The night cannot progress without a human decision (e.g. no calibration found)."""

    exit_code = ExitCode.NEEDS_OPERATOR


class SchedulerUnavailable(OsaError):
    """The scheduler (slurmctld/slurmdbd) does not answer; state shown is the last known."""

    exit_code = ExitCode.SCHEDULER_UNREACHABLE


class Locked(OsaError):
    """Another process (tick or console) holds the night's action lock."""

    exit_code = ExitCode.LOCKED


class FilesystemError(OsaError, OSError):
    """A file or folder could not be read or written: permission denied, a read-only or
    full filesystem, a stale NFS handle. One line names what was being done and the path:
    ``cannot write /…/journal.jsonl: Permission denied``. Raised by ``osa_core.fsio``; any
    other ``OSError`` reaching a face is reported the same way (``filesystem_error``). An
    ``OSError`` still, so code that tolerates one (a cache it cannot write) goes on."""

    exit_code = ExitCode.FILESYSTEM

    def __init__(self, doing: str, path: str | Path, strerror: str, errno: int | None = None):
        OSError.__init__(self, errno, strerror, str(path))
        self.doing = doing

    def __str__(self) -> str:
        return f"cannot {self.doing} {self.filename}: {self.strerror}"

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (type(self), (self.doing, self.filename, self.strerror, self.errno))


def filesystem_error(err: OSError, doing: str = "access", path: str | Path = "") -> OsaError:
    """``err`` as a one-line ``FilesystemError`` (kept as it is when it is one already)."""
    if isinstance(err, OsaError):
        return err
    where = err.filename if err.filename is not None else (path or "a file")
    return FilesystemError(doing, where, err.strerror or str(err), err.errno)
