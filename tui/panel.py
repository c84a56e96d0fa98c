"""WorkloadPanel: one workload's header, charts and statistics.

The panel never reacts to individual events: the app calls ``refresh_text``
(a few times a second) and ``refresh_charts`` (once a second by default), and
each part repaints only when what it shows has changed.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widget import Widget
from textual.widgets import Static

from fwtop.session.session import COMPILING, FAILED, PAUSED, RUNNING, STALLED, STARTING, Session, Workload
from fwtop.session.stats import throughput
from fwtop.session.summary import device_peak

from .chart import BrailleChart, LinesChart
from .format import fmt_bytes, fmt_duration, fmt_rate
from .lines import TextLines
from .memo import FrameMemo

LOG_TAIL = 5  # log lines shown on a failed or stalled panel
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


class LineStatic(FrameMemo, Static):
    """A panel's title or state line (styled by Static's and the panel's CSS)."""


class WorkloadPanel(FrameMemo, Vertical):
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
    WorkloadPanel .tail { display: none; color: $text-muted; }
    WorkloadPanel .tail.-shown { display: block; }
    WorkloadPanel .step-chart { color: $accent; }
    WorkloadPanel .mem-chart { color: $secondary; }
    WorkloadPanel .util-chart { color: $success; }
    WorkloadPanel .mem3-chart { display: none; }
    WorkloadPanel.-mem3 .mem3-chart { display: block; }
    WorkloadPanel.-mem3 .mem-chart { display: none; }
    """

    def __init__(self, session: Session, wid: str) -> None:
        super().__init__(id=f"panel-{wid}")
        self.session = session
        self.wid = wid
        self._text_key: tuple | None = None
        self._texts: dict[str, str] = {}
        self._chart_version = -1
        self._charts: list[BrailleChart] | None = None
        self._children: dict[str, Widget] = {}  # selector -> child: no DOM query on each refresh tick

    @property
    def workload(self) -> Workload:
        return self.session.get(self.wid)

    def compose(self) -> ComposeResult:
        yield LineStatic("", classes="title")
        yield LineStatic("", classes="state")
        yield BrailleChart("step time", classes="step-chart")
        yield BrailleChart("memory", classes="mem-chart")
        yield LinesChart("memory", classes="mem3-chart")
        yield BrailleChart("cpu", classes="util-chart")
        yield TextLines(classes="stats")
        yield TextLines(classes="tail")

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
            f"{h.get('framework') or w.spec.framework} {version}".strip(),  # a script: what it imported
            w.spec.model,
            f"{device}" + (f" ({name})" if name and name != device else ""),
            w.spec.dtype,
            w.spec.compile,
        ]
        return " | ".join(p for p in parts if p)  # a script has no dtype or compile mode

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
            peak_text(series.mem_peak, device_peak(s, w.id), host.get("rss")),
            f"first step {fmt_duration((w.compile or {}).get('first_step_s'))}  vs first: {ratio}",
        ]
        energy = energy_text(s, w.id)
        if energy:
            lines.insert(3, energy)
        if h.get("preallocates"):
            lines.append(h["preallocates"])
        if w.invalid:
            lines.append(f"{w.invalid} malformed line(s) from the child")
        return "\n".join(lines)

    def _child(self, selector: str) -> Widget:
        child = self._children.get(selector)
        if child is None:
            child = self._children[selector] = self.query_one(selector)
        return child

    def _set(self, selector: str, text: str) -> None:
        """Repaint a fixed-size text line only when its text changed (no relayout)."""
        if self._texts.get(selector) != text:
            self._texts[selector] = text
            self._child(selector).update(text, layout=False)

    def refresh_text(self) -> None:
        w = self.workload
        ended_badly = w.state in (FAILED, STALLED)
        key = (w.state, w.reason, bool(w.hello), w.log_count if ended_badly else 0)
        if key == self._text_key:
            return
        self._text_key = key
        tail = self._child(".tail")
        tail.set_class(ended_badly, "-shown")
        if ended_badly:
            lines = [line for line in list(w.log)[-LOG_TAIL * 4 :] if line.strip()][-LOG_TAIL:]
            tail.set_lines(["last lines of its log (l: the whole log):", *lines] if lines else ["(its log is empty)"])
        self._set(".title", self.title_text())
        self._set(".state", state_text(w))
        state = self._child(".state")
        state.set_class(w.state == FAILED, "-failed")
        state.set_class(w.state == RUNNING, "-running")
        state.set_class(w.state in (PAUSED, STALLED), "-paused")

    def refresh_stats(self) -> None:
        """The statistics block: at the chart rate (computing percentiles sorts every steady step)."""
        self._child(".stats").set_text(self.stats_text())

    # -- charts -----------------------------------------------------------------------

    def refresh_charts(self) -> None:
        tl = self.session.timeline
        if tl.version == self._chart_version:
            return
        self._chart_version = tl.version
        self.refresh_stats()
        w = self.workload
        steps = list(tl.steps(w.id).steps)[-CHART_POINTS:]
        if self._charts is None:
            self._charts = list(self.query(BrailleChart))
        step_chart, mem_chart, util_chart = self._charts
        durations = [s.duration for s in steps]
        caption = fmt_duration(durations[-1]) if durations else ""
        step_chart.set_data(durations, caption + (" (profiled step)" if steps and steps[-1].profiled else ""))
        series = memory_series(self.session, w.id)
        self.set_class(bool(series), "-mem3")
        if series:
            device = any(label.startswith("device") for label, _ in series)
            title = "memory (framework vs device)" if device else "device memory (framework)"
            self._child(".mem3-chart").set_series(series, title)
        else:
            rss = [x.values.get("rss") for x in list(tl.samples("host", w.id))[-CHART_POINTS:]]
            mem_chart.title = "host memory (rss)"
            mem_chart.set_data(rss, fmt_bytes(rss[-1]) if rss else "")
        util = device_util(self.session, w.id)
        if util is not None:
            target, values = util
            util_chart.title = f"gpu util % ({target}, whole device)"
            last = values[-1] if values else None
            util_chart.set_data(values, f"{last:.0f}%" if last is not None else "n/a", top=100.0)
            return
        cpu = [x.values.get("cpu_percent") for x in list(tl.samples("host", w.id))[-CHART_POINTS:]]
        util_chart.title = "cpu % (process tree)"
        util_chart.set_data(cpu, f"{cpu[-1]:.0f}%" if cpu and cpu[-1] is not None else "")


# -- what the charts and stats show (plain functions, tested without a terminal) -----------


def peak_text(mem_peak: dict, device: int | None, rss: int | None) -> str:
    """Peaks three ways where a device reports them: framework allocated, reserved, device."""
    alloc = mem_peak.get("peak", mem_peak.get("allocated"))
    if device is None and mem_peak.get("reserved") is None:
        return f"peak {fmt_bytes(alloc) if alloc is not None else 'n/a'} framework, {fmt_bytes(rss)} rss"
    return (
        f"peak alloc {fmt_bytes(alloc)}, reserved {fmt_bytes(mem_peak.get('reserved'))}, "
        f"device {fmt_bytes(device)}, rss {fmt_bytes(rss)}"
    )


def energy_text(session: Session, wid: str) -> str:
    """Energy per steady step and average power, from the device's energy counter."""
    tl = session.timeline
    e = tl.energy.workloads.get(wid)
    if e is None or not tl.energy.has_counter(wid):
        return "energy n/a (the device has no energy counter)" if tl.device_probe(wid) else ""
    where = ", ".join(target for _, target in e.devices)
    shared = tl.energy.shared(wid)
    if e.per_step_j is None:
        return f"energy: waiting for counter readings around a steady step ({where})"
    text = f"energy {e.per_step_j:.3g} J/step  {e.avg_power_w:.0f} W avg ({where}"
    return text + (f", shared with {len(shared)} other workload(s))" if shared else ")")


