"""Disk trouble and sockets: recording stops visibly, nothing listens."""

import json
import resource
import subprocess
import sys
import time

import psutil
from conftest import PYTHON, TINY, has_framework, needs

from fwtop.session.rundir import read_jsonl


@needs("torch")
def test_file_size_limit_stops_recording_not_the_run(tmp_path):
    limit = 16 * 1024

    def small_files():
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    tiny = TINY["mlp"]
    proc = subprocess.run(
        [
            PYTHON,
            "-m",
            "fwtop",
            "compare",
            "torch",
            "--model",
            "mlp",
            "--device",
            "cpu",
            "--steps",
            "120",
            "--batch",
            str(tiny["batch"]),
            "--width",
            str(tiny["width"]),
            "--depth",
            str(tiny["depth"]),
            "--size",
            f"in_dim={tiny['in_dim']}",
            "--runs-dir",
            str(tmp_path),
            "--headless",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        preexec_fn=small_files,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr  # the workload itself finished
    assert "recording stopped: cannot write" in proc.stdout and "File too large" in proc.stdout
    assert "Traceback" not in proc.stdout + proc.stderr
    run = next(tmp_path.iterdir())
    events = read_jsonl(run / "events.jsonl")  # what was written stays readable
    assert events and events[0]["event"] == "hello"
    assert (run / "events.jsonl").stat().st_size <= limit
    assert json.loads((run / "config.json").read_text())["workloads"]


@needs("torch")
def test_no_listening_socket(tmp_path):
    fws = ["torch"] + (["jax"] if has_framework("jax") else [])
    parent = subprocess.Popen(
        [
            PYTHON,
            "-m",
            "fwtop",
            "compare",
            *fws,
            "--model",
            "mlp",
            "--device",
            "cpu",
            "--steps",
            "0",
            "--batch",
            "8",
            "--width",
            "32",
            "--depth",
            "1",
            "--size",
            "in_dim=16",
            "--runs-dir",
            str(tmp_path),
            "--headless",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        seen_steps = set()
        while len(seen_steps) < len(fws) and time.monotonic() < deadline:
            line = parent.stdout.readline()
            for fw in fws:
                if line.startswith(f"[{fw}-mlp] step "):
                    seen_steps.add(fw)
        assert len(seen_steps) == len(fws), "workloads did not start"
        procs = [psutil.Process(parent.pid)] + psutil.Process(parent.pid).children(recursive=True)
        assert len(procs) >= 1 + len(fws)
        listening = [
            (p.pid, c.laddr) for p in procs for c in p.net_connections(kind="all") if c.status == psutil.CONN_LISTEN
        ]
        assert listening == []
    finally:
        parent.terminate()
        parent.wait(30)
    assert parent.returncode == 130  # SIGTERM: workloads stopped, summary written
    run = next(tmp_path.iterdir())
    assert (run / "summary.json").exists()


def test_sigxfsz_is_ignored_once_recording():
    code = (
        "import signal; from fwtop.session.rundir import ignore_file_size_signal; ignore_file_size_signal(); "
        "print(signal.getsignal(signal.SIGXFSZ) == signal.SIG_IGN)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "True"
