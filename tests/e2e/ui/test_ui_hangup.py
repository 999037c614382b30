"""Issue 11, item 3: a hang-up (SIGHUP) leaves the console's jobs running headless
(``on_hangup="keep"``, the default), and the driver takes a dead terminal (EIO on input or
output) as a hang-up rather than a crash. The real terminal's hang-up is driven in tmux
(test_ui_hangup_tmux.py); ``--on-hangup stop`` keeps the old quit (test_ui_robustness)."""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from job_configs import backtest_config
from persist_helpers import eventually
from textual.drivers._writer_thread import WriterThread
from textual.drivers.linux_driver import LinuxDriver
from ui_helpers import press, wait_for

from ats.apis.listen import bind
from ats.apis.remote_control import RemoteJobControl
from ats.apis.server import ControlServer
from ats.trading_job.job_manager import JobManager
from ats.trading_job.local_control import LocalJobControl
from ats.trading_job.trading_job import JobStatus, TradingJob
from ats.ui.app import AtsApp, demo_replay_config
from ats.ui.hangup import status_line
from ats.ui.screens.main import MainScreen
from ats.ui.terminal_loss import _TolerantOutput, hangup_aware


async def test_a_hang_up_keeps_the_jobs_running_until_a_stop_signal(
    make_app: Callable[..., AtsApp], caplog: pytest.LogCaptureFixture
) -> None:
    manager = JobManager()
    job = manager.create(demo_replay_config())  # paced: 6-7 candles a second, for hours
    saved: list[JobStatus] = []

    async def on_quit() -> None:
        saved.append(job.status)

    app = make_app(manager, on_quit=on_quit, handle_signals=True)
    caplog.set_level(logging.INFO, logger="ats.ui.hangup")
    async with app.run_test() as pilot:
        await press(pilot, "s")
        await wait_for(pilot, lambda: job.status is JobStatus.RUNNING)
        os.kill(os.getpid(), signal.SIGHUP)
        await wait_for(pilot, lambda: app.hangup.headless)
        done = _done(job)
        await wait_for(pilot, lambda: _done(job) > done)  # still advancing
        assert job.status is JobStatus.RUNNING and not app.quitting and not saved
        assert not isinstance(app.screen, MainScreen)  # nothing painted any more
        await wait_for(pilot, lambda: "headless: 1 running" in caplog.text)
        assert "the terminal hung up; the jobs keep running headless" in caplog.text
        os.kill(os.getpid(), signal.SIGHUP)  # a second hang-up is not a second stop
        await pilot.pause(0.1)  # a fixed window on purpose: it may not start quitting
        assert not app.quitting
        os.kill(os.getpid(), signal.SIGTERM)  # systemd, or a quit from 'ats attach'
        await wait_for(pilot, lambda: bool(saved))
    assert saved == [JobStatus.STOPPED]
    assert app.return_code == 0


def _done(job: TradingJob) -> int:
    return job.exchange.progress.done if job.exchange is not None else 0


def test_the_status_line_names_each_job() -> None:
    from ats.trading_job.view_builder import view_of

    manager = JobManager()
    job = manager.create(backtest_config(name="alpha"))
    line = status_line([view_of(job)])
    assert line == f"1 created | alpha ({job.id}) created P&L +0.00%"
    assert status_line([]) == "no jobs"


# -- the driver ----------------------------------------------------------------------------
class _Listener:
    """Stands in for the app: what the driver tells it, and no panic."""

    def __init__(self) -> None:
        self.lost: list[str] = []

    def terminal_lost(self, reason: str) -> None:
        self.lost.append(reason)

    def call_later(self, *args: object) -> None:
        raise AssertionError(f"the driver panicked the app: {args}")


@contextmanager
def _driver_signals() -> Iterator[None]:
    """LinuxDriver installs SIGTSTP/SIGCONT handlers when built: put them back."""
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGTSTP, signal.SIGCONT)}
    try:
        yield
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)


async def test_eio_on_input_is_a_hang_up_not_a_panic(monkeypatch: pytest.MonkeyPatch) -> None:
    listener = _Listener()
    with _driver_signals():
        driver = hangup_aware(LinuxDriver)(listener)  # type: ignore[arg-type]
    driver._loop = asyncio.get_running_loop()

    def dead_tty() -> None:
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(driver, "run_input_thread", dead_tty)
    thread = threading.Thread(target=driver._run_input_thread)
    thread.start()
    thread.join(5)
    await asyncio.sleep(0.01)
    assert listener.lost == ["terminal input failed ([Errno 5] Input/output error)"]
    assert driver.terminal_lost and driver.is_headless
    driver.write("not written")  # no writer thread: it would fail if it tried


