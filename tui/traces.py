"""Profiler captures in the dashboard: the traces screen, the trace summary, the panel badge."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import TYPE_CHECKING

from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer, Static

from fwtop.session.session import Session
from fwtop.session.traces import DONE, Capture, TraceError, side_by_side, summarize_capture

from .format import fmt_bytes

# DataTable is imported when a traces screen is composed: the dashboard's first frame
# does not show one (textual.widgets loads each widget's module on first use).
if TYPE_CHECKING:
    from textual.widgets import DataTable

TOP_OPS = 25


def capture_badge(session: Session, wid: str) -> str:
    """The panel's capture line: the latest capture of this workload, while it runs and once done."""
    cap = session.traces.latest(wid)
    if cap is None:
        return ""
    if cap.final and time.time() - cap.updated_at > 60:
        return ""  # an old result: the traces screen has it
    return cap.status_text()


def capture_notice(session: Session, wid: str) -> tuple[str, str] | None:
    """A toast when a capture of this workload has just ended: its path, or why it failed (once each)."""
    for cap in session.traces.for_workload(wid):
        if cap.final and not cap.announced:
            cap.announced = True
            if cap.state == DONE:
                return f"{cap.label}: {cap.status_text()}\n{cap.trace_path or cap.files[0]['path']}", "information"
            return f"{cap.label}: {cap.status_text()}", "error"
    return None


def _when(t: float | None) -> str:
    return time.strftime("%H:%M:%S", time.localtime(t)) if t else ""


def _steps(c: Capture) -> str:
    if c.first_step is None:
        return f"{c.steps}" + (f" from {c.at_step}" if c.at_step is not None else "")
    last = c.first_step + max(c.step, 1) - 1
    return f"{c.first_step}-{last} ({c.step}/{c.steps})"


class TracesScreen(Screen):
    """Every capture of the session: workload, kind, steps, size, time, state and path."""

    BINDINGS = [
        Binding("escape,q,t", "app.pop_screen", "Back"),
        Binding("enter", "summary", "Summary"),
        Binding("c", "compare", "Compare side by side"),
    ]
    DEFAULT_CSS = """
    TracesScreen #where { height: auto; padding: 0 1; color: $text-muted; }
    TracesScreen DataTable { height: 1fr; }
    """

    def __init__(self, session: Session) -> None:
        super().__init__()
        self.session = session
        self._version = -1

    def compose(self) -> ComposeResult:
        from textual.widgets import DataTable

        yield Static(self._where(), id="where")
        table = DataTable(id="captures", cursor_type="row", zebra_stripes=True)
        table.add_columns("workload", "kind", "steps", "size", "time", "state", "path")
        yield table
        yield Footer()

    def _where(self) -> str:
        s = self.session
        caps = s.traces.captures
        root = Path(caps[-1].dir).parent if caps else None  # RUN_DIR/traces (captures go to RUN_DIR/traces/<id>)
        if root is None:
            return "no capture yet: p profiles the selected workload, P every workload, m a CUDA memory snapshot"
        note = " (not recording: a temporary folder, kept after fwtop ends)" if s.traces.temporary else ""
        return f"traces in {root}{note}   tensorboard --logdir {root}   enter: summary   c: compare"

    def on_mount(self) -> None:
        self.refresh_rows()
        self.set_interval(0.5, self.refresh_rows)

    def refresh_rows(self) -> None:
        traces = self.session.traces
        if traces.version == self._version:
            return
        self._version = traces.version
        table = self.query_one("#captures")
        row = table.cursor_row
        table.clear()
        for c in traces.captures:
            state = c.status_text().split(": ", 1)[-1]
            table.add_row(
                c.label,
                "profile" if c.kind == "profile" else "memory",
                _steps(c),
                fmt_bytes(c.bytes) if c.files else "",
                _when(c.done_at or c.requested_at),
                state,
                c.trace_path or (c.files[0]["path"] if c.files else c.dir),
                key=c.id,
            )
        if traces.captures:
            table.move_cursor(row=min(max(row, 0), len(traces.captures) - 1))
        self.query_one("#where", Static).update(self._where())

    def _selected(self) -> Capture | None:
        caps = self.session.traces.captures
        row = self.query_one("#captures").cursor_row
        return caps[row] if 0 <= row < len(caps) else None

    def action_summary(self) -> None:
        cap = self._selected()
        if cap is None:
            return
        if cap.state == DONE and cap.kind == "memory_snapshot" and cap.files:
            self.notify(f"open {cap.files[0]['path']} at pytorch.org/memory_viz", timeout=15)
            return
        if cap.state != DONE or cap.trace_path is None:
            self.notify(f"{cap.label}: {cap.status_text()} (no trace to summarize)", severity="warning")
            return
        self.app.push_screen(SummaryScreen([cap]))

    def action_compare(self) -> None:
        caps = [c for c in self.session.traces.last_group() if c.state == DONE and c.trace_path]
        if len(caps) < 2:
            self.notify("nothing to compare yet: P profiles every workload at once", severity="warning")
            return
        self.app.push_screen(SummaryScreen(caps))

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.action_summary()


