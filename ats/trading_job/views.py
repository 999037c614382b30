"""The read model: what every front end sees of the jobs, as plain frozen data.

The console, the headless printer and (issue 11) the control API, ``ats attach`` and
``ats web`` all draw from these views and nothing else: no front end holds a
:class:`~ats.trading_job.trading_job.TradingJob` or reads an exchange. They are built in
the engine layer (:mod:`ats.trading_job.view_builder`) and served by a
:class:`~ats.trading_job.control.JobControl`.

Every view is a frozen, slotted dataclass of JSON types (str, int, float, None, tuples,
str-keyed dicts), so that equal views mean nothing to redraw and each one can travel as
JSON with a stable schema (:func:`to_json`, :func:`from_json`, :func:`json_schema`, by
pydantic). Floats may be NaN where a value is not defined yet (an indicator warming up);
JSON carries those as null. Views are rebuilt up to ten times a second for every job
that changed; bench/read_model.py measures a job view at 13-19 µs to build from a job
(of which 2.7 µs constructing the dataclass, 3.5 µs as a validated pydantic model), so
the choice is not about speed: dataclasses compare by value, never validate what the
engine just computed, and pydantic still gives the schema and the JSON.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from ats.trading_job.status import JobStatus
from ats.trading_job.sweep_views import SweepHeatmap, SweepSummary, SweepView, TrialPage

if TYPE_CHECKING:
    from pydantic import TypeAdapter

ViewT = TypeVar("ViewT")

SCHEMA_VERSION = 1
"""Bumped when a view loses or changes a field (adding one is compatible)."""
MAX_CHART_CANDLES = 20_000
"""A chart window holds at most this many candles, whatever the zoom."""


# --------------------------------------------------------------------------- jobs
@dataclass(frozen=True, slots=True)
class ProgressView:
    done: int = 0
    total: int | None = None
    """None for endless (paper/live) data."""

    @property
    def fraction(self) -> float | None:
        if not self.total:
            return None
        return min(self.done / self.total, 1.0)


@dataclass(frozen=True, slots=True)
class PositionView:
    """The open long position; ``dust`` is held but cannot be sold (see Position)."""

    amount: float = 0.0
    entry_price: float = 0.0
    mark_price: float = 0.0
    unrealized_pnl: float = 0.0
    is_flat: bool = True
    dust: float = 0.0


@dataclass(frozen=True, slots=True)
class BalanceView:
    asset: str
    free: float
    used: float
    """Held by open orders."""
    total: float


@dataclass(frozen=True, slots=True)
class OrderView:
    order_id: str
    side: str
    type: str
    amount: float
    price: float | None
    stop_price: float | None
    filled: float
    status: str


@dataclass(frozen=True, slots=True)
class LiveMetricsView:
    """How a job is doing while it runs (see :mod:`ats.trading_job.live_metrics`); the
    final report's metrics are exact, these are kept up as it goes."""

    realised_pnl: float = 0.0
    """Sum of the closed round trips' P&L, in quote."""
    unrealised_pnl: float = 0.0
    """The open position marked at the latest price, in quote."""
    fees_paid: float = 0.0
    """Every fill's fee, valued in quote."""
    drawdown_pct: float = 0.0
    """Equity below its highest seen, in percent (zero or negative)."""
    max_drawdown_pct: float = 0.0
    win_rate_pct: float | None = None
    """Share of closed trades with a profit; None before the first one closes."""
    trades: int = 0
    """Round trips, the open one included."""
    closed_trades: int = 0


