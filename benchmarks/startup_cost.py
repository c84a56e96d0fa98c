"""What fwtop does before its first complete frame, piece by piece, against another source tree.

    python benchmarks/startup_cost.py RUN_DIR [--repeat 15] [--other PATH] [--frame]
    python benchmarks/startup_cost.py --modules

- imports: wall and CPU time of a fresh interpreter running
  ``import fwtop.tui.app, fwtop.session.replay, fwtop.tui.cli`` (what ``fwtop replay``
  imports before its app starts), against ``import textual.app``;
- replay loading: CPU time of reading RUN_DIR's records (``ReplaySession._read``) and of
  applying them all (a jump to the end), in a fresh interpreter each time;
- with --frame, launch to the first complete frame of ``fwtop replay RUN_DIR --end`` in
  tmux at 200x50 (benchmarks/tui_cost.py ``first_frames``, the same readiness tests), and to the
  frame that shows the whole recording.

--other PATH measures a second fwtop tree as well, interleaved run by run (the machine
may be noisy): PATH is a directory holding an ``fwtop`` package, e.g. one assembled from
``git archive`` of an older commit (fwtop_pkg as fwtop/, the other packages inside it).
--modules instead prints what executing each fwtop module imported at start-up costs
(``importlib.reload``, best of 5), the largest first.
Figures are medians over --repeat runs. Run it with PYTHONDONTWRITEBYTECODE unset and
the sources compiled (python -m compileall), or every run compiles them again.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

IMPORTS = "import fwtop.tui.app, fwtop.session.replay, fwtop.tui.cli"
LOAD = """
import asyncio, sys, time
from fwtop.session.replay import ReplaySession
r = ReplaySession(sys.argv[1], jump_to_end=True)
r.listeners.append(lambda kind, wid: None)  # the dashboard listens to every record
c0 = time.process_time()
read = getattr(r, "_read", None)
records = read()[0] if read else r._load()  # an older tree: _load read them (and applied the logs)
c1 = time.process_time()
r._records, r.duration = records, records[-1][0] - records[0][0]
asyncio.run(ReplaySession._play(r))
c2 = time.process_time()
print(c1 - c0, c2 - c1)
"""


def _env(tree: str | None) -> dict:
    env = dict(os.environ)
    if tree:
        env["PYTHONPATH"] = tree
    return env


def _timed(argv: list[str], env: dict) -> tuple[float, float, str]:
    """(wall s, CPU s of the child, its stdout)."""
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    out = subprocess.run(argv, env=env, check=True, capture_output=True, text=True).stdout
    wall = time.perf_counter() - t0
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, r1.ru_utime + r1.ru_stime - r0.ru_utime - r0.ru_stime, out


def modules() -> None:
    import importlib

    exec(IMPORTS)
    costs = []
    for name in sorted(m for m in sys.modules if m.startswith("fwtop")):
        best = float("inf")
        for _ in range(5):
            t0 = time.perf_counter()
            importlib.reload(sys.modules[name])
            best = min(best, time.perf_counter() - t0)
        costs.append((best, name))
    for cost, name in sorted(costs, reverse=True):
        print(f"{cost * 1000:6.2f} ms  {name}")
    print(f"{sum(c for c, _ in costs) * 1000:6.2f} ms  in all")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run_dir", type=Path, nargs="?")
    ap.add_argument("--modules", action="store_true", help="the cost of each fwtop module's body instead")
    ap.add_argument("--repeat", type=int, default=15)
    ap.add_argument("--other", default=None, help="another tree to measure (a directory holding an fwtop package)")
    ap.add_argument("--frame", action="store_true", help="also time the first complete frame in tmux")
    args = ap.parse_args()
    if args.modules:
        modules()
        return
    if args.run_dir is None:
        ap.error("RUN_DIR is needed (or --modules)")
    trees = {"this": None, **({"other": args.other} if args.other else {})}
    res: dict[str, list[float]] = {}

    def add(key: str, value: float) -> None:
        res.setdefault(key, []).append(value)

    if args.frame:
        sys.path.insert(0, str(Path(__file__).parent))
        import tui_cost

    for _ in range(args.repeat):
        wall, cpu, _ = _timed([sys.executable, "-c", "import textual.app"], _env(None))
        add("import textual.app: wall", wall)
        add("import textual.app: CPU", cpu)
        for name, tree in trees.items():
            wall, cpu, _ = _timed([sys.executable, "-c", IMPORTS], _env(tree))
            add(f"{name}: imports wall", wall)
            add(f"{name}: imports CPU", cpu)
            _, _, out = _timed([sys.executable, "-c", LOAD, str(args.run_dir)], _env(tree))
            read, apply = map(float, out.split())
            add(f"{name}: replay read CPU", read)
            add(f"{name}: replay apply CPU", apply)
            if args.frame:
                pp = f"env PYTHONPATH={tree} " if tree else ""
                n = len(json.loads((args.run_dir / "config.json").read_text())["workloads"])
                got = tui_cost.first_frames(
                    f"exec {pp}{sys.executable} -m fwtop replay {args.run_dir} --end",
                    (200, 50),
                    tui_cost.fwtop_ready(n),
                )
                add(f"{name}: first complete frame", got["fwtop"])
                add(f"{name}: recording shown", got["fwtop data"])
                time.sleep(1.0)  # the killed dashboard's last collection ends before the next run
    for key, values in res.items():
        print(f"{key:34} median {statistics.median(values) * 1000:7.1f} ms   min {min(values) * 1000:7.1f} ms")


if __name__ == "__main__":
    main()
