"""What py-spy costs a running workload, and how long a dump of its tree takes.

    python benchmarks/pyspy_cost.py [--model mlp] [--seconds 5] [--rate 100]

Runs one torch reference workload (real child, default sizes of the model, CPU)
until stopped, and compares its median step time in three windows: before,
while ``py-spy record`` samples it (``--rate`` Hz, speedscope, subprocesses on,
py-spy's default blocking mode), and after. Then times ``dump_tree`` (one
``py-spy dump --json`` per process of the tree) five times.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from fwtop.session import pyspy
from fwtop.session.session import RUNNING, Session
from fwtop.workloads.spec import WorkloadSpec


async def window(session, wid: str, seconds: float) -> list[float]:
    series = session.timeline.steps(wid)
    start = series.count
    await asyncio.sleep(seconds)
    return [s.duration for s in list(series.steps)[start - series.count :]] if series.count > start else []


async def main_async(a) -> None:
    spec = WorkloadSpec.create("torch", model=a.model, device="cpu", steps=0)
    with tempfile.TemporaryDirectory() as tmp:
        session = Session([spec], runs_dir=tmp, record=False, name="pyspy-cost")
        await session.start()
        w = session.workloads[0]
        while not (w.state == RUNNING and session.timeline.steps(w.id).count >= 10):
            await asyncio.sleep(0.2)
        pid = w.runner.pid
        before = await window(session, w.id, a.seconds)
        rec = asyncio.create_task(
            asyncio.to_thread(
                pyspy.record, pid, Path(tmp) / "r.speedscope.json", a.seconds, "speedscope", False, True, a.rate
            )
        )
        await asyncio.sleep(1.0)  # py-spy has attached
        during = await window(session, w.id, a.seconds - 1.5)
        path = await rec
        after = await window(session, w.id, a.seconds)
        dumps = []
        for _ in range(5):
            t0 = time.perf_counter()
            tree = await asyncio.to_thread(pyspy.dump_tree, pid)
            dumps.append(time.perf_counter() - t0)
        await session.stop()
    ms = lambda xs: statistics.median(xs) * 1e3 if xs else float("nan")  # noqa: E731
    print(f"torch {a.model} (default sizes), CPU; py-spy record at {a.rate} Hz, {a.seconds:g} s; {path.name} written")
    print("| window | steps | median step ms |")
    print("|---|---|---|")
    print(f"| before | {len(before)} | {ms(before):.2f} |")
    print(f"| while py-spy records | {len(during)} | {ms(during):.2f} |")
    print(f"| after | {len(after)} | {ms(after):.2f} |")
    print(f"dump_tree of {len(tree)} process(es): median {ms(dumps):.0f} ms over 5")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="mlp")
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--rate", type=int, default=100)
    asyncio.run(main_async(ap.parse_args()))


if __name__ == "__main__":
    main()
