"""The dashboard driven through Textual's pilot, over a real Session of tiny torch workloads."""

import asyncio

import psutil
from conftest import needs, pilot_wait_for, tiny_torch
from textual.widgets import Static

from fwtop.session.session import ENDED, PAUSED, RUNNING, STOPPED, Session
from fwtop.tui.app import FwtopApp, HelpScreen
from fwtop.tui.chart import braille_rows
from fwtop.tui.panel import WorkloadPanel


def test_braille_rows_fill_from_the_bottom():
    rows = braille_rows([0, 4, 8, None], width=2, height=2, top=8)
    assert len(rows) == 2 and all(len(r) == 2 for r in rows)
    # value 8 of 8 fills both rows of its dot column; value 0 and None fill nothing
    assert rows[0][1] != "\u2800" and rows[1][1] != "\u2800"
    assert rows[0][0] == "\u2800"  # 4 of 8: only the bottom row
    assert braille_rows([], 3, 1, 0) == ["\u2800" * 3]


@needs("torch")
async def test_every_key(tmp_path):
    session = Session([tiny_torch(name="a"), tiny_torch(name="b")], runs_dir=str(tmp_path))
    app = FwtopApp(session, chart_interval=0.25)
    async with app.run_test(size=(160, 50)) as pilot:
        a, b = session.workloads
        await pilot_wait_for(pilot, lambda: all(session.timeline.steps(w.id).count >= 3 for w in (a, b)), what="steps")
        await pilot.pause(0.6)
        panels = app.query(WorkloadPanel)
        assert len(panels) == 2 and not app.screen.has_class("-narrow")
        assert panels[0].has_class("-selected") and panels[0].part_text("state") == "running"

        await pilot.press("right")
        assert app.selected == 1 and panels[1].has_class("-selected") and not panels[0].has_class("-selected")
        await pilot.press("left")
        assert app.selected == 0

        await pilot.press("z")
        await pilot.pause()
        assert not panels[1].display and panels[0].display
        await pilot.press("z")
        await pilot.pause()
        assert panels[1].display

        await pilot.press("space")
        await pilot_wait_for(pilot, lambda: a.state == PAUSED, 30, "paused")
        await pilot.press("space")
        await pilot_wait_for(pilot, lambda: a.state == RUNNING, 30, "resumed")

        assert not app.query("#logbox")  # the log view is mounted when first shown
        await pilot.press("l")
        await pilot.pause(0.6)
        assert app.query_one("#logbox").display
        assert str(app.query_one("#logtitle", Static).render()) == f"log of {a.label} (stdout and stderr)"
        await pilot.press("l")
        await pilot.pause()
        assert not app.query_one("#logbox").display
        await pilot.press("l")
        await pilot.pause()
        assert app.query_one("#logbox").display and len(app.query("#logbox")) == 1

        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, HelpScreen)

        await pilot.press("right", "x")
        await pilot_wait_for(pilot, lambda: session.get(b.id).state == STOPPED, 30, "stopped")

        await pilot.press("r")
        await pilot_wait_for(
            pilot,
            lambda: session.get(b.id).state == RUNNING and session.timeline.steps(b.id).count >= 1,
            60,
            "restarted",
        )
        pids = [w.runner.pid for w in session.workloads]
        await pilot.press("q")
        await pilot_wait_for(pilot, lambda: all(w.state in ENDED for w in session.workloads), 30, "all ended")
    for pid in pids:
        assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    assert (session.rundir.path / "summary.json").exists()


@needs("torch")
async def test_narrow_terminal_stacks_panels(tmp_path):
    session = Session([tiny_torch(name="a"), tiny_torch(name="b")], runs_dir=str(tmp_path))
    app = FwtopApp(session)
    async with app.run_test(size=(100, 40)) as pilot:
        await pilot.pause(0.2)
        assert app.screen.has_class("-narrow")
        assert app.query_one("#panels").styles.layout.name == "vertical"
        await pilot.resize_terminal(160, 40)
        await pilot.pause(0.2)
        assert app.screen.has_class("-wide")
        assert app.query_one("#panels").styles.layout.name == "horizontal"
        await pilot.press("q")
        await pilot_wait_for(pilot, lambda: all(w.state in ENDED for w in session.workloads), 30, "all ended")


async def test_command_palette_lists_fwtop_commands(tmp_path):
    session = Session([], runs_dir=str(tmp_path), record=False)
    app = FwtopApp(session)
    async with app.run_test(size=(120, 40)) as pilot:
        titles = [c.title for c in app.get_system_commands(app.screen)]
        for title in ("Pause / resume workload", "Restart workload", "Stop workload", "Zoom panel", "Keys"):
            assert title in titles
        await pilot.press("q")
        await asyncio.sleep(0)


