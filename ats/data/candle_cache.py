"""Parsed candles kept on disk, so a candle file is parsed and validated only once.

Parsing and validating 1M CSV candles takes about a second; backtests, sweeps and
charts load the same files again and again. The first load stores the validated column
arrays as an uncompressed Arrow IPC file (Feather v2) under
``<saved_states>/cache/candles/``; later loads memory-map it, which takes milliseconds
and shares the pages between every process reading the same file (sweep workers).

An entry is keyed by the source's resolved path; its size and modification time (ns)
are stored in the entry and must match, so an edited or replaced file is parsed again
and its entry overwritten. Entries are written to a temporary file, fsynced and renamed
into place, so concurrent writers and readers only ever see whole entries; a reader
that meets anything unreadable treats it as a miss. Entries whose source is gone, and
the least recently used ones beyond the size limit, are pruned when a new one is written.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ats.data.candle_readers import load_candles
from ats.data.candles import CandleData

__all__ = ["CACHE_FORMAT", "CandleCache", "default_cache", "load_candles_cached"]

CACHE_FORMAT = "1"
"""Bumped whenever the loader's output for the same file could change."""
SUFFIX = ".arrow"
COLUMNS: tuple[str, ...] = ("timestamps", "open", "high", "low", "close", "volume")


@dataclass(frozen=True, slots=True)
class SourceStamp:
    """What identifies one version of a source file."""

    path: str
    size: int
    mtime_ns: int

    @classmethod
    def of(cls, path: Path) -> SourceStamp:
        stat = path.stat()
        return cls(str(path), stat.st_size, stat.st_mtime_ns)

    def identity(self) -> dict[bytes, bytes]:
        """Entry metadata that must match for the entry to be current."""
        return {
            b"ats_cache_format": CACHE_FORMAT.encode(),
            b"source_path": self.path.encode(),
            b"source_size": str(self.size).encode(),
            b"source_mtime_ns": str(self.mtime_ns).encode(),
        }

    def matches(self, metadata: dict[bytes, bytes]) -> bool:
        return all(metadata.get(key) == value for key, value in self.identity().items())


class CandleCache:
    """A directory of cached candle files (see the module docstring)."""

    def __init__(self, directory: Path, *, max_bytes: int = 4 << 30) -> None:
        self.directory = Path(directory)
        self.max_bytes = max_bytes

    def entry_path(self, source: Path) -> Path:
        digest = hashlib.sha256(str(source).encode()).hexdigest()[:32]
        return self.directory / f"{digest}{SUFFIX}"

    def load(self, path: str | Path) -> CandleData:
        """The candles of ``path``: from the cache when it is current, else parsed and
        stored. Errors are :func:`load_candles`'s (a bad file is never cached)."""
        given = Path(path)
        try:
            source = given.resolve()
            stamp = SourceStamp.of(source)
        except OSError:
            return load_candles(given)  # missing/unreadable: the loader says it in one line
        cached = self.get(given, stamp)
        if cached is not None:
            return cached
        data = load_candles(given)
        with contextlib.suppress(OSError):
            if SourceStamp.of(source) == stamp:  # changed while parsing: do not store
                self.put(stamp, data)
        return data

    def get(self, given: Path, stamp: SourceStamp) -> CandleData | None:
        """The cached candles of this version of the source, or None (a miss)."""
        import pyarrow as pa
        import pyarrow.ipc as pa_ipc

        entry = self.entry_path(Path(stamp.path))
        try:
            with pa.memory_map(str(entry), "r") as source:
                table = pa_ipc.open_file(source).read_all()
            metadata = table.schema.metadata or {}
            if not stamp.matches(metadata) or table.column_names != list(COLUMNS):
                return None
            columns = {name: _column(table, name) for name in COLUMNS}
            data = CandleData(path=given, timeframe_ms=int(metadata[b"timeframe_ms"]), **columns)
        except (OSError, ValueError, KeyError, pa.ArrowException):
            return None  # missing, half-pruned or unreadable: parse the source again
        with contextlib.suppress(OSError):
            os.utime(entry)  # recently used: pruned last
        return data

    def put(self, stamp: SourceStamp, data: CandleData) -> Path:
        """Store ``data`` as the entry of this source version (atomic replace)."""
        import pyarrow as pa
        import pyarrow.ipc as pa_ipc

        _make_private_dirs(self.directory)
        table = pa.table(
            {name: _arrow_array(getattr(data, name)) for name in COLUMNS},
            metadata={**stamp.identity(), b"timeframe_ms": str(data.timeframe_ms).encode()},
        )
        entry = self.entry_path(Path(stamp.path))
        temp = entry.with_name(f".{entry.name}.{uuid.uuid4().hex[:12]}.tmp")
        try:
            # Owner-only like everything else under saved_states/ (candles can be private).
            descriptor = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(descriptor, "wb") as handle:
                with pa_ipc.new_file(handle, table.schema) as writer:
                    writer.write_table(table)
                handle.flush()
                os.fsync(handle.fileno())  # never rename a torn entry into place
            os.replace(temp, entry)
        finally:
            temp.unlink(missing_ok=True)
        self.prune(keep=entry)
        return entry

    def prune(self, keep: Path | None = None) -> None:
        """Delete entries whose source is gone, then the least recently used ones until
        the directory fits in ``max_bytes`` (``keep`` stays)."""
        import pyarrow as pa
        import pyarrow.ipc as pa_ipc

        entries: list[tuple[float, int, Path]] = []
        for entry in self.directory.glob(f"*{SUFFIX}"):
            try:
                stat = entry.stat()
                with pa.memory_map(str(entry), "r") as source:
                    metadata = pa_ipc.open_file(source).schema.metadata or {}
                source_path = metadata.get(b"source_path", b"").decode()
            except (OSError, pa.ArrowException):
                continue  # another process may be replacing or pruning it
            if entry != keep and not (source_path and os.path.exists(source_path)):
                entry.unlink(missing_ok=True)
                continue
            entries.append((stat.st_mtime, stat.st_size, entry))
        total = sum(size for _, size, _ in entries)
        for _, size, entry in sorted(entries):
            if total <= self.max_bytes:
                break
            if entry != keep:
                entry.unlink(missing_ok=True)
                total -= size


