"""Snapshot tests of the main layouts, over a fixed replayed run (tests/data/replay-three,
written by tests/data/make_replay_fixture.py). Update with: pytest tests/test_snapshots.py --snapshot-update"""

from pathlib import Path

import pytest

from fwtop.session.replay import ReplaySession
from fwtop.tui.app import FwtopApp

FIXTURE = Path(__file__).resolve().parent / "data" / "replay-three"


def make_app(theme=None):
    return FwtopApp(ReplaySession(FIXTURE, jump_to_end=True), chart_interval=0.1, theme=theme)


def keys(*presses):
    async def run_before(pilot):
        app = pilot.app
        for _ in range(100):  # the replay is applied at once; wait for it and a redraw
            await pilot.pause(0.05)
            if app.session.position >= app.session.duration and all(w.ended for w in app.session.workloads):
                break
        await pilot.pause(0.4)
        for key in presses:
            await pilot.press(key)
        await pilot.pause(0.4)

    return run_before


@pytest.mark.parametrize("theme", ["fwtop-dark", "fwtop-light", "fwtop-contrast"])
def test_three_panels_wide(snap_compare, theme):
    assert snap_compare(make_app(theme), terminal_size=(200, 50), run_before=keys())


def test_stacked_narrow(snap_compare):
    assert snap_compare(make_app(), terminal_size=(100, 60), run_before=keys())


def test_zoomed_failed_workload_with_log(snap_compare):
    assert snap_compare(make_app(), terminal_size=(140, 45), run_before=keys("right", "right", "z", "l"))


def test_help(snap_compare):
    assert snap_compare(make_app(), terminal_size=(120, 45), run_before=keys("question_mark"))
