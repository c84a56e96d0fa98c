"""CPU of each thread of a terminal program, in tmux, over a window (Linux).

    python benchmarks/thread_cpu.py [--seconds 40] [--size 200x50] -- COMMAND [ARGS ...]
    python benchmarks/thread_cpu.py -- fwtop replay RUN_DIR

The command runs in a detached tmux session of the given size; after an 8 s warm-up the
utime + stime of every thread of its process (/proc/PID/task/*/stat, in clock ticks) is
read at the start and the end of the window. Prints one line per thread: its id, its
name (fwtop names its input thread ``fwtop-input``; others carry the process's name),
the ticks it used and that as % of one core. A tick is 1/100 s: over 40 s one tick is
0.025 % of a core, so small figures are coarse.
"""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import time
from pathlib import Path

WARMUP_S = 8.0
TICKS = os.sysconf("SC_CLK_TCK")


def threads(pid: int) -> dict[int, tuple[str, int]]:
    out = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            name = (task / "comm").read_text().strip()
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # the thread ended
        out[int(task.name)] = (name, int(fields[11]) + int(fields[12]))  # utime + stime
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=40.0)
    ap.add_argument("--size", default="200x50")
    ap.add_argument("command", nargs=argparse.REMAINDER, help="the program and its arguments (after --)")
    args = ap.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        ap.error("a command to run is required")
    width, height = args.size.split("x")
    session = f"fwtop-threads-{os.getpid()}"
    subprocess.run(
        ["tmux", "new-session", "-d", "-s", session, "-x", width, "-y", height, "exec " + shlex.join(command)],
        check=True,
    )
    try:
        time.sleep(WARMUP_S)
        pane = subprocess.run(["tmux", "display", "-p", "-t", session, "#{pane_pid}"], capture_output=True, text=True)
        pid = int(pane.stdout.strip())
        before = threads(pid)
        time.sleep(args.seconds)
        after = threads(pid)
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)
    print(f"{shlex.join(command)}: {args.seconds:.0f} s after an {WARMUP_S:.0f} s warm-up, tmux {args.size}")
    print("| thread | name | ticks | % of one core |")
    print("|---|---|---|---|")
    total = 0
    for tid, (name, ticks) in sorted(after.items()):
        used = ticks - before.get(tid, (name, 0))[1]
        total += used
        print(f"| {tid} | {name} | {used} | {100 * used / TICKS / args.seconds:.2f} |")
    print(f"| all | | {total} | {100 * total / TICKS / args.seconds:.2f} |")


if __name__ == "__main__":
    main()
