"""FrameMemo: a widget that hands the compositor last frame's lines when none of them changed.

Textual's compositor asks every widget that overlaps the frame's dirty area for
its lines, changed or not. The dashboard's frame (once a second: charts, stats,
the top bar) spans most of the screen, so a panel's border, title and state
line, and the containers around them, were each styled again per frame:
widget geometry, background blending, theme lookups, line filters, and a walk
over their cached lines, for nothing.

A widget with this mixin remembers the lines it returned. Textual marks every
change through the widget's StylesCache (``refresh()`` of a region marks those
lines dirty; a full refresh, a style or theme change, a resize and a border
title change clear it), so while no line is dirty and the crop, width and the
app's line filters are the same, the previous list is the answer.
"""

from __future__ import annotations

from textual.geometry import Region
from textual.strip import Strip


class FrameMemo:
    """Mix in before the Textual widget class: ``class X(FrameMemo, Widget)``."""

    _frame_memo: tuple | None = None

    def render_lines(self, crop: Region) -> list[Strip]:
        cache = self._styles_cache
        filters = tuple(self.app.get_line_filters())
        memo = self._frame_memo
        if (
            memo is not None
            and not cache._dirty_lines
            and memo[0] == crop
            and memo[1] == cache._width
            and memo[2] == filters
        ):
            return memo[3]
        strips = super().render_lines(crop)
        self._frame_memo = (crop, cache._width, filters, strips)
        return strips


class DirectLines(FrameMemo):
    """For a widget whose ``render_line`` strips are already final (full width, in the
    widget's own style): while it has no border, outline, padding, tint, hatch or
    opacity, its lines skip Textual's StylesCache, which would copy each one again
    per frame. Anything else (e.g. padding from a theme) takes Textual's path."""

    _direct: bool | None = None

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._direct = None

    def _is_direct(self) -> bool:
        if self._direct is None:
            s = self.styles
            self._direct = (
                not any(s.gutter)
                and not any(edge for edge, _ in s.outline)
                and not s.tint.a
                and s.text_opacity == 1.0
                and self.opacity == 1.0
                and not (s.has_rule("hatch") and s.hatch != "none")
            )
        return self._direct

    def render_lines(self, crop: Region) -> list[Strip]:
        if not self._is_direct():
            return super().render_lines(crop)
        render_line = self.render_line
        strips = [render_line(y) for y in crop.line_range]
        filters = self.app.get_line_filters()
        if filters:
            background = self.background_colors[1]
            for line_filter in filters:  # each strip caches its filtered copy
                strips = [strip.apply_filter(line_filter, background) for strip in strips]
        x1, x2 = crop.column_span
        if strips and (x1 or x2 != strips[0].cell_length):  # partly visible (the strips are full width)
            strips = [strip.crop(x1, x2) for strip in strips]
        return strips
