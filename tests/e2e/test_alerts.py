"""Acceptance 6 of issue 11: alerts through apprise to a real endpoint on 127.0.0.1.

Fills and errors arrive batched and rate-limited, without a secret; with the endpoint
refusing connections or hanging, the job's trades are the same as with alerts off, and
the job runs to its end while the channel still holds the unanswered request.
"""

from __future__ import annotations

import asyncio
import json
import re
import textwrap
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from job_configs import backtest_config

from ats.alerts.compose import Alert, Batcher
from ats.alerts.config import AlertConfig, register_url_secrets
from ats.alerts.service import AlertService
from ats.cli import main
from ats.demo import DEMO_DATA
from ats.trading_job.job_config import parse_job_config
from ats.trading_job.job_manager import JobManager
from ats.utils.plugins import PluginLoader
from ats.utils.redaction import redact, register_secret
from ats.utils.settings import Settings

SECRET = "alert-test-secret-9c1e5b2d7f3a"

FAILING_STRATEGY = """
from ats.state.simple_state import SimpleState
from ats.strategies.base_strategy import BaseStrategy, StrategyParams
from ats.utils.settings import resolve_secret


class State(SimpleState):
    seen: int = 0


class Strategy(BaseStrategy):
    name = "leaky_failure"
    Params = StrategyParams
    State = State

    def on_candle(self, candle):
        self.state.seen += 1
        if self.state.seen >= 300:
            key = resolve_secret("ALERT_TEST_API_KEY").get_secret_value()
            raise RuntimeError(f"authentication failed for key {key}")
"""

BANNED_EXCHANGE = '''
from ats.exchanges.exchanges.back_trading.exchange import Exchange as BackTrading


class Exchange(BackTrading):
    """back_trading whose connection reports an IP ban (what a live exchange says)."""

    @property
    def connection_state(self):
        return "banned until 12:03:00"
'''


# -- a real endpoint on 127.0.0.1 ----------------------------------------------------------
@dataclass
class Endpoint:
    url: str
    posts: list[dict[str, Any]] = field(default_factory=list)
    raw: list[str] = field(default_factory=list)

    @property
    def titles(self) -> list[str]:
        return [post["title"] for post in self.posts]


@pytest.fixture
async def endpoint() -> AsyncIterator[Endpoint]:
    """An aiohttp server taking apprise's ``json://`` posts."""
    found = Endpoint("")

    async def receive(request: web.Request) -> web.Response:
        text = await request.text()
        found.raw.append(text + json.dumps(dict(request.headers)))
        found.posts.append(json.loads(text))
        response = web.Response(text="ok")
        response.force_close()  # no keep-alive: the teardown need not wait for it
        return response

    app = web.Application()
    app.router.add_post("/hook/{token}", receive)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    found.url = f"json://127.0.0.1:{port}/hook/{SECRET}-token-in-url"
    yield found
    await runner.cleanup()


@dataclass
class Hanging:
    """Accepts connections and reads requests, never answers."""

    port: int
    received: asyncio.Event = field(default_factory=asyncio.Event)
    closed: int = 0


@pytest.fixture
async def hanging() -> AsyncIterator[Hanging]:
    writers: list[asyncio.StreamWriter] = []
    state: Hanging | None = None

    async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writers.append(writer)
        await reader.read(1024)
        assert state is not None
        state.received.set()
        await reader.read()  # until the client gives up
        state.closed += 1

    server = await asyncio.start_server(accept, "127.0.0.1", 0)
    state = Hanging(server.sockets[0].getsockname()[1])
    yield state
    for writer in writers:
        writer.close()
    server.close()


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# -- helpers ---------------------------------------------------------------------------------
def _config(url: str, **changes: Any) -> AlertConfig:
    values: dict[str, Any] = {
        "alert_urls": url,
        "alert_modes": "backtest",
        "alert_batch_s": 0.0,
        "alert_interval_s": 0.3,
        "alert_timeout_s": 3.0,
    }
    values.update(changes)
    config = AlertConfig.from_settings(Settings(_env_file=None, **values))
    assert config is not None
    return config


def _fills(job: Any) -> list[tuple[Any, ...]]:
    return [(f.side, f.amount, f.price, f.fee, f.timestamp) for f in job.exchange.get_fills()]


