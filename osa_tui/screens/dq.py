"""The DQ screen: per-run data-quality figures, sparklines and the flags that fired."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Static

from osa_core.dq.render import night_renderable
from osa_tui.engine import NightView
from osa_tui.widgets.header import NightHeader


class DQScreen(Screen):
    BINDINGS = [Binding("escape", "app.back", "Back", id="back")]
    DEFAULT_CSS = """
    DQScreen VerticalScroll { height: 1fr; padding: 0 1; }
    """

    def compose(self) -> ComposeResult:
        yield NightHeader(id="header")
        with VerticalScroll(id="dq"):
            yield Static("", id="dq-body", markup=False)
        yield Footer(compact=True)

    def on_mount(self) -> None:
        if self.app.view is not None:
            self.update_view(self.app.view)
        self.query_one(VerticalScroll).focus()

    def update_view(self, view: NightView) -> None:
        self.query_one(NightHeader).show(view, self.app.engine.read_only)
        body = self.query_one("#dq-body", Static)
        dq = view.dq
        if dq is None:
            body.update("No data-quality summary available for this night yet.")
        elif isinstance(dq, str):
            body.update(dq)
        else:
            body.update(night_renderable(dq, self.size.width - 2))
