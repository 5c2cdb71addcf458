"""Reprocessing campaigns: every night again with a new production id, without drowning
the cluster.

A campaign lives in ``OSA/campaigns/<name>/``: ``campaign.json`` (its definition),
``osa.toml`` (the site config with the campaign's production id: new products never
overwrite old ones, and the job payloads read the same file), ``journal.jsonl`` (what the
campaign did to which night, append-only) and a lock. ``osa campaign run`` is a cron-able,
resumable pass: it ticks the nights in progress (retry policy, close when ready), then
starts waiting nights in date order while the pending-job cap and the time window allow.
Nights are read one at a time from the dates file (or range): memory does not grow with
the campaign.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from osa_core.config import Config, ProductionId, config_to_dict, config_to_toml, load_config
from osa_core.errors import InputError, OsaError
from osa_core.fsio import ensure_dir, write_json_atomic, write_text_atomic
from osa_core.journal import Journal
from osa_core.locking import night_lock
from osa_core.paths import NightPaths, parse_night

if TYPE_CHECKING:
    from osa_core.executors.api import Executor

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
DONE, RUNNING, FAILED, WAITING = "done", "running", "needs operator", "waiting"
NO_DATA = f"{DONE} (no data)"  # the campaign's word for a night without a RunSummary


@dataclass(frozen=True)
class Campaign:
    name: str
    prod_id: str
    folder: Path
    dates_file: str | None = None
    first: str | None = None
    last: str | None = None
    cap: int = 2500
    window: str | None = None  # "HH:MM-HH:MM" local time when new nights may start
    created: str = ""

    @property
    def config_path(self) -> Path:
        return self.folder / "osa.toml"

    @property
    def journal(self) -> Journal:
        return Journal(self.folder / "journal.jsonl")

    def nights(self) -> Iterator[dt.date]:
        """The campaign's nights in order, read lazily (a file of 1,000+ dates is fine)."""
        if self.dates_file:
            with open(self.dates_file, encoding="utf-8") as handle:
                for number, line in enumerate(handle, start=1):
                    text = line.split("#", 1)[0].strip()
                    if not text:
                        continue
                    try:
                        yield parse_night(text)
                    except InputError:
                        raise InputError(
                            f"{self.dates_file}:{number}: not a night: {text!r}"
                        ) from None
            return
        assert self.first and self.last
        night, last = dt.date.fromisoformat(self.first), dt.date.fromisoformat(self.last)
        while night <= last:
            yield night
            night += dt.timedelta(days=1)

    def window_open(self, now: dt.datetime | None = None) -> bool:
        if not self.window:
            return True
        start, end = (dt.time.fromisoformat(t) for t in self.window.split("-"))
        current = (now or dt.datetime.now()).time()
        return start <= current < end if start <= end else current >= start or current < end


def campaigns_root(config: Config) -> Path:
    return config.paths.state.parent / "campaigns"


def create_campaign(
    config: Config,
    name: str,
    prod_id: str,
    *,
    dates_file: Path | None,
    first: str | None,
    last: str | None,
    cap: int,
    window: str | None,
) -> Campaign:
    if not NAME_RE.match(name):
        raise InputError(f"campaign name {name!r}: use letters, digits, '.', '_' or '-'")
    if not re.match(r"^[A-Za-z0-9][A-Za-z0-9._-]*$", prod_id) or prod_id == str(
        config.production.prod_id
    ):
        raise InputError(
            f"--prod-id {prod_id!r}: a plain id different from the nightly "
            f"production's ({config.production.prod_id}), so nothing is "
            "overwritten"
        )
    if (dates_file is None) == (first is None or last is None):
        raise InputError("give either --dates FILE or both --from and --to")
    if first and last:
        if parse_night(first) > parse_night(last):
            raise InputError(f"--from {first} is after --to {last}")
        first, last = parse_night(first).isoformat(), parse_night(last).isoformat()
    if dates_file is not None and not dates_file.is_file():
        raise InputError(f"{dates_file}: dates file not found")
    if cap < 1:
        raise InputError("--cap must be at least 1")
    if window and not re.match(r"^\d{2}:\d{2}-\d{2}:\d{2}$", window):
        raise InputError(f"--window {window!r}: expected HH:MM-HH:MM")
    folder = campaigns_root(config) / name
    if (folder / "campaign.json").exists():
        raise InputError(f"campaign {name!r} exists already ({folder})")
    ensure_dir(folder)
    campaign = Campaign(
        name=name,
        prod_id=prod_id,
        folder=folder,
        dates_file=str(dates_file.resolve()) if dates_file else None,
        first=first,
        last=last,
        cap=cap,
        window=window,
        created=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
    )
    if sum(1 for _ in campaign.nights()) == 0:  # reads (and validates) the whole list
        raise InputError("the campaign has no night")
    write_text_atomic(campaign.config_path, campaign_config_text(config, prod_id, cap))
    data = {k: v for k, v in dataclasses.asdict(campaign).items() if k != "folder"}
    write_json_atomic(folder / "campaign.json", data)
    campaign.journal.append("created", prod_id=prod_id, cap=cap, window=window)
    return campaign


