"""On a CUDA GPU: the NVML probe's figures move with a real torch workload, and per-process
attribution finds the child. Skipped where there is no GPU (conftest: nvidia-smi -L).

Not yet run on hardware: see docs/benchmarks.md for what has been verified where.
"""

import asyncio

import pytest
from conftest import needs

from fwtop.probes.host import HostProbe
from fwtop.probes.nvml import NvmlProbe
from fwtop.session.session import FINISHED, Session
from fwtop.workloads.spec import WorkloadSpec

pytestmark = [pytest.mark.gpu, needs("torch")]

MATMUL = {"width": 16384, "depth": 4}  # x and W: 1 GiB each in fp32; 35 TFLOP a step


@pytest.fixture(scope="module")
def watched(tmp_path_factory):
    spec = WorkloadSpec.create("torch", model="matmul", sizes=MATMUL, device="cuda:0", steps=30)
    nvml = NvmlProbe(interval=0.25)
    session = Session([spec], runs_dir=str(tmp_path_factory.mktemp("gpu-probes")), probes=[HostProbe(), nvml])
    summary = asyncio.run(session.run())
    return session, summary, nvml


def _device_samples(session, target="gpu:0"):
    return list(session.timeline.samples("nvml", target))


def test_nvml_probe_started_and_the_workload_finished(watched):
    session, summary, nvml = watched
    assert session.workloads[0].state == FINISHED, list(session.workloads[0].log)[-10:]
    assert session.probe_status["nvml"]["available"], session.probe_status
    assert _device_samples(session), "no gpu:0 samples"


def test_per_process_attribution_finds_the_child(watched):
    session, _, _ = watched
    mine = [s.values for s in session.timeline.samples("nvml", "w0")]
    assert any(v["mapped_by"] == "processes" and v["pids"] >= 1 and v["devices"] for v in mine), mine[-3:]


def test_device_memory_rises_by_about_what_torch_reserved(watched):
    session, summary, _ = watched
    peaks = summary["workloads"][0]["peak_memory"]
    reserved, device = peaks["framework_reserved"], peaks["device_used"]
    assert reserved and reserved > 2**30
    # NVML's per-process figure = torch's reserved pool + the CUDA context (a few hundred MiB)
    assert reserved <= device <= reserved + 2 * 2**30, (reserved, device)
    used = [s.values["mem_used"] for s in _device_samples(session)]
    assert max(used) - min(used) >= 0.9 * reserved  # the device-wide figure moved too


def test_utilization_rises_under_the_matmul(watched):
    session, _, _ = watched
    util = [s.values["util_gpu"] for s in _device_samples(session) if s.values["util_gpu"] is not None]
    assert util and max(util) >= 50, util


def test_energy_increases_and_energy_per_step_is_plausible(watched):
    session, summary, _ = watched
    energy = [s.values["energy_j"] for s in _device_samples(session)]
    if all(e is None for e in energy):
        pytest.skip("this GPU has no total-energy counter (before Volta)")
    assert energy[-1] > energy[0]
    e = summary["workloads"][0]["energy"]
    limit = max(s.values["power_limit_w"] or 0 for s in _device_samples(session))
    assert e["steps_measured"] > 0 and e["per_step_j"] > 0
    assert 20 < e["avg_power_w"] <= 1.2 * limit, (e, limit)


def test_fwtop_never_initialised_cuda(watched):
    """NVML talks to the driver (libnvidia-ml); the CUDA driver library is never loaded in fwtop."""
    with open("/proc/self/maps") as f:
        maps = f.read()
    assert "libcuda.so" not in maps
