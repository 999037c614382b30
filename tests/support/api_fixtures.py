"""A real control API on a unix socket in a temporary directory, over a real JobManager."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from ats.apis.listen import bind
from ats.apis.remote_control import RemoteJobControl
from ats.apis.server import ControlServer
from ats.trading_job.job_manager import JobManager
from ats.trading_job.local_control import LocalJobControl


@pytest.fixture
def short_tmp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A short directory: a unix socket path must fit in 107 bytes."""
    return tmp_path_factory.mktemp("api")


@pytest.fixture
async def served(short_tmp: Path) -> AsyncIterator[tuple[JobManager, ControlServer]]:
    manager = JobManager()
    server = ControlServer(LocalJobControl(manager), bind(short_tmp / "ats.sock"))
    async with server:
        yield manager, server
    await manager.stop_all()


@pytest.fixture
async def remote(
    served: tuple[JobManager, ControlServer],
) -> AsyncIterator[RemoteJobControl]:
    _manager, server = served
    assert server.listening.socket_file is not None
    async with RemoteJobControl(socket_file=server.listening.socket_file) as control:
        yield control
