"""Read-only mode is enforced by the engine: every mutating action's ``run`` refuses.

The console's guard already says "read-only mode" before a preview; these tests call the
actions the way any face (console, palette, ``osa serve --read-only``, a script) ends up
calling them, past every guard, and check that nothing on disk changed.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from osa_core.actions import ACTIONS, Context, ReadOnlyError, Selection
from osa_core.config import Config
from osa_core.executors.factory import get_executor
from osa_core.plan import build_plan
from tests.conftest import NIGHT

MUTATING = sorted(action_id for action_id, action in ACTIONS.items() if action.mutates)


def _tree(base: Path) -> dict[str, tuple[int, int]]:
    """Every file under the night base with its size and mtime: what "nothing changed" means."""
    return {
        str(path.relative_to(base)): (path.stat().st_size, path.stat().st_mtime_ns)
        for path in base.rglob("*")
        if path.is_file()
    }


def _context(config: Config, read_only: bool) -> Context:
    plan = build_plan(config, NIGHT, write_cache=False)
    run = plan.sequences[-1].run
    return Context(
        config=config,
        plan=plan,
        executor=get_executor(config),
        selection=Selection(run=run, subruns=(0, 1)),
        reason="read-only test",
        override=True,
        read_only=read_only,
    )


def test_every_action_but_refresh_mutates() -> None:
    assert set(MUTATING) == {"submit", "resubmit", "retry_memory", "give_up", "cancel", "close"}
    assert not ACTIONS["refresh"].mutates


@pytest.mark.parametrize("action_id", MUTATING)
def test_mutating_action_refused_in_read_only_mode(
    config: Config, night_base: Path, action_id: str
) -> None:
    context = _context(config, read_only=True)
    before = _tree(night_base)
    with pytest.raises(ReadOnlyError, match="read-only"):
        ACTIONS[action_id].run(context)
    assert _tree(night_base) == before
    assert get_executor(config).find_jobs("osa_") == []


def test_console_engine_refuses_too(config: Config, night_base: Path) -> None:
    """The console's Engine (what osa serve --read-only runs) goes through the same check."""
    from osa_tui.engine import Engine

    engine = Engine(config, read_only=True)
    view = engine.load(NIGHT)
    context = engine.context(view, Selection())
    assert context.read_only
    before = _tree(night_base)
    with pytest.raises(ReadOnlyError):
        engine.run("submit", context)
    assert _tree(night_base) == before
    assert engine.run("refresh", context).ok  # watching is still allowed


def test_a_writer_still_acts(config: Config) -> None:
    """Without read-only the same call goes through (here: a give-up, journalled)."""
    context = _context(config, read_only=False)
    outcome = ACTIONS["give_up"].run(context)
    assert outcome.ok and "gave up" in outcome.message
