"""Acceptance 5: with fake credentials in ``.env`` none of them reaches the journal, a
snapshot, a log or the console, and every state file is owner-only (0600)."""

from __future__ import annotations

import json
import stat
import textwrap
from pathlib import Path

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


def _job(tmp_path: Path, name: str, data: Path, fail_at: int) -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(
        textwrap.dedent(
            f"""
            name: {name}
            balances: {{USDT: 10000}}
            exchange:
              name: back_trading
              params: {{data: {data}, api_key_env: BINANCE_API_KEY, secret: {API_SECRET}}}
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
