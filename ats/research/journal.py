"""The trial journal: every finished trial in SQLite, so a killed sweep resumes exactly.

A search is keyed by a hash of everything that decides its trials: the candle file's
identity (path, size, modification time) and window, the base job, the strategy's
source, the space, the constraints and the method with its seed. Each trial is committed
the moment it finishes; running the same command again reads the finished trials back
instead of computing them. ``runs`` counts what each run computed, which is how a test
shows that nothing was recomputed after a ``kill -9``. ``console_sweeps`` lists the
sweeps the console runs as jobs (spec file and status), so a restarted console shows
them again and resumes those that were running.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ats.exceptions import StateError
from ats.research.trial import TrialResult
from ats.utils.finite_json import null_non_finite

JOURNAL_NAME = "research.sqlite3"
_SCHEMA_VERSION = 1
_SCHEMA = """
CREATE TABLE IF NOT EXISTS searches (
    key TEXT PRIMARY KEY,
    description TEXT NOT NULL,
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS runs (
    run_id INTEGER PRIMARY KEY AUTOINCREMENT,
    search_key TEXT NOT NULL REFERENCES searches(key),
    pid INTEGER NOT NULL,
    started_at REAL NOT NULL,
    finished_at REAL,
    computed INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS trials (
    search_key TEXT NOT NULL REFERENCES searches(key),
    number INTEGER NOT NULL,
    params TEXT NOT NULL,
    row TEXT NOT NULL,
    run_id INTEGER NOT NULL REFERENCES runs(run_id),
    computed INTEGER NOT NULL,
    finished_at REAL NOT NULL,
    PRIMARY KEY (search_key, number)
);
CREATE TABLE IF NOT EXISTS console_sweeps (
    sweep_id TEXT PRIMARY KEY,
    spec TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at REAL NOT NULL
);
"""


def search_key(description: dict[str, Any]) -> str:
    """The hash of a search's canonical JSON description."""
    text = json.dumps(description, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def file_identity(path: Path) -> dict[str, Any]:
    """What tells a changed candle file from the one a journal was written for."""
    stat = path.stat()
    return {"path": str(path.resolve()), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def params_key(params: dict[str, Any]) -> str:
    return json.dumps(params, sort_keys=True)


class TrialJournal:
    """One SQLite file (WAL) under the state directory; safe to kill at any moment."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(path, timeout=10.0, isolation_level=None)
            self._db.execute("PRAGMA journal_mode = WAL")
            self._db.execute("PRAGMA synchronous = NORMAL")
            version = self._db.execute("PRAGMA user_version").fetchone()[0]
            if version not in (0, _SCHEMA_VERSION):
                raise StateError(f"{path}: trial journal version {version} is not supported")
            self._db.executescript(_SCHEMA)
            self._db.execute(f"PRAGMA user_version = {_SCHEMA_VERSION}")
        except (sqlite3.DatabaseError, OSError) as exc:
            raise StateError(f"{path}: cannot open the trial journal: {exc}") from None

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """One committed transaction; a full disk or a damaged file is one StateError."""
        try:
            with self._db:
                self._db.execute("BEGIN IMMEDIATE")
                yield self._db
        except sqlite3.Error as exc:
            raise StateError(f"{self.path}: cannot write the trial journal: {exc}") from None

    def begin(self, key: str, description: dict[str, Any]) -> int:
        """Register the search (once) and a new run of it; returns the run id."""
        with self._transaction():
            self._db.execute(
                "INSERT OR IGNORE INTO searches (key, description, created_at) VALUES (?, ?, ?)",
                (key, json.dumps(description, sort_keys=True, default=str), time.time()),
            )
            cursor = self._db.execute(
                "INSERT INTO runs (search_key, pid, started_at) VALUES (?, ?, ?)",
                (key, os.getpid(), time.time()),
            )
        assert cursor.lastrowid is not None
        return cursor.lastrowid

    def finished(self, key: str) -> dict[int, TrialResult]:
        """The search's finished trials by number."""
        try:
            rows = self._db.execute(
                "SELECT row FROM trials WHERE search_key = ? ORDER BY number", (key,)
            ).fetchall()
        except sqlite3.Error as exc:
            raise StateError(f"{self.path}: cannot read the trial journal: {exc}") from None
        results = (TrialResult.from_json(json.loads(row)) for (row,) in rows)
        return {result.number: result for result in results}

    def record(self, key: str, run_id: int, result: TrialResult, *, computed: bool) -> None:
        """Commit one finished trial (and count it for its run when it was computed)."""
        row = json.dumps(null_non_finite(result.to_json()), allow_nan=False)
        with self._transaction():
            self._db.execute(
                "INSERT OR REPLACE INTO trials "
                "(search_key, number, params, row, run_id, computed, finished_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    key,
                    result.number,
                    params_key(result.params),
                    row,
                    run_id,
                    int(computed),
                    time.time(),
                ),
            )
            if computed:
                self._db.execute(
                    "UPDATE runs SET computed = computed + 1 WHERE run_id = ?", (run_id,)
                )

    def end(self, run_id: int) -> None:
        with self._transaction():
            self._db.execute(
                "UPDATE runs SET finished_at = ? WHERE run_id = ?", (time.time(), run_id)
            )

    def save_console_sweep(self, sweep_id: str, spec: str, status: str) -> None:
        with self._transaction():
            self._db.execute(
                "INSERT INTO console_sweeps (sweep_id, spec, status, created_at) "
                "VALUES (?, ?, ?, ?) ON CONFLICT (sweep_id) DO UPDATE SET status = ?",
                (sweep_id, spec, status, time.time(), status),
            )

    def forget_console_sweep(self, sweep_id: str) -> None:
        with self._transaction():
            self._db.execute("DELETE FROM console_sweeps WHERE sweep_id = ?", (sweep_id,))

    def console_sweeps(self) -> list[tuple[str, str, str]]:
        """(sweep id, spec path, status) of every console sweep, oldest first."""
        try:
            rows = self._db.execute(
                "SELECT sweep_id, spec, status FROM console_sweeps ORDER BY created_at, rowid"
            ).fetchall()
        except sqlite3.Error as exc:
            raise StateError(f"{self.path}: cannot read the trial journal: {exc}") from None
        return [(str(a), str(b), str(c)) for a, b, c in rows]

    def close(self) -> None:
        self._db.close()
