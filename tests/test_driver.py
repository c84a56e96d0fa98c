"""fwtop's terminal driver (tui/driver.py) in a real terminal: its input thread sleeps while
no key comes, keys still arrive (a lone Escape too, after the escape delay), and quitting
wakes it at once."""

import os
import shutil
import sys
import time
from pathlib import Path

import psutil
import pytest

from fwtop.tui.driver import THREAD_NAME

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None or sys.platform != "linux", reason="needs tmux, Linux")

FIXTURE = Path(__file__).resolve().parent / "data" / "replay-three"


def input_thread(pid: int) -> Path:
    for task in Path(f"/proc/{pid}/task").iterdir():
        if (task / "comm").read_text().strip() == THREAD_NAME:
            return task
    raise AssertionError(f"no {THREAD_NAME} thread in {pid}")


def wakeups(task: Path) -> int:
    """The thread's voluntary context switches: one each time it sleeps (select) again."""
    status = (task / "status").read_text()
    return int(status.split("voluntary_ctxt_switches:")[1].split()[0])


def wait_for(cond, timeout=30.0, what="condition"):
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def test_input_thread_sleeps_until_a_key(tmux_server, tmp_path):
    tmux = tmux_server
    name = f"fwtop-driver-{os.getpid()}"
    command = f"exec {sys.executable} -m fwtop replay {FIXTURE} --end"
    tmux("new-session", "-d", "-s", name, "-x", "160", "-y", "45", command, check=True)
    try:
        fwtop = psutil.Process(int(tmux("display", "-p", "-t", name, "#{pane_pid}").stdout.strip()))
        screen = lambda: tmux("capture-pane", "-p", "-t", name).stdout  # noqa: E731
        wait_for(lambda: "step time" in screen(), what="the dashboard")
        task = input_thread(fwtop.pid)
        time.sleep(0.5)  # the terminal's answers to start-up queries, and their escape delay
        before = wakeups(task)
        time.sleep(2.0)
        # Textual's own thread wakes 10 times a second: 20 here. A late answer from the terminal
        # to a start-up query would be one wake-up for it and one after the escape delay.
        assert wakeups(task) - before <= 2

        tmux("send-keys", "-t", name, "?")
        wait_for(lambda: "fwtop keys" in screen(), what="the help screen")
        tmux("send-keys", "-t", name, "Escape")  # alone: delivered once the escape delay is over
        wait_for(lambda: "fwtop keys" not in screen(), what="Escape to close the help screen")
        time.sleep(0.5)
        before = wakeups(task)
        time.sleep(2.0)
        assert wakeups(task) - before <= 2  # asleep again after the keys

        tmux("send-keys", "-t", name, "q")
        wait_for(lambda: not fwtop.is_running() or fwtop.status() == psutil.STATUS_ZOMBIE, 10, "fwtop to quit")
    finally:
        tmux("kill-session", "-t", name)
