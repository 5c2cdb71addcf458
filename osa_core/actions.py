"""One registry of operator actions, shared by the console, its command palette and ``--batch``.

Each action has an id (which key bindings refer to), a title and description, a guard
(why it may not run now), a preview (exactly what it would do: the jobs it would submit)
and a run. Faces never call the submission functions directly: what a shifter previews in
the console is what cron does and what the CLI prints, and every run lands in the journal.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from osa_core.config import Config
from osa_core.errors import OsaError
from osa_core.executors.api import Executor
from osa_core.intents import SubmitReport
from osa_core.jobs import compact_ranges
from osa_core.plan import Plan
from osa_core.rules.readiness import readiness
from osa_core.status import NightStatus
from osa_core.usecases.close import close_night
from osa_core.usecases.night import cancel, give_up, resubmit_failed, submit_night


class ReadOnlyError(OsaError):
    """A mutating action was asked to run in read-only mode (``--read-only``, ``osa serve
    --read-only``): the engine refuses it, whatever face asked."""


@dataclass
class Selection:
    """What the operator points at: a run and, optionally, some of its subruns."""

    run: int | None = None
    subruns: tuple[int, ...] = ()

    def indices(self) -> dict[int, list[int]] | None:
        if self.run is None or not self.subruns:
            return None
        return {self.run: list(self.subruns)}

    def runs(self) -> list[int] | None:
        return None if self.run is None else [self.run]

    def describe(self) -> str:
        if self.run is None:
            return "the whole night"
        if self.subruns:
            return f"run {self.run:05d} subruns {compact_ranges(self.subruns)}"
        return f"run {self.run:05d}"


@dataclass
class Context:
    """Everything an action needs; built by the face that invokes it."""

    config: Config
    plan: Plan
    executor: Executor
    status: NightStatus | None = None
    selection: Selection = field(default_factory=Selection)
    reason: str = ""
    override: bool = False
    read_only: bool = False


@dataclass
class Preview:
    """What the action would do, line by line, before anyone confirms it."""

    lines: list[str]
    nothing_to_do: bool = False
    data: Any = None


@dataclass
class Outcome:
    ok: bool
    message: str
    data: Any = None


@dataclass(frozen=True)
class Action:
    id: str
    title: str
    description: str
    destructive: bool
    needs_reason: bool
    guard: Callable[[Context], str | None]
    preview: Callable[[Context], Preview]
    perform: Callable[[Context], Outcome]
    mutates: bool = True
    night_wide: bool = False  # acts on the whole night whatever row is selected

    def run(self, ctx: Context) -> Outcome:
        """Do it. A mutating action refuses in read-only mode here, in the engine, not only
        behind a face's guard: a key, the palette or a script calling ``run`` directly all
        end up refused the same way."""
        if self.mutates and ctx.read_only:
            raise ReadOnlyError(f"{self.title}: refused, read-only mode (nothing was changed)")
        return self.perform(ctx)

    def scope(self, ctx: Context) -> str:
        """What the action applies to, for dialog titles and the journal's readers."""
        if self.night_wide:
            return f"night {ctx.plan.night.isoformat()}"
        return ctx.selection.describe()


def _no_guard(ctx: Context) -> str | None:
    return None


def _writer_guard(ctx: Context) -> str | None:
    return "read-only mode: actions are disabled" if ctx.read_only else None


def _report_preview(report: SubmitReport) -> Preview:
    lines = report.summary().splitlines()
    return Preview(lines=lines, nothing_to_do=not report.jobs, data=report)


# --- submit ---------------------------------------------------------------------------
def _submit_guard(ctx: Context) -> str | None:
    if ctx.plan.problems:
        return ctx.plan.problems[0]
    return _writer_guard(ctx)


def _submit_preview(ctx: Context) -> Preview:
    return _report_preview(submit_night(ctx.config, ctx.plan, ctx.executor, dry_run=True))


def _submit_run(ctx: Context) -> Outcome:
    report = submit_night(ctx.config, ctx.plan, ctx.executor)
    return Outcome(True, report.summary(), report)


# --- resubmit / more memory -----------------------------------------------------------
def _resubmit(
    more_memory: bool,
) -> tuple[Callable[[Context], Preview], Callable[[Context], Outcome]]:
    def resubmit(ctx: Context, dry_run: bool) -> SubmitReport:
        return resubmit_failed(
            ctx.config,
            ctx.plan,
            ctx.executor,
            runs=ctx.selection.runs(),
            indices=ctx.selection.indices(),
            more_memory=more_memory,
            dry_run=dry_run,
        )

    def preview(ctx: Context) -> Preview:
        preview = _report_preview(resubmit(ctx, dry_run=True))
        if preview.nothing_to_do:
            preview.lines = [f"no failed subruns in {ctx.selection.describe()}"]
        return preview

    def run(ctx: Context) -> Outcome:
        report = resubmit(ctx, dry_run=False)
        return Outcome(True, report.summary(), report)

    return preview, run


