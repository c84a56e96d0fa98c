"""Energy per step, from a device's cumulative energy counter (NVML's total energy, amdsmi's
accumulator) read by the probes between step events.

The counter is sampled at the probe's rate (2 Hz by default), so a step's energy is the
counter linearly interpolated at the step's start and end: for steps shorter than the
sample period this is the mean power over the surrounding samples times the step time.
A step is counted once samples on both sides of it exist; steps before the first or
after the last sample are not counted. The counter is device-wide: workloads that share
a device share its energy (``shared`` says so).
"""

from __future__ import annotations

from bisect import bisect_left
from collections import deque
from dataclasses import dataclass, field

from fwtop.probes.base import Sample
from fwtop.workloads.events import StepEvent

POINTS_KEPT = 2048  # counter readings kept per device (17 minutes at 2 Hz)
PENDING_KEPT = 20_000  # steps waiting for the sample after them
UNATTRIBUTED_KEPT = 1024  # steps kept while no device is known for the workload


def interpolate(points: list[tuple[float, float]], t: float) -> float | None:
    """The counter at time ``t`` from sorted (time, joules) readings; None outside them."""
    if not points or t < points[0][0] or t > points[-1][0]:
        return None
    i = bisect_left(points, (t, float("-inf")))
    if points[i][0] == t:
        return points[i][1]
    (t0, e0), (t1, e1) = points[i - 1], points[i]
    return e0 + (e1 - e0) * (t - t0) / (t1 - t0)


def step_energy(points: list[tuple[float, float]], start: float, end: float) -> float | None:
    """Joules used between ``start`` and ``end``, or None if the readings do not cover it."""
    a, b = interpolate(points, start), interpolate(points, end)
    if a is None or b is None:
        return None
    return max(0.0, b - a)  # a counter reset (driver reload) never gives negative energy


@dataclass
class WorkloadEnergy:
    devices: tuple = ()  # ((probe, target), ...) whose counters are summed
    steps: int = 0  # steady steps whose energy was measured
    joules: float = 0.0
    seconds: float = 0.0  # their summed duration
    last_step_j: float | None = None
    pending: deque = field(default_factory=lambda: deque(maxlen=PENDING_KEPT))

    @property
    def per_step_j(self) -> float | None:
        return self.joules / self.steps if self.steps else None

    @property
    def avg_power_w(self) -> float | None:
        return self.joules / self.seconds if self.seconds > 0 else None


class EnergyTracker:
    """Fed every step and sample (by the Timeline); keeps the energy of each workload's steady steps."""

    def __init__(self) -> None:
        self.counters: dict[tuple[str, str], deque] = {}
        self.workloads: dict[str, WorkloadEnergy] = {}

    def get(self, wid: str) -> WorkloadEnergy:
        w = self.workloads.get(wid)
        if w is None:
            w = self.workloads[wid] = WorkloadEnergy()
        return w

    def reset(self, wid: str) -> None:
        self.workloads.pop(wid, None)

    def has_counter(self, wid: str) -> bool:
        """Whether every device of the workload has reported its energy counter."""
        w = self.workloads.get(wid)
        return bool(w and w.devices and all(self.counters.get(k) for k in w.devices))

    def shared(self, wid: str) -> list[str]:
        """Other workloads measured on one of the same devices."""
        mine = set(self.get(wid).devices)
        return [other for other, w in self.workloads.items() if other != wid and mine & set(w.devices)]

    def add_step(self, wid: str, step: StepEvent, steady: bool) -> None:
        if step.warmup or not steady:
            return
        w = self.get(wid)
        if not w.devices and len(w.pending) >= UNATTRIBUTED_KEPT:
            w.pending.popleft()  # no device known (yet; on a CPU, ever): keep only recent steps
        w.pending.append((step.t - step.duration, step.t))
        self._settle(w)

    def add_sample(self, s: Sample) -> None:
        values = s.values
        if "energy_j" in values:
            e = values["energy_j"]
            if isinstance(e, (int, float)) and not isinstance(e, bool):
                ring = self.counters.get((s.probe, s.target))
                if ring is None:
                    ring = self.counters[(s.probe, s.target)] = deque(maxlen=POINTS_KEPT)
                if not ring or s.t > ring[-1][0]:
                    ring.append((s.t, float(e)))
                for w in self.workloads.values():
                    if (s.probe, s.target) in w.devices:
                        self._settle(w)
            return
        devices = values.get("devices")
        if isinstance(devices, list) and devices:
            w = self.get(s.target)
            keys = tuple(sorted((s.probe, str(d)) for d in devices))
            if keys != w.devices:
                w.devices = keys
            self._settle(w)

    def _settle(self, w: WorkloadEnergy) -> None:
        """Count every pending step that the readings now cover."""
        if not w.devices or not w.pending:
            return
        rings = [self.counters.get(k) for k in w.devices]
        if any(not r for r in rings):
            return
        newest = min(r[-1][0] for r in rings)
        if w.pending[0][1] > newest:
            return  # the usual case at a step event: no reading after it yet (and no copying)
        oldest = max(r[0][0] for r in rings)
        pts = [list(r) for r in rings]
        while w.pending and w.pending[0][1] <= newest:
            start, end = w.pending.popleft()
            if start < oldest:
                continue  # began before the first reading: not measurable
            parts = [step_energy(p, start, end) for p in pts]
            if any(x is None for x in parts):
                continue
            joules = sum(parts)  # type: ignore[arg-type]
            w.steps += 1
            w.joules += joules
            w.seconds += end - start
            w.last_step_j = joules
