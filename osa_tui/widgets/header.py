"""The night header: what night, which calibration, totals, ETA, data age, scheduler."""

from __future__ import annotations

import datetime as dt
from typing import Any

from rich.text import Text
from textual.widgets import Static

from osa_core.vocabulary import FAILED_STATES
from osa_tui.engine import NightView

# A refresh shorter than this is not announced (no flicker each period); a longer one is:
# a slow shared filesystem or scheduler must not look like a frozen console.
WAITING_SHOWN_AFTER = 1.0


def now() -> dt.datetime:
    """The clock the header reads (replaced by snapshot tests to freeze "data N s old")."""
    return dt.datetime.now(dt.timezone.utc)


def _age(moment: dt.datetime) -> str:
    seconds = max(0, int((now() - moment).total_seconds()))
    return f"{seconds} s" if seconds < 120 else f"{seconds // 60} min"


def eta(view: NightView) -> str:
    """Rough ETA from the mean elapsed of finished subruns and the work left (per slot)."""
    status = view.status
    if status is None:
        return "-"
    done = [
        s.elapsed
        for seq in status.data
        for s in seq.subruns
        if s.state == "COMPLETED" and s.elapsed
    ]
    left = sum(
        1
        for seq in status.data
        for s in seq.subruns
        if s.state in ("PENDING", "RUNNING", "NOT_SUBMITTED")
    )
    if not left:
        return "done" if done else "-"
    running = sum(1 for seq in status.data for s in seq.subruns if s.state == "RUNNING")
    if not done or not running:
        return "?"
    minutes = sum(done) / len(done) * left / running / 60
    return f"~{minutes:.0f} min" if minutes >= 1 else "<1 min"


class ViewHeader(Static):
    """A screen's header: repainted from the last view shown (a refresh, a theme change).
    Subclasses say how a view reads in ``render_view``."""

    DEFAULT_CSS = """
    ViewHeader { height: auto; padding: 0 1; background: $panel; color: $foreground; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__("", id=id, markup=False)
        self.view: Any = None
        self.read_only = False

    def show(self, view: Any, read_only: bool = False) -> None:
        self.view = view
        self.read_only = read_only
        self.refresh_text()

    def refresh_text(self) -> None:
        """Called on each view and each second (the app's timer): what a refresh in
        progress waits for is said here, with its seconds, until its view lands."""
        waiting = self.waiting()
        if self.view is None:
            self.update(waiting or Text("loading…", style="dim"))
            return
        text = self.render_view(self.view)
        if waiting is not None and waiting.plain:
            text.append("\n")
            text.append_text(waiting)
        self.update(text)

    def render_view(self, view: Any) -> Text:
        raise NotImplementedError

    def waiting(self) -> Text | None:
        """What a refresh in progress waits for (None: nothing, or nothing worth saying)."""
        return None


class NightHeader(ViewHeader):
    def waiting(self) -> Text | None:
        engine = getattr(self.app, "engine", None)
        waiting = engine.waiting if engine is not None else None
        if waiting is None:
            return None
        seconds = waiting.seconds()
        if self.view is not None and seconds < WAITING_SHOWN_AFTER:
            return None
        return Text(f"{waiting.what}… {int(seconds)} s", style="bold yellow")

    def render_view(self, view: NightView) -> Text:
        text = Text()
        text.append(f"Night {view.night}", style="bold")
        campaign = getattr(self.app, "campaign", None)
        if campaign is not None:
            text.append(f" · campaign {campaign.name} (prod {campaign.prod_id})")
        if self.read_only:
            text.append("  READ-ONLY", style="bold reverse")
        if view.plan is None:
            text.append(f"\n✗ {view.error}", style="bold red")
            return text
        plan, status = view.plan, view.status
        if plan.calibration:
            text.append(f" · calibration {plan.calibration.drs4_run}+{plan.calibration.pedcal_run}")
            if plan.calibration.lookback:
                text.append(f" from {plan.calibration.night}", style="yellow")
        else:
            text.append(" · no calibration", style="bold red")
        if status is not None:
            totals = status.totals
            total = sum(totals.values())
            done = totals.get("COMPLETED", 0)
            failed = sum(n for s, n in totals.items() if s in FAILED_STATES)
            text.append(f"\n{len(plan.data_sequences)} runs · {done}/{total} subruns done")
            if failed:
                text.append(" · ")
                text.append(f"{failed} failed", style="bold red")
            running = totals.get("RUNNING", 0)
            if running:
                text.append(f" · {running} running")
            text.append(f" · ETA {eta(view)}")
            if status.closed:
                text.append(" · CLOSED", style="bold green")
            elif view.readiness and view.readiness.ready:
                text.append(" · ready to close", style="green")
            if status.scheduler_ok:
                text.append(f"\n{status.executor} ✓ · data {_age(view.refreshed)} old", style="dim")
            elif view.provisional:
                since = status.stale_since
                old = f"last known state {_age(since)} old" if since else "no state known yet"
                text.append(
                    f"\nasking {status.executor}… · showing the files and the {old}",
                    style="yellow",
                )
            else:
                since = status.stale_since
                old = f", last known state {_age(since)} old" if since else ""
                text.append(
                    f"\n⚠ SCHEDULER UNREACHABLE: {status.scheduler_message}{old}",
                    style="bold white on red",
                )
            if status.warnings:  # e.g. malformed journal lines: one line, the first warning
                more = f" (+{len(status.warnings) - 1} more)" if len(status.warnings) > 1 else ""
                text.append(f"\n⚠ {status.warnings[0]}{more}", style="bold black on yellow")
        return text
