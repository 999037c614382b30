"""Acceptance (issue 14, items 5-7): a corpus of bad inputs through every CLI path.

Every case must end in exactly one line on stderr (``ats: error: …`` naming the file,
line or field), exit code 2, and no traceback anywhere. Most cases run in-process through
``ats.cli.main`` (a subprocess costs ~0.5 s); a few run as real processes.

Plugins come from ``ATS_CUSTOM_MODULES_DIR`` (``mods/``, not ``./custom_modules``), so
every path is also checked to honour it (item 7).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from ats.cli import main
from ats.demo import DEMO_DATA

CSV_LINES = DEMO_DATA.read_text().splitlines()
GOOD_ROWS = 6_000


def _good_csv(path: Path) -> Path:
    path.write_text("\n".join(CSV_LINES[: GOOD_ROWS + 1]) + "\n")
    return path


def _nan_on_line_5000(path: Path) -> None:
    lines = CSV_LINES[: GOOD_ROWS + 1]
    fields = lines[4999].split(",")
    fields[4] = "nan"
    lines[4999] = ",".join(fields)
    path.write_text("\n".join(lines) + "\n")


def _garbage(path: Path) -> None:
    path.write_bytes(bytes((index * 7919 + 13) % 256 for index in range(4_000)))


CANDLE_CASES: dict[str, tuple[Callable[[Path], object] | None, list[str]]] = {
    "nan_on_line_5000": (_nan_on_line_5000, ["line 5000", "close is NaN"]),
    "empty": (lambda path: path.write_text(""), ["file is empty"]),
    "header_only": (lambda path: path.write_text(CSV_LINES[0] + "\n"), ["header only"]),
    "missing_column": (
        lambda path: path.write_text(
            "\n".join(",".join(line.split(",")[:5]) for line in CSV_LINES[:100]) + "\n"
        ),
        ["missing column 'volume'"],
    ),
    "semicolons": (
        lambda path: path.write_text("\n".join(line.replace(",", ";") for line in CSV_LINES[:100])),
        ["missing time column", "separated by commas"],
    ),
    "garbage_bytes": (_garbage, ["line 1", "not a CSV text file", "\\x"]),
    "missing_file": (None, ["file not found"]),
}


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory with good candles, plugins in ``mods/`` and its own state."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ATS_SAVED_STATES_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("ATS_CUSTOM_MODULES_DIR", "mods")
    _good_csv(tmp_path / "good.csv")
    _plugins(tmp_path / "mods")
    return tmp_path


def _plugins(root: Path) -> None:
    strategies = root / "strategies"
    for name, body in {
        "quiet": "    def on_candle(self, candle):\n        pass\n",
        "setup_raises": (
            "    def setup(self):\n        self.ratio = 1 / 0\n\n"
            "    def on_candle(self, candle):\n        pass\n"
        ),
        "syntax_error": "    def on_candle(self, candle:\n        pass\n",
    }.items():
        (strategies / name).mkdir(parents=True)
        (strategies / name / "strategy.py").write_text(
            "from ats.strategies.base_strategy import BaseStrategy\n\n\n"
            f"class Strategy(BaseStrategy):\n{body}"
        )
    (root / "fees").mkdir()
    (root / "fees" / "grumpy.py").write_text(
        "from ats.exchanges.base_fees import BaseFees\n\n\n"
        "class Grumpy(BaseFees):\n"
        "    def __init__(self, **config):\n"
        "        super().__init__(**config)\n"
        "        self.rate = config['rate'] * 2\n\n"
        "    def calculate(self, size, price, order_type, side):\n"
        "        raise NotImplementedError\n"
    )


def _job_yaml(
    path: Path,
    *,
    data: str = "good.csv",
    strategy: str = "quiet",
    extra: str = "",
    exchange: str = "back_trading",
    exchange_params: str = "",
) -> Path:
    path.write_text(
        f"name: {path.stem}\n"
        f"exchange: {{name: {exchange}, params: {{data: {data}{exchange_params}}}}}\n"
        f"strategy: {{name: {strategy}}}\n{extra}"
    )
    return path


def _one_error_line(
    capsys: pytest.CaptureFixture[str], code: int, expected: list[str], *, stdout_clean: bool
) -> str:
    out, err = capsys.readouterr()
    assert code == 2, (code, out, err)
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("ats: error: "), err
    for fragment in expected:
        assert fragment in lines[0], (fragment, lines[0])
    assert "Traceback" not in out + err
    if stdout_clean:
        assert out == "", out
    return lines[0]


# -- candle files: ats backtest, ats run, ats jobs add, ats --no-ui --------------------------
@pytest.mark.parametrize("case", list(CANDLE_CASES))
@pytest.mark.parametrize("path", ["backtest", "run", "jobs add"])
def test_bad_candle_file(
    home: Path, capsys: pytest.CaptureFixture[str], case: str, path: str
) -> None:
    write, expected = CANDLE_CASES[case]
    data = home / f"{case}.csv"
    if write is not None:
        write(data)
    if path == "backtest":
        argv = ["backtest", "--strategy", "quiet", "--data", data.name, "--quiet"]
    else:
        config = _job_yaml(home / "job.yaml", data=data.name)
        argv = ["run", str(config), "--no-ui"] if path == "run" else ["jobs", "add", str(config)]
        expected = [*expected, "job.yaml"]
    code = main(argv)
    _one_error_line(capsys, code, [data.name, *expected], stdout_clean=True)
    assert not list((home / "state").glob("*.json"))  # nothing saved


@pytest.mark.parametrize("case", ["nan_on_line_5000", "garbage_bytes", "missing_file"])
def test_bad_candle_file_under_no_ui(
    home: Path, capsys: pytest.CaptureFixture[str], case: str
) -> None:
    """A saved job's file went bad: one line, exit 2, the other job runs, and the bad one
    stays saved as running so fixing the file is enough."""
    _good_csv(home / "data.csv")
    for name, data in (("bad", "data.csv"), ("fine", "good.csv")):
        config = _job_yaml(home / f"{name}.yaml", data=data)
        assert main(["jobs", "add", str(config), "--start"]) == 0
    capsys.readouterr()
    write, expected = CANDLE_CASES[case]
    (home / "data.csv").unlink()
    if write is not None:
        write(home / "data.csv")
    code = main(["--no-ui"])
    _one_error_line(capsys, code, ["job bad", "data.csv", *expected], stdout_clean=False)
    assert main(["jobs", "list", "--json"]) == 0
    statuses = {row["name"]: row["status"] for row in _json(capsys.readouterr().out)}
    assert statuses == {"bad": "running", "fine": "finished"}


def _json(text: str) -> list[dict[str, object]]:
    import json

    return json.loads(text)  # type: ignore[no-any-return]


# -- configs: ats run and ats jobs add -------------------------------------------------------
BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{name}: &{name} [{', '.join([f'*{previous}'] * 9)}]\n"
    for previous, name in zip("abcdefgh", "bcdefghi", strict=True)
)

CONFIG_CASES: dict[str, tuple[dict[str, str], list[str]]] = {
    "negative_slippage": (
        {"exchange_params": ", slippage_bps: -50"},
        ["exchange.params.slippage_bps", "-50"],
    ),
    "unknown_exchange": ({"exchange": "nowhere"}, ["exchange.name", "unknown exchange"]),
    "unknown_strategy": ({"strategy": "nothing"}, ["strategy.name", "unknown strategy"]),
    "unknown_fees": ({"extra": "fees: {name: nofee}\n"}, ["fees.name", "unknown fee model"]),
    "fee_out_of_range": (
        {"extra": "fees: {name: flat_rate, params: {rate: 5}}\n"},
        ["fees.rate", "[0, 1)"],
    ),
    "fee_plugin_raises": (
        {"extra": "fees: {name: grumpy}\n"},
        ["fees.params", "grumpy.py:7 in __init__()", "KeyError"],
    ),
    "balance_inf": ({"extra": "balances: {USDT: .inf}\n"}, ["balances.USDT", "finite"]),
    "balance_nan": ({"extra": "balances: {USDT: .nan}\n"}, ["balances.USDT", "finite"]),
    "param_nan": (
        {"extra": "vectorised: false\nrisk: {max_order_value: .nan}\n"},
        ["risk.max_order_value", "finite"],
    ),
    "exchange_param_inf": (
        {"exchange_params": ", speed: -.inf"},
        ["exchange.params", "speed", "finite"],
    ),
    "order_limit_zero": (
        {"extra": "risk: {max_orders_per_candle: 0}\n"},
        ["risk.max_orders_per_candle"],
    ),
    "setup_raises": (
        {"strategy": "setup_raises"},
        ["strategy:", "setup_raises/strategy.py:6 in setup()", "ZeroDivisionError"],
    ),
    "plugin_syntax_error": (
        {"strategy": "syntax_error"},
        ["syntax_error/strategy.py:5: syntax error"],
    ),
}


@pytest.mark.parametrize("case", list(CONFIG_CASES))
@pytest.mark.parametrize("path", ["run", "jobs add"])
def test_bad_config(home: Path, capsys: pytest.CaptureFixture[str], case: str, path: str) -> None:
    fields, expected = CONFIG_CASES[case]
    config = _job_yaml(home / "job.yaml", **fields)
    argv = ["run", str(config), "--no-ui"] if path == "run" else ["jobs", "add", str(config)]
    _one_error_line(capsys, main(argv), ["job.yaml", *expected], stdout_clean=True)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (BOMB + "name: *i\n", ["line 2", "aliases (*a) are not allowed"]),
        ("name: x\nexchange: " + "[" * 100 + "]" * 100, ["nested more than 64 levels"]),
        ("# padding\n" * 120_000, ["larger than 1,048,576 bytes"]),
        ("name: caf\xe9\n", ["not UTF-8"]),
        ("name: x\nstrategy: [1, 2\n", ["invalid YAML"]),
    ],
    ids=["alias_bomb", "deep", "oversized", "latin1", "broken_yaml"],
)
@pytest.mark.parametrize("path", ["run", "jobs add"])
def test_bad_yaml_file(
    home: Path, capsys: pytest.CaptureFixture[str], text: str, expected: list[str], path: str
) -> None:
    config = home / "job.yaml"
    config.write_bytes(text.encode("latin-1") if "\xe9" in text else text.encode())
    argv = ["run", str(config), "--no-ui"] if path == "run" else ["jobs", "add", str(config)]
    _one_error_line(capsys, main(argv), ["job.yaml", *expected], stdout_clean=True)


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        (["--slippage-bps", "-50"], ["--slippage-bps"]),
        (["--cash", "inf"], ["--cash", "finite"]),
        (["--cash", "nan"], ["--cash", "finite"]),
        (["--fee", "5"], ["fees.rate"]),
        (["--param", "N=.nan"], ["strategy.params: N must be a finite number"]),
        (["--param", "N=*a"], ["--param N", "aliases"]),
        (["--strategy", "nothing"], ["strategy.name", "unknown strategy 'nothing'"]),
        (["--strategy", "setup_raises"], ["setup_raises/strategy.py:6 in setup()"]),
        (["--json", "no/such/dir/out.json"], ["--json", "no/such/dir"]),
    ],
    ids=lambda value: "_".join(value) if isinstance(value, list) else None,
)
def test_bad_backtest_flags(
    home: Path, capsys: pytest.CaptureFixture[str], flags: list[str], expected: list[str]
) -> None:
    argv = ["backtest", "--strategy", "rsi_reversion", "--data", "good.csv", "--quiet"]
    _one_error_line(capsys, main([*argv, *flags]), expected, stdout_clean=True)


def test_broken_plugin_under_no_ui(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A saved job whose strategy's setup() broke later: one line naming file and line."""
    assert main(["jobs", "add", str(_job_yaml(home / "job.yaml")), "--start"]) == 0
    capsys.readouterr()
    strategy = home / "mods" / "strategies" / "quiet" / "strategy.py"
    strategy.write_text((home / "mods" / "strategies" / "setup_raises" / "strategy.py").read_text())
    expected = ["job job", "quiet/strategy.py:6 in setup()", "ZeroDivisionError"]
    _one_error_line(capsys, main(["--no-ui"]), expected, stdout_clean=False)


