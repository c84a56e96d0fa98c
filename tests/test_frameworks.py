"""Every reference model in every framework, for real, on the CPU.

One session per framework runs the four models side by side (tiny sizes, 20
steps), so each framework is imported a handful of times, not once per assertion.
"""

import shutil

import pytest
from conftest import TINY, has_framework, run_session

from fwtop.session.session import FAILED, FINISHED
from fwtop.workloads.child import common, models
from fwtop.workloads.spec import WorkloadSpec

STEPS = 20
FRAMEWORKS = [
    pytest.param(fw, marks=pytest.mark.skipif(not has_framework(fw), reason=f"{fw} not installed"))
    for fw in common.FRAMEWORKS
]


@pytest.fixture(scope="module", params=FRAMEWORKS)
def trained(request, tmp_path_factory):
    fw = request.param
    specs = [WorkloadSpec.create(fw, model=m, sizes=TINY[m], device="cpu", steps=STEPS, seed=1) for m in models.MODELS]
    session, summary = run_session(specs, tmp_path_factory.mktemp(f"runs-{fw}"), name=fw)
    return fw, session, summary


@pytest.fixture(scope="module", params=FRAMEWORKS)
def variants(request, tmp_path_factory):
    """Every compile mode and the low-precision dtypes, on the mlp."""
    fw = request.param
    specs = [
        WorkloadSpec.create(fw, model="mlp", sizes=TINY["mlp"], device="cpu", steps=6, compile=mode)
        for mode in common.COMPILE_MODES[fw]
    ]
    specs += [
        WorkloadSpec.create(fw, model=m, sizes=TINY[m], device="cpu", steps=6, dtype="bfloat16")
        for m in ("mlp", "transformer")
    ]
    specs.append(WorkloadSpec.create(fw, model="mlp", sizes=TINY["mlp"], device="cpu", steps=6, dtype="float16"))
    session, _ = run_session(specs, tmp_path_factory.mktemp(f"variants-{fw}"), name=fw)
    return fw, session


def by_model(session):
    return {w.spec.model: w for w in session.workloads}


@pytest.mark.parametrize("model", models.MODELS)
def test_trains_and_reports_every_step(trained, model):
    fw, session, _ = trained
    w = by_model(session)[model]
    assert w.state == FINISHED, (w.reason, list(w.log)[-10:])
    series = session.timeline.steps(w.id)
    assert series.count == STEPS and [s.index for s in series.steps] == list(range(STEPS))
    assert series.steady_count == STEPS - 2
    assert all(s.duration > 0 for s in series.steps)
    assert w.hello["framework"] == fw and w.hello["device"] == "cpu" and w.hello["device_kind"] == "cpu"
    assert w.compile["first_step_s"] == series.steps[0].duration
    assert w.compile["since_start_s"] >= w.compile["first_step_s"]
    assert w.bye == {"steps": STEPS, "reason": "done"}


@pytest.mark.parametrize("model", models.MODELS)
def test_params_and_flops_match_the_shared_formula(trained, model):
    _, session, _ = trained
    w = by_model(session)[model]
    assert w.hello["params"] == models.param_count(model, TINY[model]) == w.hello["params_expected"]
    assert w.hello["flops_per_step"] == models.flops_per_step(model, TINY[model])
    assert w.hello["samples_per_step"] == models.samples_per_step(model, TINY[model])
    assert w.hello["tokens_per_step"] == models.tokens_per_step(model, TINY[model])


@pytest.mark.parametrize("model", ["mlp", "cnn", "transformer"])
def test_loss_goes_down(trained, model):
    _, session, _ = trained
    w = by_model(session)[model]
    losses = [s.loss for s in session.timeline.steps(w.id).steps]
    assert all(isinstance(x, float) for x in losses), losses
    first, last = sum(losses[:3]) / 3, sum(losses[-3:]) / 3
    assert last < 0.9 * first, losses


def test_matmul_has_no_loss_but_counts_flops(trained):
    _, session, summary = trained
    w = by_model(session)["matmul"]
    assert all(s.loss is None for s in session.timeline.steps(w.id).steps)
    s = next(x for x in summary["workloads"] if x["model"] == "matmul")
    assert s["tflops"] > 0 and s["samples_per_s"] is None


def test_cpu_has_no_framework_memory_figures(trained):
    _, session, _ = trained
    for w in session.workloads:
        assert all(s.mem is None for s in session.timeline.steps(w.id).steps)
        assert w.hello["preallocates"] is None


def test_summary_statistics(trained):
    _, _, summary = trained
    for s in summary["workloads"]:
        st = s["step_time_s"]
        assert st["count"] == STEPS - 2 and 0 < st["min"] <= st["median"] <= st["p95"] <= st["max"]
        assert s["time_to_first_step_s"] > 0 and s["params"] > 0
    transformer = next(x for x in summary["workloads"] if x["model"] == "transformer")
    tiny = TINY["transformer"]
    assert transformer["tokens_per_s"] == pytest.approx(transformer["samples_per_s"] * tiny["seq_len"], rel=1e-9)


def test_compile_modes_and_dtypes(variants):
    fw, session = variants
    for w in session.workloads:
        if w.state == FAILED:
            # A dtype the framework cannot run on this device must say so in one clear line.
            assert w.error and w.error["type"] == "WorkloadError" and w.spec.dtype != "float32", w.reason
            continue
        assert w.state == FINISHED, (w.spec, w.reason, list(w.log)[-10:])
        assert w.hello["compile"] == w.spec.compile and w.hello["dtype"] == w.spec.dtype
    finished = {(w.spec.compile, w.spec.dtype, w.spec.model) for w in session.workloads if w.state == FINISHED}
    for mode in common.COMPILE_MODES[fw]:
        assert (mode, "float32", "mlp") in finished
    # bfloat16 trains on the CPU in all three frameworks.
    default_mode = common.COMPILE_MODES[fw][0]
    assert (default_mode, "bfloat16", "mlp") in finished and (default_mode, "bfloat16", "transformer") in finished


@pytest.mark.skipif(shutil.which("nvidia-smi") is not None, reason="this machine has a CUDA device")
def test_unavailable_device_is_a_clear_error(tmp_path):
    specs = [
        WorkloadSpec.create(f, model="mlp", sizes=TINY["mlp"], device="cuda:0", steps=2)
        for f in common.FRAMEWORKS
        if has_framework(f)
    ]
    if not specs:
        pytest.skip("no framework installed")
    session, _ = run_session(specs, tmp_path)
    for w in session.workloads:
        assert w.state == FAILED and w.error["type"] == "WorkloadError", (w.reason, list(w.log)[-5:])
        assert "\n" not in w.error["message"] and w.exit_code == 2
