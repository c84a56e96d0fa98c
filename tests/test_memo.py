"""tui/memo.py: what reaches the terminal follows every change, although unchanged lines are reused."""

from __future__ import annotations

import contextlib
from pathlib import Path

from textual.app import App, ComposeResult
from textual.containers import Vertical

from fwtop.tui.chart import area_chart
from fwtop.tui.lines import TextLines
from fwtop.tui.memo import FrameMemo


class Box(FrameMemo, Vertical):
    DEFAULT_CSS = "Box { border: round $accent; height: 12; }"


class MemoApp(App):
    CSS = "#padded { padding: 0 2; }"

    def compose(self) -> ComposeResult:
        with Box():
            yield TextLines(["first line", "second line"], id="plain")
            yield TextLines(["padded text"], id="padded")
            yield TextLines(area_chart("chart", "", [], 36, 4), id="chart")


def screen_text(app: App) -> str:
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())


async def test_changed_lines_reach_the_screen_and_unchanged_ones_are_reused() -> None:
    app = MemoApp()
    async with app.run_test(size=(40, 14)) as pilot:
        await pilot.pause()
        plain = app.query_one("#plain", TextLines)
        padded = app.query_one("#padded", TextLines)
        chart = app.query_one("#chart", TextLines)
        assert plain._is_direct() and chart._is_direct()
        assert not padded._is_direct()  # padding: Textual's own path
        before = screen_text(app)
        assert "first line" in before and "  padded text" in before

        box = app.query_one(Box)
        crop = box.region.reset_offset
        assert box.render_lines(crop) is box.render_lines(crop)  # nothing changed: the same lines

        plain.set_lines(["first line", "changed line"])
        padded.set_lines(["other text"])
        chart.set_lines(area_chart("chart", "4.0 s", [1.0, 2.0, 3.0, 4.0] * 10, 36, 4))
        await pilot.pause()
        after = screen_text(app)
        assert "changed line" in after and "second line" not in after
        assert "  other text" in after and "padded text" not in after
        assert "4.0 s" in after and any(ch in after for ch in "\u28c0\u28e4\u28f6\u28ff")

        box.border_title = "titled"  # a border title change reaches the memoised container
        await pilot.pause()
        assert "titled" in screen_text(app)


async def test_a_theme_change_recolours_memoised_and_direct_lines() -> None:
    app = MemoApp()
    async with app.run_test(size=(40, 14)) as pilot:
        await pilot.pause()
        chart = app.query_one("#chart", TextLines)
        chart.set_lines(area_chart("chart", "x", [1.0, 2.0, 3.0], 36, 4))
        await pilot.pause()
        crop = chart.region.reset_offset
        old = [seg.style for strip in chart.render_lines(crop) for seg in strip]
        app.theme = "textual-light" if app.theme != "textual-light" else "nord"
        await pilot.pause()
        new = [seg.style for strip in chart.render_lines(crop) for seg in strip]
        assert old != new
        box = app.query_one(Box)
        box_crop = box.region.reset_offset
        border_old = box.render_lines(box_crop)[0]
        app.theme = "dracula"
        await pilot.pause()
        assert box.render_lines(box_crop)[0] is not border_old


@contextlib.asynccontextmanager
async def replayed_dashboard():
    """The dashboard at 200x50 over tests/data/replay-three, the recording applied and drawn."""
    from conftest import pilot_wait_for

    from fwtop.session.replay import ReplaySession
    from fwtop.tui.app import FwtopApp

    fixture = Path(__file__).resolve().parent / "data" / "replay-three"
    app = FwtopApp(ReplaySession(fixture, jump_to_end=True), chart_interval=0.1)
    async with app.run_test(size=(200, 50)) as pilot:
        await pilot_wait_for(pilot, lambda: all(w.ended for w in app.session.workloads), 5, "the recording applied")
        await pilot.pause(0.3)
        yield app, pilot


async def test_a_panel_rebuilds_only_the_lines_that_changed() -> None:
    from fwtop.session.session import PAUSED
    from fwtop.tui.panel import WorkloadPanel

    async with replayed_dashboard() as (app, pilot):
        panel = app.query(WorkloadPanel)[0]
        body = panel.body
        crop = body.region.reset_offset
        first, again = body.render_lines(crop), body.render_lines(crop)
        assert len(first) == body.size.height and all(
            a is b for a, b in zip(first, again, strict=True)
        )  # nothing changed
        before = dict(body._strips)
        assert panel.part_text("state") == "finished" and len(before) > 10

        panel.workload.state = PAUSED
        panel.refresh_text()
        await pilot.pause()
        assert panel.part_text("state") == "paused"
        assert "paused" in screen_text(app)
        after = body._strips
        rebuilt = [y for y in before if after.get(y) is not before[y]]
        assert rebuilt == [1]  # the state line only; title, charts and stats kept their strips


