"""``ats attach``'s console: the same AtsApp on a RemoteJobControl through a real control
API socket shows what the in-process console shows, sends the same commands, and
detaches without touching the jobs."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from job_configs import backtest_config
from ui_helpers import press, replay_config, screen_text, settled, wait_for

from ats.apis.listen import bind
from ats.apis.remote_control import RemoteJobControl
from ats.apis.server import ControlServer
from ats.trading_job.job_manager import JobManager
from ats.trading_job.local_control import LocalJobControl
from ats.trading_job.status import JobStatus
from ats.ui.app import AtsApp
from ats.ui.screens.main import MainScreen


def _main(app: AtsApp) -> MainScreen:
    assert isinstance(app.screen, MainScreen)
    return app.screen


async def _finished_screen(app: AtsApp, manager: JobManager, job_id: str, pilot: Any) -> str:
    manager.start(job_id)
    await manager.wait(job_id)
    screen = _main(app)
    await wait_for(pilot, lambda: "finished" in str(screen.table.get_row(job_id)))
    await wait_for(pilot, lambda: screen.chart.message is None)
    await wait_for(pilot, lambda: str(screen.metrics.border_subtitle).startswith("Report"))
    await wait_for(pilot, lambda: len(screen.log_view.lines) > 1)
    await settled(pilot)  # the panels' next refresh (4 Hz) shows the final state
    return screen_text(app)


async def test_attached_console_shows_what_the_in_process_one_shows(
    make_app: Callable[..., AtsApp], tmp_path_factory: Any
) -> None:
    shown = []
    for attached in (False, True):
        manager = JobManager()
        job = manager.create(backtest_config(name="same"))
        if not attached:
            app = make_app(manager)
            async with app.run_test(size=(160, 48)) as pilot:
                shown.append(await _finished_screen(app, manager, job.id, pilot))
            continue
        socket_file = tmp_path_factory.mktemp("att") / "ats.sock"
        async with ControlServer(LocalJobControl(manager), bind(socket_file)):
            control = RemoteJobControl(socket_file=socket_file)
            app = make_app(control=control)
            assert app.manager is None and app.stop is None
            async with app.run_test(size=(160, 48)) as pilot:
                shown.append(await _finished_screen(app, manager, job.id, pilot))
            await control.close()
    assert shown[0] == shown[1]


async def test_keys_drive_the_remote_jobs_and_detach_leaves_them_running(
    make_app: Callable[..., AtsApp], tmp_path_factory: Any
) -> None:
    manager = JobManager()
    replay = manager.create(replay_config(speed=5.0))
    socket_file: Path = tmp_path_factory.mktemp("att") / "ats.sock"
    async with ControlServer(LocalJobControl(manager), bind(socket_file)):
        consoles = [RemoteJobControl(socket_file=socket_file) for _ in range(2)]
        apps = [make_app(control=control) for control in consoles]
        async with (
            apps[0].run_test(size=(120, 40)) as first,
            apps[1].run_test(size=(120, 40)) as second,
        ):
            await wait_for(first, lambda: _main(apps[0]).table.cursor_job == replay.id)
            await press(first, "s")  # start, from the first console
            await wait_for(first, lambda: manager.get(replay.id).status is JobStatus.RUNNING)
            # the second console sees it too, through its own event stream
            await wait_for(
                second, lambda: "running" in str(_main(apps[1]).table.get_row(replay.id))
            )
            await press(second, "ctrl+d")
            await wait_for(second, lambda: not apps[1].is_running)
            assert manager.get(replay.id).status is JobStatus.RUNNING
            await press(first, "p")
            await wait_for(first, lambda: manager.get(replay.id).status is JobStatus.PAUSED)
            await press(first, "p")
            await wait_for(first, lambda: manager.get(replay.id).status is JobStatus.RUNNING)
        for control in consoles:
            await control.close()
        assert manager.get(replay.id).status is JobStatus.RUNNING  # detached, still running
        await manager.stop_all()


async def test_the_console_exits_when_the_process_goes_away(
    make_app: Callable[..., AtsApp], tmp_path_factory: Any
) -> None:
    socket_file = tmp_path_factory.mktemp("att") / "ats.sock"
    server = ControlServer(LocalJobControl(JobManager()), bind(socket_file))
    await server.start()
    control = RemoteJobControl(socket_file=socket_file)
    reasons: list[str] = []
    control.on_lost = reasons.append
    app = make_app(control=control)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: server.attached == 1, timeout=15)  # its event stream
        await server.close()
        await wait_for(pilot, lambda: bool(reasons))
    await control.close()
    assert "closed the connection" in reasons[0]


async def test_the_console_serves_its_jobs_from_the_restore_until_q(
    make_app: Callable[..., AtsApp], tmp_path_factory: Any
) -> None:
    """The in-process console, wired as ``ats`` wires it, serves the control API: a
    console attached to it drives its jobs; its ``q`` closes the socket."""
    from ats.apis.listen import socket_path
    from ats.persistence.persistent_jobs import PersistentJobs
    from ats.ui.launch import console_hooks
    from ats.utils.settings import Settings

    settings = Settings(_env_file=None, saved_states_dir=tmp_path_factory.mktemp("con"))  # type: ignore[call-arg]
    manager = JobManager()
    replay = manager.create(replay_config(speed=5.0))
    listening = bind(socket_path(settings))
    hooks = console_hooks(PersistentJobs(manager, settings), listening=listening)
    console = make_app(manager, **hooks)
    remote = RemoteJobControl(socket_file=socket_path(settings))
    attached = make_app(control=remote)
    async with console.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: console.started)
        async with attached.run_test(size=(120, 40)) as other:
            await wait_for(other, lambda: _main(attached).table.cursor_job == replay.id)
            await press(other, "s")
            await wait_for(pilot, lambda: "running" in str(_main(console).table.get_row(replay.id)))
            await press(other, "ctrl+d")
        await press(pilot, "q")
        await wait_for(pilot, lambda: console.return_code is not None, 10)
    await remote.close()
    assert not socket_path(settings).exists()
    assert manager.get(replay.id).status is JobStatus.STOPPED  # the console's q stopped it
