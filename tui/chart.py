"""Braille charts as lines of text, drawn by the panel (tui/panel.py) in its own ``render_line``.

Built for cost over SSH: a chart is a title line and a few rows of braille
cells, computed only when its data changed (at most once a second by
default), from lookup tables; an area chart is one colour, long runs of one
style; the memory chart's lines are runs of at most three colours.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

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
    if width <= 0:
        return [""] * height
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


def title_line(title: str, caption: str, width: int) -> str:
    """`` title `` on the left, `` caption `` on the right, exactly ``width`` cells."""
    head = f" {title} "
    cap = f" {caption} " if caption else ""
    return (head + cap.rjust(max(0, width - len(head))))[:width].ljust(width)


def top_of(values: Sequence[float | None]) -> float:
    """The chart's full scale: 10 % above the largest value (0 with none)."""
    finite = [v for v in values if v is not None]
    return max(finite) * 1.1 if finite else 0.0


def area_chart(title: str, caption: str, values: Sequence[float | None], width: int, height: int,
               top: float | None = None) -> list[str]:  # fmt: skip
    """A titled area chart as ``height`` lines of text: the title line, then the braille rows."""
    scale = top_of(values) if top is None else top
    return [title_line(title, caption, width), *braille_rows(values, width, max(0, height - 1), scale)]


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
    if width <= 0:
        return [[] for _ in range(height)]
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


def runs(row: Sequence[tuple[str, int]]) -> list[tuple[str, int]]:
    """``(char, owner)`` cells -> ``(text, owner)`` runs of one owner (one style each)."""
    out: list[tuple[str, int]] = []
    text, who = "", None
    for ch, o in row:
        if o != who and text:
            out.append((text, who))
            text = ""
        text += ch
        who = o
    if text:
        out.append((text, who))
    return out
