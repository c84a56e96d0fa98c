"""The trace summary (session/traces.py) on hand-written Chrome traces, and the capture bookkeeping."""

import gzip
import json

import pytest

from fwtop.session.traces import (
    DONE,
    FAILED,
    STEP_GROUP,
    TraceError,
    Traces,
    normalize,
    self_times,
    side_by_side,
    summarize,
)


def write_trace(path, events, gz=False, bare=False):
    obj = events if bare else {"traceEvents": events}
    data = json.dumps(obj).encode()
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


# One thread: step [0, 100) containing matmul [10, 60) containing add [20, 30), and relu [70, 80).
# A second thread: matmul [0, 40) (B/E pair). Metadata and instant events are ignored.
EVENTS = [
    {"ph": "M", "pid": 1, "name": "process_name", "args": {"name": "host"}},
    {"ph": "X", "pid": 1, "tid": 1, "name": "step", "cat": "user", "ts": 0, "dur": 100},
    {"ph": "X", "pid": 1, "tid": 1, "name": "matmul", "cat": "op", "ts": 10, "dur": 50},
    {"ph": "X", "pid": 1, "tid": 1, "name": "add", "cat": "op", "ts": 20, "dur": 10},
    {"ph": "X", "pid": 1, "tid": 1, "name": "relu", "cat": "op", "ts": 70, "dur": 10},
    {"ph": "i", "pid": 1, "tid": 1, "name": "marker", "ts": 5},
    {"ph": "B", "pid": 1, "tid": 2, "name": "matmul", "cat": "op", "ts": 0},
    {"ph": "E", "pid": 1, "tid": 2, "ts": 40},
    {"ph": "E", "pid": 1, "tid": 3, "ts": 40},  # unpaired: dropped
    "garbage",
    {"ph": "X", "pid": 1, "tid": 1, "name": "bad", "ts": "x", "dur": 1},
]


def test_normalize_pairs_begin_end_and_skips_the_rest():
    spans = normalize(EVENTS)
    assert sorted((s.tid, s.name, s.ts, s.dur) for s in spans) == [
        (1, "add", 20, 10),
        (1, "matmul", 10, 50),
        (1, "relu", 70, 10),
        (1, "step", 0, 100),
        (2, "matmul", 0, 40),
    ]


def test_self_time_subtracts_direct_children_per_thread():
    spans = normalize(EVENTS)
    selfs = {(s.tid, s.name): t for s, t in zip(spans, self_times(spans), strict=True)}
    assert selfs[(1, "step")] == 100 - 50 - 10
    assert selfs[(1, "matmul")] == 50 - 10
    assert selfs[(1, "add")] == 10
    assert selfs[(2, "matmul")] == 40  # another thread never nests in thread 1


@pytest.mark.parametrize("gz,bare", [(False, False), (True, False), (False, True)])
def test_summary_groups_by_cat_and_name(tmp_path, gz, bare):
    path = write_trace(tmp_path / "t.json", EVENTS, gz=gz, bare=bare)
    s = summarize(path, step_time_s=100e-6, steps=1)
    top = s["by_self"][0]
    assert (top["cat"], top["name"], top["count"]) == ("op", "matmul", 2)
    assert top["total_us"] == 90 and top["self_us"] == 80
    assert top["share"] == pytest.approx(0.8)
    assert s["by_total"][0]["name"] == "step"
    assert s["threads"] == 2 and s["events"] == 5


def test_summary_without_step_time_uses_the_trace_span(tmp_path):
    s = summarize(write_trace(tmp_path / "t.json", EVENTS))
    assert s["wall_us"] == 100


@pytest.mark.parametrize(
    "content,message",
    [(b"{not json", "not valid JSON"), (b'{"x": 1}', "no traceEvents"), (b"\x1f\x8bxx", "cannot read")],
)
def test_bad_trace_files_raise_a_clear_error(tmp_path, content, message):
    path = tmp_path / "bad.json"
    path.write_bytes(content)
    with pytest.raises(TraceError, match=message):
        summarize(path)
    with pytest.raises(TraceError, match="cannot read"):
        summarize(tmp_path / "missing.json")
    with pytest.raises(TraceError, match="no timed events"):
        summarize(write_trace(tmp_path / "empty.json", []))


