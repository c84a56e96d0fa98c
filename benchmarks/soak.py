"""Soak: three live workloads under the dashboard for a long time (default 30 minutes).

    python benchmarks/soak.py [--minutes 30] [--model mlp] [--size 200x50] [--interval 60]

fwtop runs in a detached tmux session of the given size with the default
comparison's three frameworks (torch, jax, tensorflow) training --model on the
CPU in parallel, recording a run directory. Every --interval seconds the
benchmark samples fwtop's own process (not its children): RSS and the CPU it
used in that interval (% of one core). At the end it presses q, waits for
fwtop to exit, and checks the run directory: for every workload, the number of
steps the child says it ran (its ``bye`` event) against the number of step
events recorded in events.jsonl (events lost must be zero), and that no child
process is left. Not part of the test suite: it is long by design.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

SESSION = "fwtop-soak"


def tmux(*args: str) -> str:
    return subprocess.run(["tmux", *args], capture_output=True, text=True, check=True).stdout


def count_events(run_dir: Path) -> dict[str, dict]:
    counts: dict[str, dict] = {}
    with (run_dir / "events.jsonl").open(encoding="utf-8", errors="replace") as f:
        for line in f:
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            w = rec.get("w")
            if w is None:
                continue
            c = counts.setdefault(w, {"steps": 0, "bye": None, "invalid": 0})
            if rec.get("event") == "step":
                c["steps"] += 1
            elif rec.get("event") == "bye":
                c["bye"] = rec.get("steps")
            elif rec.get("event") == "invalid":
                c["invalid"] += 1
    return counts


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=30.0)
    ap.add_argument("--model", default="mlp")
    ap.add_argument("--size", default="200x50")
    ap.add_argument("--interval", type=float, default=60.0, help="seconds between samples of fwtop's CPU and RSS")
    args = ap.parse_args()
    width, height = (int(x) for x in args.size.split("x"))
    with tempfile.TemporaryDirectory() as tmp:
        runs = Path(tmp) / "runs"
        subprocess.run(["tmux", "kill-session", "-t", SESSION], capture_output=True)
        command = (
            f"exec {sys.executable} -m fwtop compare torch jax tensorflow --model {args.model} --device cpu "
            f"--steps 0 --runs-dir {runs} --name soak"
        )
        tmux("new-session", "-d", "-s", SESSION, "-x", str(width), "-y", str(height), command)
        pid = int(tmux("display", "-p", "-t", SESSION, "#{pane_pid}").strip())
        proc = psutil.Process(pid)  # the pane runs fwtop through exec: the pane's pid is fwtop's
        t_start = time.monotonic()
        rows = []
        last_cpu = sum(proc.cpu_times()[:2])
        last_t = t_start
        end = t_start + args.minutes * 60
        while time.monotonic() < end:
            time.sleep(min(args.interval, max(0.0, end - time.monotonic())))
            now = time.monotonic()
            cpu = sum(proc.cpu_times()[:2])
            rss = proc.memory_info().rss
            children = proc.children(recursive=True)
            rows.append(
                {
                    "minute": (now - t_start) / 60,
                    "cpu_percent": 100 * (cpu - last_cpu) / (now - last_t),
                    "rss_mib": rss / 2**20,
                    "children": len(children),
                }
            )
            print(
                f"{rows[-1]['minute']:6.1f} min  fwtop CPU {rows[-1]['cpu_percent']:5.1f}%  "
                f"RSS {rows[-1]['rss_mib']:6.1f} MiB  {len(children)} child processes",
                flush=True,
            )
            last_cpu, last_t = cpu, now
        tree = [proc] + proc.children(recursive=True)
        tmux("send-keys", "-t", SESSION, "q")
        t_quit = time.monotonic()
        gone, alive = psutil.wait_procs(tree, timeout=30)
        quit_s = time.monotonic() - t_quit
        subprocess.run(["tmux", "kill-session", "-t", SESSION], capture_output=True)
        run_dirs = sorted(p for p in runs.iterdir() if p.is_dir())
        if not run_dirs:
            raise SystemExit("no run directory was written")
        run_dir = run_dirs[-1]
        counts = count_events(run_dir)
        config = json.loads((run_dir / "config.json").read_text())
        labels = {w["id"]: w.get("label", w["id"]) for w in config["workloads"]}
        summary_ok = (run_dir / "summary.json").is_file()

    print(
        f"\nSoak: fwtop dashboard in tmux {width}x{height}, torch + jax + tensorflow {args.model} training on the CPU "
        f"in parallel for {args.minutes:g} min.\n"
    )
    print("| minute | fwtop CPU % (of one core) | fwtop RSS MiB |")
    print("|---|---|---|")
    for r in rows:
        print(f"| {r['minute']:.1f} | {r['cpu_percent']:.1f} | {r['rss_mib']:.1f} |")
    if len(rows) >= 2:
        growth = rows[-1]["rss_mib"] - rows[0]["rss_mib"]
        print(f"\nRSS growth from the first sample to the last: {growth:+.1f} MiB")
    print("\n| workload | steps the child ran (bye) | step events recorded | lost | malformed lines |")
    print("|---|---|---|---|---|")
    for wid, c in sorted(counts.items()):
        lost = "n/a (no bye)" if c["bye"] is None else str(c["bye"] - c["steps"])
        print(f"| {labels.get(wid, wid)} | {c['bye']} | {c['steps']} | {lost} | {c['invalid']} |")
    print(
        f"\nAfter q: fwtop and its {len(tree) - 1} child processes exited in {quit_s:.1f} s; "
        f"{len(alive)} left alive; summary.json written: {summary_ok}"
    )


if __name__ == "__main__":
    main()
