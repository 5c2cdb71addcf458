"""``osa live``: process a night while the telescope observes, one tick per change.

The same tick as cron's (``osa_core.usecases.tick``), run in one long-lived process that
imports the engine once and ticks when something changed: a file event in the night's R0
folder, its RunSummary folder or its job histories (a subrun's step ended), debounced; and
at least every ``[night] live_poll_seconds``, because a shared file system (Lustre, NFS)
shows no watcher the writes of other hosts (a SLURM job on another node). A tick on an
unchanged night costs a few milliseconds (the night's snapshot is reused). The loop ends
when the night is closed, or on a stop request (Ctrl-C, ``stop``).
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from osa_core.config import Config
from osa_core.errors import OsaError
from osa_core.executors.api import Executor
from osa_core.executors.factory import get_executor
from osa_core.paths import NightPaths
from osa_core.usecases.tick import TickReport, tick

#: file events closer together than this make one tick (a subrun's four streams landing)
DEBOUNCE_MS = 300


@dataclass
class LiveStats:
    """What the loop did: ticks, why each ran, and what they cost (``bench``, the docs)."""

    ticks: int = 0
    by_event: int = 0
    by_poll: int = 0
    seconds: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def watched_folders(paths: NightPaths) -> list[Path]:
    """The folders whose changes call for a tick (created if absent: a watch needs them;
    the R0 folder of a night not begun yet is the DAQ's to create: its parent, the R0
    tree, is watched, recursively)."""
    r0 = paths.r0_dir if paths.r0_dir.is_dir() else paths.r0_dir.parent
    folders = [r0, paths.run_summary.parent, paths.history_dir, paths.gain_selection_dir]
    for folder in folders:
        folder.mkdir(parents=True, exist_ok=True)
    return folders


def file_events(folders: list[Path], stop: threading.Event, timeout: float) -> Iterator[set[str]]:
    """Batches of changed paths (an empty batch when ``timeout`` passed without one)."""
    import watchfiles  # only the live loop needs it

    for changes in watchfiles.watch(
        *folders,
        stop_event=stop,
        debounce=DEBOUNCE_MS,
        rust_timeout=int(timeout * 1000),
        yield_on_timeout=True,
        raise_interrupt=False,
    ):
        yield {path for _, path in changes}


def live_loop(
    config: Config,
    night: dt.date,
    *,
    stop: threading.Event | None = None,
    report: Callable[[TickReport], None] = lambda _: None,
    executor: Executor | None = None,
    events: Callable[[list[Path], threading.Event, float], Iterable[set[str]]] | None = None,
) -> LiveStats:
    """Tick now, then on every batch of file events or poll timeout, until the night is
    closed or ``stop`` is set. A tick that fails (bad input, scheduler down) is reported
    and retried at the next event or poll: a live night is never abandoned for one."""
    stop = stop or threading.Event()
    paths = NightPaths(config, night)
    executor = executor or get_executor(config)
    stats = LiveStats()
    timeout = config.night.live_poll_seconds
    source = events or file_events

    def one_tick(by_event: bool) -> None:
        start = time.perf_counter()
        try:
            report(tick(config, night, executor))
        except OsaError as err:
            stats.errors.append(f"{type(err).__name__}: {err}")
            report(_error_report(night, err))
        stats.seconds.append(time.perf_counter() - start)
        stats.ticks += 1
        if by_event:
            stats.by_event += 1
        else:
            stats.by_poll += 1

    one_tick(by_event=False)
    if paths.night_finished.exists():
        return stats
    for changes in source(watched_folders(paths), stop, timeout):
        if stop.is_set():
            break
        one_tick(by_event=bool(changes))
        if paths.night_finished.exists():
            break
    return stats


def _error_report(night: dt.date, err: OsaError) -> TickReport:
    failed = TickReport(
        night=night.isoformat(), started=dt.datetime.now(dt.timezone.utc).isoformat()
    )
    failed.log(f"PROBLEM {type(err).__name__}: {err} (next tick at the next change)")
    failed.exit_code = err.exit_code
    return failed
