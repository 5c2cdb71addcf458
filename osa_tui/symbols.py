"""State symbols: the grid and tables tell states apart by symbol as well as colour
(for colour-blind shifters, 16-colour terminals and NO_COLOR)."""

from __future__ import annotations

SYMBOLS = {
    "COMPLETED": "●",
    "RUNNING": "▶",
    "PENDING": "·",
    "FAILED": "✗",
    "OUT_OF_MEMORY": "M",
    "TIMEOUT": "T",
    "NODE_FAIL": "N",
    "PREEMPTED": "P",
    "BOOT_FAIL": "B",
    "DEADLINE": "D",
    "CANCELLED": "⊘",
    "GIVEN_UP": "–",
    "NOT_SUBMITTED": "○",
    "UNKNOWN": "?",
    "PARTIAL": "◐",
}
FALLBACK_COLORS = {
    "COMPLETED": "green",
    "RUNNING": "cyan",
    "PENDING": "blue",
    "FAILED": "red",
    "OUT_OF_MEMORY": "red",
    "TIMEOUT": "red",
    "CANCELLED": "magenta",
    "GIVEN_UP": "grey50",
    "NOT_SUBMITTED": "grey37",
    "UNKNOWN": "yellow",
}


def symbol(state: str) -> str:
    return SYMBOLS.get(state, "?")


LEGEND = (
    "● done  ▶ running  · pending  ✗ failed  M out of memory  T timeout  "
    "⊘ cancelled  – given up  ○ not submitted  ? unknown"
)

# A campaign's night states (osa_core.campaign) drawn as the job state they resemble: the
# same symbol and the same theme colour as in the night's own screens.
CAMPAIGN_STATES = {
    "done": "COMPLETED",
    "running": "RUNNING",
    "needs operator": "FAILED",
    "waiting": "NOT_SUBMITTED",
}


def campaign_symbol(state: str) -> str:
    return symbol(CAMPAIGN_STATES.get(state, "UNKNOWN"))
