"""Every way out of the dashboard ends every workload and its whole process tree within 5 s.

fwtop runs a script (tests/scripts/spawns_workers.py) in a real terminal (tmux) whose two
worker processes ignore their parent's death; each test ends fwtop one way (q, Ctrl+C,
SIGTERM, SIGHUP, SIGKILL) and checks that fwtop, the workload, its workers and its guard
are all gone within 5 s. (The hang-up of a real ssh connection is in test_e2e_terminal.py.)
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="needs tmux")

SCRIPT = Path(__file__).parent / "scripts" / "spawns_workers.py"


def wait_for(cond, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = cond()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.parametrize("way", ["q", "ctrl+c", "SIGTERM", "SIGHUP", "SIGKILL"])
def test_every_way_out_ends_the_whole_tree(tmp_path, way, tmux_server):
    tmux = tmux_server
    name = f"fwtop-life-{way.replace('+', '-')}-{os.getpid()}"
    pids_file = tmp_path / "workers"
    command = f"exec {sys.executable} -m fwtop run --runs-dir {tmp_path / 'runs'} {SCRIPT} {pids_file}"
    tmux("kill-session", "-t", name)
    assert tmux("new-session", "-d", "-s", name, "-x", "160", "-y", "45", command).returncode == 0
    try:
        fwtop = psutil.Process(int(tmux("display", "-p", "-t", name, "#{pane_pid}").stdout.strip()))
        wait_for(pids_file.exists, 60, "the script's workers")
        workers = [psutil.Process(int(p)) for p in pids_file.read_text().split()]
        wait_for(lambda: "running" in tmux("capture-pane", "-p", "-t", name).stdout, 60, "the dashboard")
        tree = fwtop.children(recursive=True)
        names = sorted(p.name() for p in tree)
        assert "fwtop-guard" in names and len(tree) >= 4, names  # workload, guard, two workers
        assert all(w in tree for w in workers)
        if way == "q":
            tmux("send-keys", "-t", name, "q")
        elif way == "ctrl+c":
            tmux("send-keys", "-t", name, "C-c")
        else:
            fwtop.send_signal(getattr(signal, way))
        t0 = time.monotonic()
        _, alive = psutil.wait_procs([fwtop, *tree], timeout=5)
        alive = [p for p in alive if p.status() != psutil.STATUS_ZOMBIE]
        assert not alive, f"alive {time.monotonic() - t0:.1f} s after {way}: {[p.pid for p in alive]}"
    finally:
        tmux("kill-session", "-t", name)
    # Whatever way it ended (SIGKILL included: no summary.json then), the run directory replays.
    (run_dir,) = (tmp_path / "runs").iterdir()
    assert (run_dir / "summary.json").exists() == (way != "SIGKILL")
    if way in ("SIGTERM", "SIGHUP"):
        (w,) = json.loads((run_dir / "summary.json").read_text())["workloads"]
        assert w["state"] == "stopped" and w["reason"] == f"fwtop ended by {way}"
    replay = subprocess.run(
        [sys.executable, "-m", "fwtop", "replay", str(run_dir), "--headless"], capture_output=True, text=True
    )
    assert replay.returncode == 0, replay.stderr
    assert "spawns_workers" in replay.stdout and "Traceback" not in replay.stderr
