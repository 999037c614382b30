"""Live trading from the console: a live job starts only after an explicit yes (``s``, the
palette, a saved live job at console start) and ``K`` cancels every live order after one.

The live jobs are real ccxt jobs against the loopback FakeBinance (tests/support/fake_exchange),
through the real JobManager (and the real PersistentJobs for the restart).
"""

from __future__ import annotations

import math
import random
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from fake_exchange import FakeBinance
from job_configs import backtest_config
from textual.command import CommandPalette
from ui_helpers import palette_search, press, wait_for

from ats.exchanges.data_classes import OrderStatus
from ats.exchanges.exchanges.ccxt.exchange import Exchange
from ats.persistence.persistent_jobs import PersistentJobs
from ats.persistence.snapshot_store import SnapshotStore
from ats.trading_job.job_config import parse_job_config
from ats.trading_job.job_manager import JobManager
from ats.trading_job.trading_job import JobStatus, TradingJob
from ats.ui.app import AtsApp
from ats.ui.commands import palette_commands
from ats.ui.launch import console_hooks
from ats.ui.screens.confirm import ConfirmScreen
from ats.ui.screens.main import MainScreen
from ats.utils.plugins import PluginLoader
from ats.utils.settings import Settings

KEY_ENV, SECRET_ENV = "UI_LIVE_TEST_API_KEY", "UI_LIVE_TEST_SECRET"
API_KEY, SECRET = "ui-live-key-Hq27", "ui-live-secret-Pw93"
WARMUP = 25
MINUTE = 60_000
START = 1_704_067_200_000
LOOPBACK_OPTIONS = {
    "fetchMargins": False,
    "fetchCurrencies": False,
    "adjustForTimeDifference": False,
    "fetchMarkets": {"types": ["spot"]},
}
RESTER = '''\
from ats.strategies.base_strategy import BaseStrategy


class Strategy(BaseStrategy):
    """Keeps one limit buy resting far below the market (never fills)."""

    def on_candle(self, candle):
        if not self.open_orders():
            self.buy(0.01, price=round(candle.close * 0.5, 2))
'''


def candles(count: int = 120, seed: int = 3) -> list[tuple[int, float, float, float, float, float]]:
    rng = random.Random(seed)
    rows = []
    close = 40_000.0
    for i in range(count):
        open_ = close
        close = round(40_000 + 500 * math.sin(i / 6) + rng.uniform(-50, 50), 2)
        high = round(max(open_, close) + 10, 2)
        low = round(min(open_, close) - 10, 2)
        rows.append((START + i * MINUTE, open_, high, low, close, 2.0))
    return rows


@pytest.fixture
async def fake(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FakeBinance]:
    monkeypatch.setenv(KEY_ENV, API_KEY)
    monkeypatch.setenv(SECRET_ENV, SECRET)
    server = FakeBinance(api_key=API_KEY, secret=SECRET, balances={"USDT": 10_000})
    server.load_klines("BTCUSDT", "1m", candles())
    server.set_candle_index(WARMUP)
    async with server:
        yield server


@pytest.fixture
def loader(tmp_path: Path) -> PluginLoader:
    """Built-in plugins plus ``rester``, a strategy that keeps an order open."""
    folder = tmp_path / "custom" / "strategies" / "rester"
    folder.mkdir(parents=True)
    (folder / "strategy.py").write_text(RESTER)
    return PluginLoader(tmp_path / "custom")


def live_config(fake: FakeBinance, name: str = "live-rester") -> Any:
    params = {
        "feed": "ccxt",
        "exchange": "binance",
        "timeframe": "1m",
        "poll_seconds": 0.005,
        "urls": fake.base_url,
        "options": {**LOOPBACK_OPTIONS, "recvWindow": 250},
        "enable_rate_limit": False,
        "timeout_ms": 400,
        "backoff_seconds": 0.01,
        "backoff_max": 0.05,
        "warmup": WARMUP,
        "api_key_env": KEY_ENV,
        "secret_env": SECRET_ENV,
        "order_grace_ms": 300,
        "disconnect_grace_seconds": 2.0,
    }
    return parse_job_config(
        {
            "name": name,
            "symbol": "BTC/USDT",
            "mode": "live",
            "balances": {"USDT": 10_000},
            "exchange": {"name": "ccxt", "params": params},
            "strategy": {"name": "rester"},
            "fees": {"name": "flat_rate", "params": {"rate": 0.001}},
        }
    )


