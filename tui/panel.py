"""WorkloadPanel: one workload's header, charts and statistics.

The panel never reacts to individual events: the app calls ``refresh_text``
(a few times a second) and ``refresh_charts`` (once a second by default), and
each part repaints only when what it shows has changed.
"""

from __future__ import annotations

import itertools

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from textual.app import ComposeResult
from textual.geometry import Region
from textual.strip import Strip
from textual.widget import Widget

from fwtop.session.session import COMPILING, FAILED, PAUSED, RUNNING, STALLED, STARTING, Session, Workload
from fwtop.session.stats import throughput
from fwtop.session.summary import device_peak

from .chart import area_chart, braille_lines, runs, top_of
from .format import fmt_bytes, fmt_duration, fmt_rate
from .memo import DirectLines, FrameMemo, RepeatedRows

LOG_TAIL = 5  # log lines shown on a failed or stalled panel
CHART_POINTS = 400  # default history for the chart helpers (a chart takes 2 points per cell)


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


Run = tuple[str, str]  # (text, style key: "text" or a part of COMPONENT_CLASSES, "-head" for bold)
Line = tuple[Run, ...]


class PanelBody(DirectLines, Widget):
    """The inside of a panel: every line of it drawn by this one widget, from cached strips
    whose styles have been through the app's line filters already (PREFILTERED). The panel
    around it (a container with Textual's border) changes rarely and keeps its last frame
    (FrameMemo); the body's changed lines reach the terminal without the border's columns."""

    PREFILTERED = True

    # A line's parts name what they show; each is drawn in one of a few colours (component
    # classes are styled per widget at every style pass: fewer of them, a faster start).
    COLOURS = {
        "title": "title",
        "state": "muted",
        "state-failed": "error",
        "state-running": "success",
        "state-paused": "warning",
        "step": "accent",
        "mem": "secondary",
        "util": "success",
        "s0": "secondary",
        "s1": "warning",
        "s2": "success",
        "tail": "muted",
    }
    COMPONENT_CLASSES = {f"panelbody--{colour}" for colour in set(COLOURS.values())}
    DEFAULT_CSS = """
    PanelBody { height: 1fr; width: 1fr; }
    PanelBody > .panelbody--title { text-style: bold; }
    PanelBody > .panelbody--muted { color: $text-muted; }
    PanelBody > .panelbody--error { color: $error; text-style: bold; }
    PanelBody > .panelbody--success { color: $success; }
    PanelBody > .panelbody--warning { color: $warning; }
    PanelBody > .panelbody--accent { color: $accent; }
    PanelBody > .panelbody--secondary { color: $secondary; }
    """

    def __init__(self, panel: WorkloadPanel) -> None:
        super().__init__()
        self.panel = panel
        self._rows: list[Line] = []  # the lines on screen
        self._strips: dict[int, Strip] = {}
        self._styles: dict[str, Style] = {}
        self._width = -1  # the width the panel's charts were drawn and the lines cached for

    def set_rows(self, rows: list[Line]) -> None:
        """Repaint the lines that differ from what is on screen (consecutive ones as one region)."""
        width = self.size.width
        if width != self._width:
            self._resized(width)
            self.refresh()
            return
        old = self._rows
        self._rows = rows
        if len(rows) != len(old):
            self._strips.clear()
            self.refresh()
            return
        changed = [y for y, (a, b) in enumerate(zip(old, rows, strict=True)) if a != b]
        if not changed:
            return
        regions = []
        start = prev = changed[0]
        for y in changed[1:] + [-1]:
            self._strips.pop(prev, None)
            if y != prev + 1:
                regions.append(Region(0, start, width, prev - start + 1))
                start = y
            prev = y
        self.refresh(*regions)

    def _resized(self, width: int) -> None:
        """Charts are drawn for a width: the panel draws them again; every cached line goes."""
        self._width = width
        self._rows = self.panel.rows_for_width(width)
        self._strips.clear()

    def _style(self, key: str) -> Style:
        style = self._styles.get(key)
        if style is None:
            part, head = (key[:-5], True) if key.endswith("-head") else (key, False)
            style = (
                self.rich_style if part == "text" else self.get_component_rich_style(f"panelbody--{self.COLOURS[part]}")
            )
            if head:
                style += Style(bold=True)
            style = self._styles[key] = self.final_style(style)
        return style

    def styles_changed(self) -> None:
        """Colours are cached with the lines: rebuild them."""
        self._styles.clear()
        self._strips.clear()

    def render_line(self, y: int) -> Strip:
        width = self.line_size.width
        if width != self._width:  # resized since the last drawing
            self._resized(width)
        strip = self._strips.get(y)
        if strip is None:
            strip = self._strips[y] = self._draw_line(y, width)
        return strip

    def _draw_line(self, y: int, width: int) -> Strip:
        line = self._rows[y] if 0 <= y < len(self._rows) else ()
        segments = [Segment(text, self._style(key)) for text, key in line if text]
        used = sum(cell_len(text) for text, _ in line)
        if used > width:  # too long: cut, and say so
            if width < 2:
                return Strip.blank(width, self._style("text"))
            cut = Strip(segments).crop(0, width - 1)
            return Strip([*cut, Segment("\u2026", segments[-1].style)], width)
        if used < width:
            segments.append(Segment(" " * (width - used), self._style("text")))
        return Strip(segments, width)


