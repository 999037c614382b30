"""The log pane as a line-API view: a job's whole kept log on selection, the newest line
in view, a scrolled-up reader left where they are, long lines wrapped, bounded."""

from __future__ import annotations

from typing import Any

from textual.app import App, ComposeResult
from ui_helpers import fixed_clock, wait_for

from ats.trading_job.views import LogLine, LogPage
from ats.ui.widgets import log_view as log_module
from ats.ui.widgets.log_view import LogView


class ListLog:
    """A JobControl's ``logs`` over a plain list (the view needs nothing else)."""

    def __init__(self, count: int) -> None:
        self.lines = [LogLine(seq, 0.0, "INFO", f"line {seq}") for seq in range(count)]

    async def logs(self, job_id: str, after: int | None = None) -> LogPage:
        start = 0 if after is None else after + 1
        return LogPage(tuple(self.lines[start:]), len(self.lines), False)

    def add(self, message: str, level: str = "INFO") -> None:
        self.lines.append(LogLine(len(self.lines), 0.0, level, message))


class LogApp(App[None]):
    def compose(self) -> ComposeResult:
        yield LogView(id="log", clock=fixed_clock)


def texts(view: LogView) -> list[str]:
    return [line.text.rstrip() for line in view.lines]


def visible(view: LogView) -> list[str]:
    return [view.render_line(y).text.rstrip() for y in range(view.scrollable_content_region.height)]


async def start(pilot: Any, control: ListLog) -> LogView:
    view = pilot.app.query_one(LogView)
    view.control = control
    await view.set_job("job")
    await wait_for(pilot, lambda: view.is_vertical_scroll_end and view.max_scroll_y > 0)
    return view


async def test_selecting_a_job_shows_its_whole_log_with_the_newest_line_in_view() -> None:
    control = ListLog(900)
    async with LogApp().run_test(size=(80, 12)) as pilot:
        view = await start(pilot, control)
        assert len(view.lines) == 900  # all of it, not only the last few hundred
        assert visible(view)[-1].endswith("line 899")
        control.add("line 900")
        await view.sync()
        await wait_for(pilot, lambda: visible(view)[-1].endswith("line 900"))


async def test_a_reader_scrolled_up_stays_put_until_they_go_back_to_the_end() -> None:
    control = ListLog(200)
    async with LogApp().run_test(size=(80, 12)) as pilot:
        view = await start(pilot, control)
        view.focus()
        await pilot.press("pageup")
        await wait_for(pilot, lambda: not view.is_vertical_scroll_end)
        shown = visible(view)
        control.add("new line")
        await view.sync()
        await pilot.pause()
        assert visible(view) == shown  # the new line did not pull the view down
        await pilot.press("end")
        await wait_for(pilot, lambda: visible(view)[-1].endswith("new line"))
        control.add("newer line")
        await view.sync()
        await wait_for(pilot, lambda: visible(view)[-1].endswith("newer line"))


async def test_long_lines_wrap_and_filters_apply_to_the_whole_log() -> None:
    control = ListLog(5)
    control.add("x" * 150 + " the end", "WARNING")
    async with LogApp().run_test(size=(80, 12)) as pilot:
        view = await start(pilot, ListLog(40))
        view.control = control
        await view.rebuild()
        wrapped = [text for text in texts(view) if "x" in text]
        assert len(wrapped) >= 2 and " ".join(texts(view)).endswith("the end")
        # Wrapped inside the border, one column kept for the scrollbar whether shown or not.
        wrap_width = view.container_size.width - 1
        assert max(len(text) for text in texts(view)) == wrap_width
        assert wrap_width <= view.scrollable_content_region.width
        await view.action_warnings_only()
        assert texts(view)[0].startswith("12:00:00 WARNING")
        assert not any("line" in text for text in texts(view))


async def test_the_view_keeps_at_most_max_lines(monkeypatch: Any) -> None:
    monkeypatch.setattr(log_module, "MAX_LINES", 50)
    control = ListLog(30)
    async with LogApp().run_test(size=(80, 12)) as pilot:
        view = await start(pilot, control)
        for index in range(300):
            control.add(f"more {index}")
        await view.sync()
        assert len(view.lines) <= 50 + log_module._PRUNE_SLACK
        assert texts(view)[-1].endswith("more 299")
        await wait_for(pilot, lambda: visible(view)[-1].endswith("more 299"))
