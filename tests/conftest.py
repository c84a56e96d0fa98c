import asyncio
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PYTHON = sys.executable

# Tiny sizes: every model trains 20 steps in well under a second per step on 2 cores,
# and the loss still falls.
TINY = {
    "matmul": {"width": 64, "depth": 2},
    "mlp": {"batch": 16, "in_dim": 32, "width": 64, "depth": 2},
    "cnn": {"batch": 4, "width": 8, "stages": 2},
    "transformer": {"batch": 4, "seq_len": 16, "width": 32, "heads": 2, "depth": 1, "vocab": 64},
}


def has_framework(fw: str) -> bool:
    return importlib.util.find_spec(fw) is not None


def needs(fw: str):
    return pytest.mark.skipif(not has_framework(fw), reason=f"{fw} is not installed")


def run_fwtop(*args, timeout=300, env=None, cwd=None):
    """Run the real `fwtop` CLI in a subprocess."""
    return subprocess.run(
        [PYTHON, "-m", "fwtop", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
        env={**os.environ, **(env or {})},
        stdin=subprocess.DEVNULL,
    )


# The terminal tests' own tmux server (never the user's default one), started once per test
# run with exit-empty off: with the default server, the session one test kills is often the
# last, the server exits, and the next test's new-session can reach it while it shuts down
# ("server exited unexpectedly"). remain-on-exit keeps what a program printed last on screen.
TMUX_SOCKET = f"fwtop-tests-{os.getpid()}"


def tmux(*args: str, check: bool = False) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["tmux", "-L", TMUX_SOCKET, "-f", "/dev/null", *args], capture_output=True, text=True, check=check
    )


@pytest.fixture(scope="session")
def tmux_server():
    """tmux on this run's server: ``tmux_server("new-session", ...)``; the server ends with the run."""
    tmux("start-server", ";", "set-option", "-g", "exit-empty", "off", ";",
         "set-option", "-wg", "remain-on-exit", "on", check=True)  # fmt: skip
    socket = tmux("display-message", "-p", "#{socket_path}").stdout.strip()
    yield tmux
    tmux("kill-server")
    if socket:
        Path(socket).unlink(missing_ok=True)


def tiny_torch(steps=0, **kw):
    """A tiny torch mlp on the CPU (runs until stopped by default)."""
    from fwtop.workloads.spec import WorkloadSpec

    return WorkloadSpec.create("torch", model="mlp", sizes=TINY["mlp"], device="cpu", steps=steps, **kw)


async def pilot_wait_for(pilot, cond, timeout=120.0, what="condition"):
    """Let a Textual pilot run until ``cond()`` holds (AssertionError after ``timeout`` s)."""
    import time

    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.1)


def run_session(specs, tmp_path, **kw):
    from fwtop.session.session import Session

    session = Session(specs, runs_dir=str(tmp_path), name=kw.pop("name", "test"), **kw)
    summary = asyncio.run(session.run())
    return session, summary


def _has_cuda_gpu() -> bool:
    import shutil

    if shutil.which("nvidia-smi") is None:
        return False
    try:
        out = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return out.returncode == 0 and "GPU" in out.stdout


def pytest_collection_modifyitems(config, items):
    """Tests marked `gpu` need a CUDA GPU: skipped, with the reason, where there is none."""
    if any("gpu" in item.keywords for item in items) and not _has_cuda_gpu():
        skip = pytest.mark.skip(reason="no CUDA GPU on this machine (nvidia-smi -L finds none)")
        for item in items:
            if "gpu" in item.keywords:
                item.add_marker(skip)
