"""Acceptance: bad input gets a clear one-line error naming the file/line/field, and
nothing else crashes (corrupt CSV, bad YAML, unknown strategy, broken custom module,
a strategy that raises)."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from ats.demo import DEMO_DATA
from ats.exceptions import ConfigError, PluginError
from ats.trading_job.job_config import load_job_config, parse_job_config
from ats.trading_job.job_manager import JobManager
from ats.trading_job.trading_job import JobStatus
from ats.utils.plugins import PluginLoader


def _ats(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ats.cli", *args], cwd=cwd, capture_output=True, text=True
    )


def _job(name: str, strategy: str, data: Path = DEMO_DATA, **params: object) -> dict:  # type: ignore[type-arg]
    return {
        "name": name,
        "exchange": {"name": "back_trading", "params": {"data": str(data)}},
        "strategy": {"name": strategy, "params": params},
    }


# -- corrupt CSV -------------------------------------------------------------------------
def test_corrupt_csv_names_file_and_line(tmp_path: Path) -> None:
    lines = DEMO_DATA.read_text().splitlines()[:50]
    lines[17] = lines[17].replace(lines[17].split(",")[2], "not-a-number", 1)
    bad = tmp_path / "bad.csv"
    bad.write_text("\n".join(lines) + "\n")
    result = _ats("backtest", "--strategy", "buy_and_hold", "--data", str(bad), cwd=tmp_path)
    assert result.returncode != 0
    error_lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(error_lines) == 1, result.stderr
    assert "bad.csv" in error_lines[0] and "line 18" in error_lines[0]


def test_corrupt_csv_in_one_job_leaves_the_other_running(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("time,open,high,low,close,volume\n2022-01-01,1,0.5,1,1,1\n")

    async def scenario() -> tuple[JobStatus, JobStatus, str | None]:
        manager = JobManager()
        good = manager.create(parse_job_config(_job("good", "buy_and_hold")))
        broken = manager.create(parse_job_config(_job("broken", "buy_and_hold", data=bad)))
        manager.start(good.id)
        manager.start(broken.id)
        await manager.wait_all()
        return good.status, broken.status, broken.error

    good, broken, error = asyncio.run(scenario())
    assert good is JobStatus.FINISHED
    assert broken is JobStatus.ERROR
    assert error is not None and "bad.csv" in error and "line 2" in error


# -- bad YAML / config -------------------------------------------------------------------
def test_invalid_yaml_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "job.yaml"
    path.write_text("name: x\nstrategy: {name: sma_cross\nexchange: [\n")
    with pytest.raises(ConfigError, match=r"job\.yaml line \d+: invalid YAML"):
        load_job_config(path)


def test_bad_field_is_named(tmp_path: Path) -> None:
    path = tmp_path / "job.yaml"
    path.write_text(
        textwrap.dedent(
            f"""\
            name: x
            exchange: {{name: back_trading, params: {{data: {DEMO_DATA}}}}}
            strategy: {{name: sma_cross, params: {{fast: fifty, slow: 200}}}}
            """
        )
    )
    config = load_job_config(path)  # the YAML shape is fine; params are validated on create
    with pytest.raises(ConfigError, match=r"strategy\.params\.fast: .*integer"):
        JobManager().create(config)
    path.write_text(
        "name: x\nexchange: {name: back_trading}\nstrategy: {name: sma_cross}\nbalance: 3\n"
    )
    with pytest.raises(ConfigError, match=r"job\.yaml: balance: unknown field"):
        load_job_config(path)


def test_cli_reports_config_errors_in_one_line(tmp_path: Path) -> None:
    path = tmp_path / "job.yaml"
    path.write_text("name: x\nexchange: {name: back_trading}\nstrategy: [1, 2\n")
    result = _ats("run", str(path), "--no-ui", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "job.yaml line" in result.stderr


# -- unknown / broken plugins ------------------------------------------------------------
def test_unknown_strategy() -> None:
    with pytest.raises(PluginError, match="unknown strategy 'no_such_thing'"):
        JobManager().create(parse_job_config(_job("x", "no_such_thing")))


def test_plugin_names_cannot_escape_the_folder() -> None:
    with pytest.raises(ConfigError, match=r"strategy\.name"):
        parse_job_config(_job("x", "../../etc/passwd"))
    with pytest.raises(PluginError, match="invalid plugin name"):
        PluginLoader().load("strategies", "../evil")


@pytest.fixture
def custom_root(tmp_path: Path) -> Path:
    root = tmp_path / "custom_modules"
    (root / "strategies" / "syntax_error").mkdir(parents=True)
    (root / "strategies" / "syntax_error" / "strategy.py").write_text("def on_candle(:\n")
    (root / "strategies" / "no_class").mkdir()
    (root / "strategies" / "no_class" / "strategy.py").write_text("X = 1\n")
    (root / "strategies" / "wrong_base").mkdir()
    (root / "strategies" / "wrong_base" / "strategy.py").write_text("class Strategy:\n    pass\n")
    (root / "strategies" / "raises_on_import").mkdir()
    (root / "strategies" / "raises_on_import" / "strategy.py").write_text(
        "import math\n\nraise RuntimeError('boom')\n"
    )
    shutil.copytree(
        Path(__file__).parents[2] / "custom_modules" / "strategies" / "bollinger_breakout",
        root / "strategies" / "bollinger_breakout",
    )
    return root


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("syntax_error", r"syntax_error/strategy\.py:1: syntax error"),
        ("no_class", r"no_class/strategy\.py: no class named Strategy"),
        ("wrong_base", r"wrong_base/strategy\.py: Strategy must subclass BaseStrategy"),
        ("raises_on_import", r"raises_on_import/strategy\.py:3: import failed: RuntimeError"),
    ],
)
def test_broken_custom_module_names_its_file(custom_root: Path, name: str, message: str) -> None:
    with pytest.raises(PluginError, match=message) as error:
        PluginLoader(custom_root).load("strategies", name)
    assert "\n" not in str(error.value)


def test_broken_custom_modules_do_not_stop_the_others(custom_root: Path) -> None:
    available = PluginLoader(custom_root).available("strategies")
    assert available["bollinger_breakout"] is None
    assert available["sma_cross"] is None and available["buy_and_hold"] is None
    for broken in ("syntax_error", "no_class", "wrong_base", "raises_on_import"):
        assert available[broken] and str(custom_root) in available[broken]  # type: ignore[operator]


def test_custom_module_overrides_builtin(tmp_path: Path) -> None:
    folder = tmp_path / "strategies" / "buy_and_hold"
    folder.mkdir(parents=True)
    (folder / "strategy.py").write_text(
        textwrap.dedent(
            """\
            from ats.strategies.base_strategy import BaseStrategy

            class Strategy(BaseStrategy):
                name = "buy_and_hold"
                overridden = True

                def on_candle(self, candle):
                    pass
            """
        )
    )
    assert getattr(PluginLoader(tmp_path).load("strategies", "buy_and_hold"), "overridden", False)


# -- a strategy that raises ----------------------------------------------------------------
def test_strategy_exception_fails_only_its_job(tmp_path: Path) -> None:
    folder = tmp_path / "strategies" / "explodes"
    folder.mkdir(parents=True)
    (folder / "strategy.py").write_text(
        textwrap.dedent(
            """\
            from ats.strategies.base_strategy import BaseStrategy

            class Strategy(BaseStrategy):
                def on_candle(self, candle):
                    if candle.close < 29_000:
                        raise ZeroDivisionError("strategy bug at " + str(candle.close))
            """
        )
    )

    async def scenario() -> tuple[object, object]:
        manager = JobManager(loader=PluginLoader(tmp_path))
        bad = manager.create(parse_job_config(_job("bad", "explodes")))
        good = manager.create(parse_job_config(_job("good", "sma_cross", fast=50, slow=200)))
        manager.start(bad.id)
        manager.start(good.id)
        await manager.wait_all()
        return bad, good

    bad, good = asyncio.run(scenario())
    assert bad.status is JobStatus.ERROR  # type: ignore[attr-defined]
    assert "ZeroDivisionError: strategy bug at" in bad.error  # type: ignore[attr-defined]
    traceback_text = "\n".join(log.message for log in bad.logs)  # type: ignore[attr-defined]
    assert "Traceback" in traceback_text and "explodes/strategy.py" in traceback_text
    assert 0 < bad.exchange.cursor < 9_999  # type: ignore[attr-defined]
    assert good.status is JobStatus.FINISHED  # type: ignore[attr-defined]
    assert good.report["metrics"]["num_trades"] > 0  # type: ignore[attr-defined]


def test_cli_exit_code_when_strategy_raises(tmp_path: Path) -> None:
    folder = tmp_path / "custom_modules" / "strategies" / "explodes"
    folder.mkdir(parents=True)
    (folder / "strategy.py").write_text(
        "from ats.strategies.base_strategy import BaseStrategy\n\n"
        "class Strategy(BaseStrategy):\n"
        "    def on_candle(self, candle):\n"
        "        raise ValueError('nope')\n"
    )
    result = _ats("backtest", "--strategy", "explodes", "--data", str(DEMO_DATA), cwd=tmp_path)
    assert result.returncode == 1
    assert "job backtest-explodes failed: ValueError: nope" in result.stderr
