"""A sweep in the console is a job like any other (issue 12, item 6 and acceptance 8).

Real parts only: the sweep is created from a YAML spec through the console's form, runs
its trials on a real worker process and journals them in a real SQLite file. A custom
strategy holds its last trials until a gate file exists, so the screen is captured while
the sweep is really running; then the best trial is promoted with ``b``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from ui_helpers import press, screen_text, type_text, wait_for, write_candles

from ats.persistence.persistent_jobs import PersistentJobs
from ats.research.journal import TrialJournal
from ats.research.sweep_jobs import SweepJobs
from ats.trading_job.job_manager import JobManager
from ats.trading_job.status import JobStatus
from ats.ui.app import AtsApp
from ats.ui.launch import console_hooks, console_sweeps
from ats.ui.screens.main import MainScreen
from ats.ui.screens.sweep_form import SweepFormScreen
from ats.ui.widgets.sweep_heatmap import SweepHeatmapView
from ats.ui.widgets.sweep_pane import SweepPane
from ats.utils.plugins import PluginLoader
from ats.utils.settings import Settings

WAIT = 30.0
"""Seconds a condition may take: generous, the suite runs in parallel on 2 busy cores."""

GATED_STRATEGY = '''
import time
from pathlib import Path

from ats.strategies.sma_cross.strategy import SmaCrossParams, Strategy as SmaCross


class GatedParams(SmaCrossParams):
    gate: str = ""


class Strategy(SmaCross):
    """sma_cross whose trials with fast >= 20 wait for the gate file (at most 60 s)."""

    name = "gated_sma"
    Params = GatedParams

    def setup(self) -> None:
        super().setup()
        deadline = time.monotonic() + 60
        while self.params.fast >= 20 and not Path(self.params.gate).exists():
            if time.monotonic() > deadline:
                break
            time.sleep(0.02)
'''


@pytest.fixture
def sweep_spec(tmp_path: Path) -> Path:
    """A 12-trial grid (4 fast x 3 slow) whose last 3 trials wait for ``tmp/gate``."""
    data = write_candles(tmp_path / "candles.parquet", 3_000)
    strategy = tmp_path / "custom" / "strategies" / "gated_sma" / "strategy.py"
    strategy.parent.mkdir(parents=True)
    strategy.write_text(GATED_STRATEGY)
    (tmp_path / "job.yaml").write_text(
        "name: gated\nsymbol: BTC/USDT\nbalances: {USDT: 10000}\n"
        f"exchange: {{name: back_trading, params: {{data: {data}}}}}\n"
        "strategy: {name: gated_sma, params: {fast: 10, slow: 30}}\n"
        "fees: {name: flat_rate, params: {rate: 0.001}}\n"
    )
    spec = tmp_path / "gated.sweep.yaml"
    spec.write_text(
        "job: job.yaml\n"
        f"params: {{fast: '5:20:5', slow: [30, 60, 90], gate: {tmp_path / 'gate'}}}\n"
        "objective: total_return\nworkers: 1\n"
    )
    return spec


@pytest.fixture
async def sweep_setup(
    tmp_path: Path, sweep_spec: Path
) -> AsyncIterator[tuple[JobManager, SweepJobs]]:
    manager = JobManager(loader=PluginLoader(tmp_path / "custom"))
    sweeps = SweepJobs(manager.bus, manager.loader, tmp_path / "state" / "research.sqlite3")
    try:
        yield manager, sweeps
    finally:
        (tmp_path / "gate").touch()
        await sweeps.shutdown()


async def test_a_running_sweep_shows_its_heatmap_at_80x24_and_its_best_trial_becomes_a_job(
    make_app: Callable[..., AtsApp],
    tmp_path: Path,
    sweep_spec: Path,
    sweep_setup: tuple[JobManager, SweepJobs],
) -> None:
    manager, sweeps = sweep_setup
    app = make_app(manager, sweeps=sweeps)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.screen
        assert isinstance(screen, MainScreen)
        await press(pilot, "W")
        await wait_for(pilot, lambda: isinstance(app.screen, SweepFormScreen), timeout=WAIT)
        form = app.screen
        assert isinstance(form, SweepFormScreen)
        form.query_one("Input").value = ""  # type: ignore[attr-defined]
        await type_text(pilot, str(sweep_spec))
        await press(pilot, "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, MainScreen), timeout=WAIT)
        (sweep_id,) = sweeps.ids()
        sweep = sweeps.get(sweep_id)
        # Nine trials finish; the last three wait for the gate: the sweep is running.
        await wait_for(pilot, lambda: sweep.done == 9, timeout=WAIT)
        assert sweep.status is JobStatus.RUNNING
        pane = screen.query_one(SweepPane)
        await wait_for(pilot, lambda: pane.view is not None and pane.view.done == 9, timeout=WAIT)
        await wait_for(pilot, lambda: "9/12" in str(pane.border_title), timeout=WAIT)
        await wait_for(pilot, lambda: _cells(screen, sweep_id)["progress"] == "75%", timeout=WAIT)
        row = _cells(screen, sweep_id)
        assert (row["name"], row["status"]) == ("gated.sweep", "running"), row
        best_so_far = sweep.best
        assert best_so_far is not None and best_so_far.final_equity is not None
        assert row["equity"] == f"{best_so_far.final_equity:,.2f}", row
        assert row["position"].startswith("ETA "), row
        text = screen_text(app)
        heatmap = screen.query_one(SweepHeatmapView)
        assert heatmap.heatmap is not None and heatmap.size.height >= 5
        assert "total_return_pct (max) · →fast ↓slow" in text
        assert "★" in text and "·" in text  # the best cell, and the pairs still waiting
        assert "Sweep (c) · gated.sweep · 9/12" in text
        assert all(len(line) <= 80 for line in text.splitlines())
        assert len(text.splitlines()) <= 24

        await press(pilot, "c")  # the sweep pane: z sorts by the next metric, Z reverses
        assert pane.trials.has_focus
        await press(pilot, "z")
        await wait_for(pilot, lambda: _sorted_by(pane, "trial"), timeout=WAIT)
        assert [trial.number for trial in pane.trials.page.trials] == list(range(9))
        await press(pilot, "Z")
        await wait_for(
            pilot,
            lambda: pane.trials.page is not None and pane.trials.page.descending,
            timeout=WAIT,
        )
        assert pane.trials.page.trials[0].number == 8
        assert pane.view is not None
        sorts = list(dict.fromkeys(pane.view.sorts))
        assert sorts[:2] == ["objective", "trial"] and "sharpe" in sorts
        for expected in [*sorts[2:], sorts[0]]:  # every metric in turn, back to the objective
            await press(pilot, "z")
            await wait_for(pilot, lambda: _sorted_by(pane, expected), timeout=WAIT)  # noqa: B023

        (tmp_path / "gate").touch()
        await wait_for(pilot, lambda: sweep.status is JobStatus.FINISHED, timeout=WAIT)
        await wait_for(pilot, lambda: _cells(screen, sweep_id)["progress"] == "100%", timeout=WAIT)
        best = sweep.best
        assert best is not None
        await wait_for(pilot, lambda: pane.view is not None and pane.view.done == 12, timeout=WAIT)
        await press(pilot, "c")
        assert pane.trials.has_focus
        # The cursor, left on the first row, is on the best trial once every trial is in.
        await wait_for(pilot, lambda: pane.trials.selected_trial == best.number, timeout=WAIT)
        jobs_before = len(manager.jobs)
        await press(pilot, "b")
        await wait_for(pilot, lambda: len(manager.jobs) == jobs_before + 1, timeout=WAIT)
        promoted = manager.jobs[-1]
        gate = str(tmp_path / "gate")  # the spec's fixed param, the same for every trial
        assert promoted.config.strategy.params == {**best.params, "gate": gate}
        assert promoted.config.exchange.name == "back_trading"
        await wait_for(pilot, lambda: screen.selected_job_id == promoted.id, timeout=WAIT)

    journal = TrialJournal(tmp_path / "state" / "research.sqlite3")
    try:
        assert journal.console_sweeps()[0][2] == "finished"
    finally:
        journal.close()


async def test_a_sweep_running_when_the_console_quits_resumes_from_its_journal(
    make_app: Callable[..., AtsApp], tmp_path: Path, sweep_spec: Path
) -> None:
    """Wired as ``ats`` wires it (launch.console_hooks): q mid-sweep keeps it saved as
    running; the next console lists it, starts it, and computes only the trials the
    journal does not hold."""
    state = tmp_path / "state"

    def console() -> tuple[AtsApp, SweepJobs]:
        manager = JobManager(loader=PluginLoader(tmp_path / "custom"))
        sweeps = console_sweeps(manager, state)
        persistence = PersistentJobs(manager, Settings(_env_file=None, saved_states_dir=state))  # type: ignore[call-arg]
        hooks = console_hooks(persistence, sweeps=sweeps)
        return make_app(manager, sweeps=sweeps, **hooks), sweeps

    app, sweeps = console()
    async with app.run_test(size=(80, 24)) as pilot:
        sweep_id = await app.control.create_sweep(str(sweep_spec))
        await app.control.start(sweep_id)
        await wait_for(pilot, lambda: sweeps.get(sweep_id).done == 9, timeout=WAIT)
        # The trial running when q is pressed finishes (the gate opens) and is dropped.
        asyncio.get_running_loop().call_later(0.3, (tmp_path / "gate").touch)
        await press(pilot, "q")
        await wait_for(pilot, lambda: app.return_code is not None, timeout=WAIT)
    assert app.return_code == 0
    assert sweeps.get(sweep_id).status is JobStatus.STOPPED
    (tmp_path / "gate").unlink()

    again, restored = console()
    async with again.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: sweep_id in restored, timeout=WAIT)
        sweep = restored.get(sweep_id)
        await wait_for(pilot, lambda: sweep.done == 9, timeout=WAIT)  # from the journal
        assert sweep.status is JobStatus.RUNNING and sweep.resumed == 9
        (tmp_path / "gate").touch()
        await wait_for(pilot, lambda: sweep.status is JobStatus.FINISHED, timeout=WAIT)
        assert sweep.done == 12 and sweep.computed == 3  # nothing finished ran again
        screen = again.screen
        assert isinstance(screen, MainScreen)
        await wait_for(pilot, lambda: _cells(screen, sweep_id)["progress"] == "100%", timeout=WAIT)
        await press(pilot, "q")
        await wait_for(pilot, lambda: again.return_code is not None, timeout=WAIT)


def _sorted_by(pane: SweepPane, sort: str) -> bool:
    return pane.trials.page is not None and pane.trials.page.sort == sort


def _cells(screen: MainScreen, job_id: str) -> dict[str, str]:
    """The job's row as the table shows it, by column."""
    return dict(zip(screen.table.visible_columns, screen.table.get_row(job_id), strict=True))
