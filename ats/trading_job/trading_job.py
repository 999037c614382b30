"""A TradingJob = exchange + strategy + fees + state, run as one asyncio task.

The job wires the parts together: it keeps the strategy's indicators current
(precomputed in one vectorised pass for finite data, streamed otherwise), turns exchange
callbacks into events on the bus, and confines any strategy exception to this job.
"""

from __future__ import annotations

import asyncio
import logging
import time
import traceback
from collections import deque
from collections.abc import Callable, Coroutine
from typing import Any

import numpy as np

from ats.exceptions import ATSError, ConfigError, JobError, PluginError, StateError, UnknownPlugin
from ats.exchanges.base_exchange import BaseExchange
from ats.exchanges.capabilities import NO_CAPABILITIES, Capabilities
from ats.exchanges.data_classes import Fill, Order, OrderSide
from ats.exchanges.run_control import CpuShare, RunControl, StopRequested
from ats.strategies.base_strategy import BaseStrategy
from ats.strategies.broker import Broker
from ats.trading_job.candle_handlers import bind_strategy, bind_strategy_off_loop
from ats.trading_job.events import (
    BalanceChanged,
    ConnectionChanged,
    EventBus,
    Filled,
    JobLog,
    JobProgress,
    JobReport,
    JobStatusChanged,
    OrderUpdated,
)
from ats.trading_job.job_config import JobConfig
from ats.trading_job.live_metrics import LiveMetrics
from ats.trading_job.order_rate import OrderRateLimiter
from ats.trading_job.order_story import OrderStory
from ats.trading_job.risk import RiskGuard
from ats.trading_job.run_report import build_report
from ats.trading_job.status import JobStatus
from ats.trading_job.stream_history import StreamHistory
from ats.trading_job.watchdog import JobFrozen, guarding_here
from ats.utils.app_log import JOB_LOGGER_NAME
from ats.utils.plugins import PluginLoader, plugin_code
from ats.utils.redaction import redact

job_logger = logging.getLogger(JOB_LOGGER_NAME)
"""A job's errors, and exceptions caught in its run, in the application log."""

PROGRESS_INTERVAL = 0.2
"""Seconds between progress events while a job runs (bounded event rate)."""


