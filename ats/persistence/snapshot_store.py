"""Job snapshots on disk: ``saved_states/<job_id>.json`` in a versioned, checksummed envelope.

File format (one JSON object)::

    {"format": "ats-snapshot", "version": 1, "saved_at": "2026-11-24T21:00:00.123Z",
     "job_id": "btc-sma-1a2b3c", "checksum": "sha256:<hex>", "payload": {...}}

``payload`` is :meth:`TradingJob.snapshot` (plus the job's last report); ``checksum`` is
the SHA-256 of the payload's canonical JSON (compact, key order kept), so a truncated,
garbled or hand-edited file is detected instead of being misread.

Writes are atomic: a temporary file in the same directory is written and fsynced, the
current file is hard-linked to ``<job_id>.json.bak`` (only if it is known to be good), the
temporary file is renamed over the current one and the directory is fsynced. A crash at
any point leaves a complete current file, a complete backup, or both. Files are 0600.
A failed write (a full disk) removes its temporary file; those a killed process left
behind are removed at the next start (:meth:`SnapshotStore.remove_stale_temp_files`).
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import math
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ats.exceptions import StateError
from ats.persistence import canonical_json as canonical
from ats.utils.redaction import redact

FORMAT = "ats-snapshot"
VERSION = 1
"""Current envelope/payload version. Bump it with a migration in :data:`MIGRATIONS`."""
MIGRATIONS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {}
"""``MIGRATIONS[n]`` turns a version-``n`` payload into a version-``n + 1`` payload."""

SUFFIX = ".json"
BACKUP_SUFFIX = ".json.bak"
UNUSABLE_SUFFIX = ".json.unusable"
"""Where a current snapshot that could not be restored is kept (the backup was used)."""
TEMP_SUFFIX = ".tmp"
STALE_TEMP_AGE_S = 60.0
"""A temporary file older than this is left over from an interrupted write (one write
takes well under a second), even if its pid was reused since."""
FILE_MODE = 0o600
DIR_MODE = 0o700
_JOB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
_TEMP_IDS = itertools.count()
_STATUSES = {"created", "running", "paused", "stopped", "finished", "error"}
_TEMP_NAME = re.compile(r"^\..+?\.(\d+)(?:\.\d+)?\.tmp$")
"""``.<file>.<pid>[.<n>].tmp``: the temporary files this module writes."""
_PROBE_BYTES = 64 * 1024
"""What must fit at start: below this a journal and snapshots have no room to speak of."""


def check_job_id(job_id: str) -> str:
    """Job ids become file names: refuse anything that could escape the directory."""
    if not isinstance(job_id, str) or not _JOB_ID.match(job_id) or ".." in job_id:
        raise StateError(f"invalid job id {job_id!r} for a snapshot file")
    return job_id


def canonical_json(payload: Any) -> str:
    """The exact text the checksum covers: compact, keys in their (insertion) order, which
    parsing keeps, so a reformatted file still verifies. NaN/inf are refused. History
    already encoded by an exchange is reused, not encoded again (ats.utils.encoded_history)."""
    return canonical.canonical_json(payload)


def checksum(payload: Any) -> str:
    return "sha256:" + hashlib.sha256(canonical_json(payload).encode("utf-8")).hexdigest()


@dataclass(slots=True)
class Candidate:
    """One snapshot file of a job, decoded, or the reason it cannot be used."""

    path: Path
    payload: dict[str, Any] | None = None
    saved_at: str | None = None
    error: str | None = None
    migrated_from: int | None = None

    @property
    def ok(self) -> bool:
        return self.payload is not None


@dataclass(slots=True)
class SnapshotStore:
    """Reads and writes the snapshot files of one ``saved_states`` directory."""

    directory: Path
    _known_good: set[str] = field(default_factory=set)
    """Jobs whose current file is known to be valid, so it may become the backup."""

    # -- paths -------------------------------------------------------------------------
    def path(self, job_id: str) -> Path:
        return self.directory / f"{check_job_id(job_id)}{SUFFIX}"

    def backup_path(self, job_id: str) -> Path:
        return self.directory / f"{check_job_id(job_id)}{BACKUP_SUFFIX}"

    def unusable_path(self, job_id: str) -> Path:
        return self.directory / f"{check_job_id(job_id)}{UNUSABLE_SUFFIX}"

    def job_ids(self) -> list[str]:
        """Every job with a current or backup snapshot, sorted."""
        if not self.directory.is_dir():
            return []
        ids = set()
        for entry in self.directory.iterdir():
            name = entry.name
            for suffix in (BACKUP_SUFFIX, SUFFIX):
                if name.endswith(suffix) and not name.startswith("."):
                    job_id = name[: -len(suffix)]
                    if _JOB_ID.match(job_id):
                        ids.add(job_id)
                    break
        return sorted(ids)

    def ensure_directory(self) -> None:
        """Create the directory owner-only (0700) if it does not exist yet."""
        if not self.directory.exists():
            self.directory.mkdir(parents=True, mode=DIR_MODE, exist_ok=True)
            os.chmod(self.directory, DIR_MODE)

    # -- writing -------------------------------------------------------------------------
    @staticmethod
    def encode(job_id: str, payload: dict[str, Any]) -> bytes:
        """The envelope as bytes. Call it where the payload is consistent (the event loop);
        the bytes can then be written from a thread."""
        body = redact(canonical_json(payload))  # a leaked credential never reaches disk
        envelope = (
            f'{{"format":"{FORMAT}","version":{VERSION},'
            f'"saved_at":{json.dumps(_now_iso())},"job_id":{json.dumps(check_job_id(job_id))},'
            f'"checksum":"sha256:{hashlib.sha256(body.encode("utf-8")).hexdigest()}",'
            f'"payload":{body}}}\n'
        )
        return envelope.encode("utf-8")

    def write(self, job_id: str, data: bytes) -> Path:
        """Atomically replace ``<job_id>.json`` with ``data``, keeping the previous good copy."""
        self.ensure_directory()
        target = self.path(job_id)
        temp = self._temp_path(target.name)
        try:
            _write_file(temp, data)
            if job_id in self._known_good and target.exists():
                self._keep_backup(target, self.backup_path(job_id))
            os.replace(temp, target)
        except BaseException:
            with contextlib.suppress(OSError):
                temp.unlink(missing_ok=True)
            raise
        _fsync_directory(self.directory)
        self._known_good.add(job_id)
        return target

    def save(self, job_id: str, payload: dict[str, Any]) -> Path:
        return self.write(job_id, self.encode(job_id, payload))

    def _keep_backup(self, current: Path, backup: Path) -> None:
        """Make ``backup`` the current file's content, atomically (hard link, else copy)."""
        staging = self._temp_path(backup.name)
        try:
            try:
                os.link(current, staging)
            except OSError:
                _write_file(staging, current.read_bytes())
            os.replace(staging, backup)
        except BaseException:
            with contextlib.suppress(OSError):
                staging.unlink(missing_ok=True)
            raise

    def _temp_path(self, name: str) -> Path:
        return self.directory / f".{name}.{os.getpid()}.{next(_TEMP_IDS)}{TEMP_SUFFIX}"

    def check_writable(self) -> None:
        """Write, sync and remove a small file: raises OSError (no space, read-only,
        immutable, no permission) when no snapshot could be saved here."""
        self.ensure_directory()
        probe = self._temp_path("write-check")
        try:
            _write_file(probe, b"\0" * _PROBE_BYTES)
        finally:
            with contextlib.suppress(OSError):
                probe.unlink(missing_ok=True)

    def remove_stale_temp_files(self) -> list[Path]:
        """Delete temporary files left by interrupted writes (a full disk, a kill): those
        of processes that are gone, or older than STALE_TEMP_AGE_S. Returns them."""
        if not self.directory.is_dir():
            return []
        removed = []
        now = time.time()
        for entry in self.directory.iterdir():
            match = _TEMP_NAME.match(entry.name)
            if match is None:
                continue
            pid = int(match.group(1))
            try:
                old = now - entry.lstat().st_mtime > STALE_TEMP_AGE_S
                if old or not _process_exists(pid):
                    entry.unlink()
                    removed.append(entry)
            except OSError:
                continue
        return removed

    def delete(self, job_id: str) -> None:
        for path in (self.path(job_id), self.backup_path(job_id), self.unusable_path(job_id)):
            path.unlink(missing_ok=True)
        self._known_good.discard(job_id)
        if self.directory.is_dir():
            _fsync_directory(self.directory)

    def mark_good(self, job_id: str) -> None:
        """The current file was loaded and validated: it may be rotated into the backup."""
        self._known_good.add(job_id)

    def set_aside(self, job_id: str) -> Path | None:
        """The current file could not be restored and the backup was used: keep it as
        ``<job_id>.json.unusable`` (for a look, or a newer ATS) instead of overwriting it
        with the next snapshot. Returns where it went, None if there was none."""
        current, aside = self.path(job_id), self.unusable_path(job_id)
        try:
            os.replace(current, aside)
        except FileNotFoundError:
            return None
        self._known_good.discard(job_id)
        _fsync_directory(self.directory)
        return aside

    # -- reading -------------------------------------------------------------------------
    def candidates(self, job_id: str) -> list[Candidate]:
        """The current file, then the backup; each decoded or with the reason it is bad."""
        result = []
        for path in (self.path(job_id), self.backup_path(job_id)):
            if path.exists():
                result.append(self.read(path, job_id))
        return result

    @staticmethod
    def read(path: Path, job_id: str | None = None) -> Candidate:
        candidate = Candidate(path)
        try:
            data = path.read_bytes()
        except OSError as exc:
            candidate.error = f"cannot read: {exc.strerror or exc}"
            return candidate
        try:
            payload, saved_at, migrated_from = decode(data, job_id=job_id)
        except StateError as exc:
            candidate.error = str(exc)
            return candidate
        candidate.payload, candidate.saved_at = payload, saved_at
        candidate.migrated_from = migrated_from
        return candidate


