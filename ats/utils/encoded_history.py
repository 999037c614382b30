"""History encoded once: fills and finished orders never change again.

A long backtest holds tens of thousands of orders and fills, and every snapshot (each
status change, every 30 s, on quit) used to turn all of them into dicts and JSON again
on the event loop: half a second per job at 40k orders. :class:`HistoryCache` keeps the
compact JSON text of the items that can no longer change, and hands out an
:class:`EncodedHistory`, a plain list of all the dicts (any reader sees an ordinary list)
that also carries that text. The snapshot encoder
(:func:`ats.persistence.canonical_json.canonical_json`) then encodes only what is new.

Why here, below the exchanges, and not in ``ats.persistence``: the exchange keeps the
cache (it alone knows which items are final, and warms it in a worker thread while it
runs), so the type must be importable by the engine; persistence only reads it. It knows
nothing of snapshots, files or jobs: a list of dicts with some of its JSON made already.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

from ats.utils.json_slices import sliced_dumps

T = TypeVar("T")

_SEPARATORS = (",", ":")


def compact_json(value: Any) -> str:
    """``json.dumps(value, separators=(",", ":"), allow_nan=False)``, byte for byte (the
    snapshot checksum covers this text). Sliced: it runs in worker threads next to the
    console's loop (:mod:`ats.utils.json_slices`)."""
    return sliced_dumps(value, separators=_SEPARATORS, allow_nan=False)


def _joined(frozen_text: str, rest: Sequence[dict[str, Any]]) -> str:
    """The JSON list of the frozen items' text followed by ``rest`` (encoded now)."""
    rest_text = compact_json(list(rest))[1:-1] if rest else ""
    return "[" + ",".join(part for part in (frozen_text, rest_text) if part) + "]"


class EncodedHistory(list[dict[str, Any]]):
    """The dicts of a history; the first ``frozen`` of them are already encoded as
    ``frozen_text`` (their canonical JSON, comma-separated, without brackets)."""

    __slots__ = ("frozen", "frozen_text")

    def __init__(self, items: list[dict[str, Any]], frozen: int, frozen_text: str) -> None:
        super().__init__(items)
        self.frozen = frozen
        self.frozen_text = frozen_text

    def to_json(self) -> str:
        """``compact_json(list(self))``, re-encoding only the items after the frozen ones."""
        return _joined(self.frozen_text, self[self.frozen :])


class EncodedText:
    """A history for the snapshot file only: the frozen items as text and the dicts of
    the rest. Not a list, so nothing but :func:`~ats.persistence.canonical_json` can
    write it: a plain ``json.dumps`` fails loudly instead of writing half of it.

    Why: the dicts of every frozen item, made again at each snapshot, cost about a
    second on the event loop for a finished 50,000-trade backtest (bench/ui_latency.py)."""

    __slots__ = ("frozen", "frozen_text", "rest")

    def __init__(self, frozen: int, frozen_text: str, rest: list[dict[str, Any]]) -> None:
        self.frozen = frozen
        self.frozen_text = frozen_text
        self.rest = rest

    def __len__(self) -> int:
        return self.frozen + len(self.rest)

    def to_json(self) -> str:
        return _joined(self.frozen_text, self.rest)


class HistoryCache(Generic[T]):
    """One exchange's cache for one history (its fills, or its orders): the JSON text of
    the leading items that can no longer change (only the text: about a third of the
    memory the dicts would take, and the dicts are cheap to make again).

    ``items`` must only grow at the end, and an item for which ``is_final`` is true must
    never change again: both hold for the matching engine's orders and fills. Build a new
    cache (or :meth:`clear` it) when the history is replaced, e.g. on restore.
    """

    def __init__(self, to_dict: Callable[[T], dict[str, Any]], is_final: Callable[[T], bool]):
        self._to_dict = to_dict
        self._is_final = is_final
        self._count = 0
        self._text = ""

    def clear(self) -> None:
        self._count = 0
        self._text = ""

    @property
    def done(self) -> int:
        """How many leading items are cached."""
        return self._count

    def final_run(self, items: Sequence[T]) -> int:
        """End of the run of final items that starts at :attr:`done` (call it on the
        thread that changes the items: then the answer is consistent)."""
        end = min(self._count, len(items))
        while end < len(items) and self._is_final(items[end]):
            end += 1
        return end

    def encode_final(self, items: Sequence[T]) -> str:
        """The text of ``items``, all final. Reads nothing but the items, which can no
        longer change: safe in a worker thread. Hand the result to :meth:`adopt`."""
        return compact_json([self._to_dict(item) for item in items])[1:-1] if items else ""

    def adopt(self, start: int, count: int, text: str) -> None:
        """Append the text :meth:`encode_final` made of ``count`` items from ``start``;
        ignored if the cache moved meanwhile (it is only ever a head start)."""
        if start != self._count or not count:
            return
        self._count += count
        self._text = f"{self._text},{text}" if self._text else text

    def encode(self, items: Sequence[T]) -> EncodedHistory:
        """All of ``items`` as dicts; the leading run of final items is cached for good."""
        self._freeze(items)
        return EncodedHistory([self._to_dict(item) for item in items], self._count, self._text)

    def encode_text(self, items: Sequence[T]) -> EncodedText:
        """:meth:`encode` for the snapshot file: dicts only for the items not cached."""
        self._freeze(items)
        return EncodedText(
            self._count, self._text, [self._to_dict(item) for item in items[self._count :]]
        )

    def _freeze(self, items: Sequence[T]) -> None:
        """Cache the text of the leading run of final items not cached yet."""
        if self._count > len(items):  # the history was replaced without clear(): restart
            self.clear()
        done, end = self._count, self.final_run(items)
        if end > done:
            self.adopt(done, end - done, self.encode_final(items[done:end]))
