"""Every JobControl query and command as an HTTP operation: one table, read by the
server (:mod:`ats.apis.routes`), the client (:mod:`ats.apis.remote_control`) and the
OpenAPI document (:mod:`ats.apis.openapi`), so the three cannot disagree.

Arguments travel in the path (a job id), the query string (GET) or a JSON object body
(POST/PUT); answers are the JSON of the method's return value (views via pydantic).
``tests/integration/apis/test_control_api.py`` checks that the table covers every JobControl method.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from ats.trading_job.job_config import JobConfig
from ats.trading_job.sweep_host import PromoteMode
from ats.trading_job.sweep_views import SweepHeatmap, SweepView, TrialPage
from ats.trading_job.views import (
    ChartWindow,
    EquityCurve,
    FillPage,
    JobView,
    LogPage,
    ParamField,
    PluginInfo,
    TradePage,
)

PREFIX = "/api/v1"
Where = Literal["path", "query", "body"]
REQUIRED: Any = ...


@dataclass(frozen=True, slots=True)
class Param:
    name: str
    type: Any
    where: Where
    default: Any = REQUIRED

    @property
    def required(self) -> bool:
        return self.default is REQUIRED


@dataclass(frozen=True, slots=True)
class Operation:
    """JobControl method ``name`` served as ``method path``."""

    name: str
    method: str
    path: str
    """Relative to :data:`PREFIX`, with ``{job_id}``-style path parameters."""
    params: tuple[Param, ...]
    returns: Any
    summary: str

    @property
    def command(self) -> bool:
        """Changes something (the rest are queries)."""
        return self.method != "GET"

    @property
    def url_path(self) -> str:
        return PREFIX + self.path


def _job(*more: Param) -> tuple[Param, ...]:
    return (Param("job_id", str, "path"), *more)


def _command(name: str, summary: str) -> Operation:
    return Operation(name, "POST", f"/jobs/{{job_id}}/{name}", _job(), None, summary)


OPERATIONS: tuple[Operation, ...] = (
    # -- queries: jobs
    Operation("job_ids", "GET", "/job_ids", (), list[str], "Every job id, in order"),
    Operation("jobs", "GET", "/jobs", (), list[JobView], "Every job's view (the jobs table)"),
    Operation("job", "GET", "/jobs/{job_id}", _job(), JobView, "One job's view"),
    Operation(
        "views",
        "GET",
        "/views",
        (Param("job_ids", list[str], "query", ()),),
        list[JobView],
        "The views of those of these jobs that exist (repeat job_ids=)",
    ),
    Operation("job_config", "GET", "/jobs/{job_id}/config", _job(), JobConfig, "The job's config"),
    Operation(
        "chart_window",
        "GET",
        "/jobs/{job_id}/chart",
        _job(
            Param("bars", int, "query"),
            Param("factor", int, "query", 1),
            Param("offset", int, "query", 0),
            Param("around", int | None, "query", None),
        ),
        ChartWindow,
        "The last `bars` bars of `factor` candles, `offset` bars back (or centred on the time"
        " `around`, ms), with overlays and fills",
    ),
    Operation(
        "equity_curve",
        "GET",
        "/jobs/{job_id}/equity",
        _job(Param("points", int, "query")),
        EquityCurve,
        "The equity curve thinned to about `points` samples",
    ),
    Operation(
        "logs",
        "GET",
        "/jobs/{job_id}/logs",
        _job(Param("after", int | None, "query", None)),
        LogPage,
        "The job's kept log lines after line number `after`",
    ),
    Operation(
        "trades",
        "GET",
        "/jobs/{job_id}/trades",
        _job(Param("offset", int, "query", 0), Param("limit", int, "query", 100)),
        TradePage,
        "Round trips, newest first",
    ),
    Operation(
        "fills",
        "GET",
        "/jobs/{job_id}/fills",
        _job(Param("offset", int, "query", 0), Param("limit", int, "query", 100)),
        FillPage,
        "Fills, newest first",
    ),
    # -- queries: what a new job can be made of
    Operation(
        "plugins",
        "GET",
        "/plugins/{kind}",
        (Param("kind", str, "path"),),
        list[PluginInfo],
        "Plugins of a kind (strategies, exchanges, fees), broken ones marked",
    ),
    Operation(
        "strategy_params",
        "GET",
        "/strategies/{strategy}/params",
        (Param("strategy", str, "path"),),
        list[ParamField],
        "A strategy's parameters",
    ),
    Operation(
        "check_strategy_params",
        "POST",
        "/strategies/{strategy}/check",
        (Param("strategy", str, "path"), Param("params", dict[str, Any], "body")),
        None,
        "400 naming the field if the strategy refuses these parameters",
    ),
    Operation("data_files", "GET", "/data_files", (), list[str], "Candle files a job can use"),
    Operation(
        "check_data_file",
        "POST",
        "/data_files/check",
        (Param("path", str, "body"),),
        str | None,
        "Why a candle file cannot be used (one line), or null",
    ),
    # -- commands
    Operation(
        "create",
        "POST",
        "/jobs",
        (Param("config", JobConfig, "body"),),
        str,
        "Create a job from a config; returns its id",
    ),
    Operation(
        "edit",
        "PUT",
        "/jobs/{job_id}/config",
        _job(Param("config", JobConfig, "body")),
        str,
        "Replace a stopped job's config; returns its id (a credential left as *** keeps "
        "its stored value)",
    ),
    _command("start", "Start a job"),
    _command("stop", "Stop a job"),
    _command("toggle", "Start a job that is not running, stop one that is"),
    _command("pause", "Pause a job"),
    _command("resume", "Resume a paused job"),
    _command("toggle_pause", "Pause a running job, resume a paused one"),
    _command("reload", "Re-import the strategy code, keeping its state"),
    Operation(
        "delete",
        "DELETE",
        "/jobs/{job_id}",
        _job(),
        None,
        "Stop (and wait for) a running job, then remove it",
    ),
    Operation(
        "set_speed",
        "POST",
        "/jobs/{job_id}/speed",
        _job(Param("factor", float, "body")),
        float,
        "Set a replay's pace; returns the speed in force",
    ),
    Operation(
        "kill_switch",
        "POST",
        "/kill_switch",
        (),
        int,
        "Cancel every open order of every live job; returns how many",
    ),
    # -- sweeps (a sweep's id also works with the job operations above)
    Operation("sweep_specs", "GET", "/sweep_specs", (), list[str], "Sweep specs found"),
    Operation(
        "create_sweep",
        "POST",
        "/sweeps",
        (Param("spec", str, "body"),),
        str,
        "Create a sweep from a YAML search spec; returns its id",
    ),
    Operation(
        "sweep",
        "GET",
        "/sweeps/{sweep_id}",
        (Param("sweep_id", str, "path"),),
        SweepView,
        "A sweep",
    ),
    Operation(
        "sweep_trials",
        "GET",
        "/sweeps/{sweep_id}/trials",
        (
            Param("sweep_id", str, "path"),
            Param("sort", str, "query", "objective"),
            Param("descending", bool | None, "query", None),
            Param("offset", int, "query", 0),
            Param("limit", int, "query", 100),
        ),
        TrialPage,
        "A sweep's trials sorted by any metric",
    ),
    Operation(
        "sweep_heatmap",
        "GET",
        "/sweeps/{sweep_id}/heatmap",
        (
            Param("sweep_id", str, "path"),
            Param("x", str | None, "query", None),
            Param("y", str | None, "query", None),
        ),
        SweepHeatmap,
        "The objective over two params",
    ),
    Operation(
        "trial_job_config",
        "GET",
        "/sweeps/{sweep_id}/trials/{trial}/config",
        (
            Param("sweep_id", str, "path"),
            Param("trial", int, "path"),
            Param("mode", PromoteMode, "query", "backtest"),
        ),
        JobConfig,
        "A backtest or paper job config with a trial's params",
    ),
)

BY_NAME: dict[str, Operation] = {operation.name: operation for operation in OPERATIONS}
NOT_OPERATIONS = frozenset({"watch", "hold_foreground"})
"""JobControl members that are not request/answer: they travel on the event stream."""
EVENTS_PATH = PREFIX + "/events"
OPENAPI_PATH = PREFIX + "/openapi.json"
STOP_PROCESS_PATH = PREFIX + "/process/stop"
"""POST: the process stops every job, saves and exits, as on SIGTERM (``q`` when attached)."""
