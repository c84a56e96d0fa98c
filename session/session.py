"""Session: starts workloads, attaches probes, merges their streams into one Timeline,
records the run directory and computes the summary."""

from __future__ import annotations

import asyncio
import os
import platform
import signal
import socket
import sys
import time
from collections.abc import Callable

from fwtop import __version__
from fwtop.probes import default_probes
from fwtop.probes.base import Probe, Sample
from fwtop.workloads.events import Event, Invalid, StepEvent
from fwtop.workloads.spec import WorkloadSpec

from .probing import probe_notes, run_probe
from .rundir import RunDir
from .summary import session_summary, workload_summary
from .timeline import Timeline
from .traces import DEFAULT_PROFILE_STEPS, Capture, Traces
from .workload import (  # noqa: F401 - re-exported: callers import the states from here
    COMPILING,
    DEFAULT_STALL_AFTER,
    ENDED,
    FAILED,
    FINISHED,
    PAUSED,
    PENDING,
    RUNNING,
    STALLED,
    STARTING,
    STOPPED,
    Workload,
    describe_exit,
)


class Session:
    def __init__(
        self,
        specs: list[WorkloadSpec],
        *,
        name: str = "compare",
        runs_dir: str = "runs",
        record: bool = True,
        sequential: bool = False,
        probes: list[Probe] | None = None,
        config: dict | None = None,
        stall_after: float | None = DEFAULT_STALL_AFTER,
    ) -> None:
        self.name = name
        self.runs_dir = runs_dir
        self.record = record
        self.sequential = sequential
        self.config = config or {}
        self.stall_after = stall_after
        self.warnings: list[str] = []  # session-wide notices for the user (shown once)
        self.timeline = Timeline()
        self.workloads: list[Workload] = []
        self.probes = probes if probes is not None else default_probes()
        self.probe_status: dict[str, dict] = {}  # probe name -> available, status, notes
        self.rundir: RunDir | None = None
        self.listeners: list[Callable[[str, str | None], None]] = []
        self.started_at: float | None = None
        self.ended_at: float | None = None
        self._probe_tasks: list[asyncio.Task] = []
        self._wait_tasks: dict[str, asyncio.Task] = {}
        self._next_id = 0
        self.traces = Traces()  # profiler captures (session/traces.py)
        self.profile_at: tuple[int, int] | None = None  # (step, steps): profile every workload there
        self.profile_options: dict = {}  # default profiler options (shapes, memory, stacks)
        for spec in specs:
            self._add(spec)

    # -- bookkeeping -----------------------------------------------------------------

    def _add(self, spec: WorkloadSpec) -> Workload:
        wid = f"w{self._next_id}"
        self._next_id += 1
        labels = {w.label for w in self.workloads}
        if spec.label in labels:
            n = 2
            while f"{spec.label}-{n}" in labels:
                n += 1
            spec = spec.with_name(f"{spec.label}-{n}")
        w = Workload(wid, spec)
        self.workloads.append(w)
        return w

    def get(self, wid: str) -> Workload:
        for w in self.workloads:
            if w.id == wid:
                return w
        raise KeyError(wid)

    def _notify(self, kind: str, wid: str | None = None) -> None:
        for listener in self.listeners:
            listener(kind, wid)

    def _record(self, wid: str, kind: str, t: float, data: dict) -> None:
        if self.rundir is not None:
            self.rundir.event(wid, kind, t, data)

    # -- child events ----------------------------------------------------------------

    def _on_event(self, w: Workload, ev: Event | StepEvent | Invalid) -> None:
        if isinstance(ev, Invalid):
            w.invalid += 1
            w.last_invalid = f"{ev.reason}: {ev.line}" if ev.line else ev.reason
            self._record(w.id, "invalid", time.time(), {"reason": ev.reason, "line": ev.line})
            self._notify("invalid", w.id)
            return
        if isinstance(ev, StepEvent):
            self.timeline.add_step(w.id, ev)  # profiled steps are kept out of the statistics
            w.last_progress = time.monotonic()
            if w.state == STALLED:
                w.reason = ""
            if w.state in (STARTING, COMPILING, STALLED):
                w.state = RUNNING
            if self.rundir is not None:  # (not recording, e.g. a replay: no record to build)
                self._record(
                    w.id,
                    "step",
                    ev.t,
                    {
                        "index": ev.index,
                        "duration": ev.duration,
                        "samples": ev.samples,
                        "tokens": ev.tokens,
                        "loss": ev.loss,
                        "mem": ev.mem,
                        "warmup": ev.warmup,
                        **({"profiled": True} if ev.profiled else {}),
                    },
                )
            self._notify("step", w.id)
            return
        self._record(w.id, ev.kind, ev.t, ev.data)
        if ev.kind == "hello":
            w.hello = dict(ev.data)
            w.state = RUNNING if ev.get("attached") else COMPILING  # an attached process has no steps
            self._watch_roots()  # the resolved device (cuda:N) maps the workload to a GPU
            self._check_shared_cpu()
            if self.profile_at is not None:
                self.profile(w.id, steps=self.profile_at[1], at_step=self.profile_at[0])
        elif ev.kind == "compile":
            w.compile = dict(ev.data)
        elif ev.kind == "state":
            state = ev.get("state")
            if state in (PAUSED, RUNNING) and not w.ended:
                w.state = state
                w.last_progress = time.monotonic()  # time paused is not a stall
        elif ev.kind == "notice":
            w.notices.append(str(ev.get("message", "")))
            self._on_output(w, f"[fwtop] {ev.get('message', '')}")
        elif ev.kind == "error":
            w.error = dict(ev.data)
            w.reason = f"{ev.get('type', 'Error')}: {ev.get('message', '')}"
        elif ev.kind == "bye":
            w.bye = dict(ev.data)
        elif ev.kind == "trace":
            self.traces.update(w.id, ev.data)
        elif ev.kind == "capture":  # a recorded request, met only in a replay
            self.traces.restore(w.id, w.label, ev.data)
        self._notify(ev.kind, w.id)

    def _check_shared_cpu(self) -> None:
        """Workloads training on the CPU in parallel compete for its cores: say so, once (the
        recorded warning's count follows later workloads that join)."""
        if self.sequential:
            return
        # Ended ones count too: a short workload may finish before a slower one's hello,
        # yet their start-ups and steps overlapped.
        on_cpu = [w for w in self.workloads if (w.hello or {}).get("device_kind") == "cpu"]
        if len(on_cpu) < 2:
            return
        cores = os.cpu_count() or 1
        text = (
            f"{len(on_cpu)} workloads share the CPU ({cores} cores) in parallel: their step times include "
            "the contention; use --sequential (or sequential = true) for timings of each alone"
        )
        earlier = [i for i, x in enumerate(self.warnings) if "share the CPU" in x]
        if earlier:
            self.warnings[earlier[0]] = text
            return
        self.warnings.append(text)
        self._notify("warning")

    def _on_output(self, w: Workload, line: str) -> None:
        w.log.append(line)
        w.log_count += 1
        if self.rundir is not None:
            self.rundir.log(w.id, line)
        self._notify("log", w.id)

    # -- lifecycle ---------------------------------------------------------------------

    def resolved_config(self) -> dict:
        return {
            "fwtop": __version__,
            "name": self.name,
            "host": socket.gethostname(),
            "platform": platform.platform(),
            "argv": sys.argv,
            "sequential": self.sequential,
            "started": self.started_at,
            "workloads": [{"id": w.id, "label": w.label, **w.spec.to_dict()} for w in self.workloads],
            **({"config": self.config} if self.config else {}),
        }

    async def start(self) -> None:
        """Create the run directory, start the probes and (unless sequential) every workload."""
        self.started_at = time.time()
        if self.record:
            self.rundir = RunDir.create(self.runs_dir, self.name)
            self.rundir.write_json("config.json", self.resolved_config())
        for probe in self.probes:
            self._probe_tasks.append(asyncio.create_task(self._probe_loop(probe)))
        if self.stall_after:
            self._probe_tasks.append(asyncio.create_task(self._stall_watch()))
        if not self.sequential:
            for w in self.workloads:
                await self.start_workload(w)
        self._notify("session")

    async def start_workload(self, w: Workload) -> None:
        w.state = STARTING
        w.started_at = time.time()
        w.last_progress = time.monotonic()
        # Imported here, not with the session: it pulls psutil (for attached processes),
        # which the dashboard does not need to draw its first frame.
        from fwtop.workloads.attached import make_runner

        w.runner = make_runner(
            w.spec, lambda ev, w=w: self._on_event(w, ev), lambda line, w=w: self._on_output(w, line)
        )
        try:
            await w.runner.start()
        except OSError as exc:
            w.state = FAILED
            w.reason = f"cannot start {w.spec.python}: {exc.strerror or exc}"
            w.ended_at = time.time()
            self._record(w.id, "exit", w.ended_at, {"state": w.state, "reason": w.reason, "exit_code": None})
            self._notify("exit", w.id)
            return
        self._watch_roots()
        self._wait_tasks[w.id] = asyncio.create_task(self._wait_workload(w))
        self._notify("start", w.id)

    async def _wait_workload(self, w: Workload) -> None:
        assert w.runner is not None
        rc = await w.runner.wait()
        w.exit_code = rc
        w.ended_at = time.time()
        if w.error is not None:
            w.state = FAILED
        elif w.bye is not None and rc == 0:
            w.state = STOPPED if w.bye.get("reason") == "stopped" else FINISHED
        elif w.stop_requested:
            w.state = STOPPED
            w.reason = w.reason or describe_exit(rc)
        else:
            w.state = FAILED
            w.reason = describe_exit(rc) + ("" if w.bye else " before finishing")
            if rc == -signal.SIGKILL:
                w.reason += " (not by fwtop: the kernel's out-of-memory killer does this, see dmesg)"
        if w.state == FAILED and not w.reason:
            w.reason = describe_exit(rc)
        self._record(w.id, "exit", w.ended_at, {"state": w.state, "reason": w.reason, "exit_code": rc})
        self.traces.workload_ended(w.id, f"{w.label} ended ({w.state}) before the capture was written")
        self._watch_roots()
        self._notify("exit", w.id)

    def _watch_roots(self) -> None:
        roots = {w.id: w.runner.pid for w in self.workloads if w.runner and w.runner.running and w.runner.pid}
        devices = {w.id: str((w.hello or {}).get("device") or w.spec.device) for w in self.workloads}
        for probe in self.probes:
            probe.watch(roots, devices)

    async def _stall_watch(self) -> None:
        """Mark a workload stalled when it has made no step for ``stall_after`` seconds."""
        assert self.stall_after
        while True:
            await asyncio.sleep(min(1.0, self.stall_after / 4))
            now = time.monotonic()
            for w in self.workloads:
                if w.spec.attach_pid:
                    continue  # fwtop sees no steps of a process it only watches
                if w.state in (STARTING, COMPILING, RUNNING) and now - w.last_progress > self.stall_after:
                    w.state = STALLED
                    w.reason = f"no step for {self.stall_after:.0f} s"
                    self._record(w.id, "stalled", time.time(), {"after_s": self.stall_after})
                    self._notify("stalled", w.id)

    # -- probes (session/probing.py) ----------------------------------------------------

    async def _probe_loop(self, probe: Probe) -> None:
        await run_probe(probe, self._on_samples, self._on_probe_status)

    def _on_samples(self, samples: list[Sample]) -> None:
        for s in samples:
            self.timeline.add_sample(s)
            if self.rundir is not None:
                self.rundir.sample(s.probe, s.target, s.t, s.values)
        self._notify("sample")

    def _on_probe_status(self, probe: Probe) -> None:
        """A probe started, failed or noted an n/a field: recorded (replayed) and shown once."""
        st = {"available": probe.available, "status": probe.status, "notes": list(probe.notes)}
        self.probe_status[probe.name] = st
        if self.rundir is not None:
            self.rundir.sample(probe.name, "status", time.time(), st)
        self._notify("probe")

    def probe_notes(self) -> list[str]:
        """Unavailable probes and n/a fields, with the reasons (device strip, summary)."""
        return probe_notes(self.probe_status)

    async def wait(self) -> None:
        """Run to the end: every workload (one after another when sequential) has ended."""
        if self.sequential:
            for w in self.workloads:
                if w.state == PENDING:
                    await self.start_workload(w)
                task = self._wait_tasks.get(w.id)
                if task is not None:
                    await task
        while True:
            pending = [t for t in self._wait_tasks.values() if not t.done()]
            if not pending:
                break
            await asyncio.gather(*pending)

    async def stop_workload(self, wid: str) -> None:
        w = self.get(wid)
        if w.runner is None or w.ended:
            if w.state == PENDING:
                w.state = STOPPED
                w.reason = "stopped before it started"
            return
        w.stop_requested = True
        await w.runner.stop()
        task = self._wait_tasks.get(w.id)
        if task is not None:
            await task

    async def stop(self) -> None:
        """Stop every workload (polite, then SIGTERM, then SIGKILL) and end the session."""
        for w in self.workloads:
            if w.state == PENDING:
                w.state = STOPPED
                w.reason = "stopped before it started"
        await asyncio.gather(*(self.stop_workload(w.id) for w in self.workloads))
        await self.close()

    async def add_workload(self, spec: WorkloadSpec) -> Workload:
        """Add a workload to a running session; it starts at once and joins the comparison."""
        w = self._add(spec)
        if self.rundir is not None:
            self.rundir.write_json("config.json", self.resolved_config())
        self._record(w.id, "added", time.time(), {"label": w.label})
        self._notify("added", w.id)
        await self.start_workload(w)
        return w

    async def remove_workload(self, wid: str) -> None:
        """Stop a workload and drop it from the comparison (its recorded data stays on disk)."""
        w = self.get(wid)
        await self.stop_workload(wid)
        self.workloads.remove(w)
        self._wait_tasks.pop(wid, None)
        if self.rundir is not None:
            self.rundir.write_json("config.json", self.resolved_config())
        self._record(wid, "removed", time.time(), {"label": w.label})
        self._notify("removed", wid)

    async def restart_workload(self, wid: str) -> None:
        """Stop a workload (if running) and start it afresh, with a clean series and log."""
        w = self.get(wid)
        await self.stop_workload(wid)
        fresh = Workload(w.id, w.spec)
        self.workloads[self.workloads.index(w)] = fresh
        self.timeline.reset(w.id)
        self._record(w.id, "restart", time.time(), {})
        await self.start_workload(fresh)

    def kill_all(self) -> None:
        """Synchronous last resort (signal handlers, atexit): SIGKILL every process group."""
        for w in self.workloads:
            if w.runner is not None:
                w.runner.kill_now()

    def finish_now(self, reason: str) -> dict:
        """Synchronous end for a signal (SIGTERM, SIGHUP): SIGKILL every process group at once,
        record what was still running as stopped with ``reason``, and write summary.json, so a
        terminated dashboard loses nothing it had."""
        self.kill_all()
        now = time.time()
        for task in self._probe_tasks:
            task.cancel()
        for w in self.workloads:
            if w.state not in ENDED:
                w.state, w.reason, w.ended_at = STOPPED, reason, now
                self._record(w.id, "exit", now, {"state": w.state, "reason": w.reason, "exit_code": None})
        self.ended_at = now
        summary = self.summary()
        if self.rundir is not None:
            self.rundir.write_json("summary.json", summary)
            self.rundir.close()
        return summary

    def pause(self, wid: str) -> bool:
        w = self.get(wid)
        return bool(w.runner and w.runner.send("pause"))

    def resume(self, wid: str) -> bool:
        w = self.get(wid)
        return bool(w.runner and w.runner.send("resume"))

    # -- profiler captures (session/traces.py, child side workloads/child/capture.py) ----

    def profile(
        self,
        wid: str,
        steps: int = DEFAULT_PROFILE_STEPS,
        options: dict | None = None,
        *,
        kind: str = "profile",
        at_step: int | None = None,
        group: str = "",
    ) -> Capture:
        """Ask a workload for a capture of ``steps`` steps; its state follows in ``trace`` events."""
        w = self.get(wid)
        root = self.traces.root(self.rundir.path if self.rundir is not None else None)
        cap = self.traces.new(wid, w.label, kind, steps, root / wid, group=group, at_step=at_step)
        payload = {"id": cap.id, "dir": cap.dir, "steps": steps, "options": options or self.profile_options}
        if at_step is not None:
            payload["at_step"] = at_step
        if w.ended or w.runner is None or not w.runner.send(kind, **payload):
            self.traces.fail(
                cap, f"{w.label} is not running" if w.ended or w.runner is None else "command not delivered"
            )
        self._record(wid, "capture", time.time(), cap.request_record())
        self._notify("trace", wid)
        return cap

    def profile_all(self, steps: int = DEFAULT_PROFILE_STEPS, options: dict | None = None) -> list[Capture]:
        """Profile every running workload at once (one group, compared side by side)."""
        group = f"g{len(self.traces.captures) + 1}-{int(time.time())}"
        return [self.profile(w.id, steps, options, group=group) for w in self.workloads if not w.ended and w.runner]

    def memory_snapshot(self, wid: str, steps: int = DEFAULT_PROFILE_STEPS) -> Capture:
        return self.profile(wid, steps, kind="memory_snapshot")

    async def close(self) -> dict:
        for task in self._probe_tasks:
            task.cancel()
        await asyncio.gather(*self._probe_tasks, return_exceptions=True)
        self._probe_tasks.clear()
        self.ended_at = time.time()
        summary = self.summary()
        if self.rundir is not None:
            self.rundir.write_json("summary.json", summary)
            self.rundir.close()
        self._notify("closed")
        return summary

    async def run(self) -> dict:
        try:
            await self.start()
            await self.wait()
        except BaseException:
            self.kill_all()
            raise
        return await self.close()

    # -- summary (session/summary.py) ---------------------------------------------------

    @property
    def failed(self) -> list[Workload]:
        return [w for w in self.workloads if w.state == FAILED]

    def workload_summary(self, w: Workload) -> dict:
        return workload_summary(self, w)

    def summary(self) -> dict:
        return session_summary(self)
