"""Steady-state statistics of step times and the comparison between workloads."""

from __future__ import annotations

import math
from collections.abc import Sequence


def _percentile_sorted(xs: Sequence[float], q: float) -> float:
    pos = (len(xs) - 1) * q / 100.0
    lo = math.floor(pos)
    hi = math.ceil(pos)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def percentile(values: Sequence[float], q: float) -> float | None:
    """Linear-interpolated percentile (q in [0, 100]) of unsorted values; None if empty."""
    if not values:
        return None
    return _percentile_sorted(sorted(values), q)


def step_stats(durations: Sequence[float]) -> dict:
    if not durations:
        return {"count": 0, "median": None, "p95": None, "mean": None, "min": None, "max": None}
    xs = sorted(durations)  # once, for every statistic
    return {
        "count": len(xs),
        "median": _percentile_sorted(xs, 50),
        "p95": _percentile_sorted(xs, 95),
        "mean": math.fsum(xs) / len(xs),
        "min": xs[0],
        "max": xs[-1],
    }


def throughput(work_per_step: float | None, steps: int, seconds: float) -> float | None:
    if not work_per_step or not steps or seconds <= 0:
        return None
    return work_per_step * steps / seconds
