"""A process fwtop did not launch (``fwtop attach PID``), behind the Runner's interface.

fwtop only watches it: the probes sample its process tree, py-spy can dump and
record it. Nothing here signals it; stopping means detaching. Its ``hello``
(pid, command line, the frameworks its memory maps show) and its ``bye`` when it
exits are observed from the outside, through /proc and psutil.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Callable

import psutil

from .events import Event
from .spec import WorkloadSpec

POLL_S = 0.5
# Shared libraries that give a framework away in /proc/PID/maps.
FRAMEWORK_LIBS = (("torch", "libtorch"), ("jax", "jaxlib"), ("tensorflow", "libtensorflow"))


def frameworks_loaded(pid: int) -> list[str]:
    """Frameworks whose libraries the process has mapped (Linux; empty elsewhere)."""
    try:
        with open(f"/proc/{pid}/maps") as f:
            maps = f.read()
    except OSError:
        return []
    return [fw for fw, lib in FRAMEWORK_LIBS if lib in maps]


class AttachedProcess:
    def __init__(self, spec: WorkloadSpec, on_event: Callable, on_output: Callable[[str], None]) -> None:
        self.spec = spec
        self.on_event = on_event
        self.on_output = on_output
        self.returncode: int | None = None
        self.stop_sent = False
        self._proc: psutil.Process | None = None
        self._detach = asyncio.Event()

    @property
    def pid(self) -> int | None:
        return self.spec.attach_pid

    @property
    def running(self) -> bool:
        return self.returncode is None and self._proc is not None

    async def start(self) -> None:
        pid = self.spec.attach_pid
        try:
            self._proc = psutil.Process(pid)
            cmd = self._proc.cmdline()
            exe = self._proc.exe() if sys.platform.startswith("linux") else (cmd[0] if cmd else "")
        except psutil.NoSuchProcess:
            raise OSError(f"no process with pid {pid}") from None
        except psutil.AccessDenied:
            cmd, exe = [], ""
        fws = frameworks_loaded(pid)
        now = time.time()
        self.on_output(f"[fwtop] attached to pid {pid}: {' '.join(cmd) or '?'}")
        self.on_output("[fwtop] fwtop only watches this process: no step times (it was not started by fwtop)")
        self.on_event(
            Event(
                "hello",
                now,
                {
                    "pid": pid,
                    "python": exe,
                    "framework": fws[0] if fws else None,
                    "frameworks": {fw: "" for fw in fws},  # versions are not visible from outside
                    "framework_version": None,
                    "device": None,
                    "device_kind": None,
                    "model": "attached",
                    "command": cmd,
                    "attached": True,
                },
            )
        )

    async def wait(self) -> int:
        assert self._proc is not None
        while True:
            try:
                gone = not self._proc.is_running() or self._proc.status() == psutil.STATUS_ZOMBIE
            except psutil.NoSuchProcess:
                gone = True
            if gone or self._detach.is_set():
                break
            try:
                await asyncio.wait_for(self._detach.wait(), POLL_S)
            except asyncio.TimeoutError:
                pass
        reason = "stopped" if self._detach.is_set() else "done"
        self.on_output("[fwtop] detached" if reason == "stopped" else f"[fwtop] pid {self.pid} has exited")
        self.on_event(Event("bye", time.time(), {"steps": 0, "reason": reason}))
        self.returncode = 0
        return 0

    def send(self, cmd: str, **payload) -> bool:
        return False  # no control channel to a process fwtop did not start

    def signal_group(self, sig: int) -> None:
        pass  # never signal a process fwtop did not start

    def kill_now(self) -> None:
        self._detach.set()

    async def stop(self, grace: float = 3.0, term_grace: float = 2.0) -> int | None:
        """Detach (the process keeps running)."""
        self.stop_sent = True
        self._detach.set()
        return 0


def make_runner(spec: WorkloadSpec, on_event: Callable, on_output: Callable[[str], None]):
    """The Runner for a spec: a launched child, or an attached process."""
    if spec.attach_pid:
        return AttachedProcess(spec, on_event, on_output)
    from .runner import Runner

    return Runner(spec, on_event, on_output)
