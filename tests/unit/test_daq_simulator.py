"""The DAQ simulator (osa_core.demo.daq): the schedule's order, the writer driven by a fake
clock, and ``osa simulate-daq`` as a user runs it, ending where ``generate_night`` does."""

from __future__ import annotations

import itertools
import subprocess
import sys
from pathlib import Path

import pytest

from osa_core.config import load_config
from osa_core.demo.daq import (
    LATE_GAP_SUBRUNS,
    DaqEvent,
    DaqSimulator,
    RealRunWriter,
    daq_schedule,
)
from osa_core.generator import GeneratedRun, NightLayout, NightSpec, generate_night
from osa_core.night.r0scan import scan_r0
from osa_core.night.runsummary import read_run_summary
from osa_core.paths import NightPaths, r0_name
from tests.conftest import NIGHT, write_config

PACE = 2.0
MAX_SUBRUNS = 10_000


def small_spec(extra_runs: tuple[GeneratedRun, ...] = ()) -> NightSpec:
    return NightSpec(night=NIGHT, data_runs=3, subruns=3, extra_runs=list(extra_runs))


def r0_of(events: list[DaqEvent]) -> list[DaqEvent]:
    return [e for e in events if e.kind == "r0"]


class FakeClock:
    """A monotonic clock that only moves when the simulator sleeps (or a test says so)."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds > 0
        self.sleeps.append(seconds)
        self.now += seconds


# --- the schedule ----------------------------------------------------------------------------


def test_schedule_lists_every_file_once_and_complete_last() -> None:
    spec = small_spec()
    events = daq_schedule(spec, pace=PACE)
    expected = {
        str(NightLayout(Path(), NIGHT).r0_dir / r0_name(stream, run.run, subrun))
        for run in spec.runs()
        for subrun in range(run.subruns)
        for stream in range(1, spec.streams + 1)
    }
    paths = [str(e.path) for e in r0_of(events)]
    assert sorted(paths) == sorted(expected)  # each once, none more
    assert [e.run for e in events if e.kind == "run_summary"] == [r.run for r in spec.runs()]
    assert events[-1].kind == "complete"
    assert [e.kind for e in events].count("complete") == 1
    assert events[-1].time > events[-2].time
    assert events[-1].path == Path("monitoring/RunSummary/RunSummary_20200218.complete")


def test_streams_of_a_subrun_land_before_the_next_subrun_begins() -> None:
    events = r0_of(daq_schedule(small_spec(), pace=PACE))
    order = list(dict.fromkeys((e.run, e.subrun) for e in events))
    for index, (run, subrun) in enumerate(order):
        mine = [e for e in events if (e.run, e.subrun) == (run, subrun)]
        assert [e.stream for e in mine] == [1, 2, 3, 4]
        positions = [events.index(e) for e in mine]
        assert positions == list(range(positions[0], positions[0] + 4))  # not interleaved
        if index + 1 < len(order):
            following = [e for e in events if (e.run, e.subrun) == order[index + 1]]
            assert max(e.time for e in mine) < min(e.time for e in following)
    assert order == sorted(order)  # runs by number, subruns in order


def test_a_run_is_listed_only_after_its_last_file_and_before_the_next_run() -> None:
    events = daq_schedule(small_spec(), pace=PACE)
    for index, event in enumerate(events):
        if event.kind != "run_summary":
            continue
        mine = [i for i, e in enumerate(events) if e.kind == "r0" and e.run == event.run]
        assert max(mine) < index
        assert event.time >= max(events[i].time for i in mine)
        later_files = [e for e in events[index + 1 :] if e.kind == "r0"]
        assert all(e.run != event.run for e in later_files)
        assert all(e.time > event.time for e in later_files)


def test_calibration_first_and_the_late_run_after_a_quiet_gap() -> None:
    spec = small_spec()
    events = daq_schedule(spec, pace=PACE, late_runs=1)
    summaries = [e for e in events if e.kind == "run_summary"]
    types = {r.run: r.run_type for r in spec.runs()}
    assert [types[e.run] for e in summaries[:2] if e.run is not None] == ["DRS4", "PEDCALIB"]
    late = max(r.run for r in spec.runs() if r.run_type == "DATA")
    assert summaries[-1].run == late
    first_late = next(e for e in events if e.kind == "r0" and e.run == late)
    before = events[events.index(first_late) - 1]
    assert before.kind == "run_summary" and before.run != late
    tick = PACE / spec.streams
    assert first_late.time - before.time == pytest.approx(LATE_GAP_SUBRUNS * PACE + tick)
    # an explicit gap is honoured, and no late run means no gap
    custom = daq_schedule(spec, pace=PACE, late_runs=1, late_gap=30.0)
    assert custom[-1].time - events[-1].time == pytest.approx(30.0 - LATE_GAP_SUBRUNS * PACE)
    none = daq_schedule(spec, pace=PACE, late_runs=0)
    assert none[-1].time == pytest.approx(events[-1].time - LATE_GAP_SUBRUNS * PACE)


def test_late_runs_are_the_last_data_runs_after_one_gap() -> None:
    spec = small_spec()
    events = daq_schedule(spec, pace=PACE, late_runs=2, late_gap=100.0)
    summaries = [e.run for e in events if e.kind == "run_summary"]
    assert summaries == sorted(summaries)
    gaps = [b for a, b in itertools.pairwise(events) if b.time - a.time > 50]
    data = sorted(r.run for r in spec.runs() if r.run_type == "DATA")
    assert [(g.kind, g.run, g.subrun, g.stream) for g in gaps] == [("r0", data[-2], 0, 1)]


@pytest.mark.parametrize("pace", [0.5, 3.0])
def test_times_follow_the_pace(pace: float) -> None:
    spec = small_spec()
    events = daq_schedule(spec, pace=pace, late_runs=1, late_gap=0.0)
    times = [e.time for e in events]
    assert times == sorted(times)
    files = r0_of(events)
    steps = {round(b.time - a.time, 9) for a, b in itertools.pairwise(files)}
    assert steps == {round(pace / spec.streams, 9)}  # one file every pace/streams, no gap
    subruns = sum(r.subruns for r in spec.runs())
    assert files[-1].time == pytest.approx(subruns * pace)


def test_schedule_writes_nothing_for_subruns_missing_on_disk() -> None:
    lossy = GeneratedRun(2100, "DATA", 3, missing_on_disk=(1,))
    spec = small_spec(extra_runs=(lossy,))
    events = daq_schedule(spec, pace=PACE, late_runs=1)
    assert {e.subrun for e in r0_of(events) if e.run == 2100} == {0, 2}
    assert [e.run for e in events if e.kind == "run_summary"][-1] == 2100


@pytest.mark.parametrize(
    ("spec", "options"),
    [
        (small_spec(), {"pace": 0.0}),
        (small_spec(), {"pace": -1.0}),
        (small_spec(), {"late_runs": 6}),  # more than the night has
        (small_spec(), {"late_runs": -1}),
        (NightSpec(night=NIGHT, data_runs=0), {"late_runs": 1}),  # would be PEDCALIB
        (small_spec(), {"late_gap": -1.0}),
    ],
)
def test_schedule_refuses_what_makes_no_night(spec: NightSpec, options: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        daq_schedule(spec, **options)  # type: ignore[arg-type]


# --- the writer -------------------------------------------------------------------------------


def on_disk(layout: NightLayout) -> set[str]:
    return {p.name for p in layout.r0_dir.iterdir()} if layout.r0_dir.is_dir() else set()


def test_step_until_writes_exactly_what_is_due(tmp_path: Path) -> None:
    spec = NightSpec(night=NIGHT, data_runs=2, subruns=2)
    clock = FakeClock()
    sim = DaqSimulator(tmp_path, spec, PACE, clock=clock, sleep=clock.sleep)
    layout = NightLayout(tmp_path, NIGHT)
    final_rows = [(r.run, r.run_type, r.subruns) for r in sorted(spec.runs(), key=lambda r: r.run)]
    starts: dict[int, int | None] = {}
    previous = -1.0
    for event in sim.events:
        if event.time == previous:
            continue
        # just before: nothing of this instant yet
        assert sim.step_until(event.time - 1e-6) == []
        written = sim.step_until(event.time)
        assert written and all(e.time == event.time for e in written)
        due = [e for e in sim.events if e.time <= event.time]
        assert on_disk(layout) == {e.path.name for e in r0_of(due)}  # no temporary left
        ended = [e.run for e in due if e.kind == "run_summary"]
        if ended:
            summary = read_run_summary(layout.run_summary, MAX_SUBRUNS)
            rows = [(r.run, r.run_type, r.declared_subruns) for r in summary.runs]
            assert rows == final_rows[: len(ended)]
            assert [r.run for r in summary.runs] == ended
            for record in summary.runs:  # a row never changes once written
                assert starts.setdefault(record.run, record.run_start_ns) == record.run_start_ns
        else:
            assert not layout.run_summary.exists()
        assert layout.run_summary_complete.exists() == (due[-1] is sim.events[-1])
        previous = event.time
    assert sim.finished and clock.sleeps == []  # step_until never sleeps
    assert sim.step_until(1e9) == []


def test_a_half_taken_subrun_is_incomplete_for_the_engine(tmp_path: Path) -> None:
    spec = NightSpec(night=NIGHT, data_runs=1, subruns=2)
    sim = DaqSimulator(tmp_path, spec, 4.0, late_runs=0)
    layout = NightLayout(tmp_path, NIGHT)
    sim.step_until(2.0)  # two streams of DRS4 subrun 0 (one every second)
    assert scan_r0(layout.r0_dir, spec.streams)[2000].incomplete == (0,)
    sim.step_until(4.0)
    seen = scan_r0(layout.r0_dir, spec.streams)[2000]
    assert (seen.subruns, seen.incomplete) == ((0,), ())


def test_catalog_and_drive_log_come_first_and_match_the_generator(tmp_path: Path) -> None:
    spec = NightSpec(night=NIGHT, data_runs=2, subruns=1)
    generate_night(tmp_path / "generated", spec)
    sim = DaqSimulator(tmp_path / "daq", spec, PACE)
    assert sim.step_until(0.0) == []
    for name in ("run_catalog", "drive_log"):
        daq = getattr(NightLayout(tmp_path / "daq", NIGHT), name)
        generated = getattr(NightLayout(tmp_path / "generated", NIGHT), name)
        assert daq.read_bytes() == generated.read_bytes()
    assert not NightLayout(tmp_path / "daq", NIGHT).run_summary.exists()


def test_run_sleeps_until_each_event_and_never_when_late(tmp_path: Path) -> None:
    spec = NightSpec(night=NIGHT, data_runs=1, subruns=2)
    clock = FakeClock()
    seen: list[tuple[float, DaqEvent]] = []
    origin = clock.now
    sim = DaqSimulator(
        tmp_path,
        spec,
        PACE,
        clock=clock,
        sleep=clock.sleep,
        on_event=lambda event: seen.append((clock.now - origin, event)),
    )
    sim.run()
    assert [event for _, event in seen] == sim.events
    assert all(at == pytest.approx(event.time) for at, event in seen)
    assert sum(clock.sleeps) == pytest.approx(sim.events[-1].time)
    assert NightLayout(tmp_path, NIGHT).run_summary_complete.exists()

    # a writer slower than the pace: events come as fast as it goes, no sleep
    slow = FakeClock()

    def slow_writer(target: Path, run: GeneratedRun, subrun: int, stream: int) -> bool:
        slow.now += PACE  # each file takes a whole subrun's time
        target.write_bytes(b"")
        return True

    late = DaqSimulator(
        tmp_path / "slow", spec, PACE, clock=slow, sleep=slow.sleep, r0_writer=slow_writer
    )
    late.run()
    assert late.finished and len(slow.sleeps) <= 2  # only the late gap and the .complete tick


def test_layout_is_where_the_engine_looks(tmp_path: Path) -> None:
    paths = NightPaths(load_config(write_config(tmp_path), check_paths=False), NIGHT)
    layout = NightLayout(tmp_path, NIGHT)
    for name in ("r0_dir", "run_summary", "run_summary_complete", "run_catalog", "drive_log"):
        assert getattr(layout, name).resolve() == getattr(paths, name).resolve(), name


def test_real_run_writer_puts_the_real_file_in_place_of_one_subrun(tmp_path: Path) -> None:
    real = tmp_path / "LST-1.1.Run02008.0000_first50.fits.fz"
    real.write_bytes(b"SIMPLE  = T  not really the real file")
    spec = NightSpec(night=NIGHT, data_runs=1, subruns=2, first_run=2006)
    sim = DaqSimulator(tmp_path / "night", spec, PACE, late_runs=0, r0_writer=RealRunWriter(real))
    sim.step_until(1e9)
    layout = NightLayout(tmp_path / "night", NIGHT)
    assert (layout.r0_dir / r0_name(1, 2008, 0)).read_bytes() == real.read_bytes()
    assert not (layout.r0_dir / r0_name(2, 2008, 0)).exists()
    assert (layout.r0_dir / r0_name(4, 2008, 1)).stat().st_size == 0  # placeholder
    assert scan_r0(layout.r0_dir, spec.streams)[2008].incomplete == (0,)
    assert not any(name.startswith(".") for name in on_disk(layout))


@pytest.mark.slow  # ~5-15 s: the demo's generator writes 198 events with night-sky light
def test_demo_writer_writes_zfits_streams(tmp_path: Path) -> None:
    pytest.importorskip("protozfits")
    from osa_core.demo.daq import DemoZfitsWriter

    spec = NightSpec(night=NIGHT, data_runs=1, subruns=1, streams=2, with_calibration=False)
    sim = DaqSimulator(tmp_path, spec, PACE, late_runs=0, r0_writer=DemoZfitsWriter(spec))
    layout = NightLayout(tmp_path, NIGHT)
    sim.step_until(PACE / 2)  # stream 1: the whole subrun is generated, only it is in place
    assert on_disk(layout) == {r0_name(1, 2000, 0), ".daq-staging"}
    sim.step_until(1e9)
    assert on_disk(layout) == {r0_name(1, 2000, 0), r0_name(2, 2000, 0)}  # staging removed
    for stream in (1, 2):
        assert (layout.r0_dir / r0_name(stream, 2000, 0)).read_bytes()[:6] == b"SIMPLE"


# --- osa simulate-daq ---------------------------------------------------------------------------


def osa(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "osa_core.cli.main", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_simulate_daq_ends_where_generate_night_does(tmp_path: Path) -> None:
    daq, generated = tmp_path / "daq", tmp_path / "generated"
    spec = NightSpec(night=NIGHT, data_runs=2, subruns=2)
    result = osa(
        "simulate-daq", "--dir", str(daq), "--date", "2020-02-18", "--pace", "0.05",
        "--runs", "2", "--subruns", "2", "--late-runs", "1",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    events = daq_schedule(spec, pace=0.05, late_runs=1)
    assert len(lines) == len(events)
    assert all(
        str(e.path) in line and e.kind in line for e, line in zip(events, lines, strict=True)
    )
    assert "complete" in lines[-1]

    generate_night(generated, spec)
    mine, theirs = NightLayout(daq, NIGHT), NightLayout(generated, NIGHT)
    assert sorted(on_disk(mine)) == sorted(on_disk(theirs))
    assert mine.run_summary.read_text() == theirs.run_summary.read_text()
    assert mine.run_catalog.read_bytes() == theirs.run_catalog.read_bytes()
    assert mine.drive_log.read_bytes() == theirs.drive_log.read_bytes()
    assert mine.run_summary_complete.is_file()
    assert not theirs.run_summary_complete.exists()
    rows = read_run_summary(mine.run_summary, MAX_SUBRUNS).runs
    assert [r.run for r in rows] == [2000, 2001, 2002, 2003]


@pytest.mark.parametrize(
    ("args", "word"),
    [
        (["--pace", "0"], "--pace"),
        (["--pace", "nan"], "--pace"),
        (["--runs", "2", "--late-runs", "3"], "--late-runs"),
        (["--subruns", "0"], "--subruns"),
        (["--date", "2020-13-45"], "--date"),
    ],
)
def test_simulate_daq_bad_arguments_are_one_line(
    tmp_path: Path, args: list[str], word: str
) -> None:
    result = osa("simulate-daq", "--dir", str(tmp_path), *args)
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("osa: error: ") and word in lines[0], (
        result.stderr
    )
    assert not any(tmp_path.iterdir())  # refused before writing anything


def test_simulate_daq_refuses_a_night_already_there(tmp_path: Path) -> None:
    generate_night(tmp_path, NightSpec(night=NIGHT, data_runs=1, subruns=1))
    before = NightLayout(tmp_path, NIGHT).run_summary.read_bytes()
    result = osa("simulate-daq", "--dir", str(tmp_path), "--pace", "0.01")
    assert result.returncode != 0 and "already there" in result.stderr
    assert NightLayout(tmp_path, NIGHT).run_summary.read_bytes() == before
