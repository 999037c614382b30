"""The trial journal: what a rerun reads back, and a damaged file as one clear error."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from ats.exceptions import StateError
from ats.research.journal import TrialJournal, search_key
from ats.research.trial import TrialResult


def test_trials_come_back_exactly_and_runs_count_what_they_computed(tmp_path: Path) -> None:
    path = tmp_path / "research.sqlite3"
    journal = TrialJournal(path)
    key = search_key({"space": {"fast": [1, 2]}})
    first = journal.begin(key, {"space": {"fast": [1, 2]}})
    metrics = {"sharpe": 0.1 + 0.2, "calmar": None}  # 0.30000000000000004 must survive
    journal.record(key, first, TrialResult(0, {"fast": 1}, 1e4 / 3, 7, metrics), computed=True)
    journal.close()

    journal = TrialJournal(path)
    second = journal.begin(key, {"space": {"fast": [1, 2]}})
    copy = TrialResult(1, {"fast": 1}, 1e4 / 3, 7, metrics)
    journal.record(key, second, copy, computed=False)  # a twin: not a computation
    journal.end(second)
    finished = journal.finished(key)
    assert finished[0] == TrialResult(0, {"fast": 1}, 1e4 / 3, 7, metrics)
    assert finished[1] == copy
    assert journal.finished(search_key({"other": 1})) == {}
    journal.close()
    with sqlite3.connect(path) as db:
        runs = db.execute("SELECT run_id, computed, finished_at IS NOT NULL FROM runs").fetchall()
    assert runs == [(first, 1, 0), (second, 0, 1)]


def test_a_file_that_is_not_a_journal_is_one_state_error(tmp_path: Path) -> None:
    path = tmp_path / "research.sqlite3"
    path.write_bytes(b"not sqlite at all" * 100)
    with pytest.raises(StateError, match="cannot open the trial journal"):
        TrialJournal(path)
