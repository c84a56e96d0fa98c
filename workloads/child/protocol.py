"""The fwtop child protocol: JSON lines over two inherited pipes.

This module is stdlib-only and Python 3.8 compatible: it runs inside the
workload's own interpreter (imported by the bootstrap) and is also imported by
the parent (``fwtop.workloads.child.protocol``) so both sides share one
definition. See docs/protocol.md.

Child -> parent: one JSON object per line on the fd named by FWTOP_EVENT_FD.
Parent -> child: one JSON object per line on the fd named by FWTOP_CONTROL_FD.
Every line carries ``"v": PROTOCOL_VERSION``.
"""

from __future__ import annotations

import json
import os
import threading
import time

PROTOCOL_VERSION = 1

EVENT_FD_ENV = "FWTOP_EVENT_FD"
CONTROL_FD_ENV = "FWTOP_CONTROL_FD"
SPEC_ENV = "FWTOP_SPEC"

# Event names, child -> parent.
EVENTS = ("hello", "compile", "step", "state", "notice", "trace", "error", "bye")
# Command names, parent -> child.
COMMANDS = ("pause", "resume", "stop", "profile", "memory_snapshot")

# A line longer than this is not a valid event; the parent drops it (and counts it).
MAX_LINE_BYTES = 256 * 1024
# Tracebacks and messages are truncated so an event always fits in MAX_LINE_BYTES.
MAX_TEXT_CHARS = 32 * 1024

# Exit statuses of the child bootstrap.
EXIT_OK = 0
EXIT_ERROR = 1  # the workload raised
EXIT_USAGE = 2  # bad spec
EXIT_MISSING_FRAMEWORK = 3
EXIT_PARENT_GONE = 4  # control pipe closed without a stop command


def encode(kind: str, payload: dict, key: str = "event") -> bytes:
    """Encode one protocol line (event or command) as UTF-8 JSON plus newline."""
    obj = {"v": PROTOCOL_VERSION, key: kind}
    obj.update(payload)
    return (json.dumps(obj, separators=(",", ":"), allow_nan=False, default=str) + "\n").encode()


def truncate(text: str, limit: int = MAX_TEXT_CHARS) -> str:
    if len(text) <= limit:
        return text
    half = limit // 2
    return text[:half] + "\n... [%d characters cut] ...\n" % (len(text) - limit) + text[-half:]


def finite_or_none(x):
    """JSON has no NaN/inf: report them as null (a diverged loss stays visible as null)."""
    if x is None:
        return None
    try:
        f = float(x)
    except (TypeError, ValueError):
        return None
    if f != f or f in (float("inf"), float("-inf")):
        return None
    return f


class EventWriter:
    """Writes events to the event fd. Thread-safe; a vanished parent ends the process."""

    def __init__(self, fd: int):
        self.fd = fd
        self._lock = threading.Lock()

    def emit(self, kind: str, **payload) -> None:
        payload.setdefault("t", time.time())
        data = encode(kind, payload)
        with self._lock:
            try:
                view = memoryview(data)
                while view:
                    n = os.write(self.fd, view)
                    view = view[n:]
            except (BrokenPipeError, OSError):
                # Nobody reads our events any more: the parent is gone.
                os._exit(EXIT_PARENT_GONE)


class ControlReader(threading.Thread):
    """Reads commands from the control fd on a daemon thread.

    ``on_command(dict)`` is called for every well-formed command; ``on_eof()``
    when the pipe closes (the parent stopped or died).
    """

    def __init__(self, fd: int, on_command, on_eof):
        super().__init__(name="fwtop-control", daemon=True)
        self.fd = fd
        self.on_command = on_command
        self.on_eof = on_eof

    def run(self) -> None:
        buf = b""
        while True:
            try:
                chunk = os.read(self.fd, 65536)
            except OSError:
                chunk = b""
            if not chunk:
                self.on_eof()
                return
            buf += chunk
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                try:
                    cmd = json.loads(line)
                except ValueError:
                    continue
                if isinstance(cmd, dict) and cmd.get("cmd") in COMMANDS:
                    self.on_command(cmd)
            if len(buf) > MAX_LINE_BYTES:
                buf = b""