def decode(data: bytes, *, job_id: str | None = None) -> tuple[dict[str, Any], str, int | None]:
    """Validate an envelope and return (payload, saved_at, migrated_from_version).

    Raises StateError with a one-line reason for anything but a valid snapshot of a
    version this code can read (migrating older ones).
    """
    if not data.strip():
        raise StateError("empty file")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise StateError(f"not UTF-8 text (garbled at byte {exc.start})") from None
    try:
        envelope = json.loads(text, parse_constant=_refuse_constant)
    except json.JSONDecodeError as exc:
        cut_short = not text.rstrip().endswith("}") or exc.pos >= len(text.rstrip()) - 1
        kind = "truncated" if cut_short else "garbled"
        raise StateError(f"{kind} JSON (line {exc.lineno} column {exc.colno}: {exc.msg})") from None
    except ValueError as exc:
        raise StateError(f"invalid JSON: {exc}") from None
    except RecursionError:
        raise StateError("invalid JSON: nested too deeply") from None
    if not isinstance(envelope, dict) or envelope.get("format") != FORMAT:
        raise StateError(f'not an ATS snapshot (no "format": "{FORMAT}")')
    version = envelope.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise StateError(f"unknown snapshot version {version!r}")
    if version > VERSION:
        raise StateError(
            f"snapshot version {version} was written by a newer ATS (this one reads up to "
            f"version {VERSION}); upgrade ATS to load it"
        )
    payload = envelope.get("payload")
    if not isinstance(payload, dict):
        raise StateError("snapshot has no payload object")
    if not _raw_payload_matches(text, envelope.get("checksum")):
        try:
            expected = checksum(payload)
        except ValueError as exc:
            raise StateError(f"payload is not plain JSON: {exc}") from None
        if envelope.get("checksum") != expected:
            raise StateError("checksum mismatch (the file was truncated, garbled or edited)")
    migrated_from = None
    if version < VERSION:
        migrated_from = version
        payload = migrate(payload, version)
    saved_at = envelope.get("saved_at")
    validate_payload(payload, job_id)
    return payload, saved_at if isinstance(saved_at, str) else "?", migrated_from


