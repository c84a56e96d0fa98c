"""Headless profiling: `fwtop compare ... --profile-at STEP --profile-steps N`, and its bad uses."""

import asyncio
import json
import shutil
from pathlib import Path

import pytest
from conftest import TINY, needs, run_fwtop

from fwtop.session.replay import ReplaySession
from fwtop.session.session import Session
from fwtop.session.traces import load_events
from fwtop.workloads.spec import WorkloadSpec

SIZES = ["--batch", str(TINY["mlp"]["batch"]), "--width", str(TINY["mlp"]["width"]), "--depth", "2"]


@needs("torch")
def test_headless_profile_at_writes_a_capture_and_lists_it(tmp_path):
    proc = run_fwtop(
        "compare", "torch", "--model", "mlp", *SIZES, "--device", "cpu", "--steps", "8",
        "--profile-at", "4", "--profile-steps", "2", "--profile-with", "shapes", "--runs-dir", str(tmp_path), "--json",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    (cap,) = summary["captures"]
    assert cap["state"] == "done" and cap["first_step"] == 4 and cap["captured"] == 2 and not cap["partial"]
    (trace,) = [f for f in cap["files"] if f["role"] == "trace"]
    path = Path(trace["path"])
    assert path.is_file() and path.stat().st_size == trace["bytes"]
    events = load_events(path)
    assert any("Input Dims" in (e.get("args") or {}) for e in events if isinstance(e, dict))  # --profile-with shapes
    assert path.is_relative_to(Path(summary["run_dir"]) / "traces" / "w0" / "plugins" / "profile")
    assert "profile: done" in proc.stderr and str(path) in proc.stderr  # progress names the file
    assert summary["workloads"][0]["excluded_steps"] == 2 + 2  # warm-up and profiled steps
    recorded = json.loads((Path(summary["run_dir"]) / "summary.json").read_text())
    assert recorded["captures"][0]["files"] == cap["files"]
    # A replay of the run rebuilds the capture (the traces screen lists it) and the profiled steps.
    replay = ReplaySession(summary["run_dir"], jump_to_end=True)
    asyncio.run(replay.run())
    (again,) = replay.traces.captures
    assert again.state == "done" and again.files == cap["files"] and again.first_step == 4
    assert replay.timeline.steps("w0").profiled == 2


@needs("torch")
def test_headless_table_lists_capture_paths_without_recording(tmp_path):
    proc = run_fwtop(
        "compare", "torch", "--model", "mlp", *SIZES, "--device", "cpu", "--steps", "6",
        "--profile-at", "3", "--profile-steps", "1", "--no-record", "--headless", cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "profile of torch-mlp (steps 3-3):" in proc.stdout
    assert "top operations by self time in the profiled steps" in proc.stdout
    assert "torch-mlp: op (by self time)" in proc.stdout and "aten::" in proc.stdout
    where = Path(proc.stdout.split("traces (not recording): ", 1)[1].split()[0])
    try:
        line = next(x for x in proc.stdout.splitlines() if x.strip().endswith(")") and ".pt.trace.json" in x)
        path = Path(line.strip().rsplit(" (", 1)[0])
        assert path.is_file() and path.is_relative_to(where)
        assert not (tmp_path / "runs").exists()
    finally:
        shutil.rmtree(where, ignore_errors=True)


@pytest.mark.parametrize(
    "argv,message",
    [
        (["--profile-steps", "3"], "--profile-steps needs --profile-at"),
        (["--profile-at", "2", "--profile-steps", "0"], "--profile-steps must be from 1"),
        (["--steps", "5", "--profile-at", "3", "--profile-steps", "4"], "ends after the last step of torch"),
        (["--profile-at", "x"], "expected a whole number"),
        (["--profile-at", "1", "--profile-with", "shapes,flops"], "unknown option flops"),
    ],
)
def test_bad_profile_flags_are_one_line_exit_2(argv, message):
    proc = run_fwtop("compare", "torch", "--no-record", *argv, timeout=60)
    assert proc.returncode == 2 and message in proc.stderr, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr


CONFIG = """
[session]
profile_at = 2
profile_steps = 2

[[workload]]
framework = "torch"
model = "mlp"
device = "cpu"
steps = 6
sizes = { batch = 16, width = 64, depth = 2 }
"""


@needs("torch")
def test_config_keys_profile_at(tmp_path):
    cfg = tmp_path / "fwtop.toml"
    cfg.write_text(CONFIG)
    proc = run_fwtop("-c", str(cfg), "--runs-dir", str(tmp_path / "runs"), "--json")
    assert proc.returncode == 0, proc.stderr
    (cap,) = json.loads(proc.stdout)["captures"]
    assert cap["state"] == "done" and cap["first_step"] == 2 and cap["captured"] == 2
    cfg.write_text(CONFIG.replace("profile_steps = 2", "profile_steps = -1"))
    proc = run_fwtop("-c", str(cfg), "--no-record", timeout=60)
    assert proc.returncode == 2 and "session.profile_steps: must be a whole number >= 0" in proc.stderr


@needs("torch")
async def test_workload_ending_during_a_capture_writes_a_partial_one(tmp_path):
    spec = WorkloadSpec.create("torch", model="mlp", sizes=TINY["mlp"], device="cpu", steps=5)
    # Steps long enough (about 0.1-1 s each) that the profile command, sent at its hello, reaches the
    # child before its last step: with tiny steps it could finish first and never answer the command.
    slow = {"batch": 256, "in_dim": 512, "width": 1024, "depth": 3}
    late = WorkloadSpec.create("torch", model="mlp", sizes=slow, device="cpu", steps=3, name="late")
    s = Session([spec, late], runs_dir=str(tmp_path), sequential=True)
    s.profile_at = (3, 5)  # steps 3..7 of a 5-step workload; step 3 never comes for the 3-step one
    await s.run()
    cut, never = s.traces.captures
    assert cut.state == "done" and cut.partial and cut.step == 2 and Path(cut.trace_path).is_file()
    assert never.state == "failed" and "ended before step 3" in never.reason and not never.files
    assert s.workloads[0].state == s.workloads[1].state == "finished"


@needs("torch")
async def test_child_killed_during_a_capture_fails_it_and_leaves_no_staging(tmp_path):
    import os
    import signal
    import time

    spec = WorkloadSpec.create("torch", model="mlp", sizes=TINY["mlp"], device="cpu", steps=0)
    s = Session([spec], runs_dir=str(tmp_path))
    await s.start()
    w = s.workloads[0]
    try:
        cap = s.profile(w.id, steps=1000)
        deadline = time.monotonic() + 120
        while not (cap.state == "capturing" and cap.step >= 2):
            assert time.monotonic() < deadline and not w.ended, (cap.state, w.state, w.reason)
            await asyncio.sleep(0.05)
        staging = Path(cap.dir) / f".capturing-{cap.id}"
        assert staging.is_dir()
        os.kill(w.runner.pid, signal.SIGKILL)
        await s.wait()
    finally:
        await s.stop()
    assert cap.state == "failed" and "ended (failed)" in cap.reason
    assert not staging.exists()
    assert not (Path(cap.dir) / "plugins").exists()  # nothing published as a good capture
