"""Protocol: encoding, the bounded line splitter, validation, and real pipes."""

import json
import os
import threading

from hypothesis import given, settings
from hypothesis import strategies as st

from fwtop.workloads.child import protocol
from fwtop.workloads.events import Event, Invalid, LineSplitter, StepEvent, parse_line


def step_line(**over):
    payload = {
        "t": 1.0,
        "index": 3,
        "duration": 0.01,
        "samples": 8,
        "tokens": None,
        "loss": 1.5,
        "mem": {"allocated": 10, "reserved": 20, "peak": 15},
        "warmup": False,
    }
    payload.update(over)
    return protocol.encode("step", payload)


def test_round_trip_step():
    ev = parse_line(step_line().rstrip(b"\n"))
    assert isinstance(ev, StepEvent)
    assert (ev.index, ev.duration, ev.samples, ev.loss, ev.mem["reserved"]) == (3, 0.01, 8, 1.5, 20)


def test_round_trip_other_event():
    ev = parse_line(protocol.encode("hello", {"t": 2.0, "framework": "jax"}).rstrip())
    assert isinstance(ev, Event) and ev.kind == "hello" and ev.get("framework") == "jax"


def test_non_finite_loss_becomes_null():
    assert protocol.finite_or_none(float("nan")) is None
    assert protocol.finite_or_none(float("inf")) is None
    assert protocol.finite_or_none(2) == 2.0
    assert b"NaN" not in protocol.encode("step", {"loss": protocol.finite_or_none(float("nan"))})


def test_invalid_lines_are_named():
    cases = {
        b"\xff\xfe": "not UTF-8",
        b"{nope": "not JSON",
        b"[1,2]": "not a JSON object",
        b'{"v": 99, "event": "step", "t": 1}': "protocol version",
        b'{"v": 1, "event": "explode", "t": 1}': "unknown event",
        b'{"v": 1, "event": "hello"}': "numeric time",
        step_line(index=-1).rstrip(): "index",
        step_line(index="3").rstrip(): "index",
        step_line(duration="fast").rstrip(): "duration",
        step_line(loss="low").rstrip(): "loss",
        step_line(mem={"allocated": "lots"}).rstrip(): "mem.allocated",
        step_line(samples=1.5).rstrip(): "samples",
    }
    for line, reason in cases.items():
        ev = parse_line(line)
        assert isinstance(ev, Invalid), line
        assert reason in ev.reason, (line, ev.reason)
    assert "longer than" in parse_line(None).reason


def test_splitter_joins_chunks_and_bounds_lines():
    sp = LineSplitter(max_len=10)
    assert sp.feed(b"abc") == []
    assert sp.feed(b"def\ngh") == [b"abcdef"]
    assert sp.feed(b"i\n") == [b"ghi"]
    # An oversized line is reported once (None) and skipped up to its newline.
    out = sp.feed(b"0123456789ABC")
    assert out == [None]
    assert sp.feed(b"DEF\nok\n") == [b"ok"]
    assert sp.feed(b"tail") == [] and sp.flush() == [b"tail"]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=300), max_size=30))
def test_splitter_and_parser_never_crash_and_stay_bounded(chunks):
    sp = LineSplitter(max_len=64)
    for chunk in chunks:
        for line in sp.feed(chunk):
            assert line is None or len(line) <= 64
            parse_line(line)
        assert len(sp._buf) <= 64
    for line in sp.flush():
        parse_line(line)


@settings(max_examples=200, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(["v", "event", "t", "index", "duration", "loss", "mem", "samples"]),
        st.one_of(
            st.none(),
            st.booleans(),
            st.integers(),
            st.floats(allow_nan=False),
            st.text(max_size=5),
            st.lists(st.integers(), max_size=2),
            st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
        ),
    )
)
def test_wrong_typed_events_never_crash(obj):
    ev = parse_line(json.dumps(obj).encode())
    assert isinstance(ev, (Event, StepEvent, Invalid))


def test_writer_and_reader_over_real_pipes():
    r, w = os.pipe()
    chunks = []

    def drain():
        while chunk := os.read(r, 65536):
            chunks.append(chunk)

    reader = threading.Thread(target=drain)
    reader.start()
    writer = protocol.EventWriter(w)
    writer.emit("notice", level="info", message="x" * 100_000)  # bigger than a pipe buffer
    writer.emit("bye", steps=3, reason="done")
    os.close(w)
    reader.join(10)
    os.close(r)
    events = [parse_line(line) for line in LineSplitter().feed(b"".join(chunks))]
    assert [e.kind for e in events] == ["notice", "bye"]
    assert len(events[0].get("message")) == 100_000


def test_control_reader_commands_and_eof():
    r, w = os.pipe()
    got, eof = [], threading.Event()
    reader = protocol.ControlReader(r, got.append, eof.set)
    reader.start()
    os.write(w, protocol.encode("pause", {}, key="cmd") + b"garbage\n" + protocol.encode("bogus", {}, key="cmd"))
    os.write(w, protocol.encode("stop", {}, key="cmd"))
    os.close(w)
    assert eof.wait(5)
    assert [c["cmd"] for c in got] == ["pause", "stop"]
