"""fwtop attach --trace: a trace captured through the profiler server of a JAX process
fwtop did not start (TensorFlow's profiler client, run in the process's own interpreter)."""

import socket
import subprocess
import time

import pytest
from conftest import PYTHON, REPO, needs, run_fwtop


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def jax_server():
    port = _free_port()
    proc = subprocess.Popen(
        [PYTHON, str(REPO / "tests" / "scripts" / "jax_profiler_server.py"), str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    t0 = time.monotonic()
    for line in proc.stdout:
        if "serving profiles" in line:
            break
        assert time.monotonic() - t0 < 120
    yield proc, port
    proc.kill()
    proc.wait(timeout=30)


@needs("jax")
@needs("tensorflow")
def test_trace_through_a_jax_profiler_server(jax_server, tmp_path):
    proc, port = jax_server
    out = tmp_path / "trace"
    res = run_fwtop("attach", str(proc.pid), "--trace", "1", "--profiler-port", str(port), "--output", str(out))
    assert res.returncode == 0, res.stderr
    (xplane,) = out.glob("plugins/profile/*/*.xplane.pb")
    data = xplane.read_bytes()
    assert len(data) > 1000 and b"jit_train_step" in data  # the process's own jitted step is in the trace
    assert str(xplane) in res.stdout
    assert not list(tmp_path.glob(".*.tmp"))
    assert proc.poll() is None  # the process goes on


@needs("jax")
def test_trace_errors_are_one_line_exit_2(jax_server, tmp_path):
    proc, port = jax_server
    res = run_fwtop("attach", str(proc.pid), "--trace", "1")
    assert res.returncode == 2 and "--trace needs --profiler-port" in res.stderr
    (tmp_path / "exists").mkdir()
    res = run_fwtop(
        "attach", str(proc.pid), "--trace", "1", "--profiler-port", str(port), "--output", str(tmp_path / "exists")
    )
    assert res.returncode == 2 and "never overwrites" in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1
