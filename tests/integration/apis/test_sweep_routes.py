"""A sweep's trial promoted through the control API (the attached console's sweep pane):
the trial number travels in the path (``/sweeps/ID/trials/2/config``) and reaches the
JobControl as the int it is (as a string it matched no trial: 409 on every promote)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from ats.apis.listen import bind
from ats.apis.remote_control import RemoteJobControl
from ats.apis.server import ControlServer
from ats.research.sweep_jobs import SweepJobs
from ats.research.trial import TrialResult
from ats.trading_job.job_manager import JobManager
from ats.trading_job.local_control import LocalJobControl


@pytest.fixture
async def served_sweep(
    short_tmp: Path, candles_5k: Path
) -> AsyncIterator[tuple[ControlServer, str]]:
    (short_tmp / "job.yaml").write_text(
        "name: j\nsymbol: BTC/USDT\nbalances: {USDT: 10000}\n"
        f"exchange: {{name: back_trading, params: {{data: {candles_5k}}}}}\n"
        "strategy: {name: sma_cross, params: {fast: 10, slow: 30}}\n"
    )
    (short_tmp / "s.sweep.yaml").write_text("job: job.yaml\nparams: {fast: [5, 10], slow: [30]}\n")
    manager = JobManager()
    sweeps = SweepJobs(manager.bus, manager.loader, short_tmp / "research.sqlite3")
    sweep_id = sweeps.create(str(short_tmp / "s.sweep.yaml"))
    sweep = sweeps.get(sweep_id)  # its trials given: no worker process
    for number, fast in enumerate((5, 10)):
        metrics = {"sharpe": float(number), "num_trades": 3}
        sweep.trials[number] = TrialResult(number, {"fast": fast, "slow": 30}, 1e4, 3, metrics)
    server = ControlServer(LocalJobControl(manager, sweeps), bind(short_tmp / "ats.sock"))
    async with server:
        yield server, sweep_id
    await sweeps.shutdown()


async def test_a_trial_config_by_its_number_in_the_path(
    served_sweep: tuple[ControlServer, str],
) -> None:
    server, sweep_id = served_sweep
    socket_file = server.listening.socket_file
    assert socket_file is not None
    async with RemoteJobControl(socket_file=socket_file) as control:
        config = await control.trial_job_config(sweep_id, 1)
        assert config.strategy.params == {"fast": 10, "slow": 30}
        paper = await control.trial_job_config(sweep_id, 0, "paper")
        assert paper.exchange.name == "paper" and paper.strategy.params["fast"] == 5
    connector = aiohttp.UnixConnector(path=str(socket_file))
    async with (
        aiohttp.ClientSession(connector=connector) as http,
        http.get(f"http://ats/api/v1/sweeps/{sweep_id}/trials/one/config") as response,
    ):
        assert response.status == 400  # not a number: a bad request naming the field
        assert "trial" in (await response.json())["message"]