# -- ats data download: the file it would resume -----------------------------------------
def _download_file_with_nan(path: Path) -> None:
    rows = [",".join(line.split(",")[:6]) for line in CSV_LINES[1:3_000]]
    fields = rows[1_999].split(",")
    fields[4] = "nan"
    rows[1_999] = ",".join(fields)
    path.write_text("time,open,high,low,close,volume\n" + "\n".join(rows) + "\n")


@pytest.mark.parametrize(
    ("write", "expected"),
    [
        (_download_file_with_nan, ["line 2001", "close is NaN"]),
        (CANDLE_CASES["missing_column"][0], ["line 1", "not a file written by ats data"]),
        (CANDLE_CASES["semicolons"][0], ["line 1", "time;open"]),
        (_garbage, ["line 1", "\\x"]),
    ],
    ids=["nan_on_line_2001", "missing_column", "semicolons", "garbage_bytes"],
)
def test_bad_file_to_resume_download(
    home: Path,
    capsys: pytest.CaptureFixture[str],
    write: Callable[[Path], object],
    expected: list[str],
) -> None:
    out = home / "btc.csv"
    write(out)
    before = out.read_bytes()
    argv = [
        "data", "download", "--exchange", "binance", "--symbol", "BTC/USDT",
        "--timeframe", "1m", "--since", "2022-01-01", "--until", "2022-01-02",
        "--out", str(out), "--url", "http://127.0.0.1:9",  # never reached
    ]  # fmt: skip
    _one_error_line(capsys, main(argv), ["btc.csv", *expected], stdout_clean=True)
    assert out.read_bytes() == before  # nothing lost


