"""KeyBar: the line of keys at the bottom of the dashboard, drawn by one widget.

Textual's ``Footer`` mounts one widget per key (16 for the dashboard) and
mounts them again after the first frame, when the screen's bindings are known;
that was a tenth of fwtop's start-up. This draws the same thing, each shown
binding as `` key description `` and the command palette's key on the right,
as one cached line, and a click on a key presses it.
"""

from __future__ import annotations

from rich.segment import Segment
from textual import events
from textual.strip import Strip
from textual.widget import Widget

from .memo import DirectLines


class KeyBar(DirectLines, Widget):
    COMPONENT_CLASSES = {"keybar--key", "keybar--description", "keybar--separator"}
    DEFAULT_CSS = """
    KeyBar {
        dock: bottom;
        height: 1;
        color: $footer-foreground;
        background: $footer-background;
    }
    KeyBar > .keybar--key {
        color: $footer-key-foreground;
        background: $footer-key-background;
        text-style: bold;
    }
    KeyBar > .keybar--description {
        color: $footer-description-foreground;
        background: $footer-description-background;
    }
    KeyBar > .keybar--separator { color: $foreground 20%; }
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._items: list[tuple[str, str, str]] = []  # (key to press, key shown, description)
        self._palette: tuple[str, str, str] | None = None
        self._spans: list[tuple[int, int, str]] = []  # (x from, x to, key) of what is drawn
        self._strip: Strip | None = None

    @property
    def text(self) -> str:
        """The line as shown (what tests read)."""
        return self.render_line(0).text

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, self._bindings_changed)
        self._bindings_changed(self.screen)

    def on_unmount(self) -> None:
        self.screen.bindings_updated_signal.unsubscribe(self)

    def _bindings_changed(self, screen) -> None:
        if screen is not self.screen:
            return
        app = self.app
        items, actions = [], set()
        for key, (_node, binding, enabled, _tooltip) in screen.active_bindings.items():
            if binding.show and enabled and binding.action not in actions and key != app.COMMAND_PALETTE_BINDING:
                actions.add(binding.action)  # one key per action, as Textual's Footer shows them
                items.append((key, app.get_key_display(binding), binding.description))
        palette = None
        found = screen.active_bindings.get(app.COMMAND_PALETTE_BINDING) if app.ENABLE_COMMAND_PALETTE else None
        if found is not None:
            binding = found[1]
            palette = (binding.key, app.get_key_display(binding), binding.description)
        if (items, palette) != (self._items, self._palette):
            self._items, self._palette = items, palette
            self._strip = None
            self.refresh()

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._strip = None

    def _build(self, width: int) -> Strip:
        base = self.rich_style
        key_style = self.get_component_rich_style("keybar--key")
        desc_style = self.get_component_rich_style("keybar--description")
        right: list[Segment] = []
        if self._palette is not None:
            key, shown, description = self._palette
            sep = self.get_component_rich_style("keybar--separator")
            right = [Segment("\u258f", sep), Segment(shown, key_style), Segment(f" {description} ", desc_style)]
        room = width - sum(len(s.text) for s in right)
        segments: list[Segment] = []
        spans: list[tuple[int, int, str]] = []
        x = 0
        for key, shown, description in self._items:
            piece = len(shown) + 2 + len(description) + 1
            if x + piece - 1 > room:  # its trailing space may go
                break
            segments += [Segment(f" {shown} ", key_style), Segment(f"{description} ", desc_style)]
            spans.append((x, min(x + piece, room), key))
            x += piece
        segments = list(Strip(segments).crop(0, room)) if x > room else segments
        segments.append(Segment(" " * max(0, room - x), base))
        if right:
            spans.append((max(room, x), width, self._palette[0]))
        self._spans = spans
        return Strip(segments + right).adjust_cell_length(width, base)

    def render_line(self, y: int) -> Strip:
        width = self.line_size.width
        if self._strip is None or self._strip.cell_length != width:
            self._strip = self._build(width)
        return self._strip if y == 0 else Strip.blank(width, self.rich_style)

    def on_click(self, event: events.Click) -> None:
        for start, end, key in self._spans:
            if start <= event.x < end:
                event.stop()
                self.app.simulate_key(key)
                return
