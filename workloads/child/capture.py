"""On-demand framework-native profiler captures, at step boundaries (child side).

``install(driver, framework, device_kind)`` registers the ``profile`` and
``memory_snapshot`` commands on a :class:`steps.StepDriver` and observes its
steps: a capture starts when a step starts, covers N whole steps, and is
stopped and written after the N-th step ends. The workload carries on.

Layout (one for every framework, so ``tensorboard --logdir RUN_DIR/traces``
shows them all)::

    <dir>/plugins/profile/<YYYY_MM_DD_HH_MM_SS>[-n]/
        <host>_<pid>.<ns>.pt.trace.json       torch: Chrome trace
        <host>.xplane.pb                      torch: the same events as XPlane, for xprof (xplane.py)
        <host>.xplane.pb, <host>.trace.json.gz jax: XPlane + Chrome trace
        <host>.xplane.pb, <host>.trace.json.gz tensorflow: XPlane + Chrome trace converted here
        <host>_<pid>.snapshot.pickle           torch CUDA memory snapshot (pytorch.org/memory_viz)

Everything is written into ``<dir>/.capturing-<id>/`` first and the finished
run folder is renamed into ``plugins/profile/`` at the end, so a folder there
is always complete; a failed capture removes its staging folder and says why.

Python 3.8 compatible, stdlib + the framework only (the framework is already
imported by the workload when a command arrives).
"""

from __future__ import annotations

import glob
import gzip
import json
import os
import shutil
import socket
import time

from .xplane import chrome_to_xplane as xplane_from_chrome

DEFAULT_STEPS = 5
STEP_MARKER = "fwtop_step"  # the annotation around each captured step, in every framework's trace
MAX_STEPS = 1000
SNAPSHOT_ENTRIES = 100000


class CaptureError(Exception):
    """A capture cannot be made; the message is shown to the user as the reason."""


def _host() -> str:
    return (socket.gethostname() or "host").replace("/", "_")


def _now_ms(t0: float) -> float:
    return round((time.perf_counter() - t0) * 1000.0, 3)


# -- framework backends --------------------------------------------------------------------


class _TorchProfile:
    """torch.profiler over N steps, exported as a Chrome trace (``.pt.trace.json``)."""

    def __init__(self, options: dict, device_kind: str) -> None:
        import torch
        from torch.profiler import ProfilerActivity, profile

        acts = [ProfilerActivity.CPU]
        if device_kind in ("cuda", "rocm") and torch.cuda.is_available():
            acts.append(ProfilerActivity.CUDA)
        self.activities = [a.name for a in acts]
        self.ann = None
        self.prof = profile(
            activities=acts,
            record_shapes=bool(options.get("shapes")),
            profile_memory=bool(options.get("memory")),
            with_stack=bool(options.get("stacks")),
        )

    def start(self, run_dir: str) -> None:
        self.run_dir = run_dir
        os.makedirs(run_dir)
        self.prof.start()

    def begin(self, index: int) -> None:
        # Without a schedule, torch marks no ProfilerStep#N: mark each step as JAX and TF do.
        from torch.autograd.profiler import record_function

        self.ann = record_function("%s#%d" % (STEP_MARKER, index))
        self.ann.__enter__()

    def step(self) -> None:
        ann, self.ann = self.ann, None
        if ann is not None:
            ann.__exit__(None, None, None)
        self.prof.step()

    def stop(self) -> None:
        self.prof.stop()

    def export(self) -> list:
        path = os.path.join(self.run_dir, "%s_%d.%d.pt.trace.json" % (_host(), os.getpid(), time.time_ns()))
        self.prof.export_chrome_trace(path)
        # xprof (TensorBoard's profile plugin) reads only .xplane.pb: write one from the Chrome trace.
        xplane = xplane_from_chrome(path, os.path.join(self.run_dir, "%s.xplane.pb" % _host()), _host())
        return [(path, "trace"), (xplane, "xplane")]

    def abort(self) -> None:
        try:
            self.prof.stop()
        except Exception:  # noqa: BLE001 - already failing; the first reason is the one reported
            pass