def test_side_by_side_rows(tmp_path):
    a = summarize(write_trace(tmp_path / "a.json", EVENTS), step_time_s=100e-6)
    b = summarize(write_trace(tmp_path / "b.json", EVENTS[:2]), step_time_s=100e-6)
    rows = side_by_side([("torch", a), ("jax", b)], top=3)
    assert rows[0] == ["#", "torch: op (by self time)", "self/step", "jax: op (by self time)", "self/step"]
    assert rows[1] == ["1", "matmul", "80.0%", "step", "100.0%"]
    assert rows[2][3:] == ["", ""]


def test_trace_events_update_a_capture(tmp_path):
    traces = Traces()
    cap = traces.new("w0", "torch", "profile", 3, tmp_path / "w0")
    assert traces.update("w1", {"id": cap.id, "state": "requested"}) is None  # another workload's id
    traces.update("w0", {"id": cap.id, "state": "capturing", "step": 2, "first_step": 7})
    assert cap.status_text() == "profile: capturing step 2 of 3"
    files = [{"path": str(tmp_path / "x.pt.trace.json"), "role": "trace", "bytes": 2048}]
    traces.update("w0", {"id": cap.id, "state": "done", "step": 3, "files": files, "step_time_s": 0.5})
    assert cap.state == DONE and cap.trace_path == files[0]["path"] and cap.bytes == 2048
    traces.update("w0", {"id": cap.id, "state": "failed", "reason": "late"})  # a final state stays
    assert cap.state == DONE
    bad = traces.new("w0", "torch", "profile", 3, tmp_path / "w0")
    traces.update("w0", {"id": bad.id, "state": "failed", "reason": "disk full"})
    assert bad.state == FAILED and bad.status_text() == "profile: failed: disk full"
    assert [c["state"] for c in traces.to_list()] == ["done", "failed"]
    assert traces.root(None) == traces.root(None) and traces.temporary


def test_only_the_steps_inside_fwtop_step_markers_count(tmp_path):
    events = [
        {"ph": "X", "pid": 1, "tid": 1, "name": "start_trace", "cat": "py", "ts": 0, "dur": 50},
        {"ph": "X", "pid": 1, "tid": 1, "name": "fwtop_step#3", "cat": "ann", "ts": 100, "dur": 100},
        {"ph": "X", "pid": 1, "tid": 1, "name": "matmul", "cat": "op", "ts": 110, "dur": 60},
        {"ph": "X", "pid": 1, "tid": 2, "name": "worker", "cat": "op", "ts": 150, "dur": 20},  # other thread, inside
        {"ph": "X", "pid": 1, "tid": 1, "name": "fwtop_step#4", "cat": "ann", "ts": 300, "dur": 100},
        {"ph": "X", "pid": 1, "tid": 1, "name": "matmul", "cat": "op", "ts": 320, "dur": 60},
        {"ph": "X", "pid": 1, "tid": 1, "name": "stop_trace", "cat": "py", "ts": 500, "dur": 900},
        {"ph": "X", "pid": 1, "tid": 1, "name": "between", "cat": "py", "ts": 250, "dur": 10},
    ]
    s = summarize(write_trace(tmp_path / "t.json", events), step_time_s=1.0)
    names = {op["name"]: op for op in s["by_self"]}
    assert set(names) == {"matmul", "worker", STEP_GROUP}
    assert s["step_markers"] == 2 and s["wall_us"] == 200  # the markers, not the child's figure
    assert names["matmul"]["share"] == pytest.approx(0.6)
    assert names[STEP_GROUP]["count"] == 2 and names[STEP_GROUP]["self_us"] == 80


def test_captures_of_an_ended_workload_fail_with_the_reason(tmp_path):
    traces = Traces()
    done = traces.new("w0", "a", "profile", 2, tmp_path)
    traces.update("w0", {"id": done.id, "state": "done", "files": []})
    waiting = traces.new("w0", "a", "profile", 2, tmp_path)
    other = traces.new("w1", "b", "profile", 2, tmp_path)
    traces.workload_ended("w0", "a ended (failed) before the capture was written")
    assert done.state == DONE and waiting.state == FAILED and "ended (failed)" in waiting.reason
    assert not other.final
