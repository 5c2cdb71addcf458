"""The `/` filter shared by the table screens (night, campaign): a hidden input docked at
the bottom; enter applies it, escape clears it (or goes back when there is nothing to
clear, where the screen allows it). The screen says how to repaint in ``repaint``."""

from __future__ import annotations

from textual.widgets import DataTable, Input


class FilterMixin:
    """Mixed into a Screen holding a DataTable and an ``Input(id="filter")``."""

    filter_text: str = ""
    back_when_nothing_to_clear = False

    def repaint(self) -> None:
        raise NotImplementedError

    def action_filter(self) -> None:
        box = self.query_one("#filter", Input)  # type: ignore[attr-defined]
        box.add_class("visible")
        box.focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.filter_text = event.value.strip()
        self.query_one(DataTable).focus()  # type: ignore[attr-defined]
        self.repaint()

    def action_clear_filter(self) -> None:
        box = self.query_one("#filter", Input)  # type: ignore[attr-defined]
        if (
            self.back_when_nothing_to_clear
            and not self.filter_text
            and not box.has_class("visible")
        ):
            self.app.action_back()  # type: ignore[attr-defined]
            return
        box.value = ""
        box.remove_class("visible")
        self.filter_text = ""
        self.query_one(DataTable).focus()  # type: ignore[attr-defined]
        self.repaint()
