"""Issue 14, item 6: the job form shows bad input inline, under the field it concerns,
and creates nothing (NaN cash, a garbage candle file, a YAML alias, a broken setup())."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from textual.widgets import Input, Select
from ui_helpers import focus_on, press, type_text, wait_for

from ats.demo import DEMO_DATA
from ats.trading_job.job_manager import JobManager
from ats.ui.app import AtsApp
from ats.ui.screens.job_form import JobFormScreen
from ats.utils.plugins import PluginLoader


async def _set(pilot: object, form: JobFormScreen, widget: Input, text: str) -> None:
    await focus_on(pilot, widget)  # type: ignore[arg-type]
    await press(pilot, "ctrl+u")  # type: ignore[arg-type]
    await type_text(pilot, text)  # type: ignore[arg-type]


async def test_form_refuses_hostile_input_inline(
    make_app: Callable[..., AtsApp], tmp_path: Path
) -> None:
    custom = tmp_path / "mods" / "strategies" / "setup_raises"
    custom.mkdir(parents=True)
    (custom / "strategy.py").write_text(
        "from ats.strategies.base_strategy import BaseStrategy\n\n\n"
        "class Strategy(BaseStrategy):\n"
        "    def setup(self):\n        self.ratio = 1 / 0\n\n"
        "    def on_candle(self, candle):\n        pass\n"
    )
    garbage = tmp_path / "garbage.csv"
    garbage.write_bytes(bytes(range(256)) * 8)
    manager = JobManager(loader=PluginLoader(tmp_path / "mods"))
    app = make_app(manager)
    async with app.run_test(size=(120, 40)) as pilot:
        await press(pilot, "n")
        await wait_for(pilot, lambda: isinstance(app.screen, JobFormScreen))
        form = app.screen
        assert isinstance(form, JobFormScreen)
        await wait_for(pilot, lambda: len(form.query(".param-input")) == 3)
        fast = next(w for w in form.query(".param-input").results(Input) if w.id.endswith("fast"))
        await _set(pilot, form, form.query_one("#f-cash", Input), "nan")
        await _set(pilot, form, form.query_one("#f-data", Input), str(garbage))
        await _set(pilot, form, fast, "*a")
        await press(pilot, "ctrl+s")
        assert isinstance(app.screen, JobFormScreen) and len(manager) == 0
        assert "finite" in form.errors["cash"]
        assert "garbage.csv line 1: not a CSV text file" in form.errors["data"]
        assert "\\x00" in form.errors["data"] and len(form.errors["data"]) < 200
        assert "aliases" in form.errors["param:fast"]

        await _set(pilot, form, form.query_one("#f-cash", Input), "1000")
        await _set(pilot, form, form.query_one("#f-data", Input), str(DEMO_DATA))
        select = form.query_one("#f-strategy", Select)
        await wait_for(pilot, lambda: bool(select.query("#label")))
        select.value = "setup_raises"
        await pilot.pause(0.1)
        await press(pilot, "ctrl+s")
        assert isinstance(app.screen, JobFormScreen) and len(manager) == 0
        assert "setup_raises/strategy.py:6 in setup(): ZeroDivisionError" in form.errors["strategy"]