class _JaxProfile:
    """jax.profiler start_trace/stop_trace: XPlane plus the Chrome trace (.trace.json.gz)."""

    def __init__(self, options: dict, device_kind: str) -> None:
        import jax  # noqa: F401

        self.activities = ["host", "device"] if device_kind != "cpu" else ["host"]
        self.stacks = bool(options.get("stacks"))
        self.ann = None

    def start(self, staging: str) -> None:
        import jax

        self.staging = staging
        opts = jax.profiler.ProfileOptions()
        opts.python_tracer_level = 1 if self.stacks else 0  # Python frames only with the stacks option
        # Never create_perfetto_link: it blocks, serving the trace until a browser fetches it.
        jax.profiler.start_trace(
            staging, create_perfetto_link=False, create_perfetto_trace=False, profiler_options=opts
        )

    def begin(self, index: int) -> None:
        import jax

        self.ann = jax.profiler.StepTraceAnnotation(STEP_MARKER, step_num=index)
        self.ann.__enter__()

    def step(self) -> None:
        ann, self.ann = self.ann, None
        if ann is not None:
            ann.__exit__(None, None, None)

    def stop(self) -> None:
        import jax

        jax.profiler.stop_trace()

    def export(self) -> list:
        out = []
        for path in sorted(glob.glob(os.path.join(self.staging, "plugins", "profile", "*", "*"))):
            if path.endswith(".trace.json.gz"):
                out.append((path, "trace"))
            elif path.endswith(".xplane.pb"):
                out.append((path, "xplane"))
        if not any(role == "trace" for _, role in out):
            raise CaptureError("jax.profiler wrote no .trace.json.gz in %s" % self.staging)
        return out

    def abort(self) -> None:
        import jax

        try:
            jax.profiler.stop_trace()
        except Exception:  # noqa: BLE001
            pass


class _TensorflowProfile:
    """tf.profiler.experimental start/stop into a TensorBoard logdir; XPlane converted to Chrome JSON."""

    def __init__(self, options: dict, device_kind: str) -> None:
        import tensorflow as tf  # noqa: F401

        self.activities = ["host", "device"] if device_kind != "cpu" else ["host"]
        self.stacks = bool(options.get("stacks"))
        self.ann = None

    def start(self, staging: str) -> None:
        import tensorflow as tf

        self.staging = staging
        opts = tf.profiler.experimental.ProfilerOptions(
            host_tracer_level=2, python_tracer_level=1 if self.stacks else 0, device_tracer_level=1
        )
        tf.profiler.experimental.start(staging, options=opts)

    def begin(self, index: int) -> None:
        import tensorflow as tf

        self.ann = tf.profiler.experimental.Trace(STEP_MARKER, step_num=index, _r=1)
        self.ann.__enter__()

    def step(self) -> None:
        ann, self.ann = self.ann, None
        if ann is not None:
            ann.__exit__(None, None, None)

    def stop(self) -> None:
        import tensorflow as tf

        tf.profiler.experimental.stop()

    def export(self) -> list:
        planes = sorted(glob.glob(os.path.join(self.staging, "plugins", "profile", "*", "*.xplane.pb")))
        if not planes:
            raise CaptureError("tf.profiler wrote no .xplane.pb in %s" % self.staging)
        out = []
        for xplane in planes:
            out.append((xplane, "xplane"))
            out.append((xplane_to_chrome(xplane), "trace"))
        return out

    def abort(self) -> None:
        import tensorflow as tf

        try:
            tf.profiler.experimental.stop()
        except Exception:  # noqa: BLE001
            pass


