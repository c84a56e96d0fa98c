"""Profiler captures of a session, and a summary parsed from the trace files themselves.

The child writes the captures (workloads/child/capture.py) and reports their
state in ``trace`` events; :class:`Traces` keeps one :class:`Capture` per
request. :func:`summarize` reads a Chrome trace (plain or gzipped JSON, as
written by torch, JAX and fwtop's XPlane conversion for TensorFlow) and
computes the top operations by total and by self time; :func:`side_by_side`
lines several summaries up for a comparison.

Nothing here imports a framework.
"""

from __future__ import annotations

import bisect
import json
import os
import shutil
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_PROFILE_STEPS = 5
PROFILE_OPTIONS = ("shapes", "memory", "stacks")  # see docs/protocol.md, the profile command
MAX_PROFILE_STEPS = 1000
# Requested / capturing / writing: in progress. done / failed: final.
REQUESTED, CAPTURING, WRITING, DONE, FAILED = "requested", "capturing", "writing", "done", "failed"
SENT = "sent"  # sent to the child, not yet acknowledged
FINAL = (DONE, FAILED)
MAX_TRACE_BYTES = 512 * 1024 * 1024
# Spans marking the captured steps: torch's ProfilerStep#N, fwtop's JAX / TensorFlow step annotation.
STEP_MARKERS = ("ProfilerStep#", "fwtop_step")
STEP_GROUP = "[step outside traced ops]"  # a trace file larger than this is not parsed in the dashboard


class TraceError(Exception):
    """A trace file cannot be read or parsed; the message says which and why."""


@dataclass
class Capture:
    id: str
    wid: str
    label: str
    kind: str  # profile | memory_snapshot
    steps: int
    dir: str
    group: str = ""  # captures requested together (profile every workload at once)
    state: str = SENT
    step: int = 0  # steps captured so far (capturing k of N)
    first_step: int | None = None
    at_step: int | None = None
    files: list = field(default_factory=list)  # [{"path", "role", "bytes"}]
    reason: str = ""
    partial: bool = False
    step_time_s: float | None = None
    timings: dict = field(default_factory=dict)
    requested_at: float = field(default_factory=time.time)
    updated_at: float = field(default_factory=time.time)
    done_at: float | None = None
    announced: bool = False  # the dashboard told the user how it ended

    @property
    def bytes(self) -> int:
        return sum(int(f.get("bytes") or 0) for f in self.files)

    @property
    def trace_path(self) -> str | None:
        """The Chrome trace (what the summary parses); None for a memory snapshot or an unfinished capture."""
        for f in self.files:
            if f.get("role") == "trace":
                return f.get("path")
        return None

    @property
    def final(self) -> bool:
        return self.state in FINAL

    def status_text(self) -> str:
        what = "profile" if self.kind == "profile" else "memory snapshot"
        if self.state == SENT:
            return f"{what}: sent"
        if self.state == REQUESTED:
            at = f" at step {self.at_step}" if self.at_step is not None else ""
            return f"{what}: requested{at}"
        if self.state == CAPTURING:
            return f"{what}: capturing step {self.step} of {self.steps}"
        if self.state == WRITING:
            return f"{what}: writing"
        if self.state == DONE:
            part = f" (partial: {self.step} of {self.steps} steps)" if self.partial else ""
            return f"{what}: done, {_fmt_bytes(self.bytes)}{part}"
        return f"{what}: failed: {self.reason}"

    def request_record(self) -> dict:
        """What events.jsonl records of the request (a replay rebuilds the capture from it)."""
        return {"id": self.id, "kind": self.kind, "steps": self.steps, "dir": self.dir, "group": self.group,
                "at_step": self.at_step}  # fmt: skip

    def to_dict(self) -> dict:
        return {
            "id": self.id,
            "workload": self.wid,
            "label": self.label,
            "kind": self.kind,
            "group": self.group,
            "state": self.state,
            "steps": self.steps,
            "captured": self.step,
            "first_step": self.first_step,
            "partial": self.partial,
            "dir": self.dir,
            "files": list(self.files),
            "bytes": self.bytes,
            "reason": self.reason,
            "step_time_s": self.step_time_s,
            "timings": dict(self.timings),
            "requested_at": self.requested_at,
            "done_at": self.done_at,
        }


