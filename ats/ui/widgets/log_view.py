"""The job log: bounded, level-coloured, filterable by text and minimum level; long lines
wrap (nothing is cut off at 80 columns)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual.events import Resize
from textual.widgets import RichLog

from ats.exceptions import JobError
from ats.trading_job.views import LogLine, LogPage
from ats.ui.job_view import LEVELS, level_rank
from ats.ui.keys import LOG_KEYS, bindings
from ats.ui.tcss import load_tcss

if TYPE_CHECKING:
    from ats.trading_job.control import JobControl

MAX_LINES = 1_000
"""Lines kept on screen; the job itself keeps its own bounded log."""
REBUILD_LINES = 300
"""Lines re-rendered when the job, filter or level changes (keeps that fast)."""
LEVEL_STYLES = {
    "DEBUG": "$text-muted",
    "INFO": "$primary",
    "WARNING": "$warning",
    "ERROR": "$error",
}


def _local_clock(moment: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(moment))


class LogView(RichLog, can_focus=True):
    """Shows one job's log, read through ``control``; :meth:`append` adds the console's
    own lines, filtered."""

    DEFAULT_CSS = load_tcss(__file__)
    BINDINGS = bindings(LOG_KEYS)

    def __init__(
        self,
        *,
        id: str | None = None,
        classes: str | None = None,
        clock: Callable[[float], str] | None = None,
    ) -> None:
        super().__init__(
            id=id,
            classes=classes,
            max_lines=MAX_LINES,
            min_width=20,
            wrap=True,
            markup=False,
            highlight=False,
        )
        self.border_title = "Log (l)"
        self.control: JobControl | None = None
        """Where the job's log lines come from (set by the screen)."""
        self._job_id: str | None = None
        self._filter = ""
        self._min_level = 0
        self._clock = clock or _local_clock  # tests pin it
        self._styles: dict[str, str] = {}
        self._last_seq: int | None = None
        """The job's last log line shown (its seq), None before any."""
        self._reading = asyncio.Lock()
        self._wrapped_at: int | None = None
        self.extra_lines: Callable[[str], Iterable[LogLine]] = lambda job_id: ()
        """Console-side lines (status changes) merged by time into the job's own log."""

    @property
    def job_id(self) -> str | None:
        return self._job_id

    def on_resize(self, event: Resize) -> None:
        """Long lines wrap at the width they were written at: re-wrap at the new one."""
        width = event.size.width
        if self._wrapped_at is not None and width and width != self._wrapped_at:
            rewrap: Any = self.rebuild
            self.run_worker(rewrap, group="log-rewrap", exclusive=True, exit_on_error=False)
        if width:
            self._wrapped_at = width

    @property
    def filter_text(self) -> str:
        return self._filter

    @property
    def min_level(self) -> str:
        return LEVELS[self._min_level]

    async def set_job(self, job_id: str | None) -> None:
        if job_id != self._job_id:
            self._job_id = job_id
            await self.rebuild()

    async def set_filter(self, text: str) -> None:
        text = text.strip()
        if text != self._filter:
            self._filter = text
            await self.rebuild()

    async def action_cycle_level(self) -> None:
        self._min_level = (self._min_level + 1) % len(LEVELS)
        await self.rebuild()

    async def action_warnings_only(self) -> None:
        """Only warnings and errors; pressed again, every line."""
        warning = LEVELS.index("WARNING")
        self._min_level = 0 if self._min_level >= warning else warning
        await self.rebuild()

    def _accepts(self, entry: LogLine) -> bool:
        if level_rank(entry.level) < self._min_level:
            return False
        return not self._filter or self._filter.lower() in entry.message.lower()

    def append(self, entries: Iterable[LogLine], job_id: str) -> None:
        """Add console-side lines (status changes) of ``job_id`` if it is shown."""
        if job_id != self._job_id:
            return
        for entry in entries:
            if self._accepts(entry):
                self.write(self._line(entry))

    async def sync(self) -> None:
        """Show the job's log lines added since the last look.

        Reads the job's own bounded log rather than bus events, so a flood of events
        (which the bus drops) can never lose a line; only when the last line shown has
        rotated out of the job's log is the whole view rebuilt.
        """
        job_id = self._job_id
        if job_id is None or self.control is None:
            return
        async with self._reading:
            page = await self._page(job_id, self._last_seq)
            if page is None or job_id != self._job_id:
                return
            if page.gap:
                self._show_all(job_id, page.lines)
                return
            new = page.lines
            if new:
                self._last_seq = new[-1].seq
                for entry in new[-REBUILD_LINES:]:
                    if self._accepts(entry):
                        self.write(self._line(entry))

    async def rebuild(self) -> None:
        """Re-render the tail of the job's own bounded log with the current filters."""
        self._styles = self._resolve_styles()
        self.clear()
        self._update_subtitle()
        self._last_seq = None
        job_id = self._job_id
        if job_id is None or self.control is None:
            return
        async with self._reading:
            page = await self._page(job_id, None)
            if page is not None and job_id == self._job_id:
                self._show_all(job_id, page.lines)

    async def _page(self, job_id: str, after: int | None) -> LogPage | None:
        assert self.control is not None
        try:
            return await self.control.logs(job_id, after)
        except JobError:  # deleted meanwhile: the screen moves on at its next update
            return None

    def _show_all(self, job_id: str, lines: Iterable[LogLine]) -> None:
        self.clear()
        entries = list(lines)
        self._last_seq = entries[-1].seq if entries else None
        extra = list(self.extra_lines(job_id))
        if extra:
            entries = sorted(entries + extra, key=lambda entry: entry.time)
        shown = [entry for entry in entries if self._accepts(entry)]
        for entry in shown[-REBUILD_LINES:]:
            self.write(self._line(entry))

    def _update_subtitle(self) -> None:
        parts = []
        if self._min_level:
            parts.append(f"≥{self.min_level}")
        if self._filter:
            parts.append(f"filter: {self._filter}")
        parts.append("level (v/w)")
        self.border_subtitle = " · ".join(parts)

    def _resolve_styles(self) -> dict[str, str]:
        variables = self.app.theme_variables if self.is_attached else {}
        styles = {level: variables.get(name[1:], "") for level, name in LEVEL_STYLES.items()}
        styles["ERROR"] = f"bold {styles['ERROR']}".strip()
        return styles

    def _line(self, entry: LogLine) -> Text:
        level = entry.level.upper()
        style = self._styles.get(level, "")
        line = Text.assemble(
            (self._clock(entry.time), "dim"),
            " ",
            (f"{level:<7}", style),
            " ",
        )
        message = entry.message
        if level == "ERROR":
            line.append(message, style=style)
        else:
            line.append(message)
        return line
