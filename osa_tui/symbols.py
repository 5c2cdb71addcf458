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