def _fmt_bytes(n: float | None) -> str:
    if n is None:
        return "n/a"
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"


class Traces:
    """Every capture of a session, in request order."""

    def __init__(self) -> None:
        self.captures: list[Capture] = []
        self._by_id: dict[str, Capture] = {}
        self._n = 0
        self._tmp_root: str | None = None
        self.version = 0  # bumped on every change (views redraw when it moves)

    def root(self, rundir_path: Path | None) -> Path:
        """RUN_DIR/traces, or (not recording) a temporary folder that outlives fwtop (it is said in the UI)."""
        if rundir_path is not None:
            return Path(rundir_path) / "traces"
        if self._tmp_root is None:
            self._tmp_root = tempfile.mkdtemp(prefix="fwtop-traces-")
        return Path(self._tmp_root)

    @property
    def temporary(self) -> bool:
        return self._tmp_root is not None

    def new(self, wid: str, label: str, kind: str, steps: int, directory: Path, group: str = "", at_step=None):
        self._n += 1
        cap = Capture(
            id=f"c{self._n}-{int(time.time())}",
            wid=wid,
            label=label,
            kind=kind,
            steps=steps,
            dir=str(directory),
            group=group,
            at_step=at_step,
        )
        self.captures.append(cap)
        self._by_id[cap.id] = cap
        self.version += 1
        return cap

    def restore(self, wid: str, label: str, rec: dict) -> Capture | None:
        """A capture from its recorded request (replay); its ``trace`` events follow."""
        cid = str(rec.get("id", ""))
        if not cid or cid in self._by_id:
            return None
        steps = rec.get("steps")
        cap = Capture(
            id=cid,
            wid=wid,
            label=label,
            kind=str(rec.get("kind", "profile")),
            steps=steps if isinstance(steps, int) else 0,
            dir=str(rec.get("dir", "")),
            group=str(rec.get("group") or ""),
            at_step=rec.get("at_step") if isinstance(rec.get("at_step"), int) else None,
        )
        self.captures.append(cap)
        self._by_id[cid] = cap
        self.version += 1
        return cap

    def get(self, cid: str) -> Capture | None:
        return self._by_id.get(cid)

    def fail(self, cap: Capture, reason: str) -> None:
        cap.state = FAILED
        cap.reason = reason
        cap.updated_at = time.time()
        self.version += 1

    def update(self, wid: str, data: dict) -> Capture | None:
        """Apply a ``trace`` event; returns the capture it concerns (None if unknown)."""
        cap = self._by_id.get(str(data.get("id", "")))
        if cap is None or cap.wid != wid:
            return None
        state = data.get("state")
        if state not in (REQUESTED, CAPTURING, WRITING, DONE, FAILED) or cap.final:
            return cap
        cap.state = state
        cap.updated_at = time.time()
        if isinstance(data.get("step"), int):
            cap.step = data["step"]
        if isinstance(data.get("first_step"), int):
            cap.first_step = data["first_step"]
        if state == DONE:
            files = data.get("files")
            cap.files = [f for f in files if isinstance(f, dict) and isinstance(f.get("path"), str)] if files else []
            cap.partial = bool(data.get("partial"))
            st = data.get("step_time_s")
            cap.step_time_s = float(st) if isinstance(st, (int, float)) else None
            cap.timings = data.get("timings") if isinstance(data.get("timings"), dict) else {}
            cap.done_at = cap.updated_at
        elif state == FAILED:
            cap.reason = str(data.get("reason") or "unknown reason")
        self.version += 1
        return cap

    def workload_ended(self, wid: str, reason: str) -> None:
        """Captures the child never finished (it died, or it does not handle the command) fail with a reason."""
        for cap in self.captures:
            if cap.wid == wid and not cap.final:
                self.fail(cap, reason)
                # A child killed mid-capture leaves its staging folder: nothing in it is a good trace.
                shutil.rmtree(Path(cap.dir) / f".capturing-{cap.id}", ignore_errors=True)

    def for_workload(self, wid: str) -> list[Capture]:
        return [c for c in self.captures if c.wid == wid]

    def latest(self, wid: str) -> Capture | None:
        mine = self.for_workload(wid)
        return mine[-1] if mine else None

    def last_group(self) -> list[Capture]:
        """The captures to compare: the last group profiled at once, else the last done profile of each workload."""
        groups = [c.group for c in self.captures if c.group and c.kind == "profile"]
        if groups:
            return [c for c in self.captures if c.group == groups[-1]]
        last: dict[str, Capture] = {}
        for c in self.captures:
            if c.kind == "profile" and c.state == DONE:
                last[c.wid] = c
        return list(last.values())

    def to_list(self) -> list[dict]:
        return [c.to_dict() for c in self.captures]