def _raw_payload_matches(text: str, expected: Any) -> bool:
    """Fast path: the payload as written by :meth:`SnapshotStore.encode` is the canonical
    text, last in the envelope, so its bytes can be hashed as they are (no re-encoding).
    A reformatted file falls back to re-encoding the parsed payload."""
    start = text.rfind('"payload":')
    end = text.rstrip().rfind("}")
    if start < 0 or end <= start or not isinstance(expected, str):
        return False
    body = text[start + len('"payload":') : end]
    return "sha256:" + hashlib.sha256(body.encode("utf-8")).hexdigest() == expected


def migrate(payload: dict[str, Any], version: int) -> dict[str, Any]:
    """Upgrade a payload step by step to :data:`VERSION`, or refuse clearly."""
    while version < VERSION:
        step = MIGRATIONS.get(version)
        if step is None:
            raise StateError(
                f"snapshot version {version} is too old for this ATS (no migration to "
                f"version {version + 1}); re-create the job"
            )
        try:
            payload = step(payload)
        except (KeyError, TypeError, ValueError) as exc:
            raise StateError(f"cannot migrate snapshot version {version}: {exc}") from None
        version += 1
    return payload


def validate_payload(payload: dict[str, Any], job_id: str | None) -> None:
    """Structural checks before any of it reaches a job; types of the strategy state are
    checked later by ``SimpleState.from_dict`` and the wallet by its own invariants."""
    if job_id is not None and payload.get("job_id") != job_id:
        raise StateError(f"snapshot belongs to job {payload.get('job_id')!r}, not {job_id!r}")
    if not isinstance(payload.get("config"), dict):
        raise StateError("snapshot has no job config")
    status = payload.get("status")
    if status not in _STATUSES:
        raise StateError(f"unknown job status {status!r}")
    for key in ("error", "restore_note"):
        if payload.get(key) is not None and not isinstance(payload.get(key), str):
            raise StateError(f"{key} must be text or null")
    state = payload.get("strategy_state")
    if state is not None and not isinstance(state, dict):
        raise StateError("strategy_state must be an object")
    if not isinstance(payload.get("indicators", []), list):
        raise StateError("indicators must be a list")
    report = payload.get("report")
    if report is not None and not isinstance(report, dict):
        raise StateError("report must be an object")
    exchange = payload.get("exchange")
    if exchange is None:
        return
    if not isinstance(exchange, dict):
        raise StateError("exchange state must be an object")
    _check_exchange(exchange)


