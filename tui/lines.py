"""TextLines: plain lines of text that repaint only the lines that changed.

A ``Static`` re-renders all of its content (markup, wrapping, every line) on
each ``update``; the dashboard's stats block, top bar and device strip change a
line or two a second, so they use this instead: one style (the widget's CSS
colours), no markup, no wrapping, each line cached as a ``Strip`` and only the
changed lines' regions refreshed.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.segment import Segment
from rich.style import Style
from textual.geometry import Region
from textual.strip import Strip
from textual.widget import Widget

from .memo import DirectLines


class TextLines(DirectLines, Widget):
    DEFAULT_CSS = """
    TextLines {
        height: auto;
        width: 1fr;
    }
    """

    def __init__(
        self, lines: Sequence[str] = (), *, name: str | None = None, id: str | None = None, classes: str | None = None
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self._text_lines: list[str] = list(lines)
        self._line_strips: dict[int, Strip] = {}
        self._strips_width: int | None = None
        self._style: Style | None = None

    @property
    def lines(self) -> list[str]:
        return list(self._text_lines)

    @property
    def text(self) -> str:
        return "\n".join(self._text_lines)

    def set_lines(self, lines: Sequence[str]) -> None:
        """Replace the text; repaints only the lines that differ (no relayout unless the count grows)."""
        lines = list(lines)
        old = self._text_lines
        if lines == old:
            return
        self._text_lines = lines
        width = self.size.width
        changed = [
            y for y in range(max(len(lines), len(old))) if y >= len(old) or y >= len(lines) or old[y] != lines[y]
        ]
        for y in changed:
            self._line_strips.pop(y, None)
        if len(lines) != len(old) and self.styles.height is not None and self.styles.height.is_auto:
            self.refresh(layout=True)
            return
        if changed:
            self.refresh(*[Region(0, y, width, 1) for y in changed])

    def set_text(self, text: str) -> None:
        self.set_lines(text.split("\n"))

    def get_content_height(self, container, viewport, width: int) -> int:
        return len(self._text_lines)

    def get_content_width(self, container, viewport) -> int:
        return max((len(line) for line in self._text_lines), default=0)

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._line_strips.clear()
        self._style = None

    def render_line(self, y: int) -> Strip:
        width = self.line_size.width
        if width != self._strips_width:
            self._strips_width = width
            self._line_strips.clear()
        strip = self._line_strips.get(y)
        if strip is None:
            if self._style is None:
                self._style = self.rich_style
            style = self._style
            text = self._text_lines[y] if 0 <= y < len(self._text_lines) else ""
            strip = Strip([Segment(text, style)] if text else []).adjust_cell_length(width, style)
            self._line_strips[y] = strip
        return strip