def xplane_to_chrome(xplane_path: str) -> str:
    """Convert an XSpace protobuf (TensorFlow's profiler output) to a gzipped Chrome trace beside it.

    One Chrome process per plane (named after it), one thread per line, one complete
    (``X``) event per XEvent, times in microseconds from the earliest event.
    """
    try:  # TF 2.21 ships the XPlane protobuf here (its module is tsl.profiler.protobuf.xplane_pb2)
        from tensorflow.tsl.profiler.protobuf import xplane_pb2
    except ImportError:
        from tsl.profiler.protobuf import xplane_pb2

    space = xplane_pb2.XSpace()
    with open(xplane_path, "rb") as f:
        space.ParseFromString(f.read())
    events = []
    t0 = None
    for plane in space.planes:
        for line in plane.lines:
            for ev in line.events:
                ps = line.timestamp_ns * 1000 + ev.offset_ps
                t0 = ps if t0 is None or ps < t0 else t0
    t0 = t0 or 0
    for pid, plane in enumerate(space.planes, start=1):
        names = plane.event_metadata
        events.append({"ph": "M", "pid": pid, "name": "process_name", "args": {"name": plane.name}})
        for line in plane.lines:
            tid = line.id
            events.append(
                {
                    "ph": "M",
                    "pid": pid,
                    "tid": tid,
                    "name": "thread_name",
                    "args": {"name": line.display_name or line.name},
                }
            )
            for ev in line.events:
                md = names.get(ev.metadata_id)
                name = (md.display_name or md.name) if md is not None else str(ev.metadata_id)
                ps = line.timestamp_ns * 1000 + ev.offset_ps
                events.append(
                    {
                        "ph": "X",
                        "pid": pid,
                        "tid": tid,
                        "name": name,
                        "cat": plane.name,
                        "ts": (ps - t0) / 1e6,
                        "dur": ev.duration_ps / 1e6,
                    }
                )
    out = xplane_path[: -len(".xplane.pb")] + ".trace.json.gz"
    tmp = out + ".part"
    with gzip.open(tmp, "wt", encoding="utf-8") as f:
        json.dump(
            {"displayTimeUnit": "ns", "traceEvents": events, "otherData": {"source": "fwtop xplane_to_chrome"}}, f
        )
    os.replace(tmp, out)
    return out


BACKENDS = {"torch": _TorchProfile, "jax": _JaxProfile, "tensorflow": _TensorflowProfile}


# -- the capture state machine -------------------------------------------------------------


class _Request(object):
    def __init__(self, cmd: dict, kind: str) -> None:
        self.id = str(cmd.get("id") or "c%d" % int(time.time() * 1000))
        self.kind = kind
        self.dir = cmd.get("dir")
        if not isinstance(self.dir, str) or not self.dir:
            raise CaptureError("the %s command names no trace directory" % kind)
        steps = cmd.get("steps", DEFAULT_STEPS)
        if not isinstance(steps, int) or isinstance(steps, bool) or not 1 <= steps <= MAX_STEPS:
            raise CaptureError("steps must be a whole number from 1 to %d, got %r" % (MAX_STEPS, steps))
        self.steps = steps
        at = cmd.get("at_step")
        self.at_step = at if isinstance(at, int) and not isinstance(at, bool) and at >= 0 else None
        options = cmd.get("options") or {}
        self.options = options if isinstance(options, dict) else {}
        self.done = 0  # steps captured so far
        self.first_step = None
        self.step_time = 0.0
        self.t_step = 0.0
        self.staging = ""
        self.backend = None
        self.timings: dict = {}


