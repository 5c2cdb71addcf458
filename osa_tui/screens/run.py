"""The Run screen: every subrun of a run as a dense grid, the selected one in detail."""

from __future__ import annotations

from collections.abc import Callable

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer, Static

from osa_core.actions import Selection
from osa_core.status import SequenceStatus, SubrunStatus
from osa_core.units import human_bytes, human_seconds
from osa_tui.engine import NightView
from osa_tui.symbols import LEGEND, symbol
from osa_tui.widgets.grid import Cell, SubrunGrid
from osa_tui.widgets.header import NightHeader


class RunScreen(Screen):
    """``run=None`` shows every subrun of the night (the 10,000-cell case)."""

    BINDINGS = [
        Binding("escape", "app.back", "Back", id="back"),
        Binding("enter", "logs", "Logs", show=False, id="open_logs"),
    ]
    DEFAULT_CSS = """
    RunScreen #run-title { height: auto; max-height: 3; padding: 0 1; text-style: bold; }
    RunScreen #detail { height: 5; padding: 0 1; background: $panel; }
    RunScreen #legend { height: 1; padding: 0 1; color: $text-muted; }
    """

    def __init__(self, run: int | None) -> None:
        super().__init__()
        self.run = run
        self.view: NightView | None = None
        self.by_key: dict[tuple[int, int], SubrunStatus] = {}

    def compose(self) -> ComposeResult:
        yield NightHeader(id="header")
        yield Static("", id="run-title", markup=False)
        yield SubrunGrid(id="grid")
        yield Static("", id="detail", markup=False)
        yield Static(LEGEND, id="legend", markup=False)
        yield Footer(compact=True)

    def on_mount(self) -> None:
        grid = self.query_one(SubrunGrid)
        grid.set_state_colors(self.app.state_colors)
        grid.focus()
        if self.app.view is not None:
            self.update_view(self.app.view)

    def update_view(self, view: NightView) -> None:
        self.view = view
        self.query_one(NightHeader).show(view, self.app.engine.read_only)
        if view.status is None:
            return
        cells = []
        self.by_key = {}
        title = Text()
        for seq in view.status.sequences:
            if self.run is not None and seq.sequence.run != self.run:
                continue
            if self.run is None and seq.sequence.kind == "CALIBRATION":
                continue
            for sub in seq.subruns:
                cells.append(Cell(sub.run, sub.subrun, sub.state))
                self.by_key[(sub.run, sub.subrun)] = sub
            if self.run is not None:
                s = seq.sequence
                title.append(f"Run {s.run:05d}  {s.source_name or ''}  ", style="bold")
                counts = "  ".join(
                    f"{symbol(k)} {v} {k.lower()}" for k, v in sorted(seq.counts.items())
                )
                title.append(counts)
                if seq.job_ids:
                    title.append(f"  · jobs {', '.join(seq.job_ids[-3:])}", style="dim")
                title.append_text(run_calibration_line(seq, self.app.state_style))
        if self.run is None:
            title.append(f"All subruns of the night: {len(cells)}", style="bold")
        self.query_one("#run-title", Static).update(title)
        self.query_one(SubrunGrid).set_cells(cells)

    def on_subrun_grid_cursor_moved(self, event: SubrunGrid.CursorMoved) -> None:
        detail = self.query_one("#detail", Static)
        if event.cell is None:
            detail.update("")
            return
        sub = self.by_key.get(event.cell.key)
        if sub is None:
            return
        # the detail panel keeps its height: no layout pass on every cursor move
        detail.update(describe_subrun(sub, self.app.state_style(sub.state)), layout=False)

    def selection(self) -> Selection:
        grid = self.query_one(SubrunGrid)
        keys = sorted(grid.selected)
        if keys:
            run = keys[0][0]
            return Selection(run=run, subruns=tuple(s for r, s in keys if r == run))
        cell = grid.current
        if cell is None:
            return Selection(run=self.run)
        return (
            Selection(run=cell.run, subruns=(cell.subrun,))
            if self.app.pending_action in ("give_up",)
            else Selection(run=cell.run)
        )

    def current_subrun(self) -> SubrunStatus | None:
        cell = self.query_one(SubrunGrid).current
        return self.by_key.get(cell.key) if cell else None

    def action_logs(self) -> None:
        self.app.action_logs()


def run_calibration_line(seq: SequenceStatus, style_of: Callable[[str], str]) -> Text:
    """The run's own calibration (per-run workflow): cleaning and NSB, Cat-B, models, and
    what keeps the run waiting. Empty for a run with the fixed cleaning."""
    runcal = seq.run_calibration
    text = Text()
    if runcal is None:
        return text
    record = runcal.record
    text.append("\nrun calibration: ")
    if record is None:
        text.append(f"{symbol(runcal.state)} {runcal.state.lower()}", style=style_of(runcal.state))
        if runcal.job_id:
            text.append(f" (job {runcal.job_id})", style="dim")
    else:
        tail = record.tailcuts
        text.append(tail.prod_id, style="bold")
        if tail.fallback:
            text.append(f" (fallback: {tail.fallback})", style="yellow")
        elif tail.nsb is not None:
            text.append(f" · NSB {tail.nsb:.2f}")
        text.append(" · Cat-B ")
        if record.catb.ok:
            text.append("✓", style="green")
        else:
            text.append(f"✗ {record.catb.reason}", style="yellow")
        text.append(" · models ")
        if record.models.ok:
            text.append(record.models.dl2_prod_id or "", style="bold")
        else:
            text.append(f"none: {record.models.reason}", style="yellow")
    if seq.waiting:
        text.append(f"\nwaiting: {seq.waiting}", style="bold yellow")
    return text


def describe_subrun(sub: SubrunStatus, style: str) -> Text:
    text = Text()
    text.append(f"Run {sub.run:05d} subrun {sub.subrun:04d}  ", style="bold")
    text.append(f"{symbol(sub.state)} {sub.state}", style=style)
    text.append(f"  · attempt {sub.attempts}" + (f" · job {sub.job_id}" if sub.job_id else ""))
    text.append("\nsteps:")
    for step in ("r0_to_dl1", "dl1ab", "datacheck"):
        if step in sub.steps_done:
            text.append(f" ✓ {step}", style="green")
        elif step == sub.failed_step and sub.is_failed:
            text.append(f" ✗ {step}", style="bold red")
        else:
            text.append(f" ○ {step}", style="dim")
    if sub.exit_code not in (None, 0):
        text.append(f" · exit {sub.exit_code}", style="bold")
    text.append(f" · elapsed {human_seconds(sub.elapsed)} · MaxRSS {human_bytes(sub.max_rss)}")
    if sub.reason:
        text.append(f"\nreason: {sub.reason}", style="bold red" if sub.is_failed else "")
    if sub.failures:
        history = ", ".join(f"{step} rc={rc}" for step, rc in sub.failures[-4:])
        text.append(f"\nfailures so far: {history}", style="dim")
    return text
