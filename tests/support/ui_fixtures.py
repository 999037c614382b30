"""Fixtures for console tests: a real JobManager with real back_trading jobs.

Every app gets ``demo=False`` (tests add their own jobs), a temporary settings file, the
repository's themes and a pinned log clock, so runs are isolated and snapshots stable.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from ui_helpers import fixed_clock, write_candles

from ats.trading_job.job_manager import JobManager
from ats.ui.app import AtsApp
from ats.ui.themes import BUNDLED_THEMES


@pytest.fixture(scope="session")
def long_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """1M candles: a backtest long enough (~1 s) to pause, reload and stop mid-run."""
    return write_candles(tmp_path_factory.mktemp("candles") / "long.parquet", 1_000_000)


@pytest.fixture
def manager() -> JobManager:
    return JobManager()


@pytest.fixture
def make_app(tmp_path: Path) -> Callable[..., AtsApp]:
    def factory(manager: JobManager | None = None, **kwargs: Any) -> AtsApp:
        options: dict[str, Any] = {
            "demo": False,
            "settings_path": tmp_path / "ui.json",
            "theme_dirs": [BUNDLED_THEMES],
            "log_clock": fixed_clock,
        }
        options.update(kwargs)
        return AtsApp(manager if manager is not None else JobManager(), **options)

    return factory
