"""New / edit job form (``n`` / ``e``).

The strategy picker lists built-in and ``custom_modules`` strategies (broken ones too,
marked, so a trader sees why their strategy is missing). Parameter inputs are generated
from the strategy's pydantic ``Params``. Validation runs the same code the engine runs
(the strategy's ``validate_config``, the candle file check, ``parse_job_config``, the
job's creation), all asked through the app's JobControl, and every error is shown inline
under the field it names; the form stays open until the job is valid.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.css.query import NoMatches
from textual.markup import escape
from textual.screen import ModalScreen
from textual.suggester import SuggestFromList
from textual.widget import Widget
from textual.widgets import Button, Input, Label, Select

from ats.exceptions import ATSError, ConfigError
from ats.trading_job.job_config import JobConfig, parse_job_config
from ats.trading_job.views import ParamField, PluginInfo
from ats.ui.form_fields import (
    FILE_EXCHANGES,
    TIMEFRAME,
    field_of,
    format_value,
    message_of,
    parse_pairs,
    parse_value,
    quote_of,
)
from ats.ui.keys import FORM_KEYS, bindings
from ats.ui.tcss import tcss_path
from ats.ui.widgets.key_footer import KeyFooter
from ats.utils.symbols import split_symbol

if TYPE_CHECKING:
    from ats.trading_job.control import JobControl

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class FormChoices:
    """What the form offers, asked of the JobControl before it opens."""

    strategies: list[PluginInfo]
    exchanges: list[PluginInfo]
    fees: list[PluginInfo]
    data_files: list[str]
    job_count: int
    """Jobs there are now (a new job's default name is ``job-<count + 1>``)."""


class JobFormScreen(ModalScreen[str | None]):
    """Returns the created/edited job's id, or None when cancelled."""

    CSS_PATH = tcss_path(__file__)
    BINDINGS: ClassVar[list[BindingType]] = [
        *bindings(FORM_KEYS),
        Binding("ctrl+enter", "submit", "Save", show=False),
    ]

    def __init__(
        self,
        control: JobControl,
        choices: FormChoices,
        *,
        job_id: str | None = None,
        config: JobConfig | None = None,
    ) -> None:
        """Open it with :meth:`prepare`; ``job_id`` and its ``config`` to edit a job."""
        super().__init__()
        self.control = control
        self.choices = choices
        self.job_id = job_id
        self.config = config
        self.errors: dict[str, str] = {}
        self._strategies = _errors(choices.strategies)
        self._exchanges = _errors(choices.exchanges)
        self._fees = _errors(choices.fees)
        self._custom = {
            (kind, plugin.name)
            for kind, plugins in (
                ("strategies", choices.strategies),
                ("exchanges", choices.exchanges),
                ("fees", choices.fees),
            )
            for plugin in plugins
            if plugin.custom
        }
        self._param_fields: list[ParamField] = []
        self._params_generation = 0
        self._params_strategy: str | None = None

    @classmethod
    async def prepare(
        cls, control: JobControl, *, job_count: int, job_id: str | None = None
    ) -> JobFormScreen:
        """A form for a new job, or to edit ``job_id`` (JobError if it is gone)."""
        config = await control.job_config(job_id) if job_id is not None else None
        choices = FormChoices(
            strategies=await control.plugins("strategies"),
            exchanges=await control.plugins("exchanges"),
            fees=await control.plugins("fees"),
            data_files=await control.data_files(),
            job_count=job_count,
        )
        return cls(control, choices, job_id=job_id, config=config)

    # -- layout ----------------------------------------------------------------------------
    def _row(self, field: str, label: str, widget: Widget) -> ComposeResult:
        with Horizontal(classes="form-row", id=f"row-{field}"):
            yield Label(label, classes="field-label")
            yield widget
        yield Label("", classes="field-error", id=f"error-{field}")

    def _options(self, plugins: dict[str, str | None], kind: str) -> list[tuple[str, str]]:
        options = []
        for name, error in plugins.items():
            label = name
            if (kind, name) in self._custom:
                label += "  (custom)"
            if error:
                label += "  ✖ broken"
            options.append((label, name))
        return options

    def compose(self) -> ComposeResult:
        config = self.config
        title = f"Edit job {config.name}" if config else "New job"
        strategy = config.strategy.name if config else self._default_strategy()
        exchange = config.exchange.name if config else "back_trading"
        params = config.exchange.params if config else {}
        symbol = config.symbol if config else "BTC/USDT"
        quote = quote_of(symbol)
        cash = config.balances.get(quote, 0.0) if config else 10_000.0
        fees = config.fees if config else None
        from ats.demo import DEMO_DATA

        with Vertical(id="form-box") as box:
            box.border_title = escape(title)
            box.border_subtitle = "ctrl+s save · esc cancel · tab next field"
            with VerticalScroll(id="form-fields"):
                yield from self._row(
                    "name",
                    "Name",
                    Input(
                        config.name if config else f"job-{self.choices.job_count + 1}",
                        id="f-name",
                        compact=True,
                    ),
                )
                yield from self._row(
                    "strategy",
                    "Strategy",
                    Select(
                        self._options(self._strategies, "strategies"),
                        value=strategy if strategy in self._strategies else Select.BLANK,
                        id="f-strategy",
                        compact=True,
                        allow_blank=strategy not in self._strategies,
                    ),
                )
                yield Vertical(id="f-params")
                yield from self._row(
                    "exchange",
                    "Exchange",
                    Select(
                        self._options(self._exchanges, "exchanges"),
                        value=exchange if exchange in self._exchanges else Select.BLANK,
                        id="f-exchange",
                        compact=True,
                    ),
                )
                yield from self._row(
                    "data",
                    "Data file",
                    Input(
                        str(params.get("data", DEMO_DATA)),
                        id="f-data",
                        compact=True,
                        suggester=SuggestFromList(self.choices.data_files, case_sensitive=False),
                    ),
                )
                yield from self._row(
                    "speed",
                    "Replay speed",
                    Input(str(params.get("speed", 20.0)), id="f-speed", compact=True),
                )
                yield from self._row("symbol", "Symbol", Input(symbol, id="f-symbol", compact=True))
                yield from self._row(
                    "timeframe",
                    "Timeframe",
                    Input(
                        str(params.get("timeframe", "")),
                        placeholder="from the data (e.g. 1m)",
                        id="f-timeframe",
                        compact=True,
                    ),
                )
                yield from self._row(
                    "cash", f"Cash ({quote})", Input(f"{cash:g}", id="f-cash", compact=True)
                )
                yield from self._row(
                    "fees",
                    "Fees",
                    Select(
                        self._options(self._fees, "fees"),
                        value=fees.name if fees else "flat_rate",
                        id="f-fees",
                        compact=True,
                        allow_blank=False,
                    ),
                )
                yield from self._row(
                    "fee_params",
                    "Fee params",
                    Input(
                        " ".join(f"{k}={format_value(v)}" for k, v in fees.params.items())
                        if fees
                        else "rate=0.001",
                        placeholder="key=value …",
                        id="f-fee-params",
                        compact=True,
                    ),
                )
            yield Label("", id="form-error")
            with Horizontal(id="form-buttons"):
                yield Button("Save (ctrl+s)", id="save", variant="primary", compact=True)
                yield Button("Cancel (esc)", id="cancel", compact=True)
        yield KeyFooter(id="footer")  # the form's own keys, not the main screen's

    def _default_strategy(self) -> str:
        for name in ("sma_cross", *self._strategies):
            if self._strategies.get(name, "missing") is None:
                return name
        return next(iter(self._strategies), "")

    async def on_mount(self) -> None:
        values = self.config.strategy.params if self.config is not None else {}
        await self._build_params(self._selected_strategy(), values)
        self._update_visibility()
        self.query_one("#f-name", Input).focus()

    # -- dynamic parts -----------------------------------------------------------------------
    def _selected_strategy(self) -> str | None:
        value = self.query_one("#f-strategy", Select).value
        return value if isinstance(value, str) else None

    def _selected(self, widget_id: str) -> str | None:
        value = self.query_one(widget_id, Select).value
        return value if isinstance(value, str) else None

    async def _build_params(self, strategy: str | None, values: dict[str, Any]) -> None:
        container = self.query_one("#f-params", Vertical)
        container.remove_children()
        self._param_fields = []
        self._params_generation += 1
        self._params_strategy = strategy
        if strategy is None:
            return
        error = self._strategies.get(strategy)
        if error:
            self._show_errors({"strategy": error})
            return
        generation = self._params_generation
        try:
            fields = await self.control.strategy_params(strategy)
        except ATSError as exc:
            self._show_errors({"strategy": str(exc)})
            return
        if generation != self._params_generation:
            return  # another strategy was chosen meanwhile
        self._param_fields = fields
        rows: list[Widget] = []
        for field in self._param_fields:
            given = values.get(field.name)
            if field.required:
                placeholder = "required"
            elif field.default is None:
                placeholder = "optional"
            else:
                placeholder = f"default {format_value(field.default)}"
            text = format_value(given) if field.name in values else ""
            hint = f"  {field.description}" if field.description else ""
            rows.append(
                Horizontal(
                    Label(f"  {field.name}", classes="field-label param-label"),
                    Input(
                        text,
                        placeholder=placeholder,
                        id=f"p{generation}-{field.name}",
                        classes="param-input",
                        compact=True,
                        tooltip=hint.strip() or None,
                    ),
                    classes="form-row",
                )
            )
            rows.append(Label("", classes="field-error", id=f"error-p{generation}-{field.name}"))
        container.mount_all(rows)

    def _update_visibility(self) -> None:
        exchange = self._selected("#f-exchange")
        self.query_one("#row-data").display = exchange in FILE_EXCHANGES
        is_paper = exchange == "paper"
        self.query_one("#row-speed").display = is_paper

    @on(Select.Changed, "#f-strategy")
    async def _strategy_changed(self, event: Select.Changed) -> None:
        strategy = self._selected_strategy()
        if strategy != self._params_strategy:  # not the initial value being announced
            self._clear_errors()
            await self._build_params(strategy, {})

    @on(Select.Changed, "#f-exchange")
    def _exchange_changed(self, event: Select.Changed) -> None:
        self._update_visibility()

    # -- validation ------------------------------------------------------------------------
    def _clear_errors(self) -> None:
        self.errors = {}
        for label in self.query(".field-error").results(Label):
            label.update("")
            label.display = False
        for widget in self.query(".-invalid"):
            widget.remove_class("-invalid")
        self.query_one("#form-error", Label).update("")

    def _show_errors(self, errors: dict[str, str]) -> None:
        self.errors.update(errors)
        for field, message in errors.items():
            target = self._error_label(field)
            if target is not None:
                target.update(f"✖ {message}")
                target.display = True
            widget = self._input_for(field)
            if widget is not None:
                widget.add_class("-invalid")
        count = len(self.errors)
        summary = f"{count} field{'s' if count != 1 else ''} to fix" if count else ""
        if "form" in self.errors:
            summary = self.errors["form"]
        self.query_one("#form-error", Label).update(summary)

    def _error_label(self, field: str) -> Label | None:
        if field == "form":
            return None
        label_id = (
            f"#error-p{self._params_generation}-{field[6:]}"
            if field.startswith("param:")
            else f"#error-{field}"
        )
        try:
            return self.query_one(label_id, Label)
        except NoMatches:  # a field of a strategy no longer shown: under the strategy
            return self.query_one("#error-strategy", Label)

    def _input_for(self, field: str) -> Widget | None:
        ids = {
            "name": "#f-name",
            "strategy": "#f-strategy",
            "exchange": "#f-exchange",
            "data": "#f-data",
            "speed": "#f-speed",
            "symbol": "#f-symbol",
            "timeframe": "#f-timeframe",
            "cash": "#f-cash",
            "fees": "#f-fees",
            "fee_params": "#f-fee-params",
        }
        selector = (
            f"#p{self._params_generation}-{field[6:]}"
            if field.startswith("param:")
            else ids.get(field)
        )
        if selector is None:
            return None
        try:
            return self.query_one(selector)
        except NoMatches:
            return None

    def _value(self, widget_id: str) -> str:
        return self.query_one(widget_id, Input).value.strip()

    async def collect(self) -> tuple[dict[str, Any] | None, dict[str, str]]:
        """The raw job config from the fields, or the per-field errors."""
        errors: dict[str, str] = {}
        name = self._value("#f-name")
        if not name:
            errors["name"] = "a job needs a name"
        strategy = self._selected_strategy()
        if strategy is None:
            errors["strategy"] = "choose a strategy"
        elif self._strategies.get(strategy):
            errors["strategy"] = str(self._strategies[strategy])
        params: dict[str, Any] = {}
        generation = self._params_generation
        for field in self._param_fields:
            text = self.query_one(f"#p{generation}-{field.name}", Input).value.strip()
            if text:
                try:
                    params[field.name] = parse_value(text)
                except ConfigError as exc:
                    errors[f"param:{field.name}"] = message_of(str(exc))
            elif field.required:
                errors[f"param:{field.name}"] = "required"
        exchange = self._selected("#f-exchange")
        if exchange is None:
            errors["exchange"] = "choose an exchange"
        elif self._exchanges.get(exchange):
            errors["exchange"] = str(self._exchanges[exchange])
        base_params: dict[str, Any] = {}
        if self.config is not None and self.config.exchange.name == exchange:
            base_params = dict(self.config.exchange.params)
        exchange_params = dict(base_params)
        if exchange in FILE_EXCHANGES:
            data = self._value("#f-data")
            if not data:
                errors["data"] = "a candle file (CSV or Parquet) is required"
            else:
                problem = await self.control.check_data_file(data)
                if problem is not None:
                    errors["data"] = problem
            exchange_params["data"] = str(Path(data).expanduser()) if data else data
        if exchange == "paper":
            exchange_params.setdefault("feed", "replay")
            try:
                speed = float(self._value("#f-speed") or "1")
                if not 0 < speed < math.inf:
                    raise ValueError
                exchange_params["speed"] = speed
            except ValueError:
                errors["speed"] = "a positive number, e.g. 20 (times real time)"
        timeframe = self._value("#f-timeframe")
        if timeframe:
            if not TIMEFRAME.match(timeframe):
                errors["timeframe"] = "like 1m, 5m, 1h or 1d"
            exchange_params["timeframe"] = timeframe
        else:
            exchange_params.pop("timeframe", None)
        symbol = self._value("#f-symbol")
        try:
            _base, quote = split_symbol(symbol)
        except ValueError as exc:
            errors["symbol"] = str(exc)
            quote = "USDT"
        cash_text = self._value("#f-cash").replace(",", "").replace("_", "")
        cash = 0.0
        try:
            cash = float(cash_text)
            if not math.isfinite(cash):
                errors["cash"] = f"must be a finite number, got {cash_text!r}"
            elif cash < 0:
                errors["cash"] = "must not be negative"
        except ValueError:
            errors["cash"] = f"a number, got {cash_text!r}"
        fees = self._selected("#f-fees")
        if fees is None:
            errors["fees"] = "choose a fee model"
        elif self._fees.get(fees):
            errors["fees"] = str(self._fees[fees])
        try:
            fee_params = parse_pairs(self._value("#f-fee-params"))
        except ValueError as exc:
            errors["fee_params"] = str(exc)
            fee_params = {}
        if strategy and not errors.get("strategy"):
            errors.update(await self._check_params(strategy, params))
        if errors:
            return None, errors
        balances = dict(self.config.balances) if self.config is not None else {}
        balances[quote] = cash
        raw: dict[str, Any] = {
            "name": name,
            "symbol": symbol,
            "balances": balances,
            "exchange": {"name": exchange, "params": exchange_params},
            "strategy": {"name": strategy, "params": params},
            "fees": {"name": fees, "params": fee_params},
        }
        if self.config is not None and self.config.mode is not None:
            raw["mode"] = self.config.mode
        return raw, {}

    async def _check_params(self, strategy: str, params: dict[str, Any]) -> dict[str, str]:
        try:
            await self.control.check_strategy_params(strategy, params)
        except ATSError as exc:
            return {self._field_of(str(exc)): message_of(str(exc))}
        return {}

    def _field_of(self, message: str) -> str:
        return field_of(message, {field.name for field in self._param_fields})

    async def action_submit(self) -> None:
        self._clear_errors()
        raw, errors = await self.collect()
        if raw is None:
            self._show_errors(errors)
            return
        try:
            config = parse_job_config(raw, source="form")
            if self.job_id is None:
                job_id = await self.control.create(config)
            else:
                job_id = await self.control.edit(self.job_id, config)
        except ATSError as exc:
            text = str(exc).removeprefix("form: ")
            field = self._field_of(text)
            self._show_errors({field: message_of(text) if field != "form" else text})
            return
        except Exception as exc:  # an engine bug: shown on the form, logged with its stack
            logger.exception("saving the job form failed (job %s)", self.job_id)
            self._show_errors({"form": f"{type(exc).__name__}: {exc}"})
            return
        self.dismiss(job_id)

    def action_cancel(self) -> None:
        self.dismiss(None)

    @on(Button.Pressed, "#save")
    async def _save_pressed(self) -> None:
        await self.action_submit()

    @on(Button.Pressed, "#cancel")
    def _cancel_pressed(self) -> None:
        self.action_cancel()

    @on(Input.Submitted)
    async def _input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        await self.action_submit()


def _errors(plugins: list[PluginInfo]) -> dict[str, str | None]:
    """Plugin name -> why it is broken (None when it loads), in the control's order."""
    return {plugin.name: plugin.error for plugin in plugins}
