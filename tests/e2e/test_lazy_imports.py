"""ccxt (~0.5 s, ~100 MB) is imported only when a paper/live job or a download needs it,
pandas only when a candle file is parsed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from ats.demo import DEMO_DATA

PROBE = """
import sys
from ats.cli import main
try:
    main({argv!r})
except SystemExit:
    pass
print("ccxt" in sys.modules, "textual" in sys.modules)
"""


def _modules_after(argv: list[str], cwd: Path | None = None) -> tuple[bool, bool]:
    result = subprocess.run(
        [sys.executable, "-c", PROBE.format(argv=argv)], capture_output=True, text=True, cwd=cwd
    )
    ccxt, textual = result.stdout.strip().splitlines()[-1].split()
    return ccxt == "True", textual == "True"


def test_help_imports_neither_ccxt_nor_textual() -> None:
    assert _modules_after(["--help"]) == (False, False)


def test_backtest_and_paper_replay_do_not_import_ccxt(tmp_path: Path) -> None:
    ccxt, _ = _modules_after(
        ["backtest", "--strategy", "sma_cross", "--data", str(DEMO_DATA), "--quiet"]
    )
    assert not ccxt
    replay = tmp_path / "replay.yaml"
    replay.write_text(
        "name: replay\n"
        f"exchange: {{name: paper, params: {{feed: replay, data: {DEMO_DATA}, speed: 0}}}}\n"
        "strategy: {name: sma_cross, params: {fast: 50, slow: 200}}\n"
    )
    ccxt, _ = _modules_after(["run", str(replay), "--no-ui"], cwd=tmp_path)  # saves its job
    assert not ccxt


CONSOLE_PROBE = """
import asyncio, sys
from pathlib import Path
from ats.trading_job.job_manager import JobManager
from ats.persistence.persistent_jobs import PersistentJobs
from ats.ui.app import AtsApp
from ats.ui.launch import console_hooks
from ats.utils.settings import Settings

async def main() -> None:
    settings = Settings(_env_file=None, saved_states_dir=Path(sys.argv[1]))
    manager = JobManager()
    app = AtsApp(manager, settings_path=None, **console_hooks(PersistentJobs(manager, settings)))
    async with app.run_test(size=(80, 24)) as pilot:
        while not app.started:
            await pilot.pause(0.05)
        for job in manager:
            if not job.status.is_active:
                manager.start(job.id)  # the demo replay runs through the paper exchange
        await pilot.pause(1.0)
        modes = sorted(job.mode for job in manager)
        await pilot.press("q")
    print(modes, "ccxt" in sys.modules)

asyncio.run(main())
"""


def test_the_console_with_its_demo_jobs_does_not_import_ccxt(tmp_path: Path) -> None:
    """The real start path: persistence hooks, both demo jobs created, saved and running."""
    result = subprocess.run(
        [sys.executable, "-c", CONSOLE_PROBE, str(tmp_path / "state")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "['backtest', 'paper'] False"
    assert sorted(path.name for path in (tmp_path / "state").glob("*.json"))  # saved


PANDAS_PROBE = """
import sys
from ats.cli import main
code = main({argv!r})
print(code, "pandas" in sys.modules)
"""


def test_a_backtest_on_cached_candles_does_not_import_pandas(tmp_path: Path) -> None:
    """pandas is ~0.15 s of the whole process (bench/whole_process.py): only parsing a
    candle file needs it, and the second run reads the candle cache."""
    argv = ["backtest", "--strategy", "sma_cross", "--data", str(DEMO_DATA), "--quiet"]
    env = {"ATS_CANDLE_CACHE_DIR": str(tmp_path / "cache"), "PATH": "/usr/bin:/bin"}
    runs = [
        subprocess.run(
            [sys.executable, "-c", PANDAS_PROBE.format(argv=argv)],
            capture_output=True,
            text=True,
            env=env,
            cwd=tmp_path,
        )
        for _ in range(2)
    ]
    assert [run.stdout.strip().splitlines()[-1] for run in runs] == ["0 True", "0 False"]