class SummaryScreen(Screen):
    """Top operations of one capture, or of several side by side, parsed from the trace files."""

    BINDINGS = [
        Binding("escape,q", "app.pop_screen", "Back"),
        Binding("o", "order", "By self / total time"),
    ]
    DEFAULT_CSS = """
    SummaryScreen #head { height: auto; padding: 0 1; }
    SummaryScreen DataTable { height: 1fr; }
    """

    def __init__(self, captures: list[Capture]) -> None:
        super().__init__()
        self.captures = captures
        self.summaries: list[tuple[Capture, dict]] = []
        self.by = "by_self"

    def compose(self) -> ComposeResult:
        from textual.widgets import DataTable

        yield Static("reading the trace...", id="head")
        yield DataTable(id="ops", cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        self.run_worker(self._load(), exit_on_error=False)

    async def _load(self) -> None:
        try:
            self.summaries = [(c, await asyncio.to_thread(summarize_capture, c, TOP_OPS)) for c in self.captures]
        except TraceError as exc:
            self.query_one("#head", Static).update(f"cannot summarize: {exc}")
            return
        self.show()

    def action_order(self) -> None:
        self.by = "by_total" if self.by == "by_self" else "by_self"
        self.show()

    def show(self) -> None:
        if not self.summaries:
            return
        table = self.query_one("#ops")
        table.clear(columns=True)
        order = "self" if self.by == "by_self" else "total"
        if len(self.summaries) == 1:
            cap, summ = self.summaries[0]
            head = (
                f"{cap.label}: top operations by {order} time, {summ['events']} events on {summ['threads']} thread(s), "
                f"steps {_steps(cap)}; share = self time / the captured steps' wall time "
                f"(parallel threads can add up to more than 100%)   o: by self / total\n{summ['path']}"
            )
            table.add_columns("operation", "category", "count", "total ms", "self ms", "self/step")
            for op in summ[self.by]:
                share = f"{op['share'] * 100:.1f}%" if op["share"] is not None else "n/a"
                table.add_row(
                    op["name"][:80],
                    op["cat"][:24],
                    str(op["count"]),
                    f"{op['total_us'] / 1000:.3f}",
                    f"{op['self_us'] / 1000:.3f}",
                    share,
                )
        else:
            head = (
                "side by side: each workload's top operations by self time (share of its captured steps)\n"
                + "\n".join(f"{c.label}: {s['path']}" for c, s in self.summaries)
            )
            rows = side_by_side([(c.label, s) for c, s in self.summaries], top=TOP_OPS)
            table.add_columns(*rows[0])
            for row in rows[1:]:
                table.add_row(*[cell[:48] for cell in row])
        self.query_one("#head", Static).update(head)
