"""Statistics of step times: exact percentiles, and a live view that stays cheap on long runs."""

import random
import statistics

from hypothesis import given
from hypothesis import strategies as st

from fwtop.session.stats import percentile, step_stats
from fwtop.session.timeline import StepSeries
from fwtop.workloads.events import StepEvent


def step(i, duration, warmup=False):
    return StepEvent(index=i, t=float(i), duration=duration, samples=8, tokens=None, loss=None, mem=None, warmup=warmup)


@given(st.lists(st.floats(min_value=0, max_value=1e3, allow_nan=False), min_size=1, max_size=200))
def test_step_stats_match_the_statistics_module(xs):
    s = step_stats(xs)
    assert s["count"] == len(xs)
    assert s["median"] == statistics.median(xs) or abs(s["median"] - statistics.median(xs)) < 1e-9
    assert s["min"] == min(xs) and s["max"] == max(xs)
    assert min(xs) <= s["p95"] <= max(xs)
    assert percentile(xs, 95) == s["p95"]


def test_empty_statistics_are_none():
    assert step_stats([])["median"] is None
    assert percentile([], 50) is None


def test_live_stats_lag_at_most_one_percent_and_the_summary_is_exact():
    series = StepSeries()
    rng = random.Random(0)
    for i in range(5000):
        series.add(step(i, rng.random(), warmup=i < 2))
        live = series.stats()
        steady = len(series.steady)
        assert steady - live["count"] <= max(0, live["count"] // 100)
        if steady < 100:
            assert live["count"] == steady  # short runs: every step counts at once
    exact = series.stats(exact=True)
    assert exact["count"] == 4998 == series.steady_count
    assert exact["median"] == statistics.median(series.steady)


def test_timeline_memory_is_bounded_on_a_long_run():
    """Hours of steps and probe samples: the timeline keeps rings for the charts and one
    8-byte duration per steady step, so its memory stops growing once the rings are full."""
    import tracemalloc

    from fwtop.probes.base import Sample
    from fwtop.session.timeline import Timeline

    tl = Timeline()

    def feed(start, n):
        for i in range(start, start + n):
            tl.add_step("w0", step(i, 0.01))
            tl.add_sample(Sample(float(i), "host", "w0", {"cpu_percent": 50.0, "rss": 1 << 30, "threads": 8}))

    tracemalloc.start()
    feed(0, 5000)  # every ring full
    before = tracemalloc.get_traced_memory()[0]
    feed(5000, 50_000)
    grown = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    assert len(tl.steps("w0").steps) == tl.capacity and len(tl.samples("host", "w0")) == tl.sample_capacity
    assert grown < 50_000 * 8 * 1.5, grown  # the steady durations (8 bytes each), nothing else grows
