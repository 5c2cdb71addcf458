"""The Journal screen: every operator action of the night (who, when, what, why)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Footer

from osa_core.jobs import compact_ranges
from osa_tui.engine import NightView
from osa_tui.widgets.header import NightHeader


class JournalScreen(Screen):
    BINDINGS = [Binding("escape", "app.back", "Back", id="back")]
    DEFAULT_CSS = "JournalScreen DataTable { height: 1fr; }"

    def compose(self) -> ComposeResult:
        yield NightHeader(id="header")
        yield DataTable(id="journal", cursor_type="row")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        for label in ("Time (UTC)", "Who", "Action", "Run", "Job", "Details"):
            table.add_column(label)
        table.focus()
        if self.app.view is not None:
            self.update_view(self.app.view)

    def update_view(self, view: NightView) -> None:
        self.query_one(NightHeader).show(view, self.app.engine.read_only)
        table = self.query_one(DataTable)
        table.clear()
        for entry in reversed(view.journal):
            details = str(entry.get("reason") or entry.get("purpose") or "")
            indices = entry.get("indices")
            if indices:
                try:
                    details = f"subruns {compact_ranges(indices)} {details}".strip()
                except (TypeError, ValueError):
                    pass
            job = entry.get("job_id") or ",".join(str(j) for j in entry.get("job_ids") or [])
            run = entry.get("run")
            table.add_row(
                str(entry.get("time", ""))[5:19].replace("T", " "),
                str(entry.get("user", "")),
                str(entry.get("action", "")),
                f"{run:05d}" if isinstance(run, int) else "-",
                str(job or "-"),
                details[:120],
            )
