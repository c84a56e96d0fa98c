"""py-spy, run by the parent on a workload's processes: stack dumps and sampled recordings.

- :func:`dump_tree` dumps every process of a tree, one ``py-spy dump --json`` per PID
  (``dump --json --subprocesses`` returns only the parent's threads).
- :func:`record` runs ``py-spy record`` for a set duration into a file written under a
  temporary name and renamed when complete.

Every problem a user can fix (py-spy missing, ptrace not permitted) is a
:class:`PySpyError` whose message says how to fix it. These calls block: the
dashboard runs them in a thread.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from fwtop.probes.trees import is_guard

FORMATS = {"speedscope": ".speedscope.json", "flamegraph": ".svg", "raw": ".txt", "chrometrace": ".json"}
DUMP_TIMEOUT_S = 20.0


class PySpyError(Exception):
    """A py-spy problem, with the fix in its message (shown as one line)."""


def find_pyspy() -> str:
    """The py-spy next to this interpreter (the venv's), else the one on PATH."""
    names = ("py-spy.exe", "py-spy") if os.name == "nt" else ("py-spy",)
    for name in names:
        candidate = Path(sys.executable).parent / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    found = shutil.which("py-spy")
    if found:
        return found
    raise PySpyError("py-spy is not installed: pip install py-spy (in the environment fwtop runs from)")


def ptrace_scope() -> int | None:
    try:
        return int(Path("/proc/sys/kernel/yama/ptrace_scope").read_text().strip())
    except (OSError, ValueError):
        return None


def permission_fix(pid: int) -> str:
    """Why py-spy may not attach to ``pid`` here, and what fixes it."""
    scope = ptrace_scope()
    fixes = []
    if scope == 1:
        fixes.append(
            "Yama ptrace_scope is 1: fwtop's own workloads allow it, other processes need "
            "`sudo sysctl kernel.yama.ptrace_scope=0` or running fwtop with sudo"
        )
    elif scope in (2, 3):
        fixes.append(
            f"Yama ptrace_scope is {scope}: run fwtop as root (scope 2) or reboot with a lower scope (3 is permanent)"
        )
    else:
        fixes.append("run fwtop as the same user as the process, or as root")
    if Path("/.dockerenv").exists() or os.environ.get("KUBERNETES_SERVICE_HOST"):
        fixes.append("in a container add the SYS_PTRACE capability (docker run --cap-add SYS_PTRACE)")
    return f"py-spy may not trace pid {pid}: permission denied; " + "; ".join(fixes)


def _explain_failure(pid: int, rc: int, stderr: str) -> str:
    text = " ".join(stderr.split())
    low = text.lower()
    if "permission denied" in low or "operation not permitted" in low or "eperm" in low:
        return permission_fix(pid)
    if "no such process" in low or not psutil.pid_exists(pid):
        return f"pid {pid} has exited"
    if "failed to find python interpreter" in low or "failed to get process executable" in low:
        return f"pid {pid} is not a Python process"
    return f"py-spy failed on pid {pid} (exit {rc}): {text[:300] or 'no message'}"


def process_tree(pid: int) -> list[psutil.Process]:
    """The process and all its descendants (data-loader workers, compile helpers...), without
    fwtop's own guard process (see workloads/child/bootstrap.py)."""
    try:
        root = psutil.Process(pid)
    except psutil.NoSuchProcess:
        raise PySpyError(f"pid {pid} has exited") from None
    procs = [root]
    try:
        procs += [p for p in root.children(recursive=True) if not is_guard(p)]
    except psutil.Error:
        pass
    return procs


@dataclass
class Frame:
    name: str
    filename: str
    line: int | None


@dataclass
class Thread:
    id: int
    name: str
    active: bool
    owns_gil: bool
    frames: list[Frame] = field(default_factory=list)


@dataclass
class ProcessDump:
    pid: int
    command: str
    threads: list[Thread] = field(default_factory=list)
    error: str = ""  # why this process could not be dumped (e.g. not Python)


def _parse_dump(data) -> list[Thread]:
    threads = []
    for t in data if isinstance(data, list) else []:
        frames = [
            Frame(str(f.get("name", "?")), str(f.get("filename", "?")), f.get("line"))
            for f in t.get("frames", [])
            if isinstance(f, dict)
        ]
        threads.append(
            Thread(
                id=int(t.get("thread_id") or 0),
                name=str(t.get("thread_name") or ""),
                active=bool(t.get("active")),
                owns_gil=bool(t.get("owns_gil")),
                frames=frames,
            )
        )
    return threads


def dump_process(pid: int, native: bool = False, exe: str | None = None) -> ProcessDump:
    exe = exe or find_pyspy()
    try:
        command = " ".join(psutil.Process(pid).cmdline())[:200]
    except psutil.Error:
        command = "?"
    cmd = [exe, "dump", "--pid", str(pid), "--json"] + (["--native"] if native else [])
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=DUMP_TIMEOUT_S, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return ProcessDump(pid, command, error=f"py-spy dump of pid {pid} took over {DUMP_TIMEOUT_S:.0f} s")
    except OSError as exc:
        raise PySpyError(f"cannot run {exe}: {exc.strerror or exc}") from None
    if proc.returncode != 0:
        return ProcessDump(pid, command, error=_explain_failure(pid, proc.returncode, proc.stderr or proc.stdout))
    try:
        threads = _parse_dump(json.loads(proc.stdout))
    except ValueError:
        return ProcessDump(pid, command, error=f"py-spy printed no JSON for pid {pid}")
    return ProcessDump(pid, command, threads)


def dump_tree(pid: int, native: bool = False) -> list[ProcessDump]:
    """Dump every process of ``pid``'s tree. Raises PySpyError when py-spy is missing, the
    process is gone, or not one process could be dumped for lack of permission."""
    exe = find_pyspy()
    dumps = [dump_process(p.pid, native, exe) for p in process_tree(pid)]
    if dumps and dumps[0].error.startswith("py-spy may not trace"):
        raise PySpyError(dumps[0].error)
    return dumps


def format_dump(dumps: list[ProcessDump]) -> list[str]:
    """Text lines for a terminal: innermost frame first, as py-spy prints them."""
    lines = []
    for d in dumps:
        lines.append(f"Process {d.pid}: {d.command}")
        if d.error:
            lines.append(f"  ({d.error})")
        for t in d.threads:
            flags = ", ".join(x for x in ("active" if t.active else "idle", "owns GIL" if t.owns_gil else "") if x)
            lines.append(f"  Thread {t.id:#x} {t.name!r} ({flags})")
            for f in t.frames:
                where = f"{f.filename}:{f.line}" if f.line else f.filename
                lines.append(f"    {f.name} ({where})")
        lines.append("")
    return lines


def output_path(directory: Path, label: str, fmt: str) -> Path:
    """A new file name for a recording; never one that exists."""
    if fmt not in FORMATS:
        raise PySpyError(f"unknown py-spy format {fmt!r}: choose {', '.join(FORMATS)}")
    slug = "".join(c if c.isalnum() or c in "-_." else "-" for c in label).strip("-") or "workload"
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for n in range(1, 1000):
        path = directory / f"pyspy-{slug}-{stamp}{'' if n == 1 else f'-{n}'}{FORMATS[fmt]}"
        if not path.exists():
            return path
    raise PySpyError(f"too many recordings named like {path}")


def record(
    pid: int,
    path: Path,
    duration: float = 5.0,
    fmt: str = "speedscope",
    native: bool = False,
    subprocesses: bool = True,
    rate: int = 100,
) -> Path:
    """``py-spy record`` of ``pid`` for ``duration`` seconds into ``path`` (written as
    ``.path.tmp`` and renamed when complete). Returns the path; raises PySpyError."""
    if fmt not in FORMATS:
        raise PySpyError(f"unknown py-spy format {fmt!r}: choose {', '.join(FORMATS)}")
    if not duration > 0:
        raise PySpyError(f"a recording needs a duration > 0 s, got {duration}")
    exe = find_pyspy()
    if not psutil.pid_exists(pid):
        raise PySpyError(f"pid {pid} has exited")
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise PySpyError(f"cannot create {path.parent}: {exc.strerror or exc}") from None
    tmp = path.with_name(f".{path.name}.tmp")
    cmd = [exe, "record", "--pid", str(pid), "--duration", str(max(1, round(duration)))]
    cmd += ["--rate", str(rate), "--format", fmt, "--output", str(tmp)]
    cmd += (["--native"] if native else []) + (["--subprocesses"] if subprocesses else [])
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + 60, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        tmp.unlink(missing_ok=True)
        raise PySpyError(f"py-spy record of pid {pid} did not finish") from None
    except OSError as exc:
        raise PySpyError(f"cannot run {exe}: {exc.strerror or exc}") from None
    if proc.returncode != 0 or not tmp.is_file() or tmp.stat().st_size == 0:
        tmp.unlink(missing_ok=True)
        raise PySpyError(_explain_failure(pid, proc.returncode, proc.stderr or proc.stdout or "no output file"))
    os.replace(tmp, path)
    return path
