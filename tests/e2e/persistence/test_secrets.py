"""Acceptance 5: with fake credentials in ``.env`` none of them reaches the journal, a
snapshot, a log or the console, and every state file is owner-only (0600)."""

from __future__ import annotations

import asyncio
import json
import stat
import textwrap
from pathlib import Path

import pytest
from persist_helpers import ats_env, run_ats, write_candles

API_KEY = "fake-key-7f3a9c1e5b2d"
API_SECRET = "fake-secret-d41d8cd98f00b204"

LEAKY_STRATEGY = '''
"""A careless strategy: it logs its API key, keeps it in its state and fails with it."""
from ats.exchanges.data_classes import Candle
from ats.state.simple_state import SimpleState
from ats.strategies.base_strategy import BaseStrategy, StrategyParams
from ats.utils.settings import resolve_secret


class Params(StrategyParams):
    key_env: str = "BINANCE_API_KEY"
    fail_at: int = 0


class State(SimpleState):
    note: str = ""
    seen: int = 0


class Strategy(BaseStrategy):
    name = "leaky"
    Params = Params
    State = State

    def on_candle(self, candle: Candle) -> None:
        key = resolve_secret(self.params.key_env).get_secret_value()
        if not self.state.note:
            self.state.note = f"key={key}"
            self.log(f"connecting with api key {key}")
            self.buy(quote_amount=100.0, client_order_id=f"c-{key}")
        self.state.seen += 1
        if self.params.fail_at and self.state.seen >= self.params.fail_at:
            raise RuntimeError(f"authentication failed for key {key}")
'''


def _job(tmp_path: Path, name: str, data: Path, fail_at: int, secret: str = API_SECRET) -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(
        textwrap.dedent(
            f"""
            name: {name}
            balances: {{USDT: 10000}}
            exchange:
              name: back_trading
              params: {{data: {data}, api_key_env: BINANCE_API_KEY, secret: {secret}}}
            strategy: {{name: leaky, params: {{fail_at: {fail_at}}}}}
            """
        )
    )
    return path


