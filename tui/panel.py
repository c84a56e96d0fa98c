"""WorkloadPanel: one workload's header, charts and statistics.

The panel never reacts to individual events: the app calls ``refresh_text``
(a few times a second) and ``refresh_charts`` (once a second by default), and
each part repaints only when what it shows has changed.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Static

from fwtop.session.session import COMPILING, FAILED, PAUSED, RUNNING, STALLED, STARTING, Session, Workload
from fwtop.session.stats import throughput

from .chart import BrailleChart
from .format import fmt_bytes, fmt_duration, fmt_rate

CHART_POINTS = 400  # the widest chart shows 2 points per cell


def state_text(w: Workload) -> str:
    """The state line: changes only when the state does (the step count is in the stats block)."""
    if w.state == FAILED:
        return f"FAILED: {w.reason}"
    if w.state == STALLED:
        return f"STALLED: {w.reason}"
    if w.state == COMPILING:
        return "compiling (first step)"
    if w.state in (STARTING, RUNNING, PAUSED):
        return w.state
    return f"{w.state}" + (f" ({w.reason})" if w.reason and w.state != "finished" else "")


def progress_text(w: Workload, steps: int) -> str:
    total = f"/{w.spec.steps}" if w.spec.steps else ""
    return f"step {steps}{total}"


class WorkloadPanel(Vertical):
    DEFAULT_CSS = """
    WorkloadPanel {
        border: round $foreground 25%;
        padding: 0 1;
        height: 1fr;
        width: 1fr;
    }
    WorkloadPanel.-selected { border: round $accent; }
    WorkloadPanel .title { text-style: bold; height: 1; }
    WorkloadPanel .state { height: 1; color: $text-muted; }
    WorkloadPanel .state.-failed { color: $error; text-style: bold; }
    WorkloadPanel .state.-running { color: $success; }
    WorkloadPanel .state.-paused { color: $warning; }
    WorkloadPanel .stats { height: 6; }
    WorkloadPanel .step-chart { color: $accent; }
    WorkloadPanel .mem-chart { color: $secondary; }
    WorkloadPanel .util-chart { color: $success; }
    """

    def __init__(self, session: Session, wid: str) -> None:
        super().__init__(id=f"panel-{wid}")
        self.session = session
        self.wid = wid
        self._text_key: tuple | None = None
        self._texts: dict[str, str] = {}
        self._chart_version = -1

    @property
    def workload(self) -> Workload:
        return self.session.get(self.wid)

    def compose(self) -> ComposeResult:
        yield Static("", classes="title")
        yield Static("", classes="state")
        yield BrailleChart("step time", classes="step-chart")
        yield BrailleChart("memory", classes="mem-chart")
        yield BrailleChart("cpu", classes="util-chart")
        yield Static("", classes="stats")

    def on_mount(self) -> None:
        self.refresh_text()
        self.refresh_charts()
        self.refresh_stats()

    # -- text -------------------------------------------------------------------------

    def title_text(self) -> str:
        w = self.workload
        h = w.hello or {}
        version = h.get("framework_version") or ""
        device = h.get("device") or w.spec.device
        name = h.get("device_name")
        parts = [
            f"{w.label}",
            f"{w.spec.framework} {version}".strip(),
            w.spec.model,
            f"{device}" + (f" ({name})" if name and name != device else ""),
            w.spec.dtype,
            w.spec.compile,
        ]
        return " | ".join(parts)

    def stats_text(self) -> str:
        s = self.session
        w = self.workload
        series = s.timeline.steps(w.id)
        st = series.stats()
        h = w.hello or {}
        last = series.last
        sps = throughput(last.samples if last else None, series.steady_count, series.steady_time)
        tps = throughput(last.tokens if last else None, series.steady_count, series.steady_time)
        fl = throughput(h.get("flops_per_step"), series.steady_count, series.steady_time)
        peak = series.mem_peak.get("peak", series.mem_peak.get("allocated"))
        host = s.timeline.peaks.get(("host", w.id), {})
        first = s.workloads[0] if s.workloads else None
        ratio = "n/a"
        if first is not None and first.id != w.id and st["median"]:
            base = s.timeline.steps(first.id).stats()["median"]
            if base:
                ratio = f"{st['median'] / base:.2f}x {first.label}"
        elif first is not None and first.id == w.id:
            ratio = "baseline"
        thr = f"{fmt_rate(sps)} samples/s" + (f", {fmt_rate(tps)} tok/s" if tps else "")
        lines = [
            f"{progress_text(w, series.count)}  median {fmt_duration(st['median'])}  p95 {fmt_duration(st['p95'])}"
            f"  ({series.steady_count} steady" + (f", {series.profiled} profiled" if series.profiled else "") + ")",
            f"{thr}  {fl / 1e12:.3f} TFLOP/s" if fl else thr,
            f"peak {fmt_bytes(peak) if peak is not None else 'n/a'} framework, {fmt_bytes(host.get('rss'))} rss",
            f"first step {fmt_duration((w.compile or {}).get('first_step_s'))}  vs first: {ratio}",
        ]
        if h.get("preallocates"):
            lines.append(h["preallocates"])
        if w.invalid:
            lines.append(f"{w.invalid} malformed line(s) from the child")
        return "\n".join(lines)

    def _set(self, selector: str, text: str) -> None:
        """Repaint a fixed-size text line only when its text changed (no relayout)."""
        if self._texts.get(selector) != text:
            self._texts[selector] = text
            self.query_one(selector, Static).update(text, layout=False)

    def refresh_text(self) -> None:
        w = self.workload
        key = (w.state, w.reason, bool(w.hello))
        if key == self._text_key:
            return
        self._text_key = key
        self._set(".title", self.title_text())
        self._set(".state", state_text(w))
        state = self.query_one(".state", Static)
        state.set_class(w.state == FAILED, "-failed")
        state.set_class(w.state == RUNNING, "-running")
        state.set_class(w.state in (PAUSED, STALLED), "-paused")

    def refresh_stats(self) -> None:
        """The statistics block: at the chart rate (computing percentiles sorts every steady step)."""
        self._set(".stats", self.stats_text())

    # -- charts -----------------------------------------------------------------------

    def refresh_charts(self) -> None:
        tl = self.session.timeline
        if tl.version == self._chart_version:
            return
        self._chart_version = tl.version
        self.refresh_stats()
        w = self.workload
        steps = list(tl.steps(w.id).steps)[-CHART_POINTS:]
        step_chart, mem_chart, util_chart = self.query(BrailleChart)
        durations = [s.duration for s in steps]
        caption = fmt_duration(durations[-1]) if durations else ""
        step_chart.set_data(durations, caption + (" (profiled step)" if steps and steps[-1].profiled else ""))
        framework_mem = [(s.mem or {}).get("allocated") for s in steps]
        if any(v is not None for v in framework_mem):
            reserved = (steps[-1].mem or {}).get("reserved")
            cap = f"alloc {fmt_bytes(framework_mem[-1])}" + (f", reserved {fmt_bytes(reserved)}" if reserved else "")
            mem_chart.title = "device memory (framework)"
            mem_chart.set_data(framework_mem, cap)
        else:
            rss = [x.values.get("rss") for x in list(tl.samples("host", w.id))[-CHART_POINTS:]]
            mem_chart.title = "host memory (rss)"
            mem_chart.set_data(rss, fmt_bytes(rss[-1]) if rss else "")
        cpu = [x.values.get("cpu_percent") for x in list(tl.samples("host", w.id))[-CHART_POINTS:]]
        util_chart.title = "cpu % (process tree)"
        util_chart.set_data(cpu, f"{cpu[-1]:.0f}%" if cpu and cpu[-1] is not None else "")
