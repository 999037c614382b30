"""Acceptance 3 of issue 11: who may use the control API, and what a hostile or broken
client can do to it (nothing to the jobs)."""

from __future__ import annotations

import asyncio
import resource
import socket
import stat
from pathlib import Path

import aiohttp
import pytest
from job_configs import backtest_config
from persist_helpers import eventually

from ats.apis.listen import ApiOptions, bind, check_tcp
from ats.apis.server import ControlServer
from ats.exceptions import ConfigError
from ats.trading_job.job_manager import JobManager
from ats.trading_job.local_control import LocalJobControl

TOKEN = "t0k3n-for-tests-0123456789"


def test_the_socket_is_owner_only(short_tmp: Path) -> None:
    listening = bind(short_tmp / "ats.sock")
    try:
        mode = (short_tmp / "ats.sock").stat().st_mode
        assert stat.S_ISSOCK(mode) and stat.S_IMODE(mode) == 0o600
    finally:
        listening.close()
    assert not (short_tmp / "ats.sock").exists()


def test_tcp_refuses_to_start_without_a_token_or_on_a_public_address_without_its_flag() -> None:
    with pytest.raises(ConfigError, match="needs a bearer token: set ATS_API_TOKEN"):
        bind(None, ApiOptions(port=0), token=None)
    with pytest.raises(ConfigError, match="too short"):
        bind(None, ApiOptions(port=0), token="short")
    for host in ("0.0.0.0", "192.168.1.10", "example.com", "::"):
        with pytest.raises(ConfigError, match=r"not a loopback address.*--api-allow-remote"):
            check_tcp(ApiOptions(port=0, host=host), TOKEN)
        assert check_tcp(ApiOptions(port=0, host=host, allow_remote=True), TOKEN) == TOKEN
    for host in ("127.0.0.1", "::1", "localhost"):
        assert check_tcp(ApiOptions(port=0, host=host), TOKEN) == TOKEN


async def test_tcp_needs_the_right_bearer_token() -> None:
    manager = JobManager()
    listening = bind(None, ApiOptions(port=0), token=TOKEN)
    assert listening.tcp_address is not None
    host, port = listening.tcp_address
    url = f"http://{host}:{port}/api/v1/jobs"
    async with ControlServer(LocalJobControl(manager), listening), aiohttp.ClientSession() as http:
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}):
            async with http.get(url, headers=headers) as response:
                assert response.status == 401
                assert TOKEN not in await response.text()
        async with http.get(url.replace("jobs", "events"), headers={}) as response:
            assert response.status == 401  # the event stream too
        async with http.get(url, headers={"Authorization": f"Bearer {TOKEN}"}) as response:
            assert response.status == 200 and await response.json() == []


async def _backtest_result(manager: JobManager, job_id: str) -> tuple[int, float]:
    await manager.wait(job_id)
    report = manager.get(job_id).report
    assert report is not None
    return report["trades"], report["final_equity"]


async def test_bad_requests_get_one_line_errors_and_the_jobs_do_not_notice(
    short_tmp: Path,
) -> None:
    undisturbed = JobManager()
    reference = undisturbed.create(backtest_config(name="ref"))
    undisturbed.start(reference.id)
    expected = await _backtest_result(undisturbed, reference.id)

    manager = JobManager()
    job = manager.create(backtest_config(name="busy"))
    socket_file = short_tmp / "ats.sock"
    server = ControlServer(LocalJobControl(manager), bind(socket_file))
    async with (
        server,
        aiohttp.ClientSession(connector=aiohttp.UnixConnector(path=str(socket_file))) as http,
    ):
        manager.start(job.id)
        base = "http://ats/api/v1"
        cases = [
            ("POST", "/jobs", b"{not json", 400, "bad JSON"),
            ("POST", "/jobs", b"[1, 2]", 400, "must be a JSON object"),
            ("POST", "/jobs", b'{"config": {"name": ""}}', 400, "config."),
            ("POST", f"/jobs/{job.id}/speed", b'{"factor": "fast"}', 400, "factor"),
            ("GET", f"/jobs/{job.id}/chart?bars=x", b"", 400, "bars"),
            ("GET", f"/jobs/{job.id}/chart?bars=5&evil=1", b"", 400, "evil"),
            ("POST", f"/jobs/{job.id}/explode", b"", 404, "unknown route"),
            ("GET", "/shutdown", b"", 404, "unknown route"),
            ("POST", "/jobs/nope/start", b"", 409, "no job with id 'nope'"),
            ("POST", "/jobs", b"x" * (10 * 1024 * 1024), 413, "too large"),
        ]
        for method, path, body, status, message in cases:
            async with http.request(method, base + path, data=body) as response:
                text = await response.text()
                assert response.status == status, (path, text)
                assert message in text and "\n" not in text.strip(), text

        # a 10 MB body without a length (chunked) is cut off too
        async def chunks():  # type: ignore[no-untyped-def]
            for _ in range(10):
                yield b"x" * (1024 * 1024)

        async with http.post(base + "/jobs", data=chunks()) as response:
            assert response.status == 413
        assert await _backtest_result(manager, job.id) == expected


