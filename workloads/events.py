"""Parent side of the child protocol: split bytes into bounded lines, parse and validate events.

Nothing a child writes can crash the parent: malformed, oversized, non-UTF-8
or wrong-typed lines become ``Invalid`` records that are counted and shown.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from .child.protocol import EVENTS, MAX_LINE_BYTES, PROTOCOL_VERSION


class LineSplitter:
    """Splits a byte stream into lines of at most ``max_len`` bytes.

    A line longer than the limit is dropped (up to its newline) and reported
    once as ``None`` in the output, so memory stays bounded whatever arrives.
    """

    def __init__(self, max_len: int = MAX_LINE_BYTES) -> None:
        self.max_len = max_len
        self._buf = bytearray()
        self._discarding = False

    def feed(self, data: bytes) -> list[bytes | None]:
        out: list[bytes | None] = []
        start = 0
        while True:
            nl = data.find(b"\n", start)
            if nl < 0:
                break
            piece = data[start:nl]
            if self._discarding:
                self._discarding = False
            elif len(self._buf) + len(piece) > self.max_len:
                out.append(None)
            else:
                self._buf += piece
                out.append(bytes(self._buf))
            self._buf.clear()
            start = nl + 1
        rest = data[start:]
        if not self._discarding:
            if len(self._buf) + len(rest) > self.max_len:
                self._buf.clear()
                self._discarding = True
                out.append(None)
            else:
                self._buf += rest
        return out

    def flush(self) -> list[bytes]:
        """The unterminated tail at end of stream (a child killed mid-write)."""
        tail = bytes(self._buf)
        self._buf.clear()
        self._discarding = False
        return [tail] if tail else []


@dataclass(frozen=True)
class Event:
    kind: str
    t: float
    data: dict = field(default_factory=dict)

    def get(self, key, default=None):
        return self.data.get(key, default)


@dataclass(frozen=True)
class StepEvent:
    index: int
    t: float  # wall-clock time the step ended (child's clock)
    duration: float  # seconds
    samples: int | None
    tokens: int | None
    loss: float | None
    mem: dict | None  # framework figures in bytes: allocated, reserved, peak
    warmup: bool
    kind: str = "step"
    profiled: bool = False  # inside a profiler capture: shown, kept out of steady-state statistics


@dataclass(frozen=True)
class Invalid:
    reason: str
    line: str  # a printable excerpt


_NUM = (int, float)


def _is_num(x) -> bool:
    return isinstance(x, _NUM) and not isinstance(x, bool)


def _opt_int(x) -> bool:
    return x is None or (isinstance(x, int) and not isinstance(x, bool))


def _opt_num(x) -> bool:
    return x is None or _is_num(x)


def _excerpt(line: bytes, n: int = 120) -> str:
    text = line[:n].decode("utf-8", "replace")
    return text + ("..." if len(line) > n else "")


def _parse_mem(mem):
    if mem is None:
        return None
    if not isinstance(mem, dict):
        raise ValueError("mem is not an object")
    out = {}
    for key in ("allocated", "reserved", "peak"):
        v = mem.get(key)
        if not _opt_num(v):
            raise ValueError(f"mem.{key} is not a number")
        out[key] = v
    return out


def parse_line(line: bytes | None) -> Event | StepEvent | Invalid:
    if line is None:
        return Invalid(f"line longer than {MAX_LINE_BYTES} bytes", "")
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError:
        return Invalid("not UTF-8", _excerpt(line))
    try:
        obj = json.loads(text)
    except (ValueError, RecursionError):
        return Invalid("not JSON", _excerpt(line))
    if not isinstance(obj, dict):
        return Invalid("not a JSON object", _excerpt(line))
    if obj.get("v") != PROTOCOL_VERSION:
        return Invalid(f"protocol version {obj.get('v')!r}, expected {PROTOCOL_VERSION}", _excerpt(line))
    kind = obj.get("event")
    if kind not in EVENTS:
        return Invalid(f"unknown event {kind!r}", _excerpt(line))
    t = obj.get("t")
    if not _is_num(t):
        return Invalid("event without a numeric time", _excerpt(line))
    if kind == "step":
        try:
            index, duration = obj.get("index"), obj.get("duration")
            if not isinstance(index, int) or isinstance(index, bool) or index < 0:
                raise ValueError("step index is not a whole number")
            if not _is_num(duration) or duration < 0:
                raise ValueError("step duration is not a number")
            for key in ("samples", "tokens"):
                if not _opt_int(obj.get(key)):
                    raise ValueError(f"step {key} is not a whole number")
            if not _opt_num(obj.get("loss")):
                raise ValueError("step loss is not a number")
            return StepEvent(
                index=index,
                t=float(t),
                duration=float(duration),
                samples=obj.get("samples"),
                tokens=obj.get("tokens"),
                loss=obj.get("loss"),
                mem=_parse_mem(obj.get("mem")),
                warmup=bool(obj.get("warmup", False)),
                profiled=obj.get("profiled") is True,
            )
        except ValueError as exc:
            return Invalid(str(exc), _excerpt(line))
    data = {k: v for k, v in obj.items() if k not in ("v", "event", "t")}
    return Event(kind=kind, t=float(t), data=data)
