"""The fwtop dashboard: one panel per workload, side by side, over a live Session."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import threading
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING

from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen, Screen
from textual.widgets import Static

from fwtop.session.session import ENDED, PAUSED, Session

from .devices import device_lines
from .keybar import KeyBar
from .launch import resume_gc
from .lines import TextLines
from .memo import BlankLines
from .panel import WorkloadPanel
from .themes import DEFAULT_THEME, load_themes

if TYPE_CHECKING:
    from textual.widgets import Log

TEXT_INTERVAL = 0.5  # seconds between refreshes of states, badges and the log
CHART_INTERVAL = 1.0  # seconds between refreshes of the numbers: charts, statistics, device strip
EXIT_WATCHDOG_S = 5.0  # after a hang-up, fwtop exits hard if a clean exit takes longer


class HelpScreen(ModalScreen):
    BINDINGS = [Binding("escape,question_mark,q", "dismiss", "Close")]
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > Static { width: 64; height: auto; border: round $accent; padding: 1 2; background: $surface; }
    """

    def __init__(self, bindings: Iterable[Binding]) -> None:
        super().__init__()
        self._keys = list(bindings)

    def compose(self) -> ComposeResult:
        lines = ["[b]fwtop keys[/b]", ""]
        for b in self._keys:
            if b.description:
                keys = ", ".join(k.replace("_", " ") for k in b.key.split(","))
                lines.append(f"  {keys:<22} {b.description}")
        lines += ["", "  ctrl+p                 command palette", "", "Escape closes this screen."]
        yield Static("\n".join(lines))


class PanelRow(BlankLines, Horizontal):
    """The row of workload panels (#panels)."""


class DashboardScreen(BlankLines, Screen):
    """The dashboard's screen: its own lines, behind every widget, are blank."""


class DeviceStrip(TextLines):
    """The host, one line per GPU, and what is n/a and why (tui/devices.py)."""

    DEFAULT_CSS = "DeviceStrip { height: auto; max-height: 10; padding: 0 1; background: $boost; }"

    def __init__(self, session: Session) -> None:
        super().__init__([""], id="devices")
        self.session = session

    def on_mount(self) -> None:
        self.refresh_text()  # then on the app's text tick (one timer for all text)

    def refresh_text(self) -> None:
        # Repaints only the lines that changed; a new line count (a GPU appears, a note) relayouts.
        self.set_lines(device_lines(self.session))