class Capture(object):
    """Observer of a StepDriver that runs one capture at a time."""

    def __init__(self, writer, framework: str, device_kind: str = "cpu") -> None:
        self.writer = writer
        self.framework = framework
        self.device_kind = device_kind or "cpu"
        self.queue: list = []  # requests waiting for their step
        self.active = None

    # -- events ---------------------------------------------------------------------
    def _emit(self, req, state: str, **extra) -> None:
        self.writer.emit(
            "trace",
            id=req.id,
            capture=req.kind,
            framework=self.framework,
            state=state,
            steps=req.steps,
            dir=req.dir,
            **extra,
        )

    def _fail(self, req, reason: str) -> None:
        if req.staging:
            shutil.rmtree(req.staging, ignore_errors=True)
        self._emit(req, "failed", reason=reason, step=req.done, first_step=req.first_step)

    # -- commands (training thread, at a step boundary) --------------------------------
    def on_profile(self, cmd: dict, driver) -> None:
        self._request(cmd, "profile")

    def on_memory_snapshot(self, cmd: dict, driver) -> None:
        self._request(cmd, "memory_snapshot")

    def _request(self, cmd: dict, kind: str) -> None:
        try:
            req = _Request(cmd, kind)
        except CaptureError as exc:
            self.writer.emit("trace", id=str(cmd.get("id", "")), capture=kind, state="failed", reason=str(exc))
            return
        if kind == "profile" and self.framework not in BACKENDS:
            self._emit(req, "failed", reason="no profiler backend for %s" % self.framework)
            return
        if kind == "memory_snapshot" and not (self.framework == "torch" and self.device_kind in ("cuda", "rocm")):
            self._emit(
                req,
                "failed",
                reason="memory snapshots need PyTorch on a CUDA device (this workload is %s on %s)"
                % (self.framework, self.device_kind),
            )
            return
        self.queue.append(req)
        self._emit(req, "requested", at_step=req.at_step)

    # -- step observer -------------------------------------------------------------------
    def step_starting(self, index: int) -> None:
        try:
            self._step_starting(index)
        except Exception as exc:  # noqa: BLE001 - a capture never ends the workload
            self._guard(exc)

    def step_ended(self, index: int, extra: dict) -> None:
        try:
            self._step_ended(index, extra)
        except Exception as exc:  # noqa: BLE001
            self._guard(exc)

    def _guard(self, exc) -> None:
        req, self.active = self.active, None
        reason = "capture error: %s: %s" % (type(exc).__name__, exc)
        if req is not None:
            if req.backend is not None:
                req.backend.abort()
            self._fail(req, reason)
        else:
            self.writer.emit("notice", level="error", message=reason)

    def _step_starting(self, index: int) -> None:
        req = self.active
        if req is None and self.queue:
            nxt = self.queue[0]
            if nxt.at_step is None or index >= nxt.at_step:
                self.queue.pop(0)
                req = self._start(nxt, index)
        if req is not None:
            self._emit(req, "capturing", step=req.done + 1, first_step=req.first_step)
            req.backend.begin(index)
            req.t_step = time.perf_counter()

    def _step_ended(self, index: int, extra: dict) -> None:
        req = self.active
        if req is None:
            return
        req.step_time += time.perf_counter() - req.t_step
        extra["profiled"] = True
        req.done += 1
        try:
            req.backend.step()
        except Exception as exc:  # noqa: BLE001 - the capture fails, the workload goes on
            self._abort(req, "%s.step() failed: %s: %s" % (req.kind, type(exc).__name__, exc))
            return
        if req.done >= req.steps:
            self._finish(req)

    def run_ending(self) -> None:
        """The workload ends (done, stopped) during a capture: write what was captured."""
        try:
            self._run_ending()
        except Exception as exc:  # noqa: BLE001
            self._guard(exc)

    def _run_ending(self) -> None:
        req = self.active
        if req is not None:
            if req.done:
                self._finish(req, partial=True)
            else:
                self._abort(req, "the workload ended before the first captured step")
        for req in self.queue:
            self._emit(req, "failed", reason="the workload ended before step %s" % req.at_step)
        self.queue = []

    # -- start / finish --------------------------------------------------------------------
    def _start(self, req, index: int):
        req.first_step = index
        try:
            os.makedirs(req.dir, exist_ok=True)
            req.staging = os.path.join(req.dir, ".capturing-%s" % req.id)
            os.makedirs(req.staging)
        except OSError as exc:
            req.staging = ""
            self._fail(req, "cannot create the trace directory %s: %s" % (req.dir, exc.strerror or exc))
            return None
        t0 = time.perf_counter()
        try:
            if req.kind == "profile":
                req.backend = BACKENDS[self.framework](req.options, self.device_kind)
                if self.framework == "torch":
                    req.backend.start(os.path.join(req.staging, "plugins", "profile", _stamp()))
                else:
                    req.backend.start(req.staging)
            else:
                req.backend = _TorchMemorySnapshot(req.staging)
                req.backend.start()
        except Exception as exc:  # noqa: BLE001
            self._fail(req, "cannot start the %s profiler: %s: %s" % (self.framework, type(exc).__name__, exc))
            return None
        req.timings["start_ms"] = _now_ms(t0)
        self.active = req
        return req

    def _abort(self, req, reason: str) -> None:
        self.active = None
        if req.backend is not None:
            req.backend.abort()
        self._fail(req, reason)

    def _finish(self, req, partial: bool = False) -> None:
        self.active = None
        self._emit(req, "writing", step=req.done, first_step=req.first_step)
        try:
            t0 = time.perf_counter()
            req.backend.stop()
            req.timings["stop_ms"] = _now_ms(t0)
            t0 = time.perf_counter()
            files = req.backend.export()
            req.timings["export_ms"] = _now_ms(t0)
            final = self._publish(req, files)
        except Exception as exc:  # noqa: BLE001 - a failed write is reported; nothing half-written stays
            self._fail(req, "writing the %s failed: %s: %s" % (req.kind, type(exc).__name__, exc))
            return
        self._emit(
            req,
            "done",
            step=req.done,
            captured=req.done,
            partial=partial,
            first_step=req.first_step,
            step_time_s=req.step_time,
            files=final,
            run=os.path.dirname(final[0]["path"]) if final else "",
            timings=req.timings,
            activities=getattr(req.backend, "activities", []),
        )

    def _publish(self, req, files: list) -> list:
        """Rename the finished run folder from the staging area into <dir>/plugins/profile/."""
        if not files:
            raise CaptureError("the profiler wrote no file")
        run_src = os.path.dirname(files[0][0])
        profile_dir = os.path.join(req.dir, "plugins", "profile")
        os.makedirs(profile_dir, exist_ok=True)
        base = os.path.basename(run_src)
        n = 1
        while True:
            dest = os.path.join(profile_dir, base if n == 1 else "%s-%d" % (base, n))
            if not os.path.exists(dest):
                try:
                    os.rename(run_src, dest)
                    break
                except OSError:
                    if not os.path.exists(dest):
                        raise
            n += 1
        shutil.rmtree(req.staging, ignore_errors=True)
        out = []
        for path, role in files:
            moved = os.path.join(dest, os.path.relpath(path, run_src))
            out.append({"path": moved, "role": role, "bytes": os.path.getsize(moved)})
        return out


