"""When, after its imports, ``fwtop replay RUN_DIR --end`` paints its first frame and its
first complete one, with the replay's records read on the event loop or in a thread.

    python benchmarks/startup_timeline.py RUN_DIR [--repeat 5]

Each run starts this file inside tmux at 200x50 (``--child``): it wraps the app's and the
replay's start-up methods and the terminal driver's ``write`` to note the time of each
call, runs ``fwtop replay RUN_DIR --end``, and is quit with ``q`` after 2 s. The first
frame is the first large write (over 1,000 bytes) to the terminal; the complete frame is
the first large write after the session's start-up (records applied, views refreshed).
Times are from the end of the imports, so the interpreter's own start (noisy) is left out.
"""

from __future__ import annotations

import argparse
import functools
import inspect
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def child(run_dir: str, out: str, thread: bool) -> None:
    t0 = time.perf_counter()
    log: list[tuple[float, str]] = []

    def mark(what: str) -> None:
        log.append((time.perf_counter() - t0, what))

    from textual.drivers.linux_driver import LinuxDriver

    import fwtop.session.replay as replay
    from fwtop.tui import cli
    from fwtop.tui.app import FwtopApp

    mark("imports")
    if thread:
        replay.THREAD_LOAD_BYTES = 0

    def wrap(cls, name: str) -> None:
        f = getattr(cls, name)
        if inspect.iscoroutinefunction(f):

            @functools.wraps(f)
            async def g(*a, **k):
                r = await f(*a, **k)
                mark(name + " end")
                return r
        else:

            @functools.wraps(f)
            def g(*a, **k):
                r = f(*a, **k)
                mark(name + " end")
                return r

        setattr(cls, name, g)

    wrap(FwtopApp, "_run_session")
    write = LinuxDriver.write

    def timed_write(self, data: str) -> None:
        if len(data) > 1000:
            mark("write")
        write(self, data)

    LinuxDriver.write = timed_write
    try:
        cli.main(["replay", run_dir, "--end"])
    finally:
        Path(out).write_text(json.dumps(log))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run_dir")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--child", nargs=3, metavar=("RUN_DIR", "OUT", "THREAD"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.child[0], args.child[1], args.child[2] == "1")
        return
    out = Path(tempfile.mkdtemp()) / "timeline.json"
    res: dict[str, list[float]] = {}
    for _ in range(args.repeat):
        for mode in ("loop", "thread"):
            session = "fwtop-timeline"
            cmd = f"exec {sys.executable} {Path(__file__).resolve()} x --child {args.run_dir} {out} {int(mode == 'thread')}"
            subprocess.run(["tmux", "new-session", "-d", "-s", session, "-x", "200", "-y", "50", cmd], check=True)
            time.sleep(2.0)
            subprocess.run(["tmux", "send-keys", "-t", session, "q"], check=True)
            for _ in range(100):
                if out.exists():
                    break
                time.sleep(0.05)
            time.sleep(0.5)
            log = json.loads(out.read_text())
            out.unlink()
            t = {}
            for when, what in log:
                t.setdefault(what, when)
            ready = t["_run_session end"]
            first = next(w for w, what in log if what == "write")
            full = next(w for w, what in log if what == "write" and w >= ready)
            res.setdefault(f"{mode}: first frame", []).append(first - t["imports"])
            res.setdefault(f"{mode}: complete frame", []).append(full - t["imports"])
    for key, values in res.items():
        ms = ", ".join(f"{v * 1000:.0f}" for v in values)
        print(f"{key:24} median {statistics.median(values) * 1000:6.1f} ms after the imports  ({ms})")


if __name__ == "__main__":
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    main()