@dataclass(frozen=True, slots=True)
class JobView:
    """One job as every front end shows it: its row, title, account and metrics."""

    job_id: str
    name: str
    strategy: str
    strategy_params: dict[str, Any]
    symbol: str
    base: str
    quote: str
    exchange: str
    """The exchange plugin (back_trading, paper, ccxt, or a custom one)."""
    venue: str | None
    """The venue behind it when the config names one (``binance`` for ccxt)."""
    mode: str
    """backtest, paper or live (``?`` for a job whose exchange could not be built)."""
    live: bool
    """Starting it sends real orders: a front end asks before it does."""
    built: bool
    """Its exchange exists (a job that failed to load has none)."""
    status: JobStatus
    error: str | None = None
    restore_note: str | None = None
    """Restored from an older snapshot than its latest (see TradingJob.restore_note)."""
    connection: str | None = None
    """E.g. "banned until 12:03:00" while the exchange holds this job's requests back."""
    progress: ProgressView = field(default_factory=ProgressView)
    timeframe_ms: int | None = None
    """The candle length once the exchange knows it (its data loaded or feed open)."""
    timeframe: str = ""
    """The candle length for display: known, else as configured, else empty."""
    speed: float | None = None
    """The replay pace of a paced replay (0 = as fast as possible), else None."""
    equity: float | None = None
    initial_equity: float | None = None
    """Quote cash plus base holdings at the first price; None until that is known."""
    pnl: float | None = None
    pnl_pct: float | None = None
    position: PositionView | None = None
    """None when the job has no account to show (not built, or reading it failed)."""
    balances: tuple[BalanceView, ...] = ()
    open_orders: tuple[OrderView, ...] = ()
    fill_count: int | None = None
    metrics: dict[str, Any] | None = None
    """The final report's metrics (see ats.trading_job.metrics), once there is a report."""
    live_metrics: LiveMetricsView | None = None
    """Kept up while the job runs (None when the account cannot be read)."""
    last_candle_at: float | None = None
    """When (unix seconds, wall clock) the job last received a candle: how fresh a paper
    or live feed is. None before the first."""
    account_error: str | None = None
    """Why the account could not be read (an exchange bug): a front end shows this
    instead of an empty account."""
    sweep: SweepSummary | None = None
    """A parameter sweep's row (mode ``sweep``): see :mod:`ats.trading_job.sweep_views`."""

    @property
    def market(self) -> str:
        """``BTC/USDT 3s``: the symbol and, once known, the timeframe."""
        return f"{self.symbol} {self.timeframe}" if self.timeframe else self.symbol


# --------------------------------------------------------------------------- chart
@dataclass(frozen=True, slots=True)
class OverlayInfo:
    """Where an overlay line comes from: which indicator, which of its outputs."""

    label: str
    """The key of the line in :attr:`ChartWindow.overlays`, e.g. ``sma(50)``."""
    indicator: str
    output: str
    params: dict[str, Any] = field(default_factory=dict)
    panel: str = "price"
    """``price`` (over the candles) or ``oscillator`` (a panel of its own under them,
    one per indicator), as the indicator declares (BaseIndicator.panel)."""
    style: str = "line"
    """``line``, ``bars`` (from zero, a MACD histogram) or ``hidden``."""

    @property
    def source(self) -> str:
        """The indicator instance this line belongs to, e.g. ``macd(12,26,9)``: the
        outputs of one oscillator share its panel."""
        suffix = f".{self.output}"
        return self.label.removesuffix(suffix) if self.label.endswith(suffix) else self.label


@dataclass(frozen=True, slots=True)
class ChartWindow:
    """Candles grouped ``factor`` per bar, oldest first, ready to plot on x = 0..n-1,
    with the strategy's indicator lines and the fills that fall in the window."""

    timestamps: tuple[int, ...] = ()
    """Open time (ms) of each bar's first candle."""
    open: tuple[float, ...] = ()
    high: tuple[float, ...] = ()
    low: tuple[float, ...] = ()
    close: tuple[float, ...] = ()
    overlays: dict[str, tuple[float | None, ...]] = field(default_factory=dict)
    """Label -> one value per bar (NaN, or null in JSON, while warming up)."""
    overlay_info: tuple[OverlayInfo, ...] = ()
    buys: tuple[tuple[int, ...], tuple[float, ...]] = ((), ())
    """Fill markers as (bar indexes, prices)."""
    sells: tuple[tuple[int, ...], tuple[float, ...]] = ((), ())
    factor: int = 1
    offset: int = 0
    """Bars back from the latest one that this window ends (as asked, or as a query
    ``around`` a time chose, clamped at the first candle)."""
    error: str | None = None
    """Why there is no window (e.g. the candle file cannot be read)."""

    def __len__(self) -> int:
        return len(self.timestamps)


