"""BrailleChart: a cheap time-series area chart drawn with braille cells in ``render_line``.

Built for cost over SSH: one title line and one colour per chart (long runs of
one style), lines cached and rebuilt only when the data changes, and the
owner decides when to call ``set_data`` (at most once a second by default).
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.segment import Segment
from rich.style import Style
from textual.strip import Strip
from textual.widget import Widget

BRAILLE_BASE = 0x2800
# Dot bits of a braille cell by [column][row from top].
_DOTS = ((0x01, 0x02, 0x04, 0x40), (0x08, 0x10, 0x20, 0x80))


def braille_rows(values: Sequence[float | None], width: int, height: int, top: float) -> list[str]:
    """Render the last ``2*width`` values as a filled area, ``height`` rows of braille text."""
    levels_total = height * 4
    pts = list(values)[-2 * width :]
    pad = 2 * width - len(pts)
    levels: list[int] = [0] * pad
    for v in pts:
        if v is None or top <= 0:
            levels.append(0)
            continue
        level = round(max(v, 0.0) / top * levels_total)
        levels.append(min(levels_total, max(1 if v > 0 else 0, level)))
    rows = []
    for r in range(height):
        base = (height - 1 - r) * 4  # dot index (from the bottom) of this cell row's lowest dot
        chars = []
        for c in range(width):
            bits = 0
            for col in (0, 1):
                level = levels[2 * c + col]
                if level <= base:
                    continue
                for k in range(4):  # k: row within the cell, from the top
                    if base + (3 - k) < level:
                        bits |= _DOTS[col][k]
            chars.append(chr(BRAILLE_BASE + bits))
        rows.append("".join(chars))
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
        self._values: list[float | None] = []
        self._top = 0.0
        self._cache: list[Strip] | None = None
        self._cache_key: tuple | None = None

    def set_data(self, values: Sequence[float | None], caption: str = "", top: float | None = None) -> None:
        """Replace the data; repaints only if something visible changed."""
        values = list(values)
        finite = [v for v in values if v is not None]
        new_top = top if top is not None else (max(finite) * 1.1 if finite else 0.0)
        if values == self._values and caption == self.caption and new_top == self._top:
            return
        self._values, self.caption, self._top = values, caption, new_top
        self._cache = None
        self.refresh()

    def _build(self, width: int, height: int) -> list[Strip]:
        style = self.rich_style
        title_style = style + Style(bold=True)
        head = f" {self.title} "
        cap = f" {self.caption} " if self.caption else ""
        line0 = head + cap.rjust(max(0, width - len(head)))
        strips = [Strip([Segment(line0[:width].ljust(width), title_style)], width)]
        rows = braille_rows(self._values, width, max(0, height - 1), self._top)
        strips += [Strip([Segment(row, style)], width) for row in rows]
        return strips

    def render_line(self, y: int) -> Strip:
        width, height = self.size.width, self.size.height
        key = (width, height, self.rich_style)
        if self._cache is None or self._cache_key != key:
            self._cache = self._build(width, height)
            self._cache_key = key
        if 0 <= y < len(self._cache):
            return self._cache[y]
        return Strip.blank(width, self.rich_style)
