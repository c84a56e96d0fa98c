"""BrailleChart: a cheap time-series area chart drawn with braille cells in ``render_line``.

Built for cost over SSH: one title line and one colour per chart (long runs of
one style), lines cached and rebuilt only when the data changes, and the
owner decides when to call ``set_data`` (at most once a second by default).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

from rich.segment import Segment
from rich.style import Style
from textual.geometry import Region
from textual.strip import Strip
from textual.widget import Widget

BRAILLE_BASE = 0x2800
# Dot bits of a braille cell by [column][row from top].
_DOTS = ((0x01, 0x02, 0x04, 0x40), (0x08, 0x10, 0x20, 0x80))


def _cell_char(left: int, right: int) -> str:
    """The braille cell whose left / right columns are filled ``left`` / ``right`` dots from the bottom."""
    bits = 0
    for col, fill in ((0, left), (1, right)):
        for k in range(4 - fill, 4):  # k: row within the cell, from the top
            bits |= _DOTS[col][k]
    return chr(BRAILLE_BASE + bits)


# _CELLS[left][right]: 25 characters cover every cell of a filled area chart.
_CELLS = [[_cell_char(left, right) for right in range(5)] for left in range(5)]


@functools.cache
def _row_table(height: int, row: int) -> list[str]:
    """For cell row ``row`` (from the top) of a ``height``-row chart: the character for every
    (left level, right level) pair, flattened as ``left * (4 * height + 1) + right``."""
    span = 4 * height + 1
    base = (height - 1 - row) * 4  # dots (from the bottom) below this cell row
    fill = [min(4, max(0, level - base)) for level in range(span)]
    return [_CELLS[fill[a]][fill[b]] for a in range(span) for b in range(span)]


def braille_rows(values: Sequence[float | None], width: int, height: int, top: float) -> list[str]:
    """Render the last ``2*width`` values as a filled area, ``height`` rows of braille text."""
    levels_total = height * 4
    pts = list(values)[-2 * width :]
    levels: list[int] = [0] * (2 * width - len(pts))
    for v in pts:
        if v is None or top <= 0:
            levels.append(0)
            continue
        level = round(max(v, 0.0) / top * levels_total)
        levels.append(min(levels_total, max(1 if v > 0 else 0, level)))
    span = levels_total + 1
    pairs = [a * span + b for a, b in zip(levels[0::2], levels[1::2], strict=True)]
    rows = []
    for r in range(height):
        table = _row_table(height, r)
        rows.append("".join([table[i] for i in pairs]))
    return rows


class BrailleChart(Widget):
    """A titled area chart. The chart colour is the widget's CSS ``color``."""

    DEFAULT_CSS = """
    BrailleChart {
        height: 5;
        width: 1fr;
    }
    """

    def __init__(self, title: str, *, name: str | None = None, id: str | None = None, classes: str | None = None):
        super().__init__(name=name, id=id, classes=classes)
        self.title = title
        self.caption = ""
        self._data: list[float | None] = []
        self._top = 0.0
        self._drawn_size: tuple[int, int] | None = None  # the size _texts were drawn for
        self._texts: list[str] = []
        self._row_strips: dict[int, Strip] = {}
        self._styles: tuple[Style, Style] | None = None

    def set_data(self, values: Sequence[float | None], caption: str = "", top: float | None = None) -> None:
        """Replace the data; repaints only the lines whose text changed."""
        values = list(values)
        finite = [v for v in values if v is not None]
        new_top = top if top is not None else (max(finite) * 1.1 if finite else 0.0)
        if values == self._data and caption == self.caption and new_top == self._top:
            return
        self._data, self.caption, self._top = values, caption, new_top
        width, height = self.size.width, self.size.height
        if self._drawn_size != (width, height) or not width:
            self._drawn_size = None
            self.refresh()
            return
        old, new = self._texts, self._draw(width, height)
        self._texts = new
        for y, text in enumerate(new):
            if y >= len(old) or old[y] != text:
                self._row_strips.pop(y, None)
                self.refresh(Region(0, y, width, 1))

    def _draw(self, width: int, height: int) -> list[str]:
        """The chart as ``height`` lines of text: the title line, then the braille rows."""
        head = f" {self.title} "
        cap = f" {self.caption} " if self.caption else ""
        line0 = (head + cap.rjust(max(0, width - len(head))))[:width].ljust(width)
        return [line0, *braille_rows(self._data, width, max(0, height - 1), self._top)]

    def notify_style_update(self) -> None:
        """CSS or theme changed: rebuild with the new colours (styles are cached with the lines)."""
        super().notify_style_update()
        self._styles = None
        self._row_strips.clear()

    def render_line(self, y: int) -> Strip:
        width, height = self.size.width, self.size.height
        if self._drawn_size != (width, height):
            self._drawn_size = (width, height)
            self._texts = self._draw(width, height)
            self._row_strips.clear()
        strip = self._row_strips.get(y)
        if strip is None:
            if self._styles is None:
                style = self.rich_style
                self._styles = (style + Style(bold=True), style)
            text = self._texts[y] if 0 <= y < len(self._texts) else " " * width
            strip = Strip([Segment(text, self._styles[0 if y == 0 else 1])], width)
            self._row_strips[y] = strip
        return strip
