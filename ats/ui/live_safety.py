"""Live-trading safety: what the console asks before a job moves real money
(``ats.trading_job.live_mode`` says which jobs do).

A live job only starts after an explicit yes naming the job, the exchange and the symbol
(the ``s`` key, the palette, and a saved live job at console start), and the ``K`` kill
switch asks before cancelling every live order. The questions live here so the keys and
the start-up hook word them the same way.
"""

from __future__ import annotations

from ats.trading_job.views import JobView


def exchange_label(job: JobView) -> str:
    """``ccxt (binance)``: the plugin plus, when it names one, the venue behind it."""
    return f"{job.exchange} ({job.venue})" if job.venue else job.exchange


def live_start_question(job: JobView) -> str:
    return (
        f"Start LIVE trading job {job.name} on {exchange_label(job)} "
        f"{job.symbol}? It places real orders with real money."
    )


def kill_switch_question(live_jobs: int) -> str:
    return (
        f"Kill switch: cancel every open order of the {live_jobs} live job(s)? "
        "The jobs keep running; stop them with s."
    )


def kill_switch_result(cancelled: int, live_jobs: int) -> str:
    return f"Kill switch: {cancelled} order(s) cancelled in {live_jobs} live job(s)"


HELD_MESSAGE = (
    "live job saved as {status}: not resumed automatically. Select it and press s to "
    "confirm live trading"
)
"""Logged for a saved live job the console did not restart (see ats.ui.launch)."""
