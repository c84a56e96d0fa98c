"""Session and Runner with real child processes: lifecycle, failures, the run directory."""

import asyncio
import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import psutil
import pytest
from conftest import PYTHON, TINY, needs, run_fwtop, run_session, tiny_torch

from fwtop.session.rundir import read_jsonl
from fwtop.session.session import FAILED, FINISHED, PAUSED, RUNNING, STOPPED, Session
from fwtop.workloads.spec import WorkloadSpec

pytestmark = needs("torch")


async def wait_for(cond, timeout=120.0, what="condition"):
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


@pytest.fixture(scope="module")
def bare_python(tmp_path_factory):
    """An interpreter with no framework installed: a fresh venv without pip."""
    d = tmp_path_factory.mktemp("bare-venv")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(d)], check=True, timeout=120)
    return str(d / "bin" / "python")


async def test_pause_resume_stop(tmp_path):
    s = Session([tiny_torch()], runs_dir=str(tmp_path))
    await s.start()
    w = s.workloads[0]
    series = s.timeline.steps(w.id)
    try:
        await wait_for(lambda: series.count >= 3, what="3 steps")
        assert w.state == RUNNING
        assert s.pause(w.id)
        await wait_for(lambda: w.state == PAUSED, timeout=30, what="paused")
        n = series.count
        await asyncio.sleep(0.6)
        assert series.count == n  # no step while paused
        assert s.resume(w.id)
        await wait_for(lambda: series.count > n + 2, timeout=30, what="steps after resume")
        await s.stop_workload(w.id)
    finally:
        await s.stop()
    assert w.state == STOPPED and w.exit_code == 0 and w.bye["reason"] == "stopped"
    kinds = [e["event"] for e in read_jsonl(s.rundir.path / "events.jsonl") if e["w"] == w.id]
    assert "state" in kinds and kinds[-2:] == ["bye", "exit"]


async def test_killed_child_is_reported_failed(tmp_path):
    s = Session([tiny_torch(), tiny_torch(steps=8)], runs_dir=str(tmp_path))
    await s.start()
    victim, other = s.workloads
    await wait_for(lambda: s.timeline.steps(victim.id).count >= 2, what="steps")
    os.kill(victim.runner.pid, signal.SIGKILL)
    await s.wait()
    summary = await s.close()
    assert victim.state == FAILED and victim.exit_code == -signal.SIGKILL
    assert "killed by SIGKILL" in victim.reason and "out-of-memory killer" in victim.reason
    assert other.state == FINISHED  # the others carry on
    assert summary["failed"] == [victim.label]


