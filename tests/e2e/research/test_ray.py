"""Acceptance: a real local Ray cluster on 127.0.0.1 runs the sweep (``--ray ADDRESS``) and
gives the process pool's trial table, custom strategy included.

The cluster is started with ``ray start --head --block`` on ports of its own, a temp dir of
its own and a token of its own (Ray 2.60 turns token authentication on by default and
would otherwise write one under ~/.ray), and stopped by its pid afterwards.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from research_helpers import optimize

RAY = Path(sys.executable).with_name("ray")
CUSTOM_STRATEGY = '''
from ats.strategies.sma_cross.strategy import Strategy as SmaCross


class Strategy(SmaCross):
    """sma_cross under another name: only a custom module can provide it."""

    name = "my_cross"
'''


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def ray_cluster() -> Iterator[tuple[str, dict[str, str]]]:
    # Short: Ray's unix sockets live under it (at most 107 characters).
    temp = Path(tempfile.mkdtemp(prefix="ray-", dir="/tmp"))
    token = temp / "token"
    token.write_text(uuid.uuid4().hex)
    env = {
        **os.environ,
        "RAY_AUTH_MODE": "token",
        "RAY_AUTH_TOKEN_PATH": str(token),
        "RAY_USAGE_STATS_ENABLED": "0",
        # Keep every address on loopback: otherwise Ray swaps 127.0.0.1 for the host's IP.
        "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",
        "RAY_GRACEFUL_SHUTDOWN_DRAIN_TIMEOUT_S": "0",
    }
    port = _free_port()
    ports = {
        "port": port,
        "object-manager-port": _free_port(),
        "node-manager-port": _free_port(),
        "dashboard-agent-listen-port": _free_port(),
        "dashboard-agent-grpc-port": _free_port(),
        "runtime-env-agent-port": _free_port(),
        "metrics-export-port": _free_port(),
    }
    command = [str(RAY), "start", "--head", "--block", "--node-ip-address=127.0.0.1"]
    command += ["--num-cpus=2", "--include-dashboard=false", f"--temp-dir={temp}"]
    command += ["--object-store-memory=100000000"]  # 100 MB: the test puts 5,000 candles
    command += ["--disable-usage-stats", *(f"--{name}={value}" for name, value in ports.items())]
    log = temp / "ray-start.log"
    with log.open("w") as output:
        head = subprocess.Popen(
            command, env=env, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        deadline = time.monotonic() + 60
        while "Ray runtime started" not in log.read_text():
            assert head.poll() is None, log.read_text()[-2000:]
            assert time.monotonic() < deadline, "the Ray head did not start in 60 s"
            time.sleep(0.2)
        yield f"127.0.0.1:{port}", env
    finally:
        head.terminate()  # --block stops the cluster's processes on SIGTERM
        with contextlib.suppress(subprocess.TimeoutExpired):
            head.wait(30)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(head.pid, signal.SIGKILL)  # whatever of ours is left
        shutil.rmtree(temp, ignore_errors=True)


def test_a_sweep_on_ray_equals_the_process_pool(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    ray_cluster: tuple[str, dict[str, str]],
    candles_5k: Path,
) -> None:
    address, env = ray_cluster
    strategy = tmp_path / "custom_modules" / "strategies" / "my_cross" / "strategy.py"
    strategy.parent.mkdir(parents=True)
    strategy.write_text(CUSTOM_STRATEGY)
    search = ["--strategy", "my_cross", "--data", str(candles_5k), "--param", "fast=5:20:5"]
    search += ["--param", "slow=30,60", "--objective", "total_return"]
    on_ray = tmp_path / "ray.json"
    command = [sys.executable, "-m", "ats.cli", "optimize", *search, "--ray", address]
    result = subprocess.run(
        [*command, "--quiet", "--json", str(on_ray)],
        cwd=tmp_path,  # custom_modules/ here is shipped to the Ray workers
        env={**env, "ATS_SAVED_STATES_DIR": str(tmp_path / "state-ray")},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ATS_SAVED_STATES_DIR", str(tmp_path / "state-pool"))
    on_pool = optimize(tmp_path / "pool.json", *search, "--workers", "2")
    ray_table = json.loads(on_ray.read_text())
    assert len(ray_table["trials"]) == 8
    assert ray_table == on_pool
