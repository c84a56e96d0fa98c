"""Instructions from launch to the dashboard's first frame, counted by valgrind (callgrind).

    python benchmarks/startup_instructions.py RUN_DIR [--other PATH ...]

Wall-clock start-up on a shared machine moves by tens of percent between launches;
the number of instructions a launch executes moves by well under one percent, so
small start-up changes can be compared. Each figure is one run under
``valgrind --tool=callgrind`` (about 50x slower than a plain run):

- ``import textual.app``: ``python -c "import textual.app"``, the issue's yardstick;
- ``bare Textual app``: benchmarks/bare_textual_app.py to its first frame;
- ``fwtop``: ``fwtop replay RUN_DIR --end`` to its first frame, through the same entry
  point as the ``fwtop`` command (tui/launch.py, or tui/cli.py in a tree without it);
- ``--other PATH``: the same for another fwtop tree on PYTHONPATH (a directory holding an
  ``fwtop`` package, e.g. an older commit from ``git archive``, fwtop_pkg as fwtop/).

The apps run in a detached tmux session at 200x50; the first frame is the first write
of over 1,000 bytes to the terminal, at which the process exits. Needs valgrind and
tmux. Compile the sources first (python -m compileall) with PYTHONDONTWRITEBYTECODE
unset, or every run counts the compilation too.
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def child(which: str, run_dir: str) -> None:
    """Run one app in this process and exit at its first frame."""
    from textual.drivers.linux_driver import LinuxDriver

    write = LinuxDriver.write

    def first_frame_exits(self, data: str) -> None:
        if len(data) > 1000:
            os._exit(0)
        write(self, data)

    LinuxDriver.write = first_frame_exits
    if which == "bare":
        sys.path.insert(0, str(HERE))
        from bare_textual_app import Bare

        Bare().run()
        return
    try:
        from fwtop.tui.launch import main
    except ImportError:  # a tree from before the launcher
        from fwtop.tui.cli import main
    main(["replay", run_dir, "--end"])


def count(command: list[str], env: dict, tty: bool) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "callgrind.log"
        vg = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", f"--log-file={log}", *command]
        if not tty:
            subprocess.run(vg, env=env, check=True, capture_output=True, timeout=600)
        else:
            session = f"fwtop-instr-{os.getpid()}"
            env_args = [a for k, v in env.items() if k in ("PYTHONPATH",) for a in ("-e", f"{k}={v}")]
            subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)
            subprocess.run(
                ["tmux", "new-session", "-d", "-s", session, "-x", "200", "-y", "50", *env_args, shlex.join(vg)],
                check=True,
            )
            deadline = time.monotonic() + 600
            while time.monotonic() < deadline and "Collected" not in (log.read_text() if log.exists() else ""):
                time.sleep(0.5)
            subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)
        found = re.search(r"Collected : ([\d,]+)", log.read_text() if log.exists() else "")
        if found is None:
            raise SystemExit(f"no instruction count from: {shlex.join(command)}")
        return int(found.group(1).replace(",", ""))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run_dir", nargs="?")
    ap.add_argument("--other", action="append", default=[], help="another fwtop tree (PYTHONPATH entry)")
    ap.add_argument("--child", nargs=2, metavar=("WHICH", "RUN_DIR"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(*args.child)
        return
    if not args.run_dir:
        ap.error("RUN_DIR is required")
    for tool in ("valgrind", "tmux"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} is not installed (apt-get install {tool})")
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    me = [sys.executable, str(Path(__file__).resolve()), "--child"]
    rows = [
        ("import textual.app", count([sys.executable, "-c", "import textual.app"], env, tty=False)),
        ("bare Textual app", count([*me, "bare", args.run_dir], env, tty=True)),
        ("fwtop (this tree)", count([*me, "fwtop", args.run_dir], env, tty=True)),
    ]
    for other in args.other:
        rows.append((f"fwtop ({other})", count([*me, "fwtop", args.run_dir], {**env, "PYTHONPATH": other}, tty=True)))
    base = rows[0][1]
    print("| launch | instructions to the first frame | vs import textual.app |")
    print("|---|---|---|")
    for name, n in rows:
        print(f"| {name} | {n / 1e6:,.0f} M | {n / base:.2f}x |")


if __name__ == "__main__":
    main()
