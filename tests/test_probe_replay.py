"""Probe samples recorded to the run directory and replayed with it, and what the dashboard
draws from them.

The GPU-shaped run below is written through fwtop's own recording API (RunDir) with
MADE-UP figures (a 200 W device, 400 MiB per process), because this machine has no GPU:
it tests recording, replay, energy per step and the charts, not NVML. Real NVML figures
are checked by test_gpu_probes.py on a GPU.
"""

import asyncio
import json
import time

import pytest
from conftest import TINY, needs, run_session

from fwtop.session.replay import ReplaySession
from fwtop.session.rundir import RunDir
from fwtop.session.session import Session
from fwtop.tui.app import DeviceStrip, FwtopApp
from fwtop.tui.panel import WorkloadPanel, memory_series
from fwtop.workloads.spec import WorkloadSpec

T0 = 1_800_000_000.0
MIB = 2**20
STEPS, STEP_S, WATTS = 40, 0.1, 200.0


def write_gpu_run(root) -> str:
    spec = WorkloadSpec.create("torch", model="mlp", sizes=TINY["mlp"], device="cuda:0", steps=STEPS)
    session = Session([spec], runs_dir=str(root), name="gpu-shaped", probes=[])
    session.started_at = T0
    rd = RunDir.create(root, "gpu-shaped")
    rd.write_json("config.json", session.resolved_config())
    hello = {"pid": 4242, "framework": "torch", "framework_version": "2.13.0", "device": "cuda:0"}
    rd.event("w0", "hello", T0 + 0.5, {**hello, "device_kind": "cuda", "device_name": "Test GPU"})
    for i in range(STEPS):
        mem = {"allocated": (100 + i) * MIB, "reserved": 256 * MIB, "peak": (100 + i) * MIB}
        step = {"index": i, "duration": STEP_S, "samples": 16, "tokens": None, "loss": 1.0, "mem": mem}
        rd.event("w0", "step", T0 + 1.0 + STEP_S * (i + 1), {**step, "warmup": i < 2})
    rd.event("w0", "exit", T0 + 5.5, {"state": "finished", "reason": "", "exit_code": 0})
    rd.sample("nvml", "status", T0, {"available": True, "status": "ok", "notes": ["gpu:0 SM clock n/a (test)"]})
    for k in range(13):  # every 0.5 s from T0 to T0 + 6
        t = T0 + 0.5 * k
        device = {
            "name": "Test GPU",
            "util_gpu": 90,
            "util_mem": 40,
            "mem_used": 500 * MIB,
            "mem_total": 16 * 2**30,
            "power_w": WATTS,
            "power_limit_w": 300.0,
            "energy_j": 5000.0 + WATTS * 0.5 * k,
            "temp_c": 60,
            "sm_clock_mhz": None,
            "mem_clock_mhz": 5000,
        }
        rd.sample("nvml", "gpu:0", t, device)
        rd.sample("nvml", "w0", t, {"gpu_mem": 400 * MIB, "devices": ["gpu:0"], "pids": 1, "mapped_by": "processes"})
    rd.close()
    return str(rd.path)


@pytest.fixture(scope="module")
def gpu_run(tmp_path_factory):
    return write_gpu_run(tmp_path_factory.mktemp("gpu-shaped"))


def test_replayed_device_samples_give_energy_and_three_memory_peaks(gpu_run):
    replay = ReplaySession(gpu_run, jump_to_end=True)
    summary = asyncio.run(replay.run())
    w = summary["workloads"][0]
    energy = w["energy"]
    assert energy["steps_measured"] == STEPS - 2  # warm-up steps are not counted
    assert energy["per_step_j"] == pytest.approx(WATTS * STEP_S)
    assert energy["avg_power_w"] == pytest.approx(WATTS)
    assert energy["devices"] == ["nvml gpu:0"] and energy["shared_with"] == []
    assert w["peak_memory"] == {
        "framework_allocated": (100 + STEPS - 1) * MIB,
        "framework_reserved": 256 * MIB,
        "device_used": 400 * MIB,
        "host_rss": None,
    }
    assert summary["probes"] == ["gpu:0 SM clock n/a (test)"]


def test_memory_three_ways_on_the_device_sample_axis(gpu_run):
    replay = ReplaySession(gpu_run, jump_to_end=True)
    asyncio.run(replay.run())
    series = memory_series(replay, "w0")
    assert [label.split()[0] for label, _ in series] == ["alloc", "reserved", "device"]
    alloc, reserved, device = (values for _, values in series)
    assert len(alloc) == len(device) == 13
    assert alloc[:2] == [None, None]  # no step had ended yet at the first two samples
    assert alloc[-1] == (100 + STEPS - 1) * MIB and reserved[-1] == 256 * MIB and device[-1] == 400 * MIB


async def test_panel_draws_the_device_line_and_the_strip_shows_the_gpu(gpu_run):
    app = FwtopApp(ReplaySession(gpu_run, jump_to_end=True), chart_interval=0.1)
    async with app.run_test(size=(160, 50)) as pilot:
        deadline = time.monotonic() + 30
        while not (app.session.loaded and app.session.position >= app.session.duration) and time.monotonic() < deadline:
            await pilot.pause(0.1)
        await pilot.pause(0.5)
        panel = app.query_one(WorkloadPanel)
        head, *body = panel.part_text("mem").split("\n")
        assert head.startswith(" memory (framework vs device) ")
        assert [piece.split()[0] for piece in head.split("\u25a0")[1:]] == ["alloc", "reserved", "device"]
        assert "device 400.0 MiB" in head
        assert "".join(body).strip("\u2800 ")  # dots were drawn
        screen = "\n".join(strip.text for strip in app.screen._compositor.render_strips())
        assert "device 400.0 MiB" in screen  # and reached the screen
        assert panel.part_text("util").startswith(" gpu util % (gpu:0, whole device) ")
        stats = panel.part_text("stats")
        assert "energy 20 J/step  200 W avg (gpu:0)" in stats
        assert "peak alloc 139.0 MiB, reserved 256.0 MiB, device 400.0 MiB" in stats
        strip = app.query_one(DeviceStrip).text
        assert "gpu:0 Test GPU  util 90% (mem 40%)  mem 500.0 MiB / 16.0 GiB  200/300 W" in strip
        assert "SM n/a / mem 5000 MHz" in strip and "gpu:0 SM clock n/a (test)" in strip


@needs("torch")
def test_a_live_run_replays_its_samples_and_probe_status(tmp_path):
    spec = WorkloadSpec.create("torch", model="mlp", sizes=TINY["mlp"], device="cpu", steps=10)
    session, summary = run_session([spec], tmp_path)
    path = session.rundir.path
    recorded = [json.loads(x) for x in (path / "samples.jsonl").read_text().splitlines()]
    replay = ReplaySession(path, jump_to_end=True)
    asyncio.run(replay.run())
    n_host = sum(1 for r in recorded if r["probe"] == "host" and r["target"] == "w0")
    assert n_host >= 1 and len(replay.timeline.samples("host", "w0")) == n_host
    assert replay.probe_notes() == session.probe_notes() and replay.probe_notes()
    assert replay.timeline.peaks[("host", "w0")] == session.timeline.peaks[("host", "w0")]
