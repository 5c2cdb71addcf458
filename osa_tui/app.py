"""The operator console: Textual app, keys, actions, refresh loop.

The console owns no logic: it shows osa_core's NightView and calls osa_core's action
registry (the same one ``--batch`` and the command palette use). Refreshes run in a thread
of their own (one scheduler query each), never on the UI thread: on a slow filesystem keys
keep working and the header says what a long refresh waits for. The selection survives a
refresh because rows and cells are keyed by run/subrun.

With a campaign (``osa console --campaign NAME``) the first screen is the campaign's; its
nights open on top of it, and the engine's config is the campaign's own (its production
id), so every night screen and action below it works on the campaign's products.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
from functools import partial
from typing import Any

from textual import work
from textual.app import App
from textual.binding import Binding
from textual.command import Hit, Hits, Provider
from textual.worker import get_current_worker

from osa_core.actions import ACTIONS, Selection, close_needs_override
from osa_core.campaign import Campaign
from osa_core.errors import OsaError
from osa_core.paths import NightPaths
from osa_tui.engine import CampaignView, Engine, NightView
from osa_tui.screens.help import HelpScreen
from osa_tui.screens.modals import ConfirmScreen, ReasonScreen
from osa_tui.screens.night import NightScreen
from osa_tui.symbols import FALLBACK_COLORS, color_of, is_failed
from osa_tui.themes import OsaTheme, load_themes


class ActionCommands(Provider):
    """The command palette (ctrl+p) lists the same actions as the keys."""

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        app = self.app
        assert isinstance(app, OsaApp)
        for action in ACTIONS.values():
            text = f"{action.title}: {action.description}"
            score = matcher.match(text)
            if score > 0:
                yield Hit(
                    score,
                    matcher.highlight(text),
                    partial(app.invoke, action.id),
                    help=f"action id {action.id}",
                )
        for name in app.themes:
            text = f"Theme: {name}"
            score = matcher.match(text)
            if score > 0:
                yield Hit(score, matcher.highlight(text), partial(app.set_theme, name))


class OsaApp(App):
    TITLE = "osa-console"
    CSS_PATH = "osa.tcss"
    COMMANDS = App.COMMANDS | {ActionCommands}
    BINDINGS = [
        Binding("s", "invoke('submit')", "Submit", id="submit"),
        Binding(  # short in the footer: at 1280 px in a browser every key must fit
            "r", "invoke('resubmit')", "Resubmit", tooltip="Resubmit failed", id="resubmit"
        ),
        Binding("m", "invoke('retry_memory')", "+Memory", tooltip="More memory", id="retry_memory"),
        Binding("c", "invoke('close')", "Close night", id="close"),
        Binding("g", "invoke('give_up')", "Give up", id="give_up"),
        Binding("l", "logs", "Logs", id="logs"),
        Binding("d", "dq", "DQ", id="dq"),
        Binding("j", "journal", "Journal", id="journal"),
        Binding("a", "all_subruns", "All subruns", show=False, id="all_subruns"),
        Binding("n", "night(1)", "Next night", show=False, id="next_night"),
        Binding("p", "night(-1)", "Prev night", show=False, id="prev_night"),
        Binding("ctrl+r", "refresh", "Refresh", show=False, id="refresh"),
        Binding("t", "next_theme", "Theme", show=False, id="theme"),
        Binding("question_mark", "help", "Help", id="help"),
        Binding("q", "quit", "Quit", id="quit"),
    ]

    # What needs a night on screen: on the campaign screen these keys are hidden and off.
    NIGHT_ACTIONS = frozenset({"invoke", "logs", "dq", "journal", "all_subruns", "night"})

    def __init__(
        self,
        engine: Engine,
        night: dt.date,
        theme: str | None = None,
        live_refresh: bool = True,
        campaign: Campaign | None = None,
    ) -> None:
        super().__init__()
        self.engine = engine
        self.night = night
        self.view: NightView | None = None
        self.campaign = campaign
        self.campaign_view: CampaignView | None = None
        self.pending_action: str | None = None
        self.live_refresh = live_refresh
        self._refreshing = False
        self._refresh_again = False
        self.themes: dict[str, OsaTheme] = load_themes()
        for osa_theme in self.themes.values():
            self.register_theme(osa_theme.theme)
        wanted = theme or engine.config.console.theme
        self.theme_name = wanted if wanted in self.themes else "osa-dark"
        self.theme = self.theme_name
        keys = dict(engine.config.console.keys)
        if keys:
            self.set_keymap(keys)

    # --- life cycle ------------------------------------------------------------------
    def on_mount(self) -> None:
        if self.campaign is not None:
            from osa_tui.screens.campaign import CampaignScreen

            self.push_screen(CampaignScreen())
            self.refresh_campaign()
        else:
            self.push_screen(NightScreen())
            self.refresh_view()
        if self.live_refresh:
            self.set_interval(self.engine.config.console.refresh_seconds, self.refresh_all)
            self.set_interval(1.0, self._tick_age)

    def night_open(self) -> bool:
        """Whether a night's screens are on the stack (always, without a campaign)."""
        return any(isinstance(screen, NightScreen) for screen in self.screen_stack)

    def refresh_all(self) -> None:
        """The refresh timer: the campaign (if any) and the open night, each in a worker."""
        if self.campaign is not None:
            self.refresh_campaign()
        if self.night_open():
            self.refresh_view()

    def _tick_age(self) -> None:
        from osa_tui.screens.campaign import CampaignHeader
        from osa_tui.widgets.header import NightHeader

        for header in self.screen.query(NightHeader):
            header.refresh_text()
        for campaign_header in self.screen.query(CampaignHeader):
            campaign_header.refresh_text()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return action not in self.NIGHT_ACTIONS or self.night_open()

    @work(thread=True, exclusive=True, group="campaign")
    def refresh_campaign(self) -> None:
        if self.campaign is None:
            return
        worker = get_current_worker()
        view = self.engine.load_campaign(self.campaign)
        if not worker.is_cancelled:
            self.call_from_thread(self.apply_campaign, view)

    def apply_campaign(self, view: CampaignView) -> None:
        self.campaign_view = view
        for screen in self.screen_stack:
            update = getattr(screen, "update_campaign", None)
            if update is not None and screen.is_mounted:
                update(view)

    def refresh_view(self) -> None:
        """Start a refresh unless one is running: a scheduler that takes longer than the
        refresh period (down, or slow) must not pile up calls nor cancel each refresh
        before it lands. The first one shows the files at once, then asks the scheduler."""
        if self._refreshing:
            self._refresh_again = True  # e.g. another night was chosen meanwhile
            return
        self._refreshing = True
        self._refresh_again = False
        first = self.view is None or self.view.night != self.night or self.view.status is None
        self._refresh_worker(first=first)

    @work(group="refresh")
    async def _refresh_worker(self, first: bool) -> None:
        try:
            if first:
                self.apply_view(await self._load_apart(ask_scheduler=False))
            self.apply_view(await self._load_apart(ask_scheduler=True))
        except asyncio.CancelledError:  # the console is closing: start no other refresh
            self._refresh_again = False
            raise
        finally:
            self._refresh_done()

    async def _load_apart(self, ask_scheduler: bool) -> NightView:
        """``_load`` in a daemon thread of its own, not in the worker threads' pool: the
        interpreter waits for the pool's threads at exit, so a read stuck on a slow shared
        filesystem (or a hung scheduler call) kept "q" from quitting until it ended."""
        loop = asyncio.get_running_loop()
        landed: asyncio.Future[NightView] = loop.create_future()

        def land(outcome: NightView | BaseException) -> None:
            if landed.done():  # cancelled meanwhile: the console is closing
                return
            if isinstance(outcome, BaseException):
                landed.set_exception(outcome)
            else:
                landed.set_result(outcome)

        def read() -> None:
            outcome: NightView | BaseException
            try:
                outcome = self._load(ask_scheduler)
            except BaseException as err:  # raised in the worker, as before
                outcome = err
            try:
                loop.call_soon_threadsafe(land, outcome)
            except RuntimeError:  # the console quit meanwhile: nobody to tell
                pass

        threading.Thread(target=read, name="osa-refresh", daemon=True).start()
        return await landed

    def _load(self, ask_scheduler: bool) -> NightView:
        try:
            return self.engine.load(self.night, ask_scheduler=ask_scheduler)
        except OsaError as err:
            return NightView(
                night=self.night, plan=None, status=None, readiness=None, journal=[], error=str(err)
            )

    def _refresh_done(self) -> None:
        self._refreshing = False
        if self._refresh_again:
            self.refresh_view()

    def apply_view(self, view: NightView) -> None:
        if view.night != self.night:
            return
        self.view = view
        for screen in self.screen_stack:
            update = getattr(screen, "update_view", None)
            # A screen not mounted yet picks the view up in its own on_mount.
            if update is not None and screen.is_mounted:
                update(view)

    # --- theme and style -------------------------------------------------------------
    @property
    def state_colors(self) -> dict[str, str]:
        osa_theme = self.themes.get(self.theme_name)
        return {**FALLBACK_COLORS, **(osa_theme.states if osa_theme else {})}

    def state_style(self, state: str) -> str:
        color = color_of(state, self.state_colors)
        return f"bold {color}" if is_failed(state) else color

    def set_theme(self, name: str) -> None:
        self.theme_name = name
        self.theme = name
        from osa_tui.widgets.grid import SubrunGrid

        for screen in self.screen_stack:
            for grid in screen.query(SubrunGrid):
                grid.set_state_colors(self.state_colors)
        if self.view:
            self.apply_view(self.view)
        if self.campaign_view:
            self.apply_campaign(self.campaign_view)

    def action_next_theme(self) -> None:
        names = list(self.themes)
        index = names.index(self.theme_name) if self.theme_name in names else -1
        self.set_theme(names[(index + 1) % len(names)])
        self.notify(f"theme: {self.theme_name}", timeout=2)

    def dq_flags(self, view: NightView) -> dict[int, str]:
        dq = view.dq
        if dq is None or isinstance(dq, str):
            return {}
        return getattr(dq, "flag_summary", lambda: {})()

    # --- navigation ------------------------------------------------------------------
    def open_run(self, run: int | None) -> None:
        from osa_tui.screens.run import RunScreen

        self.push_screen(RunScreen(run))

    def open_night(self, night: dt.date) -> None:
        """From the campaign screen: that night's own screen, on top of the campaign."""
        self.night = night
        self.view = None
        self.push_screen(NightScreen())
        self.refresh_view()

    def action_all_subruns(self) -> None:
        self.open_run(None)

    def action_back(self) -> None:
        if len(self.screen_stack) > 2:
            self.pop_screen()

    def action_logs(self) -> None:
        from osa_tui.screens.logs import LogsScreen
        from osa_tui.screens.run import RunScreen

        screen = self.screen
        sub = None
        calibration = False
        if isinstance(screen, RunScreen):
            sub = screen.current_subrun()
        elif isinstance(screen, NightScreen) and self.view and self.view.status:
            run = screen.selected_run()
            if run is not None:
                seq = self.view.status.sequence(run)
                calibration = seq.sequence.kind == "CALIBRATION"
                sub = (seq.failed or seq.subruns or [None])[0]
        if sub is None:
            self.notify("select a run or subrun first", severity="warning")
            return
        if self.view and self.view.status and not calibration:
            calibration = self.view.status.sequence(sub.run).sequence.kind == "CALIBRATION"
        self.push_screen(
            LogsScreen(
                NightPaths(self.engine.config, self.night),
                sub.run,
                sub.subrun,
                sub.job_id,
                calibration=calibration,
            )
        )

    def action_dq(self) -> None:
        from osa_tui.screens.dq import DQScreen

        self.push_screen(DQScreen())

    def action_journal(self) -> None:
        from osa_tui.screens.journal import JournalScreen

        self.push_screen(JournalScreen())

    def action_night(self, step: int) -> None:
        self.night = self.night + dt.timedelta(days=step)
        self.view = None
        while len(self.screen_stack) > 2 and not isinstance(self.screen, NightScreen):
            self.pop_screen()
        self.notify(f"night {self.night}", timeout=2)
        self.apply_view(
            NightView(
                night=self.night,
                plan=None,
                status=None,
                readiness=None,
                journal=[],
                error="loading…",
            )
        )
        self.refresh_view()

    def action_refresh(self) -> None:
        self.refresh_all()
        self.notify("refreshing…", timeout=1)

    def action_help(self) -> None:
        rows = []
        seen = set()
        keymap = self._keymap
        for where, bindings in (
            ("screen", getattr(self.screen, "BINDINGS", [])),
            ("everywhere", self.BINDINGS),
        ):
            for binding in bindings:
                if not isinstance(binding, Binding) or binding.id in seen:
                    continue
                if not self.check_action(binding.action.split("(")[0], ()):
                    continue  # e.g. the night's keys, on the campaign screen
                seen.add(binding.id)
                key = ",".join(keymap.get(binding.id, [])) if binding.id in keymap else binding.key
                what = binding.tooltip or binding.description or binding.action
                rows.append((key, what, binding.id or "-", where))
        rows.append(("ctrl+p", "Command palette (every action, themes)", "-", "everywhere"))
        self.push_screen(HelpScreen(rows))

    # --- actions ---------------------------------------------------------------------
    def selection(self) -> Selection:
        get = getattr(self.screen, "selection", None)
        return get() if get else Selection()

    def action_invoke(self, action_id: str) -> None:
        self.invoke(action_id)

    def invoke(self, action_id: str) -> None:
        """Guard, (reason), preview, confirm, run, refresh: the one path of every action."""
        if not self.night_open():
            self.notify("open a night first (enter)", severity="warning")
            return
        if self.view is None or self.view.plan is None:
            self.notify("no night loaded", severity="warning")
            return
        action = ACTIONS[action_id]
        if action_id == "refresh":
            self.action_refresh()
            return
        self.pending_action = action_id
        selection = self.selection()
        self.pending_action = None
        context = self.engine.context(self.view, selection)
        blocked = self.engine.guard(action_id, context)
        if blocked and action_id == "close" and close_needs_override(context):
            self._ask_override(context, blocked)
            return
        if blocked:
            self.notify(f"{action.title}: {blocked}", severity="warning", timeout=6)
            return
        if action.needs_reason:

            def got_reason(reason: str | None) -> None:
                if reason:
                    context.reason = reason
                    self._preview_then_confirm(action_id, context)

            self.push_screen(
                ReasonScreen(f"{action.title} — {selection.describe()}: why?"), got_reason
            )
            return
        self._preview_then_confirm(action_id, context)

    def _ask_override(self, context: Any, blocked: str) -> None:
        def got_reason(reason: str | None) -> None:
            if reason:
                context.reason = reason
                context.override = True
                self._preview_then_confirm("close", context, require="override")

        self.push_screen(
            ReasonScreen(f"The night is not ready: {blocked}. To close anyway, give a reason"),
            got_reason,
        )

    @work(thread=True, group="action")
    def _preview_then_confirm(
        self, action_id: str, context: Any, require: str | None = None
    ) -> None:
        action = ACTIONS[action_id]
        try:
            preview = self.engine.preview(action_id, context)
        except OsaError as err:
            self.call_from_thread(
                self.notify, f"{action.title}: {err}", severity="error", timeout=8
            )
            return
        if preview.nothing_to_do:
            self.call_from_thread(self.notify, "\n".join(preview.lines[:3]), timeout=4)
            return

        def confirmed(ok: bool | None) -> None:
            if ok:
                self._run_action(action_id, context)

        self.call_from_thread(
            self.push_screen,
            ConfirmScreen(
                f"{action.title} — {action.scope(context)}",
                preview.lines,
                destructive=action.destructive,
                require=require,
            ),
            confirmed,
        )

    @work(thread=True, group="action")
    def _run_action(self, action_id: str, context: Any) -> None:
        action = ACTIONS[action_id]
        try:
            outcome = self.engine.run(action_id, context)
        except OsaError as err:
            self.call_from_thread(
                self.notify, f"{action.title} failed: {err}", severity="error", timeout=10
            )
        else:
            first = outcome.message.splitlines()[0] if outcome.message else "done"
            self.call_from_thread(self.notify, f"{action.title}: {first}", timeout=5)
        self.call_from_thread(self.refresh_view)
