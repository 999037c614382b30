"""One ATS process per saved_states directory, and a clear line when it cannot be used.

Two ATS processes writing the same snapshots and journal would corrupt each other's
resume state, so every process that saves jobs (the console, ``ats --no-ui``, ``ats run``)
holds an exclusive ``flock`` on ``<saved_states>/.lock`` while it runs; the pid written
in it names the holder in the refusal.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
from pathlib import Path

from ats.exceptions import StateError
from ats.persistence.snapshot_store import FILE_MODE, SnapshotStore

LOCK_FILE = ".lock"


class StateDirLocked(StateError):
    """Another ATS process is using this saved_states directory."""


class StateDirUnwritable(StateError):
    """Nothing can be saved in the saved_states directory (full, read-only, immutable)."""


def unwritable_error(directory: Path, exc: OSError) -> StateDirUnwritable:
    """One line naming the directory, the reason and what to do about it."""
    reason = exc.strerror or str(exc)
    full = exc.errno in (errno.ENOSPC, errno.EDQUOT)
    advice = "free some space" if full else "make it writable"
    return StateDirUnwritable(
        f"cannot save in {directory}: {reason}; {advice} or set ATS_SAVED_STATES_DIR to "
        "another directory"
    )


def state_dir_unwritable(directory: Path) -> str | None:
    """Why nothing could be saved in ``directory``, else None (a probe file is written)."""
    try:
        SnapshotStore(directory).check_writable()
    except OSError as exc:
        return str(unwritable_error(directory, exc))
    return None


class DirectoryLock:
    """An exclusive ``flock`` on ``<saved_states>/.lock``: two ATS processes writing the
    same snapshots and journal would corrupt each other's resume state."""

    def __init__(self, directory: Path) -> None:
        self.path = directory / LOCK_FILE
        self._fd: int | None = None

    def acquire(self) -> None:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, FILE_MODE)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            pid = holder_pid(self.path.parent)
            who = f" (pid {pid})" if pid else ""
            raise StateDirLocked(
                f"{self.path.parent} is in use by another ATS process{who}; stop it first or "
                f"set ATS_SAVED_STATES_DIR to another directory"
            ) from None
        with contextlib.suppress(OSError):  # the pid only names the holder: a full disk
            os.ftruncate(fd, 0)  # is found (and said) after stale temp files are removed
            os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.ftruncate(self._fd, 0)
            os.close(self._fd)
            self._fd = None


def holder_pid(directory: Path) -> int | None:
    """The pid of the ATS process holding ``directory``'s lock, or None if it is free."""
    path = directory / LOCK_FILE
    if not path.exists():
        return None
    fd = os.open(path, os.O_RDONLY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError:
            text = path.read_text().strip()
            return int(text) if text.isdigit() else -1
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)