@dataclass(frozen=True, slots=True)
class EquityCurve:
    """Equity in quote over time, thinned to about the number of points asked for."""

    timestamps: tuple[int, ...] = ()
    equity: tuple[float, ...] = ()
    initial_equity: float | None = None
    error: str | None = None

    def __len__(self) -> int:
        return len(self.timestamps)


# --------------------------------------------------------------------------- history
@dataclass(frozen=True, slots=True)
class LogLine:
    seq: int
    """Position in the job's log since it was created; -1 for a front end's own lines."""
    time: float
    """Unix seconds."""
    level: str
    message: str


@dataclass(frozen=True, slots=True)
class LogPage:
    """The job's log lines after a given one (oldest first)."""

    lines: tuple[LogLine, ...] = ()
    next_seq: int = 0
    """The seq the next line logged will get."""
    gap: bool = False
    """Lines after the one asked for have rotated out of the job's bounded log: the
    front end should rebuild from this page rather than append it."""


@dataclass(frozen=True, slots=True)
class TradeView:
    """A round trip; exit fields are None while it is open (marked at the last price)."""

    entry_time: int
    entry_price: float
    amount: float
    exit_time: int | None
    exit_price: float | None
    fees: float
    pnl: float
    return_pct: float


@dataclass(frozen=True, slots=True)
class FillView:
    order_id: str
    side: str
    amount: float
    price: float
    fee: float
    fee_currency: str
    timestamp: int
    taker: bool


@dataclass(frozen=True, slots=True)
class TradePage:
    """Newest first: ``trades[0]`` is round trip number ``total - offset``."""

    total: int = 0
    offset: int = 0
    trades: tuple[TradeView, ...] = ()


@dataclass(frozen=True, slots=True)
class FillPage:
    """Newest first, like :class:`TradePage`."""

    total: int = 0
    offset: int = 0
    fills: tuple[FillView, ...] = ()


# --------------------------------------------------------------------------- the job form
@dataclass(frozen=True, slots=True)
class PluginInfo:
    """A plugin a job can name; ``error`` says why a broken one cannot be used."""

    name: str
    error: str | None = None
    custom: bool = False
    """From ``custom_modules/`` rather than built in."""


@dataclass(frozen=True, slots=True)
class ParamField:
    """One parameter of a strategy, from its pydantic ``Params``."""

    name: str
    default: Any
    description: str
    required: bool


# --------------------------------------------------------------------------- JSON
_adapters: dict[type[Any], TypeAdapter[Any]] = {}


def _adapter(kind: type[Any]) -> TypeAdapter[Any]:
    adapter = _adapters.get(kind)
    if adapter is None:
        from pydantic import TypeAdapter

        adapter = _adapters[kind] = TypeAdapter(kind)
    return adapter


def to_json(view: object) -> bytes:
    """``view`` as JSON (NaN and infinities as null)."""
    return _adapter(type(view)).dump_json(view)


def from_json(kind: type[ViewT], data: bytes | str) -> ViewT:
    """A view of ``kind`` read back from :func:`to_json` (validated)."""
    view: ViewT = _adapter(kind).validate_json(data)
    return view


def json_schema(kind: type[Any]) -> dict[str, Any]:
    """The JSON schema of a view, for the control API's OpenAPI document."""
    schema: dict[str, Any] = _adapter(kind).json_schema()
    return schema


VIEW_TYPES: tuple[type[Any], ...] = (
    JobView,
    ChartWindow,
    EquityCurve,
    LogPage,
    TradePage,
    FillPage,
    PluginInfo,
    ParamField,
    SweepView,
    TrialPage,
    SweepHeatmap,
)
"""Every view a JobControl returns (tests check each has a JSON schema)."""