def _raise_fd_limit(wanted: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < wanted:
        if hard != resource.RLIM_INFINITY and hard < wanted:
            pytest.skip(f"needs {wanted} file descriptors (hard limit {hard})")
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))


async def test_a_thousand_idle_connections_are_dropped_and_cost_the_jobs_nothing(
    short_tmp: Path,
) -> None:
    _raise_fd_limit(2_500)
    undisturbed = JobManager()
    reference = undisturbed.create(backtest_config(name="ref"))
    undisturbed.start(reference.id)
    expected = await _backtest_result(undisturbed, reference.id)
    manager = JobManager()
    job = manager.create(backtest_config(name="busy"))
    socket_file = short_tmp / "ats.sock"
    server = ControlServer(
        LocalJobControl(manager), bind(socket_file), max_connections=50, idle_s=0.5
    )
    idle: list[socket.socket] = []
    async with server:
        manager.start(job.id)
        loop = asyncio.get_running_loop()
        for _ in range(1_000):
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.setblocking(False)
            await loop.sock_connect(sock, str(socket_file))
            idle.append(sock)

        def still_open(sock: socket.socket) -> bool:
            try:
                return sock.recv(1) != b""
            except BlockingIOError:
                return True  # nothing to read, not closed
            except OSError:  # reset, or never accepted (EINVAL): dropped either way
                return False

        # past the idle timeout (0.5 s), however long the server takes to drop them
        await eventually(lambda: not any(still_open(sock) for sock in idle), 15)
        assert not any(still_open(sock) for sock in idle)  # over the limit, or idle
        for sock in idle:
            sock.close()
        async with (
            aiohttp.ClientSession(connector=aiohttp.UnixConnector(path=str(socket_file))) as http,
            http.get("http://ats/api/v1/job_ids") as response,
        ):
            assert await response.json() == [job.id]  # still serving
        assert await _backtest_result(manager, job.id) == expected


def test_a_socket_path_too_long_is_a_warning_not_a_refusal(short_tmp: Path) -> None:
    deep = short_tmp / ("d" * 60) / ("e" * 60) / "ats.sock"
    listening = bind(deep)
    assert listening.sockets == [] and listening.socket_file is None
    assert listening.socket_error is not None
    assert "longer than a unix socket's 107 bytes" in listening.socket_error
    assert "\n" not in listening.socket_error


async def test_an_attached_event_stream_is_not_an_idle_connection(short_tmp: Path) -> None:
    from ats.apis.remote_control import RemoteJobControl

    manager = JobManager()
    socket_file = short_tmp / "ats.sock"
    lost: list[str] = []
    server = ControlServer(LocalJobControl(manager), bind(socket_file), idle_s=0.3)
    async with server, RemoteJobControl(socket_file=socket_file) as remote:
        remote.on_lost = lost.append
        watch = remote.watch(lambda changes: None)
        watch.start()
        assert await eventually(lambda: server.attached == 1, 15)  # connected, however slowly
        await asyncio.sleep(1.2)  # on purpose: four idle periods without an event
        assert server.attached == 1 and not lost
        job_id = await remote.create(backtest_config(name="later"))
        assert await remote.job_ids() == [job_id]
        await watch.stop()


def test_a_second_process_never_takes_a_served_socket(short_tmp: Path) -> None:
    """Binding where another process serves leaves its socket alone (a warning here);
    a socket left by a dead process is replaced."""
    first = bind(short_tmp / "ats.sock")
    try:
        second = bind(short_tmp / "ats.sock")
        assert second.sockets == [] and second.socket_error is not None
        assert "another ATS process serves" in second.socket_error
        second.close()
        assert (short_tmp / "ats.sock").exists()
    finally:
        first.sockets[0].close()  # dies without cleaning up
    third = bind(short_tmp / "ats.sock")
    assert len(third.sockets) == 1
    third.close()
