"""The stdlib XSpace writer (workloads/child/xplane.py), read back by jaxlib's XSpace parser."""

import json

import pytest
from conftest import has_framework
from xspace_util import read_xspace

from fwtop.workloads.child import xplane

BASE_NS = 1_000_000_000  # small enough that the reader's float nanoseconds are exact
TRACE = {
    "baseTimeNanoseconds": BASE_NS,
    "traceEvents": [
        {"ph": "M", "pid": 10, "tid": 11, "name": "thread_name", "args": {"name": "main"}},
        {"ph": "X", "pid": 10, "tid": 11, "name": "fwtop_step#7", "ts": 100.0, "dur": 50.0},
        {"ph": "X", "pid": 10, "tid": 11, "name": "aten::addmm", "ts": 110.5, "dur": 20.25},
        {"ph": "X", "pid": 10, "tid": 12, "name": "worker op", "ts": 120.0, "dur": 1.0},
        {"ph": "i", "pid": 10, "tid": 11, "name": "an instant", "ts": 115.0},
        {"ph": "X", "pid": 10, "tid": 11, "name": "no start"},
        "not an event",
    ],
}


def test_varint_is_protobufs():
    assert xplane._varint(1) == b"\x01"
    assert xplane._varint(300) == b"\xac\x02"  # the example in protobuf's encoding guide
    assert len(xplane._varint(-1)) == 10  # int64 negatives take ten bytes


@pytest.mark.skipif(not has_framework("jax"), reason="jax is not installed (it reads the XSpace back)")
def test_chrome_trace_becomes_a_host_plane(tmp_path):
    src = tmp_path / "h_1.2.pt.trace.json"
    src.write_text(json.dumps(TRACE))
    out = xplane.chrome_to_xplane(str(src), str(tmp_path / "h.xplane.pb"), "h")
    assert not list(tmp_path.glob("*.part"))
    planes = read_xspace(out)
    assert [p["name"] for p in planes] == ["/host:CPU"]
    lines = {ln["name"]: ln["events"] for ln in planes[0]["lines"]}
    assert set(lines) == {"main", "pid 10 tid 12"}
    main = lines["main"]
    assert [e["name"] for e in main] == ["fwtop_step", "aten::addmm"]  # X events only, in time order
    step, op = main
    assert step["stats"] == {"step_num": 7, "_r": 1}
    assert step["start_ns"] == pytest.approx(BASE_NS + 100_000, abs=1)
    assert step["duration_ns"] == pytest.approx(50_000)
    assert op["start_ns"] - step["start_ns"] == pytest.approx(10_500, abs=1)
    assert op["duration_ns"] == pytest.approx(20_250) and op["stats"] == {}
    assert [e["name"] for e in lines["pid 10 tid 12"]] == ["worker op"]
