"""Probes on this machine: the host probe on a real process tree, the GPU probes' real
"library absent / no driver" path, `fwtop devices`, probe intervals. The NVML/amdsmi
fallback logic itself is unit-tested in test_probe_fallbacks.py; real GPU figures in
test_gpu_probes.py (skipped without a GPU)."""

import asyncio
import json
import subprocess
import sys
import textwrap
import time

import psutil
import pytest
from conftest import PYTHON, TINY, needs, run_fwtop, run_session

from fwtop.probes import default_probes
from fwtop.probes.amdsmi import AmdSmiProbe
from fwtop.probes.base import Probe, Sample
from fwtop.probes.host import HostProbe
from fwtop.probes.nvml import NvmlProbe
from fwtop.session.probing import run_probe
from fwtop.session.session import FINISHED
from fwtop.workloads.spec import WorkloadSpec

# A parent process with a data-loader-like grandchild: the grandchild holds 64 MiB and
# spins, the parent waits. The host probe must count both.
TREE = textwrap.dedent(
    """
    import subprocess, sys, time
    child = subprocess.Popen([sys.executable, "-c",
        "import time\\nb = bytearray(64 * 2**20)\\nfor i in range(0, len(b), 4096): b[i] = 1\\n"
        "t = time.time()\\nwhile time.time() - t < 60: pass"])
    print(child.pid, flush=True)
    time.sleep(60)
    """
)


@pytest.fixture(scope="module")
def tree():
    proc = subprocess.Popen([PYTHON, "-c", TREE], stdout=subprocess.PIPE, text=True)
    grandchild = int(proc.stdout.readline())
    # wait until the grandchild has touched its 64 MiB
    deadline = time.monotonic() + 30
    while psutil.Process(grandchild).memory_info().rss < 64 * 2**20 and time.monotonic() < deadline:
        time.sleep(0.1)
    yield proc.pid, grandchild
    for pid in (grandchild, proc.pid):
        try:
            psutil.Process(pid).kill()
        except psutil.Error:
            pass
    proc.wait()


def test_host_probe_counts_the_whole_process_tree(tree):
    root, grandchild = tree
    probe = HostProbe()
    probe.start()
    probe.watch({"w0": root})
    probe.sample()
    time.sleep(0.5)
    samples = {s.target: s for s in probe.sample()}
    host, w = samples["host"].values, samples["w0"].values
    assert host["mem_total"] > host["mem_used"] > 0 and host["cpu_count"] >= 1
    assert w["processes"] == 2  # the parent and its grandchild-to-be (a data-loader worker)
    assert w["rss"] >= 64 * 2**20 + psutil.Process(root).memory_info().rss * 0.5
    assert w["threads"] >= 2
    assert w["cpu_percent"] > 5  # the spinning grandchild's CPU is attributed to the workload


def test_host_probe_forgets_a_process_that_exited():
    proc = subprocess.Popen([PYTHON, "-c", "pass"])
    proc.wait()
    probe = HostProbe()
    probe.start()
    probe.watch({"gone": proc.pid})
    assert [s.target for s in probe.sample()] == ["host"]


@pytest.mark.parametrize("cls", [NvmlProbe, AmdSmiProbe])
def test_gpu_probes_without_a_driver_are_na_with_the_reason(cls):
    """This machine has no NVIDIA driver and no ROCm: the real 'no driver' path."""
    probe = cls()
    probe.start()
    assert probe.available is False
    assert probe.status.startswith(f"{probe.name} n/a: ")
    assert probe.sample() == []  # never raises
    probe.close()


def test_nvml_probe_without_the_library(monkeypatch):
    monkeypatch.setitem(sys.modules, "pynvml", None)  # import pynvml -> ImportError
    probe = NvmlProbe()
    probe.start()
    assert not probe.available and "nvidia-ml-py is not installed" in probe.status


def test_default_probes_have_their_own_intervals():
    probes = {p.name: p for p in default_probes({"nvml": 0.25})}
    assert set(probes) == {"host", "nvml", "amdsmi"}
    assert probes["nvml"].interval == 0.25 and probes["host"].interval == 0.5


class _Counting(Probe):
    name = "counting"

    def __init__(self, interval, fail_after=None):
        super().__init__()
        self.interval = interval
        self.calls = 0
        self.fail_after = fail_after

    def sample(self):
        self.calls += 1
        if self.fail_after is not None and self.calls > self.fail_after:
            raise OSError("device went away")
        if self.calls == 2:
            self.note("field x n/a (not supported)")
        return [Sample(time.time(), self.name, "dev", {"x": self.calls})]


