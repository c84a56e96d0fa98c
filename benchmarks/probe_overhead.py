"""What watching a workload costs it: one workload run bare and watched by fwtop's probes
at 2 Hz and at 10 Hz, interleaved in one run, and the time each probe's sample() takes.

    python benchmarks/probe_overhead.py [--cycles 12] [--window 3] [--model mlp] [--device cpu]

One real child trains without stopping under a real Session that starts no probes of
its own. The run is cut into windows of ``--window`` seconds; each cycle has one window
per condition (no probes; every available probe at 0.5 s; at 0.1 s), in a rotating
order, so slow drift in the machine's load (it is shared) falls on all three alike. In
a watched window the probes (started once) run fwtop's own sampling loop
(session/probing.py ``sample_loop``) and watch the child's process tree. Each step is
assigned to the window it ended in (the first 0.25 s of a window are skipped). Per
cycle: median step time of each watched window / the bare window; reported as the
median over cycles, with the quartiles; and fwtop's own CPU time per window (all its
threads: event handling, which is the same in every window, plus the probes). The child runs with OMP_NUM_THREADS=1 so that
it does not claim every core. Then each available probe samples the live child's tree
200 times: median and p95 of sample()'s wall time. Prints Markdown for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import sys
import time

from fwtop.probes import default_probes
from fwtop.session.probing import sample_loop
from fwtop.session.session import RUNNING, Session
from fwtop.session.stats import percentile
from fwtop.workloads.spec import WorkloadSpec

CONDITIONS = {"bare": None, "2 Hz": 0.5, "10 Hz": 0.1}
SETTLE_S = 0.25


async def measure(spec: WorkloadSpec, cycles: int, window: float):
    session = Session([spec], record=False, probes=[], stall_after=None)
    ends: list[tuple[float, float]] = []  # (parent clock when the step event arrived, duration)

    def on_event(kind: str, wid: str | None) -> None:
        if kind == "step" and wid is not None:
            last = session.timeline.steps(wid).last
            if last is not None and not last.warmup:
                ends.append((time.time(), last.duration))

    session.listeners.append(on_event)
    await session.start()
    w = session.workloads[0]
    while w.state != RUNNING or session.timeline.steps(w.id).count < 20:
        if w.ended:
            raise SystemExit(f"the workload ended: {w.state} {w.reason}")
        await asyncio.sleep(0.2)
    probes = default_probes()
    for p in probes:
        await asyncio.to_thread(p.start)
    probes = [p for p in probes if p.available]
    for p in probes:
        p.watch({w.id: w.runner.pid}, {w.id: str((w.hello or {}).get("device"))})
    names = list(CONDITIONS)
    windows: list[tuple[int, str, float, float]] = []
    cpu: dict[str, list[float]] = {n: [] for n in names}  # fwtop's CPU seconds per second, per window
    for c in range(cycles):
        for name in names[c % 3 :] + names[: c % 3]:
            interval = CONDITIONS[name]
            tasks = []
            if interval is not None:
                for p in probes:
                    p.interval = interval
                    tasks.append(asyncio.create_task(sample_loop(p, lambda s: None, lambda p: None)))
            t0, cpu0 = time.time(), time.process_time()
            await asyncio.sleep(window)
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            t1, cpu1 = time.time(), time.process_time()
            windows.append((c, name, t0 + SETTLE_S, t1))
            cpu[name].append((cpu1 - cpu0) / (t1 - t0))
        print(f"cycle {c + 1}/{cycles} done", file=sys.stderr)
    times = sample_times(probes, w.id, w.runner.pid)
    for p in probes:
        p.close()
    await session.stop()
    return windows, ends, times, [p.name for p in probes], cpu


def sample_times(probes, wid: str, pid: int, n: int = 200) -> list[tuple[str, float, float]]:
    out = []
    for probe in probes:
        probe.watch({wid: pid})
        probe.sample()
        ts = []
        for _ in range(n):
            t = time.perf_counter()
            probe.sample()
            ts.append(time.perf_counter() - t)
        out.append((probe.name, statistics.median(ts), percentile(ts, 95)))
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cycles", type=int, default=12)
    ap.add_argument("--window", type=float, default=3.0)
    ap.add_argument("--model", default="mlp")
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()
    spec = WorkloadSpec.create(
        "torch", model=args.model, device=args.device, steps=0, warmup=5, env={"OMP_NUM_THREADS": "1"}
    )
    windows, ends, times, available, cpu = asyncio.run(measure(spec, args.cycles, args.window))
    med: dict[tuple[int, str], float] = {}
    count: dict[str, int] = dict.fromkeys(CONDITIONS, 0)
    for c, name, a, b in windows:
        ds = [d for t, d in ends if a <= t < b]
        if ds:
            med[(c, name)] = statistics.median(ds)
            count[name] += len(ds)
    print(
        f"\n{platform.node()}: {os.cpu_count()} cores, Python {platform.python_version()}, torch {args.model} on "
        f"{args.device}, {args.cycles} cycles of 3 x {args.window:g} s windows; probes: {', '.join(available)}\n"
    )
    print(
        "| probes | steps measured | median step ms | step time / bare (median over cycles) | quartiles "
        "| fwtop CPU % of one core (median window) |"
    )
    print("|---|---|---|---|---|---|")
    for name in CONDITIONS:
        per = [med[(c, name)] for c in range(args.cycles) if (c, name) in med]
        ms = statistics.median(per) * 1e3 if per else float("nan")
        if name == "bare":
            print(f"| none | {count[name]} | {ms:.3f} | 1 (baseline) | | {statistics.median(cpu[name]) * 100:.2f} |")
            continue
        rs = [med[(c, name)] / med[(c, "bare")] for c in range(args.cycles) if (c, name) in med and (c, "bare") in med]
        q = statistics.quantiles(rs, n=4) if len(rs) >= 2 else [rs[0]] * 3
        label = f"{name} ({', '.join(available)})"
        print(
            f"| {label} | {count[name]} | {ms:.3f} | {statistics.median(rs):.4f} | {q[0]:.4f} to {q[2]:.4f} "
            f"| {statistics.median(cpu[name]) * 100:.2f} |"
        )
    print("\n| probe | sample() median ms | p95 ms |")
    print("|---|---|---|")
    for name, m, p95 in times:
        print(f"| {name} | {m * 1e3:.3f} | {p95 * 1e3:.3f} |")
    for p in default_probes():
        if p.name not in available:
            p.start()
            print(f"| {p.name} | {p.status} | |")
            p.close()


if __name__ == "__main__":
    main()