def test_child_exits_when_parent_is_killed(tmp_path):
    """SIGKILL of the parent: the child sees its control pipe close and exits on its own."""
    script = textwrap.dedent(f"""
        import asyncio, sys
        from fwtop.session.session import Session
        from fwtop.workloads.spec import WorkloadSpec
        async def main():
            spec = WorkloadSpec.create("torch", model="mlp", sizes={TINY["mlp"]!r}, device="cpu", steps=0)
            s = Session([spec], runs_dir={str(tmp_path)!r})
            await s.start()
            w = s.workloads[0]
            while s.timeline.steps(w.id).count < 2:
                await asyncio.sleep(0.05)
            print(w.runner.pid, flush=True)
            await asyncio.sleep(600)
        asyncio.run(main())
    """)
    parent = subprocess.Popen([PYTHON, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        child_pid = int(parent.stdout.readline())
        child = psutil.Process(child_pid)
        parent.kill()
        parent.wait(10)
        t0 = time.monotonic()
        try:
            child.wait(timeout=10)
        except psutil.TimeoutExpired:
            child.kill()
            raise AssertionError("child outlived its parent by 10 s") from None
        assert time.monotonic() - t0 < 5
    finally:
        parent.kill()


async def test_missing_framework_is_clear_and_others_carry_on(tmp_path, bare_python):
    missing = WorkloadSpec.create("jax", model="mlp", sizes=TINY["mlp"], python=bare_python, steps=3)
    s, summary = await asyncio.to_thread(run_session, [missing, tiny_torch(steps=3)], tmp_path)
    w_missing, w_ok = s.workloads
    assert w_missing.state == FAILED and w_missing.exit_code == 3
    assert w_missing.error["type"] == "FrameworkMissing"
    assert w_missing.reason == f"FrameworkMissing: jax is not installed in {bare_python}: pip install 'fwtop[jax]'"
    assert w_ok.state == FINISHED


async def test_garbage_from_a_child_is_counted_not_fatal(tmp_path):
    fake = tmp_path / "fake-python"
    fake.write_text(
        textwrap.dedent("""\
        #!/bin/bash
        fd=$FWTOP_EVENT_FD
        printf 'not json\\n' >&$fd
        printf '\\377\\376\\n' >&$fd
        printf '{"v":1,"event":"step","t":1,"index":"x","duration":1}\\n' >&$fd
        printf '{"v":1,"event":"bye","t":1,"steps":0,"reason":"done"}\\n' >&$fd
        printf '{"v":1,"event":"hel' >&$fd
        echo "a line of output"
        exit 0
    """)
    )
    fake.chmod(0o755)
    spec = WorkloadSpec.create("torch", python=str(fake))
    s, _ = await asyncio.to_thread(run_session, [spec], tmp_path)
    w = s.workloads[0]
    assert w.invalid == 4, (list(w.log), w.state, w.reason)  # three bad lines and the torn last one
    assert "a line of output" in list(w.log)
    invalid = [e for e in read_jsonl(s.rundir.path / "events.jsonl") if e["event"] == "invalid"]
    assert len(invalid) == 4


def test_run_directory_contents_and_never_overwritten(tmp_path):
    spec = tiny_torch(steps=5)
    s1, summary = run_session([spec], tmp_path, name="same")
    s2, _ = run_session([spec], tmp_path, name="same")
    assert s1.rundir.path != s2.rundir.path and s1.rundir.path.exists()
    d = s1.rundir.path
    config = json.loads((d / "config.json").read_text())
    assert config["workloads"][0]["framework"] == "torch" and config["workloads"][0]["sizes"]["width"] == 64
    events = read_jsonl(d / "events.jsonl")
    kinds = [e["event"] for e in events]
    assert kinds[0] == "hello" and kinds.count("step") == 5 and kinds[-2:] == ["bye", "exit"]
    assert [e["index"] for e in events if e["event"] == "step"] == list(range(5))
    samples = read_jsonl(d / "samples.jsonl")
    assert any(x["target"] == "host" for x in samples)
    assert (d / "logs").is_dir()
    saved = json.loads((d / "summary.json").read_text())
    w = saved["workloads"][0]
    assert w["state"] == FINISHED and w["steps"] == 5 and w["steady_steps"] == 3 and w["excluded_steps"] == 2
    assert w["step_time_s"]["median"] > 0 and w["samples_per_s"] > 0 and w["params"] == w["params"]
    assert summary == saved


def test_headless_compare_cli(tmp_path):
    proc = run_fwtop(
        "compare",
        "torch",
        "torch",
        "--model",
        "mlp",
        "--device",
        "cpu",
        "--steps",
        "5",
        "--size",
        "in_dim=32",
        "--width",
        "64",
        "--depth",
        "2",
        "--batch",
        "16",
        "--runs-dir",
        str(tmp_path),
        "--json",
    )
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    labels = [w["label"] for w in summary["workloads"]]
    assert labels == ["torch-mlp", "torch-mlp-2"]
    assert summary["workloads"][0]["ratio_to_first"] == 1.0
    assert len(summary["warnings"]) == 1 and "2 workloads share the CPU" in summary["warnings"][0]
    assert "fwtop: warning: 2 workloads share the CPU" in proc.stderr
    assert "step 5/5" in proc.stderr or "finished after 5 steps" in proc.stderr
    text = run_fwtop(
        "compare",
        "torch",
        "--model",
        "matmul",
        "--width",
        "64",
        "--depth",
        "2",
        "--steps",
        "4",
        "--no-record",
        "--sequential",
    )
    assert text.returncode == 0, text.stderr
    assert "TFLOP/s" in text.stdout and "torch-matmul" in text.stdout
    assert "share the CPU" not in text.stdout  # one workload, and sequential


def test_headless_exit_status_on_failure(tmp_path, bare_python):
    proc = run_fwtop("compare", "tensorflow", "--python", bare_python, "--runs-dir", str(tmp_path))
    assert proc.returncode == 1
    assert "FAILED" in proc.stdout and "tensorflow is not installed in" in proc.stdout
    assert "Traceback" not in proc.stdout + proc.stderr


def test_out_of_memory_fails_with_its_reason_and_the_other_finishes(tmp_path):
    """A real allocation failure (a 640 GB weight matrix) fails that workload, named; the other finishes."""
    huge = WorkloadSpec.create(
        "torch", model="mlp", sizes={"batch": 4, "in_dim": 16, "width": 400_000, "depth": 2}, device="cpu", steps=3
    )
    session, summary = run_session([huge, tiny_torch(steps=3)], tmp_path)
    oom, ok = session.workloads
    assert oom.state == FAILED and "can't allocate memory" in oom.reason, oom.reason
    assert ok.state == FINISHED
    assert session.failed
    assert summary == json.loads((session.rundir.path / "summary.json").read_text())
    assert [w["state"] for w in summary["workloads"]] == ["failed", "finished"]
    assert "can't allocate memory" in summary["workloads"][0]["reason"]


async def test_a_hanging_workload_is_marked_stalled_and_recovers(tmp_path):
    """A child that stops making steps shows as stalled; when steps resume it is running again."""
    fake = tmp_path / "slow-python"
    fake.write_text(
        textwrap.dedent("""\
        #!/bin/bash
        fd=$FWTOP_EVENT_FD
        now() { date +%s.%N; }
        printf '{"v":1,"event":"hello","t":%s,"framework":"torch"}\\n' "$(now)" >&$fd
        printf '{"v":1,"event":"step","t":%s,"index":0,"duration":0.1}\\n' "$(now)" >&$fd
        sleep 2.5
        printf '{"v":1,"event":"step","t":%s,"index":1,"duration":0.1}\\n' "$(now)" >&$fd
        sleep 30
    """)
    )
    fake.chmod(0o755)
    s = Session([WorkloadSpec.create("torch", python=str(fake))], runs_dir=str(tmp_path), stall_after=1.0)
    await s.start()
    w = s.workloads[0]
    try:
        await wait_for(lambda: w.state == "stalled", timeout=10, what="stalled")
        assert w.reason == "no step for 1 s"
        await wait_for(lambda: w.state == RUNNING, timeout=10, what="running again")
        assert w.reason == ""
        await wait_for(lambda: w.state == "stalled", timeout=10, what="stalled again")
    finally:
        await s.stop()
    assert w.state == STOPPED
    kinds = [e["event"] for e in read_jsonl(s.rundir.path / "events.jsonl")]
    assert kinds.count("stalled") == 2


def test_shared_cpu_warning_counts_every_workload_that_joins(tmp_path):
    """Said once, when the second CPU workload says hello; the recorded text follows a third."""
    session = Session([tiny_torch(), tiny_torch(), tiny_torch()], runs_dir=str(tmp_path), record=False)
    said = []
    session.listeners.append(lambda kind, wid: said.append(kind) if kind == "warning" else None)
    for w in session.workloads:
        w.hello = {"device_kind": "cpu"}
        session._check_shared_cpu()
    assert said == ["warning"]
    assert len(session.warnings) == 1 and session.warnings[0].startswith("3 workloads share the CPU")
