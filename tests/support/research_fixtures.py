"""Fixtures for the research tests: small candle files and a state directory of their own."""

from __future__ import annotations

from pathlib import Path

import pytest

from ats.utils.synthetic_candles import save_parquet


@pytest.fixture
def state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """ATS_SAVED_STATES_DIR for this test (the trial journal lives there)."""
    path = tmp_path / "state"
    monkeypatch.setenv("ATS_SAVED_STATES_DIR", str(path))
    return path


@pytest.fixture(scope="session")
def candles_5k(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_parquet(tmp_path_factory.mktemp("candles") / "candles-5k.parquet", 5_000)
