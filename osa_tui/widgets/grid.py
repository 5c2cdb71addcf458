"""A dense subrun grid on Textual's line API: one cell per subrun, one line per ~50 subruns.

A night has up to ~10,000 subruns; a DataTable needs ~1.3 s to first paint that many rows.
This widget renders only the visible lines (each a Strip built on demand and cached), so
paint cost is bounded by the screen, not the night. Cells show state by colour AND symbol;
the cursor is reversed, selected cells are underlined and bold.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.segment import Segment
from rich.style import Style
from textual.binding import Binding
from textual.geometry import Region, Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from osa_tui.symbols import color_of, is_failed, symbol

LABEL_WIDTH = 12  # "02008 0150 │"
CELL_WIDTH = 2


@dataclass(frozen=True)
class Cell:
    run: int
    subrun: int
    state: str

    @property
    def key(self) -> tuple[int, int]:
        return (self.run, self.subrun)


class SubrunGrid(ScrollView, can_focus=True):
    """Subruns of one run (or a whole night) as a grid of coloured symbols."""

    BINDINGS = [
        Binding("left", "move(-1)", "←", show=False),
        Binding("right", "move(1)", "→", show=False),
        Binding("up", "move_line(-1)", "↑", show=False),
        Binding("down", "move_line(1)", "↓", show=False),
        Binding("home", "jump(0)", show=False),
        Binding("end", "jump(-1)", show=False),
        # Short in the footer (✗ is the failed symbol of the legend): at 1280 px in a
        # browser every key must fit; the help shows the tooltip.
        Binding("f", "next_failed(1)", "Next ✗", tooltip="Next failed", id="next_failed"),
        Binding("F", "next_failed(-1)", "Prev failed", show=False, id="prev_failed"),
        Binding("space", "toggle_select", "Select", id="select"),
        Binding("A", "select_failed", "All ✗", tooltip="Select failed", id="select_failed"),
        Binding("x", "clear_selection", "Clear sel.", show=False, id="clear_selection"),
    ]

    class CursorMoved(Message):
        def __init__(self, cell: Cell | None) -> None:
            super().__init__()
            self.cell = cell

    class SelectionChanged(Message):
        def __init__(self, selected: frozenset[tuple[int, int]]) -> None:
            super().__init__()
            self.selected = selected

    DEFAULT_CSS = """
    SubrunGrid { height: 1fr; background: $surface; }
    SubrunGrid:focus { background-tint: $foreground 3%; }
    """

    def __init__(
        self, *, name: str | None = None, id: str | None = None, classes: str | None = None
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.cells: list[Cell] = []
        self.index: dict[tuple[int, int], int] = {}
        self.lines: list[tuple[int, int]] = []  # (first cell index, count) per line
        self.line_of: list[int] = []
        self.cursor = 0
        self.selected: set[tuple[int, int]] = set()
        self.state_colors: dict[str, str] = {}
        self._base_styles: dict[str, Style] = {}  # per state, for the current colours
        self._strips: dict[int, Strip] = {}
        self._per_line = 0

    # --- data ------------------------------------------------------------------------
    def set_cells(self, cells: list[Cell]) -> None:
        """Replace the data, keeping the cursor and selection on the same subruns."""
        current = self.cells[self.cursor].key if self.cells else None
        self.cells = cells
        self.index = {cell.key: i for i, cell in enumerate(cells)}
        self.selected &= set(self.index)
        self.cursor = self.index.get(current, 0) if current else 0
        self._relayout()
        self.post_message(self.CursorMoved(self.current))

    def set_state_colors(self, colors: dict[str, str]) -> None:
        self.state_colors = dict(colors)
        self._base_styles.clear()
        self._strips.clear()
        self.refresh()

    @property
    def current(self) -> Cell | None:
        return self.cells[self.cursor] if self.cells else None

    def _relayout(self) -> None:
        if self.scrollable_content_region.width == 0:
            # not sized yet: on_resize lays out (rather than 10,000 one-cell lines first)
            self.lines, self.line_of, self._per_line = [], [], 0
            return
        width = max(self.scrollable_content_region.width, LABEL_WIDTH + CELL_WIDTH)
        per_line = max(1, (width - LABEL_WIDTH) // CELL_WIDTH)
        self._per_line = per_line
        self.lines = []
        self.line_of = [0] * len(self.cells)
        start = 0
        while start < len(self.cells):
            run = self.cells[start].run
            end = start
            while end < len(self.cells) and end - start < per_line and self.cells[end].run == run:
                end += 1
            for i in range(start, end):
                self.line_of[i] = len(self.lines)
            self.lines.append((start, end - start))
            start = end
        self._strips.clear()
        self.virtual_size = Size(LABEL_WIDTH + per_line * CELL_WIDTH, len(self.lines))
        self.refresh()

    def on_resize(self) -> None:
        if (
            self.cells
            and (self.scrollable_content_region.width - LABEL_WIDTH) // CELL_WIDTH != self._per_line
        ):
            self._relayout()
            self._scroll_to_cursor()

    # --- rendering -------------------------------------------------------------------
    def _style(self, cell: Cell, index: int) -> Style:
        style = self._base_styles.get(cell.state)
        if style is None:
            color = color_of(cell.state, self.state_colors) or "white"
            style = Style(color=color, bold=is_failed(cell.state))
            self._base_styles[cell.state] = style
        if cell.key in self.selected:
            style += Style(underline=True, bold=True)
        if index == self.cursor and self.has_focus:
            style += Style(reverse=True)
        elif index == self.cursor:
            style += Style(underline=True)
        return style

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        line = scroll_y + y
        width = self.scrollable_content_region.width
        if line >= len(self.lines):
            return Strip.blank(width, self.rich_style)
        strip = self._strips.get(line)
        if strip is None:
            strip = self._build_line(line)
            self._strips[line] = strip
        return strip.crop_extend(scroll_x, scroll_x + width, self.rich_style)

    def _build_line(self, line: int) -> Strip:
        start, count = self.lines[line]
        first = self.cells[start]
        previous_run = self.cells[self.lines[line - 1][0]].run if line else None
        label_style = Style(bold=first.run != previous_run, dim=first.run == previous_run)
        segments = [
            Segment(f"{first.run:05d} {first.subrun:04d}", label_style),
            Segment(" │", Style(dim=True)),
        ]
        for index in range(start, start + count):
            cell = self.cells[index]
            segments.append(Segment(symbol(cell.state), self._style(cell, index)))
            segments.append(Segment(" "))
        return Strip(segments)

    def _invalidate(self, *indices: int) -> None:
        """Repaint only the lines of these cells (a key press touches two cells of 10,000)."""
        for index in indices:
            if 0 <= index < len(self.line_of):
                line = self.line_of[index]
                self._strips.pop(line, None)
                self.refresh_line(line)

    def on_focus(self) -> None:
        self._invalidate(self.cursor)

    def on_blur(self) -> None:
        self._invalidate(self.cursor)

    # --- cursor ----------------------------------------------------------------------
    def _set_cursor(self, index: int) -> None:
        if not self.cells:
            return
        index = max(0, min(len(self.cells) - 1, index))
        old, self.cursor = self.cursor, index
        self._invalidate(old, index)
        self._scroll_to_cursor()
        self.post_message(self.CursorMoved(self.current))

    def _scroll_to_cursor(self) -> None:
        if not self.cells or self.cursor >= len(self.line_of):
            return
        line = self.line_of[self.cursor]
        self.scroll_to_region(Region(0, line, 1, 1), animate=False, immediate=True)

    def select_key(self, key: tuple[int, int]) -> None:
        if key in self.index:
            self._set_cursor(self.index[key])

    def action_move(self, step: int) -> None:
        self._set_cursor(self.cursor + step)

    def action_move_line(self, step: int) -> None:
        if not self.cells or self.cursor >= len(self.line_of):
            return
        line = self.line_of[self.cursor] + step
        if not 0 <= line < len(self.lines):
            return
        column = self.cursor - self.lines[self.line_of[self.cursor]][0]
        start, count = self.lines[line]
        self._set_cursor(start + min(column, count - 1))

    def action_jump(self, where: int) -> None:
        self._set_cursor(0 if where == 0 else len(self.cells) - 1)

    def action_next_failed(self, direction: int = 1) -> None:
        """One key to find the failed ones: the next failed cell after the cursor (wraps)."""
        n = len(self.cells)
        for step in range(1, n + 1):
            index = (self.cursor + direction * step) % n
            if is_failed(self.cells[index].state):
                self._set_cursor(index)
                return
        self.notify("no failed subrun here", timeout=2)

    def action_toggle_select(self) -> None:
        cell = self.current
        if cell is None:
            return
        self.selected.symmetric_difference_update({cell.key})
        self._invalidate(self.cursor)
        self.post_message(self.SelectionChanged(frozenset(self.selected)))

    def action_select_failed(self) -> None:
        self.selected = {c.key for c in self.cells if is_failed(c.state)}
        self._strips.clear()
        self.refresh()
        self.post_message(self.SelectionChanged(frozenset(self.selected)))

    def action_clear_selection(self) -> None:
        self.selected.clear()
        self._strips.clear()
        self.refresh()
        self.post_message(self.SelectionChanged(frozenset()))
