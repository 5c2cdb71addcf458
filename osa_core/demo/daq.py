"""A DAQ simulator: writes a night over time, as the telescope's data acquisition does.

Tests, the demo and benchmarks need a night that *grows* (issue 15, item 6), not one that is
all there at once (:func:`osa_core.generator.generate_night`): live processing must start
on the first subruns while later ones are still being taken, see a RunSummary that lists a
run only once it ended, cope with a run added after the night looked finished, and close
only after the end-of-observation signal.

Two halves, so that a test can reason about the night without writing anything:

* :func:`daq_schedule` is pure: the ordered list of :class:`DaqEvent` (what appears, when,
  where, relative to the night's base folder) for a :class:`~osa_core.generator.NightSpec`
  and a pace;
* :class:`DaqSimulator` writes those events under a base folder, in real time with
  :meth:`DaqSimulator.run`, or up to a chosen offset with :meth:`DaqSimulator.step_until`
  (a test drives it with a fake clock and never sleeps).

The end state is exactly what ``generate_night`` writes for the same spec (same R0 names,
same RunSummary rows, same RunCatalog and drive log), plus ``RunSummary_YYYYMMDD.complete``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from osa_core.fsio import ensure_dir, open_shared
from osa_core.generator import (
    GeneratedRun,
    NightLayout,
    NightSpec,
    run_start,
    write_drive_log,
    write_run_catalog,
    write_run_summary,
)
from osa_core.paths import r0_name

EventKind = Literal["r0", "run_summary", "complete"]

#: Quiet time before the late runs, in subruns' worth of time: long enough that every run
#: listed so far is complete on disk and nothing moves, i.e. the night *looks* finished.
LATE_GAP_SUBRUNS = 5

#: ``writer(target, run, subrun, stream) -> written``: fill ``target`` (a temporary name in
#: the R0 folder, renamed by the simulator) with stream ``stream`` of ``run``/``subrun``;
#: return False to leave that stream out (the real run 2008 only has stream 1).
R0Writer = Callable[[Path, GeneratedRun, int, int], bool]


@dataclass(frozen=True)
class DaqEvent:
    """One thing the DAQ does, ``time`` seconds after the night's start.

    ``r0``: one stream file of a subrun appears (``run``, ``subrun``, ``stream`` set);
    ``run_summary``: ``run`` ended and the RunSummary is rewritten with it;
    ``complete``: the end-of-observation signal. ``path`` is relative to the base folder.
    """

    kind: EventKind
    time: float
    path: Path
    run: int | None = None
    subrun: int | None = None
    stream: int | None = None


def daq_schedule(
    spec: NightSpec,
    *,
    pace: float = 1.0,
    late_runs: int = 1,
    late_gap: float | None = None,
) -> list[DaqEvent]:
    """The night as the DAQ writes it, in order, one subrun every ``pace`` seconds.

    Runs come in run-number order, as the DAQ numbers them in time (``NightSpec`` gives the
    DRS4 and PEDCALIB runs the first numbers, so calibration comes first as on a real
    night). A subrun's streams land one by one, ``pace / streams`` apart, the last one
    before the next subrun's first; a run's RunSummary row comes with its last file (on
    site a run is listed only once it ended). The last ``late_runs`` runs (DATA) come after
    ``late_gap`` seconds of silence (default :data:`LATE_GAP_SUBRUNS` subruns): the night
    looks finished, then grows. ``RunSummary_YYYYMMDD.complete`` comes last.

    Subruns a run leaves out on disk (``missing_on_disk``) take their time but write nothing.
    """
    if not pace > 0:
        raise ValueError(f"pace must be positive, got {pace}")
    gap = LATE_GAP_SUBRUNS * pace if late_gap is None else late_gap
    if gap < 0:
        raise ValueError(f"late_gap must not be negative, got {late_gap}")
    on_time, late = split_late(spec.runs(), late_runs)
    layout = NightLayout(Path(), spec.night)
    tick = pace / spec.streams
    events: list[DaqEvent] = []
    clock = 0.0
    for index, run in enumerate(on_time + late):
        if index == len(on_time):
            clock += gap
        clock = _run_events(run, layout, spec.streams, tick, clock, events)
    events.append(DaqEvent("complete", clock + tick, layout.run_summary_complete))
    return events


def split_late(
    runs: Iterable[GeneratedRun], late_runs: int
) -> tuple[list[GeneratedRun], list[GeneratedRun]]:
    """(runs taken on time, runs added late), by run number. The late ones are the last
    runs of the night, so the RunSummary only ever lists a prefix of the night by run
    number and each of its rows is already the final one."""
    ordered = sorted(runs, key=lambda run: run.run)
    if not 0 <= late_runs <= len(ordered):
        raise ValueError(f"late_runs must be between 0 and {len(ordered)}, got {late_runs}")
    cut = len(ordered) - late_runs
    late = ordered[cut:]
    if any(run.run_type != "DATA" for run in late):
        raise ValueError(f"the last {late_runs} run(s) of the night are not all DATA runs")
    return ordered[:cut], late


def _run_events(
    run: GeneratedRun,
    layout: NightLayout,
    streams: int,
    tick: float,
    clock: float,
    events: list[DaqEvent],
) -> float:
    """Append one run's events from ``clock`` on; return the time of its last event."""
    for subrun in range(run.subruns):
        for stream in range(1, streams + 1):
            clock += tick
            if subrun not in run.missing_on_disk:
                path = layout.r0_dir / r0_name(stream, run.run, subrun)
                events.append(DaqEvent("r0", clock, path, run.run, subrun, stream))
    events.append(DaqEvent("run_summary", clock, layout.run_summary, run.run))
    return clock