def campaign_config_text(config: Config, prod_id: str, cap: int) -> str:
    """The site config with the campaign's production id and pending cap (absolute paths)."""
    data = config_to_dict(config)
    data.pop("source", None)
    data["production"]["prod_id"] = prod_id
    data["slurm"]["max_pending_jobs"] = cap
    for key in ("steps",):
        data[key] = {name: {k: v for k, v in step.items() if v} for name, step in data[key].items()}
    return f"# written by osa campaign create from {config.source}\n" + config_to_toml(data)


def load_campaign(config: Config, name: str) -> Campaign:
    folder = campaigns_root(config) / name
    try:
        data = json.loads((folder / "campaign.json").read_text())
    except FileNotFoundError:
        raise InputError(f"no campaign {name!r} under {campaigns_root(config)}") from None
    return Campaign(folder=folder, **data)


@dataclass
class NightState:
    night: dt.date
    state: str
    detail: str = ""
    #: when its NightFinished flag was written (epoch seconds), for a closed night
    finished: float | None = None


def night_state(config: Config, night: dt.date, last: dict[str, str]) -> NightState:
    """From files only: closed flag, the night's journal, the campaign's last word.

    A night the campaign skipped for lack of a RunSummary is done (nothing to process) as
    long as its RunSummary is still missing; if one appears later, the night waits again.
    """
    paths = NightPaths(config, night)
    try:
        return NightState(night, DONE, finished=paths.night_finished.stat().st_mtime)
    except FileNotFoundError:
        pass
    noted = last.get(night.isoformat(), "")
    if noted.startswith(FAILED):
        return NightState(night, FAILED, noted)
    if noted == NO_DATA and not paths.run_summary.exists():
        return NightState(night, DONE, NO_DATA)
    if paths.journal.exists():
        return NightState(night, RUNNING)
    return NightState(night, WAITING)


@dataclass
class PassReport:
    ticked: list[str] = field(default_factory=list)
    started: list[str] = field(default_factory=list)
    closed: list[str] = field(default_factory=list)
    needs_operator: list[str] = field(default_factory=list)
    stopped_because: str = ""

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _last_entries(campaign: Campaign) -> dict[str, dict[str, Any]]:
    """The campaign journal's last entry about each night (one small dict per night)."""
    entries: dict[str, dict[str, Any]] = {}
    for entry in campaign.journal.read().entries:
        if entry.get("night"):
            entries[str(entry["night"])] = entry
    return entries


def _last_words(campaign: Campaign) -> dict[str, str]:
    return {night: str(e.get("state", "")) for night, e in _last_entries(campaign).items()}


def run_campaign(
    config: Config,
    campaign: Campaign,
    executor: Executor | None = None,
    now: dt.datetime | None = None,
) -> PassReport:
    """One pass (see the module doc). Exactly one pass at a time per campaign."""
    # lazy: a campaign's status (the console) is read from files, only a pass needs these
    from osa_core.executors.factory import get_executor
    from osa_core.usecases.tick import tick

    campaign_config = load_config(campaign.config_path)
    executor = executor or get_executor(campaign_config)
    report = PassReport()
    with night_lock(campaign.folder / "campaign.lock", wait=0):
        last = _last_words(campaign)
        journal = campaign.journal
        for night in campaign.nights():
            state = night_state(campaign_config, night, last)
            if state.state == DONE and not state.detail and last.get(night.isoformat()) != DONE:
                # its close job ended between two passes (SLURM): no tick saw it close, so
                # record it now, or the throughput and ETA would never count it
                report.closed.append(night.isoformat())
                journal.append("closed", night=night.isoformat(), state=DONE)
            if state.state != RUNNING:
                continue
            try:
                result = tick(campaign_config, night, executor, lock_wait=10)
            except OsaError as err:
                report.needs_operator.append(f"{night}: {err}")
                continue
            report.ticked.append(night.isoformat())
            if result.closed:
                report.closed.append(night.isoformat())
                journal.append("closed", night=night.isoformat(), state=DONE)
            elif result.not_retried:
                why = f"{FAILED}: {result.not_retried[0]}"
                report.needs_operator.append(f"{night}: {result.not_retried[0]}")
                if last.get(night.isoformat()) != why:
                    journal.append("needs_operator", night=night.isoformat(), state=why)
        if not campaign.window_open(now):
            report.stopped_because = f"outside the window {campaign.window}"
            return report
        pending = executor.count_pending("osa_")
        for night in campaign.nights():
            if night_state(campaign_config, night, last).state != WAITING:
                continue
            paths = NightPaths(campaign_config, night)
            if not paths.run_summary.exists():
                journal.append("skipped", night=night.isoformat(), state=NO_DATA)
                last[night.isoformat()] = NO_DATA
                continue
            from osa_core.plan import build_plan  # lazy: see above

            plan = build_plan(campaign_config, night)
            size = plan.total_subruns + 3  # + calibration and the armed close chain
            if pending and pending + size > campaign.cap:
                report.stopped_because = f"pending cap: {pending} pending, cap {campaign.cap}"
                break
            try:
                result = tick(campaign_config, night, executor, lock_wait=10)
            except OsaError as err:
                report.needs_operator.append(f"{night}: {err}")
                journal.append("needs_operator", night=night.isoformat(), state=f"{FAILED}: {err}")
                continue
            started = sum(len(j.get("indices") or [0]) for j in result.submitted)
            pending += started + 2
            report.started.append(night.isoformat())
            journal.append("started", night=night.isoformat(), state=RUNNING, tasks=started)
    return report


