"""The Night screen: one row per sequence, the night's header, the way into each run."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Input, Static

from osa_core.actions import Selection
from osa_core.status import SequenceStatus
from osa_core.vocabulary import JobKind
from osa_tui.engine import NightView
from osa_tui.screens.filtering import FilterMixin
from osa_tui.symbols import symbol
from osa_tui.widgets.header import NightHeader

BAR_WIDTH = 6
SHORT_STATE = {
    "COMPLETED": "done",
    "RUNNING": "running",
    "PENDING": "pending",
    "FAILED": "FAILED",
    "NOT_SUBMITTED": "not sub.",
    "OUT_OF_MEMORY": "OOM",
    "TIMEOUT": "TIMEOUT",
    "CANCELLED": "cancelled",
    "UNKNOWN": "unknown",
    "LOST": "LOST",
    "WAITING": "waiting",
}


def bar(percent: float | None) -> Text:
    """``███▌░░ 58`` style progress: readable without colour."""
    if percent is None:
        return Text("-", style="dim")
    filled = percent / 100 * BAR_WIDTH
    full = int(filled)
    text = "█" * full + ("▌" if filled - full >= 0.5 else "")
    text = text.ljust(BAR_WIDTH, "░")
    style = "green" if percent >= 100 else "yellow" if percent > 0 else "dim"
    return Text(f"{text}{percent:4.0f}", style=style)


def cleaning_cell(seq: SequenceStatus) -> Text:
    """The run's cleaning (per-run workflow): ``tailcut1005 ✓`` (Cat-B made), a fallback
    marked ``*``, or the run calibration's state while it is not decided."""
    runcal = seq.run_calibration
    if runcal is None:
        return Text("-", style="dim")
    record = runcal.record
    if record is None:
        return Text(f"{symbol(runcal.state)} {runcal.state.lower()}", style="dim")
    text = Text(record.tailcuts.prod_id + ("*" if record.tailcuts.fallback else ""))
    if record.tailcuts.fallback:
        text.stylize("yellow")
    text.append(" CB✓" if record.catb.ok else " CB✗", style="green" if record.catb.ok else "yellow")
    return text