async def _run_backtest(manager: JobManager, name: str = "bt") -> Any:
    job = manager.create(backtest_config(name=name))
    await job.load_inputs()
    manager.start(job.id)
    await manager.wait(job.id)
    return job


def _count(titles: list[str], noun: str) -> int:
    return sum(int(m.group(1)) for t in titles for m in re.finditer(rf"(\d+) {noun}", t))


# -- the tests -----------------------------------------------------------------------------
def test_the_batcher_gathers_and_rate_limits() -> None:
    batcher = Batcher(interval_s=10.0, batch_s=1.0, max_lines=3)
    assert batcher.due_in(0.0) is None and batcher.take(0.0) is None
    batcher.add(Alert("fill", "f1"), 0.0)
    batcher.add(Alert("error", "e1"), 0.5)
    assert batcher.due_in(0.5) == pytest.approx(0.5)
    assert batcher.take(0.9) is None, "still gathering"
    first = batcher.take(1.0)
    assert first is not None and first.level == "failure"
    assert first.title == "ATS: 1 fill, 1 error" and first.body == "f1\ne1"
    for index in range(5):
        batcher.add(Alert("fill", f"f{index + 2}"), 2.0)
    batcher.add(Alert("status", "s1"), 3.0)
    assert batcher.due_in(3.0) == pytest.approx(8.0), "one message per interval"
    assert batcher.take(10.9) is None
    second = batcher.take(11.0)
    assert second is not None and second.level == "info"
    assert second.title == "ATS: 5 fills, 1 status change"
    assert second.body.splitlines() == ["f2", "f3", "s1", "… and 3 more fills"], "fills give way"
    batcher.add(Alert("connection", "c"), 12.0)
    last = batcher.take(12.0, force=True)  # at close: at once
    assert last is not None and last.level == "warning"


