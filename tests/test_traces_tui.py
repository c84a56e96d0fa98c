"""Profiling keys and screens through Textual's pilot, over a real Session of two tiny torch workloads."""

from conftest import needs, pilot_wait_for, tiny_torch

from fwtop.session.session import Session
from fwtop.tui.app import FwtopApp, HelpScreen
from fwtop.tui.panel import WorkloadPanel
from fwtop.tui.traces import SummaryScreen, TracesScreen

pytestmark = needs("torch")


def table_text(table) -> list[list[str]]:
    return [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]


async def test_profile_keys_traces_and_summary_screens(tmp_path):
    session = Session([tiny_torch(name="a"), tiny_torch(name="b")], runs_dir=str(tmp_path))
    app = FwtopApp(session, chart_interval=0.25)
    async with app.run_test(size=(180, 50)) as pilot:
        a, b = session.workloads
        await pilot_wait_for(pilot, lambda: all(session.timeline.steps(w.id).count >= 3 for w in (a, b)), what="steps")
        traces = session.traces

        await pilot.press("p")  # the selected workload (a)
        await pilot_wait_for(pilot, lambda: traces.captures and traces.captures[0].final, what="capture of a")
        first = traces.captures[0]
        assert first.wid == a.id and first.state == "done", first.reason
        await pilot.pause(0.6)
        panel = app.query(WorkloadPanel)[0]
        assert panel.border_subtitle.startswith("profile: done")

        await pilot.press("P")  # every workload at once
        await pilot_wait_for(
            pilot, lambda: len(traces.captures) == 3 and all(c.final for c in traces.captures), what="P"
        )
        group = traces.captures[1:]
        assert {c.wid for c in group} == {a.id, b.id} and len({c.group for c in group}) == 1
        assert all(c.state == "done" for c in group)

        await pilot.press("m")  # a CUDA memory snapshot: this workload runs on the CPU
        await pilot_wait_for(pilot, lambda: len(traces.captures) == 4 and traces.captures[3].final, what="m")
        snap = traces.captures[3]
        assert snap.kind == "memory_snapshot" and snap.state == "failed" and "CUDA" in snap.reason

        await pilot.press("t")
        await pilot.pause(0.3)
        assert isinstance(app.screen, TracesScreen)
        rows = table_text(app.screen.query_one("#captures"))
        assert [r[0] for r in rows] == ["a", "a", "b", "a"]
        assert rows[0][1] == "profile" and rows[0][5].startswith("done") and rows[0][6] == first.trace_path
        assert rows[3][1] == "memory" and rows[3][5].startswith("failed")
        assert str(tmp_path) in str(app.screen.query_one("#where").render())

        await pilot.press("enter")  # the summary of the first capture
        await pilot_wait_for(
            pilot, lambda: isinstance(app.screen, SummaryScreen) and app.screen.summaries, what="summary"
        )
        ops = [r[0] for r in table_text(app.screen.query_one("#ops"))]
        assert any(op in ("aten::addmm", "aten::mm") for op in ops), ops
        await pilot.press("o")  # by total time
        await pilot.pause(0.2)
        assert app.screen.by == "by_total"
        await pilot.press("escape")
        await pilot.pause(0.2)
        assert isinstance(app.screen, TracesScreen)

        await pilot.press("c")  # the group, side by side
        await pilot_wait_for(
            pilot, lambda: isinstance(app.screen, SummaryScreen) and app.screen.summaries, what="compare"
        )
        table = app.screen.query_one("#ops")
        labels = [str(c.label) for c in table.columns.values()]
        assert labels[1].startswith("a:") and labels[3].startswith("b:")
        assert table.row_count > 5
        await pilot.press("escape")
        await pilot.press("escape")
        await pilot.pause(0.2)
        assert not isinstance(app.screen, (TracesScreen, SummaryScreen))

        await pilot.press("question_mark")
        await pilot.pause(0.2)
        assert isinstance(app.screen, HelpScreen)
        text = str(app.screen.query_one("Static").render())
        assert "Profile selected" in text and "Traces and summaries" in text
        titles = {c.title for c in app.get_system_commands(app.screen)}
        assert {"Profile workload", "Profile every workload", "Memory snapshot", "Traces"} <= titles
        await pilot.press("escape")
        await pilot.press("q")
        await pilot_wait_for(pilot, lambda: all(w.ended for w in session.workloads), what="stop")
    # The workloads ran on after the captures, and their profiled steps stayed out of the statistics.
    for w in (a, b):
        series = session.timeline.steps(w.id)
        assert series.profiled == (10 if w is a else 5) and not list(series.steps)[-1].profiled
