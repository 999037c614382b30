"""Issue 11, acceptance 1: a real ``ats --no-ui`` runs a paper replay and a backtest; a
console attaches through the socket, stops and restarts the replay by key and detaches,
ten times. The journal of that run equals the journal of an uninterrupted run: no
candle, order, fill or trade lost or doubled by attaching, detaching or the commands.

The replay is paced, and a console takes seconds to attach on a loaded machine while a
paced replay keeps its pace (at load ~6, ten cycles took 70 s and consumed three
quarters of a 30 s replay; at load 13 it finished mid-cycle and ``s`` restarted it).
So each cycle measures the replay in candles, not seconds: after the restart it waits
until the replay has advanced :data:`STEP` candles, then pauses it by key (``p``)
before detaching; the next cycle's ``s`` stops it from paused. Ten cycles consume a few
hundred candles however long attaching takes."""

from __future__ import annotations

import asyncio
import itertools
from pathlib import Path
from typing import Any

import pytest
from ats_process import ats_env, replay_config, save_job, start_headless
from job_configs import backtest_config

from ats.apis.remote_control import RemoteJobControl
from ats.database.journal import Journal
from ats.demo import DEMO_DATA
from ats.trading_job.status import JobStatus
from ats.ui.app import AtsApp
from ats.ui.screens.main import MainScreen
from ats.ui.themes import BUNDLED_THEMES

CYCLES = 10
CANDLES = 3_000
REPLAY_SPEED = 100.0
"""33 candles a second while a cycle lets it run; both replays finish at full speed
after the cycles (pace changes no fill)."""
STEP = 10
"""Candles the replay advances between its restart and its pause in each cycle."""
WALL_CLOCK = frozenset({"recorded_at", "updated_at", "created_at"})
COMPARED = ("orders", "fills", "trades", "balances", "equity")
"""What the journal keeps of a run (its log adds a line per start and stop)."""


async def _journal(state: Path, job_id: str) -> dict[str, Any]:
    """The job's rows, without the wall-clock times they were written at."""
    journal = await Journal(state / "journal.sqlite3", readonly=True).open()
    try:
        return {
            part: [
                {key: value for key, value in row.items() if key not in WALL_CLOCK}
                for row in await getattr(journal, part)(job_id)
            ]
            for part in COMPARED
        }
    finally:
        await journal.close()


async def _wait(condition: Any, timeout: float = 30.0) -> None:
    """Until ``condition()`` holds (the timeout only bounds a hang: a loaded machine may
    take seconds to mount a console)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not await condition():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.02)


async def _cycle(socket_file: Path) -> None:
    """Attach, stop the replay with s, start it again with s, let it advance STEP
    candles, pause it with p, detach with ctrl+d."""
    control = RemoteJobControl(socket_file=socket_file)
    app = AtsApp(control=control, demo=False, settings_path=None, theme_dirs=[BUNDLED_THEMES])

    async def status() -> JobStatus:
        return (await control.job("replay")).status

    async def done() -> int:
        return (await control.job("replay")).progress.done

    async with app.run_test(size=(120, 36)) as pilot:
        screen = app.screen
        assert isinstance(screen, MainScreen)
        await _wait(lambda: _true(screen.table.row_count == 2))
        for _ in range(2):  # the cursor to the replay's row, by key
            if screen.table.cursor_job != "replay":
                await pilot.press("down")
        assert screen.table.cursor_job == "replay"
        await pilot.press("s")
        await _wait(lambda: _is(status, JobStatus.STOPPED))
        stopped_at = await done()
        await pilot.press("s")
        await _wait(lambda: _is(status, JobStatus.RUNNING))

        async def advanced() -> bool:
            return await done() >= stopped_at + STEP

        await _wait(advanced)
        await pilot.press("p")
        await _wait(lambda: _is(status, JobStatus.PAUSED))  # so not finished either
        await pilot.press("ctrl+d")
        await _wait(lambda: _true(not app.is_running))
    await control.close()


async def _true(value: bool) -> bool:
    return value


async def _is(status: Any, wanted: JobStatus) -> bool:
    return bool(await status() is wanted)


def _run(workspace: Path, name: str) -> tuple[Path, Any]:
    state = workspace / name
    env = ats_env(state)
    data = workspace / "candles.csv"
    if not data.exists():
        with DEMO_DATA.open() as source:
            data.write_text("".join(itertools.islice(source, CANDLES + 1)))
    save_job(replay_config("replay", REPLAY_SPEED, data), "replay", env=env, cwd=workspace)
    save_job(backtest_config(name="bt", fast=10, slow=30), "bt", env=env, cwd=workspace)
    return state, start_headless(state, env=env, cwd=workspace)


@pytest.mark.slow  # two real processes and ten consoles, ~12 s unloaded
async def test_ten_attach_cycles_lose_and_double_nothing(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    workspace = tmp_path_factory.mktemp("cyc")
    reference_state, reference = _run(workspace, "ref")
    state, process = _run(workspace, "s")
    try:
        await _wait(_started(reference_state / "ats.sock"))
        await _full_speed(reference_state / "ats.sock")
        await _wait(_started(state / "ats.sock"))
        for _ in range(CYCLES):
            await _cycle(state / "ats.sock")
        await _full_speed(state / "ats.sock")
        outputs = [await asyncio.to_thread(p.communicate, timeout=60) for p in (process, reference)]
    finally:
        for p in (process, reference):
            if p.poll() is None:
                p.kill()
                p.wait()
    assert process.returncode == 0 and reference.returncode == 0, outputs
    for job_id in ("replay", "bt"):
        attached = await _journal(state, job_id)
        undisturbed = await _journal(reference_state, job_id)
        assert attached["fills"] and attached["trades"]
        for part in COMPARED:
            assert attached[part] == undisturbed[part], (job_id, part)


async def _full_speed(socket_file: Path) -> None:
    """The replay at full speed, running (the cycles leave it paused)."""
    async with RemoteJobControl(socket_file=socket_file) as control:
        await control.set_speed("replay", 0)
        if (await control.job("replay")).status is JobStatus.PAUSED:
            await control.resume("replay")


def _started(socket_file: Path) -> Any:
    async def replay_running() -> bool:
        async with RemoteJobControl(socket_file=socket_file) as control:
            return (await control.job("replay")).status is JobStatus.RUNNING

    return replay_running
