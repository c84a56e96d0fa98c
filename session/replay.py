"""Replay a recorded run directory as a Session: the dashboard shows it like a live one.

The recorded events and samples are fed through the same handlers a live run
uses, at the recorded pace (times ``speed``) or all at once (``jump_to_end``).
Nothing is started, nothing is recorded.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import fields
from pathlib import Path

from fwtop.probes.base import Sample
from fwtop.workloads.errors import UserError
from fwtop.workloads.events import Event, Invalid, StepEvent
from fwtop.workloads.spec import WorkloadSpec

from .rundir import read_jsonl
from .session import Session, Workload

_SPEC_FIELDS = {f.name for f in fields(WorkloadSpec)}
BATCH_S = 0.05  # replay applies the records that are due at most every 50 ms


def _spec_from_record(rec: dict) -> WorkloadSpec:
    """A recorded workload entry -> WorkloadSpec, without re-validating paths of another machine."""
    kw = {k: v for k, v in rec.items() if k in _SPEC_FIELDS}
    kw["name"] = rec.get("label") or kw.get("name") or ""
    try:
        return WorkloadSpec(**kw)
    except TypeError as exc:
        raise UserError(f"config.json has a workload fwtop cannot read: {exc}") from None


def _to_event(rec: dict) -> Event | StepEvent | Invalid:
    kind = rec["event"]
    t = float(rec.get("t") or 0.0)
    if kind == "step":
        return StepEvent(
            index=int(rec.get("index", 0)),
            t=t,
            duration=float(rec.get("duration") or 0.0),
            samples=rec.get("samples"),
            tokens=rec.get("tokens"),
            loss=rec.get("loss"),
            mem=rec.get("mem"),
            warmup=bool(rec.get("warmup")),
            profiled=rec.get("profiled") is True,
        )
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
        self.duration = 0.0
        self._records = self._load()
        self._play_task: asyncio.Task | None = None

    def _load(self) -> list[tuple[float, int, dict]]:
        records: list[tuple[float, int, dict]] = []
        for i, rec in enumerate(read_jsonl(self.run_path / "events.jsonl")):
            if isinstance(rec.get("w"), str) and isinstance(rec.get("event"), str):
                records.append((float(rec.get("t") or 0.0), i, rec))
        n = len(records)
        for i, rec in enumerate(read_jsonl(self.run_path / "samples.jsonl")):
            if isinstance(rec.get("values"), dict):
                records.append((float(rec.get("t") or 0.0), n + i, {"sample": rec}))
        records.sort(key=lambda r: (r[0], r[1]))
        if records:
            self.duration = records[-1][0] - records[0][0]
        for w in self.workloads:
            log = self.run_path / "logs" / f"{w.id}.log"
            try:
                for line in log.read_text(errors="replace").splitlines():
                    self._on_output(w, line)
            except OSError:
                pass
        return records

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