class _DeadTty:
    def write(self, text: str) -> None:
        raise OSError(errno.EIO, "Input/output error")

    def flush(self) -> None:
        raise OSError(errno.EIO, "Input/output error")

    def fileno(self) -> int:
        return 2


def test_a_dead_tty_does_not_kill_the_writer_thread() -> None:
    """Textual's writer thread dies on EIO; its queue holds 30 writes, then every
    screen update would block the event loop. Behind the tolerant file it keeps draining."""
    errors: list[BaseException] = []
    writer = WriterThread(_TolerantOutput(_DeadTty(), errors.append))  # type: ignore[arg-type]
    writer.start()
    done = threading.Event()

    def flood() -> None:
        for index in range(200):
            writer.write(f"frame {index}")
        done.set()

    threading.Thread(target=flood, daemon=True).start()
    assert done.wait(5), "the writer's queue filled up: the loop would be blocked"
    writer.stop()
    assert errors and all(isinstance(error, OSError) for error in errors)


# -- q in an attached console ----------------------------------------------------------------
async def test_q_in_an_attached_console_asks_the_process_to_stop_and_save(
    make_app: Callable[..., AtsApp], tmp_path_factory: pytest.TempPathFactory
) -> None:
    """``ats attach`` after a hang-up: q does what it does in the console that runs the
    jobs (the process stops, saves, exits: SIGTERM there, a recorder here); ctrl+d only
    detaches (test_ui_attach.py)."""
    manager = JobManager()
    socket_file = tmp_path_factory.mktemp("hup") / "ats.sock"
    stops: list[int] = []
    server = ControlServer(
        LocalJobControl(manager), bind(socket_file), stop_process=lambda: stops.append(1)
    )
    async with server:
        control = RemoteJobControl(socket_file=socket_file)
        app = make_app(control=control, stop_process=control.stop_process)
        async with app.run_test(size=(100, 30)) as pilot:
            await press(pilot, "q")
            await wait_for(pilot, lambda: not app.is_running)
        await control.close()
        assert await eventually(lambda: bool(stops), 15)  # it runs just after the answer
    assert app.process_stopping and stops == [1]


async def test_q_attached_to_a_process_that_cannot_be_stopped_says_so(
    make_app: Callable[..., AtsApp], tmp_path_factory: pytest.TempPathFactory
) -> None:
    socket_file = tmp_path_factory.mktemp("hup") / "ats.sock"
    async with ControlServer(LocalJobControl(JobManager()), bind(socket_file)):
        control = RemoteJobControl(socket_file=socket_file)
        app = make_app(control=control, stop_process=control.stop_process)
        async with app.run_test(size=(100, 30)) as pilot:
            await press(pilot, "q")
            await wait_for(
                pilot,
                lambda: any("unknown route" in str(n.message) for n in app._notifications),
                timeout=15,
            )
            assert app.is_running and not app.process_stopping
            assert any("unknown route" in str(n.message) for n in app._notifications)
        await control.close()


# -- the setting and the flag -----------------------------------------------------------------
@pytest.mark.parametrize(
    ("argv", "env", "policy"),
    [
        ([], {}, "keep"),
        (["--on-hangup", "stop"], {}, "stop"),
        ([], {"ATS_ON_HANGUP": "stop"}, "stop"),
        (["--on-hangup", "keep"], {"ATS_ON_HANGUP": "stop"}, "keep"),
    ],
)
def test_on_hangup_comes_from_the_flag_else_the_setting(
    argv: list[str],
    env: dict[str, str],
    policy: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from ats.apis import listen
    from ats.cli import main
    from ats.ui import app as app_module
    from ats.ui import launch

    monkeypatch.chdir(tmp_path)
    for key in [key for key in os.environ if key.startswith("ATS_")]:
        monkeypatch.delenv(key)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    seen: list[str] = []

    def run_console(manager: object, **options: object) -> int:
        seen.append(str(options["on_hangup"]))
        return 0

    monkeypatch.setattr(app_module, "run_console", run_console)
    monkeypatch.setattr(listen, "bind_for", lambda settings, api: None)  # no socket
    monkeypatch.setattr(launch, "install", lambda limits: None)  # no watchdog thread
    monkeypatch.setattr(launch, "tune_runtime", lambda: None)  # the process is pytest's
    assert main(argv) == 0
    assert seen == [policy]
