"""Loading a recorded run for replay: config.json is checked at construction, the records are
read by start() (on the loop, or in a thread for a large recording) with the same result."""

from __future__ import annotations

import asyncio
import json
import sys

import pytest

from fwtop.session import replay as replay_mod
from fwtop.session.replay import ReplaySession
from fwtop.session.rundir import read_jsonl
from fwtop.session.session import FINISHED, Session
from fwtop.workloads.errors import UserError

STEPS = 40


def _write_run(path, steps: int = STEPS) -> None:
    spec = {"model": "mlp", "device": "cpu", "steps": steps, "warmup": 2, "python": sys.executable}
    config = {
        "name": "loadtest",
        "workloads": [
            {"id": "w0", "label": "a", "framework": "torch", **spec},
            {"id": "w1", "label": "b", "framework": "jax", **spec},
        ],
    }
    (path / "config.json").write_text(json.dumps(config))
    t0 = 1_800_000_000.0
    events, samples = [], []
    for k, wid in enumerate(("w0", "w1")):
        events.append({"w": wid, "event": "hello", "t": t0 + k, "device": "cpu", "device_kind": "cpu"})
        events.append({"w": wid, "event": "compile", "t": t0 + k + 0.5, "first_step_s": 0.5})
        for i in range(steps):
            t = t0 + k + 1 + i * 0.1
            mem = {"allocated": 1000 + i, "reserved": 4096, "peak": 2000 + i}
            events.append(
                {
                    "w": wid,
                    "event": "step",
                    "t": t,
                    "index": i,
                    "duration": 0.1 + 0.001 * (i % 7),
                    "samples": 8,
                    "tokens": None,
                    "loss": 1.0 / (i + 1),
                    "mem": mem,
                    "warmup": i < 2,
                }
            )
        events.append({"w": wid, "event": "notice", "t": t0 + k + 1.05, "message": "a notice"})
        events.append({"w": wid, "event": "bye", "t": t0 + k + 1 + steps * 0.1, "steps": steps, "reason": "done"})
        events.append({"w": wid, "event": "exit", "t": t0 + k + 1.1 + steps * 0.1, "state": "finished", "exit_code": 0})
    for j in range(steps):
        t = t0 + 1 + j * 0.1  # same times as w0's steps: ties keep events before samples
        samples.append(
            {"probe": "host", "target": "host", "t": t, "values": {"cpu_percent": 50.0 + j % 5, "mem_used": 10 + j}}
        )
        samples.append({"probe": "host", "target": "w0", "t": t, "values": {"cpu_percent": 90.0, "rss": 1 << 20}})
    samples.append(
        {"probe": "host", "target": "status", "t": t0, "values": {"available": True, "status": "ok", "notes": []}}
    )
    lines = [json.dumps(e) for e in events]
    lines[5:5] = ["not json", "[1, 2]", '{"event": "step", "t": 1}', '{"w": "w0", "event": "step"} {"extra": 1}']
    (path / "events.jsonl").write_text("\n".join(lines) + '\n{"w": "w0", "event": "st')  # torn last line
    (path / "samples.jsonl").write_text("".join(json.dumps(s) + "\n" for s in samples))
    (path / "logs").mkdir()
    (path / "logs" / "w0.log").write_text("first line\nsecond line\n")


@pytest.fixture
def run_dir(tmp_path):
    _write_run(tmp_path)
    return tmp_path


def _state(r: ReplaySession) -> str:
    """Everything the dashboard and the summary read, as one comparable text."""
    summary = Session.summary(r)
    summary.pop("started", None)
    summary.pop("ended", None)
    tl = r.timeline
    out = {
        "summary": summary,
        "workloads": [[w.state, w.hello, w.compile, w.bye, list(w.log), w.notices, w.ended_at] for w in r.workloads],
        "steps": {
            wid: [repr(s.steps), list(s.steady), s.mem_peak, s.stats(exact=True)] for wid, s in tl._steps.items()
        },
        "samples": {repr(k): [repr(x) for x in v] for k, v in tl._samples.items()},
        "peaks": {repr(k): v for k, v in tl.peaks.items()},
        "probe_status": r.probe_status,
        "position": (r.position, r.duration),
    }
    return json.dumps(out, default=repr, sort_keys=True)


