"""The terminal driver: Textual's LinuxDriver with an input thread that sleeps until needed.

Textual's LinuxDriver reads the keyboard on a thread that wakes ten times a second,
input or not, to see whether the app is stopping and to time out a lone Escape key.
On a replayed three-panel dashboard those wake-ups were a fifth of fwtop's CPU (a bare Textual app
costs about 0.2 % of a core, all of it that thread: docs/benchmarks.md). This driver's
thread waits on the terminal and on a wake-up pipe instead: it runs when there is input,
once more after the escape delay that follows input (so a lone Escape still arrives, as
with Textual's thread), and when the app stops reading input (quit, suspend), whose
``exit_event.set()`` writes to the pipe.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import threading
from codecs import getincrementaldecoder

from textual import constants
from textual._parser import ParseError
from textual._xterm_parser import XTermParser
from textual.drivers.linux_driver import LinuxDriver

READ_SIZE = 4096
THREAD_NAME = "fwtop-input"


class _WakingEvent(threading.Event):
    """A threading.Event whose ``set`` also wakes the input thread's select."""

    def __init__(self, wake_fd: int) -> None:
        super().__init__()
        self._wake_fd = wake_fd

    def set(self) -> None:
        super().set()
        with contextlib.suppress(OSError):  # a full pipe already wakes the thread
            os.write(self._wake_fd, b"\0")


class QuietLinuxDriver(LinuxDriver):
    def __init__(self, app, *, debug: bool = False, mouse: bool = True, size: tuple[int, int] | None = None) -> None:
        super().__init__(app, debug=debug, mouse=mouse, size=size)
        self._wake_r, self._wake_w = os.pipe()  # not inherited by the workloads (PEP 446)
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        self.exit_event = _WakingEvent(self._wake_w)

    def run_input_thread(self) -> None:
        """Wait for input and dispatch events (the input thread's body)."""
        # Named for top, htop and the tests (Linux; Python 3.11 names no OS thread itself).
        with contextlib.suppress(OSError):
            with open(f"/proc/self/task/{threading.get_native_id()}/comm", "w") as comm:
                comm.write(THREAD_NAME)
        fileno, wake = self.fileno, self._wake_r
        selector = selectors.SelectSelector()  # as Textual's thread: select works with every tty
        selector.register(fileno, selectors.EVENT_READ)
        selector.register(wake, selectors.EVENT_READ)
        parser = XTermParser(self._debug)
        decode = getincrementaldecoder("utf-8")().decode
        timeout: float | None = None
        try:
            while not self.exit_event.is_set():
                active = False
                for key, _ in selector.select(timeout):
                    if key.fd == wake:
                        with contextlib.suppress(BlockingIOError):
                            os.read(wake, 64)
                        continue
                    try:
                        data = os.read(fileno, READ_SIZE)
                    except OSError:  # EIO: the terminal hung up (SIGHUP ends fwtop)
                        data = b""
                    if not data:  # end of input (a pipe, or the terminal hung up): stop watching it
                        selector.unregister(fileno)
                        continue
                    active = True
                    text = decode(data)
                    if text:  # empty: the first bytes of a UTF-8 character (feeding "" means the end)
                        for event in parser.feed(text):
                            self.process_message(event)
                for event in parser.tick():  # an escape sequence that timed out: the keys it held
                    active = True
                    self.process_message(event)
                # After input the parser may be holding an Escape for the rest of a sequence:
                # look again once the escape delay has passed (its time-out is then due: select
                # does not return early); otherwise sleep until woken.
                timeout = constants.ESCAPE_DELAY + 0.005 if active else None
        finally:
            selector.close()
            with contextlib.suppress(EOFError, ParseError):
                for _ in parser.feed(""):
                    pass

    def close(self) -> None:
        super().close()
        self.exit_event._wake_fd = -1  # never write to a closed (or reused) descriptor
        for fd in (self._wake_r, self._wake_w):
            with contextlib.suppress(OSError):
                os.close(fd)
