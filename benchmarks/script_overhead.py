"""What step detection costs a user's script, and how well fwtop's step times match the script's own.

    python benchmarks/script_overhead.py [--steps 300] [--repeats 3] [--width 64]

A tiny PyTorch loop (torch.optim.Adam on a small MLP, so that fwtop's per-step
work is a visible share of the step) times its own steps with perf_counter and
prints their median. It runs alternately as plain ``python script.py`` and under
``fwtop run --headless --json`` (real CLI, real child, the optimizer step hook).
The difference of the script's own medians is what the hook and the step event
cost per step; fwtop's median (from its summary) against the script's own
median under fwtop says how faithful fwtop's step time is. Also: the cost of
``fwtop.step()`` when fwtop is not running (the no-op).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import timeit
from pathlib import Path

SCRIPT = """\
import json, statistics, sys, time
import torch
from torch import nn

torch.set_num_threads(1)
steps, width = int(sys.argv[1]), int(sys.argv[2])
model = nn.Sequential(nn.Linear(width, width), nn.ReLU(), nn.Linear(width, 1))
opt = torch.optim.Adam(model.parameters(), lr=1e-3)
x, y = torch.randn(32, width), torch.randn(32, 1)
times = []
for i in range(steps):
    t0 = time.perf_counter()
    opt.zero_grad()
    nn.functional.mse_loss(model(x), y).backward()
    opt.step()
    times.append(time.perf_counter() - t0)
print("RESULT " + json.dumps({"median": statistics.median(times[10:])}), flush=True)
"""


BOUNDARY = """\
import importlib.util, os, sys, threading, time, timeit
here = sys.argv[1]
spec = importlib.util.spec_from_file_location("_fwtop_child", os.path.join(here, "__init__.py"),
                                              submodule_search_locations=[here])
mod = importlib.util.module_from_spec(spec); sys.modules["_fwtop_child"] = mod; spec.loader.exec_module(mod)
from _fwtop_child import detect, hooks, protocol, runtime, steps
r, w = os.pipe()
threading.Thread(target=lambda: [None for _ in iter(lambda: os.read(r, 65536), b"")], daemon=True).start()
writer = protocol.EventWriter(w)
driver = steps.StepDriver(writer, runtime.Control(), time.time(), warmup=2)
det = detect.StepDetector(driver, writer, "bench.py", time.time())
driver.memory = det.memory
hooks.install(det)
import torch  # the watcher hooks torch: its sync and memory functions are in the boundary
det.step_ended("torch.optim")  # the first one sends the hello
n = 20000
print("RESULT", min(timeit.repeat(lambda: det.step_ended("torch.optim"), number=n, repeat=5)) / n)
"""


def boundary_cost() -> float:
    """Child-side cost of one detected step: sync check, memory figures, step event, commands."""
    here = Path(__file__).resolve().parent.parent / "workloads" / "child"
    p = subprocess.run([sys.executable, "-c", BOUNDARY, str(here)], capture_output=True, text=True, check=True)
    return float(p.stdout.split("RESULT")[1])


def own_median(stdout: str) -> float:
    for line in stdout.splitlines():
        if "RESULT " in line:
            return json.loads(line.split("RESULT ", 1)[1])["median"]
    raise SystemExit(f"the script printed no result:\n{stdout[-2000:]}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--width", type=int, default=64)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "loop.py"
        script.write_text(SCRIPT)
        plain, under, fwtop_median = [], [], []
        for _ in range(a.repeats):
            p = subprocess.run(
                [sys.executable, str(script), str(a.steps), str(a.width)], capture_output=True, text=True, check=True
            )
            plain.append(own_median(p.stdout))
            f = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "fwtop",
                    "run",
                    "--json",
                    "--no-record",
                    str(script),
                    str(a.steps),
                    str(a.width),
                ],
                capture_output=True,
                text=True,
            )
            if f.returncode != 0:
                raise SystemExit(f.stderr[-3000:])
            under.append(own_median(f.stderr))  # headless --json: the script's output goes to stderr
            fwtop_median.append(json.loads(f.stdout)["workloads"][0]["step_time_s"]["median"])
    setup = "import fwtop"
    noop_ns = min(timeit.repeat("fwtop.step(samples=32)", setup=setup, number=200_000, repeat=5)) / 200_000 * 1e9

    boundary_us = boundary_cost() * 1e6

    def us(xs):
        return statistics.median(xs) * 1e6

    print(f"steps per run {a.steps}, repeats {a.repeats}, MLP width {a.width}, batch 32, 1 thread")
    print("| measure | median step, us |")
    print("|---|---|")
    print(f"| script's own timing, plain python | {us(plain):.1f} |")
    print(f"| script's own timing, under fwtop run | {us(under):.1f} |")
    print(f"| fwtop's step time (its summary) | {us(fwtop_median):.1f} |")
    print(f"| cost of detection per step (under - plain) | {us(under) - us(plain):.1f} |")
    print(f"one detected step boundary in the child (torch imported, CPU): {boundary_us:.1f} us")
    print(f"fwtop.step() without fwtop running: {noop_ns:.0f} ns per call")


if __name__ == "__main__":
    main()
