"""The headless runner prints every log level, and names/errors holding rich markup
characters, without tripping over markup (an INFO line used to raise MarkupError and
take ``ats --no-ui`` down with the first live job's log)."""

from __future__ import annotations

import io

from rich.console import Console
from rich.progress import Progress

from ats.headless.runner import HeadlessRunner
from ats.trading_job.events import JobLog, JobStatusChanged
from ats.trading_job.job_manager import JobManager


def test_log_lines_of_every_level_and_markup_like_text_print_verbatim() -> None:
    out = io.StringIO()
    console = Console(file=out, width=200, color_system=None)
    runner = HeadlessRunner(JobManager(), console)
    progress = Progress(console=console)
    events = [
        JobLog("job-[bold]", "INFO", "reconciled with the exchange: orders [/] none"),
        JobLog("job-[bold]", "DEBUG", "debug line"),
        JobLog("job-[bold]", "WARNING", "warning line"),
        JobLog("job-[bold]", "ERROR", "error line"),
        JobLog("job-[bold]", "TRACE", "unknown level"),
        JobStatusChanged("job-[bold]", "error", "KeyError: [/red] [x]"),
    ]
    for event in events:
        runner._show(event, progress, {})
    text = out.getvalue()
    assert "job-[bold] INFO    reconciled with the exchange: orders [/] none" in text
    for line in ("debug line", "warning line", "error line", "TRACE   unknown level"):
        assert line in text
    assert "job-[bold] error — KeyError: [/red] [x]" in text
