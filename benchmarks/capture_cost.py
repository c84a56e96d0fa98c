"""Cost of an on-demand profiler capture, per framework, one workload at a time.

    python benchmarks/capture_cost.py [--frameworks torch,jax,tensorflow] [--model mlp]
        [--device cpu] [--steps 5] [--captures 3] [--between 10]

For each framework: a real Session runs one reference workload (default sizes);
after `--between` steady steps, `Session.profile()` asks for a capture of
`--steps` steps, `--captures` times with `--between` steps between them. Per
capture it reads the time from the request (the key press) to the `done` event
(the trace renamed into place), the child's start / stop / export timings and the
files' sizes, and compares the median profiled step with the median steady step.
Prints a Markdown table for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import statistics
import sys
import tempfile
import time

from fwtop.session.session import Session
from fwtop.workloads.spec import WorkloadSpec


async def wait_for(cond, w, timeout=600.0):
    deadline = time.monotonic() + timeout
    while not cond():
        if w.ended:
            raise SystemExit(f"{w.label} ended: {w.state} {w.reason}")
        if time.monotonic() > deadline:
            raise SystemExit("timed out")
        await asyncio.sleep(0.005)


async def measure(fw: str, args, runs: str) -> dict:
    spec = WorkloadSpec.create(fw, model=args.model, device=args.device, steps=0)
    s = Session([spec], runs_dir=runs, name=f"capture-cost-{fw}", stall_after=None)
    await s.start()
    w = s.workloads[0]
    series = s.timeline.steps(w.id)
    caps = []
    try:
        for _ in range(args.captures):
            target = series.count + args.between
            await wait_for(lambda t=target: series.count >= t, w)
            t0 = time.monotonic()
            cap = s.profile(w.id, steps=args.steps)
            await wait_for(lambda c=cap: c.final, w)
            if cap.state != "done":
                raise SystemExit(f"{fw}: capture failed: {cap.reason}")
            caps.append((cap, time.monotonic() - t0))
        await s.stop_workload(w.id)
    finally:
        await s.stop()
    steps = list(series.steps)
    steady = [st.duration for st in steps if not st.warmup and not st.profiled and st.index > 0]
    profiled = [st.duration for st in steps if st.profiled]
    med = statistics.median
    return {
        "fw": fw,
        "version": (w.hello or {}).get("framework_version"),
        "steady_ms": med(steady) * 1e3,
        "profiled_ms": med(profiled) * 1e3,
        "press_to_disk_ms": med(t for _, t in caps) * 1e3,
        "start_ms": med(c.timings.get("start_ms", 0) for c, _ in caps),
        "stop_ms": med(c.timings.get("stop_ms", 0) for c, _ in caps),
        "export_ms": med(c.timings.get("export_ms", 0) for c, _ in caps),
        "files": {_suffix(f["path"]): f["bytes"] for f in caps[-1][0].files},
        "bytes": med(c.bytes for c, _ in caps),
    }


def _suffix(path: str) -> str:
    for suffix in (".pt.trace.json", ".trace.json.gz", ".xplane.pb", ".snapshot.pickle"):
        if path.endswith(suffix):
            return suffix
    return path.rsplit("/", 1)[-1]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--frameworks", default="torch,jax,tensorflow")
    p.add_argument("--model", default="mlp")
    p.add_argument("--device", default="cpu")
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--captures", type=int, default=3)
    p.add_argument("--between", type=int, default=10)
    args = p.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as runs:
        for fw in args.frameworks.split(","):
            rows.append(asyncio.run(measure(fw, args, runs)))
    print(f"{platform.machine()} {platform.system()}, Python {platform.python_version()}, model {args.model}, "
          f"device {args.device}, capture of {args.steps} steps, median of {args.captures} captures")  # fmt: skip
    print()
    print("| framework | steady step | profiled step | cost | key press to trace on disk | start | stop | export | "
          "files (median total) |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        files = ", ".join(f"{k} {v / 1024:.0f} KiB" for k, v in r["files"].items())
        print(
            f"| {r['fw']} {r['version']} | {r['steady_ms']:.2f} ms | {r['profiled_ms']:.2f} ms | "
            f"{r['profiled_ms'] / r['steady_ms']:.2f}x | {r['press_to_disk_ms']:.0f} ms | {r['start_ms']:.1f} ms | "
            f"{r['stop_ms']:.1f} ms | {r['export_ms']:.1f} ms | {files} ({r['bytes'] / 1024:.0f} KiB) |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