def _stamp() -> str:
    return time.strftime("%Y_%m_%d_%H_%M_%S")


class _TorchMemorySnapshot(object):
    """torch.cuda.memory history over N steps, dumped as the pickle pytorch.org/memory_viz opens."""

    activities = ["cuda-memory"]

    def __init__(self, staging: str) -> None:
        self.run_dir = os.path.join(staging, "plugins", "profile", _stamp())

    def start(self) -> None:
        import torch

        os.makedirs(self.run_dir)
        torch.cuda.memory._record_memory_history(max_entries=SNAPSHOT_ENTRIES)

    def begin(self, index: int) -> None:
        pass

    def step(self) -> None:
        pass

    def stop(self) -> None:
        pass

    def export(self) -> list:
        import torch

        path = os.path.join(self.run_dir, "%s_%d.snapshot.pickle" % (_host(), os.getpid()))
        try:
            torch.cuda.memory._dump_snapshot(path)
        finally:
            torch.cuda.memory._record_memory_history(enabled=None)
        return [(path, "snapshot")]

    def abort(self) -> None:
        import torch

        try:
            torch.cuda.memory._record_memory_history(enabled=None)
        except Exception:  # noqa: BLE001
            pass


def install(driver, framework: str, device_kind: str = "cpu") -> Capture:
    """Register profile / memory_snapshot on a StepDriver; returns the Capture (an observer)."""
    cap = Capture(driver.writer, framework, device_kind)
    driver.on_command("profile", cap.on_profile)
    driver.on_command("memory_snapshot", cap.on_memory_snapshot)
    driver.add_observer(cap)
    return cap
