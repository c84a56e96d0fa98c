"""Headless mode: progress lines while a Session runs, a comparison table at the end."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import sys
import time
from typing import TextIO

from fwtop.session.session import FAILED, Session, Workload

from .format import fmt_bytes, fmt_duration, fmt_rate

PROGRESS_EVERY_S = 1.0
LOG_TAIL = 8


class Progress:
    """A Session listener printing one line per notable event, steps at most once a second."""

    def __init__(self, session: Session, out: TextIO, log_tail: bool = True) -> None:
        self.session = session
        self.out = out
        self.log_tail = log_tail  # a failed workload's last log lines (unless its output was printed as it came)
        self._last: dict[str, float] = {}
        self._said: set[str] = set()
        self._trace_seen: dict[str, tuple] = {}

    def _print(self, w: Workload | None, text: str) -> None:
        prefix = f"[{w.label}] " if w is not None else ""
        print(prefix + text, file=self.out, flush=True)

    def __call__(self, kind: str, wid: str | None) -> None:
        s = self.session
        if kind == "session" and s.rundir is not None:
            self._print(None, f"fwtop: recording to {s.rundir.path}")
            return
        if kind == "warning":
            self._print(None, f"fwtop: warning: {s.warnings[-1]}")
            return
        if kind == "probe":  # a probe is n/a, or a field is: say why, once
            for note in s.probe_notes():
                if note not in self._said:
                    self._said.add(note)
                    self._print(None, f"fwtop: {note}")
            return
        if wid is None:
            return
        w = s.get(wid)
        if kind == "start":
            self._print(w, f"started pid {w.runner.pid if w.runner else '?'} ({w.spec.python})")
        elif kind == "hello" and (w.spec.script or w.spec.attach_pid):
            self._print(w, script_hello_text(w.hello or {}))
        elif kind == "hello":
            h = w.hello or {}
            params = h.get("params")
            self._print(
                w,
                f"{h.get('framework')} {h.get('framework_version')} on {h.get('device')} "
                f"({h.get('device_name')}), {h.get('dtype')}, {h.get('compile')}, "
                f"{params:,} params"
                if isinstance(params, int)
                else "hello",
            )
            if h.get("preallocates"):
                self._print(w, f"note: {h['preallocates']}")
        elif kind == "compile":
            c = w.compile or {}
            self._print(
                w,
                f"first step (compile) {fmt_duration(c.get('first_step_s'))}, "
                f"{fmt_duration(c.get('since_start_s'))} after launch",
            )
        elif kind == "step":
            now = time.monotonic()
            if now - self._last.get(wid, 0.0) >= PROGRESS_EVERY_S:
                self._last[wid] = now
                st = s.timeline.steps(wid).last
                if st is None:
                    return
                total = f"/{w.spec.steps}" if w.spec.steps else ""
                loss = f"  loss {st.loss:.4f}" if st.loss is not None else ""
                self._print(w, f"step {st.index + 1}{total}  {fmt_duration(st.duration)}{loss}")
        elif kind == "stalled":
            self._print(w, f"STALLED: {w.reason} (still waiting; fwtop does not kill it)")
        elif kind == "trace":
            cap = s.traces.latest(wid)
            if cap is not None and (cap.state, cap.step) != self._trace_seen.get(cap.id):
                self._trace_seen[cap.id] = (cap.state, cap.step)
                if cap.state in ("requested", "done", "failed") or (cap.state == "capturing" and cap.step == 1):
                    self._print(
                        w, cap.status_text() + (f"  {cap.trace_path or cap.files[0]['path']}" if cap.files else "")
                    )
        elif kind == "notice":
            self._print(w, f"notice: {w.notices[-1]}")
        elif kind == "invalid" and w.invalid in (1, 10, 100, 1000):
            self._print(w, f"{w.invalid} malformed line(s) from the child (last: {w.last_invalid})")
        elif kind == "exit":
            steps = s.timeline.steps(wid).count
            if w.state == FAILED:
                self._print(w, f"FAILED after {steps} steps: {w.reason}")
                tail = [line for line in list(w.log)[-LOG_TAIL:] if line.strip()] if self.log_tail else []
                for line in tail:
                    self._print(w, f"  | {line}")
            elif w.spec.attach_pid:  # a process fwtop only watched: it has no steps
                self._print(w, "detached" if w.state == "stopped" else f"pid {w.spec.attach_pid} has exited")
            else:
                self._print(w, f"{w.state} after {steps} steps" + (f" ({w.reason})" if w.reason else ""))


def script_hello_text(h: dict) -> str:
    """A user script's or an attached process's hello: what it runs, once its frameworks are known."""
    fws = ", ".join(f"{k} {v}".strip() for k, v in (h.get("frameworks") or {}).items()) or "no framework yet"
    if h.get("attached"):
        return f"attached to pid {h.get('pid')}: {' '.join(h.get('command') or [])} ({fws})"
    steps = f", steps from {h['steps_from']}" if h.get("steps_from") else ""
    return f"pid {h.get('pid')}: {fws}" + (f" on {h['device']}" if h.get("device") else "") + steps


def comparison_table(summary: dict) -> str:
    rows = [
        (
            "workload",
            "framework",
            "device",
            "dtype",
            "steps",
            "median",
            "p95",
            "samples/s",
            "tokens/s",
            "TFLOP/s",
            "peak mem",
            "dev mem",
            "J/step",
            "avg W",
            "first step",
            "vs first",
        )
    ]
    for s in summary["workloads"]:
        st = s["step_time_s"]
        fw = f"{s['framework']} {s['framework_version'] or ''}".strip()
        mem = s["peak_memory"]
        peak = mem["framework_allocated"] if mem["framework_allocated"] is not None else None
        peak_txt = (
            fmt_bytes(peak) if peak is not None else (f"{fmt_bytes(mem['host_rss'])} rss" if mem["host_rss"] else "n/a")
        )
        ratio = s.get("ratio_to_first")
        energy = s.get("energy") or {}
        rows.append(
            (
                s["label"] + (" (FAILED)" if s["state"] == FAILED else ""),
                fw,
                str(s["device"]),
                s["dtype"],
                f"{s['steady_steps']}/{s['steps']}",
                fmt_duration(st["median"]),
                fmt_duration(st["p95"]),
                fmt_rate(s["samples_per_s"]),
                fmt_rate(s["tokens_per_s"]),
                f"{s['tflops']:.3f}" if s["tflops"] is not None else "n/a",
                peak_txt,
                fmt_bytes(mem.get("device_used")),
                f"{energy['per_step_j']:.3g}" if energy.get("per_step_j") is not None else "n/a",
                f"{energy['avg_power_w']:.0f}" if energy.get("avg_power_w") is not None else "n/a",
                fmt_duration(s["first_step_s"]),
                f"{ratio:.2f}x" if ratio is not None else "n/a",
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(widths[i]) if i < 4 else c.rjust(widths[i]) for i, c in enumerate(r)) for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    notes = []
    if summary.get("baseline"):
        notes.append(
            f"steps: steady/total (warm-up and compile steps are excluded from the statistics); "
            f"vs first: median step time / {summary['baseline']}'s (lower is faster)"
        )
    for s in summary["workloads"]:
        if s["state"] == FAILED:
            notes.append(f"{s['label']} failed: {s['reason']}")
    if any(s.get("energy") for s in summary["workloads"]):
        notes.append(
            "J/step, avg W: from the device's energy counter over the measured steady steps "
            "(device-wide: workloads sharing a device share its energy)"
        )
    notes += [f"warning: {w}" for w in summary.get("warnings", [])]
    notes += list(summary.get("probes", []))
    if summary.get("recording_error"):
        notes.append(summary["recording_error"])
    notes += capture_lines(summary)
    if summary.get("run_dir"):
        notes.append(f"run directory: {summary['run_dir']}")
    return "\n".join(lines + [""] + notes)


def capture_lines(summary: dict) -> list[str]:
    """One line per profiler capture: workload, state, and each file's path and size."""
    lines = []
    for c in summary.get("captures", []):
        what = "profile" if c["kind"] == "profile" else "memory snapshot"
        steps = (
            f"steps {c['first_step']}-{c['first_step'] + c['captured'] - 1}" if c.get("first_step") is not None else ""
        )
        if c["state"] == "done":
            lines.append(f"{what} of {c['label']} ({steps}{', partial' if c['partial'] else ''}):")
            lines += [f"  {f['path']} ({fmt_bytes(f['bytes'])})" for f in c["files"]]
        else:
            lines.append(f"{what} of {c['label']}: {c['state']}" + (f": {c['reason']}" if c.get("reason") else ""))
    if summary.get("traces_dir"):
        lines.append(f"traces (not recording): {summary['traces_dir']}")
    return lines


