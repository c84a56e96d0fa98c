"""Trace capture through the profiler server of a process fwtop did not start
(``jax.profiler.start_server(PORT)`` or ``tf.profiler.experimental.server.start(PORT)``).

The capture runs TensorFlow's profiler client in a child interpreter (by default the
process's own, which has its framework), never in fwtop itself. The trace is written
into a temporary folder renamed when complete: ``<out>/plugins/profile/<time>/<host>.xplane.pb``,
a TensorBoard log directory (``tensorboard --logdir <out>`` with the profile plugin, or xprof).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import psutil

import fwtop.workloads.child as child_pkg

REMOTE_TRACE = Path(child_pkg.__file__).resolve().parent / "remote_trace.py"


class ProfilerServerError(Exception):
    """A capture that could not be made; the message says why (one line)."""


def interpreter_of(pid: int) -> str:
    """The interpreter as the process was started (a venv's python is a symlink: its path, not
    its target, gives the venv's packages), else its executable."""
    try:
        proc = psutil.Process(pid)
        cmd = proc.cmdline()
        if cmd and Path(cmd[0]).is_absolute() and Path(cmd[0]).exists():
            return cmd[0]
        return proc.exe()
    except psutil.Error as exc:
        raise ProfilerServerError(f"cannot find the interpreter of pid {pid}: {exc}") from None


def capture(pid: int, port: int, duration_s: float, out: Path, python: str | None = None) -> list[tuple[Path, int]]:
    """Trace ``duration_s`` seconds through the server on 127.0.0.1:``port`` into ``out``
    (which must not exist). Returns the files written, with their sizes."""
    if not 0 < port < 65536:
        raise ProfilerServerError(f"port must be 1..65535, got {port}")
    if not duration_s > 0:
        raise ProfilerServerError(f"a trace needs a duration > 0 s, got {duration_s}")
    out = Path(out)
    if out.exists():
        raise ProfilerServerError(f"{out} exists already: a capture never overwrites another")
    python = python or interpreter_of(pid)
    tmp = out.with_name(f".{out.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        tmp.mkdir(parents=True)
    except OSError as exc:
        raise ProfilerServerError(f"cannot create {tmp}: {exc.strerror or exc}") from None
    cmd = [python, str(REMOTE_TRACE), str(port), str(max(1, round(duration_s * 1000))), str(tmp)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=duration_s + 180, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise ProfilerServerError(f"the trace client in {python} failed: {exc}") from None
    result = None
    for line in reversed(proc.stdout.splitlines()):
        try:
            result = json.loads(line)
            break
        except ValueError:
            continue
    if not isinstance(result, dict) or not result.get("ok") or not result.get("files"):
        shutil.rmtree(tmp, ignore_errors=True)
        why = result.get("error") if isinstance(result, dict) else None
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise ProfilerServerError(why or f"the trace client in {python} failed (exit {proc.returncode}): {tail}")
    tmp.rename(out)
    return [(out / Path(p).relative_to(tmp), int(n)) for p, n in result["files"]]
