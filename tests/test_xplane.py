"""The stdlib XSpace writer (workloads/child/xplane.py), read back by jaxlib's XSpace parser."""

import importlib.util
import json
from pathlib import Path

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
        {"ph": "X", "pid": 0, "tid": 7, "name": "kernel a", "ts": 121.0, "dur": 2.0},
        {"ph": "X", "pid": 1, "tid": 7, "name": "kernel b", "ts": 122.0, "dur": 2.0},
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
    assert set(lines) == {"main", "pid 10 tid 12", "pid 0 tid 7", "pid 1 tid 7"}  # one line per (pid, tid)
    assert [e["name"] for e in lines["pid 0 tid 7"]] == ["kernel a"]
    assert [e["name"] for e in lines["pid 1 tid 7"]] == ["kernel b"]
    main = lines["main"]
    assert [e["name"] for e in main] == ["fwtop_step", "aten::addmm"]  # X events only, in time order
    step, op = main
    assert step["stats"] == {"step_num": 7, "_r": 1}
    assert step["start_ns"] == pytest.approx(BASE_NS + 100_000, abs=1)
    assert step["duration_ns"] == pytest.approx(50_000)
    assert op["start_ns"] - step["start_ns"] == pytest.approx(10_500, abs=1)
    assert op["duration_ns"] == pytest.approx(20_250) and op["stats"] == {}
    assert [e["name"] for e in lines["pid 10 tid 12"]] == ["worker op"]


def _xplane_pb2():
    """TensorFlow's generated xplane_pb2, loaded from its file alone (it needs only google.protobuf)."""
    spec = importlib.util.find_spec("tensorflow")
    path = Path(spec.submodule_search_locations[0]) / "tsl" / "profiler" / "protobuf" / "xplane_pb2.py"
    mod_spec = importlib.util.spec_from_file_location("fwtop_test_xplane_pb2", path)
    mod = importlib.util.module_from_spec(mod_spec)
    mod_spec.loader.exec_module(mod)
    return mod


@pytest.mark.skipif(not has_framework("tensorflow"), reason="tensorflow is not installed (it ships xplane.proto)")
def test_fields_match_xplane_proto():
    space = _xplane_pb2().XSpace()
    space.ParseFromString(xplane.chrome_events_to_xspace(TRACE, "h"))
    assert list(space.hostnames) == ["h"]
    (plane,) = space.planes
    ids = [line.id for line in plane.lines]
    assert len(set(ids)) == len(ids) == 4  # unique line ids, though two lines have tid 7
    assert {line.id for line in plane.lines if line.name == "main"} == {11}  # a thread keeps its id
    names = {m.name for m in plane.event_metadata.values()}
    assert names == {"fwtop_step", "aten::addmm", "worker op", "kernel a", "kernel b"}
    assert {m.name for m in plane.stat_metadata.values()} == {"step_num", "_r"}
    main = next(line for line in plane.lines if line.name == "main")
    assert main.timestamp_ns == BASE_NS + 100_000
    assert [(e.offset_ps, e.duration_ps) for e in main.events] == [(0, 50_000_000), (10_500_000, 20_250_000)]
