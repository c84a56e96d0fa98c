"""Steady-state statistics of step times and the comparison between workloads."""

from __future__ import annotations

import math
from collections.abc import Sequence


def percentile(values: Sequence[float], q: float) -> float | None:
    """Linear-interpolated percentile (q in [0, 100]) of unsorted values; None if empty."""
    if not values:
        return None
    xs = sorted(values)
    pos = (len(xs) - 1) * q / 100.0
    lo = math.floor(pos)
    hi = math.ceil(pos)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def step_stats(durations: Sequence[float]) -> dict:
    if not durations:
        return {"count": 0, "median": None, "p95": None, "mean": None, "min": None, "max": None}
    return {
        "count": len(durations),
        "median": percentile(durations, 50),
        "p95": percentile(durations, 95),
        "mean": sum(durations) / len(durations),
        "min": min(durations),
        "max": max(durations),
    }


def throughput(work_per_step: float | None, steps: int, seconds: float) -> float | None:
    if not work_per_step or not steps or seconds <= 0:
        return None
    return work_per_step * steps / seconds