class TradingJob:
    """One configured job. Use the JobManager's commands rather than calling it directly."""

    def __init__(
        self,
        job_id: str,
        config: JobConfig,
        *,
        bus: EventBus,
        loader: PluginLoader,
        log_size: int = 2_000,
    ) -> None:
        self.id = job_id
        self.config = config
        self.bus = bus
        self.loader = loader
        self.status = JobStatus.CREATED
        self.error: str | None = None
        self.logs: deque[JobLog] = deque(maxlen=log_size)
        self.log_count = 0
        """Lines logged since the job was created (the newest kept is number count - 1)."""
        self.exchange: BaseExchange | None = None
        self.capabilities: Capabilities = NO_CAPABILITIES
        """What the exchange can do besides orders, checked once when it is built."""
        self.strategy: BaseStrategy | None = None
        self.report: dict[str, Any] | None = None
        self.restore_note: str | None = None
        """Why this run was restored from an older snapshot than its latest (which could
        not be used); every front end shows it until the job is run afresh."""
        self.order_story = OrderStory(self.log)
        """Its orders and fills told in its log (when someone follows them), bounded."""
        self.live_metrics = LiveMetrics()
        """P&L, fees, drawdown and win rate kept up while it runs (read by its views)."""
        self.last_candle_at: float | None = None
        """Wall-clock time of the last streamed candle (paper and live feeds)."""
        self.history = StreamHistory()
        """What a streaming run keeps of its recent candles, indicators and equity."""
        self.created_at = time.time()  # kept across restarts: the jobs' order
        self.cpu_share = CpuShare()
        """The event-loop budget this job's CPU-bound loop shares (the manager's)."""
        self._control = RunControl(self.cpu_share)
        self._report_on_stop = True
        self._task: asyncio.Task[None] | None = None
        self._connecting = False
        self._connection: str | None = None
        """The exchange's last ``connection_state``, published on change."""
        self._last_progress: JobProgress | None = None
        self._aborted: str | None = None
        """Why the job's task was cancelled (:meth:`abort`), while that is handled."""
        self.frozen = False
        """The watchdog interrupted this run: it held the event loop past its limit."""
        self.risk = RiskGuard(config.risk, self._risk_breached)

    # -- construction --------------------------------------------------------------------
    def build(self) -> None:
        """Resolve and construct the plugins. Raises ConfigError/PluginError naming the
        config field, or the plugin's file and line for an error in its own code."""
        config = self.config
        fees_class = self._plugin_class("fees", config.fees.name)
        with plugin_code("fees.params", fees_class):
            fees = fees_class(**config.fees.params)
        exchange_class = self._plugin_class("exchanges", config.exchange.name)
        if config.mode is not None and config.mode != exchange_class.mode:
            raise ConfigError(
                f"mode: {config.mode!r} does not match exchange {config.exchange.name!r} "
                f"(a {exchange_class.mode} exchange)"
            )
        if exchange_class.mode == "live" and config.mode != "live":
            raise ConfigError("mode: a live exchange needs an explicit 'mode: live'")
        strategy_class = self._plugin_class("strategies", config.strategy.name)
        params = strategy_class.validate_config(config.strategy.params)
        symbol = getattr(params, "symbol", None)
        if symbol is not None and symbol != config.symbol:
            raise ConfigError(
                f"strategy.params.symbol: {symbol} differs from the job's symbol {config.symbol}"
            )
        with plugin_code("exchange.params", exchange_class):
            exchange = exchange_class(
                symbol=config.symbol,
                fees=fees,
                balances=config.balances,
                config=config.exchange.params,
                log=self.log,
            )
        exchange.order_listeners.append(self._order_changed)
        exchange.fill_listeners.append(self._filled)
        exchange.balance_listeners.append(self._balances_changed)
        self.risk = RiskGuard(config.risk, self._risk_breached)
        if config.risk.active:
            exchange.order_checks.append(self._check_order_risk)
        if self.exchange is not None:
            self.exchange.release()  # the previous run: freed now, not by a full GC
        self.exchange = exchange
        self.live_metrics.reset()
        self.capabilities = Capabilities.of(exchange)
        self.strategy = self._set_up(
            lambda: strategy_class(
                params, self._broker(exchange), log=self.log, loader=self.loader
            ),
            exchange_class.mode,
        )
        self.report = None
        self.restore_note = None
        self.history.clear_equity()

    def _plugin_class(self, kind: str, name: str) -> Any:
        """The plugin class; an unknown name is reported with the config field."""
        field = {"exchanges": "exchange", "strategies": "strategy"}.get(kind, kind)
        try:
            return self.loader.load(kind, name)
        except UnknownPlugin as exc:
            raise UnknownPlugin(f"{field}.name: {exc}") from None

    def _broker(self, exchange: BaseExchange) -> Broker:
        """The strategy's way to the market, behind the order-rate limits."""
        limits = self.config.risk
        limiter = OrderRateLimiter(
            per_candle=limits.max_orders_per_candle,
            per_minute=limits.max_orders_per_minute,
            clock=lambda: exchange.now,
            log=self.log,
        )
        return Broker(exchange, gate=limiter.check)

    async def load_inputs(self) -> None:
        """Read and check the job's local input files (candle data) now, before it
        starts: a bad file raises DataError naming the file and line, and nothing ran.
        Building first if needed; the loaded data is kept for the run."""
        if self.exchange is None:
            self.build()
        assert self.exchange is not None
        await self.exchange.load_inputs()

    def _set_up(self, construct: Callable[[], BaseStrategy], mode: str) -> BaseStrategy:
        """Construct the strategy (its ``setup()`` runs) under the loop watchdog: a setup
        that never returns is a plugin error, not a frozen console."""
        watchdog = guarding_here()
        if watchdog is None:
            return construct()
        guard = watchdog.guard(self.id, self.config.name, mode, self.config.watchdog_s)
        try:
            with watchdog.section(guard):
                return construct()
        except JobFrozen as exc:
            raise PluginError(
                f"strategy {self.config.strategy.name}: setup() held the event loop for "
                f"{exc.held:.1f}s ({exc.why}); interrupted at {exc.where()}"
            ) from None

    def discard(self) -> None:
        """The job was deleted or replaced: let its objects go by reference counting
        (see :meth:`BaseExchange.release`; the exchange and strategy log through the job)."""
        if self.exchange is not None:
            self.exchange.release()
        self.exchange = None
        self.capabilities = NO_CAPABILITIES
        self.strategy = None

    @property
    def mode(self) -> str:
        return self.exchange.mode if self.exchange is not None else (self.config.mode or "?")

    # -- commands ------------------------------------------------------------------------
    def start(self) -> asyncio.Task[None]:
        if self.status.is_active:
            raise JobError(f"job {self.config.name} is already {self.status}")
        if self.exchange is None or self.status in (JobStatus.FINISHED, JobStatus.ERROR):
            self.build()
        self._control = RunControl(self.cpu_share)
        self._report_on_stop = True
        self.error = None
        self.frozen = False
        self._aborted = None
        self._set_status(JobStatus.RUNNING)
        run: Coroutine[Any, Any, None] = self._run()
        watchdog = guarding_here()
        if watchdog is not None:  # every step of the run is job code holding the loop
            guard = watchdog.guard(self.id, self.config.name, self.mode, self.config.watchdog_s)
            run = watchdog.steps(run, guard)
        self._task = asyncio.create_task(run, name=f"job:{self.id}")
        return self._task

    def stop(self) -> None:
        if not self.status.is_active:
            raise JobError(f"job {self.config.name} is not running ({self.status})")
        self._control.stop()
        if self._connecting:  # connect has no checkpoint (e.g. retrying an unreachable
            # exchange with backoff): end the wait now; the next connect reconciles
            self.abort("stopped while connecting")

    def abort(self, why: str) -> None:
        """Cancel the run where it waits (a stop that is not honoured in time): the job
        ends *stopped*, after its ``on_stop`` and a disconnect that is cut short too if
        it is still waiting when this is called again."""
        task = self._task
        if task is None or task.done():
            return
        self._aborted = why
        if not task.cancelling():
            task.cancel(why)

    def stopping_to_resume(self) -> None:
        """The coming stop is a quit (or signal) after which the job resumes: skip the
        final report, which would cost a long backtest up to a second of the 2 s a
        graceful exit may take, and be replaced by the real one when the job ends."""
        self._report_on_stop = False

    def pause(self) -> None:
        if self.status is not JobStatus.RUNNING:
            raise JobError(f"job {self.config.name} is not running ({self.status})")
        self._control.pause()
        self._set_status(JobStatus.PAUSED)

    def resume(self) -> None:
        if self.status is not JobStatus.PAUSED:
            raise JobError(f"job {self.config.name} is not paused ({self.status})")
        self._control.resume()
        self._set_status(JobStatus.RUNNING)

    def reload(self) -> None:
        """Re-import the strategy code and swap it in, keeping its state and indicators."""
        old = self.strategy
        if old is None or self.exchange is None:
            self.build()
            return
        strategy_class = self.loader.strategy_class(self.config.strategy.name, reload=True)
        params = strategy_class.validate_config(self.config.strategy.params)
        state = strategy_class.State.from_dict(old.state.to_dict())
        broker = old.broker
        new = self._set_up(
            lambda: strategy_class(params, broker, state=state, log=self.log, loader=self.loader),
            self.exchange.mode,
        )
        for new_indicator, old_indicator in zip(new.indicators, old.indicators, strict=False):
            if type(new_indicator) is type(old_indicator) and (
                new_indicator.config == old_indicator.config
            ):
                new_indicator.set_state(old_indicator.get_state())
        self.strategy = new
        if self.status.is_active:
            bind_strategy(self)
        self.log("INFO", f"strategy {self.config.strategy.name} reloaded, state kept")

    async def wait(self) -> None:
        if self._task is not None:
            await asyncio.shield(self._task)

    @property
    def task(self) -> asyncio.Task[None] | None:
        return self._task

    # -- the run -----------------------------------------------------------------------
    async def _run(self) -> None:
        exchange, strategy = self.exchange, self.strategy
        assert exchange is not None and strategy is not None
        reporter = asyncio.create_task(self._report_progress())
        final = JobStatus.FINISHED
        try:
            self._connecting = True
            try:
                await exchange.connect()
            finally:
                self._connecting = False
            if self._control.stop_requested:
                raise StopRequested
            if self.config.vectorised:
                self._run_vectorised()
            else:
                await bind_strategy_off_loop(self)
                await exchange.run(self._control)
        except StopRequested:
            final = JobStatus.ERROR if self.frozen else JobStatus.STOPPED
        except JobFrozen as exc:
            final = self._frozen(exc)
        except asyncio.CancelledError:
            if not self._take_abort():
                raise
            final = JobStatus.STOPPED
        except ATSError as exc:
            final = self._fail(str(exc), None)
        except Exception as exc:
            final = self._fail(f"{type(exc).__name__}: {exc}", traceback.format_exc())
        finally:
            reporter.cancel()
            final = await self._shutdown(final)
        self._set_status(final)

    async def _shutdown(self, final: JobStatus) -> JobStatus:
        assert self.exchange is not None
        if self.strategy is not None:
            try:
                self.strategy.on_stop()
            except JobFrozen as exc:
                final = self._frozen(exc, "on_stop()")
            except Exception as exc:
                final = self._fail(f"on_stop: {type(exc).__name__}: {exc}", traceback.format_exc())
        try:
            await self.exchange.disconnect()
        except asyncio.CancelledError:
            if not self._take_abort():  # the stop deadline cut the disconnect short
                raise
        except Exception as exc:
            self._log_caught("WARNING", "disconnect failed", exc)
        self.order_story.flush()
        self._publish_progress(always=True)
        if final is JobStatus.STOPPED and not self._report_on_stop:
            return final
        try:
            # Metrics over a long equity curve take tens of ms: not on the console's loop.
            self.report = await asyncio.to_thread(self.build_report)
            self.bus.publish(JobReport(self.id, self.report))
        except asyncio.CancelledError:
            if not self._take_abort():
                raise
        except Exception as exc:  # a report must never take the job down with it
            self._log_caught("WARNING", "report failed", exc)
        return final

    def _take_abort(self) -> bool:
        """A CancelledError reached the run: True if it was :meth:`abort`'s (then it is
        logged and consumed), False if someone else cancelled the task."""
        why, self._aborted = self._aborted, None
        task = asyncio.current_task()
        if why is None or task is None:
            return False
        task.uncancel()
        self.log("WARNING", f"{why}: cancelled where it was waiting")
        return True

    def _frozen(self, exc: JobFrozen, during: str = "") -> JobStatus:
        """The watchdog interrupted job code that held the loop: error, with the stack
        where it was stuck and the limit (and how to change it) in the log."""
        self.frozen = True
        what = f"{during} " if during else ""
        self.error = redact(
            f"watchdog: {what}held the event loop for {exc.held:.1f}s ({exc.why}); "
            f"interrupted at {exc.where()}"
        )
        setting = f" The limit is {exc.setting}." if exc.setting else ""
        self.log("ERROR", f"{self.error}.{setting}\n{exc.stack()}")
        return JobStatus.ERROR

    def _run_vectorised(self) -> None:
        exchange, strategy = self.exchange, self.strategy
        assert exchange is not None and strategy is not None
        replay = self.capabilities.replay
        if replay is None or replay.data is None:
            raise ConfigError(f"vectorised: exchange {self.config.exchange.name} has no data file")
        signals = strategy.populate_signals(replay.data)
        if signals is None:
            raise ConfigError(
                f"vectorised: strategy {self.config.strategy.name} has no populate_signals"
            )
        # The pass never yields to the loop, so nobody can subscribe while it runs: when
        # nothing reads the job's order, fill and balance events and the strategy has no
        # order hooks, the job does not hear the exchange's orders and fills during it (a
        # tenth of bench/backtest_speed.py's vectorised run).
        if self._hears_orders():
            replay.run_signals(signals.entries, signals.exits)
            return
        exchange.order_listeners.remove(self._order_changed)
        exchange.fill_listeners.remove(self._filled)
        try:
            replay.run_signals(signals.entries, signals.exits)
        finally:
            exchange.order_listeners.append(self._order_changed)
            exchange.fill_listeners.append(self._filled)

    def _hears_orders(self) -> bool:
        """Whether :meth:`_order_changed` or :meth:`_filled` would do anything now."""
        assert self.strategy is not None
        bus, strategy = self.bus, type(self.strategy)
        return (
            bus.wants(OrderUpdated)
            or bus.wants(Filled)
            or bus.wants(BalanceChanged)
            or strategy.on_order_update is not BaseStrategy.on_order_update
            or strategy.on_fill is not BaseStrategy.on_fill
        )

    def _check_order_risk(self, symbol: str, side: OrderSide, value: float) -> str | None:
        assert self.exchange is not None
        base = self.exchange.get_wallet_balance(symbol.split("/")[0]).total
        price = self.exchange.last_price(symbol) or 0.0
        return self.risk.check_order(side, value, base * price)

    def _risk_breached(self, reason: str) -> None:
        """Stop trading at once: cancel every open order and stop the job."""
        assert self.exchange is not None
        self.error = f"risk limit: {reason}"
        self.log("ERROR", f"risk limit breached, cancelling orders and stopping: {reason}")
        for order in self.exchange.get_open_orders():
            self.exchange.cancel_order(order.id)
        self._control.stop()

    def _fail(self, message: str, details: str | None) -> JobStatus:
        self.error = redact(message)  # never show or save a credential (persistence issue)
        self.log("ERROR", details.rstrip() if details else message)
        return JobStatus.ERROR

    async def _report_progress(self) -> None:
        while True:
            await asyncio.sleep(PROGRESS_INTERVAL)
            self._publish_progress()

    def _publish_progress(self, *, always: bool = False) -> None:
        """Progress if it changed (a paused job's repeats kept the chart redrawing), or always."""
        if self.exchange is None:
            return
        progress, equity = self.exchange.progress, self.exchange.equity()
        event = JobProgress(self.id, progress.done, progress.total, equity, progress.timestamp)
        if always or event != self._last_progress:
            self._last_progress = event
            self.bus.publish(event)
        connection = self.exchange.connection_state
        if connection != self._connection:  # a ban, a rate limit, a reconnect: for alerts
            self._connection = connection
            self.bus.publish(ConnectionChanged(self.id, connection))

    # -- exchange callbacks ----------------------------------------------------------------
    # Events nobody reads (sweeps, bench/backtest_speed.py; ``ats backtest`` reads only
    # progress, status, logs and the report) are not built: the order copy and the
    # balances dict were a fifth of the vectorised path's time.
    # The order story (placed, filled, canceled, rejected: ats.trading_job.order_story)
    # goes into the job's log whenever someone follows its orders (the console, --no-ui),
    # whatever the mode; sweeps and ``ats backtest`` read no order events and skip it.
    def _order_changed(self, order: Order) -> None:
        if self.bus.wants(Filled):
            self.order_story.order(order)
        if self.bus.wants(OrderUpdated):
            self.bus.publish(OrderUpdated(self.id, order.copy()))
        strategy = self.strategy
        if (
            strategy is not None
            and type(strategy).on_order_update is not BaseStrategy.on_order_update
            and order.status.is_final
        ):  # a hook's copy costs only strategies that have the hook (bench/backtest_speed.py)
            self._call_strategy(strategy.on_order_update, order.copy())  # the strategy's own

    def _filled(self, fill: Fill, order: Order) -> None:
        bus = self.bus
        if bus.wants(Filled):
            self.order_story.fill(fill, order)
            bus.publish(Filled(self.id, fill))
        if bus.wants(BalanceChanged):
            self._balances_changed()
        strategy = self.strategy
        if strategy is not None and type(strategy).on_fill is not BaseStrategy.on_fill:
            self._call_strategy(strategy.on_fill, fill, order.copy())

    def _call_strategy(self, hook: Callable[..., None], *args: Any) -> None:
        """A strategy hook run outside the job's own steps (from a live exchange's
        background request) is guarded by the watchdog too; within a step it already is."""
        watchdog = guarding_here()
        if watchdog is None or watchdog.held is not None:
            hook(*args)
            return
        guard = watchdog.guard(self.id, self.config.name, self.mode, self.config.watchdog_s)
        try:
            with watchdog.section(guard):
                hook(*args)
        except JobFrozen as exc:
            self._frozen(exc, f"{hook.__name__}()")
            self._control.stop()  # the run ends in error at its next checkpoint

    def _balances_changed(self) -> None:
        assert self.exchange is not None
        self.bus.publish(BalanceChanged(self.id, self.exchange.get_balances()))

    # -- logging and status ----------------------------------------------------------------
    def log(self, level: str, message: str) -> None:
        event = JobLog(self.id, level, redact(message))  # masks registered secret values
        self.logs.append(event)
        self.log_count += 1
        self.bus.publish(event)
        if level == "ERROR":  # kept in the application log too, with the job's id
            job_logger.error("job %s (%s): %s", self.id, self.config.name, event.message)

    def _log_caught(self, level: str, what: str, exc: BaseException) -> None:
        """An exception the run caught and goes on from: one line in the job's log, the
        traceback in the application log."""
        self.log(level, f"{what}: {type(exc).__name__}: {exc}")
        job_logger.log(
            logging.getLevelName(level), "job %s: %s", self.id, redact(what), exc_info=exc
        )

    def _set_status(self, status: JobStatus) -> None:
        self.status = status
        self.bus.publish(JobStatusChanged(self.id, status, self.error))

    # -- persistence ---------------------------------------------------------------------
    def snapshot(self, *, for_file: bool = False) -> dict[str, Any]:
        """Everything needed to resume: config, status, strategy and indicator state, the
        exchange's wallet/orders/fills/cursor. JSON data; ``for_file``, history may be text
        (:class:`~ats.exchanges.capabilities.HistoryWarming`) for the snapshot file only."""
        strategy, warmed = self.strategy, self.capabilities.history_warming
        snapshots = self.capabilities.snapshots
        return {
            "job_id": self.id,
            "config": self.config.model_dump(mode="json"),
            "status": str(self.status),
            "error": self.error,
            "strategy_state": None if strategy is None else strategy.state.to_dict(),
            "indicators": [] if strategy is None else [i.get_state() for i in strategy.indicators],
            "exchange": warmed.snapshot_encoded()
            if for_file and warmed is not None
            else (None if snapshots is None else snapshots.snapshot()),
            "created_at": self.created_at,
            "history": self.history.to_dict() if self.capabilities.replay is None else None,
        }

    def restore(self, snapshot: dict[str, Any]) -> None:
        """Rebuild from a snapshot taken by :meth:`snapshot` (status is left to the caller).

        Raises StateError/ConfigError/PluginError if it does not fit this code any more.
        """
        self.build()
        assert self.strategy is not None and self.exchange is not None
        if snapshot.get("exchange") is not None:
            if self.capabilities.snapshots is None:
                raise StateError(f"exchange {self.config.exchange.name} cannot restore state")
            self.capabilities.snapshots.restore(snapshot["exchange"])
        if snapshot.get("strategy_state") is not None:
            self.strategy.state = self.strategy.State.from_dict(snapshot["strategy_state"])
        indicator_states = snapshot.get("indicators") or []
        if len(indicator_states) == len(self.strategy.indicators):
            for indicator, state in zip(self.strategy.indicators, indicator_states, strict=True):
                indicator.set_state(state)
        self.error = snapshot.get("error")
        self.created_at = float(snapshot.get("created_at") or self.created_at)
        self.history.restore(snapshot.get("history") or {})

    # -- results -------------------------------------------------------------------------
    def equity_curve(self) -> tuple[np.ndarray, np.ndarray]:
        """(timestamps ms, equity) so far: exact for backtests, sampled for live feeds."""
        if self.capabilities.replay is not None:
            return self.capabilities.replay.equity_curve()
        return self.history.equity_curve()

    def build_report(self) -> dict[str, Any]:
        """Final equity, metrics and round-trip trades (JSON-ready; see run_report)."""
        return build_report(self)
