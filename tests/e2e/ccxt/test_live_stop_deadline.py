"""Issue 14, item 2: a live job whose exchange is unreachable does not hold up a stop.

``ats --no-ui --yes-live`` starts a live job while the loopback Binance refuses every
connection: ccxt's connect retries with real backoff (1 s doubling up to 60 s). SIGTERM
must end the process within the stop deadline, with the job saved to resume.
"""

from __future__ import annotations

import signal
from pathlib import Path

from live_helpers import API_KEY, KEY_ENV, SECRET, SECRET_ENV, live_params, sma_cross_server
from paper_helpers import WARMUP, job_config
from persist_helpers import ats_env, settings_for
from stuck_jobs import AtsProcess, saved_jobs

from ats.headless.job_add import add_job
from ats.trading_job.job_config import parse_job_config

JOB_ID = "live-offline"
DEADLINE = 2.0
MARGIN = 8.0


async def test_sigterm_ends_a_live_job_whose_exchange_is_unreachable(tmp_path: Path) -> None:
    state = tmp_path / "state"
    async with sma_cross_server() as fake:
        params = live_params(fake, warmup=WARMUP, backoff_seconds=1.0, backoff_max=60.0)
        config = {**job_config(JOB_ID, {"name": "ccxt", "params": params}), "mode": "live"}
        path = tmp_path / "live.yaml"
        path.write_text(parse_job_config(config).to_yaml())
        assert add_job(settings_for(state), path, JOB_ID, start=True) == 0
        await fake.go_offline()
        env = ats_env(
            state, ATS_STOP_DEADLINE_S=f"{DEADLINE:g}", **{KEY_ENV: API_KEY, SECRET_ENV: SECRET}
        )
        ats = AtsProcess(tmp_path, env, "--no-ui", "--yes-live")
        try:
            await ats.until(lambda: "retry 1 in" in ats.output(), 60, "connect retries")
            status, _ = await ats.stopped_by(signal.SIGTERM, DEADLINE + MARGIN)
        finally:
            ats.kill()
    assert status == 0, ats.output()
    assert "stopped while connecting: cancelled where it was waiting" in ats.output()
    assert saved_jobs(state, tmp_path)[JOB_ID]["status"] == "running"  # resumes next time
