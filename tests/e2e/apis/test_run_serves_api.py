"""Issue 11 item 1: every process that runs jobs serves the control API, ``ats run`` too.
A real ``ats run replay.yaml --no-ui`` serves its job on ``<saved_states>/ats.sock`` (and
on TCP with ``--api-port`` and a token, the flags of ``ats --no-ui``): ``ats jobs list``
shows it, a console attached through the socket pauses it by key and detaches, ``ats
jobs stop`` stops it, and the process then saves it and ends. Without a token,
``--api-port`` is refused before anything runs, as for ``ats --no-ui``."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from ats_process import ats_env, replay_config, run_ats, start_serving

from ats.apis.remote_control import RemoteJobControl
from ats.cli import main
from ats.headless.run_command import config_job_id
from ats.trading_job.status import JobStatus
from ats.ui.app import AtsApp
from ats.ui.screens.main import MainScreen
from ats.ui.themes import BUNDLED_THEMES

TOKEN = "run-api-test-token-0123456789"


@pytest.fixture
def workspace(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path_factory.mktemp("run")  # short: a unix socket path has 107 bytes
    monkeypatch.chdir(home)
    for key in ("ATS_SAVED_STATES_DIR", "ATS_JOURNAL_PATH", "ATS_API_TOKEN", "ATS_HOME"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("ATS_SAVED_STATES_DIR", str(home / "s"))
    monkeypatch.setenv("COLUMNS", "200")
    return home


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def _until(condition: Callable[[], Awaitable[bool]], timeout: float = 20.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await condition():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.02)


async def _status(control: RemoteJobControl, job_id: str) -> JobStatus:
    return (await control.job(job_id)).status


async def _over_tcp_then_attach_and_pause(socket_file: Path, port: int, job_id: str) -> None:
    """The job over TCP with the token; then a console through the socket pauses it by
    key (p) and detaches (ctrl+d)."""
    async with RemoteJobControl(url=f"http://127.0.0.1:{port}", token=TOKEN) as tcp:
        assert [view.job_id for view in await tcp.jobs()] == [job_id]
    control = RemoteJobControl(socket_file=socket_file)
    app = AtsApp(control=control, demo=False, settings_path=None, theme_dirs=[BUNDLED_THEMES])
    async with app.run_test(size=(120, 36)) as pilot:
        screen = app.screen
        assert isinstance(screen, MainScreen)

        async def shown() -> bool:
            return screen.table.row_count == 1 and screen.table.cursor_job == job_id

        await _until(shown)
        await pilot.press("p")

        async def paused() -> bool:
            return await _status(control, job_id) is JobStatus.PAUSED

        await _until(paused)
        await pilot.press("ctrl+d")

        async def detached() -> bool:
            return not app.is_running

        await _until(detached)
    await control.close()


@pytest.mark.slow  # two real ats run processes, ~6 s
def test_ats_run_serves_its_job_to_ats_jobs_and_ats_attach(
    workspace: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state = workspace / "s"
    config = workspace / "replay.yaml"
    config.write_text(replay_config(speed=20.0).to_yaml())
    job_id = config_job_id(config, "replay")
    env = ats_env(state, ATS_API_TOKEN=TOKEN)
    port = _free_port()
    command = ("run", str(config), "--no-ui", "--api-port", str(port))  # flags after run
    process = start_serving(*command, state_dir=state, env=env, cwd=workspace)
    try:
        assert (state / "ats.sock").stat().st_mode & 0o777 == 0o600
        deadline = time.monotonic() + 30
        listed: list[dict[str, str]] = []
        while [row["status"] for row in listed] != ["running"]:
            assert time.monotonic() < deadline and process.poll() is None, listed
            assert main(["jobs", "list", "--json"]) == 0  # through the socket
            listed = json.loads(capsys.readouterr().out)
        assert [row["job_id"] for row in listed] == [job_id]
        asyncio.run(_over_tcp_then_attach_and_pause(state / "ats.sock", port, job_id))
        assert process.poll() is None  # detaching left the paused job running
        assert main(["jobs", "resume", job_id]) == 0
        assert main(["jobs", "stop", "replay"]) == 0  # by name; its only job: the run ends
        said = capsys.readouterr().out.splitlines()[-1]
        assert said.startswith(f"replay ({job_id}): stopped"), said  # once it has, not before
        output = process.communicate(timeout=30)[0]
        assert process.returncode == 0, output
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert f"job replay ({job_id}): new" in output
    assert not (state / "ats.sock").exists()  # closed with the process
    assert main(["jobs", "list", "--json"]) == 0  # from the files again: saved, stopped
    rows = json.loads(capsys.readouterr().out)
    assert [(row["job_id"], row["status"]) for row in rows] == [(job_id, "stopped")]

    no_token = ats_env(state)
    refused = run_ats("--api-port", "0", "run", str(config), env=no_token, cwd=workspace)
    assert refused.returncode == 2  # the flag before run counts too; no TCP without a token
    assert refused.stderr.strip().splitlines() == [
        "ats: error: --api-port needs a bearer token: set ATS_API_TOKEN in the environment "
        "or .env (the control API is never served over TCP without one)"
    ]
    assert main(["jobs", "list", "--json"]) == 0  # refused before anything ran
    assert json.loads(capsys.readouterr().out) == rows
