"""Market symbols as ccxt writes them: ``BASE/QUOTE`` (``BTC/USDT``, ``ETH/BTC:BTC``)."""

from __future__ import annotations

import functools


@functools.lru_cache(maxsize=1024)  # called several times per order (bench/backtest_speed.py)
def split_symbol(symbol: str) -> tuple[str, str]:
    """``"BTC/USDT"`` -> ``("BTC", "USDT")``; a clear error for anything else."""
    base, sep, quote = symbol.partition("/")
    if not sep or not base or not quote or "/" in quote:
        raise ValueError(f"symbol must look like BASE/QUOTE (e.g. BTC/USDT), got {symbol!r}")
    return base, quote.split(":")[0]
