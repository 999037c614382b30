"""Issue 14, item 1: a stuck strategy is interrupted by the loop watchdog.

Real ``ats --no-ui`` processes run a strategy stuck in ``on_candle`` (``while True:
pass``, or ``time.sleep(5)`` on every candle) beside a good 100,000-candle backtest. The
good job finishes, the stuck one ends in error with the stack where it was stuck in its
log, and the next start does not resume it into the same hang. In-process tests cover
``setup()`` and ``on_stop()`` and the watchdog's own rules.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest
from job_configs import backtest_config
from persist_helpers import read_payload, run_ats, settings_for, write_candles
from stuck_jobs import backtest, custom_modules, env, save_jobs, stuck

from ats.database.journal import Journal
from ats.exceptions import PluginError
from ats.trading_job.job_config import parse_job_config
from ats.trading_job.job_manager import JobManager
from ats.trading_job.trading_job import JobStatus
from ats.trading_job.watchdog import JobFrozen, WatchdogLimits, installed_for
from ats.utils.plugins import PluginLoader

LIMIT = "0.5"
HANG_LINES = {"spin": ("while True:", "pass"), "sleep": ("time.sleep(",)}


@pytest.fixture(scope="module")
def candles(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_candles(tmp_path_factory.mktemp("candles") / "candles.csv", 100_000)


async def journal_logs(state: Path, job_id: str) -> list[str]:
    journal = await Journal(settings_for(state).journal_file, readonly=True).open()
    try:
        return [row["message"] for row in await journal.logs(job_id, limit=100)]
    finally:
        await journal.close()


@pytest.mark.parametrize("how", ["spin", "sleep"])
async def test_stuck_strategy_beside_a_good_backtest(
    tmp_path: Path, candles: Path, how: str
) -> None:
    custom = custom_modules(tmp_path)
    state = tmp_path / "state"
    save_jobs(state, custom, {"good": backtest(candles), "stuck": stuck(candles, how)})
    ats = env(state, custom, watchdog_backtest_s=LIMIT)

    first = await asyncio.to_thread(run_ats, "--no-ui", env=ats, cwd=tmp_path, timeout=90)
    assert first.returncode == 1, first.stdout + first.stderr  # a job failed
    assert "stuck error — watchdog: held the event loop" in " ".join(first.stdout.split())
    good, frozen = read_payload(state, "good"), read_payload(state, "stuck")
    assert good is not None and frozen is not None
    assert good["status"] == "finished" and good["exchange"]["cursor"] == 100_000
    assert frozen["status"] == "error"
    assert f"limit {LIMIT}s for backtest jobs" in frozen["error"]
    assert "stuck/strategy.py" in frozen["error"] and "in hang" in frozen["error"]
    stacks = [m for m in await journal_logs(state, "stuck") if "Traceback" in m]
    assert len(stacks) == 1
    assert "in on_candle" in stacks[0] and any(line in stacks[0] for line in HANG_LINES[how])
    assert "ATS_WATCHDOG_BACKTEST_S" in stacks[0]

    # The next start restores it in error, never resumes it into the same hang.
    second = await asyncio.to_thread(run_ats, "--no-ui", env=ats, cwd=tmp_path, timeout=60)
    assert second.returncode == 0, second.stdout + second.stderr
    assert "no saved job to resume" in second.stdout
    again = read_payload(state, "stuck")
    assert again is not None and again["status"] == "error"


def manager(tmp_path: Path) -> JobManager:
    return JobManager(loader=PluginLoader(custom_modules(tmp_path)))


def stuck_config(how: str, name: str = "stuck", **params: object) -> dict[str, object]:
    return stuck(Path("data/BTC_USDT_3s_2022-05-12.csv"), how, name, **params)


@pytest.mark.parametrize("how", ["spin", "sleep"])
def test_a_setup_that_hangs_is_a_plugin_error(tmp_path: Path, how: str) -> None:
    jobs = manager(tmp_path)
    with installed_for(WatchdogLimits(backtest=0.3)):
        began = time.monotonic()
        with pytest.raises(PluginError, match=r"setup\(\) held the event loop") as error:
            jobs.create(parse_job_config(stuck_config(how, where="setup")))
    assert time.monotonic() - began < 4.0  # not the 5 s sleep, nor forever
    assert "stuck/strategy.py" in str(error.value) and "limit 0.3s" in str(error.value)
    assert len(jobs) == 0


async def test_on_stop_that_hangs_puts_the_job_in_error_and_others_run_on(
    tmp_path: Path,
) -> None:
    jobs = manager(tmp_path)
    with installed_for(WatchdogLimits(backtest=0.3, paper=0.3)):
        frozen = jobs.create(parse_job_config(stuck_config("spin", where="on_stop")))
        good = jobs.create(backtest_config(name="good"))
        jobs.start(frozen.id)
        jobs.start(good.id)
        await asyncio.wait_for(jobs.wait_all(), 30)
    assert good.status is JobStatus.FINISHED and good.report is not None
    assert frozen.status is JobStatus.ERROR and frozen.frozen
    assert frozen.error is not None and "on_stop() held the event loop" in frozen.error
    assert "in on_stop" in frozen.logs[-1].message or any(
        "in on_stop" in log.message for log in frozen.logs
    )


async def test_a_job_limit_overrides_its_mode(tmp_path: Path) -> None:
    """The job's own ``watchdog_s`` wins over its mode's; a hold below it is left alone."""
    jobs = manager(tmp_path)
    slow = {"how": "sleep", "seconds": 0.6, "once": True, "at": 1}
    with installed_for(WatchdogLimits(backtest=0.2)):
        patient = jobs.create(
            parse_job_config({**stuck_config(**slow, name="patient"), "watchdog_s": 3})
        )
        strict = jobs.create(parse_job_config(stuck_config(**slow, name="strict")))
        jobs.start(patient.id)
        jobs.start(strict.id)
        await asyncio.wait_for(jobs.wait_all(), 30)
    assert patient.status is JobStatus.FINISHED and not patient.frozen
    assert strict.status is JobStatus.ERROR and strict.frozen
    assert strict.error is not None and "limit 0.2s for backtest jobs" in strict.error


async def test_a_hook_called_from_outside_the_jobs_steps_is_guarded(tmp_path: Path) -> None:
    """A live exchange reports order updates from background requests, outside the job's
    own steps: a strategy hook stuck there is interrupted too, and the job ends in error."""
    jobs = manager(tmp_path)
    with installed_for(WatchdogLimits(backtest=0.3)):
        job = jobs.create(parse_job_config(stuck_config("spin", where="on_order_update")))
        assert job.exchange is not None
        # Rejected at once (no funds for it): its update reaches the strategy right here,
        # outside any step of the job, as a background request's would.
        order = job.exchange.submit_order("BTC/USDT", "buy", "limit", 1e9, 1.0)
    assert order.status.is_final
    assert job.frozen and job.error is not None
    assert "on_order_update() held the event loop" in job.error


async def test_the_interrupt_never_lands_outside_the_step_it_was_sent_for() -> None:
    """A signal for a step that has ended (the race of a step ending as the watchdog
    fires) interrupts nothing: the handler checks it is still the same step."""
    with installed_for(WatchdogLimits(backtest=60.0)) as watchdog:
        guard = watchdog.guard("j", "j", "backtest")
        with watchdog.section(guard):
            held = watchdog.held
        watchdog._target = held  # as if the thread fired just as that section ended
        watchdog._interrupt(0, None)  # no JobFrozen: that section is over
        with watchdog.section(guard):
            watchdog._target = watchdog.held
            with pytest.raises(JobFrozen):
                watchdog._interrupt(0, None)


def test_jobs_add_with_a_setup_that_hangs_is_one_line(tmp_path: Path) -> None:
    """``ats jobs add`` builds the job (so a bad config fails there): a ``setup()`` that
    hangs is interrupted like any other job code, one line and exit 2, nothing saved."""
    custom, state = custom_modules(tmp_path), tmp_path / "state"
    path = tmp_path / "stuck.yaml"
    path.write_text(json.dumps(stuck_config("sleep", where="setup")))
    ats = env(state, custom, watchdog_backtest_s="0.3")
    added = run_ats("jobs", "add", str(path), env=ats, cwd=Path.cwd(), timeout=30)
    assert added.returncode == 2, added.stdout + added.stderr
    (line,) = added.stderr.splitlines()
    assert "setup() held the event loop" in line and str(path) in line
    assert not list(state.glob("*.json"))
