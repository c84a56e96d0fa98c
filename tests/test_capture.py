"""Framework-native captures from real children (one per framework, started once for the module).

Each framework's child runs a tiny mlp; the module fixture makes one failing
capture (its trace folder is a file), then two good ones of 3 and 2 steps, and
lets the workload run on before stopping it. The tests check what came out.
"""

import asyncio
import json
import time
from pathlib import Path

import pytest
from conftest import TINY, has_framework
from xspace_util import read_xspace

from fwtop.session.rundir import read_jsonl
from fwtop.session.session import RUNNING, Session
from fwtop.session.traces import DONE, FAILED, load_events, summarize_capture
from fwtop.workloads.spec import WorkloadSpec

FRAMEWORKS = [
    pytest.param(fw, marks=pytest.mark.skipif(not has_framework(fw), reason=f"{fw} is not installed"))
    for fw in ("torch", "jax", "tensorflow")
]
# Names of the mlp's matrix multiplications in each framework's trace.
MATMUL = {"torch": ("addmm", "mm", "matmul", "linear"), "jax": ("dot",), "tensorflow": ("matmul",)}
FILES = {
    "torch": {"trace": ".pt.trace.json", "xplane": ".xplane.pb"},
    "jax": {"trace": ".trace.json.gz", "xplane": ".xplane.pb"},
    "tensorflow": {"trace": ".trace.json.gz", "xplane": ".xplane.pb"},
}


async def wait_for(cond, timeout=180.0, what="condition", w=None):
    deadline = time.monotonic() + timeout
    while not cond():
        if w is not None and w.ended:
            raise AssertionError(f"{w.label} ended ({w.state}: {w.reason}) waiting for {what}; log: {list(w.log)[-5:]}")
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


async def scenario(fw: str, runs_dir: Path) -> dict:
    spec = WorkloadSpec.create(fw, model="mlp", sizes=TINY["mlp"], device="cpu", steps=0)
    s = Session([spec], runs_dir=str(runs_dir), name=f"capture-{fw}")
    await s.start()
    w = s.workloads[0]
    series = s.timeline.steps(w.id)
    try:
        await wait_for(lambda: series.count >= 3, what="3 steps")
        # A capture that cannot be written: its folder is taken by a file.
        blocker = s.rundir.path / "traces" / w.id
        blocker.parent.mkdir(parents=True, exist_ok=True)
        blocker.write_text("not a folder")
        bad = s.profile(w.id, steps=2)
        await wait_for(lambda: bad.final, what="the failing capture", w=w)
        blocker.unlink()
        first = s.profile(w.id, steps=3)
        await wait_for(lambda: first.final, what="the first capture", w=w)
        second = s.profile(w.id, steps=2)
        await wait_for(lambda: second.final, what="the second capture", w=w)
        after = series.count
        await wait_for(lambda: series.count >= after + 3, what="steps after the captures")
        state_after = w.state
        await s.stop_workload(w.id)
    finally:
        await s.stop()
    return {"session": s, "w": w, "bad": bad, "first": first, "second": second, "state_after": state_after}


@pytest.fixture(scope="module", params=FRAMEWORKS)
def captured(request, tmp_path_factory):
    fw = request.param
    out = asyncio.run(scenario(fw, tmp_path_factory.mktemp(f"runs-{fw}")))
    out["fw"] = fw
    return out


def test_capture_writes_the_expected_files(captured):
    fw, s, w, cap = captured["fw"], captured["session"], captured["w"], captured["first"]
    assert cap.state == DONE, cap.reason
    assert cap.step == 3 and not cap.partial and cap.first_step is not None
    roles = {f["role"]: f for f in cap.files}
    assert set(roles) == set(FILES[fw])
    profile_dir = s.rundir.path / "traces" / w.id / "plugins" / "profile"
    for role, suffix in FILES[fw].items():
        path = Path(roles[role]["path"])
        assert path.name.endswith(suffix) and path.parent.parent == profile_dir
        assert path.stat().st_size == roles[role]["bytes"] > 0
    # Nothing left in the staging area, nothing half-written in the profile folder.
    assert not list((s.rundir.path / "traces" / w.id).glob(".capturing-*"))
    assert not [p for p in profile_dir.rglob("*") if p.name.endswith((".part", ".tmp"))]