def capture_summaries(summary: dict, top: int = 8) -> str:
    """Where each captured workload's steps went: top operations by self time, side by side."""
    from fwtop.session.traces import TraceError, side_by_side, summarize

    done, errors = [], []
    for c in summary.get("captures", []):
        trace = next((f["path"] for f in c["files"] if f.get("role") == "trace"), None)
        if c["state"] != "done" or trace is None:
            continue
        try:
            done.append((c["label"], summarize(trace, c.get("step_time_s"), c.get("captured"), top)))
        except TraceError as exc:
            errors.append(f"{c['label']}: cannot summarize the trace: {exc}")
    if not done:
        return "\n".join(errors)
    rows = side_by_side(done, top)
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["top operations by self time in the profiled steps (self time / the steps' wall time):"]
    lines += ["  ".join(c.ljust(widths[i]) for i, c in enumerate(r)).rstrip() for r in rows]
    return "\n".join(lines + errors)


async def run_headless(session: Session, as_json: bool = False) -> int:
    """Run a session to the end, printing progress; returns the exit status."""
    out = sys.stderr if as_json else sys.stdout
    # A listener that prints the workloads' output as it comes (tui/scripts.py, headless
    # `fwtop run`) has shown a failed workload's last lines already.
    echoed = any(getattr(listener, "echoes_output", False) for listener in session.listeners)
    session.listeners.append(Progress(session, out, log_tail=not echoed))
    loop = asyncio.get_running_loop()
    stopping: list[asyncio.Task] = []

    def on_signal(signum: int) -> None:
        if stopping:  # a second signal: no more politeness
            session.kill_all()
            return
        print(f"fwtop: {signal.Signals(signum).name}, stopping workloads", file=out, flush=True)
        stopping.append(asyncio.ensure_future(session.stop()))

    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, on_signal, sig)
    try:
        await session.start()
        await session.wait()
        if stopping:
            await stopping[0]
            summary = session.summary()
        else:
            summary = await session.close()
    except BaseException:
        session.kill_all()
        raise
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.remove_signal_handler(sig)
    if as_json:
        print(json.dumps(summary, indent=2, default=str))
    else:
        print(file=out)
        print(comparison_table(summary), file=out, flush=True)
        ops = capture_summaries(summary)
        if ops:
            print(file=out)
            print(ops, file=out, flush=True)
    if stopping:
        return 130
    return 1 if session.failed else 0
