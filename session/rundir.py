"""The run directory: ``runs/<timestamp>-<name>/`` with everything a session saw.

- config.json     the resolved configuration (written atomically at start)
- events.jsonl    every event of every workload, one JSON object a line, flushed per line
- samples.jsonl   probe samples, likewise
- logs/<id>.log   each workload's stdout and stderr
- summary.json    statistics, written atomically on exit

A new directory every run; nothing is ever overwritten. A write that fails (disk
full, permissions) stops recording, keeps what was written readable, and is
reported through ``error`` instead of raising into the session.
"""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path
from typing import IO

from fwtop.workloads.errors import UserError


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-")[:60] or "run"


def write_json_atomic(path: Path, obj) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w") as f:
        json.dump(obj, f, indent=2, sort_keys=False, default=str)
        f.write("\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def ignore_file_size_signal() -> None:
    """A write past RLIMIT_FSIZE raises SIGXFSZ, which kills by default: ignore it, so the
    write fails with EFBIG and recording stops with a message like a full disk."""
    import signal

    if hasattr(signal, "SIGXFSZ"):
        try:
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        except ValueError:  # not the main thread
            pass


class RunDir:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.error: str | None = None  # set once recording stopped
        self._files: dict[str, IO[str]] = {}

    @classmethod
    def create(cls, root: str | os.PathLike, name: str) -> RunDir:
        ignore_file_size_signal()
        root = Path(root)
        stamp = time.strftime("%Y%m%d-%H%M%S")
        base = f"{stamp}-{_slug(name)}"
        try:
            root.mkdir(parents=True, exist_ok=True)
            for n in range(1, 1000):
                path = root / (base if n == 1 else f"{base}-{n}")
                try:
                    path.mkdir()
                except FileExistsError:
                    continue
                (path / "logs").mkdir()
                return cls(path)
        except OSError as exc:
            raise UserError(f"cannot create a run directory under {root}: {exc.strerror or exc}") from None
        raise UserError(f"cannot create a run directory under {root}: too many runs named {base}")

    @property
    def recording(self) -> bool:
        return self.error is None

    def _fail(self, what: str, exc: OSError) -> None:
        if self.error is None:
            self.error = f"recording stopped: cannot write {what} in {self.path}: {exc.strerror or exc}"
        self.close()

    def _append(self, rel: str, line: str) -> None:
        if self.error is not None:
            return
        try:
            f = self._files.get(rel)
            if f is None:
                f = self._files[rel] = open(self.path / rel, "a", encoding="utf-8", buffering=1)
            f.write(line + "\n")  # line-buffered: flushed per line
        except OSError as exc:
            self._fail(rel, exc)

    def write_json(self, name: str, obj) -> None:
        if self.error is not None:
            return
        try:
            write_json_atomic(self.path / name, obj)
        except OSError as exc:
            self._fail(name, exc)

    def event(self, wid: str, kind: str, t: float, data: dict) -> None:
        rec = {"w": wid, "event": kind, "t": t}
        rec.update(data)
        self._append("events.jsonl", json.dumps(rec, separators=(",", ":"), default=str))

    def sample(self, probe: str, target: str, t: float, values: dict) -> None:
        rec = {"probe": probe, "target": target, "t": t, "values": values}
        self._append("samples.jsonl", json.dumps(rec, separators=(",", ":"), default=str))

    def log(self, wid: str, line: str) -> None:
        self._append(f"logs/{wid}.log", line)

    def close(self) -> None:
        for f in self._files.values():
            try:
                f.close()
            except OSError:
                pass
        self._files.clear()


# json.loads(line) is this scanner (C) behind two Python-level wrappers and two regex
# matches; a replay reads thousands of lines before its first complete frame, so
# read_jsonl calls the scanner itself, with the same whitespace and extra-data rules.
_SCAN = json.JSONDecoder().scan_once
_JSON_SPACE = " \t\n\r"


def read_jsonl(path: Path) -> list[dict]:
    """Every complete line of a JSON-lines file that holds one JSON object (a torn last
    line is skipped), as ``json.loads`` would read each line."""
    out = []
    scan = _SCAN
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                if not line.endswith("\n"):
                    break
                text = line.strip(_JSON_SPACE)
                try:
                    obj, end = scan(text, 0)
                except (StopIteration, ValueError):  # StopIteration: no JSON value at all
                    continue
                if end == len(text) and isinstance(obj, dict):  # else: extra data, or not an object
                    out.append(obj)
    except FileNotFoundError:
        pass
    return out