async def test_probe_loop_keeps_its_rate_and_reports_failures_once():
    fast, broken = _Counting(0.1), _Counting(0.1, fail_after=3)
    got, statuses = [], []
    tasks = [
        asyncio.create_task(run_probe(p, got.extend, lambda p: statuses.append((p.name, p.status, list(p.notes)))))
        for p in (fast, broken)
    ]
    await asyncio.sleep(1.05)
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    assert 3 <= fast.calls <= 12  # a fixed 10 Hz grid: at most 11 ticks in 1.05 s, never bunched
    assert broken.calls == 4 and not broken.available
    assert ("counting", "counting probe stopped: OSError: device went away", ["field x n/a (not supported)"]) in (
        statuses
    )
    assert sum(1 for s in statuses if s[2] == ["field x n/a (not supported)"] and s[1] == "ok") == 2  # once each


@needs("torch")
def test_session_records_samples_and_probe_status(tmp_path):
    spec = WorkloadSpec.create("torch", model="mlp", sizes=TINY["mlp"], device="cpu", steps=12)
    session, summary = run_session([spec], tmp_path)
    assert session.workloads[0].state == FINISHED
    records = [json.loads(line) for line in (session.rundir.path / "samples.jsonl").read_text().splitlines()]
    status = {r["probe"]: r["values"] for r in records if r["target"] == "status"}
    assert status["host"]["available"] and not status["nvml"]["available"]
    assert any(r["target"] == "w0" and r["probe"] == "host" for r in records)
    # the reasons reach the summary once, and the workload's figures are n/a, not missing
    assert any(n.startswith("nvml n/a: ") for n in summary["probes"])
    w = summary["workloads"][0]
    assert w["energy"] is None and w["peak_memory"]["device_used"] is None and w["peak_memory"]["host_rss"] > 0


def test_devices_cli_says_why_gpus_are_na():
    proc = run_fwtop("devices")
    assert proc.returncode == 0 and "Traceback" not in proc.stderr
    lines = {line.split()[0]: line for line in proc.stdout.splitlines() if line.startswith("  ") and line.split()}
    assert "no   n/a: no NVIDIA driver" in lines["cuda"]
    assert "no   n/a: amdsmi is not installed" in lines["rocm"]
    info = json.loads(run_fwtop("devices", "--json").stdout)
    cuda = next(b for b in info["backends"] if b["name"] == "cuda")
    assert cuda == {"name": "cuda", "available": False, "detail": cuda["detail"], "devices": []}


@pytest.mark.parametrize(
    "args, message",
    [
        (["--probe-interval", "0.01"], "--probe-interval: must be 0.1 to 60 seconds, got 0.01"),
        (["--probe-interval", "fast"], "argument --probe-interval: invalid float value: 'fast'"),
    ],
)
def test_bad_probe_interval_is_one_line_exit_2(args, message):
    proc = run_fwtop(*args, "--headless")
    assert proc.returncode == 2 and message in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


def test_bad_probe_table_in_config(tmp_path):
    cfg = tmp_path / "f.toml"
    cfg.write_text("[probes]\nnvml = 0\n[[workload]]\nframework = 'torch'\n")
    proc = run_fwtop("-c", str(cfg), "--headless")
    assert proc.returncode == 2 and "probes.nvml: must be 0.1 to 60 seconds, got 0" in proc.stderr


async def test_device_strip_says_once_why_the_gpus_are_na(tmp_path):
    from fwtop.session.session import Session
    from fwtop.tui.app import DeviceStrip, FwtopApp

    session = Session([], runs_dir=str(tmp_path), record=False)
    app = FwtopApp(session)
    async with app.run_test(size=(160, 30)) as pilot:
        deadline = time.monotonic() + 30
        while len(session.probe_status) < 3 and time.monotonic() < deadline:
            await pilot.pause(0.1)
        await pilot.pause(0.8)
        text = app.query_one(DeviceStrip).text
    lines = text.splitlines()
    assert lines[0].startswith("host CPU")
    assert lines[-1].count("nvml n/a: no NVIDIA driver") == 1 and lines[-1].count("amdsmi n/a:") == 1


def test_probe_intervals_from_the_config_file(tmp_path):
    from fwtop.session.config import load_config

    cfg = tmp_path / "f.toml"
    cfg.write_text("[probes]\ninterval = 0.25\nnvml = 1\n[[workload]]\nframework = 'torch'\n")
    intervals = load_config(str(cfg)).probe_intervals
    assert intervals == {"host": 0.25, "nvml": 1, "amdsmi": 0.25}
    assert [p.interval for p in default_probes(intervals)] == [0.25, 1, 0.25]
