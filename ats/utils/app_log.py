"""The application log: where Python ``logging`` goes (engine warnings, caught errors).

One file, ``<workspace>/logs/ats.log``, where the workspace is the saved_states
directory's parent (``logs/`` beside ``saved_states/`` by default; ``ATS_LOG_DIR``
moves it). Why there and not inside saved_states/: that directory holds exactly what
restores jobs, and a refused start must leave it byte for byte as it was; the log is
not state. It is size-capped and rotated (:data:`MAX_BYTES`, :data:`BACKUPS`), owner-only
(0600) like the snapshots and the journal, and opened on the first line written.

Under the console nothing is ever written to the terminal: the file is the only
handler (a log that cannot be written is dropped silently rather than drawn over the
screen). Headless commands also echo WARNING and above to stderr, one line each.
"""

from __future__ import annotations

import contextlib
import io
import logging
import logging.handlers
import os
import sys
from pathlib import Path
from typing import Any

LOG_DIR_NAME = "logs"
LOG_FILE_NAME = "ats.log"
MAX_BYTES = 5 * 1024 * 1024
BACKUPS = 3
FILE_MODE = 0o600
DIR_MODE = 0o700
LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
DEFAULT_LEVEL = "INFO"
JOB_LOGGER_NAME = "ats.jobs"
"""What a job says in its own log that the application log keeps too (its errors). Not
echoed to stderr: the front ends show job logs already."""
SHOWN: dict[str, object] = {"shown": True}
"""``logger.warning(..., extra=SHOWN)``: the front end tells the user the same thing (a job's
log line, a notice, the exit line), so it is not echoed to stderr again."""
_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"
_OURS = "_ats_app_log"


def default_log_dir(saved_states_dir: Path) -> Path:
    """``logs/`` beside the state directory (see the module's docstring for why)."""
    return saved_states_dir.absolute().parent / LOG_DIR_NAME


class OwnerOnlyRotatingFile(logging.handlers.RotatingFileHandler):
    """A rotating file created 0600 (and made so if it existed), that never prints its
    own failures: a full disk must not scribble a traceback over the console."""

    failures = 0
    """Lines that could not be written."""

    def _open(self) -> io.TextIOWrapper:
        Path(self.baseFilename).parent.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
        fd = os.open(self.baseFilename, os.O_WRONLY | os.O_APPEND | os.O_CREAT, FILE_MODE)
        with contextlib.suppress(OSError):  # not ours to change: still append to it
            os.fchmod(fd, FILE_MODE)
        return os.fdopen(fd, "a", encoding=self.encoding or "utf-8", errors=self.errors)

    def handleError(self, record: logging.LogRecord) -> None:
        self.failures += 1


class OneLine(logging.Formatter):
    """``ats: warning: message (ValueError: detail)``: no traceback, no second line."""

    def format(self, record: logging.LogRecord) -> str:
        message = " ".join(record.getMessage().split())
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            detail = " ".join(str(exc).split())
            message += f" ({type(exc).__name__}{': ' + detail if detail else ''})"
        return f"ats: {record.levelname.lower()}: {message}"


class _Stderr(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is when a line is logged (like logging's own
    last resort), not to the stream that was there when the log was configured."""

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:
        pass


def _not_shown(record: logging.LogRecord) -> bool:
    return not (getattr(record, "shown", False) or record.name.startswith(JOB_LOGGER_NAME))


def configure(
    log_file: Path | None, *, level: str = DEFAULT_LEVEL, echo: bool = False
) -> Path | None:
    """Send this process's logging to ``log_file`` (None: no file) and, with ``echo``,
    WARNING and above to stderr in one line. Replaces what an earlier call set up;
    returns the log file. Python warnings are logged too (under the console they would
    otherwise be printed over the screen)."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, _OURS, False):
            root.removeHandler(handler)
            handler.close()
    numeric = logging.getLevelName(level.upper())
    if not isinstance(numeric, int):
        raise ValueError(f"unknown log level {level!r}")
    handlers: list[logging.Handler] = []
    if log_file is not None:
        file = OwnerOnlyRotatingFile(
            log_file, maxBytes=MAX_BYTES, backupCount=BACKUPS, encoding="utf-8", delay=True
        )
        file.setFormatter(logging.Formatter(_FORMAT))
        handlers.append(file)
    if echo:
        stderr = _Stderr()
        stderr.setLevel(max(numeric, logging.WARNING))
        stderr.setFormatter(OneLine())
        stderr.addFilter(_not_shown)
        handlers.append(stderr)
    if not handlers:
        handlers.append(logging.NullHandler())  # never Python's last-resort stderr
    for handler in handlers:
        setattr(handler, _OURS, True)
        root.addHandler(handler)
    root.setLevel(numeric)
    logging.captureWarnings(True)
    return log_file
