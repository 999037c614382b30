"""The console tells the trader what is going on (issue 10): screenshots, metrics, the
header, the log and the keys."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from ui_helpers import wait_for

from ats.ui.app import AtsApp


async def test_screenshot_is_saved_under_the_state_directory(
    make_app: Callable[..., AtsApp], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Bug 7: with no ~/Downloads the palette's Screenshot failed; now it lands in the
    state directory and the toast says where."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("XDG_DOWNLOAD_DIR", raising=False)
    state = tmp_path / "state"
    app = make_app(settings_path=state / "ui.json")
    async with app.run_test(size=(100, 30)) as pilot:
        app.deliver_screenshot()
        shots = state / "screenshots"
        await wait_for(pilot, lambda: shots.is_dir() and any(shots.glob("*.svg")))
        saved = next(shots.glob("*.svg"))
        await wait_for(pilot, lambda: any(str(saved) in n.message for n in app._notifications))
        assert not any(n.severity == "error" for n in app._notifications)
        assert "<svg" in saved.read_text(encoding="utf-8")[:500]
