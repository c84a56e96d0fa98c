"""What the dashboard costs in a real terminal, against btop and htop, in one run.

    python benchmarks/tui_cost.py [--run-dir RUN_DIR] [--seconds 30] [--size 200x50] [--rounds 1]

Each tool runs alone in a detached tmux session of the given size: fwtop replaying
a recorded three-workload run at recorded speed (so no workload burns CPU
during the measurement), btop with update_ms = 1000, htop with a 1 s delay, and a bare Textual app
(benchmarks/bare_textual_app.py: a static text and a footer) as Textual's floor.
After a warm-up, for ``--seconds``: CPU time of the tool's process tree (as %
of one core), bytes it wrote to the terminal (tmux pipe-pane), and its RSS.
Then the start-up time (fwtop's modules compiled to bytecode first, as an
installed package has them): launch to the first complete dashboard frame
(polling capture-pane: top bar, every panel, device strip and keys drawn),
against ``python -c "import textual.app"`` and a bare Textual app's first frame;
and launch to the frame that shows the whole recording loaded.

Without --run-dir it first records one: torch, jax and tensorflow training
the --model (default transformer) on the CPU for --record-seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

WARMUP_S = 8.0


def record_run(seconds: float, runs: Path, model: str) -> Path:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "fwtop",
            "compare",
            "torch",
            "jax",
            "tensorflow",
            "--model",
            model,
            "--device",
            "cpu",
            "--steps",
            "0",
            "--headless",
            "--runs-dir",
            str(runs),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    time.sleep(seconds)
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=60)
    dirs = sorted(p for p in runs.iterdir() if p.is_dir())
    if not dirs:
        raise SystemExit(f"recording failed:\n{out}")
    return dirs[-1]


def tree_cpu_rss(pid: int) -> tuple[float, int]:
    try:
        root = psutil.Process(pid)
        procs = [root] + root.children(recursive=True)
    except psutil.Error:
        return 0.0, 0
    cpu, rss = 0.0, 0
    for p in procs:
        try:
            t = p.cpu_times()
            cpu += t.user + t.system
            rss += p.memory_info().rss
        except psutil.Error:
            pass
    return cpu, rss


def tmux(*args: str) -> str:
    return subprocess.run(["tmux", *args], capture_output=True, text=True, check=True).stdout


def measure(name: str, command: str, size: tuple[int, int], seconds: float, tmp: Path, env: dict) -> dict:
    session = "fwtop-bench-" + name.replace(" ", "-")
    out = tmp / f"{session}.bytes"
    out.touch()
    subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)
    env_args = [arg for k, v in env.items() for arg in ("-e", f"{k}={v}")]
    tmux("new-session", "-d", "-s", session, "-x", str(size[0]), "-y", str(size[1]), *env_args, command)
    tmux("pipe-pane", "-t", session, "-o", f"cat >> {out}")
    pid = int(tmux("display", "-p", "-t", session, "#{pane_pid}").strip())
    time.sleep(WARMUP_S)
    cpu0, _ = tree_cpu_rss(pid)
    bytes0 = out.stat().st_size
    t0 = time.monotonic()
    time.sleep(seconds)
    cpu1, rss = tree_cpu_rss(pid)
    bytes1 = out.stat().st_size
    elapsed = time.monotonic() - t0
    screen = tmux("capture-pane", "-p", "-t", session)
    subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)
    return {
        "tool": name,
        "cpu_percent": 100 * (cpu1 - cpu0) / elapsed,
        "bytes_per_s": (bytes1 - bytes0) / elapsed,
        "rss_mib": rss / 2**20,
        "screen": screen,
    }


def first_frames(command: str, size: tuple[int, int], ready: dict) -> dict[str, float]:
    """Seconds from launching ``command`` in a fresh tmux session until each ``ready[name](screen_text)``
    holds. Returns after the command's process has ended (it must not run on into the next measurement)."""
    session = "fwtop-bench-startup"
    subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)
    t0 = time.monotonic()
    tmux("new-session", "-d", "-s", session, "-x", str(size[0]), "-y", str(size[1]), command)
    pid = int(tmux("display", "-p", "-t", session, "#{pane_pid}").strip())
    times: dict[str, float] = {}
    while time.monotonic() - t0 < 30 and len(times) < len(ready):
        screen = subprocess.run(["tmux", "capture-pane", "-p", "-t", session], capture_output=True, text=True).stdout
        now = time.monotonic() - t0
        for name, check in ready.items():
            if name not in times and check(screen):
                times[name] = now
        time.sleep(0.005)
    subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)
    wait_gone(pid)
    return {name: times.get(name, float("nan")) for name in ready}