def placeholder_r0(target: Path, run: GeneratedRun, subrun: int, stream: int) -> bool:
    """An empty R0 file, like ``touch_r0``: the name is all the planner reads."""
    os.close(open_shared(target, os.O_WRONLY))
    return True


class DemoZfitsWriter:
    """Real zfits content from the demo's generator (``write_r0_subrun``).

    The demo writes a subrun's streams together (events are dealt round-robin over them),
    so the first stream asked for generates the whole subrun into a hidden staging folder
    beside the R0 files (same file system; ``scan_r0`` does not look into sub-folders) and
    each stream is then moved into place when its turn comes. Runs get the demo's event
    mix for their type and the start time of their RunSummary row. A few seconds per
    subrun: with a fast pace the files simply come as soon as they are written.
    """

    def __init__(self, spec: NightSpec, seed: int = 7) -> None:
        from osa_core.demo.night import demo_runs  # the demo's own per-type event mix

        self.spec = spec
        self.seed = seed
        self.mix = {run.kind: run for run in reversed(demo_runs())}  # first of each type
        ranks = sorted(run.run for run in spec.runs())
        self.starts = {number: run_start(spec.night, rank) for rank, number in enumerate(ranks)}

    @staticmethod
    def staging(target: Path) -> Path:
        return target.parent / ".daq-staging"

    def __call__(self, target: Path, run: GeneratedRun, subrun: int, stream: int) -> bool:
        staged = self.staging(target) / r0_name(stream, run.run, subrun)
        if not staged.exists():
            self._generate(self.staging(target), run, subrun)
        os.replace(staged, target)
        with contextlib.suppress(OSError):  # gone once its last subrun is in place
            staged.parent.rmdir()
        return True

    def _generate(self, folder: Path, run: GeneratedRun, subrun: int) -> None:
        from osa_core.demo import r0_writer as rw  # heavy (numpy, protozfits) inside

        mix = self.mix.get(run.run_type)
        if mix is None:
            raise ValueError(f"run {run.run}: the demo cannot generate {run.run_type!r} runs")
        rw.write_r0_subrun(
            ensure_dir(folder),
            run.run,
            subrun,
            mix.events,
            run.run_type,
            streams=self.spec.streams,
            seed=self.seed,
            run_start=self.starts[run.run],
            n_pedestals=mix.pedestals,
            n_flatfields=mix.flatfields,
            nsb_rate_ghz=mix.nsb_rate_ghz,
        )


class RealRunWriter:
    """The real LST-1 run 2008 file (``fetch_real_lst_r0``) as stream 1 of a chosen subrun.

    The run number is inside the file, so the night must hold run 2008 (e.g. a
    ``NightSpec`` with ``first_run=2006``: DRS4 2006, PEDCALIB 2007, DATA 2008...). The
    real file is stream 1 of 4 and the only one there is: the other streams of that subrun
    are left out (``LSTEventSource`` reads the streams that exist; the engine reports the
    subrun as missing streams). Every other file goes to ``fallback``. A copy, not the
    demo's symlink: the DAQ writes files, and a test may remove the night.
    """

    def __init__(
        self, real_file: Path, subrun: int = 0, fallback: R0Writer = placeholder_r0
    ) -> None:
        from osa_core.demo.r0_writer import REAL_RUN

        self.real_file = real_file
        self.run = REAL_RUN
        self.subrun = subrun
        self.fallback = fallback

    def __call__(self, target: Path, run: GeneratedRun, subrun: int, stream: int) -> bool:
        if (run.run, subrun) != (self.run, self.subrun):
            return self.fallback(target, run, subrun, stream)
        if stream != 1:
            return False
        shutil.copyfile(self.real_file, target)
        return True