def test_trace_parses_and_holds_the_steps_operations(captured):
    fw, cap = captured["fw"], captured["first"]
    events = load_events(cap.trace_path)
    names = {str(e.get("name", "")).lower() for e in events if isinstance(e, dict)}
    assert any(m in n for n in names for m in MATMUL[fw]), sorted(names)[:50]
    summary = summarize_capture(cap, top=15)
    top = [op["name"].lower() for op in summary["by_self"]]
    assert any(m in n for n in top for m in MATMUL[fw]), top
    assert summary["events"] > 10 and summary["wall_us"] > 0
    assert all(op["self_us"] <= op["total_us"] + 1e-6 for op in summary["by_self"])


def test_every_capture_has_an_xplane_that_reads_back(captured):
    """xprof (TensorBoard's profile plugin) reads only .xplane.pb: every framework's capture has one
    holding its events; torch's is made by fwtop from its Chrome trace and must hold the same events."""
    if not has_framework("jax"):
        pytest.skip("jax is not installed (it reads the XSpace back)")
    cap = captured["first"]
    roles = {f["role"]: f["path"] for f in cap.files}
    planes = read_xspace(roles["xplane"])
    assert any(e for p in planes for line in p["lines"] for e in line["events"]), [p["name"] for p in planes]
    if captured["fw"] != "torch":
        return
    chrome = [e for e in json.loads(Path(roles["trace"]).read_text())["traceEvents"] if e.get("ph") == "X"]
    planes = read_xspace(roles["xplane"])
    assert [p["name"] for p in planes] == ["/host:CPU"]
    events = [e for line in planes[0]["lines"] for e in line["events"]]
    assert len(events) == len(chrome)
    steps = sorted(e["stats"]["step_num"] for e in events if e["name"] == "fwtop_step")
    assert steps == list(range(cap.first_step, cap.first_step + 3))
    assert any(m in e["name"] for e in events for m in MATMUL["torch"])


def test_two_captures_never_overwrite(captured):
    first, second = captured["first"], captured["second"]
    assert second.state == DONE and second.step == 2
    assert first.trace_path != second.trace_path
    assert Path(first.files[0]["path"]).parent != Path(second.files[0]["path"]).parent
    assert all(Path(f["path"]).exists() for f in first.files + second.files)
    assert second.first_step > first.first_step + 2


def test_failed_capture_says_why_and_the_run_goes_on(captured):
    bad = captured["bad"]
    assert bad.state == FAILED and "cannot create the trace directory" in bad.reason and not bad.files
    assert captured["state_after"] == RUNNING  # and the later captures worked (tests above)


def test_profiled_steps_are_marked_and_excluded_from_statistics(captured):
    s, w, first, second = captured["session"], captured["w"], captured["first"], captured["second"]
    series = s.timeline.steps(w.id)
    steps = list(series.steps)
    profiled = [st.index for st in steps if st.profiled]
    expected = list(range(first.first_step, first.first_step + 3)) + list(
        range(second.first_step, second.first_step + 2)
    )
    assert profiled == expected
    assert series.profiled == 5
    warm = sum(1 for st in steps if st.warmup)
    assert series.steady_count == series.count - warm - 5
    assert not steps[-1].profiled  # the workload went on after the captures
    recorded = [e for e in read_jsonl(s.rundir.path / "events.jsonl") if e["event"] == "step" and e.get("profiled")]
    assert [e["index"] for e in recorded] == expected
    summary = json.loads((s.rundir.path / "summary.json").read_text())
    assert [c["state"] for c in summary["captures"]] == ["failed", "done", "done"]
    assert summary["workloads"][0]["excluded_steps"] == warm + 5