def test_construction_checks_config_only_and_start_loads(run_dir):
    r = ReplaySession(run_dir, jump_to_end=True)
    assert not r.loaded and r.timeline.steps("w0").count == 0 and not r.workloads[0].log
    asyncio.run(r.run())
    assert r.loaded and r.duration > 0 and r.position == r.duration
    assert [r.timeline.steps(w).count for w in ("w0", "w1")] == [STEPS, STEPS]
    assert all(w.state == FINISHED for w in r.workloads)
    assert list(r.workloads[0].log)[:2] == ["first line", "second line"]  # the log, then the notices
    assert r.probe_status["host"]["status"] == "ok"
    assert r.timeline.peaks[("host", "host")]["mem_used"] == 10 + STEPS - 1


def test_a_bad_run_dir_fails_at_construction_whatever_its_records(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"name": "x"}))
    (tmp_path / "events.jsonl").write_text("garbage\n")
    with pytest.raises(UserError, match="lists no workloads"):
        ReplaySession(tmp_path)


def test_a_large_recording_read_in_a_thread_gives_the_same_state(run_dir, monkeypatch):
    on_loop = ReplaySession(run_dir, jump_to_end=True)
    asyncio.run(on_loop.run())
    monkeypatch.setattr(replay_mod, "THREAD_LOAD_BYTES", 0)  # every recording counts as large
    threaded = ReplaySession(run_dir, jump_to_end=True)
    asyncio.run(threaded.run())
    assert _state(threaded) == _state(on_loop)


def _reference_read(path) -> list[dict]:
    """read_jsonl as it was: json.loads on every complete line."""
    out = []
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            if not line.endswith("\n"):
                break
            try:
                obj = json.loads(line)
            except ValueError:
                continue
            if isinstance(obj, dict):
                out.append(obj)
    return out


def test_read_jsonl_reads_every_line_as_json_loads_does(tmp_path):
    lines = [
        '{"a": 1}',
        '  {"b": [1, 2, {"c": null}]}  \t',
        "",
        "   ",
        '{"a": 1} {"b": 2}',  # extra data
        '{"a": 1},',
        "[1, 2]",
        "3",
        '"text"',
        "xyz",
        '{"a": NaN, "b": Infinity, "c": -Infinity}',
        '{"a": 1, "a": 2}',
        '{"unicode": "\\u00e9\\ud83d\\ude00", "raw": "\u00e9"}',
        "\ufeff{}",  # a byte-order mark: not JSON
        '{"a": 1',
        "{}\r",
        '{"deep": ' + "[" * 50 + "]" * 50 + "}",
        '{"bad escape": "\\x"}',
    ]
    path = tmp_path / "f.jsonl"
    path.write_text("\n".join(lines) + '\n{"torn": ')
    path.write_bytes(path.read_bytes().replace(b"xyz", b"xy\xff"))  # invalid UTF-8 too
    got = read_jsonl(path)
    assert got == _reference_read(path)
    assert len(got) == 7 and got[0] == {"a": 1}
    (tmp_path / "run").mkdir()
    _write_run(tmp_path / "run", 5)
    for name in ("events.jsonl", "samples.jsonl"):
        assert read_jsonl(tmp_path / "run" / name) == _reference_read(tmp_path / "run" / name)
    assert read_jsonl(tmp_path / "missing.jsonl") == []


def test_a_replayed_step_is_the_step_event_a_live_run_makes():
    """_to_event sets StepEvent's fields directly (faster than its frozen __init__): the
    result must be equal, field for field, to the constructor's, and StepEvent must have
    nothing its __init__ would do besides setting them."""
    from dataclasses import fields

    from fwtop.session.replay import _to_event
    from fwtop.workloads.events import StepEvent

    assert not hasattr(StepEvent, "__post_init__")
    rec = {"w": "w0", "event": "step", "t": 5, "index": 3, "duration": 1, "samples": 8, "tokens": 64}
    rec |= {"loss": 0.5, "mem": {"allocated": 1}, "warmup": 0, "profiled": True}
    ev = _to_event(rec)
    want = StepEvent(
        index=3, t=5.0, duration=1.0, samples=8, tokens=64, loss=0.5, mem={"allocated": 1}, warmup=False, profiled=True
    )
    assert type(ev) is StepEvent and ev == want and hash(ev.t) == hash(want.t)
    assert {f.name: type(getattr(ev, f.name)) for f in fields(StepEvent)} == {
        f.name: type(getattr(want, f.name)) for f in fields(StepEvent)
    }
    assert vars(ev) == vars(want)
    bare = _to_event({"w": "w0", "event": "step"})
    assert bare == StepEvent(index=0, t=0.0, duration=0.0, samples=None, tokens=None, loss=None, mem=None, warmup=False)
