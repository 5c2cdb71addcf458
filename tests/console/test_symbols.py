"""Every state the engine can report is drawn as itself: a symbol of its own, and a colour
(its own or its group's), so a state added to the vocabulary is never shown as '?'."""

from __future__ import annotations

from osa_core.vocabulary import FAILED_STATES, State
from osa_tui.symbols import SYMBOLS, color_of, is_failed, symbol
from osa_tui.themes import load_themes


def test_every_state_has_a_symbol_and_lost_is_not_unknown() -> None:
    assert set(SYMBOLS) == set(State)
    assert symbol("LOST") == symbol(State.LOST) != symbol(State.UNKNOWN)
    assert symbol("CANCELLED by 0") == symbol(State.CANCELLED)


def test_failed_states_take_the_theme_failed_colour_when_the_theme_names_none() -> None:
    for theme in load_themes().values():
        colors = theme.states
        for state in FAILED_STATES:
            assert is_failed(state)
            expected = colors.get(state, colors.get(State.FAILED))
            assert color_of(state, colors) == expected, (theme.theme.name, state)
