"""Write a Chrome trace (torch.profiler's export) as an XSpace protobuf, stdlib only.

TensorBoard's profile plugin (xprof) lists a capture's tools only from
``<host>.xplane.pb`` files: it does not read ``*.pt.trace.json`` at all (checked
with xprof 2.24.2, docs/benchmarks.md). So a torch capture also gets an XPlane
file made here from its Chrome trace, and xprof's trace viewer opens it.

What is written: one plane ``/host:CPU`` holding every complete (``X``) event of
the trace, one line per (pid, tid) named after the thread, each event with its
name, start and duration. The ``fwtop_step#N`` annotations become ``fwtop_step``
events carrying the ``step_num`` and ``_r`` stats, as TensorFlow's and JAX's step
annotations do. Nothing else (no args, shapes, flows, GPU device planes).

The protobuf wire format is encoded by hand (field numbers from
tsl/profiler/protobuf/xplane.proto): the child may import nothing but the
standard library and its framework. Python 3.8 compatible.
"""

from __future__ import annotations

import json
import os

HOST_PLANE = "/host:CPU"  # the name xprof gives the host's plane
_SMALL = [bytes((i,)) for i in range(0x80)]


def _varint(n: int) -> bytes:
    if 0 <= n < 0x80:
        return _SMALL[n]
    if n < 0:
        n += 1 << 64  # int64: two's complement, ten bytes
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _int(field: int, n: int) -> bytes:
    return _varint(field << 3) + _varint(int(n)) if n else b""


def _bytes(field: int, data: bytes) -> bytes:
    return _varint((field << 3) | 2) + _varint(len(data)) + data


def _str(field: int, s: str) -> bytes:
    return _bytes(field, s.encode("utf-8")) if s else b""


def chrome_events_to_xspace(trace: dict, hostname: str) -> bytes:
    """Encode a Chrome trace dict (``traceEvents``, torch's ``baseTimeNanoseconds``) as XSpace bytes."""
    events = trace.get("traceEvents") or []
    base_ns = int(trace.get("baseTimeNanoseconds") or 0)
    thread_names = {}
    lines = {}  # (pid, tid) -> [(start_ps, dur_ps, name)]
    for ev in events:
        if not isinstance(ev, dict):
            continue
        if ev.get("ph") == "M" and ev.get("name") == "thread_name":
            thread_names[(ev.get("pid"), ev.get("tid"))] = str((ev.get("args") or {}).get("name") or "")
            continue
        if ev.get("ph") != "X":
            continue
        try:
            start_ps = base_ns * 1000 + int(round(float(ev["ts"]) * 1e6))
            dur_ps = max(0, int(round(float(ev.get("dur") or 0) * 1e6)))
        except (KeyError, TypeError, ValueError):
            continue
        lines.setdefault((ev.get("pid"), ev.get("tid")), []).append((start_ps, dur_ps, str(ev.get("name", ""))))

    metadata = {}  # event name -> id
    stat_ids = {"step_num": 1, "_r": 2}
    plane_lines = []
    used_ids = set()
    for line_id, key in enumerate(sorted(lines, key=lambda k: (str(k[0]), str(k[1]))), start=1):
        evs = sorted(lines[key])
        t0_ps = evs[0][0]
        ts_ns = t0_ps // 1000
        body = []
        for start_ps, dur_ps, name in evs:
            stats = b""
            if name.startswith("fwtop_step#"):
                name, _, num = name.partition("#")
                stats = _bytes(4, _int(1, stat_ids["step_num"]) + _int(4, int(num) if num.isdigit() else 0))
                stats += _bytes(4, _int(1, stat_ids["_r"]) + _int(4, 1))
            mid = metadata.setdefault(name, len(metadata) + 1)
            body.append(
                _bytes(4, _int(1, mid) + _varint(2 << 3) + _varint(start_ps - ts_ns * 1000) + _int(3, dur_ps) + stats)
            )
        pid, tid = key
        name = thread_names.get(key) or "pid %s tid %s" % (pid, tid)
        # The thread id where it is a unique number (GPU streams of two devices can share one).
        tid_num = tid if isinstance(tid, int) and tid > 0 and tid not in used_ids else (1 << 32) + line_id
        used_ids.add(tid_num)
        plane_lines.append(
            _bytes(
                3,
                _int(1, tid_num) + _int(10, tid_num) + _str(2, name) + _str(11, name) + _int(3, ts_ns) + b"".join(body),
            )
        )

    plane = _int(1, 0) + _str(2, HOST_PLANE) + b"".join(plane_lines)
    for name, mid in metadata.items():
        entry = _int(1, mid) + _bytes(2, _int(1, mid) + _str(2, name))
        plane += _bytes(4, entry)
    for name, sid in stat_ids.items():
        plane += _bytes(5, _int(1, sid) + _bytes(2, _int(1, sid) + _str(2, name)))
    return _bytes(1, plane) + _str(4, hostname)


def chrome_to_xplane(chrome_path: str, out_path: str, hostname: str) -> str:
    """Read a (plain JSON) Chrome trace and write ``out_path`` (``<host>.xplane.pb``) beside it."""
    with open(chrome_path, encoding="utf-8") as f:
        trace = json.load(f)
    data = chrome_events_to_xspace(trace if isinstance(trace, dict) else {"traceEvents": trace}, hostname)
    tmp = out_path + ".part"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, out_path)
    return out_path
