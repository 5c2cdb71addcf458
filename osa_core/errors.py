"""Errors the engine raises on purpose, each mapped to a documented exit code.

Every error a user can cause (bad config, bad RunSummary, a night that cannot be planned)
is one of these, so the CLI prints one line and exits with a meaningful code instead of a
traceback. Exit codes are part of the ``--batch`` contract documented in docs/batch.md.
"""

from __future__ import annotations


class ExitCode:
    """Exit codes shared by every face (CLI, ``--batch``)."""

    OK = 0
    FAILURE = 1
    BAD_INPUT = 2
    NEEDS_OPERATOR = 3
    SCHEDULER_UNREACHABLE = 4
    LOCKED = 5


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
