"""Step detection in a user's script: one place that turns "a step just ended" into a step event.

The framework hooks (hooks.py) and the explicit API (api.py) call
:meth:`StepDetector.step_ended` at the end of each training step; the detector
takes an honest time (the framework's pending device work is synchronized
first where it can be), reports the step through the shared
:class:`steps.StepDriver`, and applies the parent's commands (pause, stop,
profile...) at that boundary. Stdlib only, Python 3.8 compatible.
"""

from __future__ import annotations

import os
import platform
import sys
import threading
import time


class StopScript(BaseException):
    """Raised in the script's training thread when the parent asked it to stop.

    A BaseException, so that the script's own ``except Exception`` blocks let it through.
    """


def _main_thread_id():
    return threading.main_thread().ident


def _raise_in_main_thread() -> None:
    """Raise StopScript in the main thread (the step boundary was reached on another thread,
    e.g. an XLA host callback); it is delivered at the main thread's next bytecode."""
    import ctypes

    ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(_main_thread_id()), ctypes.py_object(StopScript))


class StepDetector:
    """Shared state of step detection for one script run."""

    def __init__(self, driver, writer, script: str, started: float, max_steps: int = 0) -> None:
        self.driver = driver
        self.writer = writer
        self.script = script
        self.started = started
        self.max_steps = max_steps
        self.pid = os.getpid()
        self.frameworks: dict = {}  # name -> version, as the script imports them
        self.device = None  # e.g. "cuda:0", "cpu", when a hook could tell
        self.source = ""  # what detected the steps: torch.optim, keras.fit, optax, api
        self.api_used = False
        self.stopping = False
        self._lock = threading.Lock()
        self._t_last = time.perf_counter()
        self._hello_full = False
        self._sync = []  # callables that wait for a framework's queued device work
        self._memory = []  # callables returning the framework's memory figures, or None
        self.on_framework = None  # called with a framework's name once the script imported it
        self._device_fns: dict = {}
        self.on_device = None  # called with the device once a hook could tell it

    def clear_async_stop(self) -> None:
        """Drop a StopScript that another thread queued for the main thread but that has not fired."""
        if threading.get_ident() == _main_thread_id() and self.stopping:
            import ctypes

            ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(_main_thread_id()), None)

    # -- frameworks --------------------------------------------------------
    def framework_loaded(self, name: str, version: str, sync=None, memory=None, device=None) -> None:
        """``device()``: the device the framework computes on by default, for the hello when
        no hook saw the actual one."""
        self.frameworks[name] = version
        if device is not None:
            self._device_fns[name] = device
        if self.on_framework is not None:
            self.on_framework(name)
        if sync is not None:
            self._sync.append(sync)
        if memory is not None:
            self._memory.append(memory)

    def set_device(self, device) -> None:
        self.device = device
        if device and self.on_device is not None:
            self.on_device(device)

    def memory(self):
        for fn in self._memory:
            try:
                mem = fn()
            except Exception:  # noqa: BLE001 - memory figures never break a step
                mem = None
            if mem:
                return mem
        return None

    def _synchronize(self) -> None:
        for fn in self._sync:
            try:
                fn()
            except Exception:  # noqa: BLE001
                pass

    # -- hello -------------------------------------------------------------
    def hello(self, complete: bool) -> None:
        """Sent when the script starts, and again (complete) at its first step, when the
        frameworks it imported and, where a hook can tell, its device are known."""
        fw = self._main_framework()
        device = self.device
        if device is None and fw in self._device_fns:
            try:
                device = self._device_fns[fw]()
            except Exception:  # noqa: BLE001 - an unknown device is null
                device = None
        kind = device.split(":")[0] if device else None
        self.writer.emit(
            "hello",
            pid=self.pid,
            python=sys.executable,
            python_version=platform.python_version(),
            framework=fw,
            framework_version=self.frameworks.get(fw) if fw else None,
            frameworks=dict(self.frameworks),
            device=device,
            device_kind=kind,
            device_name=None,
            model="script",
            script=self.script,
            steps_from=self.source or None,
            steps=self.max_steps,
            warmup=self.driver.warmup,
            started=self.started,
            preallocates=None,
        )
        self._hello_full = complete

    def _main_framework(self):
        for name in ("torch", "keras", "jax", "tensorflow"):
            if name in self.frameworks:
                return name
        return None

    # -- the step boundary -------------------------------------------------
    def step_ended(self, source: str, loss=None, samples=None, tokens=None, sync: bool = True) -> None:
        """A training step just ended (called by a hook or the API, in the script's process)."""
        if os.getpid() != self.pid or self.stopping:
            return  # a forked worker, or already on the way out
        if source != "api" and self.api_used:
            return  # the explicit API, once used, is the only source of steps
        with self._lock:
            if not self.source:
                self.source = source
            if sync:
                self._synchronize()
            if loss is not None:
                loss = _to_float(loss)
            t_end = time.time()
            now = time.perf_counter()
            duration = now - self._t_last
            if not self._hello_full:
                self.hello(complete=True)
            self.driver.after_step(duration, loss, samples, tokens, t_end=t_end)
            done = self.max_steps and self.driver.index >= self.max_steps
            if done or not self.driver.before_step():
                self.stopping = True
                if done:
                    self.driver.stop_reason = "done"
                if threading.get_ident() == _main_thread_id():
                    raise StopScript()
                _raise_in_main_thread()
                return
            # Time spent paused (or applying commands) is not part of the next step.
            self._t_last = time.perf_counter()


def _to_float(x):
    try:
        if hasattr(x, "item"):
            x = x.item()
        return float(x)
    except Exception:  # noqa: BLE001 - a loss that cannot be read is reported as null
        return None
