"""The Campaign screen (``osa console --campaign NAME``): a reprocessing campaign at a glance.

The header gives the totals per state, the throughput and the ETA; the table lists every
night (a campaign has ~1,000) with its state and one line of detail; ``enter`` opens the
night's own screens, under the campaign's production. Everything shown comes from
osa_core.campaign (``campaign_nights``, ``campaign_status``): files only, no scheduler call.
A refresh only touches the rows whose state changed, so 1,000 rows cost one paint, once.
"""

from __future__ import annotations

import datetime as dt

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Input, Static

import osa_tui.widgets.header as night_header
from osa_core.campaign import DONE, FAILED, RUNNING, WAITING, NightState
from osa_tui.engine import CampaignView
from osa_tui.screens.filtering import FilterMixin
from osa_tui.symbols import CAMPAIGN_STATES, campaign_symbol

NIGHT_WIDTH, STATE_WIDTH = 10, 16  # "2024-03-01", "✗ needs operator"


def eta_text(hours: float | None, left: int) -> str:
    if not left:
        return "done"
    if hours is None:
        return "-"
    if hours >= 48:
        return f"~{hours / 24:.1f} days"
    if hours >= 1:
        return f"~{hours:.1f} h"
    return f"~{max(1, round(hours * 60))} min"


class CampaignHeader(night_header.ViewHeader):
    """Name, production, creation, cap; totals per state; throughput, ETA, data age."""

    def render_view(self, view: CampaignView) -> Text:
        campaign = view.campaign
        text = Text()
        text.append(f"Campaign {campaign.name}", style="bold")
        text.append(f" · prod {campaign.prod_id}")
        if self.read_only:
            text.append("  READ-ONLY", style="bold reverse")
        created = campaign.created[:16].replace("T", " ")
        text.append(f" · created {created} UTC · cap {campaign.cap:,} pending")
        if campaign.window:
            text.append(f" · window {campaign.window}")
        status = view.status
        if status is None:
            text.append(f"\n✗ {view.error}", style="bold red")
            return text
        counts = status.counts
        text.append(f"\n{status.total:,} nights: ")
        app = self.app
        for index, (state, label) in enumerate(
            (
                (DONE, "done"),
                (RUNNING, "running"),
                (FAILED, "need an operator"),
                (WAITING, "waiting"),
            )
        ):
            if index:
                text.append(" · ")
            count = counts.get(state, 0)
            style = app.state_style(CAMPAIGN_STATES[state]) if count else "dim"
            text.append(f"{campaign_symbol(state)} {count:,} {label}", style=style)
        left = counts.get(WAITING, 0) + counts.get(RUNNING, 0)
        rate = f"{status.per_hour:.1f} nights/h" if status.per_hour else "- nights/h"
        done = counts.get(DONE, 0) / status.total * 100 if status.total else 0.0
        text.append(
            f"\nthroughput {rate} · ETA {eta_text(status.eta_hours, left)} · {done:.0f} % done"
            f" · data {night_header._age(view.refreshed)} old",
            style="dim",
        )
        return text


