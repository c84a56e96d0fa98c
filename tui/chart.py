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

from .memo import DirectLines, FrameMemo

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
    if top > 0:  # one comprehension: this runs for every point of every chart each second
        levels += [0 if v is None or v <= 0 else min(levels_total, max(1, round(v / top * levels_total))) for v in pts]
    else:
        levels += [0] * len(pts)
    span = levels_total + 1
    pairs = [a * span + b for a, b in zip(levels[0::2], levels[1::2], strict=True)]
    rows = []
    for r in range(height):
        table = _row_table(height, r)
        rows.append("".join([table[i] for i in pairs]))
    return rows


class BrailleChart(DirectLines, Widget):
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
        width, height = self.size
        if self._drawn_size != (width, height) or not width:
            self._drawn_size = None
            self.refresh()
            return
        old, new = self._texts, self._draw(width, height)
        self._texts = new
        changed = [y for y, text in enumerate(new) if y >= len(old) or old[y] != text]
        for y in changed:
            self._row_strips.pop(y, None)
        if len(changed) == len(new):
            self.refresh()  # a scrolling chart changes every line: one call, one region
        elif changed:
            self.refresh(*[Region(0, y, width, 1) for y in changed])

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
        width, height = self.size
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


def _levels(values: Sequence[float | None], n: int, top: float, total: int) -> list[int | None]:
    pts = list(values)[-n:]
    out: list[int | None] = [None] * (n - len(pts))
    for v in pts:
        if v is None or top <= 0:
            out.append(None)
        else:
            out.append(min(total, max(1, round(max(v, 0.0) / top * total))))
    return out


def braille_lines(series: Sequence[Sequence[float | None]], width: int, height: int, top: float) -> list[list[tuple]]:
    """Several series as lines in one braille grid: per cell row, ``(char, owner)`` per column,
    where ``owner`` is the index of the last series with a dot in the cell (-1: empty).
    Consecutive points of a series are joined by a vertical run of dots."""
    total = height * 4
    owner = [[-1] * total for _ in range(2 * width)]  # [point column][dot level from the bottom]
    for k, values in enumerate(series):
        prev = None
        for x, level in enumerate(_levels(values, 2 * width, top, total)):
            if level is None:
                prev = None
                continue
            lo, hi = (level, level) if prev is None else (min(prev, level), max(prev, level))
            for dot in range(lo - 1, hi):
                owner[x][dot] = k
            prev = level
    rows = []
    for r in range(height):
        base = (height - 1 - r) * 4
        row = []
        for c in range(width):
            bits, who = 0, -1
            for col in (0, 1):
                column = owner[2 * c + col]
                for k in range(4):  # k: row within the cell, from the top
                    o = column[base + 3 - k]
                    if o >= 0:
                        bits |= _DOTS[col][k]
                        who = max(who, o)
            row.append((chr(BRAILLE_BASE + bits), who))
        rows.append(row)
    return rows


class LinesChart(FrameMemo, Widget):
    """Up to three series as coloured lines on one scale, with a legend in the title line.
    Colours come from the component classes ``lineschart--s0`` .. ``--s2``."""

    COMPONENT_CLASSES = {"lineschart--s0", "lineschart--s1", "lineschart--s2"}
    DEFAULT_CSS = """
    LinesChart { height: 5; width: 1fr; }
    LinesChart > .lineschart--s0 { color: $secondary; }
    LinesChart > .lineschart--s1 { color: $warning; }
    LinesChart > .lineschart--s2 { color: $success; }
    """

    def __init__(self, title: str, *, name: str | None = None, id: str | None = None, classes: str | None = None):
        super().__init__(name=name, id=id, classes=classes)
        self.title = title
        self._series: list[tuple[str, list[float | None]]] = []
        self._top = 0.0
        self._cache: list[Strip] | None = None
        self._cache_key: tuple | None = None

    @property
    def labels(self) -> list[str]:
        return [label for label, _ in self._series]

    def set_series(self, series: Sequence[tuple[str, Sequence[float | None]]], title: str | None = None) -> None:
        """``[(legend text, values), ...]``; repaints only if something visible changed."""
        new = [(label, list(values)) for label, values in series][:3]
        finite = [v for _, values in new for v in values if v is not None]
        top = max(finite) * 1.1 if finite else 0.0
        title = self.title if title is None else title
        if new == self._series and top == self._top and title == self.title:
            return
        self._series, self._top, self.title = new, top, title
        self._cache = None
        self.refresh()

    def _build(self, width: int, height: int) -> list[Strip]:
        base = self.rich_style
        styles = [base + self.get_component_rich_style(f"lineschart--s{k}", partial=True) for k in range(3)]
        segs = [Segment(f" {self.title} ", base + Style(bold=True))]
        used = len(self.title) + 2
        for k, (label, _) in enumerate(self._series):
            piece = f" \u25a0 {label}"
            if used + len(piece) > width:
                break
            segs.append(Segment(piece, styles[k] + Style(bold=True)))
            used += len(piece)
        strips = [Strip(segs + [Segment(" " * max(0, width - used), base)], width).crop(0, width)]
        rows = braille_lines([v for _, v in self._series], width, max(0, height - 1), self._top)
        for row in rows:
            out, run, who = [], "", None
            for ch, o in row:
                if o != who and run:
                    out.append(Segment(run, styles[who] if who is not None and who >= 0 else base))
                    run = ""
                run += ch
                who = o
            if run:
                out.append(Segment(run, styles[who] if who is not None and who >= 0 else base))
            strips.append(Strip(out, width))
        return strips

    def notify_style_update(self) -> None:
        """CSS or theme changed: rebuild with the new colours (styles are cached with the lines)."""
        super().notify_style_update()
        self._cache = None

    def render_line(self, y: int) -> Strip:
        width, height = self.size
        key = (width, height)
        if self._cache is None or self._cache_key != key:
            self._cache = self._build(width, height)
            self._cache_key = key
        if 0 <= y < len(self._cache):
            return self._cache[y]
        return Strip.blank(width, self.rich_style)
