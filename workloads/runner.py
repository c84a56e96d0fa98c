"""Runner: one workload child on an asyncio subprocess, in its own process group.

The child gets two inherited pipes (events out, commands in) and its merged
stdout/stderr goes to ``on_output`` line by line. Stopping escalates from a
polite ``stop`` command to SIGTERM and SIGKILL of the whole process group.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import Callable

from .child.protocol import encode
from .events import Event, Invalid, LineSplitter, StepEvent, parse_line
from .spec import BOOTSTRAP, WorkloadSpec

OUTPUT_LINE_MAX = 16 * 1024
READ_CHUNK = 65536


class Runner:
    def __init__(
        self,
        spec: WorkloadSpec,
        on_event: Callable[[Event | StepEvent | Invalid], None],
        on_output: Callable[[str], None],
    ) -> None:
        self.spec = spec
        self.on_event = on_event
        self.on_output = on_output
        self.proc: asyncio.subprocess.Process | None = None
        self._control_w: int | None = None
        self._readers: list[asyncio.Task] = []
        self.returncode: int | None = None
        self.stop_sent = False
        self.said_bye = False

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    @property
    def running(self) -> bool:
        return self.proc is not None and self.returncode is None

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        event_r, event_w = os.pipe()
        control_r, control_w = os.pipe()
        env = self.spec.child_env(event_w, control_r)
        try:
            self.proc = await asyncio.create_subprocess_exec(
                self.spec.python,
                str(BOOTSTRAP),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
                env=env,
                pass_fds=(event_w, control_r),
                start_new_session=True,
            )
        except BaseException:
            for fd in (event_r, event_w, control_r, control_w):
                os.close(fd)
            raise
        os.close(event_w)
        os.close(control_r)
        os.set_blocking(control_w, False)
        self._control_w = control_w
        event_reader = asyncio.StreamReader(limit=READ_CHUNK * 4)
        await loop.connect_read_pipe(
            lambda: asyncio.StreamReaderProtocol(event_reader), os.fdopen(event_r, "rb", buffering=0)
        )
        self._readers = [
            asyncio.create_task(self._read_events(event_reader)),
            asyncio.create_task(self._read_output(self.proc.stdout)),
        ]

    async def _read_events(self, reader: asyncio.StreamReader) -> None:
        splitter = LineSplitter()
        while True:
            chunk = await reader.read(READ_CHUNK)
            if not chunk:
                break
            for line in splitter.feed(chunk):
                self._event(parse_line(line))
        for line in splitter.flush():
            self._event(parse_line(line))

    def _event(self, ev: Event | StepEvent | Invalid) -> None:
        if type(ev) is Event and ev.kind == "bye":
            self.said_bye = True
        self.on_event(ev)

    async def _read_output(self, stream: asyncio.StreamReader) -> None:
        splitter = LineSplitter(OUTPUT_LINE_MAX)
        while True:
            chunk = await stream.read(READ_CHUNK)
            if not chunk:
                break
            for line in splitter.feed(chunk):
                self.on_output("[output line too long, dropped]" if line is None else line.decode("utf-8", "replace"))
        for line in splitter.flush():
            self.on_output(line.decode("utf-8", "replace"))

    def send(self, cmd: str, **payload) -> bool:
        """Write one command to the child. Never blocks; False if it could not be delivered."""
        if self._control_w is None or not self.running:
            return False
        data = encode(cmd, payload, key="cmd")
        try:
            n = os.write(self._control_w, data)
        except (BlockingIOError, BrokenPipeError, OSError):
            return False
        if cmd == "stop":
            self.stop_sent = True
        return n == len(data)

    def _close_control(self) -> None:
        if self._control_w is not None:
            with contextlib.suppress(OSError):
                os.close(self._control_w)
            self._control_w = None

    async def wait(self) -> int:
        assert self.proc is not None
        rc = await self.proc.wait()
        self.returncode = rc
        self._close_control()
        # The workload is over: what is left of its process group (a data-loader worker, a
        # grandchild) goes too, so nothing keeps its device memory.
        self.signal_group(signal.SIGKILL)
        # Grandchildren may still hold the output pipe: don't wait on them forever.
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(asyncio.gather(*self._readers, return_exceptions=True), timeout=2.0)
        for task in self._readers:
            task.cancel()
        return rc

    def signal_group(self, sig: int) -> None:
        if self.proc is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, sig)

    def kill_now(self) -> None:
        """SIGKILL the whole process group at once (synchronous; safe in signal handlers)."""
        self.signal_group(signal.SIGKILL)
        self._close_control()

    async def _exits_within(self, timeout: float) -> bool:
        assert self.proc is not None
        try:
            await asyncio.wait_for(asyncio.shield(self.proc.wait()), timeout)
        except asyncio.TimeoutError:
            return False
        return True

    async def stop(self, grace: float = 2.0, term_grace: float = 1.5, bye_grace: float = 5.0) -> int | None:
        """Polite stop, then SIGTERM, then SIGKILL to the process group; returns the exit status.

        A child that has said ``bye`` is already on its way out (its interpreter's teardown, a
        script's exit handlers): it gets ``bye_grace`` more seconds before the signals."""
        if self.proc is None:
            return None
        if self.returncode is None:
            self.send("stop")
            self._close_control()
            exited = await self._exits_within(grace)
            if not exited and self.said_bye:
                exited = await self._exits_within(bye_grace)
            for sig, timeout in ((signal.SIGTERM, term_grace), (signal.SIGKILL, 5.0)):
                if exited:
                    break
                self.signal_group(sig)
                exited = await self._exits_within(timeout)
        # Whatever is left of the group (e.g. a worker that ignored SIGTERM) goes too.
        self.signal_group(signal.SIGKILL)
        return await self.wait()