class CampaignScreen(FilterMixin, Screen):
    back_when_nothing_to_clear = False

    BINDINGS = [
        Binding("enter", "open_night", "Open night", id="drill_down"),
        Binding("f", "next_problem(1)", "Next failed", id="next_failed"),
        Binding("F", "next_problem(-1)", "Prev failed", show=False, id="prev_failed"),
        Binding("slash", "filter", "Filter", id="filter"),
        Binding("escape", "clear_filter", "Clear filter", show=False, id="back"),
    ]
    DEFAULT_CSS = """
    CampaignScreen #nights { height: 1fr; }
    CampaignScreen #notes { height: auto; max-height: 2; color: $warning; padding: 0 1; }
    CampaignScreen #filter { dock: bottom; display: none; }
    CampaignScreen #filter.visible { display: block; }
    """

    def __init__(self) -> None:
        super().__init__()
        self.view: CampaignView | None = None
        self.filter_text = ""
        self.shown: dict[str, tuple[str, str]] = {}  # night -> (state, detail) on screen
        self.drawn_with: tuple[str, int] | None = None  # (theme, width) of the rows

    def compose(self) -> ComposeResult:
        yield CampaignHeader(id="header")
        yield DataTable(id="nights", cursor_type="row", zebra_stripes=False)
        yield Static("", id="notes", markup=False)
        yield Input(placeholder="filter nights: date, state or detail", id="filter")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_column("Night", key="night")
        table.add_column("State", key="state")
        table.add_column("Detail", key="detail")
        table.focus()
        if self.app.campaign_view is not None:
            self.update_campaign(self.app.campaign_view)

    def on_resize(self) -> None:
        if self.view is not None:
            self.update_campaign(self.view)

    # --- data ------------------------------------------------------------------------
    def _cells(self, night: NightState, width: int) -> tuple[Text, Text]:
        job_state = CAMPAIGN_STATES.get(night.state, "UNKNOWN")
        state = Text(
            f"{campaign_symbol(night.state)} {night.state}", style=self.app.state_style(job_state)
        )
        detail = Text(night.detail or "", no_wrap=True, overflow="ellipsis")
        detail.truncate(width, overflow="ellipsis")
        return state, detail

    def _wanted(self, view: CampaignView) -> list[NightState]:
        needle = self.filter_text.lower()
        if not needle:
            return view.nights
        return [n for n in view.nights if needle in f"{n.night} {n.state} {n.detail}".lower()]

    def update_campaign(self, view: CampaignView) -> None:
        self.view = view
        self.query_one(CampaignHeader).show(view, self.app.engine.read_only)
        table = self.query_one(DataTable)
        nights = self._wanted(view)
        keys = [n.night.isoformat() for n in nights]
        width = max(12, self.size.width - NIGHT_WIDTH - STATE_WIDTH - 10)
        drawn_with = (self.app.theme_name, width)
        if keys == list(self.shown) and drawn_with == self.drawn_with:
            # the usual refresh: same nights, a few changed state; repaint only those rows
            for night in nights:
                key = night.night.isoformat()
                if self.shown[key] != (night.state, night.detail):
                    state, detail = self._cells(night, width)
                    table.update_cell(key, "state", state, update_width=True)
                    table.update_cell(key, "detail", detail, update_width=True)
                    self.shown[key] = (night.state, night.detail)
        else:
            current = self.selected_night_key()
            table.clear()
            self.shown = {}
            for night in nights:
                key = night.night.isoformat()
                table.add_row(key, *self._cells(night, width), key=key)
                self.shown[key] = (night.state, night.detail)
            self.drawn_with = drawn_with
            if current in self.shown:
                table.move_cursor(row=table.get_row_index(current), animate=False)
        self._notes(view)

    def _notes(self, view: CampaignView) -> None:
        notes = []
        status = view.status
        if status is not None:
            failed = status.counts.get(FAILED, 0)
            if failed:
                nights = "night needs" if failed == 1 else "nights need"
                notes.append(f"✗ {failed} {nights} an operator: f finds the next, enter opens it")
            campaign = view.campaign
            if campaign.window and not campaign.window_open():
                notes.append(f"outside the window {campaign.window}: no new night starts now")
        if self.filter_text:
            notes.append(f"filter {self.filter_text!r}: {len(self.shown)} night(s) · escape clears")
        box = self.query_one("#notes", Static)
        box.update("\n".join(notes[:2]))
        box.display = bool(notes)

    def selected_night_key(self) -> str | None:
        table = self.query_one(DataTable)
        if not table.row_count:
            return None
        try:
            key = table.coordinate_to_cell_key((table.cursor_row, 0)).row_key.value
        except Exception:
            return None
        return str(key) if key else None

    # --- actions ---------------------------------------------------------------------
    def action_open_night(self) -> None:
        key = self.selected_night_key()
        if key is not None:
            self.app.open_night(dt.date.fromisoformat(key))

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.action_open_night()

    def action_next_problem(self, direction: int = 1) -> None:
        """The next night that needs an operator after the cursor (wraps)."""
        table = self.query_one(DataTable)
        keys = list(self.shown)
        if not keys:
            return
        start = table.cursor_row or 0
        for step in range(1, len(keys) + 1):
            index = (start + direction * step) % len(keys)
            if self.shown[keys[index]][0] == FAILED:
                table.move_cursor(row=index, animate=False)
                return
        self.notify("no night needs an operator", timeout=2)

    def repaint(self) -> None:
        if self.view:
            self.update_campaign(self.view)