class DaqSimulator:
    """Writes :func:`daq_schedule`'s events under ``base`` when they are due.

    Each R0 stream file is written to a hidden temporary name in the R0 folder and renamed.
    This is *not* how the DAQ works: on Lustre its files grow in place under their final
    name, so the engine's completeness rule (a subrun is complete when all its streams are
    there, ``osa_core.night.r0scan``) must never depend on sizes or on a rename. The rename
    here only keeps a test from reading half a placeholder or half a zfits file. The
    RunSummary is rewritten atomically (``fsio``) with every run ended so far; the RunCatalog
    and the drive log are written at the start, as they are known before the night.
    """

    def __init__(
        self,
        base: Path,
        spec: NightSpec,
        pace: float,
        *,
        late_runs: int = 1,
        late_gap: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        r0_writer: R0Writer = placeholder_r0,
        on_event: Callable[[DaqEvent], None] | None = None,
        run_summary_writer: Callable[[list[GeneratedRun]], None] | None = None,
        auxiliary: bool = True,
    ) -> None:
        """``run_summary_writer`` writes the RunSummary of the runs ended so far (default:
        the generator's rows); ``auxiliary=False`` leaves the RunCatalog and drive log as
        they are (a replay of a night that has its own)."""
        self.base = base
        self.spec = spec
        self.layout = NightLayout(base, spec.night)
        self.events = daq_schedule(spec, pace=pace, late_runs=late_runs, late_gap=late_gap)
        self.clock = clock
        self.sleep = sleep
        self.r0_writer = r0_writer
        self.on_event = on_event
        self.run_summary_writer = run_summary_writer or (
            lambda ended: write_run_summary(self.layout.run_summary, self.spec.night, ended)
        )
        self.auxiliary = auxiliary
        self.runs = {run.run: run for run in spec.runs()}
        self.ended: list[GeneratedRun] = []
        self.done = 0
        self.started = False

    @property
    def finished(self) -> bool:
        return self.done == len(self.events)

    def start(self) -> None:
        """What is known before the night: the RunCatalog, the drive log, the R0 folder."""
        if self.started:
            return
        self.started = True
        if self.auxiliary:
            if self.spec.with_catalog:
                write_run_catalog(self.layout.run_catalog, self.spec.runs())
            write_drive_log(self.layout.drive_log, self.spec.night)
        ensure_dir(self.layout.r0_dir)

    def step_until(self, offset: float) -> list[DaqEvent]:
        """Write every event due by ``offset`` seconds from the start; return them."""
        self.start()
        written = []
        while not self.finished and self.events[self.done].time <= offset:
            written.append(self._write_next())
        return written

    def run(self) -> None:
        """Write every event at its time (late ones at once: a slow writer never skips)."""
        self.start()
        origin = self.clock()
        while not self.finished:
            wait = origin + self.events[self.done].time - self.clock()
            if wait > 0:
                self.sleep(wait)
            self._write_next()

    def _write_next(self) -> DaqEvent:
        event = self.events[self.done]
        if event.kind == "r0":
            self._write_r0(event)
        elif event.kind == "run_summary":
            assert event.run is not None
            self.ended.append(self.runs[event.run])
            self.run_summary_writer(self.ended)
        else:
            ensure_dir(self.layout.run_summary_complete.parent)
            os.close(open_shared(self.layout.run_summary_complete, os.O_WRONLY))
        self.done += 1
        if self.on_event is not None:
            self.on_event(event)
        return event

    def _write_r0(self, event: DaqEvent) -> None:
        assert event.run is not None and event.subrun is not None and event.stream is not None
        final = self.base / event.path
        partial = final.with_name(f".{final.name}.daq-tmp")
        if self.r0_writer(partial, self.runs[event.run], event.subrun, event.stream):
            os.replace(partial, final)