def main_screen(app: AtsApp) -> MainScreen:
    screen = app.screen
    assert isinstance(screen, MainScreen)
    return screen


def record_notices(app: AtsApp) -> list[str]:
    """Every notification message from now on (shown ones expire after a few seconds)."""
    seen: list[str] = []
    notify = app.notify

    def recording(message: str, **options: Any) -> None:
        seen.append(message)
        notify(message, **options)

    app.notify = recording  # type: ignore[method-assign]
    return seen


def question(app: AtsApp) -> str:
    screen = app.screen
    assert isinstance(screen, ConfirmScreen)
    return screen.question


async def confirm_live_start(pilot: Any, app: AtsApp, job: TradingJob) -> None:
    """s on the selected live job, then y."""
    await press(pilot, "s")
    await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
    await press(pilot, "y")
    await wait_for(pilot, lambda: isinstance(app.screen, MainScreen))
    await wait_for(pilot, lambda: job.status is JobStatus.RUNNING)


async def resting_order(pilot: Any, fake: FakeBinance, job: TradingJob) -> None:
    """Warm-up candles place nothing; the next live candle places one resting buy."""
    exchange = job.exchange
    assert isinstance(exchange, Exchange)
    await wait_for(pilot, lambda: exchange.handled >= WARMUP, timeout=15)
    fake.advance(1)
    await wait_for(
        pilot, lambda: len(fake.open_orders()) == 1 and not exchange.pending_requests, 15
    )
    assert len(exchange.get_open_orders()) == 1


