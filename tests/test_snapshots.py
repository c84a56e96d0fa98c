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


# -- the trace summary screens (tui/traces.py), over fixed hand-written traces --------------


def _trace(name: str, ops: list[tuple[str, float]]) -> str:
    """A Chrome trace of 2 steps (fwtop_step markers), each running ``ops`` in order; a fixed path."""
    import json
    from pathlib import Path

    events, t = [], 0.0
    for step in range(2):
        start = t
        for op, dur in ops:
            events.append({"ph": "X", "pid": 1, "tid": 1, "name": op, "cat": "cpu_op", "ts": t + 1, "dur": dur})
            t += dur + 1
        events.append({"ph": "X", "pid": 1, "tid": 1, "name": f"fwtop_step#{step}", "cat": "user_annotation",
                       "ts": start, "dur": t + 1 - start})  # fmt: skip
        t += 2
    folder = Path("/tmp/fwtop-snapshot-traces")
    folder.mkdir(exist_ok=True)
    path = folder / f"{name}.pt.trace.json"
    path.write_text(json.dumps({"traceEvents": events}))
    return str(path)


def _capture(label: str, path: str):
    from fwtop.session.traces import DONE, Capture

    return Capture(id=label, wid="w0", label=label, kind="profile", steps=2, dir="/tmp/fwtop-snapshot-traces",
                   state=DONE, step=2, first_step=10, files=[{"path": path, "role": "trace", "bytes": 1}],
                   step_time_s=None)  # fmt: skip


def summary_of(*captures):
    async def run_before(pilot):
        from fwtop.tui.traces import SummaryScreen

        await keys()(pilot)
        await pilot.app.push_screen(SummaryScreen(list(captures)))
        for _ in range(100):
            await pilot.pause(0.05)
            if pilot.app.screen.summaries:
                break
        await pilot.pause(0.3)

    return run_before


TORCH_OPS = [("aten::addmm", 40.0), ("aten::gelu", 12.0), ("aten::mm", 25.0), ("aten::_fused_adam_", 18.0)]
JAX_OPS = [("dot.1", 30.0), ("ynn_fusion", 9.0), ("dot.2", 20.0), ("PjitFunction(train_step)", 6.0)]


def test_trace_summary(snap_compare):
    cap = _capture("torch-mlp", _trace("torch", TORCH_OPS))
    assert snap_compare(make_app(), terminal_size=(140, 30), run_before=summary_of(cap))


def test_trace_summary_side_by_side(snap_compare):
    caps = [_capture("torch-mlp", _trace("torch", TORCH_OPS)), _capture("jax-mlp", _trace("jax", JAX_OPS))]
    assert snap_compare(make_app(), terminal_size=(140, 30), run_before=summary_of(*caps))