# -- parsing Chrome traces -----------------------------------------------------------------


@dataclass(frozen=True)
class Span:
    pid: object
    tid: object
    name: str
    cat: str
    ts: float  # microseconds
    dur: float  # microseconds


def load_events(path: str | os.PathLike) -> list[dict]:
    """The traceEvents of a Chrome trace file (a JSON object or a bare array, plain or gzipped)."""
    p = Path(path)
    try:
        size = p.stat().st_size
    except OSError as exc:
        raise TraceError(f"cannot read {p}: {exc.strerror or exc}") from None
    if size > MAX_TRACE_BYTES:
        raise TraceError(f"{p} is {_fmt_bytes(size)}: too large to summarize here (open it in Perfetto)")
    import gzip  # only a trace being summarized needs it, not the session

    try:
        with open(p, "rb") as f:
            head = f.read(2)
        opener = gzip.open if head == b"\x1f\x8b" else open
        with opener(p, "rt", encoding="utf-8") as f:
            obj = json.load(f)
    except (OSError, EOFError, UnicodeDecodeError) as exc:
        raise TraceError(f"cannot read {p}: {exc}") from None
    except ValueError as exc:
        raise TraceError(f"{p} is not valid JSON: {exc}") from None
    events = obj.get("traceEvents") if isinstance(obj, dict) else obj
    if not isinstance(events, list):
        raise TraceError(f"{p} has no traceEvents list: not a Chrome trace")
    return events


def _num(x) -> float | None:
    if isinstance(x, bool):
        return None
    if isinstance(x, (int, float)):
        return float(x)
    if isinstance(x, str):
        try:
            return float(x)
        except ValueError:
            return None
    return None


def normalize(events: list) -> list[Span]:
    """Complete (``X``) events and paired ``B``/``E`` events as spans; everything else is skipped."""
    spans: list[Span] = []
    open_: dict[tuple, list] = defaultdict(list)
    for ev in events:
        if not isinstance(ev, dict):
            continue
        ph = ev.get("ph")
        ts = _num(ev.get("ts"))
        if ts is None:
            continue
        pid, tid = ev.get("pid"), ev.get("tid")
        if ph == "X":
            dur = _num(ev.get("dur"))
            if dur is None or dur < 0:
                continue
            spans.append(Span(pid, tid, str(ev.get("name", "")), str(ev.get("cat", "")), ts, dur))
        elif ph == "B":
            open_[(pid, tid)].append(ev)
        elif ph == "E":
            stack = open_.get((pid, tid))
            if stack:
                b = stack.pop()
                dur = ts - _num(b.get("ts"))
                if dur >= 0:
                    name = b.get("name", ev.get("name", ""))
                    spans.append(Span(pid, tid, str(name), str(b.get("cat", ev.get("cat", ""))), _num(b["ts"]), dur))
    return spans


def self_times(spans: list[Span]) -> list[float]:
    """Self time of each span (its duration minus its direct children's, per thread, by an interval stack)."""
    selfs = [s.dur for s in spans]
    by_thread: dict[tuple, list[int]] = defaultdict(list)
    for i, s in enumerate(spans):
        by_thread[(s.pid, s.tid)].append(i)
    for idx in by_thread.values():
        idx.sort(key=lambda i: (spans[i].ts, -spans[i].dur))
        stack: list[int] = []
        for i in idx:
            s = spans[i]
            while stack and spans[stack[-1]].ts + spans[stack[-1]].dur <= s.ts:
                stack.pop()
            if stack:
                parent = spans[stack[-1]]
                overlap = min(s.ts + s.dur, parent.ts + parent.dur) - s.ts
                selfs[stack[-1]] -= max(0.0, overlap)
            stack.append(i)
    return [max(0.0, x) for x in selfs]