def _make_private_dirs(directory: Path) -> None:
    """Create ``directory`` and missing parents owner-only (0700): the default parent is
    ``saved_states/``, which must not become readable by others because the cache made it
    first (the snapshot store only sets 0700 on a directory it creates itself)."""
    missing = []
    for path in (directory, *directory.parents):
        if path.exists():
            break
        missing.append(path)
    for path in reversed(missing):
        with contextlib.suppress(FileExistsError):
            path.mkdir(mode=0o700)


def _arrow_array(values: np.ndarray) -> Any:
    """An Arrow array over the column's memory. Not ``pa.array``: it imports pandas to
    check for pandas input (~0.2 s of the first run on a file, bench/optimize_speed.py)."""
    import pyarrow as pa

    if np.issubdtype(np.asarray(values).dtype, np.integer):
        column, kind = np.ascontiguousarray(values, dtype=np.int64), pa.int64()
    else:
        column, kind = np.ascontiguousarray(values, dtype=np.float64), pa.float64()
    return pa.Array.from_buffers(kind, len(column), [None, pa.py_buffer(column)])


def _column(table: Any, name: str) -> np.ndarray:
    """A zero-copy, read-only view of one column of the memory-mapped table.

    Read from the column's data buffer: pyarrow's ``to_numpy`` imports pandas (~0.15 s of
    an ``ats backtest`` that needs no pandas at all, bench/whole_process.py).
    """
    column = table.column(name)
    if column.num_chunks != 1:
        raise ValueError(f"column {name} has {column.num_chunks} chunks")
    chunk = column.chunk(0)
    dtype = np.dtype(np.int64 if name == "timestamps" else np.float64)
    if chunk.null_count or str(chunk.type) != {"i": "int64", "f": "double"}[dtype.kind]:
        raise ValueError(f"column {name} is not a plain {dtype} column")
    _validity, data = chunk.buffers()
    return np.frombuffer(data, dtype, len(chunk), chunk.offset * dtype.itemsize)


def default_cache() -> CandleCache | None:
    """The cache the settings ask for (``ATS_CANDLE_CACHE_DIR``, ``ATS_CANDLE_CACHE_MAX_MB``;
    0 MB turns it off)."""
    from pydantic import ValidationError

    from ats.exceptions import ConfigError
    from ats.utils.settings import Settings
    from ats.utils.validation import format_validation_error

    try:
        settings = Settings()
    except ValidationError as exc:  # e.g. ATS_CANDLE_CACHE_MAX_MB=abc: one line, no trace
        raise ConfigError(format_validation_error(exc, source="settings (ATS_*)")) from None
    if settings.candle_cache_max_mb <= 0:
        return None
    return CandleCache(settings.candle_cache_path, max_bytes=settings.candle_cache_max_mb << 20)


def load_candles_cached(path: str | Path) -> CandleData:
    """:func:`load_candles` through the default cache (or straight, when it is off)."""
    cache = default_cache()
    return load_candles(path) if cache is None else cache.load(path)