# --- give up -------------------------------------------------------------------------
def _give_up_guard(ctx: Context) -> str | None:
    if ctx.selection.run is None or not ctx.selection.subruns:
        return "select the subruns to give up (in a run's grid)"
    return _writer_guard(ctx)


def _give_up_preview(ctx: Context) -> Preview:
    return Preview(
        [
            f"give up {ctx.selection.describe()}: they will not be processed and the "
            "night may close without them (recorded in the journal with your reason)"
        ]
    )


def _give_up_run(ctx: Context) -> Outcome:
    assert ctx.selection.run is not None
    give_up(ctx.config, ctx.plan, ctx.selection.run, list(ctx.selection.subruns), ctx.reason)
    return Outcome(True, f"gave up {ctx.selection.describe()}")


# --- cancel --------------------------------------------------------------------------
def _cancel_preview(ctx: Context) -> Preview:
    """Exactly the jobs cancel would cancel: the same decision, from a fresh snapshot."""
    ids = cancel(
        ctx.config,
        ctx.plan,
        ctx.executor,
        runs=ctx.selection.runs(),
        reason=ctx.reason,
        dry_run=True,
    )
    if not ids:
        return Preview([f"no active job in {ctx.selection.describe()}"], nothing_to_do=True)
    return Preview(
        [
            f"cancel {len(ids)} job(s) on the {ctx.executor.name} executor: "
            f"{', '.join(ids)}  ({ctx.selection.describe()})"
        ],
        data=ids,
    )


def _cancel_run(ctx: Context) -> Outcome:
    ids = cancel(ctx.config, ctx.plan, ctx.executor, runs=ctx.selection.runs(), reason=ctx.reason)
    return Outcome(True, f"cancelled {', '.join(ids)}" if ids else "nothing to cancel", ids)


# --- close ---------------------------------------------------------------------------
def _close_guard(ctx: Context) -> str | None:
    blocked = _writer_guard(ctx)
    if blocked:
        return blocked
    if ctx.status is None:
        return "no status yet"
    if ctx.status.closed:
        return "the night is already closed"
    ready = readiness(ctx.status)
    if not ready.ready and not ctx.override:
        return ready.summary() + " (override to close anyway)"
    return None


def close_needs_override(ctx: Context) -> bool:
    """True when only readiness stops the close: an operator may then force it with a
    reason. Not for a closed night, a read-only face or a night with no status yet."""
    if ctx.read_only or ctx.status is None or ctx.status.closed:
        return False
    return not readiness(ctx.status).ready


def _close_preview(ctx: Context) -> Preview:
    lines = close_night(
        ctx.config, ctx.plan, ctx.executor, dry_run=True, override=ctx.override, reason=ctx.reason
    )
    return Preview(lines=lines)


def _close_run(ctx: Context) -> Outcome:
    lines = close_night(
        ctx.config, ctx.plan, ctx.executor, override=ctx.override, reason=ctx.reason
    )
    return Outcome(True, "\n".join(lines))


# --- refresh -------------------------------------------------------------------------
def _refresh_preview(ctx: Context) -> Preview:
    return Preview(["query the scheduler and re-read the histories"])


def _refresh_run(ctx: Context) -> Outcome:
    return Outcome(True, "refreshed")


_resubmit_preview, _resubmit_run = _resubmit(more_memory=False)
_memory_preview, _memory_run = _resubmit(more_memory=True)

ACTIONS: dict[str, Action] = {
    a.id: a
    for a in (
        Action(
            "submit",
            "Submit night",
            "Submit every sequence not submitted yet (calibration "
            "first, data arrays chained after it)",
            False,
            False,
            _submit_guard,
            _submit_preview,
            _submit_run,
            night_wide=True,
        ),
        Action(
            "resubmit",
            "Resubmit failed",
            "Resubmit exactly the failed subruns of the selection (one compact array per run)",
            False,
            False,
            _writer_guard,
            _resubmit_preview,
            _resubmit_run,
        ),
        Action(
            "retry_memory",
            "Retry with more memory",
            "Resubmit the failed subruns of the "
            "selection asking for more memory ([retry] memory_factor)",
            False,
            False,
            _writer_guard,
            _memory_preview,
            _memory_run,
        ),
        Action(
            "give_up",
            "Give up subruns",
            "Mark the selected subruns as given up, with a "
            "reason: the night can close without them",
            True,
            True,
            _give_up_guard,
            _give_up_preview,
            _give_up_run,
        ),
        Action(
            "cancel",
            "Cancel jobs",
            "Cancel the active jobs of the selection (or the night)",
            True,
            False,
            _writer_guard,
            _cancel_preview,
            _cancel_run,
        ),
        Action(
            "close",
            "Close night",
            "Merge, DL2, move to the final tree, provenance, "
            "NightFinished (guarded: every subrun finished or given up)",
            True,
            False,
            _close_guard,
            _close_preview,
            _close_run,
            night_wide=True,
        ),
        Action(
            "refresh",
            "Refresh",
            "Query the scheduler now",
            False,
            False,
            _no_guard,
            _refresh_preview,
            _refresh_run,
            mutates=False,
            night_wide=True,
        ),
    )
}
