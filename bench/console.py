"""Row 3: the console with 10,000 subruns, our grid vs a plain Textual ``DataTable``.

Why: the shifter's "all subruns" view of a full night is the console's biggest screen; a
``DataTable`` with 10,000 rows takes about a second to appear, our line-API ``SubrunGrid``
renders only the visible lines.

What (headless, ``App.run_test(size=(160, 50))``, same criterion for both sides): a tiny app
mounting our ``SubrunGrid`` with 10,000 cells vs a tiny app mounting a ``DataTable`` with the
same 10,000 rows (run, subrun, state). *First paint* = from creating the app until the last
screen update that shows the data (``App._display`` is wrapped to time every compositor
update; Pilot's own idle-detection sleeps after it are not counted). *Key-to-screen* = from
sending a key (``down``) until the last screen update it caused; ours in the real console
(``OsaApp`` on a frozen 10,000-subrun night, ``RunScreen(None)``, which also refreshes the
detail panel), and the grid alone for comparison. The Pilot-timed figures (``press`` +
``pause``, as a test would time them) are reported too: they include Pilot's sleeps (20 ms
granularity), measured on an empty app as the harness floor.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import statistics
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

from common import NIGHT, Context, Row, Stat, alternate, fmt, limit_row, speedup_row

NAME = "console"
TITLE = "Console with 10,000 subruns"
DESCRIPTION = """\
**Console** — headless Textual (`App.run_test(size=(160, 50))`), the same criterion on
both sides. *First paint*: a tiny app mounting our `SubrunGrid` with 10,000 cells (50 runs
× 200 subruns, a realistic mix of states) against a tiny app mounting a plain `DataTable`
with the same 10,000 rows (run, subrun, state); timed from creating the app to the last
screen update that shows the data (`App._display` is wrapped to timestamp every
compositor update; a check afterwards confirms the screen shows run numbers). *Key to
screen*: from sending `down` to the last screen update it caused, median of 30 presses;
ours in the real console, `OsaApp` on a frozen 10,000-subrun night with the all-subruns
screen `RunScreen(None)` open (it also redraws the detail panel), the reference in the
`DataTable` app; the grid alone in its tiny app is given in the notes. The Pilot-timed
figures (`await pilot.press("down")` + `await pilot.pause()`) are shown in the notes too:
Pilot sleeps in 20 ms steps while it waits for idle, so they carry a floor, measured on an
app with an empty focused widget. *Open*:
pressing `a` in the console (night table shown) until the all-subruns grid is painted.
Memory: `tracemalloc` peak while mounting and painting (separate untimed runs). Apps are
alternated grid/table, 11 rounds after one warm-up each.
"""

RUNS = 50
SUBRUNS = 200
SIZE = (160, 50)
PRESSES = 30
FROZEN = dt.datetime(2024, 3, 16, 7, 30, tzinfo=dt.timezone.utc)


def _state(run_index: int, subrun: int) -> tuple[str, tuple[str, ...], str]:
    """A deterministic, realistic mix: mostly done, a running tail, some pending/failed."""
    steps = ("r0_to_dl1", "dl1ab", "datacheck")
    if run_index < 35:
        if (run_index * 7 + subrun) % 97 == 0:
            return "FAILED", steps[:1], "dl1ab exited 1"
        return "COMPLETED", steps, ""
    if run_index < 40:
        return ("RUNNING", steps[:1], "") if subrun % 3 else ("COMPLETED", steps, "")
    return "PENDING", (), "Resources"


def frozen_view(config: Any) -> Any:
    """A NightView of RUNS × SUBRUNS subruns built in memory (no scheduler, no disk)."""
    from osa_core.generator import SOURCES
    from osa_core.plan import CALIBRATION, DATA, Calibration, Plan, Sequence
    from osa_core.rules.readiness import readiness
    from osa_core.status import NightStatus, SequenceStatus, SubrunStatus
    from osa_core.status import aggregate_state as _aggregate
    from osa_tui.engine import NightView

    calibration = Calibration(NIGHT, 2000, 2001, 0, True)
    sequences = [
        Sequence(0, CALIBRATION, 2001, None, (0,), 10, NIGHT, drs4_run=2000, needs_job=False)
    ]
    for index in range(RUNS):
        name, ra, dec = SOURCES[index % len(SOURCES)]
        sequences.append(
            Sequence(
                index + 1,
                DATA,
                2002 + index,
                0,
                tuple(range(SUBRUNS)),
                SUBRUNS,
                NIGHT,
                source_name=name,
                source_ra=ra,
                source_dec=dec,
                drs4_run=2000,
            )
        )
    plan = Plan(NIGHT, calibration, tuple(sequences), ())
    statuses = []
    for number, sequence in enumerate(sequences):
        subs = []
        for subrun in sequence.subruns:
            if sequence.kind == CALIBRATION:
                state, steps, reason = "COMPLETED", ("drs4_baseline", "calibration"), ""
            else:
                state, steps, reason = _state(number - 1, subrun)
            failed = state == "FAILED"
            subs.append(
                SubrunStatus(
                    run=sequence.run,
                    subrun=subrun,
                    state=state,
                    attempts=1,
                    job_id=str(100 + number),
                    exit_code=1 if failed else 0 if state == "COMPLETED" else None,
                    elapsed=1800.0 + subrun,
                    cpu=1700.0,
                    max_rss=2_400_000_000,
                    steps_done=steps,
                    failed_step="dl1ab" if failed else None,
                    failed_rc=1 if failed else None,
                    failures=(("dl1ab", 1),) if failed else (),
                    reason=reason,
                    scheduler_state=state,
                )
            )
        counts: dict[str, int] = {}
        for sub in subs:
            counts[sub.state] = counts.get(sub.state, 0) + 1
        total = len(subs)
        percent: dict[str, float | None] = {}
        if sequence.kind != CALIBRATION:
            for column, step in (
                ("DL1", "r0_to_dl1"),
                ("MUONS", "r0_to_dl1"),
                ("DL1AB", "dl1ab"),
                ("DCHECK", "datacheck"),
            ):
                percent[column] = 100 * sum(step in s.steps_done for s in subs) / total
            percent["DL2"] = 0.0
        statuses.append(
            SequenceStatus(
                sequence=sequence,
                state=_aggregate(subs),
                subruns=subs,
                counts=counts,
                percent=percent,
                job_ids=[str(100 + number)],
                attempts=1,
                cpu=1700.0 * total,
                exit_code=None,
            )
        )
    status = NightStatus(
        night=NIGHT,
        plan=plan,
        sequences=statuses,
        executor="SLURM",
        scheduler_ok=True,
        scheduler_message="",
        as_of=FROZEN,
    )
    return NightView(
        night=NIGHT,
        plan=plan,
        status=status,
        readiness=readiness(status),
        journal=[],
        refreshed=FROZEN,
    )


def _frozen_engine(config: Any, view: Any) -> Any:
    """The real Engine, its scheduler view replaced by the frozen night."""
    from osa_core.executors.api import QueryResult
    from osa_tui.engine import Engine

    class NoScheduler:
        name = "frozen"

        def describe(self) -> str:
            return "SLURM"

        def query(self, job_ids: Any) -> QueryResult:
            return QueryResult()

    class FrozenEngine(Engine):
        def __init__(self) -> None:
            super().__init__(config, read_only=True, executor=NoScheduler())  # type: ignore[arg-type]

        def load(self, night: dt.date, ask_scheduler: bool = True) -> Any:
            return view

    return FrozenEngine()


class PaintClock:
    """Timestamps every screen update the app produces (wraps ``App._display``)."""

    def __init__(self, app: Any) -> None:
        self.last = 0.0
        display = app._display

        def timed_display(screen: Any, renderable: Any) -> None:
            if renderable is not None:
                self.last = time.perf_counter()
            display(screen, renderable)

        app._display = timed_display


def _apps() -> dict[str, Callable[[], Any]]:
    """Factories of the tiny apps: our grid, a DataTable, and an empty one (harness floor)."""
    from textual.app import App, ComposeResult
    from textual.widget import Widget
    from textual.widgets import DataTable

    from osa_tui.widgets.grid import Cell, SubrunGrid

    cells = [Cell(2002 + r, s, _state(r, s)[0]) for r in range(RUNS) for s in range(SUBRUNS)]
    rows = [(f"{c.run:05d}", f"{c.subrun:04d}", c.state) for c in cells]

    class GridApp(App):
        def compose(self) -> ComposeResult:
            yield SubrunGrid(id="grid")

        def on_mount(self) -> None:
            grid = self.query_one(SubrunGrid)
            grid.set_cells(cells)
            grid.focus()

    class TableApp(App):
        def compose(self) -> ComposeResult:
            yield DataTable(id="table")

        def on_mount(self) -> None:
            table = self.query_one(DataTable)
            table.add_columns("run", "subrun", "state")
            table.add_rows(rows)
            table.focus()

    class Empty(Widget, can_focus=True):
        pass

    class EmptyApp(App):
        def compose(self) -> ComposeResult:
            yield Empty()

        def on_mount(self) -> None:
            self.query_one(Empty).focus()

    return {"grid": GridApp, "table": TableApp, "empty": EmptyApp}


async def _first_paint(factory: Callable[[], Any], presses: int = 0) -> dict[str, Any]:
    began = time.perf_counter()
    app = factory()
    clock = PaintClock(app)
    out: dict[str, Any] = {}
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        out["paint"] = clock.last - began
        out["pilot_paint"] = time.perf_counter() - began
        out["screen"] = app.export_screenshot() if presses < 0 else ""
        out["keys"], out["pilot_keys"] = await _presses(pilot, clock, max(presses, 0))
    return out


async def _presses(pilot: Any, clock: PaintClock, count: int) -> tuple[list[float], list[float]]:
    precise, pilot_timed = [], []
    for _ in range(count):
        began = time.perf_counter()
        await pilot.press("down")
        await pilot.pause()
        pilot_timed.append(time.perf_counter() - began)
        precise.append(max(clock.last - began, 0.0))
    return precise, pilot_timed


async def _console(config: Any, view: Any, presses: int) -> dict[str, Any]:
    """OsaApp on the frozen night: open the all-subruns screen with ``a``, then press keys."""
    from osa_tui.app import OsaApp
    from osa_tui.screens.run import RunScreen
    from osa_tui.widgets.grid import SubrunGrid

    app = OsaApp(_frozen_engine(config, view), NIGHT, live_refresh=False)
    clock = PaintClock(app)
    out: dict[str, Any] = {}
    async with app.run_test(size=SIZE) as pilot:
        for _ in range(200):
            await pilot.pause()
            if app.view is not None:
                break
        await pilot.pause()
        began = time.perf_counter()
        await pilot.press("a")
        await pilot.pause()
        out["open"] = clock.last - began
        screen = app.screen
        if not isinstance(screen, RunScreen) or len(screen.query_one(SubrunGrid).cells) != (
            RUNS * SUBRUNS
        ):
            raise RuntimeError("the all-subruns screen did not open with every subrun")
        out["keys"], out["pilot_keys"] = await _presses(pilot, clock, presses)
    return out


def _memory(factory: Callable[[], Any]) -> float:
    """tracemalloc peak (MB) while creating, mounting and painting the app."""

    async def body() -> None:
        app = factory()
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()

    tracemalloc.start()
    try:
        asyncio.run(body())
        return tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


def _median_ms(values: list[float]) -> float:
    return statistics.median(values) * 1000


def run(ctx: Context) -> list[Row]:
    from osa_core.config import load_config

    reps = ctx.reps(11, 2)
    presses = PRESSES if not ctx.quick else 10
    apps = _apps()
    with ctx.folder("console") as base:
        config_path = Path(base) / "osa.toml"
        config_path.write_text(f'[paths]\nbase = "{base}"\n\n[executor]\nkind = "local"\n')
        config = load_config(config_path)
        view = frozen_view(config)

        ctx.log("console: warm-up and screen check")
        for name in ("grid", "table"):
            shown = asyncio.run(_first_paint(apps[name], presses=-1))["screen"]
            if "02002" not in shown:
                raise RuntimeError(f"the {name} app does not show the night's runs")
        asyncio.run(_console(config, view, 1))

        ctx.log(f"console: first paint, {reps} alternated rounds")
        paints = alternate(
            {
                "grid": lambda: asyncio.run(_first_paint(apps["grid"])),
                "table": lambda: asyncio.run(_first_paint(apps["table"])),
            },
            reps,
        )
        ctx.log(f"console: {presses} key presses: console, grid alone, DataTable, empty app")
        keys = alternate(
            {
                "console": lambda: asyncio.run(_console(config, view, presses)),
                "grid": lambda: asyncio.run(_first_paint(apps["grid"], presses)),
                "table": lambda: asyncio.run(_first_paint(apps["table"], presses)),
                "empty": lambda: asyncio.run(_first_paint(apps["empty"], presses)),
            },
            ctx.reps(2, 1),
        )
        ctx.log("console: memory (tracemalloc)")
        memory = {name: _memory(apps[name]) for name in ("grid", "table")}

    grid_paint = Stat([r["paint"] * 1000 for r in paints["grid"]], "ms")
    table_paint = Stat([r["paint"] * 1000 for r in paints["table"]], "ms")
    pilot_grid = statistics.median(r["pilot_paint"] for r in paints["grid"]) * 1000
    pilot_table = statistics.median(r["pilot_paint"] for r in paints["table"]) * 1000
    rows = [
        speedup_row(
            NAME,
            "first paint, 10,000 subruns: SubrunGrid vs DataTable",
            grid_paint,
            table_paint,
            5,
            f"Pilot-timed (run_test → pause): {fmt(pilot_grid)} vs {fmt(pilot_table)} ms",
        )
    ]

    def flat(name: str, key: str) -> list[float]:
        return [value * 1000 for result in keys[name] for value in result[key]]

    console_keys = Stat(flat("console", "keys"), "ms")
    table_keys = Stat(flat("table", "keys"), "ms")
    key_row = limit_row(
        NAME,
        "key to screen (down), all-subruns screen of the console vs DataTable",
        console_keys,
        50,
        ref=table_keys,
        note=(
            f"the grid alone in a tiny app: {fmt(statistics.median(flat('grid', 'keys')))} ms. "
            f"Pilot-timed press+pause: {fmt(statistics.median(flat('console', 'pilot_keys')))} "
            f"vs {fmt(statistics.median(flat('table', 'pilot_keys')))} ms, of which Pilot's "
            f"floor (empty app) {fmt(statistics.median(flat('empty', 'pilot_keys')))} ms"
        ),
    )
    key_row.ratio = table_keys.median / console_keys.median
    key_row.ratio_text = (
        f"{fmt(key_row.ratio)}× faster"
        if key_row.ratio >= 1
        else f"{fmt(1 / key_row.ratio)}× slower"
    )
    rows.append(key_row)
    opens = Stat([r["open"] * 1000 for r in keys["console"]], "ms")
    rows.append(
        Row(
            NAME,
            "open the all-subruns screen (key a) in the console, 10,000 subruns",
            opens,
            note="OsaApp + RunScreen(None) on a frozen night; no reference",
        )
    )
    mem_grid = Stat([memory["grid"]], "MB")
    mem_table = Stat([memory["table"]], "MB")
    rows.append(
        Row(
            NAME,
            "memory to mount and paint 10,000 subruns (tracemalloc peak)",
            mem_grid,
            mem_table,
            mem_table.median / mem_grid.median,
            f"{fmt(mem_table.median / mem_grid.median)}× less",
            note="Python allocations only (tracemalloc), one untimed run each",
        )
    )
    return rows