def wait_gone(pid: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return
        except psutil.NoSuchProcess:
            return
        time.sleep(0.02)


def compile_bytecode() -> None:
    """An installed package has its bytecode compiled; an editable one (or PYTHONDONTWRITEBYTECODE)
    may not, and every launch would compile fwtop's modules again: compile them first."""
    import importlib.util

    dirs = []
    for name in ("fwtop", "fwtop.tui", "fwtop.session", "fwtop.probes", "fwtop.workloads", "fwtop.themes"):
        spec = importlib.util.find_spec(name)
        dirs += list(spec.submodule_search_locations or []) if spec else []
    subprocess.run([sys.executable, "-m", "compileall", "-q", *dirs], check=True, capture_output=True)


def fwtop_ready(n: int) -> dict:
    """The readiness tests of ``fwtop replay RUN --end`` with ``n`` workloads: ``fwtop``, the first
    complete frame; ``fwtop data``, the frame showing the whole recording (every workload ended)."""
    return {
        "fwtop": lambda s: all(m in s for m in ("step time", "median", "q quit", "host", "^p palette")),
        "fwtop data": lambda s: f"{n} workload(s), {n} ended" in s,
    }


def startup(run_dir: Path, size: tuple[int, int], repeats: int) -> dict[str, list[float]]:
    """Launch to first complete frame: fwtop (replay, jumped to the end) and a bare Textual app,
    both in tmux; and `python -c "import textual.app"` run directly. fwtop's first complete frame
    is the whole dashboard drawn (top bar, every panel with its charts and statistics, the device
    strip, the keys); it then loads the recording, and the frame showing all of it is timed too."""
    config = json.loads((run_dir / "config.json").read_text())
    n = len(config["workloads"])
    bare = Path(__file__).with_name("bare_textual_app.py")
    compile_bytecode()
    times: dict[str, list[float]] = {"import": [], "bare": [], "fwtop": [], "fwtop data": []}
    for _ in range(repeats):
        t0 = time.monotonic()
        subprocess.run([sys.executable, "-c", "import textual.app"], check=True)
        times["import"].append(time.monotonic() - t0)
        ready = {"bare": lambda s: "nothing changes" in s and "Quit" in s}
        times["bare"].append(first_frames(f"exec {sys.executable} {bare}", size, ready)["bare"])
        got = first_frames(f"exec {sys.executable} -m fwtop replay {run_dir} --end", size, fwtop_ready(n))
        for name, value in got.items():
            times[name].append(value)
    return times


def ratio(a: dict, b: dict, key: str) -> float:
    return a[key] / b[key] if b[key] else float("nan")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run-dir", type=Path, default=None)
    ap.add_argument("--record-seconds", type=float, default=90.0)
    ap.add_argument(
        "--model", default="transformer", help="model of the recorded run (default: the default comparison's)"
    )
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--size", default="200x50")
    ap.add_argument("--startup-repeats", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=1, help="measure the four tools this many times, one after another")
    ap.add_argument("--save-run", type=Path, default=None, help="keep the recorded run there (reuse with --run-dir)")
    args = ap.parse_args()
    size = tuple(int(x) for x in args.size.split("x"))
    for tool in ("tmux", "btop", "htop"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} is not installed (apt-get install {tool})")
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        run_dir = args.run_dir or record_run(args.record_seconds, tmp / "runs", args.model)
        btop_home = tmp / "btop-config"
        (btop_home / "btop").mkdir(parents=True)
        (btop_home / "btop" / "btop.conf").write_text("update_ms = 1000\n")
        env = {"TERM": os.environ.get("TERM", "xterm-256color")}
        if args.save_run:
            shutil.copytree(run_dir, args.save_run, dirs_exist_ok=True)
        tools = [
            ("fwtop", f"{sys.executable} -m fwtop replay {run_dir}", env),
            ("btop", "btop", {**env, "XDG_CONFIG_HOME": str(btop_home)}),
            ("htop", "htop -d 10", env),
            ("bare Textual app", f"{sys.executable} {Path(__file__).with_name('bare_textual_app.py')}", env),
        ]
        rounds = [
            [measure(name, command, size, args.seconds, tmp, tool_env) for name, command, tool_env in tools]
            for _ in range(args.rounds)
        ]
        start = startup(run_dir, size, args.startup_repeats)
    print(
        f"tmux {size[0]}x{size[1]}, {args.seconds:.0f} s after an {WARMUP_S:.0f} s warm-up, one tool at a time, "
        f"{args.rounds} round(s); fwtop replays a recorded torch + jax + tensorflow {args.model} run (3 panels) "
        "at recorded speed.\n"
    )
    if args.rounds > 1:
        print("| round | fwtop CPU % | btop CPU % | CPU vs btop | fwtop bytes/s | btop bytes/s | bytes vs btop |")
        print("|---|---|---|---|---|---|---|")
        for k, results in enumerate(rounds, 1):
            fw, bt = results[0], results[1]
            print(
                f"| {k} | {fw['cpu_percent']:.2f} | {bt['cpu_percent']:.2f} | {ratio(fw, bt, 'cpu_percent'):.2f}x | "
                f"{fw['bytes_per_s']:,.0f} | {bt['bytes_per_s']:,.0f} | {ratio(fw, bt, 'bytes_per_s'):.2f}x |"
            )
        print(f"\nMedians of the {args.rounds} rounds:\n")
    results = [
        {
            "tool": name,
            **{key: statistics.median(r[i][key] for r in rounds) for key in ("cpu_percent", "bytes_per_s", "rss_mib")},
        }
        for i, (name, _, _) in enumerate(tools)
    ]
    btop = results[1]
    print("| tool | CPU % of one core | bytes/s to the terminal | RSS MiB | CPU vs btop | bytes vs btop |")
    print("|---|---|---|---|---|---|")
    for r in results:
        print(
            f"| {r['tool']} | {r['cpu_percent']:.2f} | {r['bytes_per_s']:,.0f} | {r['rss_mib']:.0f} | "
            f"{ratio(r, btop, 'cpu_percent'):.2f}x | {ratio(r, btop, 'bytes_per_s'):.2f}x |"
        )
    fw, data, imp, bare = (statistics.median(start[k]) for k in ("fwtop", "fwtop data", "import", "bare"))
    print(
        f"\nStart-up, median of {args.startup_repeats}: fwtop launch to first complete frame {fw:.2f} s; "
        f'`python -c "import textual.app"` {imp:.2f} s (ratio {fw / imp:.2f}x); '
        f"a bare Textual app's first frame {bare:.2f} s (ratio {fw / bare:.2f}x); "
        f"the recording loaded and shown {data:.2f} s"
    )


if __name__ == "__main__":
    main()
