"""On a CUDA GPU: every framework's reference models run on the device, with honest timing
and the framework's own memory figures. Skipped where there is no GPU."""

import pytest
from conftest import TINY, has_framework, run_session

from fwtop.session.session import FINISHED
from fwtop.workloads.child import common
from fwtop.workloads.spec import WorkloadSpec

pytestmark = pytest.mark.gpu


@pytest.fixture(scope="module")
def gpu_session(tmp_path_factory):
    # matmul at 4096^2 x 8 is 1.1 TFLOP a step: timing only the kernel launches (~50 us) would
    # claim over 20,000 TFLOP/s, far above any GPU, so the rate check below can fail.
    sizes = {"matmul": {"width": 4096, "depth": 8}, "transformer": TINY["transformer"]}
    specs = [
        WorkloadSpec.create(fw, model=model, sizes=sizes[model], device="cuda:0", steps=12)
        for fw in common.FRAMEWORKS
        if has_framework(fw)
        for model in ("matmul", "transformer")
    ]
    # Several frameworks share the GPU: the child env stops JAX and TensorFlow from grabbing it all.
    return run_session(specs, tmp_path_factory.mktemp("gpu"), name="gpu")


def test_every_framework_runs_on_the_gpu(gpu_session):
    session, _ = gpu_session
    for w in session.workloads:
        assert w.state == FINISHED, (w.label, w.reason, list(w.log)[-10:])
        assert w.hello["device"] == "cuda:0" and w.hello["device_kind"] == "cuda"
        assert w.hello["preallocates"] is None  # XLA_PYTHON_CLIENT_PREALLOCATE / TF_FORCE_GPU_ALLOW_GROWTH


def test_framework_memory_figures_on_the_gpu(gpu_session):
    session, _ = gpu_session
    for w in session.workloads:
        steps = list(session.timeline.steps(w.id).steps)
        assert all(s.mem is not None and s.mem["allocated"] > 0 for s in steps), w.label


def test_gpu_step_time_is_measured_after_the_work(gpu_session):
    """A steady matmul step's time implies a plausible (not impossibly high) FLOP rate."""
    _, summary = gpu_session
    for s in summary["workloads"]:
        if s["model"] == "matmul":
            assert 0 < s["tflops"] < 2000, (s["label"], s["tflops"])
