"""The floor for any Textual dashboard: an app with a static text and a footer, doing nothing.

Used by tui_cost.py as a baseline row: what Textual itself costs, idle, in the same terminal.
"""

from textual.app import App, ComposeResult
from textual.widgets import Footer, Static


class Bare(App):
    BINDINGS = [("q", "quit", "Quit")]

    def compose(self) -> ComposeResult:
        yield Static("a bare Textual app: nothing changes")
        yield Footer()


if __name__ == "__main__":
    Bare().run()