def test_download_option_alias_refused(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = [
        "data", "download", "--exchange", "binance", "--symbol", "BTC/USDT", "--timeframe",
        "1m", "--since", "2022-01-01", "--url", "http://127.0.0.1:9", "--option", "x=*a",
    ]  # fmt: skip
    _one_error_line(capsys, main(argv), ["--option x", "aliases"], stdout_clean=True)


# -- the same as real processes ------------------------------------------------------------
def test_real_processes(home: Path) -> None:
    env = {**os.environ, "ATS_SAVED_STATES_DIR": "state", "ATS_CUSTOM_MODULES_DIR": "mods"}

    def ats(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "ats.cli", *args],
            cwd=home,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    _nan_on_line_5000(home / "nan.csv")
    (home / "bomb.yaml").write_text(BOMB + "name: *i\n")
    _job_yaml(home / "setup.yaml", strategy="setup_raises")
    _job_yaml(home / "later.yaml", data="later.csv")
    _good_csv(home / "later.csv")
    assert ats("jobs", "add", "later.yaml", "--start").returncode == 0
    _garbage(home / "later.csv")
    for args, expected in (
        (["backtest", "--strategy", "quiet", "--data", "nan.csv"], "nan.csv line 5000"),
        (["run", "bomb.yaml", "--no-ui"], "bomb.yaml line 2"),
        (["jobs", "add", "setup.yaml"], "setup_raises/strategy.py:6 in setup()"),
        (["--no-ui"], "later.csv line 1: not a CSV text file"),
    ):
        result = ats(*args)
        assert result.returncode == 2, (args, result.stdout, result.stderr)
        assert len(result.stderr.splitlines()) == 1 and expected in result.stderr, result.stderr
        assert "Traceback" not in result.stdout + result.stderr


# -- one plugin search path (item 7) -------------------------------------------------------
def test_plugin_folder_from_dotenv_for_every_command(
    home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``.env``'s ATS_CUSTOM_MODULES_DIR serves strategies and the indicators they use."""
    monkeypatch.delenv("ATS_CUSTOM_MODULES_DIR")
    (home / ".env").write_text("ATS_CUSTOM_MODULES_DIR=envmods\n")
    root = home / "envmods"
    (root / "indicators").mkdir(parents=True)
    roc = Path(__file__).parents[2] / "custom_modules" / "indicators" / "roc.py"
    (root / "indicators" / "momentum.py").write_text(roc.read_text())
    (root / "strategies" / "env_only").mkdir(parents=True)
    (root / "strategies" / "env_only" / "strategy.py").write_text(
        "from ats.strategies.base_strategy import BaseStrategy\n\n\n"
        "class Strategy(BaseStrategy):\n"
        "    def setup(self):\n        self.momentum = self.indicator('momentum', N=5)\n\n"
        "    def on_candle(self, candle):\n"
        "        if self.momentum.result > 0 and not self.open_orders():\n"
        "            self.buy(0.001)\n"
    )
    config = _job_yaml(home / "env.yaml", strategy="env_only")
    argv = ["backtest", "--strategy", "env_only", "--data", "good.csv", "--quiet"]
    assert main(argv) == 0, capsys.readouterr().err
    assert main(["run", str(config), "--no-ui"]) == 0, capsys.readouterr().err
    assert main(["jobs", "add", str(config), "--start"]) == 0, capsys.readouterr().err
    assert main(["--no-ui"]) == 0, capsys.readouterr().err
    assert "Traceback" not in capsys.readouterr().out