class WorkloadPanel(FrameMemo, RepeatedRows, Widget):
    """One workload: title, state, three charts, the statistics and (for a failed or stalled
    workload) the tail of its log, drawn line by line by its PanelBody. Each part is
    recomputed only when what it shows changed, and only the lines that differ are
    repainted (two widgets a panel: less to lay out, style and composite per frame)."""

    DEFAULT_CSS = """
    WorkloadPanel {
        border: round $foreground 25%;
        padding: 0 1;
        height: 1fr;
        width: 1fr;
    }
    WorkloadPanel.-selected { border: round $accent; }
    """
    PARTS = ("title", "state", "step", "mem", "util", "stats", "tail")
    CHART_ROWS = 5  # a chart: its title line and 4 rows of braille cells
    STATS_ROWS = 6

    def __init__(self, session: Session, wid: str, classes: str | None = None) -> None:
        super().__init__(id=f"panel-{wid}", classes=classes)
        self.session = session
        self.wid = wid
        self._text_key: tuple | None = None
        self._chart_version = -1
        self._parts: dict[str, list[Line]] = {name: [] for name in self.PARTS}
        self._charts: dict[str, tuple] = {}  # part -> what its chart shows (drawn at the body's width)
        self._charts_width = -1  # the width the chart parts were drawn for
        self.body = PanelBody(self)

    @property
    def workload(self) -> Workload:
        return self.session.get(self.wid)

    def compose(self) -> ComposeResult:
        yield self.body

    def on_mount(self) -> None:
        self.refresh_text()
        self.refresh_charts()

    # -- what tests and other views read ------------------------------------------------

    def part_text(self, name: str) -> str:
        """The plain text a part shows now (``title``, ``state``, ``step``, ``mem``, ``util``, ``stats``, ``tail``)."""
        return "\n".join("".join(text for text, _ in line).rstrip() for line in self._parts[name])

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

    def refresh_text(self) -> None:
        """Title, state and log tail: recomputed when the state changes (a few times a second at most)."""
        w = self.workload
        ended_badly = w.state in (FAILED, STALLED)
        key = (w.state, w.reason, bool(w.hello), w.log_count if ended_badly else 0)
        if key == self._text_key:
            return
        self._text_key = key
        tail: list[Line] = []
        if ended_badly:
            lines = [line for line in list(w.log)[-LOG_TAIL * 4 :] if line.strip()][-LOG_TAIL:]
            texts = ["last lines of its log (l: the whole log):", *lines] if lines else ["(its log is empty)"]
            tail = [((text, "tail"),) for text in texts]
        self._parts["tail"] = tail
        self._parts["title"] = [((self.title_text(), "title"),)]
        style = {FAILED: "state-failed", RUNNING: "state-running", PAUSED: "state-paused", STALLED: "state-paused"}
        self._parts["state"] = [((state_text(w), style.get(w.state, "state")),)]
        self._update_rows()

    def refresh_stats(self) -> None:
        """The statistics block: at the chart rate (computing percentiles sorts every steady step)."""
        self._parts["stats"] = [((line, "text"),) for line in self.stats_text().split("\n")]

    # -- charts -----------------------------------------------------------------------

    def refresh_charts(self) -> None:
        tl = self.session.timeline
        if tl.version == self._chart_version:
            return
        self._chart_version = tl.version
        self.refresh_stats()
        width = self.body.size.width
        self._chart_data(width)
        self._draw_charts(width)
        self._update_rows()

    def _chart_data(self, width: int) -> None:
        """What each chart shows: the last ``2 * width`` points (two per braille cell)."""
        n = max(2, 2 * width)
        tl = self.session.timeline
        w = self.workload
        steps = last_items(tl.steps(w.id).steps, n)
        durations = [s.duration for s in steps]
        caption = fmt_duration(durations[-1]) if durations else ""
        caption += " (profiled step)" if steps and steps[-1].profiled else ""
        self._charts["step"] = ("step time", caption, durations, None)
        series = memory_series(self.session, w.id, n)
        if series:
            device = any(label.startswith("device") for label, _ in series)
            title = "memory (framework vs device)" if device else "device memory (framework)"
            self._charts["mem"] = ("lines", title, series)
        else:
            rss = [x.values.get("rss") for x in last_items(tl.samples("host", w.id), n)]
            self._charts["mem"] = ("host memory (rss)", fmt_bytes(rss[-1]) if rss else "", rss, None)
        util = device_util(self.session, w.id, n)
        if util is not None:
            target, values = util
            last = values[-1] if values else None
            caption = f"{last:.0f}%" if last is not None else "n/a"
            self._charts["util"] = (f"gpu util % ({target}, whole device)", caption, values, 100.0)
        else:
            cpu = [x.values.get("cpu_percent") for x in last_items(tl.samples("host", w.id), n)]
            caption = f"{cpu[-1]:.0f}%" if cpu and cpu[-1] is not None else ""
            self._charts["util"] = ("cpu % (process tree)", caption, cpu, None)

    def _draw_charts(self, width: int) -> None:
        self._charts_width = width
        for name, chart in self._charts.items():
            if chart[0] == "lines":
                self._parts[name] = lines_chart(chart[1], chart[2], name, width, self.CHART_ROWS)
            else:
                title, caption, values, top = chart
                text = area_chart(title, caption, values, width, self.CHART_ROWS, top)
                self._parts[name] = [((text[0], name + "-head"),), *[((row, name),) for row in text[1:]]]

    # -- drawing ------------------------------------------------------------------------

    def _layout_rows(self) -> list[Line]:
        """The parts stacked in their fixed heights (the stats block is 6 lines, shown or not)."""
        p = self._parts
        stats = (p["stats"] + [(("", "text"),)] * self.STATS_ROWS)[: self.STATS_ROWS]
        return [*p["title"][:1], *p["state"][:1], *p["step"], *p["mem"], *p["util"], *stats, *p["tail"]]

    def _update_rows(self) -> None:
        self.body.set_rows(self._layout_rows())

    def rows_for_width(self, width: int) -> list[Line]:
        """The lines with the charts for ``width`` (the body was resized), drawn again unless
        refresh_charts has just drawn them for that width."""
        if width != self._charts_width:
            self._chart_data(width)
            self._draw_charts(width)
        return self._layout_rows()


