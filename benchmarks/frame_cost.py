"""CPU cost of the dashboard's refresh work, without the terminal's noise.

    python benchmarks/frame_cost.py RUN_DIR [--seconds 40] [--repeat 3] [--size 200x50]

Replays RUN_DIR (a recorded run, e.g. three workloads) into the real dashboard
inside Textual's headless pilot, one simulated second at a time: the records of
that second are applied, the text refresh runs twice and the chart refresh once
(as their timers would), and the screen renders one frame. The CPU time
(``time.process_time``) of that work, per simulated second, is printed in
milliseconds: what the dashboard itself adds per second of a live run, minus
Textual's idle timers and the bytes written to the terminal (measure those with
the real terminal: benchmarks/tui_cost.py). Each repeat starts a fresh app.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

from fwtop.session.replay import ReplaySession
from fwtop.tui.app import FwtopApp


async def one(run_dir: str, seconds: int, size: tuple[int, int]) -> tuple[float, float, int]:
    session = ReplaySession(run_dir)

    async def no_play() -> None:  # the benchmark applies the records itself
        return None

    session._play = no_play
    app = FwtopApp(session)
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        while not session.loaded:  # start() reads the records
            await pilot.pause(0.01)
        records = session._records
        t0 = records[0][0]
        screen = app.screen
        frames = 0
        i, n = 0, len(records)
        # one warm-up second: first layout, first chart draw
        cpu = 0.0
        rendered = [0.0]
        refresh = screen._compositor_refresh

        def timed_refresh() -> None:
            r0 = time.process_time()
            refresh()
            rendered[0] += time.process_time() - r0

        screen._compositor_refresh = timed_refresh
        for second in range(seconds + 1):
            c0 = time.process_time()
            end = t0 + second + 1
            while i < n and records[i][0] < end:
                session._apply(records[i][2])
                i += 1
            session.position = min(second + 1.0, session.duration)
            app._refresh_text()
            app._refresh_text()
            app._refresh_charts()
            await pilot.pause()  # idle processing marks the dirty widgets; the update timer renders
            await asyncio.sleep(0.03)
            c1 = time.process_time()
            if second:
                cpu += c1 - c0
                frames += 1
            else:
                rendered[0] = 0.0
        return cpu / frames * 1000, rendered[0] / frames * 1000, frames


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run_dir")
    p.add_argument("--seconds", type=int, default=40)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--size", default="200x50")
    a = p.parse_args()
    w, h = (int(x) for x in a.size.split("x"))
    totals, renders = [], []
    for _ in range(a.repeat):
        total, render, frames = asyncio.run(one(a.run_dir, a.seconds, (w, h)))
        totals.append(total)
        renders.append(render)
        print(f"{frames} simulated seconds: {total:.2f} ms CPU per second, of which the frame {render:.2f} ms")
    print(
        f"median: {statistics.median(totals):.2f} ms/s ({statistics.median(totals) / 10:.3f} % of a core), "
        f"frame {statistics.median(renders):.2f} ms"
    )


if __name__ == "__main__":
    main()