def memory_series(session: Session, wid: str) -> list[tuple[str, list]]:
    """Memory three ways on one time axis: the framework's allocated and reserved figures
    (from step events) at each device sample, and the device's figure for the workload's
    processes. Framework figures per step where no device sample exists; [] when there is
    nothing but host memory (CPU)."""
    tl = session.timeline
    steps = list(tl.steps(wid).steps)
    probe = tl.device_probe(wid)
    samples = list(tl.samples(probe, wid))[-CHART_POINTS:] if probe else []
    device = [x.values.get("gpu_mem") for x in samples]
    if samples and any(v is not None for v in device):
        alloc, resv = [], []
        j, last = 0, None
        first_t = samples[0].t
        while j < len(steps) and steps[j].t <= first_t:
            last, j = steps[j], j + 1
        for x in samples:
            while j < len(steps) and steps[j].t <= x.t:
                last, j = steps[j], j + 1
            mem = (last.mem or {}) if last is not None else {}
            alloc.append(mem.get("allocated"))
            resv.append(mem.get("reserved"))
        return [
            (f"alloc {fmt_bytes(_last(alloc))}", alloc),
            (f"reserved {fmt_bytes(_last(resv))}", resv),
            (f"device {fmt_bytes(_last(device))}", device),
        ]
    steps = steps[-CHART_POINTS:]
    alloc = [(x.mem or {}).get("allocated") for x in steps]
    if not any(v is not None for v in alloc):
        return []
    resv = [(x.mem or {}).get("reserved") for x in steps]
    out = [(f"alloc {fmt_bytes(_last(alloc))}", alloc), (f"reserved {fmt_bytes(_last(resv))}", resv)]
    if probe:
        out.append(("device n/a", []))
    return out


def device_util(session: Session, wid: str) -> tuple[str, list] | None:
    """The utilization history of the (first) device the workload runs on, if a GPU probe knows it."""
    tl = session.timeline
    probe = tl.device_probe(wid)
    latest = tl.latest(probe, wid) if probe else None
    devices = (latest.values.get("devices") or []) if latest else []
    if not devices:
        return None
    target = str(devices[0]).split("/")[0]  # a MIG instance: the utilization is its GPU's
    values = [x.values.get("util_gpu") for x in list(tl.samples(probe, target))[-CHART_POINTS:]]
    return target, values


def _last(values: list):
    return next((v for v in reversed(values) if v is not None), None)