@needs("torch")
async def test_launcher_adds_and_removes_a_workload(tmp_path):
    import json

    from textual.widgets import Input, Select

    from fwtop.tui.launcher import Launcher
    from fwtop.workloads.discovery import installed_frameworks

    session = Session([tiny_torch(name="a")], runs_dir=str(tmp_path))
    app = FwtopApp(session)
    async with app.run_test(size=(160, 60)) as pilot:
        await pilot_wait_for(pilot, lambda: session.timeline.steps(session.workloads[0].id).count >= 1, what="steps")
        await pilot.press("a")
        await pilot.pause()
        launcher = app.screen
        assert isinstance(launcher, Launcher)
        framework = launcher.query_one("#framework", Select)
        await pilot_wait_for(pilot, lambda: framework.value is not Select.NULL, 60, "framework discovery")
        # Only what this interpreter has is offered.
        offered = {value for _, value in framework._options if value is not Select.NULL}
        assert offered == set(installed_frameworks(None))
        framework.value = "torch"
        launcher.query_one("#model", Select).value = "mlp"
        await pilot.pause()
        assert launcher.query_one("#size-seq_len", Input).disabled  # the mlp has no sequence length
        launcher.query_one("#size-batch", Input).value = "0"
        await pilot.click("#add")
        await pilot.pause()
        assert "positive integer" in str(launcher.query_one("#launch-error").render())
        launcher.query_one("#size-batch", Input).value = "16"
        launcher.query_one("#size-width", Input).value = "64"
        launcher.query_one("#size-depth", Input).value = "2"
        await pilot.click("#add")
        await pilot_wait_for(
            pilot,
            lambda: len(session.workloads) == 2 and session.timeline.steps(session.workloads[1].id).count >= 1,
            90,
            "added workload",
        )
        await pilot.pause(0.6)
        assert len(app.panels) == 2 and app.selected == 1
        config = json.loads((session.rundir.path / "config.json").read_text())
        assert [w["label"] for w in config["workloads"]] == ["a", "torch-mlp"]
        await pilot.press("delete")
        await pilot_wait_for(pilot, lambda: len(session.workloads) == 1, 30, "removed")
        assert len(app.panels) == 1 and app.selected == 0
        await pilot.press("q")
        await pilot_wait_for(pilot, lambda: all(w.state in ENDED for w in session.workloads), 30, "all ended")


def test_charts_of_no_width_are_empty_rows():
    from fwtop.tui.chart import braille_lines

    assert braille_rows([1.0, 2.0, 3.0], 0, 2, 3.0) == ["", ""]
    assert braille_lines([[1.0, 2.0, 3.0]], 0, 2, 3.0) == [[], []]


async def test_the_key_bar_shows_the_keys_and_a_click_presses_one():
    from pathlib import Path

    from fwtop.session.replay import ReplaySession
    from fwtop.tui.keybar import KeyBar

    fixture = Path(__file__).resolve().parent / "data" / "replay-three"
    app = FwtopApp(ReplaySession(fixture, jump_to_end=True))
    async with app.run_test(size=(200, 50)) as pilot:
        await pilot.pause(0.3)
        bar = app.query_one(KeyBar)
        text = bar.text
        assert text.startswith(" \u2190 Previous panel  \u2192 Next panel  z Zoom panel ")
        assert text.rstrip().endswith("^p palette") and len(text) == 200
        assert "p Profile" not in text  # keys with show=False are in help only
        start = text.index("\u2192 Next panel") - 1
        await pilot.click(KeyBar, offset=(start + 2, 0))
        assert app.selected == 1
        await pilot.click(KeyBar, offset=(text.index("Zoom panel"), 0))
        assert app.main.query_one("#panels").has_class("-zoom")
        await pilot.click(KeyBar, offset=(198, 0))
        await pilot.pause(0.2)
        assert type(app.screen).__name__ == "CommandPalette"
    async with FwtopApp(ReplaySession(fixture, jump_to_end=True)).run_test(size=(80, 30)) as pilot:
        await pilot.pause(0.3)
        narrow = pilot.app.query_one(KeyBar).text
        assert len(narrow) == 80 and narrow.rstrip().endswith("^p palette")
        assert "Zoom panel" in narrow and "py-spy record" not in narrow  # keys that do not fit are left out whole
