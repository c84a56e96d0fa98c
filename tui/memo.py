"""FrameMemo: a widget that hands the compositor last frame's lines when none of them changed.

Textual's compositor asks every widget that overlaps the frame's dirty area for
its lines, changed or not. The dashboard's frame (once a second: charts, stats,
the top bar) spans most of the screen, so a panel's border and the containers
around it were each styled again per frame:
widget geometry, background blending, theme lookups, line filters, and a walk
over their cached lines, for nothing.

A widget with this mixin remembers the lines it returned. Textual marks every
change through the widget's StylesCache (``refresh()`` of a region marks those
lines dirty; a full refresh, a style or theme change, a resize and a border
title change clear it), so while no line is dirty and the crop, width and the
app's line filters are the same, the previous list is the answer.
"""

from __future__ import annotations

from rich.segment import Segment
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


class RepeatedRows:
    """For a widget that draws nothing inside its border and padding (its children draw
    everything there): every row between its first and its last is the same, so Textual
    styles three rows (the top, one inside, the bottom, where a border and its titles go)
    and the inside row is repeated. On the dashboard's first frame, the 39 rows of each of
    three panels through Textual's styles were about 43 M instructions in all (docs/benchmarks.md).
    Mix in before the Textual class, after FrameMemo: ``class X(FrameMemo, RepeatedRows, Widget)``."""

    def render_lines(self, crop: Region) -> list[Strip]:
        y1, y2 = crop.y, crop.bottom
        if y2 - y1 <= 3:
            return super().render_lines(crop)
        last = self.outer_size.height - 1
        x, width = crop.x, crop.width
        render = super().render_lines
        rows: dict[int, Strip] = {}
        out = []
        for y in range(y1, y2):
            row = y if y in (0, last) else 1
            strip = rows.get(row)
            if strip is None:
                strip = rows[row] = render(Region(x, row, width, 1))[0]
            out.append(strip)
        self._styles_cache._dirty_lines.difference_update(crop.line_range)  # all drawn, as Textual's would be
        return out


class DirectLines(FrameMemo):
    """For a widget whose ``render_line`` strips are already final (full width, in the
    widget's own style): while it has no border, outline, padding, tint, hatch or
    opacity, its lines skip Textual's StylesCache, which would copy each one again
    per frame. Anything else (e.g. padding from a theme) takes Textual's path.

    The strips the terminal gets (after the app's line filters and the crop) are kept
    per line with the strip they came from: a line whose strip the widget did not
    replace costs a lookup per frame. ``render_line`` may read ``line_size`` (the
    widget's size, looked up once per frame instead of once per line)."""

    # True: every style in render_line's strips came from ``final_style`` (already through
    # the app's line filters), so the filters are not run again over each new line.
    PREFILTERED = False

    _direct: bool | None = None
    _render_size = None
    _final: dict | None = None
    _final_key: tuple | None = None
    _background = None
    _style_filters: tuple | None = None  # (filters, background) final_style maps styles through
    _final_styles: dict | None = None

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._direct = None
        self._final = None
        self._background = None
        self._style_filters = None
        self._final_styles = None
        self.styles_changed()

    def styles_changed(self) -> None:
        """CSS, the theme, or (for a PREFILTERED widget) the app's line filters changed: a
        widget that keeps styles, or strips made with them, drops them here."""

    def final_style(self, style):
        """``style`` as the app's line filters leave it (each of Textual's filters maps every
        segment's style on its own), for a PREFILTERED widget; unchanged off the direct path,
        where Textual runs the filters itself."""
        if not self._is_direct():
            return style
        if self._style_filters is None:
            filters = tuple(self.app.get_line_filters())
            self._style_filters = (filters, self.background_colors[1] if filters else None)
        cache = self._final_styles
        if cache is None:
            cache = self._final_styles = {}
        out = cache.get(style)
        if out is None:
            out = style
            filters, background = self._style_filters
            for line_filter in filters:
                out = line_filter.apply([Segment(" ", out)], background)[0].style
            cache[style] = out
        return out

    @property
    def line_size(self):
        return self._render_size or self.size

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
        filters = tuple(self.app.get_line_filters())
        x1, x2 = crop.column_span
        key = (filters, x1, x2)
        final = self._final
        if final is None or key != self._final_key:
            final = self._final = {}
            self._final_key = key
        if filters and self._background is None:
            self._background = self.background_colors[1]
        background = self._background
        prefiltered = self.PREFILTERED
        if prefiltered and self._style_filters not in (None, (filters, background if filters else None)):
            self._style_filters = None
            self._final_styles = None
            self.styles_changed()
        render_line = self.render_line
        size = self._render_size = self.size
        full = x1 == 0 and x2 >= size.width  # the strips are full width
        try:
            out = []
            for y in crop.line_range:
                strip = render_line(y)
                hit = final.get(y)
                if hit is not None and hit[0] is strip:
                    out.append(hit[1])
                    continue
                shown = strip
                if not prefiltered:
                    for line_filter in filters:
                        shown = shown.apply_filter(line_filter, background)
                if not full:  # partly visible
                    shown = shown.crop(x1, x2)
                final[y] = (strip, shown)
                out.append(shown)
        finally:
            self._render_size = None
        return out


class BlankLines(DirectLines):
    """For a container whose own lines are blank (no border or padding; its children draw on
    top): each line is one blank strip in the widget's colours, instead of Textual styling
    every line of it (on the dashboard's first frame, the screen's 50 lines and the panel
    row's were about 20 M instructions). Anything that makes the lines differ (a border,
    padding, a translucent background from a theme) takes Textual's path (DirectLines)."""

    _blank: Strip | None = None

    def _is_direct(self) -> bool:
        return super()._is_direct() and (self.styles.background.a in (0, 1))

    def styles_changed(self) -> None:
        self._blank = None

    def render_line(self, y: int) -> Strip:
        width = self.line_size.width
        blank = self._blank
        if blank is None or blank.cell_length != width:
            blank = self._blank = Strip.blank(width, self.rich_style)
        return blank