@dataclass
class CampaignStatus:
    name: str
    prod_id: str
    counts: dict[str, int]
    total: int
    started: str
    per_hour: float | None
    eta_hours: float | None
    problems: list[str]

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _when(entry: dict[str, Any]) -> str:
    """``2024-03-01 12:00`` (UTC) from a journal entry's time."""
    return str(entry.get("time", ""))[:16].replace("T", " ")


def campaign_nights(config: Config, campaign: Campaign) -> Iterator[NightState]:
    """Every night of the campaign, in date order, with its state and a one-line detail
    (when it closed or started, why it needs an operator): from files only, like
    ``campaign_status``, one night at a time. What the console's campaign screen lists."""
    campaign_config = load_config(campaign.config_path)
    entries = _last_entries(campaign)
    last = {night: str(e.get("state", "")) for night, e in entries.items()}
    for night in campaign.nights():
        state = night_state(campaign_config, night, last)
        entry = entries.get(night.isoformat(), {})
        action = entry.get("action")
        if state.state == DONE:
            if state.detail == NO_DATA:
                state.detail = "no data (no RunSummary)"
            elif action == "closed":
                state.detail = f"closed {_when(entry)}"
            else:
                state.detail = "closed"
        elif state.state == FAILED:
            state.detail = state.detail.removeprefix(f"{FAILED}:").strip()
        elif state.state == RUNNING and action == "started":
            state.detail = f"started {_when(entry)} · {entry.get('tasks', '?')} tasks"
        yield state


def campaign_status(
    config: Config, campaign: Campaign, nights: Iterable[NightState] | None = None
) -> CampaignStatus:
    """Counts per state, throughput (nights closed per hour since creation) and an ETA.

    ``nights`` (from ``campaign_nights``) spares a second pass over the files when the
    caller lists the nights too; by default they are read here, one at a time."""
    counts: Counter[str] = Counter()
    problems: list[str] = []
    finished: list[float] = []
    for state in nights if nights is not None else campaign_nights(config, campaign):
        counts[state.state] += 1
        if state.finished is not None:
            finished.append(state.finished)
        if state.state == FAILED and len(problems) < 20:
            problems.append(f"{state.night}: {state.detail}")
    total = sum(counts.values())
    # closes counted from the nights' own flags, not from the campaign journal: a close
    # job that ends between two passes is never seen closing by a pass
    closes, last_close = len(finished), max(finished, default=0.0)
    per_hour = eta = None
    if closes:
        started = dt.datetime.fromisoformat(campaign.created).timestamp()
        hours = max((last_close - started) / 3600, 1 / 3600)
        per_hour = closes / hours
        left = counts[WAITING] + counts[RUNNING]
        eta = left / per_hour if per_hour else None
    return CampaignStatus(
        name=campaign.name,
        prod_id=campaign.prod_id,
        counts=dict(counts),
        total=total,
        started=campaign.created,
        per_hour=per_hour,
        eta_hours=eta,
        problems=problems,
    )


__all__ = [
    "Campaign",
    "NightState",
    "ProductionId",
    "campaign_nights",
    "campaign_status",
    "create_campaign",
    "load_campaign",
    "run_campaign",
]
