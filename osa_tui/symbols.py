"""State symbols and colours: the grid and tables tell states apart by symbol as well as
colour (for colour-blind shifters, 16-colour terminals and NO_COLOR).

Every state of ``osa_core.vocabulary.State`` has a symbol (a test checks it), and a state
a theme gives no colour is drawn in the colour of its group (a failed state in the
theme's FAILED colour), so a new state is never drawn as an unknown one.
"""

from __future__ import annotations

from osa_core.vocabulary import ACTIVE_STATES, FAILED_STATES, State

SYMBOLS: dict[State, str] = {
    State.COMPLETED: "●",
    State.RUNNING: "▶",
    State.PENDING: "·",
    State.REQUEUED: "↻",
    State.RESIZING: "▶",
    State.SUSPENDED: "‖",
    State.CONFIGURING: "·",
    State.COMPLETING: "▶",
    State.REQUEUE_HOLD: "‖",
    State.REQUEUE_FED: "↻",
    State.SIGNALING: "▶",
    State.STAGE_OUT: "▶",
    State.STOPPED: "‖",
    State.RESV_DEL_HOLD: "‖",
    State.FAILED: "✗",
    State.CANCELLED: "⊘",
    State.TIMEOUT: "T",
    State.OUT_OF_MEMORY: "M",
    State.NODE_FAIL: "N",
    State.PREEMPTED: "P",
    State.BOOT_FAIL: "B",
    State.DEADLINE: "D",
    State.REVOKED: "R",
    State.SPECIAL_EXIT: "X",
    State.LOST: "L",
    State.NOT_SUBMITTED: "○",
    State.WAITING: "◌",
    State.AWAITED: "…",  # declared by the RunSummary, not on disk yet
    State.GIVEN_UP: "–",
    State.UNKNOWN: "?",
    State.PARTIAL: "◐",
}
FALLBACK_COLORS: dict[str, str] = {
    State.COMPLETED: "green",
    State.RUNNING: "cyan",
    State.PENDING: "blue",
    State.FAILED: "red",
    State.OUT_OF_MEMORY: "red",
    State.TIMEOUT: "red",
    State.CANCELLED: "magenta",
    State.GIVEN_UP: "grey50",
    State.NOT_SUBMITTED: "grey37",
    State.WAITING: "grey50",
    State.AWAITED: "grey50",
    State.UNKNOWN: "yellow",
    State.PARTIAL: "yellow",
}


def symbol(state: str) -> str:
    # State members hash and compare like their text: a plain lookup first (the grid
    # draws 10,000 cells), parsing only for text that is not a state's exact name
    return SYMBOLS.get(state) or SYMBOLS.get(State.parse(state), "?")  # type: ignore[call-overload]


def group_of(state: str) -> State:
    """The state whose colour a state borrows when a theme names no colour for it."""
    parsed = State.parse(state)
    if parsed in FAILED_STATES:
        return State.FAILED
    if parsed in ACTIVE_STATES:
        return State.RUNNING if parsed != State.PENDING else State.PENDING
    return parsed


def color_of(state: str, colors: dict[str, str]) -> str:
    """The colour of a state: its own, else its group's (theme first, then fallback)."""
    for key in (state, group_of(state)):
        if key in colors:
            return colors[key]
    return FALLBACK_COLORS.get(group_of(state), "")


def is_failed(state: str) -> bool:
    return State.parse(state) in FAILED_STATES


LEGEND = (
    "● done  ▶ running  · pending  ✗ failed  M out of memory  T timeout  L lost  "
    "⊘ cancelled  – given up  ○ not submitted  ◌ waiting  ? unknown"
)

# A campaign's night states (osa_core.campaign) drawn as the job state they resemble: the
# same symbol and the same theme colour as in the night's own screens.
CAMPAIGN_STATES = {
    "done": State.COMPLETED,
    "running": State.RUNNING,
    "needs operator": State.FAILED,
    "waiting": State.NOT_SUBMITTED,
}


def campaign_symbol(state: str) -> str:
    return symbol(CAMPAIGN_STATES.get(state, State.UNKNOWN))
