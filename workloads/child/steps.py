"""Step boundaries, shared by the reference loop and by user-script step hooks.

Everything that must happen between two training steps happens here, in the
training thread: commands from the parent (pause, stop, and the extensible
ones such as ``profile``) are applied, and each finished step is reported.

Commands other than pause/resume/stop are dispatched to handlers registered
with :meth:`StepDriver.on_command`; an object registered with
:meth:`StepDriver.add_observer` is told about every step start and end (a
profiler capture uses this to start and stop at step boundaries).
"""

from __future__ import annotations

import time

from . import protocol


class StepDriver:
    def __init__(self, writer, control, started: float, warmup: int = 0, memory=None) -> None:
        self.writer = writer
        self.control = control
        self.started = started
        self.warmup = warmup
        self.memory = memory if memory is not None else (lambda: None)
        self.index = 0  # index of the next step to run
        self.stop_reason = ""
        self._handlers: dict = {}
        self._observers: list = []

    # -- extension points -------------------------------------------------
    def on_command(self, name: str, handler) -> None:
        """``handler(cmd_dict, driver)`` is called in the training thread at the next boundary."""
        self._handlers[name] = handler

    def add_observer(self, observer) -> None:
        """``observer.step_starting(index)`` before and ``observer.step_ended(index, extra)``
        after each step; ``step_ended`` may add keys to the step event via ``extra``; an optional
        ``run_ending()`` is called before ``bye`` (the loop ended: done, stopped or parent gone)."""
        self._observers.append(observer)

    # -- the boundary -----------------------------------------------------
    def _apply_pending(self) -> None:
        control = self.control
        while control.pending:
            cmd = control.pending.popleft()
            handler = self._handlers.get(cmd["cmd"])
            if handler is None:
                self.writer.emit(
                    "notice", level="warning", message="command %r is not supported by this workload" % cmd["cmd"]
                )
                continue
            try:
                handler(cmd, self)
            except Exception as exc:  # noqa: BLE001 - a failing command never ends the workload
                self.writer.emit(
                    "notice", level="error", message="command %r failed: %s: %s" % (cmd["cmd"], type(exc).__name__, exc)
                )

    def before_step(self) -> bool:
        """Apply commands, wait while paused. False when the workload must stop now."""
        control = self.control
        if control.pending:
            self._apply_pending()
        if control.paused and not control.stop_requested:
            self.writer.emit("state", state="paused", step=self.index)
            control.wait_while_paused()
            if not control.stop_requested:
                self.writer.emit("state", state="running", step=self.index)
            if control.pending:
                self._apply_pending()
        if control.stop_requested:
            self.stop_reason = "parent_gone" if control.parent_gone else "stopped"
            return False
        for obs in self._observers:
            obs.step_starting(self.index)
        return True

    def after_step(self, duration: float, loss=None, samples=None, tokens=None, t_end=None) -> None:
        """Report the step that just finished (``duration`` in seconds)."""
        if t_end is None:
            t_end = time.time()
        index = self.index
        if index == 0:
            self.writer.emit("compile", first_step_s=duration, since_start_s=t_end - self.started)
        extra: dict = {}
        for obs in self._observers:
            obs.step_ended(index, extra)
        self.writer.emit(
            "step",
            t=t_end,
            index=index,
            duration=duration,
            samples=samples,
            tokens=tokens,
            loss=protocol.finite_or_none(loss),
            mem=self.memory(),
            warmup=index < self.warmup,
            **extra,
        )
        self.index = index + 1

    def bye(self, reason: str = "") -> None:
        for obs in self._observers:  # e.g. a profiler capture still running writes what it has
            ending = getattr(obs, "run_ending", None)
            if ending is not None:
                ending()
        self.writer.emit("bye", steps=self.index, reason=reason or self.stop_reason or "done")
