"""Opening a journal file: owner-only, WAL, checked, and its schema brought up to date.

The version lives in the ``meta`` table (``schema_version``); :mod:`ats.database.schema`
holds the layouts. A journal from a newer ATS, or a SQLite file that is not an ATS
journal, is refused with a message that says so, never read with the wrong layout. A
damaged file raises :class:`JournalCorrupt`, so the caller can move it aside
(:func:`ats.database.recovery.quarantine`).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from pathlib import Path
from typing import Any

import aiosqlite

from ats.database.schema import APP_ID, MIGRATIONS, SCHEMA_VERSION
from ats.exceptions import StateError

FILE_MODE = 0o600

_SQLITE_CORRUPT, _SQLITE_NOTADB = 11, 26
_CANNOT_WRITE = {3, 8, 10, 13, 14}
"""SQLITE_PERM, _READONLY, _IOERR, _FULL, _CANTOPEN: the file system, not the file."""
_TABLES_SQL = "SELECT name FROM sqlite_master WHERE type = 'table'"


class JournalCorrupt(StateError):
    """SQLite says the journal file is damaged (its integrity check fails, or reading it
    raises "database disk image is malformed")."""

    def __init__(self, path: Path, detail: str) -> None:
        # quick_check answers "*** in database main ***\nOn tree page 303 cell 0: ...".
        detail = " ".join(detail.replace("*** in database main ***", "").split())
        super().__init__(f"{path} is damaged: {detail}")
        self.path = path
        self.detail = detail


def _error_code(exc: sqlite3.Error) -> int | None:
    code = getattr(exc, "sqlite_errorcode", None)
    return code & 0xFF if isinstance(code, int) else None


def is_corruption(exc: BaseException) -> bool:
    """Is this SQLite telling that the file is damaged (not busy, full or read-only)?"""
    if not isinstance(exc, sqlite3.DatabaseError):
        return False
    code = _error_code(exc)
    if code is not None:
        return code in (_SQLITE_CORRUPT, _SQLITE_NOTADB)
    text = str(exc)
    return "malformed" in text or "not a database" in text


async def open_journal_file(path: Path, *, readonly: bool) -> aiosqlite.Connection:
    """Connect, enable WAL and bring the schema up to date (or refuse clearly).

    A writable open runs SQLite's ``PRAGMA quick_check`` (0.3 s for a 250 MB journal
    with the file cached, 3 s from a cold disk; in SQLite's thread, so the console's
    loop keeps running): JournalCorrupt if it fails. OSError or StateError when the
    file or its directory cannot be written (a full disk, read-only)."""
    if readonly:
        if not path.is_file():
            raise StateError(f"{path}: no journal here")
        uri = f"file:{path.resolve()}?mode=ro"
        db = await connect(uri, uri=True, isolation_level=None)
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists():
            # Created owner-only first: SQLite gives -wal/-shm the same mode.
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT, FILE_MODE))
        os.chmod(path, FILE_MODE)
        db = await connect(path, isolation_level=None)
    try:
        await _prepare(db, path, readonly=readonly)
    except BaseException:
        with contextlib.suppress(sqlite3.Error):
            await db.close()
        raise
    return db


async def connect(database: str | Path, **kwargs: Any) -> aiosqlite.Connection:
    """aiosqlite's worker thread is not a daemon: a journal left open by a crash would keep
    the process from exiting. Make it one (the normal path always closes the journal, and
    an interrupted commit is rolled back by SQLite like any crash)."""
    connection = aiosqlite.connect(database, **kwargs)
    thread = getattr(connection, "_thread", None)
    if thread is not None and not thread.is_alive():
        thread.daemon = True
    return await connection


async def _prepare(db: aiosqlite.Connection, path: Path, *, readonly: bool) -> None:
    try:
        await _check_and_migrate(db, path, readonly=readonly)
    except sqlite3.DatabaseError as exc:
        if is_corruption(exc):
            raise JournalCorrupt(path, str(exc)) from None
        if _error_code(exc) in _CANNOT_WRITE:
            raise StateError(
                f"cannot write the journal {path} ({exc}); free some space or make "
                f"{path.parent} writable"
            ) from None
        raise StateError(f"{path}: not a readable SQLite journal ({exc})") from None


async def _check_and_migrate(db: aiosqlite.Connection, path: Path, *, readonly: bool) -> None:
    await db.execute("PRAGMA busy_timeout = 5000")
    if not readonly:
        await db.execute("PRAGMA journal_mode = WAL")
        await db.execute("PRAGMA synchronous = FULL")
        checked = list(await db.execute_fetchall("PRAGMA quick_check(1)"))
        verdict = str(checked[0][0]) if checked else "no answer"
        if verdict != "ok":
            raise JournalCorrupt(path, verdict)
    tables = {row[0] for row in await db.execute_fetchall(_TABLES_SQL)}
    version = 0
    if tables:
        if "meta" not in tables:
            raise StateError(f"{path}: a SQLite file that is not an ATS journal")
        rows = await db.execute_fetchall("SELECT key, value FROM meta")
        meta: dict[str, str] = {str(row[0]): str(row[1]) for row in rows}
        if meta.get("app") != APP_ID:
            raise StateError(f"{path}: a SQLite file that is not an ATS journal")
        try:
            version = int(meta.get("schema_version", ""))
        except ValueError:
            raise StateError(f"{path}: unreadable journal schema version") from None
    if version > SCHEMA_VERSION:
        raise StateError(
            f"{path}: journal schema version {version} was written by a newer ATS "
            f"(this one knows up to {SCHEMA_VERSION}); upgrade ATS or set "
            f"ATS_JOURNAL_PATH to another file"
        )
    if version < SCHEMA_VERSION:
        if readonly:
            raise StateError(
                f"{path}: journal schema version {version} is older than "
                f"{SCHEMA_VERSION}; start ats once to migrate it"
            )
        await _migrate(db, path, version)


async def _migrate(db: aiosqlite.Connection, path: Path, version: int) -> None:
    await db.execute("BEGIN IMMEDIATE")
    try:
        while version < SCHEMA_VERSION:
            script = MIGRATIONS.get(version)
            if script is None:
                raise StateError(f"{path}: no migration from schema version {version}")
            for statement in _statements(script):
                await db.execute(statement)
            version += 1
        await db.executemany(
            "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
            [("app", APP_ID), ("schema_version", str(version))],
        )
        await db.execute("COMMIT")
    except BaseException:
        with contextlib.suppress(sqlite3.Error):  # SQLite may have rolled back (full)
            await db.execute("ROLLBACK")
        raise


def _statements(script: str) -> list[str]:
    return [part.strip() for part in script.split(";") if part.strip()]
