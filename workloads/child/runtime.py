"""Child runtime: reads the spec, opens the channels, runs the workload."""

from __future__ import annotations

import collections
import json
import os
import signal
import sys
import threading

from . import protocol

# After the control pipe closes without a stop command, the parent is gone:
# the child gets this long to finish its step, then exits hard so no orphan
# ever keeps holding device memory.
PARENT_GONE_GRACE_S = 1.0


def _parent_gone_exit() -> None:
    """End this child and, when it leads its process group (fwtop starts it in a new session),
    every process in the group: grandchildren such as data-loader workers must not outlive it."""
    if os.getpgrp() == os.getpid():
        os.killpg(os.getpid(), signal.SIGKILL)
    os._exit(protocol.EXIT_PARENT_GONE)


class Control:
    """Commands from the parent, applied at step boundaries by the training thread."""

    def __init__(self) -> None:
        self.stop_requested = False
        self.parent_gone = False
        self._running = threading.Event()
        self._running.set()
        self.pending: collections.deque = collections.deque()

    def command(self, cmd: dict) -> None:
        name = cmd["cmd"]
        if name == "pause":
            self._running.clear()
        elif name == "resume":
            self._running.set()
        elif name == "stop":
            self.stop_requested = True
            self._running.set()
        else:
            self.pending.append(cmd)

    def eof(self) -> None:
        self.parent_gone = not self.stop_requested
        self.stop_requested = True
        self._running.set()
        if self.parent_gone:
            timer = threading.Timer(PARENT_GONE_GRACE_S, _parent_gone_exit)
            timer.daemon = True
            timer.start()

    @property
    def paused(self) -> bool:
        return not self._running.is_set()

    def wait_while_paused(self) -> None:
        self._running.wait()


def _fd_from_env(name: str):
    value = os.environ.get(name)
    if value is None:
        return None
    try:
        fd = int(value)
        os.fstat(fd)
    except (ValueError, OSError):
        sys.stderr.write("fwtop child: %s=%r is not an open file descriptor\n" % (name, value))
        sys.exit(protocol.EXIT_USAGE)
    return fd


def main(started: float) -> int:
    event_fd = _fd_from_env(protocol.EVENT_FD_ENV)
    # Run by hand (no parent), events go to stderr so the child can be debugged alone.
    writer = protocol.EventWriter(event_fd if event_fd is not None else 2)
    control = Control()
    control_fd = _fd_from_env(protocol.CONTROL_FD_ENV)
    if control_fd is not None:
        protocol.ControlReader(control_fd, control.command, control.eof).start()
    try:
        spec = json.loads(os.environ.get(protocol.SPEC_ENV, ""))
        if not isinstance(spec, dict):
            raise ValueError("not a JSON object")
    except ValueError as exc:
        writer.emit(
            "error", type="SpecError", message="%s is not a valid spec: %s" % (protocol.SPEC_ENV, exc), fatal=True
        )
        return protocol.EXIT_USAGE
    if spec.get("kind") == "script":
        from . import script

        return script.run(spec, writer, control, started)
    from . import reference

    status = reference.run(spec, writer, control, started)
    # A reference workload has nothing left to do once it said bye: skip the interpreter's
    # teardown (the frameworks' exit handlers and module clean-up take seconds on a loaded
    # machine, and a stop waits for this exit before it escalates to SIGTERM).
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(status)