async def test_fills_and_errors_arrive_batched_rate_limited_and_without_secrets(
    endpoint: Endpoint, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ALERT_TEST_API_KEY", SECRET)
    register_secret(SECRET)  # as Settings does for every *_KEY of the environment
    folder = tmp_path / "custom" / "strategies" / "leaky_failure"
    folder.mkdir(parents=True)
    (folder / "strategy.py").write_text(FAILING_STRATEGY)
    manager = JobManager(loader=PluginLoader(tmp_path / "custom"))
    service = AlertService(manager, _config(endpoint.url))
    service.start()
    job = await _run_backtest(manager)
    failing = manager.create(
        parse_job_config(
            {
                "name": "leaky",
                "exchange": {"name": "back_trading", "params": {"data": str(DEMO_DATA)}},
                "strategy": {"name": "leaky_failure", "params": {}},
            }
        )
    )
    manager.start(failing.id)
    await manager.wait(failing.id)
    assert failing.status == "error"
    quiet = manager.create(backtest_config(name="quiet-job"))  # stays 'created': no alert
    await service.close(wait_s=5.0)
    assert quiet.status == "created"

    fills = len(job.exchange.get_fills())
    assert fills > 40
    titles = endpoint.titles
    assert _count(titles, "fill") == fills, "every fill counted, none twice"
    assert len(endpoint.posts) < fills / 10, "batched: a few messages, not one per fill"
    assert len(endpoint.posts) <= 2 + service.delivery.sent  # and all of them arrived
    bodies = "\n".join(post["message"] for post in endpoint.posts)
    assert "[backtest] bt: started" in bodies and "[backtest] bt: finished" in bodies
    assert re.search(r"\[backtest\] bt: (BUY|SELL) [\d.]+ BTC @ [\d,.]+ USDT, fee", bodies)
    assert "[backtest] leaky: error: RuntimeError: authentication failed for key ***" in bodies
    errors = [post for post in endpoint.posts if "error" in post["title"]]
    assert errors and all(post["type"] == "failure" for post in errors)
    assert "quiet-job" not in bodies
    everything = "\n".join(endpoint.raw)
    assert SECRET not in everything, "no secret in any alert (nor the URL's token)"
    assert redact(endpoint.url) == "***"


async def test_messages_are_rate_limited(endpoint: Endpoint) -> None:
    """Three backtests in a row: messages at least interval_s apart."""
    manager = JobManager()
    service = AlertService(manager, _config(endpoint.url, alert_interval_s=0.5))
    service.start()
    arrivals: list[float] = []
    loop = asyncio.get_running_loop()
    began = loop.time()
    seen = 0
    for index in range(3):
        await _run_backtest(manager, name=f"bt{index}")
        while len(endpoint.posts) > seen:
            arrivals.append(loop.time())
            seen += 1
        await asyncio.sleep(0.3)
    # one message per interval while the backtests ran (about 1.2 s, longer on a loaded
    # machine), and the rest in one last message on close: 4 at most at the usual pace
    allowed = 2 + int((loop.time() - began) / 0.5)
    await service.close(wait_s=5.0)
    assert 2 <= len(endpoint.posts) <= allowed
    assert _count(endpoint.titles, "fill") == sum(len(job.exchange.get_fills()) for job in manager)


@pytest.mark.parametrize("failure", ["refused", "hanging"])
async def test_a_dead_channel_changes_no_trade_and_holds_no_job(
    failure: str, hanging: Hanging
) -> None:
    reference = _fills(await _run_backtest(JobManager()))  # alerts off

    port = hanging.port if failure == "hanging" else _free_port()
    manager = JobManager()
    reports: list[str] = []
    service = AlertService(
        manager,
        _config(f"json://127.0.0.1:{port}/hook", alert_timeout_s=30.0),
        report=reports.append,
    )
    service.start()
    await _run_backtest(manager, name="first")  # its alerts go out first
    if failure == "hanging":
        await asyncio.wait_for(hanging.received.wait(), 10)
    job = await _run_backtest(manager, name="second")  # while the channel hangs (or fails)
    assert _fills(job) == reference, "the same trades as with alerts off"
    if failure == "hanging":
        assert hanging.closed == 0, "the job ended while the channel still hung"
        assert service.delivery.stuck_for > 0
        await service.close(wait_s=0.2)  # bounded: returns with the request still hanging
        assert hanging.closed == 0
    else:
        await service.close(wait_s=5.0)
        assert service.delivery.failed >= 1 and service.delivery.sent == 0
        await asyncio.sleep(0)  # the report hops to the loop
        assert reports and "failed" in reports[0] and "127.0.0.1" not in reports[0]


async def test_bans_and_the_kill_switch_alert_and_switches_filter(
    endpoint: Endpoint, tmp_path: Path
) -> None:
    folder = tmp_path / "custom" / "exchanges"
    folder.mkdir(parents=True)
    (folder / "banned.py").write_text(BANNED_EXCHANGE)
    manager = JobManager(loader=PluginLoader(tmp_path / "custom"))
    config = _config(endpoint.url, alert_kinds="connection,kill_switch", alert_jobs="*,!muted")
    service = AlertService(manager, config)
    service.start()
    banned = manager.create(
        parse_job_config(
            {
                "name": "banned",
                "exchange": {"name": "banned", "params": {"data": str(DEMO_DATA)}},
                "strategy": {"name": "sma_cross", "params": {}},
            }
        )
    )
    manager.start(banned.id)
    await manager.wait(banned.id)
    muted = manager.create(backtest_config(name="muted"))
    assert manager.kill_switch(("backtest",)) == 0
    await service.close(wait_s=5.0)
    bodies = "\n".join(post["message"] for post in endpoint.posts)
    assert "[backtest] banned: exchange connection banned until 12:03:00" in bodies
    assert "[backtest] banned: kill switch, 0 open order(s) cancelled" in bodies
    assert "fill" not in " ".join(endpoint.titles), "fills were not asked for"
    assert muted.config.name not in bodies
    assert any(post["type"] == "warning" for post in endpoint.posts)


def test_channel_urls_are_secrets() -> None:
    token = "123456789:ABCdefGhIJKlmNoPQRsTUVwxyZ"
    register_url_secrets(f"tgram://{token}/-1001234")
    register_url_secrets("mailto://me:hunter2pw@example.org")
    assert redact(f"bot {token} failed") == "bot *** failed"
    assert redact("password hunter2pw") == "password ***"


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("ATS_ALERT_KINDS", "fills", "ATS_ALERT_KINDS: unknown value 'fills'"),
        ("ATS_ALERT_URLS", "nope://abc", "ATS_ALERT_URLS: entry 1 (nope://…) is not a URL"),
        ("ATS_ALERT_SUMMARY_AT", "25:00", "ATS_ALERT_SUMMARY_AT: '25:00' is not a time"),
    ],
)
def test_a_bad_alert_setting_is_one_line_and_exit_2_before_any_job(
    name: str,
    value: str,
    expected: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ATS_ALERT_URLS", "json://127.0.0.1:9/x")
    monkeypatch.setenv(name, value)
    job = tmp_path / "job.yaml"
    job.write_text(
        textwrap.dedent(
            f"""
            name: j
            exchange: {{name: back_trading, params: {{data: {DEMO_DATA}}}}}
            strategy: {{name: sma_cross, params: {{}}}}
            """
        )
    )
    assert main(["run", str(job), "--no-ui"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and expected in err
    assert not list((tmp_path / "saved_states").glob("*.json")), "nothing ran or was saved"


async def test_the_daily_summary_goes_out_at_its_time(endpoint: Endpoint) -> None:
    """ATS_ALERT_SUMMARY_AT=08:00 with the clock at 07:59:59.5 UTC: half a second later."""
    import time
    from datetime import UTC, datetime

    start, base = time.monotonic(), datetime(2026, 12, 7, 7, 59, 59, 500_000, tzinfo=UTC)
    manager = JobManager()
    service = AlertService(
        manager,
        _config(endpoint.url, alert_summary_at="08:00", alert_kinds="error"),
        wall_clock=lambda: base + timedelta(seconds=time.monotonic() - start),
    )
    service.start()
    job = await _run_backtest(manager)
    for _ in range(100):
        if "ATS daily summary" in endpoint.titles:
            break
        await asyncio.sleep(0.05)
    await service.close(wait_s=5.0)
    [summary] = [post for post in endpoint.posts if post["title"] == "ATS daily summary"]
    fills = len(job.exchange.get_fills())
    assert summary["message"].startswith("[backtest] bt: finished, equity ")
    assert f", {fills} fill(s)" in summary["message"]
    assert service._next_summary == datetime(2026, 12, 8, 8, 0, tzinfo=UTC), "tomorrow's"


def test_without_alert_urls_apprise_is_never_imported(tmp_path: Path) -> None:
    """``ats run`` (which wires alerts in) on a backtest, with no ATS_ALERT_URLS."""
    import os
    import subprocess
    import sys

    job = tmp_path / "job.yaml"
    job.write_text(
        f"name: j\nexchange: {{name: back_trading, params: {{data: {DEMO_DATA}}}}}\n"
        "strategy: {name: sma_cross, params: {}}\n"
    )
    probe = (
        "import sys\nfrom ats.cli import main\n"
        f"code = main(['run', {str(job)!r}, '--no-ui'])\n"
        "print(code, 'apprise' in sys.modules, 'ats.alerts.service' in sys.modules)"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("ATS_ALERT")}
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert result.stdout.splitlines()[-1] == "0 False True", result.stderr


async def test_the_console_sends_alerts_from_its_start_to_its_quit(
    endpoint: Endpoint, tmp_path: Path
) -> None:
    """The console's real hooks: alerts listen from before the restore; q's stops go out."""
    from ats.persistence.persistent_jobs import PersistentJobs
    from ats.ui.app import AtsApp
    from ats.ui.launch import console_hooks
    from ats.ui.themes import BUNDLED_THEMES

    settings = Settings(_env_file=None, saved_states_dir=tmp_path / "state")
    manager = JobManager()
    alerts = AlertService(manager, _config(endpoint.url, alert_modes="paper"))
    hooks = console_hooks(PersistentJobs(manager, settings), alerts)
    app = AtsApp(manager, settings_path=None, theme_dirs=[BUNDLED_THEMES], **hooks)
    async with app.run_test(size=(100, 30)) as pilot:
        while not app.started:
            await pilot.pause(0.05)
        [replay] = [job for job in manager if job.mode == "paper"]  # the demo replay
        manager.start(replay.id)
        await pilot.pause(0.3)
        await pilot.press("q")
    bodies = "\n".join(post["message"] for post in endpoint.posts)
    assert f"[paper] {replay.config.name}: started" in bodies
    assert f"[paper] {replay.config.name}: stopped" in bodies, "the quit's stop went out"
    assert "[backtest]" not in bodies  # ATS_ALERT_MODES=paper
