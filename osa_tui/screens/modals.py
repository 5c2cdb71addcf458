"""Confirmation and reason dialogs: nothing that changes a night happens without them."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Static


class ConfirmScreen(ModalScreen[bool]):
    """Shows exactly what will happen; ``y`` confirms, ``n``/``escape`` cancels.

    With ``require`` set (e.g. "override"), the user must type that word: used for
    closing a night that is not ready.
    """

    BINDINGS = [
        Binding("escape", "cancel", "Cancel"),
        Binding("n", "cancel", "No", show=False),
        Binding("y", "confirm", "Yes", show=False),
    ]
    DEFAULT_CSS = """
    ConfirmScreen { align: center middle; }
    ConfirmScreen > Vertical { width: 90%; max-width: 120; height: auto; max-height: 90%;
        border: thick $primary; background: $panel; padding: 0 1; }
    ConfirmScreen.destructive > Vertical { border: thick $error; }
    ConfirmScreen #title { text-style: bold; }
    ConfirmScreen VerticalScroll { height: auto; max-height: 16; }
    ConfirmScreen #hint { color: $text-muted; }
    """

    def __init__(
        self, title: str, lines: list[str], destructive: bool = False, require: str | None = None
    ) -> None:
        super().__init__(classes="destructive" if destructive else "")
        self.title_text = title
        self.lines = lines
        self.require = require

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(self.title_text, id="title")
            with VerticalScroll():
                yield Static("\n".join(self.lines) or "(nothing)", id="preview", markup=False)
            if self.require:
                yield Label(
                    f"Type {self.require!r} and press enter to confirm, escape to cancel", id="hint"
                )
                yield Input(placeholder=self.require, id="require")
            else:
                yield Label("y: confirm   n / escape: cancel", id="hint")

    def on_mount(self) -> None:
        if self.require:
            self.query_one("#require", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.value.strip() == self.require:
            self.dismiss(True)
        else:
            self.notify(f"type {self.require!r} exactly", severity="warning")

    def action_confirm(self) -> None:
        if not self.require:
            self.dismiss(True)

    def action_cancel(self) -> None:
        self.dismiss(False)


class ReasonScreen(ModalScreen[str | None]):
    """Asks why (given-up subruns, a forced close): the answer goes to the journal."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]
    DEFAULT_CSS = """
    ReasonScreen { align: center middle; }
    ReasonScreen > Vertical { width: 80%; max-width: 100; height: auto; border: thick $warning;
        background: $panel; padding: 0 1; }
    """

    def __init__(self, prompt: str) -> None:
        super().__init__()
        self.prompt = prompt

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(self.prompt)
            yield Input(placeholder="reason (recorded in the journal)", id="reason")
            yield Label("enter: continue   escape: cancel")

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        reason = event.value.strip()
        if not reason:
            self.notify("a reason is required", severity="warning")
            return
        self.dismiss(reason)

    def action_cancel(self) -> None:
        self.dismiss(None)
