"""The cyclic garbage collector's time in the dashboard, as it is and after gc.freeze().

    python benchmarks/gc_cost.py RUN_DIR [--seconds 60] [--warmup 5] [--size 200x50]

Runs ``fwtop replay RUN_DIR`` (recorded speed) in a detached tmux session twice:
as it is, and with ``gc.freeze()`` called at the end of the warm-up (what exists
then, widgets, styles and the loaded recording, leaves the collector's
generations). A ``gc.callbacks`` timer inside the process sums the time of each
generation's collections over ``--seconds`` after ``--warmup``, and the
process's CPU time over the same window.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def child(out: str, run_dir: str, warmup: float, seconds: float, freeze: bool) -> None:
    import fwtop.tui.app as app_module

    stats = {"n": [0, 0, 0], "t": [0.0, 0.0, 0.0], "on": False, "start": 0.0}

    def callback(phase: str, info: dict) -> None:
        if phase == "start":
            stats["start"] = time.perf_counter()
        elif stats["on"]:
            g = info["generation"]
            stats["n"][g] += 1
            stats["t"][g] += time.perf_counter() - stats["start"]

    gc.callbacks.append(callback)
    mount = app_module.FwtopApp.on_mount

    def on_mount(self) -> None:
        mount(self)

        def begin() -> None:
            if freeze:
                gc.freeze()
            stats["on"] = True
            stats["cpu0"] = time.process_time()

        def end() -> None:
            cpu = time.process_time() - stats["cpu0"]
            Path(out).write_text(json.dumps({"collections": stats["n"], "gc_s": stats["t"], "cpu_s": cpu}))
            self.exit()

        self.set_timer(warmup, begin)
        self.set_timer(warmup + seconds, end)

    app_module.FwtopApp.on_mount = on_mount
    from fwtop.tui.cli import main

    main(["replay", run_dir])


def run(run_dir: Path, seconds: float, warmup: float, size: tuple[int, int], freeze: bool) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "gc.json"
        session = "fwtop-bench-gc"
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)
        cmd = [sys.executable, __file__, "--child", str(out), "--warmup", str(warmup), "--seconds", str(seconds)]
        cmd += ["--freeze"] if freeze else []
        cmd.append(str(run_dir))
        subprocess.run(
            ["tmux", "new-session", "-d", "-s", session, "-x", str(size[0]), "-y", str(size[1]), " ".join(cmd)],
            check=True,
        )
        deadline = time.monotonic() + warmup + seconds + 60
        while not out.exists() and time.monotonic() < deadline:
            time.sleep(0.5)
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)
        if not out.exists():
            raise SystemExit("the dashboard did not report (is RUN_DIR a run directory?)")
        return json.loads(out.read_text())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run_dir", type=Path)
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--warmup", type=float, default=5.0)
    ap.add_argument("--size", default="200x50")
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--freeze", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.child, str(args.run_dir), args.warmup, args.seconds, args.freeze)
        return
    size = tuple(int(x) for x in args.size.split("x"))
    print(f"fwtop replay {args.run_dir.name}, tmux {args.size}, {args.seconds:.0f} s after {args.warmup:.0f} s\n")
    print("| gc.freeze() | collections gen 0/1/2 | collector time gen 0/1/2 (ms) | process CPU (ms) |")
    print("|---|---|---|---|")
    for freeze in (False, True):
        r = run(args.run_dir, args.seconds, args.warmup, size, freeze)
        ms = " / ".join(f"{t * 1000:.1f}" for t in r["gc_s"])
        counts = " / ".join(str(n) for n in r["collections"])
        print(f"| {'yes' if freeze else 'no'} | {counts} | {ms} | {r['cpu_s'] * 1000:.0f} |")


if __name__ == "__main__":
    os.environ.setdefault("TERM", "xterm-256color")
    main()
