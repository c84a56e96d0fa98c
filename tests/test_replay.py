"""Replaying a recorded run directory: same numbers, torn files tolerated, shown in the dashboard."""

import asyncio

import pytest
from conftest import TINY, needs, run_fwtop, run_session

from fwtop.session.replay import ReplaySession
from fwtop.session.session import FINISHED
from fwtop.tui.app import FwtopApp
from fwtop.tui.panel import WorkloadPanel
from fwtop.workloads.errors import UserError
from fwtop.workloads.spec import WorkloadSpec

pytestmark = needs("torch")


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    specs = [
        WorkloadSpec.create("torch", model="mlp", sizes=TINY["mlp"], device="cpu", steps=6, name=n)
        for n in ("first", "second")
    ]
    session, summary = run_session(specs, tmp_path_factory.mktemp("recorded"))
    return session.rundir.path, summary


def test_replay_reproduces_the_summary(recorded):
    path, summary = recorded
    replay = ReplaySession(path, jump_to_end=True)
    asyncio.run(replay.run())
    assert [w.label for w in replay.workloads] == ["first", "second"]
    assert all(w.state == FINISHED for w in replay.workloads)
    live = replay.workload_summary(replay.workloads[0])
    saved = summary["workloads"][0]
    for key in ("steps", "steady_steps", "step_time_s", "samples_per_s", "tflops", "params", "final_loss"):
        assert live[key] == saved[key], key
    assert replay.timeline.peaks[("host", replay.workloads[0].id)]["rss"] > 0


def test_replay_at_recorded_speed_takes_recorded_time(recorded):
    path, _ = recorded
    fast = ReplaySession(path, speed=1000.0)
    asyncio.run(fast.run())
    assert fast.position == pytest.approx(fast.duration) and fast.duration > 0


def test_torn_files_still_replay(recorded, tmp_path):
    import shutil

    path, _ = recorded
    copy = tmp_path / "torn"
    shutil.copytree(path, copy)
    (copy / "summary.json").unlink()  # killed before the summary was written
    with open(copy / "events.jsonl", "a") as f:
        f.write('{"w":"w0","event":"step","t":')  # killed mid-line
    replay = ReplaySession(copy, jump_to_end=True)
    asyncio.run(replay.run())
    assert replay.timeline.steps("w0").count == 6
    summary = replay.summary()
    assert summary["workloads"][0]["steps"] == 6


def test_bad_replay_dirs(tmp_path):
    with pytest.raises(UserError, match="not a run directory"):
        ReplaySession(tmp_path / "missing")
    with pytest.raises(UserError, match="no config.json"):
        ReplaySession(tmp_path)
    (tmp_path / "config.json").write_text("{broken")
    with pytest.raises(UserError, match="cannot be read"):
        ReplaySession(tmp_path)


def test_replay_cli(recorded):
    path, _ = recorded
    proc = run_fwtop("replay", str(path), "--headless", timeout=60)
    assert proc.returncode == 0 and "first" in proc.stdout and "second" in proc.stdout
    proc = run_fwtop("replay", str(path), "--speed", "0", timeout=60)
    assert proc.returncode == 2 and proc.stderr.startswith("fwtop: replay speed must be positive")


async def test_replay_in_the_dashboard(recorded):
    path, _ = recorded
    replay = ReplaySession(path, speed=1.0)
    app = FwtopApp(replay, chart_interval=0.2)
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.pause(0.3)
        assert len(app.query(WorkloadPanel)) == 2
        await pilot.press("end")
        for _ in range(50):
            await pilot.pause(0.1)
            if all(w.state == FINISHED for w in replay.workloads):
                break
        assert all(w.state == FINISHED for w in replay.workloads)
        await pilot.pause(0.6)
        panel = app.query(WorkloadPanel)[0]
        assert panel.part_text("state") == "finished"
        assert "step 6/6" in panel.part_text("stats")
        await pilot.press("q")
