"""py-spy in the dashboard: ``d`` shows a dump of the selected workload's process tree in a
scrollable screen, ``s`` records it for a set duration, ``S`` sets the recording options first.

py-spy runs in a thread worker (it blocks); results come back to the UI thread. Every
problem (py-spy missing, ptrace not permitted, the process gone) is a notification
with the fix, never a traceback.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen, Screen
from textual.widgets import Button, Checkbox, Footer, Input, Label, Log, Select, Static

from fwtop.session import pyspy


@dataclass(frozen=True)
class RecordOptions:
    duration: float = 5.0
    fmt: str = "speedscope"  # or flamegraph (SVG)
    native: bool = False
    subprocesses: bool = True  # data-loader workers and other children


def traceable(app, wid: str | None) -> str | None:
    """Why the selected workload cannot be traced now, or None (with its pid) if it can."""
    if wid is None:
        return "no workload selected"
    if getattr(app.session, "run_path", None) is not None:
        return "a replayed run has no process to trace"
    w = app.session.get(wid)
    if w.runner is None or not w.runner.running or not w.runner.pid:
        return f"{w.label} is not running"
    return None


class PySpyDumpScreen(Screen):
    """The stacks of every process of a workload's tree, scrollable; r dumps again."""

    BINDINGS = [
        Binding("escape,q,d", "close", "Close", id="pyspy_close"),
        Binding("r", "refresh_dump", "Dump again", id="pyspy_refresh"),
        Binding("n", "toggle_native", "Native frames on/off", id="pyspy_native"),
    ]
    DEFAULT_CSS = """
    PySpyDumpScreen #dump-title { height: 1; padding: 0 1; background: $primary-background; }
    PySpyDumpScreen #dump { height: 1fr; }
    """

    def __init__(self, pid: int, label: str) -> None:
        super().__init__()
        self.pid = pid
        self.label = label
        self.native = False
        self.text = ""  # the last dump, as shown

    def compose(self) -> ComposeResult:
        yield Static("", id="dump-title")
        yield Log(id="dump", max_lines=20000)
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#dump", Log).focus()
        self.action_refresh_dump()

    def _title(self, state: str) -> None:
        native = ", native frames" if self.native else ""
        self.query_one("#dump-title", Static).update(f"py-spy dump of {self.label} (pid {self.pid}{native}): {state}")

    def action_refresh_dump(self) -> None:
        self._title("dumping...")
        self.run_worker(self._dump, thread=True, exclusive=True, group="pyspy-dump", exit_on_error=False)

    def action_toggle_native(self) -> None:
        self.native = not self.native
        self.action_refresh_dump()

    def _dump(self) -> None:
        try:
            dumps = pyspy.dump_tree(self.pid, native=self.native)
            lines, state = pyspy.format_dump(dumps), f"{len(dumps)} process(es) at {time.strftime('%H:%M:%S')}"
        except pyspy.PySpyError as exc:
            lines, state = [str(exc)], "failed"
        except Exception as exc:  # noqa: BLE001 - shown, never a traceback
            lines, state = [f"py-spy dump failed: {type(exc).__name__}: {exc}"], "failed"
        self.app.call_from_thread(self._show, lines, state)

    def _show(self, lines: list[str], state: str) -> None:
        log = self.query_one("#dump", Log)
        log.clear()
        log.write_lines(lines)
        log.scroll_home(animate=False)
        self.text = "\n".join(lines)
        self._title(state + "   r: again  n: native  escape: close")

    def action_close(self) -> None:
        self.dismiss()


class RecordOptionsScreen(ModalScreen):
    """Duration, format, native frames and subprocesses for ``s``."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]
    DEFAULT_CSS = """
    RecordOptionsScreen { align: center middle; }
    RecordOptionsScreen > Vertical { width: 60; height: auto; border: round $accent; padding: 1 2; background: $surface; }
    RecordOptionsScreen Horizontal { height: auto; }
    RecordOptionsScreen #record-error { color: $error; height: auto; }
    """

    def __init__(self, options: RecordOptions) -> None:
        super().__init__()
        self.options = options

    def compose(self) -> ComposeResult:
        o = self.options
        with Vertical():
            yield Label("[b]py-spy record[/b]")
            yield Label("duration (seconds)")
            yield Input(f"{o.duration:g}", id="duration")
            yield Select(
                [("speedscope (JSON, speedscope.app)", "speedscope"), ("flame graph (SVG)", "flamegraph")],
                value=o.fmt,
                allow_blank=False,
                id="format",
            )
            yield Checkbox("native frames (C/C++)", o.native, id="native")
            yield Checkbox("subprocesses (data-loader workers)", o.subprocesses, id="subprocesses")
            yield Static("", id="record-error")
            with Horizontal():
                yield Button("Record", variant="primary", id="record")
                yield Button("Cancel", id="cancel")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "cancel":
            self.dismiss(None)
            return
        text = self.query_one("#duration", Input).value.strip()
        try:
            duration = float(text)
            if not 0 < duration <= 3600:
                raise ValueError
        except ValueError:
            self.query_one("#record-error", Static).update(f"duration must be 0 < seconds <= 3600, not {text!r}")
            return
        self.dismiss(
            replace(
                self.options,
                duration=duration,
                fmt=str(self.query_one("#format", Select).value),
                native=self.query_one("#native", Checkbox).value,
                subprocesses=self.query_one("#subprocesses", Checkbox).value,
            )
        )

    def action_cancel(self) -> None:
        self.dismiss(None)


def recording_dir(session) -> Path:
    """Recordings go in the run directory's pyspy/ folder, else in a temporary folder."""
    if session.rundir is not None:
        return session.rundir.path / "pyspy"
    return Path(tempfile.gettempdir()) / "fwtop-pyspy"


def start_recording(app, wid: str, options: RecordOptions) -> None:
    """Record the workload in a thread worker; notify when it starts, ends or fails."""
    problem = traceable(app, wid)
    if problem:
        app.notify(problem, severity="warning")
        return
    session = app.session
    w = session.get(wid)
    pid = w.runner.pid
    try:
        path = pyspy.output_path(recording_dir(session), w.label, options.fmt)
    except pyspy.PySpyError as exc:
        app.notify(str(exc), severity="error", timeout=15)
        return
    app.notify(f"py-spy: recording {w.label} for {options.duration:g} s")

    def work() -> None:
        try:
            out = pyspy.record(
                pid,
                path,
                duration=options.duration,
                fmt=options.fmt,
                native=options.native,
                subprocesses=options.subprocesses,
            )
        except Exception as exc:  # noqa: BLE001 - PySpyError says what to do; anything else is shown too
            message = str(exc) if isinstance(exc, pyspy.PySpyError) else f"{type(exc).__name__}: {exc}"
            app.call_from_thread(app.notify, message, title="py-spy record failed", severity="error", timeout=20)
            return
        app.call_from_thread(_recorded, app, wid, out, options)

    app.run_worker(work, thread=True, group="pyspy-record", exit_on_error=False)


def _recorded(app, wid: str, path: Path, options: RecordOptions) -> None:
    session = app.session
    app.pyspy_recordings.append(path)
    if session.rundir is not None:
        session.rundir.event(
            wid,
            "pyspy",
            time.time(),
            {"path": str(path), "format": options.fmt, "duration": options.duration, "bytes": path.stat().st_size},
        )
    viewer = "open it at https://www.speedscope.app" if options.fmt == "speedscope" else "open it in a browser"
    app.notify(f"py-spy recording saved: {path} ({viewer})", timeout=20)
