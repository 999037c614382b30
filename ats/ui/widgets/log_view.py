"""The job log: bounded, level-coloured, filterable by text and minimum level."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

from rich.text import Text
from textual.widgets import RichLog

from ats.trading_job.events import JobLog
from ats.trading_job.trading_job import TradingJob
from ats.ui.job_view import LEVELS, level_rank
from ats.ui.keys import LOG_KEYS, bindings
from ats.ui.tcss import load_tcss

MAX_LINES = 1_000
"""Lines kept on screen; the job itself keeps its own bounded ``logs`` deque."""
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
    """Shows one job's log; :meth:`append` adds new lines, filtered."""

    DEFAULT_CSS = load_tcss(__file__)
    BINDINGS = bindings(LOG_KEYS)

    def __init__(
        self,
        *,
        id: str | None = None,
        classes: str | None = None,
        clock: Callable[[float], str] = _local_clock,
    ) -> None:
        super().__init__(
            id=id,
            classes=classes,
            max_lines=MAX_LINES,
            min_width=20,
            wrap=False,
            markup=False,
            highlight=False,
        )
        self.border_title = "Log (l)"
        self._job: TradingJob | None = None
        self._filter = ""
        self._min_level = 0
        self._clock = clock
        self._styles: dict[str, str] = {}
        self._last_entry: JobLog | None = None
        self.extra_lines: Callable[[str], Iterable[JobLog]] = lambda job_id: ()
        """Console-side lines (status changes) merged by time into the job's own log."""

    @property
    def job(self) -> TradingJob | None:
        return self._job

    @property
    def filter_text(self) -> str:
        return self._filter

    @property
    def min_level(self) -> str:
        return LEVELS[self._min_level]

    def set_job(self, job: TradingJob | None) -> None:
        if job is not self._job:
            self._job = job
            self.rebuild()

    def set_filter(self, text: str) -> None:
        text = text.strip()
        if text != self._filter:
            self._filter = text
            self.rebuild()

    def action_cycle_level(self) -> None:
        self._min_level = (self._min_level + 1) % len(LEVELS)
        self.rebuild()

    def _accepts(self, entry: JobLog) -> bool:
        if level_rank(entry.level) < self._min_level:
            return False
        return not self._filter or self._filter.lower() in entry.message.lower()

    def append(self, entries: Iterable[JobLog]) -> None:
        """Add console-side lines (status changes) of the current job."""
        job = self._job
        if job is None:
            return
        for entry in entries:
            if entry.job_id == job.id and self._accepts(entry):
                self.write(self._line(entry))

    def sync(self) -> None:
        """Show the job's log lines added since the last look.

        Reads the job's own bounded deque rather than bus events, so a flood of events
        (which the bus drops) can never lose a line; only when the last line shown has
        rotated out of the deque is the whole view rebuilt.
        """
        job = self._job
        if job is None:
            return
        entries = list(job.logs)
        last = self._last_entry
        if last is None:
            new = entries
        else:
            for index in range(len(entries) - 1, -1, -1):
                if entries[index] is last:
                    new = entries[index + 1 :]
                    break
            else:
                self.rebuild()
                return
        if new:
            self._last_entry = new[-1]
            for entry in new[-REBUILD_LINES:]:
                if self._accepts(entry):
                    self.write(self._line(entry))

    def rebuild(self) -> None:
        """Re-render the tail of the job's own bounded log with the current filters."""
        self._styles = self._resolve_styles()
        self.clear()
        self._update_subtitle()
        self._last_entry = None
        job = self._job
        if job is None:
            return
        entries = list(job.logs)
        self._last_entry = entries[-1] if entries else None
        extra = list(self.extra_lines(job.id))
        if extra:
            entries = sorted(entries + extra, key=lambda entry: entry.time)
        lines = [entry for entry in entries if self._accepts(entry)]
        for entry in lines[-REBUILD_LINES:]:
            self.write(self._line(entry))

    def _update_subtitle(self) -> None:
        parts = []
        if self._min_level:
            parts.append(f"≥{self.min_level}")
        if self._filter:
            parts.append(f"filter: {self._filter}")
        parts.append("level (v)")
        self.border_subtitle = " · ".join(parts)

    def _resolve_styles(self) -> dict[str, str]:
        variables = self.app.theme_variables if self.is_attached else {}
        styles = {level: variables.get(name[1:], "") for level, name in LEVEL_STYLES.items()}
        styles["ERROR"] = f"bold {styles['ERROR']}".strip()
        return styles

    def _line(self, entry: JobLog) -> Text:
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
