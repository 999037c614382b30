"""Saved jobs as ``ats jobs`` reads them: each job's best snapshot plus journal figures.

Reading works while ATS runs (snapshots are replaced atomically, the journal is WAL and
opened read-only here); nothing is locked or changed.

Only the standard library at module level: ``ats --help`` must stay instant.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from ats.database.journal import Journal
    from ats.persistence.snapshot_store import Candidate, SnapshotStore
    from ats.utils.settings import Settings

T = TypeVar("T")


class SavedJob:
    """One saved job as the listing sees it: its best snapshot plus journal figures."""

    def __init__(self, job_id: str, candidates: list[Candidate]) -> None:
        self.job_id = job_id
        self.candidate = next((c for c in candidates if c.payload is not None), None)
        self.problems = [f"{c.path.name}: {c.error}" for c in candidates if c.payload is None]

    @property
    def payload(self) -> dict[str, Any]:
        return self.candidate.payload if self.candidate and self.candidate.payload else {}

    @property
    def from_backup(self) -> bool:
        """The job runs on (or would be restored from) an older snapshot than its latest."""
        on_backup = self.candidate is not None and self.candidate.path.name.endswith(".bak")
        return on_backup or bool(self.payload.get("restore_note"))

    def summary(self) -> dict[str, Any]:
        payload = self.payload
        config = payload.get("config") or {}
        exchange = payload.get("exchange") or {}
        orders = exchange.get("orders") or []
        return {
            "job_id": self.job_id,
            "name": config.get("name", "?"),
            "exchange": (config.get("exchange") or {}).get("name"),
            "strategy": (config.get("strategy") or {}).get("name"),
            "status": payload.get("status", "unreadable"),
            "error": payload.get("error"),
            "saved_at": self.candidate.saved_at if self.candidate else None,
            "from_backup": self.from_backup,
            "restore_note": payload.get("restore_note"),
            "problems": self.problems,
            "candles_done": _candles_done(exchange),
            "fills": len(exchange.get("fills") or []),
            "open_orders": sum(1 for o in orders if o.get("status") in OPEN),
            "equity": _equity(payload),
        }


OPEN = ("open", "partially_filled")


def _candles_done(exchange: dict[str, Any]) -> int | None:
    """back_trading keeps its cursor at the top level, a replay feed inside ``feed``."""
    for source in (exchange, exchange.get("feed") or {}):
        if isinstance(source.get("cursor"), int):
            return int(source["cursor"])
    return None


def _equity(payload: dict[str, Any]) -> float | None:
    """Account value at the last candle, from the snapshot's wallet (quote currency)."""
    report = payload.get("report") or {}
    if isinstance(report.get("final_equity"), int | float):
        return float(report["final_equity"])
    exchange = payload.get("exchange") or {}
    wallet = exchange.get("wallet") or {}
    symbol = (payload.get("config") or {}).get("symbol", "BTC/USDT")
    base, _, quote = str(symbol).partition("/")
    totals: dict[str, float] = {}
    for asset, amount in (wallet.get("free") or {}).items():
        totals[asset] = totals.get(asset, 0.0) + float(amount)
    for asset, amount in (wallet.get("holds") or {}).values():
        totals[asset] = totals.get(asset, 0.0) + float(amount)
    candle = exchange.get("candle")
    price = float(candle[5]) if isinstance(candle, list) and len(candle) == 7 else 0.0
    if not totals:
        return None
    return totals.get(quote, 0.0) + totals.get(base, 0.0) * price


def position_line(payload: dict[str, Any]) -> str | None:
    """The base asset held, with the dust the market will not take shown apart."""
    from ats.exceptions import ConfigError
    from ats.exchanges.market_rules import MarketRules

    exchange = payload.get("exchange") or {}
    base = str((payload.get("config") or {}).get("symbol", "?/?")).partition("/")[0]
    wallet = exchange.get("wallet") or {}
    held = float((wallet.get("free") or {}).get(base, 0.0))
    holds = (wallet.get("holds") or {}).values()
    held += sum(float(amount) for asset, amount in holds if asset == base)
    if "balances" in exchange:  # live: the account's balances as last seen
        held = sum(float(v) for v in (exchange["balances"] or {}).get(base, [0.0, 0.0]))
    if not held:
        return None if not exchange else "flat"
    candle = exchange.get("candle")
    price = float(candle[5]) if isinstance(candle, list) and len(candle) == 7 else None
    try:
        sellable = MarketRules.from_config(exchange.get("market_rules")).sellable(held, price)
    except ConfigError:
        sellable = held
    dust = held - sellable
    if not sellable:
        return f"flat (dust {dust:.8g} {base}, below what the market takes)"
    return f"{sellable:.8g} {base}" + (f" + dust {dust:.8g} {base}" if dust > 0 else "")


def snapshot_store(settings: Settings) -> SnapshotStore:
    from ats.persistence.snapshot_store import SnapshotStore

    return SnapshotStore(settings.saved_states_dir)


def load_saved(settings: Settings) -> list[SavedJob]:
    store = snapshot_store(settings)
    return [SavedJob(job_id, store.candidates(job_id)) for job_id in store.job_ids()]


def resolve(saved: list[SavedJob], wanted: str) -> SavedJob:
    """Exact id, else a unique id prefix, else a unique job name."""
    from ats.exceptions import JobError

    for item in saved:
        if item.job_id == wanted:
            return item
    matches = [item for item in saved if item.job_id.startswith(wanted)]
    if not matches:
        matches = [item for item in saved if item.summary()["name"] == wanted]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise JobError(f"no saved job {wanted!r} (see 'ats jobs list')")
    raise JobError(f"{wanted!r} matches {len(matches)} jobs; give more of the id")


async def _open_journal(settings: Settings) -> Journal | None:
    from ats.database.journal import Journal

    if not settings.journal_enabled or not settings.journal_file.is_file():
        return None
    return await Journal(settings.journal_file, readonly=True).open()


async def from_journal(
    settings: Settings, read: Callable[[Journal], Awaitable[T]]
) -> tuple[T | None, str | None]:
    """``read`` on the journal opened read-only: (result, None); (None, None) without a
    journal; (None, why) when it cannot be read (damaged: the next start sets it aside).
    The snapshots are shown either way."""
    import sqlite3

    from ats.exceptions import StateError

    try:
        journal = await _open_journal(settings)
    except StateError as exc:
        return None, f"journal not read: {exc}"
    if journal is None:
        return None, None
    try:
        return await read(journal), None
    except sqlite3.DatabaseError as exc:
        return None, f"journal not read: {settings.journal_file}: {exc}"
    finally:
        await journal.close()