def _check_exchange(exchange: dict[str, Any]) -> None:
    if "cursor" in exchange:
        _check_int(exchange["cursor"], "exchange.cursor")
    if "next_order_id" in exchange:
        _check_int(exchange["next_order_id"], "exchange.next_order_id", minimum=1)
    wallet = exchange.get("wallet")
    if wallet is not None:
        if not isinstance(wallet, dict) or not isinstance(wallet.get("free", {}), dict):
            raise StateError("exchange.wallet must be an object with free balances")
        for asset, amount in wallet.get("free", {}).items():
            _check_amount(amount, f"exchange.wallet.free.{asset}")
        holds = wallet.get("holds", {})
        if not isinstance(holds, dict):
            raise StateError("exchange.wallet.holds must be an object")
        for order_id, hold in holds.items():
            if not (isinstance(hold, list) and len(hold) == 2 and isinstance(hold[0], str)):
                raise StateError(f"exchange.wallet.holds.{order_id} must be [asset, amount]")
            _check_amount(hold[1], f"exchange.wallet.holds.{order_id}")
    for key in ("orders", "fills"):
        items = exchange.get(key, [])
        if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
            raise StateError(f"exchange.{key} must be a list of objects")
    for index, fill in enumerate(exchange.get("fills", [])):
        for name in ("amount", "price", "fee"):
            _check_amount(fill.get(name), f"exchange.fills[{index}].{name}")
        for name in ("amount", "price"):
            if not fill[name] > 0:
                raise StateError(f"exchange.fills[{index}].{name}: a fill needs a positive {name}")
    for index, order in enumerate(exchange.get("orders", [])):
        for name in ("amount", "filled", "cost", "fee"):
            _check_amount(order.get(name), f"exchange.orders[{index}].{name}")


def _check_int(value: Any, where: str, minimum: int = 0) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise StateError(f"{where}: {value!r} is not an integer >= {minimum}")


def _check_amount(value: Any, where: str) -> None:
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    if not ok or not math.isfinite(value) or value < 0:
        raise StateError(f"{where}: {value!r} is not a finite non-negative number")


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _now_iso() -> str:
    now = time.time()
    return datetime.fromtimestamp(now, tz=UTC).isoformat(timespec="milliseconds")


def _write_file(path: Path, data: bytes) -> None:
    """Create ``path`` (0600) holding ``data``, synced to disk; raises OSError (the
    caller removes the file)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    try:
        os.fchmod(fd, FILE_MODE)
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]
        os.fsync(fd)
    finally:
        os.close(fd)


def _process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    return True


def _fsync_directory(directory: Path) -> None:
    """Make a rename durable (POSIX); harmless where directories cannot be opened."""
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