def within_steps(spans: list[Span]) -> tuple[list[Span], list[tuple[float, float]]]:
    """The spans that start inside a step marker (profiler start/stop and export are left out).

    Without markers (a trace fwtop did not take) every span is kept.
    """
    windows = sorted((s.ts, s.ts + s.dur) for s in spans if s.name.startswith(STEP_MARKERS))
    if not windows:
        return spans, []
    starts = [a for a, _ in windows]
    kept = []
    for s in spans:
        i = bisect.bisect_right(starts, s.ts) - 1
        if i >= 0 and s.ts < windows[i][1]:
            kept.append(s)
    return kept, windows


def summarize(path: str | os.PathLike, step_time_s: float | None = None, steps: int | None = None, top: int = 20):
    """Top operations of a trace by total and self time, grouped by (cat, name).

    ``share`` is an operation's self time over the captured steps' wall time: the
    step markers' total when the trace has them, else ``step_time_s`` (from the
    child), else the trace's span. Operations on parallel threads can add up to
    more than 100%.
    """
    spans = normalize(load_events(path))
    if not spans:
        raise TraceError(f"{path} has no timed events")
    spans, windows = within_steps(spans)
    selfs = self_times(spans)
    groups: dict[tuple, list] = {}
    for s, self_us in zip(spans, selfs, strict=True):
        # One group for the step markers (torch's are numbered: fwtop_step#7); their self time is
        # the steps' time outside any traced operation on that thread (Python, the framework's overhead).
        key = (s.cat, STEP_GROUP if s.name.startswith(STEP_MARKERS) else s.name)
        g = groups.get(key)
        if g is None:
            g = groups[key] = [0, 0.0, 0.0]
        g[0] += 1
        g[1] += s.dur
        g[2] += self_us
    span_us = max(s.ts + s.dur for s in spans) - min(s.ts for s in spans)
    if windows:  # the steps as the trace saw them (the same clock as the operations)
        wall_us = sum(b - a for a, b in windows)
    else:
        wall_us = step_time_s * 1e6 if step_time_s else span_us
    ops = [
        {
            "cat": cat,
            "name": name,
            "count": g[0],
            "total_us": g[1],
            "self_us": g[2],
            "share": g[2] / wall_us if wall_us > 0 else None,
        }
        for (cat, name), g in groups.items()
    ]
    by_self = sorted(ops, key=lambda o: -o["self_us"])[:top]
    by_total = sorted(ops, key=lambda o: -o["total_us"])[:top]
    return {
        "path": str(path),
        "events": len(spans),
        "threads": len({(s.pid, s.tid) for s in spans}),
        "span_us": span_us,
        "wall_us": wall_us,
        "steps": steps,
        "step_markers": len(windows),
        "by_self": by_self,
        "by_total": by_total,
    }


def summarize_capture(cap: Capture, top: int = 20) -> dict:
    path = cap.trace_path
    if path is None:
        raise TraceError(f"capture {cap.id} of {cap.label} has no Chrome trace ({cap.state})")
    return summarize(path, cap.step_time_s, cap.step or cap.steps, top)


def side_by_side(summaries: list[tuple[str, dict]], top: int = 10) -> list[list[str]]:
    """Rows for a comparison: rank, then per workload 'name' and 'self % of step'."""
    header = ["#"]
    for label, _ in summaries:
        header += [f"{label}: op (by self time)", "self/step"]
    rows = [header]
    for rank in range(min(top, max((len(summ["by_self"]) for _, summ in summaries), default=0))):
        row = [str(rank + 1)]
        for _, summ in summaries:
            ops = summ["by_self"]
            if rank < len(ops):
                op = ops[rank]
                share = f"{op['share'] * 100:.1f}%" if op["share"] is not None else "n/a"
                row += [op["name"], share]
            else:
                row += ["", ""]
        rows.append(row)
    return rows