def test_no_secret_anywhere_and_files_are_private(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(f"BINANCE_API_KEY={API_KEY}\nBINANCE_API_SECRET={API_SECRET}\n")
    strategy_dir = tmp_path / "custom_modules" / "strategies" / "leaky"
    strategy_dir.mkdir(parents=True)
    (strategy_dir / "strategy.py").write_text(LEAKY_STRATEGY)
    data = write_candles(tmp_path / "c.csv", 5_000)
    state = tmp_path / "saved_states"
    env = ats_env(state)
    outputs = []
    for name, fail_at in (("careless", 0), ("crashing", 300)):
        added = run_ats(
            "jobs",
            "add",
            str(_job(tmp_path, name, data, fail_at)),
            "--start",
            "--id",
            name,
            env=env,
            cwd=tmp_path,
        )
        assert added.returncode == 0, added.stderr
        outputs.append(added.stdout + added.stderr)
    run = run_ats("--no-ui", env=env, cwd=tmp_path)
    outputs.append(run.stdout + run.stderr)
    assert run.returncode == 1  # the crashing job ended in error
    for command in (
        ("jobs", "list"),
        ("jobs", "show", "careless"),
        ("jobs", "show", "crashing"),
        ("jobs", "export", "crashing", "--json"),
        ("jobs", "export", "careless"),
    ):
        shown = run_ats(*command, env=env, cwd=tmp_path)
        assert shown.returncode == 0, shown.stderr
        outputs.append(shown.stdout + shown.stderr)

    exported = json.loads(outputs[-2])
    assert "authentication failed for key ***" in exported["snapshot"]["error"]
    assert exported["snapshot"]["strategy_state"]["note"] == "key=***"
    assert exported["snapshot"]["config"]["exchange"]["params"]["secret"] == "***"
    assert exported["snapshot"]["config"]["exchange"]["params"]["api_key_env"] == "BINANCE_API_KEY"
    assert any(
        "connecting with api key ***" in line["message"] for line in exported["journal"]["logs"]
    )

    files = [path for path in state.rglob("*") if path.is_file()]
    assert {path.name for path in files} >= {
        "journal.sqlite3",
        "careless.json",
        "crashing.json",
        ".lock",
    }
    for secret in (API_KEY, API_SECRET):
        for path in files:
            assert secret.encode() not in path.read_bytes(), f"{secret} found in {path.name}"
        for text in outputs:
            assert secret not in text
    for path in files:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path.name
    assert stat.S_IMODE(state.stat().st_mode) == 0o700


API_TOKEN = "api-token-5e8b1c0f9a7d3e2b"
LITERAL = "literal-secret-in-a-config-only"
"""In no .env: only the config's ``secret:`` param holds it."""


async def test_no_secret_in_any_answer_or_event_of_the_control_api(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Issue 11: the same careless jobs, and a sweep of them (two trials, one crashing
    with the key in its error), served by the control API over TCP: no answer to any
    query, job's or sweep's, no event, no error and no log line carries a credential or
    the token."""
    import aiohttp

    from ats.apis.listen import ApiOptions, bind_for
    from ats.apis.operations import OPERATIONS
    from ats.apis.server import ControlServer
    from ats.research.journal import JOURNAL_NAME
    from ats.research.sweep_jobs import SweepJobs
    from ats.trading_job.job_config import load_job_config
    from ats.trading_job.job_manager import JobManager
    from ats.trading_job.local_control import LocalJobControl
    from ats.trading_job.status import JobStatus
    from ats.utils.plugins import PluginLoader
    from ats.utils.settings import Settings

    (tmp_path / ".env").write_text(
        f"BINANCE_API_KEY={API_KEY}\nBINANCE_API_SECRET={API_SECRET}\nATS_API_TOKEN={API_TOKEN}\n"
    )
    monkeypatch.setenv("ATS_HOME", str(tmp_path))
    monkeypatch.delenv("ATS_API_TOKEN", raising=False)
    strategy_dir = tmp_path / "custom_modules" / "strategies" / "leaky"
    strategy_dir.mkdir(parents=True)
    (strategy_dir / "strategy.py").write_text(LEAKY_STRATEGY)
    data = write_candles(tmp_path / "c.csv", 2_000)
    settings = Settings(saved_states_dir=tmp_path / "s")
    manager = JobManager(loader=PluginLoader(settings.custom_modules_dir))
    ids = [
        manager.create(load_job_config(_job(tmp_path, name, data, fail_at, LITERAL))).id
        for name, fail_at in (("careless", 0), ("crashing", 300))
    ]
    spec = tmp_path / "leaky.sweep.yaml"  # the careless job's config, literal secret and all
    spec.write_text("job: careless.yaml\nparams: {fail_at: [0, 300]}\nworkers: 1\n")
    sweeps = SweepJobs(manager.bus, manager.loader, settings.saved_states_dir / JOURNAL_NAME)
    listening = bind_for(settings, ApiOptions(port=0))
    assert listening.tcp_address is not None
    base = "http://{}:{}/api/v1".format(*listening.tcp_address)
    seen: list[str] = []
    headers = {"Authorization": f"Bearer {API_TOKEN}"}
    try:
        with caplog.at_level("DEBUG"):
            async with (
                ControlServer(LocalJobControl(manager, sweeps), listening),
                aiohttp.ClientSession(headers=headers) as http,
                http.ws_connect(base + "/events") as events,
            ):
                async with http.post(f"{base}/sweeps", json={"spec": str(spec)}) as response:
                    assert response.status == 200, await response.text()
                    sweep_id = await response.json()
                for job_id in [*ids, sweep_id]:
                    async with http.post(f"{base}/jobs/{job_id}/start") as response:
                        seen.append(await response.text())
                for job_id in ids:
                    await manager.wait(job_id)
                await asyncio.wait_for(sweeps.get(sweep_id).wait(), 60)
                assert sweeps.get(sweep_id).status is JobStatus.FINISHED
                while not events.closed:
                    try:
                        seen.append(str((await events.receive(timeout=0.3)).data))
                    except TimeoutError:
                        break
                queried = set()
                for operation in OPERATIONS:
                    if operation.command:
                        continue
                    for job_id in [*ids, sweep_id]:
                        path = operation.path.format(
                            job_id=job_id,
                            sweep_id=sweep_id,
                            trial=0,
                            kind="strategies",
                            strategy="leaky",
                        )
                        query = {"bars": 500, "points": 100, "job_ids": job_id}
                        params = {
                            p.name: query[p.name] for p in operation.params if p.name in query
                        }
                        async with http.get(base + path, params=params) as response:
                            assert response.status == 200, (path, await response.text())
                            seen.append(await response.text())
                        queried.add(operation.name)
                assert queried == {op.name for op in OPERATIONS if not op.command}  # sweeps too
                async with http.post(f"{base}/jobs/{ids[0]}/speed", json={"factor": 2}) as response:
                    seen.append(await response.text())  # an error naming the job
    finally:
        await sweeps.shutdown()  # its worker processes too
    assert any('"secret":"***"' in text.replace(" ", "") for text in seen)  # the config
    assert any("authentication failed for key ***" in text for text in seen)
    assert any('"error":"RuntimeError: authentication failed for key ***"' in text for text in seen)
    assert any("connecting with api key ***" in text for text in seen)
    logged = "\n".join(record.getMessage() for record in caplog.records)
    for secret in (API_KEY, API_SECRET, API_TOKEN, LITERAL):
        for text in [*seen, logged]:
            assert secret not in text
