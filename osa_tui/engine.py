"""The console's window on the engine: builds a NightView in a worker thread.

Everything the screens show comes from osa_core (plan, status, readiness, journal, DQ);
this module only gathers it into one immutable snapshot per refresh so the UI thread never
blocks and never computes anything itself.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from osa_core.actions import ACTIONS, Context, Outcome, Preview, Selection
from osa_core.campaign import Campaign, CampaignStatus, NightState, campaign_nights, campaign_status
from osa_core.config import Config
from osa_core.errors import OsaError
from osa_core.executors.api import Executor
from osa_core.executors.factory import get_executor
from osa_core.journal import Journal
from osa_core.paths import NightPaths
from osa_core.plan import Plan, build_plan
from osa_core.rules.readiness import readiness
from osa_core.snapshot import observe
from osa_core.status import NightStatus, Readiness


@dataclass
class NightView:
    """One refresh worth of facts about a night."""

    night: dt.date
    plan: Plan | None
    status: NightStatus | None
    readiness: Readiness | None
    journal: list[dict[str, Any]]
    error: str = ""
    refreshed: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.timezone.utc))
    dq: Any = None
    provisional: bool = False  # files only: the scheduler has not answered yet

    @property
    def ok(self) -> bool:
        return self.status is not None


@dataclass(frozen=True)
class Waiting:
    """What a refresh waits for now, and since when (``time.monotonic``). On a slow shared
    filesystem a refresh takes seconds: the header says what it reads and for how long,
    instead of a bare "loading…" or a silently ageing "data N s old"."""

    what: str
    since: float

    def seconds(self) -> float:
        return time.monotonic() - self.since


@dataclass
class CampaignView:
    """One refresh worth of a campaign: its totals and every night's state (from files)."""

    campaign: Campaign
    status: CampaignStatus | None
    nights: list[NightState]
    error: str = ""
    refreshed: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.timezone.utc))


class Engine:
    """Holds config and executor; every method is safe to call from a worker thread."""

    def __init__(
        self, config: Config, read_only: bool = False, executor: Executor | None = None
    ) -> None:
        self.config = config
        self.read_only = read_only
        self.executor = executor or get_executor(config)
        # Set by the refresh's worker thread, read by the UI thread's timer: one reference,
        # replaced whole, so no lock is needed.
        self.waiting: Waiting | None = None

    def _wait_for(self, what: str) -> None:
        self.waiting = Waiting(what, time.monotonic())

    def load(self, night: dt.date, ask_scheduler: bool = True) -> NightView:
        """One refresh's facts. ``ask_scheduler=False``: files only (plan, journal,
        histories, the last known task states with their age): what is shown at once,
        before a scheduler that may be down has answered. ``waiting`` says meanwhile which
        of the two it waits for."""
        files = f"reading the night's files on {self.config.paths.base}"
        scheduler = f"asking {self.executor.describe()}"

        def asking(now: bool) -> None:
            self._wait_for(scheduler if now else files)

        self._wait_for(files)
        try:
            return self._load(night, ask_scheduler, asking)
        finally:
            self.waiting = None

    def _load(
        self, night: dt.date, ask_scheduler: bool, asking: Callable[[bool], None]
    ) -> NightView:
        paths = NightPaths(self.config, night)
        view = Journal(paths.journal).read()
        journal = view.entries
        try:
            plan = build_plan(self.config, night, write_cache=not self.read_only)
        except OsaError as err:
            return NightView(
                night=night, plan=None, status=None, readiness=None, journal=journal, error=str(err)
            )
        snapshot = observe(
            self.config,
            plan,
            self.executor,
            settle=False,
            journal=view,
            ask_scheduler=ask_scheduler,
            asking=asking,
        )
        status = snapshot.status
        return NightView(
            night=night,
            plan=plan,
            status=status,
            readiness=readiness(status),
            journal=journal,
            dq=self.load_dq(night),
            provisional=not ask_scheduler,
        )

    def load_campaign(self, campaign: Campaign) -> CampaignView:
        """The campaign screen's view: one pass over the nights' files, no scheduler call."""
        try:
            nights = list(campaign_nights(self.config, campaign))
            status = campaign_status(self.config, campaign, nights)
        except (OsaError, OSError) as err:  # e.g. its dates file moved away
            return CampaignView(campaign=campaign, status=None, nights=[], error=str(err))
        return CampaignView(campaign=campaign, status=status, nights=nights)

    def load_dq(self, night: dt.date) -> Any:
        try:
            from osa_core.dq.summary import night_dq
        except ImportError:
            return None
        try:
            return night_dq(self.config, night)
        except OsaError as err:
            return str(err)
        except Exception as err:  # a DQ file we cannot read must not break the console
            return f"DQ unavailable: {type(err).__name__}: {err}"

    def context(
        self, view: NightView, selection: Selection, reason: str = "", override: bool = False
    ) -> Context:
        assert view.plan is not None
        return Context(
            config=self.config,
            plan=view.plan,
            executor=self.executor,
            status=view.status,
            selection=selection,
            reason=reason,
            override=override,
            read_only=self.read_only,
        )

    def guard(self, action_id: str, context: Context) -> str | None:
        return ACTIONS[action_id].guard(context)

    def preview(self, action_id: str, context: Context) -> Preview:
        return ACTIONS[action_id].preview(context)

    def run(self, action_id: str, context: Context) -> Outcome:
        return ACTIONS[action_id].run(context)