class FwtopApp(App):
    TITLE = "fwtop"
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (120, "-wide")]
    CSS = """
    #topbar { height: 1; padding: 0 1; background: $primary-background; color: $text; }
    #panels { height: 1fr; }
    Screen.-narrow #panels { layout: vertical; overflow-y: auto; }
    Screen.-narrow WorkloadPanel { height: 24; }
    #panels.-zoom WorkloadPanel { display: none; }
    #panels.-zoom WorkloadPanel.-selected { display: block; height: 1fr; }
    #logbox { height: 10; border-top: solid $foreground 25%; display: none; }
    #logbox.-shown { display: block; }
    #logtitle { height: 1; padding: 0 1; color: $text-muted; }
    """
    BINDINGS = [
        Binding("left,shift+tab", "select(-1)", "Previous panel", id="previous"),
        Binding("right,tab", "select(1)", "Next panel", id="next"),
        Binding("z", "zoom", "Zoom panel", id="zoom"),
        Binding("space", "pause", "Pause / resume", id="pause"),
        Binding("r", "restart", "Restart", id="restart"),
        Binding("x", "stop", "Stop workload", id="stop"),
        Binding("l", "log", "Log", id="log"),
        Binding("a", "launch", "Add workload", id="add"),
        Binding("delete", "remove", "Remove workload", id="remove"),
        Binding("d", "pyspy_dump", "py-spy dump (stacks)", id="pyspy_dump"),
        Binding("s", "pyspy_record", "py-spy record", id="pyspy_record"),
        Binding("S", "pyspy_options", "py-spy record, options", id="pyspy_options", show=False),
        # Profiler captures (tui/traces.py); not in the footer, listed in help.
        Binding("p", "profile", "Profile selected (5 steps)", id="profile", show=False),
        Binding("P", "profile_all", "Profile every workload", id="profile_all", show=False),
        Binding("m", "memory_snapshot", "CUDA memory snapshot", id="memory_snapshot", show=False),
        Binding("t", "traces", "Traces and summaries", id="traces", show=False),
        Binding("question_mark", "help", "Help", id="help"),
        Binding("end", "jump_end", "Replay: jump to end", id="jump_end"),
        Binding("q", "quit", "Quit", id="quit"),
        Binding("ctrl+c", "quit", "", show=False, priority=True),
    ]

    def __init__(self, session: Session, chart_interval: float = CHART_INTERVAL, theme: str | None = None) -> None:
        super().__init__()
        themes, self.theme_errors = load_themes()
        for t in themes:
            self.register_theme(t)
        name = theme if theme in self.available_themes else DEFAULT_THEME
        if self.get_theme(name).dark == self.current_theme.dark:
            # Textual reads the stylesheets with the theme when the app starts: set it quietly
            # now (setting App.theme would parse every stylesheet again, at start-up).
            self.set_reactive(App.theme, name)
            self.stylesheet.set_variables(self.get_css_variables())
            self.add_class(f"-theme-{name}", update=False)  # as App.theme's watcher does
        else:  # a light theme: the watcher also switches Textual's ANSI colours
            self.theme = name
        self.session = session
        self.chart_interval = chart_interval
        self.selected = 0
        self._quitting = False
        self._log_shown: dict[str, int] = {}
        self._log_wid: str | None = None
        self._logbox: tuple[Vertical, Static, Log] | None = None  # the log view, its title and log
        self._panels: list[WorkloadPanel] | None = None
        self.pyspy_options = None  # tui/pyspy.py RecordOptions, set on first use
        self.pyspy_recordings: list = []  # paths of this session's py-spy recordings
        self._fixed: dict[str, TextLines] = {}  # the top bar and device strip, found once

    def get_driver_class(self):
        """Textual's terminal driver for this platform, or on Linux and macOS fwtop's, whose
        input thread sleeps until there is input (tui/driver.py), unless TEXTUAL_DRIVER names one."""
        from textual import constants
        from textual.drivers.linux_driver import LinuxDriver

        driver = super().get_driver_class()
        if driver is LinuxDriver and not constants.DRIVER:  # TEXTUAL_DRIVER names one: that one
            from .driver import QuietLinuxDriver

            return QuietLinuxDriver
        return driver

    def get_default_screen(self) -> Screen:
        return DashboardScreen(id="_default")

    # -- layout ---------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        # The width's layout class before the widgets are styled: the first frame has it
        # (Textual sets it on the first Resize event, after that frame: a narrow terminal
        # would get a wide frame first), and setting it later would style every widget again.
        width = self.size.width
        for minimum, name in reversed(self.HORIZONTAL_BREAKPOINTS):
            if width >= minimum:
                self.screen.update_classes({n: n == name for _, n in self.HORIZONTAL_BREAKPOINTS})
                break
        yield TextLines(["fwtop"], id="topbar")
        with PanelRow(id="panels"):
            for i, w in enumerate(self.session.workloads):
                yield WorkloadPanel(self.session, w.id, classes="-selected" if i == self.selected else None)
        yield DeviceStrip(self.session)
        yield KeyBar()

    @property
    def main(self) -> Screen:
        """The dashboard's own screen (queries must not land on a modal on top of it)."""
        return self.screen_stack[0]

    @property
    def panels(self) -> list[WorkloadPanel]:
        if self._panels is None:  # cached: queried on every refresh tick; reset when panels come and go
            self._panels = list(self.main.query(WorkloadPanel))
        return self._panels

    def on_mount(self) -> None:
        if self.theme_errors:
            self.notify("\n".join(self.theme_errors), title="Theme files skipped", severity="warning", timeout=15)
        self._install_signal_handlers()
        self._select(0)
        self._refresh_topbar()  # in the first frame already
        self._charts_due = 0.0
        self.set_interval(min(TEXT_INTERVAL, self.chart_interval), self._tick)
        self.session.listeners.append(self._on_session)
        drawn = asyncio.Event()  # the dashboard's first frame is on screen
        self.call_after_refresh(drawn.set)
        self.run_worker(self._run_session(drawn), name="session", exit_on_error=False)

    def _on_session(self, kind: str, wid: str | None) -> None:
        if kind == "warning":
            self.notify(self.session.warnings[-1], severity="warning", timeout=20)
        elif kind == "trace" and wid is not None:
            from .traces import capture_notice

            notice = capture_notice(self.session, wid)
            if notice is not None:
                self.notify(notice[0], severity=notice[1], timeout=10)

    async def _run_session(self, drawn: asyncio.Event) -> None:
        # Draw the whole dashboard first (panels, device strip, keys), then start the workloads
        # or load the recording: the engineer sees fwtop at once, and the children's start-up
        # does not compete with the first frame for the CPU.
        await drawn.wait()
        try:
            await self.session.start()
            await asyncio.sleep(0)  # let a replay that jumps to its end apply its records
            # Show what start-up brought (a replay jumped to its end, the first samples) now,
            # not at the timers' next ticks.
            self._refresh_text()
            self._refresh_charts()
        finally:
            resume_gc()  # paused by the launcher for the start-up (tui/launch.py)
        await self.session.wait()
        self._refresh_topbar()

    def _refresh_topbar(self) -> None:
        s = self.session
        ended = sum(w.state in ENDED for w in s.workloads)
        run_path = getattr(s, "run_path", None)  # a replayed run
        if run_path is not None:
            where = f"replaying {run_path.name}  {s.position:.0f}/{s.duration:.0f} s (end: jump to end)"
        else:
            where = f"recording to {s.rundir.path}" if s.rundir else "not recording"
        text = f"fwtop  {len(s.workloads)} workload(s), {ended} ended   {where}   ? help  q quit"
        self._fixed_widget("#topbar").set_lines([text])  # repaints only on change

    def _tick(self) -> None:
        """One timer for everything: states, badges and the log at the text rate; the numbers
        (charts, statistics, the device strip, the replay position) at the chart rate, in the
        same frame as the text when both are due (one frame a second while only numbers change)."""
        now = time.monotonic()
        with self.batch_update():
            self._refresh_text()
            if now >= self._charts_due:
                self._charts_due = now + self.chart_interval - 0.05  # timer jitter
                self._refresh_charts()

    def _refresh_text(self) -> None:
        from .traces import capture_badge  # the traces view and its helpers: not needed to start

        with self.batch_update():
            for panel in self.panels:
                panel.refresh_text()
                badge = capture_badge(self.session, panel.wid)
                if panel.border_subtitle != badge:
                    panel.border_subtitle = badge
            self._refresh_log()

    def _fixed_widget(self, selector: str):
        widget = self._fixed.get(selector)
        if widget is None:
            widget = self._fixed[selector] = self.main.query_one(selector, TextLines)
        return widget

    def _refresh_charts(self) -> None:
        with self.batch_update():
            for panel in self.panels:
                panel.refresh_charts()
            self._refresh_topbar()
            self._fixed_widget("#devices").refresh_text()

    # -- selection, zoom, log ---------------------------------------------------------

    def _select(self, index: int) -> None:
        panels = self.panels
        if not panels:
            return
        self.selected = index % len(panels)
        for i, panel in enumerate(panels):
            panel.set_class(i == self.selected, "-selected")
        self._refresh_log()

    @property
    def selected_wid(self) -> str | None:
        panels = self.panels
        return panels[self.selected].wid if panels else None

    def action_select(self, delta: int) -> None:
        self._select(self.selected + delta)

    def action_zoom(self) -> None:
        self.main.query_one("#panels").toggle_class("-zoom")

    async def action_log(self) -> None:
        if self._logbox is None:  # mounted the first time it is shown: start-up does without it
            from textual.widgets import Log

            title = Static("", id="logtitle")
            # Not focusable: the dashboard's keys (arrows, tab, end) must reach the app.
            log = Log(id="log", max_lines=2000)
            log.can_focus = False
            self._logbox = (Vertical(title, log, id="logbox"), title, log)
            await self.main.mount(self._logbox[0], before=self.main.query_one(DeviceStrip))
        self._logbox[0].toggle_class("-shown")
        self._refresh_log()

    def _refresh_log(self) -> None:
        wid = self.selected_wid
        if wid is None or self._logbox is None or not self._logbox[0].has_class("-shown"):
            return
        _, title, log = self._logbox
        w = self.session.get(wid)
        if wid != self._log_wid:
            log.clear()
            self._log_wid = wid
            self._log_shown[wid] = w.log_count - len(w.log)
            title.update(f"log of {w.label} (stdout and stderr)")
        new = w.log_count - self._log_shown.get(wid, 0)
        if new > 0:
            lines = list(w.log)[-min(new, len(w.log)) :]
            log.write_lines(lines)
            self._log_shown[wid] = w.log_count

    # -- workload control ---------------------------------------------------------------

    def action_pause(self) -> None:
        wid = self.selected_wid
        if wid is None:
            return
        w = self.session.get(wid)
        if w.ended:
            self.notify(f"{w.label} has ended", severity="warning")
        elif w.state == PAUSED:
            self.session.resume(wid)
        else:
            self.session.pause(wid)

    def action_stop(self) -> None:
        wid = self.selected_wid
        if wid is not None and not self.session.get(wid).ended:
            self.run_worker(self.session.stop_workload(wid), group="control", exit_on_error=False)

    def action_restart(self) -> None:
        wid = self.selected_wid
        if wid is not None:
            self.notify(f"restarting {self.session.get(wid).label}")
            self.run_worker(self.session.restart_workload(wid), group="control", exit_on_error=False)

    def action_launch(self) -> None:
        if getattr(self.session, "run_path", None) is not None:
            self.notify("a replayed run cannot add workloads", severity="warning")
            return
        from .launcher import Launcher  # imported on first use: its widgets cost start-up time

        pythons = [w.spec.python for w in self.session.workloads]
        self.push_screen(Launcher(pythons), self._launched)

    def _launched(self, spec) -> None:
        if spec is not None:
            self.run_worker(self._add_workload(spec), group="control", exit_on_error=False)

    async def _add_workload(self, spec) -> None:
        w = await self.session.add_workload(spec)
        await self.main.query_one("#panels").mount(WorkloadPanel(self.session, w.id))
        self._panels = None
        self._select(len(self.panels) - 1)
        self.notify(f"added {w.label}")

    def action_remove(self) -> None:
        wid = self.selected_wid
        if wid is None or getattr(self.session, "run_path", None) is not None:
            return
        self.run_worker(self._remove_workload(wid), group="control", exit_on_error=False)

    async def _remove_workload(self, wid: str) -> None:
        label = self.session.get(wid).label
        await self.main.query_one(f"#panel-{wid}", WorkloadPanel).remove()
        self._panels = None
        self._select(min(self.selected, max(0, len(self.panels) - 1)))
        await self.session.remove_workload(wid)
        self.notify(f"removed {label}")

    # -- profiler captures (tui/traces.py) ----------------------------------------------

    def _can_capture(self) -> bool:
        if getattr(self.session, "run_path", None) is not None:
            self.notify("a replayed run cannot be profiled (t lists its recorded traces)", severity="warning")
            return False
        return True

    def action_profile(self) -> None:
        wid = self.selected_wid
        if wid is not None and self._can_capture():
            cap = self.session.profile(wid)
            if not cap.final:  # a failure is announced by _on_session
                self.notify(f"{cap.label}: profiling the next {cap.steps} steps")

    def action_profile_all(self) -> None:
        if self._can_capture():
            caps = self.session.profile_all()
            self.notify(f"profiling {len(caps)} workload(s) at once; t: traces, c there: side by side")

    def action_memory_snapshot(self) -> None:
        wid = self.selected_wid
        if wid is not None and self._can_capture():
            cap = self.session.memory_snapshot(wid)
            if not cap.final:
                self.notify(f"{cap.label}: memory snapshot of the next {cap.steps} steps requested")

    def action_traces(self) -> None:
        from .traces import TracesScreen

        self.push_screen(TracesScreen(self.session))

    def action_jump_end(self) -> None:
        jump = getattr(self.session, "jump", None)  # only a replayed run has one
        if jump is not None:
            jump()

    # -- py-spy (tui/pyspy.py) ------------------------------------------------------------

    def action_pyspy_dump(self) -> None:
        from .pyspy import PySpyDumpScreen, traceable

        problem = traceable(self, self.selected_wid)
        if problem:
            self.notify(problem, severity="warning")
            return
        w = self.session.get(self.selected_wid)
        self.push_screen(PySpyDumpScreen(w.runner.pid, w.label))

    def action_pyspy_record(self) -> None:
        from .pyspy import RecordOptions, start_recording

        self.pyspy_options = self.pyspy_options or RecordOptions()
        start_recording(self, self.selected_wid, self.pyspy_options)

    def action_pyspy_options(self) -> None:
        from .pyspy import RecordOptions, RecordOptionsScreen

        def chosen(options) -> None:
            if options is not None:
                self.pyspy_options = options
                self.action_pyspy_record()

        self.push_screen(RecordOptionsScreen(self.pyspy_options or RecordOptions()), chosen)

    def action_help(self) -> None:
        self.push_screen(HelpScreen(self.BINDINGS))

    async def action_quit(self) -> None:
        if self._quitting:
            self.session.kill_all()
            self.exit()
            return
        self._quitting = True
        self.main.query_one("#topbar", TextLines).set_lines(["fwtop  stopping workloads..."])
        await self.session.stop()
        self.exit()

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield SystemCommand("Pause / resume workload", "Pause or resume the selected workload", self.action_pause)
        yield SystemCommand("Restart workload", "Stop the selected workload and start it afresh", self.action_restart)
        yield SystemCommand("Stop workload", "Stop the selected workload", self.action_stop)
        yield SystemCommand("Add workload", "Launch another workload into the comparison", self.action_launch)
        yield SystemCommand("Remove workload", "Stop the selected workload and drop its panel", self.action_remove)
        yield SystemCommand("Zoom panel", "Show the selected panel on the whole screen", self.action_zoom)
        yield SystemCommand("Toggle log", "Show the selected workload's output", self.action_log)
        yield SystemCommand("py-spy dump", "The selected workload's stacks, every process", self.action_pyspy_dump)
        yield SystemCommand("py-spy record", "Sample the selected workload for a while", self.action_pyspy_options)
        yield SystemCommand(
            "Profile workload", "Framework profiler trace of 5 steps of the selected one", self.action_profile
        )
        yield SystemCommand("Profile every workload", "Traces of 5 steps of each, to compare", self.action_profile_all)
        yield SystemCommand(
            "Memory snapshot", "CUDA memory history of the selected torch workload", self.action_memory_snapshot
        )
        yield SystemCommand("Traces", "Captures, their files and summaries", self.action_traces)
        yield SystemCommand("Keys", "Every key fwtop answers to", self.action_help)

    # -- hang-up and termination --------------------------------------------------------

    def _install_signal_handlers(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGHUP):
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.add_signal_handler(sig, self._on_terminate, sig)

    def _on_terminate(self, sig: int = signal.SIGTERM) -> None:
        # The terminal may be gone: end the children first (and keep the record), then exit,
        # and never outlive it.
        self.session.finish_now(f"fwtop ended by {signal.Signals(sig).name}")
        watchdog = threading.Timer(EXIT_WATCHDOG_S, os._exit, (1,))
        watchdog.daemon = True
        watchdog.start()
        self.exit(return_code=1)
