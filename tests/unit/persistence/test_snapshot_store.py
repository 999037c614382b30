"""The snapshot file format: envelope, checksum, versions, atomic writes, modes."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest

from ats.exceptions import StateError
from ats.persistence import snapshot_store
from ats.persistence.snapshot_store import SnapshotStore, checksum, decode

PAYLOAD: dict[str, Any] = {
    "job_id": "job-1",
    "config": {"name": "x"},
    "status": "running",
    "error": None,
    "strategy_state": {"prev_fast": 1.5},
    "indicators": [],
    "exchange": {
        "wallet": {"free": {"USDT": 100.0}, "holds": {}},
        "orders": [],
        "fills": [],
        "next_order_id": 1,
        "cursor": 10,
    },
    "report": None,
}


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_round_trip_and_modes(tmp_path: Path) -> None:
    store = SnapshotStore(tmp_path / "states")
    path = store.save("job-1", PAYLOAD)
    assert path == tmp_path / "states" / "job-1.json"
    assert _mode(path) == 0o600
    assert _mode(tmp_path / "states") == 0o700
    envelope = json.loads(path.read_text())
    assert envelope["format"] == "ats-snapshot"
    assert envelope["version"] == snapshot_store.VERSION
    assert envelope["checksum"] == checksum(PAYLOAD)
    (candidate,) = store.candidates("job-1")
    assert candidate.payload == PAYLOAD
    assert store.job_ids() == ["job-1"]


def test_previous_good_copy_is_kept(tmp_path: Path) -> None:
    store = SnapshotStore(tmp_path)
    store.save("job-1", PAYLOAD)
    assert not store.backup_path("job-1").exists()
    second = {**PAYLOAD, "status": "paused"}
    store.save("job-1", second)
    assert _mode(store.backup_path("job-1")) == 0o600
    current, backup = store.candidates("job-1")
    assert current.payload == second
    assert backup.payload == PAYLOAD
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_a_file_not_known_good_is_never_rotated_into_the_backup(tmp_path: Path) -> None:
    store = SnapshotStore(tmp_path)
    store.save("job-1", PAYLOAD)
    store.save("job-1", {**PAYLOAD, "status": "paused"})
    store.path("job-1").write_text("garbage")
    fresh = SnapshotStore(tmp_path)  # a new process: it never validated the current file
    fresh.save("job-1", {**PAYLOAD, "status": "stopped"})
    assert fresh.candidates("job-1")[1].payload == PAYLOAD


def test_delete_removes_both_files(tmp_path: Path) -> None:
    store = SnapshotStore(tmp_path)
    store.save("job-1", PAYLOAD)
    store.save("job-1", PAYLOAD)
    store.delete("job-1")
    assert store.job_ids() == []


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda text: text[: len(text) // 2], "truncated"),
        (lambda text: "", "empty"),
        (lambda text: text.replace('"status":"running"', '"status":"runnin"'), "checksum"),
        (lambda text: text.replace('"USDT":100.0', '"USDT":1000.0'), "checksum"),
        (lambda text: text.replace('"version":1', '"version":99'), "newer ATS"),
        (lambda text: text.replace('"version":1', '"version":"1"'), "unknown snapshot version"),
        (lambda text: text.replace('"ats-snapshot"', '"other"'), "not an ATS snapshot"),
        (lambda text: "{" + text, "garbled"),
    ],
)
def test_bad_files_are_refused_with_a_reason(tmp_path: Path, mutate: Any, message: str) -> None:
    store = SnapshotStore(tmp_path)
    path = store.save("job-1", PAYLOAD)
    path.write_text(mutate(path.read_text()))
    (candidate,) = store.candidates("job-1")
    assert candidate.payload is None
    assert candidate.error is not None and message in candidate.error


def test_binary_garbage_is_refused(tmp_path: Path) -> None:
    with pytest.raises(StateError, match="UTF-8"):
        decode(b"\xff\xfe\x00garbage")


def test_payload_for_another_job_is_refused(tmp_path: Path) -> None:
    store = SnapshotStore(tmp_path)
    store.save("job-1", PAYLOAD)
    os.replace(store.path("job-1"), store.path("job-2"))
    (candidate,) = store.candidates("job-2")
    assert candidate.error is not None and "belongs to job" in candidate.error


def test_structural_checks_name_the_field() -> None:
    bad = json.loads(json.dumps(PAYLOAD))
    bad["exchange"]["wallet"]["free"]["USDT"] = -5
    data = SnapshotStore.encode("job-1", bad)
    with pytest.raises(StateError, match=r"exchange\.wallet\.free\.USDT"):
        decode(data, job_id="job-1")


def test_older_version_is_migrated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    store = SnapshotStore(tmp_path)
    old = {key: value for key, value in PAYLOAD.items() if key != "report"}
    path = store.save("job-1", old)  # written as version 1
    monkeypatch.setattr(snapshot_store, "VERSION", 2)
    monkeypatch.setitem(snapshot_store.MIGRATIONS, 1, lambda payload: {**payload, "report": None})
    (candidate,) = SnapshotStore(tmp_path).candidates("job-1")
    assert candidate.payload == PAYLOAD
    assert candidate.migrated_from == 1
    assert path.exists()


def test_older_version_without_migration_is_refused(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    store = SnapshotStore(tmp_path)
    store.save("job-1", PAYLOAD)
    monkeypatch.setattr(snapshot_store, "VERSION", 2)
    (candidate,) = store.candidates("job-1")
    assert candidate.error is not None and "too old" in candidate.error


def test_job_ids_cannot_escape_the_directory(tmp_path: Path) -> None:
    store = SnapshotStore(tmp_path)
    for bad in ("../x", "a/b", "", ".hidden", "x" * 200):
        with pytest.raises(StateError):
            store.path(bad)


def test_a_reformatted_file_still_loads(tmp_path: Path) -> None:
    """Pretty-printing the file (e.g. to read it) keeps it valid: the checksum covers the
    payload's canonical JSON, not the bytes' layout."""
    store = SnapshotStore(tmp_path)
    path = store.save("job-1", PAYLOAD)
    path.write_text(json.dumps(json.loads(path.read_text()), indent=2))
    (candidate,) = store.candidates("job-1")
    assert candidate.payload == PAYLOAD