async def test_a_theme_change_recolours_the_panels_and_the_keys_line() -> None:
    from fwtop.tui.keybar import KeyBar
    from fwtop.tui.panel import WorkloadPanel

    async with replayed_dashboard() as (app, pilot):
        body = app.query(WorkloadPanel)[0].body
        bar = app.query_one(KeyBar)

        def styles(widget) -> list:
            crop = widget.region.reset_offset
            return [seg.style for strip in widget.render_lines(crop) for seg in strip]

        before_body, before_bar = styles(body), styles(bar)
        app.theme = "fwtop-light"
        await pilot.pause(0.3)
        assert styles(body) != before_body and styles(bar) != before_bar
        assert "step time" in screen_text(app)


async def test_a_panel_body_draws_its_lines_through_the_app_filters_once() -> None:
    """PanelBody builds its strips from styles already through the app's line filters and
    skips the filters per line; when the filters change it draws its lines again with the
    new ones (here: Textual's Monochrome filter added, as for NO_COLOR)."""
    from textual.filter import Monochrome

    from fwtop.tui.panel import PanelBody

    async with replayed_dashboard() as (app, pilot):
        body = app.query(PanelBody)[0]
        crop = body.region.reset_offset
        filters = tuple(app.get_line_filters())
        background = body.background_colors[1]

        def through(strip, line_filters):
            for line_filter in line_filters:
                strip = strip.apply_filter(line_filter, background)
            return [(seg.text, seg.style) for seg in strip]

        shown = body.render_lines(crop)
        drawn = [body.render_line(y) for y in crop.line_range]
        assert [[(seg.text, seg.style) for seg in s] for s in shown] == [through(s, filters) for s in drawn]
        assert all(s is d for s, d in zip(shown, drawn, strict=True))  # no filtered copy per line

        grey = filters + (Monochrome(),)
        app.get_line_filters = lambda: grey
        shown = body.render_lines(crop)
        drawn = [body.render_line(y) for y in crop.line_range]
        assert [[(seg.text, seg.style) for seg in s] for s in shown] == [through(s, grey) for s in drawn]
        colours = {seg.style.color.triplet for s in shown for seg in s if seg.style and seg.style.color}
        assert colours and all(c.red == c.green == c.blue for c in colours)  # every colour now grey


async def test_repeated_and_blank_rows_are_the_lines_textual_draws() -> None:
    """RepeatedRows (the panels) and BlankLines (the screen, the panel row) hand the compositor
    the same lines Textual's styles draw for every row, borders and titles included, in each
    theme and with the app's line filters (here NO_COLOR's Monochrome too)."""
    from textual.filter import Monochrome
    from textual.widget import Widget

    from fwtop.tui.app import DashboardScreen, PanelRow
    from fwtop.tui.memo import BlankLines, RepeatedRows
    from fwtop.tui.panel import WorkloadPanel

    def segments(strips) -> list:
        return [[(seg.text, seg.style) for seg in strip] for strip in strips]

    async with replayed_dashboard() as (app, pilot):
        panels = list(app.query(WorkloadPanel))
        panels[1].border_subtitle = "profiling 2/5"  # a title in the bottom border
        for theme in ("fwtop-dark", "fwtop-light", "fwtop-contrast"):
            app.theme = theme
            await pilot.pause(0.2)
            for extra in ((), (Monochrome(),)):
                filters = tuple(app.get_line_filters()) + extra
                app.get_line_filters = lambda filters=filters: filters
                for panel in panels:
                    crop = panel.region.reset_offset
                    ours = RepeatedRows.render_lines(panel, crop)
                    panel._styles_cache.clear()
                    assert segments(ours) == segments(Widget.render_lines(panel, crop)), (theme, panel.id)
                for widget in (app.screen, app.query_one(PanelRow)):
                    assert isinstance(widget, BlankLines) and widget._is_direct()
                    crop = widget.region.reset_offset
                    ours = widget.render_lines(crop)
                    assert segments(ours) == segments(Widget.render_lines(widget, crop)), (theme, widget)
                del app.get_line_filters
        assert isinstance(app.screen, DashboardScreen)