def lines_chart(title: str, series: list[tuple[str, list]], name: str, width: int, height: int) -> list[Line]:
    """Up to three series as lines on one scale (styles ``s0``..``s2``), a legend in the title line."""
    series = series[:3]
    head: list[Run] = [(f" {title} ", "text-head")]
    used = len(title) + 2
    for k, (label, _) in enumerate(series):
        piece = f" \u25a0 {label}"
        if used + len(piece) > width:
            break
        head.append((piece, f"s{k}-head"))
        used += len(piece)
    top = top_of([v for _, values in series for v in values])
    rows = braille_lines([values for _, values in series], width, max(0, height - 1), top)
    return [tuple(head), *[tuple((text, f"s{o}" if o >= 0 else "text") for text, o in runs(row)) for row in rows]]


def last_items(items, n: int) -> list:
    """The last ``n`` items of a deque or list, without copying the rest."""
    if len(items) <= n:
        return list(items)
    return list(itertools.islice(reversed(items), n))[::-1]


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


def memory_series(session: Session, wid: str, n: int = CHART_POINTS) -> list[tuple[str, list]]:
    """Memory three ways on one time axis: the framework's allocated and reserved figures
    (from step events) at each device sample, and the device's figure for the workload's
    processes (the last ``n`` samples). Framework figures per step (the last ``n`` steps)
    where no device sample exists; [] when there is nothing but host memory (CPU)."""
    tl = session.timeline
    probe = tl.device_probe(wid)
    samples = last_items(tl.samples(probe, wid), n) if probe else []
    device = [x.values.get("gpu_mem") for x in samples]
    if samples and any(v is not None for v in device):
        steps = list(tl.steps(wid).steps)
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
    steps = last_items(tl.steps(wid).steps, n)
    alloc = [(x.mem or {}).get("allocated") for x in steps]
    if not any(v is not None for v in alloc):
        return []
    resv = [(x.mem or {}).get("reserved") for x in steps]
    out = [(f"alloc {fmt_bytes(_last(alloc))}", alloc), (f"reserved {fmt_bytes(_last(resv))}", resv)]
    if probe:
        out.append(("device n/a", []))
    return out


def device_util(session: Session, wid: str, n: int = CHART_POINTS) -> tuple[str, list] | None:
    """The utilization history of the (first) device the workload runs on, if a GPU probe knows it."""
    tl = session.timeline
    probe = tl.device_probe(wid)
    latest = tl.latest(probe, wid) if probe else None
    devices = (latest.values.get("devices") or []) if latest else []
    if not devices:
        return None
    target = str(devices[0]).split("/")[0]  # a MIG instance: the utilization is its GPU's
    values = [x.values.get("util_gpu") for x in last_items(tl.samples(probe, target), n)]
    return target, values


def _last(values: list):
    return next((v for v in reversed(values) if v is not None), None)