class NightScreen(FilterMixin, Screen):
    back_when_nothing_to_clear = True

    BINDINGS = [
        Binding("enter", "open_run", "Open run", id="drill_down"),
        Binding("slash", "filter", "Filter", id="filter"),
        Binding("escape", "clear_filter", "Clear filter", show=False, id="back"),
    ]
    DEFAULT_CSS = """
    NightScreen #sequences { height: 1fr; }
    NightScreen #notes { height: auto; max-height: 4; color: $warning; padding: 0 1; }
    NightScreen #filter { dock: bottom; display: none; }
    NightScreen #filter.visible { display: block; }
    """

    def __init__(self) -> None:
        super().__init__()
        self.view: NightView | None = None
        self.filter_text = ""

    def compose(self) -> ComposeResult:
        yield NightHeader(id="header")
        yield DataTable(id="sequences", cursor_type="row", zebra_stripes=False)
        yield Static("", id="notes", markup=False)
        yield Input(placeholder="filter runs: run number, source or state", id="filter")
        yield Footer(compact=True)

    WIDE_COLUMNS = (
        ("Run", "run"),
        ("Type", "type"),
        ("Source", "source"),
        ("Subruns", "subruns"),
        ("DL1a", "dl1"),
        ("Cleaning", "cleaning"),
        ("DL1b", "dl1ab"),
        ("Check", "dcheck"),
        ("DL2", "dl2"),
        ("State", "state"),
        ("Try", "try"),
        ("Job", "job"),
        ("DQ", "dq"),
    )
    # At 80 columns: what a shifter needs first (run, source, progress, state, tries, DQ).
    COMPACT_COLUMNS = (
        ("Run", "run"),
        ("Source", "source"),
        ("Sub", "subruns"),
        ("Done", "dcheck"),
        ("State", "state"),
        ("Try", "try"),
        ("DQ", "dq"),
    )
    COMPACT_BELOW = 130

    def on_mount(self) -> None:
        self.compact: bool | None = None
        self._set_columns()
        self.query_one(DataTable).focus()
        if self.app.view is not None:
            self.update_view(self.app.view)

    def _set_columns(self) -> bool:
        compact = self.size.width < self.COMPACT_BELOW
        if compact == self.compact:
            return False
        self.compact = compact
        table = self.query_one(DataTable)
        table.clear(columns=True)
        for label, key in self.COMPACT_COLUMNS if compact else self.WIDE_COLUMNS:
            table.add_column(label, key=key)
        return True

    def on_resize(self) -> None:
        if self._set_columns() and self.view is not None:
            self.update_view(self.view)

    # --- data ------------------------------------------------------------------------
    def update_view(self, view: NightView) -> None:
        self.view = view
        self.query_one(NightHeader).show(view, self.app.engine.read_only)
        table = self.query_one(DataTable)
        current = None
        if table.row_count and table.cursor_row is not None:
            try:
                current = table.coordinate_to_cell_key((table.cursor_row, 0)).row_key.value
            except Exception:
                current = None
        table.clear()
        if view.status is None:
            self.query_one("#notes", Static).update(view.error)
            return
        dq_flags = self.app.dq_flags(view)
        needle = self.filter_text.lower()
        for seq in view.status.sequences:
            sequence = seq.sequence
            is_cal = sequence.kind == JobKind.CALIBRATION
            subruns = "-" if is_cal else f"{len(sequence.subruns)}"
            if sequence.mismatch:
                subruns = f"{len(sequence.subruns)}/{sequence.declared_subruns}!"
            label = seq.state if not self.compact else SHORT_STATE.get(seq.state, seq.state)
            state = Text(f"{symbol(seq.state)} {label}", style=self.app.state_style(seq.state))
            failed = len(seq.failed)
            if failed and seq.state not in ("FAILED",):
                state.append(f" {failed}✗", style="bold red")
            elif failed > 1:
                state.append(f" ×{failed}", style="bold red")
            flags = dq_flags.get(sequence.run, "")
            cells = {
                "run": f"{sequence.run:05d}" + (" cal" if is_cal and self.compact else ""),
                "type": "CALIB" if is_cal else "DATA",
                "source": Text(sequence.source_name or "-", overflow="ellipsis", no_wrap=True),
                "subruns": subruns,
                "dl1": bar(seq.percent.get("DL1")),
                "cleaning": cleaning_cell(seq),
                "dl1ab": bar(seq.percent.get("DL1AB")),
                "dcheck": bar(seq.percent.get("DCHECK")),
                "dl2": bar(seq.percent.get("DL2")),
                "state": state,
                "try": str(seq.attempts),
                "job": seq.job_ids[-1] if seq.job_ids else "-",
                "dq": Text(flags, style="bold yellow") if flags else Text("-", style="dim"),
            }
            if self.compact:
                cells["source"].truncate(12, overflow="ellipsis")
            columns = self.COMPACT_COLUMNS if self.compact else self.WIDE_COLUMNS
            row = [cells[key] for _, key in columns]
            haystack = " ".join(str(c) for c in cells.values()).lower()
            if needle and needle not in haystack:
                continue
            table.add_row(*row, key=str(sequence.run))
        if current is not None:
            try:
                table.move_cursor(row=table.get_row_index(current))
            except Exception:
                pass
        notes = list(view.plan.problems if view.plan else []) + list(view.status.warnings)
        notes += list(view.plan.warnings if view.plan else [])
        excluded = view.plan.excluded if view.plan else ()
        if excluded:
            notes.append(
                "not analysed: "
                + ", ".join(f"{e.run} ({e.reason})" for e in excluded[:6])
                + (f" and {len(excluded) - 6} more" if len(excluded) > 6 else "")
            )
        waiting = [f"run {s.sequence.run:05d}: {s.waiting}" for s in view.status.data if s.waiting]
        notes[:0] = waiting[:2]
        if view.readiness and not view.readiness.ready and not view.status.closed:
            notes.insert(0, view.readiness.summary())
        self.query_one("#notes", Static).update("\n".join(notes[:4]))

    def selected_run(self) -> int | None:
        table = self.query_one(DataTable)
        if not table.row_count:
            return None
        try:
            key = table.coordinate_to_cell_key((table.cursor_row, 0)).row_key.value
        except Exception:
            return None
        return int(key) if key else None

    def selection(self) -> Selection:
        return Selection(run=self.selected_run())

    # --- actions ---------------------------------------------------------------------
    def action_open_run(self) -> None:
        run = self.selected_run()
        if run is not None:
            self.app.open_run(run)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.action_open_run()

    def repaint(self) -> None:
        if self.view:
            self.update_view(self.view)
