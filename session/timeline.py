"""Timeline: bounded ring buffers of steps and probe samples, per workload and per target."""

from __future__ import annotations

from array import array
from collections import deque
from dataclasses import dataclass, field

from fwtop.probes.base import Sample
from fwtop.workloads.events import StepEvent

from .energy import EnergyTracker
from .stats import step_stats

DEFAULT_CAPACITY = 4096  # steps kept per workload for charts
SAMPLE_CAPACITY = 1024  # probe samples kept per (probe, target): 8.5 min at 2 Hz; charts show at most 400
MAX_STEADY = 2_000_000  # steady-state durations kept for statistics (16 MB at most)


@dataclass
class StepSeries:
    """Steps of one workload: recent ones for charts, all steady durations for statistics."""

    capacity: int = DEFAULT_CAPACITY
    steps: deque = field(init=False)
    steady: array = field(default_factory=lambda: array("d"))
    count: int = 0
    steady_count: int = 0
    steady_time: float = 0.0
    samples: int = 0
    tokens: int = 0
    last: StepEvent | None = None
    mem_peak: dict = field(default_factory=dict)  # allocated/reserved/peak maxima in bytes
    excluded: int = 0  # steps kept out of the statistics (warm-up, profiled)
    profiled: int = 0  # steps inside a profiler capture (also counted in excluded)
    _stats: tuple[int, dict] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self.steps = deque(maxlen=self.capacity)

    def stats(self, exact: bool = False) -> dict:
        """step_stats of the steady steps. They are sorted to compute it, so a live view gets
        figures recomputed only once the steady set grew by 1 % (every new step below 100
        steps): a long run at hundreds of steps a second would otherwise sort a million
        durations every refresh. ``exact=True`` (the summary) always covers every step."""
        n = len(self.steady)
        if self._stats is not None:
            done = self._stats[0]
            if done == n or (not exact and n - done < done // 100):
                return self._stats[1]
        self._stats = (n, step_stats(self.steady))
        return self._stats[1]

    def add(self, step: StepEvent, steady: bool = True) -> None:
        self.steps.append(step)
        self.count += 1
        self.last = step
        if step.mem:
            for key, value in step.mem.items():
                if value is not None and value > self.mem_peak.get(key, -1):
                    self.mem_peak[key] = value
        if step.profiled:
            self.profiled += 1
        if step.warmup or step.profiled or not steady:
            self.excluded += 1
            return
        self.steady_count += 1
        self.steady_time += step.duration
        self.samples += step.samples or 0
        self.tokens += step.tokens or 0
        if len(self.steady) < MAX_STEADY:
            self.steady.append(step.duration)


class Timeline:
    def __init__(self, capacity: int = DEFAULT_CAPACITY, sample_capacity: int = SAMPLE_CAPACITY) -> None:
        self.capacity = capacity
        self.sample_capacity = sample_capacity
        self._steps: dict[str, StepSeries] = {}
        self._samples: dict[tuple[str, str], deque] = {}
        self.peaks: dict[tuple[str, str], dict] = {}  # (probe, target) -> field -> max
        self.energy = EnergyTracker()  # energy per step from device energy counters
        self.version = 0  # bumped on every change, so views redraw only when needed

    def steps(self, wid: str) -> StepSeries:
        series = self._steps.get(wid)
        if series is None:
            series = self._steps[wid] = StepSeries(self.capacity)
        return series

    def reset(self, wid: str) -> None:
        """Forget a workload's steps and samples (it is being restarted)."""
        self._steps.pop(wid, None)
        for key in [k for k in self._samples if k[1] == wid]:
            del self._samples[key]
            self.peaks.pop(key, None)
        self.energy.reset(wid)
        self.version += 1

    def add_step(self, wid: str, step: StepEvent, steady: bool = True) -> None:
        self.steps(wid).add(step, steady)
        self.energy.add_step(wid, step, steady)
        self.version += 1

    def add_sample(self, sample: Sample) -> None:
        key = (sample.probe, sample.target)
        ring = self._samples.get(key)
        if ring is None:
            ring = self._samples[key] = deque(maxlen=self.sample_capacity)
        ring.append(sample)
        peaks = self.peaks.setdefault(key, {})
        for name, value in sample.values.items():
            if isinstance(value, (int, float)) and value > peaks.get(name, float("-inf")):
                peaks[name] = value
        self.energy.add_sample(sample)
        self.version += 1

    def samples(self, probe: str, target: str) -> deque:
        return self._samples.get((probe, target), deque())

    def latest(self, probe: str, target: str) -> Sample | None:
        ring = self._samples.get((probe, target))
        return ring[-1] if ring else None

    def targets(self, probe: str) -> list[str]:
        """Every target a probe has reported (devices and workloads)."""
        return [t for p, t in self._samples if p == probe]

    def device_probe(self, wid: str) -> str | None:
        """The GPU probe that attributed this workload to a device (nvml or amdsmi), if any."""
        for probe in ("nvml", "amdsmi"):
            if (probe, wid) in self._samples:
                return probe
        return None
