"""Replay a recorded run directory as a Session: the dashboard shows it like a live one.

The recorded events and samples are fed through the same handlers a live run
uses, at the recorded pace (times ``speed``) or all at once (``jump_to_end``).
Nothing is started, nothing is recorded.

Construction only checks config.json (a bad run directory is a UserError before any
terminal set-up); ``start()`` reads the records. A large recording is read in a thread,
so the dashboard draws (and answers keys) while it loads; a small one is read at once,
which brings the first complete frame sooner than an empty frame followed by a full
repaint (measured in docs/benchmarks.md, "Start-up").
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import fields
from operator import itemgetter
from pathlib import Path

from fwtop.probes.base import Sample
from fwtop.workloads.errors import UserError
from fwtop.workloads.events import Event, Invalid, StepEvent
from fwtop.workloads.spec import WorkloadSpec

from .rundir import read_jsonl
from .session import Session, Workload

_SPEC_FIELDS = {f.name for f in fields(WorkloadSpec)}
_TIME_ORDER = itemgetter(0, 1)  # (t, order key) of a loaded record
# The replay applies the records that are due at most every 0.25 s (4 wake-ups a second):
# the dashboard's text refreshes at 2 Hz and its charts at 1 Hz (tui/app.py TEXT_INTERVAL,
# CHART_INTERVAL), so applying them more often changes nothing on screen.
BATCH_S = 0.25
# Recordings up to this size (events.jsonl + samples.jsonl) are read on the event loop:
# about 50 ms for 1.2 MB (3 workloads x 1500 steps) on this project's test machine.
THREAD_LOAD_BYTES = 4 * 2**20


def _spec_from_record(rec: dict) -> WorkloadSpec:
    """A recorded workload entry -> WorkloadSpec, without re-validating paths of another machine."""
    kw = {k: v for k, v in rec.items() if k in _SPEC_FIELDS}
    kw["name"] = rec.get("label") or kw.get("name") or ""
    try:
        return WorkloadSpec(**kw)
    except TypeError as exc:
        raise UserError(f"config.json has a workload fwtop cannot read: {exc}") from None


_new = object.__new__


def _to_event(rec: dict) -> Event | StepEvent | Invalid:
    kind = rec["event"]
    get = rec.get
    t = float(get("t") or 0.0)
    if kind == "step":
        # The StepEvent a live run makes, with its fields set directly: a frozen dataclass's
        # __init__ sets each field through object.__setattr__, which was the largest cost of
        # applying a recording (about 2 of its 3 us per step). StepEvent has no __post_init__;
        # tests/test_replay_load.py checks that the result equals StepEvent(...).
        ev = _new(StepEvent)
        ev.__dict__.update(
            index=int(get("index", 0)),
            t=t,
            duration=float(get("duration") or 0.0),
            samples=get("samples"),
            tokens=get("tokens"),
            loss=get("loss"),
            mem=get("mem"),
            warmup=bool(get("warmup")),
            kind="step",
            profiled=get("profiled") is True,
        )
        return ev
    if kind == "invalid":
        return Invalid(str(rec.get("reason", "")), str(rec.get("line", "")))
    data = {k: v for k, v in rec.items() if k not in ("w", "event", "t")}
    return Event(kind=kind, t=t, data=data)


class ReplaySession(Session):
    def __init__(self, run_dir: str | Path, speed: float = 1.0, jump_to_end: bool = False) -> None:
        path = Path(run_dir)
        if not path.is_dir():
            raise UserError(f"{run_dir} is not a run directory")
        try:
            config = json.loads((path / "config.json").read_text())
        except FileNotFoundError:
            raise UserError(f"{run_dir} has no config.json: not an fwtop run directory") from None
        except (OSError, ValueError) as exc:
            raise UserError(f"{run_dir}/config.json cannot be read: {exc}") from None
        if not isinstance(config, dict) or not isinstance(config.get("workloads"), list):
            raise UserError(f"{run_dir}/config.json lists no workloads")
        if speed <= 0:
            raise UserError(f"replay speed must be positive, got {speed}")
        specs = [_spec_from_record(rec) for rec in config["workloads"] if isinstance(rec, dict)]
        super().__init__(specs, name=config.get("name", "replay"), record=False, probes=[])
        self.run_path = path
        self.speed = speed
        self.jump_to_end = jump_to_end
        self.recorded_config = config
        self.position = 0.0  # seconds of the recording played so far
        self.duration = 0.0  # known once loaded
        self.loaded = False  # the records have been read (start() reads them)
        self._records: list[tuple[float, int, dict]] = []
        self._play_task: asyncio.Task | None = None

    def _read(self) -> tuple[list[tuple[float, int, dict]], dict[str, list[str]]]:
        """The recorded events and samples in time order (ties in file order, events first),
        and each workload's log lines. Touches no session state: it runs in a thread."""
        records: list[tuple[float, int, dict]] = []
        append = records.append
        i = 0
        for rec in read_jsonl(self.run_path / "events.jsonl"):
            if isinstance(rec.get("w"), str) and isinstance(rec.get("event"), str):
                append((float(rec.get("t") or 0.0), i, rec))
            i += 1
        i = len(records)  # the samples' order keys start after the kept events' count
        for rec in read_jsonl(self.run_path / "samples.jsonl"):
            if isinstance(rec.get("values"), dict):
                append((float(rec.get("t") or 0.0), i, {"sample": rec}))
            i += 1
        records.sort(key=_TIME_ORDER)  # stable: equal keys keep file order, events first
        logs: dict[str, list[str]] = {}
        for w in self.workloads:
            try:
                logs[w.id] = (self.run_path / "logs" / f"{w.id}.log").read_text(errors="replace").splitlines()
            except OSError:
                pass
        return records, logs

    def _size(self) -> int:
        total = 0
        for name in ("events.jsonl", "samples.jsonl"):
            try:
                total += (self.run_path / name).stat().st_size
            except OSError:
                pass
        return total

    async def _load(self) -> None:
        if self._size() > THREAD_LOAD_BYTES:
            records, logs = await asyncio.to_thread(self._read)
        else:
            records, logs = self._read()
        if records:
            self.duration = records[-1][0] - records[0][0]
        for w in self.workloads:
            for line in logs.get(w.id, ()):
                self._on_output(w, line)
        self._records = records
        self.loaded = True

    def _apply(self, rec: dict) -> None:
        if "sample" in rec:
            s = rec["sample"]
            if s.get("target") == "status":  # a probe's availability and n/a notes
                self.probe_status[str(s.get("probe"))] = s["values"]
                self._notify("probe")
                return
            self.timeline.add_sample(
                Sample(float(s.get("t") or 0.0), str(s.get("probe")), str(s.get("target")), s["values"])
            )
            self._notify("sample")
            return
        try:
            w = self.get(rec["w"])
        except KeyError:
            return
        kind = rec["event"]
        if kind in ("added", "removed"):
            return  # config.json already lists the workloads as they ended
        if kind == "exit":
            w.state = str(rec.get("state", "finished"))
            w.reason = str(rec.get("reason") or w.reason)
            w.exit_code = rec.get("exit_code")
            w.ended_at = rec.get("t")
            self._notify("exit", w.id)
        elif kind == "restart":
            self.timeline.reset(w.id)
            fresh = Workload(w.id, w.spec)
            self.workloads[self.workloads.index(w)] = fresh
        else:
            if w.started_at is None:
                w.started_at = rec.get("t")
            self._on_event(w, _to_event(rec))

    async def _play(self) -> None:
        """Apply the records as their time comes, in batches (at most ``1 / BATCH_S`` wake-ups a second)."""
        if not self._records:
            return
        t0 = self._records[0][0]
        clock0 = time.monotonic()
        i, n = 0, len(self._records)
        while i < n:
            now = float("inf") if self.jump_to_end else (time.monotonic() - clock0) * self.speed + t0
            if self._records[i][0] > now:
                # A plain sleep (no task per wake-up): a jump is noticed within BATCH_S.
                delay = (self._records[i][0] - now) / self.speed
                await asyncio.sleep(min(max(delay, BATCH_S), 4 * BATCH_S))
                continue
            while i < n and self._records[i][0] <= now:
                self._apply(self._records[i][2])
                i += 1
            self.position = self._records[i - 1][0] - t0
        self.position = self.duration

    def jump(self) -> None:
        """Play everything that is left at once."""
        self.jump_to_end = True

    # The Session interface, for a recording: nothing to start, stop or signal.

    async def start(self) -> None:
        self.started_at = time.time()
        await self._load()
        self._play_task = asyncio.create_task(self._play())
        self._notify("session")

    async def wait(self) -> None:
        if self._play_task is not None:
            await self._play_task

    async def stop_workload(self, wid: str) -> None:
        return None

    async def restart_workload(self, wid: str) -> None:
        return None

    def pause(self, wid: str) -> bool:
        return False

    def resume(self, wid: str) -> bool:
        return False

    def _check_shared_cpu(self) -> None:
        return None  # a recording's warnings were given live and are in its summary.json

    def kill_all(self) -> None:
        if self._play_task is not None:
            self._play_task.cancel()

    async def stop(self) -> None:
        if self._play_task is not None:
            self._play_task.cancel()
            await asyncio.gather(self._play_task, return_exceptions=True)
        await self.close()

    def summary(self) -> dict:
        saved = self.run_path / "summary.json"
        if self.position >= self.duration:
            try:
                return json.loads(saved.read_text())
            except (OSError, ValueError):
                pass
        return super().summary()
