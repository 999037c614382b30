"""Downloaded candles written straight to Parquet, resumable like the CSV download.

A Parquet file cannot be appended to, so every page is written as its own small Parquet
file in ``<out>.parts/`` (to a temporary name, fsynced, then renamed: a kill loses at
most the page in flight). A part's name holds its first and last open time, so a rerun
resumes from the newest part without reading the others. A candle fetched again (it was
written while still open) goes into a part of its own, after the old row, and wins.
:meth:`ParquetPages.finish` joins the file being extended (if any) and the parts into
``<out>``, checks that it loads as candles, replaces ``<out>`` atomically and removes the
parts.
"""

from __future__ import annotations

import os
import re
import shutil
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ats.exceptions import DataError

_PART = re.compile(r"^(\d+)-(\d+)\.parquet$")
COLUMNS = ("open", "high", "low", "close", "volume")


class ParquetPages:
    """The pages of one download into ``out`` (a ``.parquet`` file)."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self.parts = out.with_name(out.name + ".parts")

    def _part_files(self) -> list[tuple[int, int, Path]]:
        if not self.parts.is_dir():
            return []
        found = []
        for path in self.parts.iterdir():
            match = _PART.match(path.name)
            if match:
                found.append((int(match.group(1)), int(match.group(2)), path))
        return sorted(found)

    def last_row(self) -> list[Any] | None:
        """``[ms, open, high, low, close, volume]`` of the newest candle downloaded (the
        last part, or ``out``), or None. An existing ``out`` is validated like a
        backtest's file first (DataError naming it): a download never extends a file
        that will not load."""
        from ats.data.candle_readers import load_candles

        newest: list[Any] | None = None
        if self.out.exists():
            data = load_candles(self.out)
            newest = [int(data.timestamps[-1]), *(float(getattr(data, c)[-1]) for c in COLUMNS)]
        parts = self._part_files()
        if parts:
            import pyarrow.parquet as pa_pq

            table = pa_pq.read_table(parts[-1][2]).cast(_schema())
            row = table.slice(table.num_rows - 1).to_pylist()[0]
            newest = [parts[-1][1], *(row[c] for c in COLUMNS)]
        return newest

    def _read_out(self) -> Any:
        import pyarrow as pa
        import pyarrow.parquet as pa_pq

        try:
            table = pa_pq.read_table(self.out, columns=["time", *COLUMNS])
            return table.cast(_schema(), safe=True)
        except (pa.ArrowException, OSError, KeyError, ValueError) as exc:
            raise DataError(
                f"{self.out}: not a file written by ats data download ({exc})"
            ) from None

    def append(self, rows: Sequence[Sequence[Any]]) -> None:
        """Write one page of ``[ms, open, high, low, close, volume]`` rows as a part."""
        if not rows:
            return
        import pyarrow as pa
        import pyarrow.parquet as pa_pq

        columns = list(zip(*rows, strict=True))
        table = pa.table(
            {
                "time": pa.array([int(ms) for ms in columns[0]], pa.int64()).cast(
                    _schema().field("time").type
                ),
                **{name: pa.array(columns[k + 1], pa.float64()) for k, name in enumerate(COLUMNS)},
            }
        )
        self.parts.mkdir(parents=True, exist_ok=True)
        first, last = int(rows[0][0]), int(rows[-1][0])
        target = self.parts / f"{first:015d}-{last:015d}.parquet"
        temp = target.with_name(f".{target.name}.{uuid.uuid4().hex[:12]}.tmp")
        try:
            _write_synced(table, temp, pa_pq)
            os.replace(temp, target)
        finally:
            temp.unlink(missing_ok=True)

    def finish(self) -> None:
        """Join ``out`` and the parts into ``out``; a file that would not load is refused."""
        import pyarrow as pa
        import pyarrow.parquet as pa_pq

        from ats.data.candle_readers import load_candles
        from ats.data.candles import CandleDataError

        parts = self._part_files()
        if not parts:
            return
        tables = [self._read_out()] if self.out.exists() else []
        tables += [pa_pq.read_table(path).cast(_schema()) for _, _, path in parts]
        joined = pa.concat_tables(tables)
        times = joined.column("time").cast(pa.int64()).to_numpy()
        # A candle downloaded again (it was still open when written) follows the old one:
        # the later of equal times wins.
        joined = joined.filter(pa.array(np.append(times[1:] != times[:-1], True)))
        temp = self.out.with_name(f".{self.out.name}.{uuid.uuid4().hex[:12]}.tmp")
        try:
            _write_synced(joined, temp, pa_pq)
            try:
                load_candles(temp)  # recognised as Parquet by its magic bytes
            except CandleDataError as exc:
                raise DataError(f"{self.out}: downloaded candles do not load: {exc}") from None
            os.replace(temp, self.out)
        finally:
            temp.unlink(missing_ok=True)
        shutil.rmtree(self.parts, ignore_errors=True)


def _schema() -> Any:
    import pyarrow as pa

    return pa.schema(
        [("time", pa.timestamp("ms", tz="UTC")), *((name, pa.float64()) for name in COLUMNS)]
    )


def _write_synced(table: Any, path: Path, pa_pq: Any) -> None:
    with open(path, "wb") as handle:
        pa_pq.write_table(table, handle)
        handle.flush()
        os.fsync(handle.fileno())