async def test_starting_a_live_job_asks_first_and_no_leaves_it_stopped(
    make_app: Callable[..., AtsApp], fake: FakeBinance, loader: PluginLoader
) -> None:
    manager = JobManager(loader=loader)
    job = manager.create(live_config(fake))
    app = make_app(manager)
    notices = record_notices(app)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = main_screen(app)
        await wait_for(pilot, lambda: screen.selected_job_id == job.id)
        await press(pilot, "s")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        asked = question(app)
        assert "LIVE" in asked and "live-rester" in asked
        assert "ccxt (binance)" in asked and "BTC/USDT" in asked
        await press(pilot, "n")
        await wait_for(pilot, lambda: isinstance(app.screen, MainScreen))
        await wait_for(pilot, lambda: "live-rester not started" in notices, timeout=15)
        await pilot.pause(0.1)  # a fixed window on purpose: nothing may start within it
        assert job.status is JobStatus.CREATED and job.task is None
        assert "live-rester not started" in notices

        # enter answers the focused button: "Cancel" (the safe default).
        await press(pilot, "s")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await press(pilot, "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, MainScreen))
        assert job.status is JobStatus.CREATED

        # The palette's start command asks the same question.
        assert "Start / stop job" in {command.title for command in palette_commands(screen)}
        await press(pilot, "ctrl+p")
        await wait_for(pilot, lambda: isinstance(app.screen, CommandPalette))
        await palette_search(pilot, "start / stop job", "Start / stop job")
        await press(pilot, "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert question(app) == asked
        await press(pilot, "escape")
        await wait_for(pilot, lambda: isinstance(app.screen, MainScreen))
        assert job.status is JobStatus.CREATED

        await confirm_live_start(pilot, app, job)
        await press(pilot, "s")  # stopping never asks
        await wait_for(pilot, lambda: not job.status.is_active, timeout=10)
        assert isinstance(app.screen, MainScreen)
    assert fake.orders == {}  # nothing was traded: the fake clock never moved


async def test_kill_switch_asks_then_cancels_every_live_order(
    make_app: Callable[..., AtsApp], fake: FakeBinance, loader: PluginLoader
) -> None:
    manager = JobManager(loader=loader)
    job = manager.create(live_config(fake))
    backtest = manager.create(backtest_config(name="paper-trail"))
    app = make_app(manager)
    notices = record_notices(app)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = main_screen(app)
        await wait_for(pilot, lambda: screen.selected_job_id == job.id)
        await confirm_live_start(pilot, app, job)
        await resting_order(pilot, fake, job)

        await press(pilot, "K")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert "cancel every open order of the 1 live job(s)" in question(app)
        await press(pilot, "n")
        await wait_for(pilot, lambda: isinstance(app.screen, MainScreen))
        await pilot.pause(0.2)  # a fixed window on purpose: nothing may be cancelled in it
        assert len(fake.open_orders()) == 1  # "no" cancels nothing

        await press(pilot, "K")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await press(pilot, "y")
        await wait_for(pilot, lambda: not fake.open_orders(), timeout=10)
        exchange = job.exchange
        assert exchange is not None
        await wait_for(pilot, lambda: not exchange.get_open_orders(), timeout=10)
        assert [order.status for order in exchange.get_orders()] == [OrderStatus.CANCELED]
        assert "Kill switch: 1 order(s) cancelled in 1 live job(s)" in notices
        assert job.status is JobStatus.RUNNING  # the jobs keep running
        assert any("kill switch" in entry.message for entry in job.logs)
        assert backtest.status is JobStatus.CREATED
        await press(pilot, "s")
        await wait_for(pilot, lambda: not job.status.is_active, timeout=10)


async def test_kill_switch_without_live_jobs_only_says_so(
    make_app: Callable[..., AtsApp],
) -> None:
    manager = JobManager()
    manager.create(backtest_config(name="bt"))
    app = make_app(manager)
    notices = record_notices(app)
    async with app.run_test() as pilot:
        await press(pilot, "K")
        await wait_for(pilot, lambda: "No live job: no order to cancel" in notices, timeout=15)
        assert isinstance(app.screen, MainScreen)
        assert "No live job: no order to cancel" in notices


async def test_a_saved_live_job_waits_for_confirmation_at_console_start(
    make_app: Callable[..., AtsApp], fake: FakeBinance, loader: PluginLoader, tmp_path: Path
) -> None:
    state = tmp_path / "state"
    settings = Settings(_env_file=None, saved_states_dir=state)  # type: ignore[call-arg]

    def persistent_app(**options: Any) -> tuple[AtsApp, JobManager]:
        manager = JobManager(loader=loader)
        persistence = PersistentJobs(manager, settings)
        return make_app(manager, **console_hooks(persistence), **options), manager

    app, manager = persistent_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.started)
        job = manager.create(live_config(fake))
        screen = main_screen(app)
        await wait_for(pilot, lambda: screen.selected_job_id == job.id)
        await confirm_live_start(pilot, app, job)
        await resting_order(pilot, fake, job)
        await press(pilot, "q")
        await wait_for(pilot, lambda: app.return_code is not None, timeout=10)
    assert app.return_code == 0

    def saved() -> str:
        payload = SnapshotStore.read(state / f"{job.id}.json", job.id).payload
        assert payload is not None
        return str(payload["status"])

    assert saved() == "running"

    # Restarted: restored but not trading until the user says yes; a quit keeps it saved
    # as running, so the next start asks again.
    await restart_and_answer("n", persistent_app, job, fake)
    assert saved() == "running"
    await restart_and_answer("y", persistent_app, job, fake)
    assert saved() == "running"


async def restart_and_answer(
    answer: str,
    persistent_app: Callable[..., tuple[AtsApp, JobManager]],
    job: TradingJob,
    fake: FakeBinance,
) -> None:
    """A new console on the saved state: the live job is held; s, then ``answer``, q."""
    requests = len(fake.requests)
    app, manager = persistent_app(demo=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.started)
        (restored,) = manager.jobs  # no demo jobs either
        assert restored.id == job.id
        assert restored.status is JobStatus.CREATED and restored.task is None
        held = [e.message for e in restored.logs if "not resumed automatically" in e.message]
        assert held and "press s to confirm" in held[0]
        await pilot.pause(0.2)  # a fixed window on purpose: no request may go out in it
        assert len(fake.requests) == requests  # not a single request to the exchange
        screen = main_screen(app)
        await wait_for(pilot, lambda: screen.selected_job_id == job.id)
        await press(pilot, "s")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await press(pilot, answer)
        await wait_for(pilot, lambda: isinstance(app.screen, MainScreen))
        if answer == "y":
            await wait_for(pilot, lambda: restored.status is JobStatus.RUNNING)
            exchange = restored.exchange
            assert isinstance(exchange, Exchange)
            # The resting order was restored and reconciled, not placed again.
            await wait_for(pilot, lambda: len(exchange.get_open_orders()) == 1, timeout=10)
            assert len(fake.orders) == 1
        else:
            await pilot.pause(0.1)  # a fixed window on purpose: it may not start in it
            assert restored.status is JobStatus.CREATED
        await press(pilot, "q")
        await wait_for(pilot, lambda: app.return_code is not None, timeout=10)
    assert app.return_code == 0
