"""The control API answers every JobControl query and command as the in-process control
does: same views, same errors, same change summaries, over a real unix socket."""

from __future__ import annotations

import asyncio
import inspect
import typing

import pytest
from job_configs import backtest_config
from persist_helpers import eventually

from ats.apis import openapi
from ats.apis.operations import BY_NAME, NOT_OPERATIONS
from ats.apis.remote_control import RemoteJobControl
from ats.apis.server import ControlServer
from ats.exceptions import ATSError, ConfigError, JobError
from ats.trading_job.change_feed import Changes
from ats.trading_job.control import JobControl
from ats.trading_job.job_config import JobConfig
from ats.trading_job.job_manager import JobManager
from ats.trading_job.local_control import LocalJobControl
from ats.trading_job.status import JobStatus


def test_every_jobcontrol_method_is_an_operation_with_its_return_type() -> None:
    members = {
        name
        for name, value in vars(JobControl).items()
        if inspect.isfunction(value) and not name.startswith("_")
    }
    assert members - NOT_OPERATIONS == set(BY_NAME)
    names = {"JobConfig": JobConfig}
    for name, operation in BY_NAME.items():
        hints = typing.get_type_hints(getattr(JobControl, name), localns=names)
        expected = type(None) if operation.returns is None else operation.returns
        assert hints["return"] == expected, name
        params = [p for p in inspect.signature(getattr(JobControl, name)).parameters]
        assert params == ["self", *(p.name for p in operation.params)], name
        for param in operation.params:
            assert hints[param.name] == param.type or param.name == "job_ids", name
    for name in members:  # the client has every one, with the same parameters
        assert inspect.signature(getattr(RemoteJobControl, name)).parameters.keys() == (
            inspect.signature(getattr(JobControl, name)).parameters.keys()
        ), name


async def test_queries_answer_what_the_local_control_answers(
    served: tuple[JobManager, ControlServer], remote: RemoteJobControl
) -> None:
    manager, _server = served
    local = LocalJobControl(manager)
    job_id = await remote.create(backtest_config(name="api"))
    assert await remote.job_ids() == [job_id]
    await remote.start(job_id)
    await manager.wait(job_id)
    assert (await remote.job(job_id)).status is JobStatus.FINISHED
    assert await remote.jobs() == await local.jobs()
    assert await remote.views([job_id, "gone"]) == await local.views([job_id])
    assert await remote.views([]) == []
    assert await remote.job_config(job_id) == await local.job_config(job_id)
    assert await remote.chart_window(job_id, 120, 2, 5) == await local.chart_window(
        job_id, 120, 2, 5
    )
    assert await remote.equity_curve(job_id, 50) == await local.equity_curve(job_id, 50)
    assert await remote.logs(job_id, 2) == await local.logs(job_id, 2)
    assert await remote.trades(job_id, 1, 3) == await local.trades(job_id, 1, 3)
    assert await remote.fills(job_id) == await local.fills(job_id)
    assert await remote.plugins("strategies") == await local.plugins("strategies")
    assert await remote.strategy_params("sma_cross") == await local.strategy_params("sma_cross")
    assert await remote.data_files() == await local.data_files()
    assert await remote.check_data_file("/nope.csv") == "no such file: /nope.csv"
    assert (await remote.job(job_id)).metrics  # the report crossed too


async def test_commands_and_their_errors_cross_as_they_are(
    served: tuple[JobManager, ControlServer], remote: RemoteJobControl
) -> None:
    manager, _server = served
    job_id = await remote.create(backtest_config(name="cmd"))
    with pytest.raises(JobError, match="no job with id 'nope'"):
        await remote.start("nope")
    with pytest.raises(ConfigError) as raised:
        await remote.check_strategy_params("sma_cross", {"fast": "x"})
    with pytest.raises(ConfigError) as local_raised:
        await LocalJobControl(manager).check_strategy_params("sma_cross", {"fast": "x"})
    assert str(raised.value) == str(local_raised.value)
    with pytest.raises(JobError, match="no adjustable speed"):
        await remote.set_speed(job_id, 2.0)
    assert await remote.kill_switch() == 0
    edited = await remote.edit(job_id, backtest_config(name="renamed"))
    assert (await remote.job(edited)).name == "renamed"
    await remote.delete(edited)
    assert await remote.job_ids() == []


async def test_the_event_stream_carries_the_coalesced_changes(
    served: tuple[JobManager, ControlServer], remote: RemoteJobControl
) -> None:
    manager, _server = served
    seen: list[Changes] = []
    watch = remote.watch(seen.append, known=lambda job_id: False)
    watch.start()
    for _ in range(100):
        if seen:
            break
        await asyncio.sleep(0.01)
    assert seen and seen[0].structure  # the first summary: re-read everything
    job_id = await remote.create(backtest_config(name="events"))
    await remote.start(job_id)
    await manager.wait(job_id)

    def merged_changes() -> Changes:
        merged = Changes()
        for changes in seen[1:]:
            merged.rows |= changes.rows
            merged.structure |= changes.structure
            merged.status_events.extend(changes.status_events)
            merged.reports |= changes.reports
        return merged

    def all_arrived() -> bool:
        merged = merged_changes()
        events = merged.status_events
        return (
            merged.structure
            and job_id in merged.rows
            and job_id in merged.reports
            and bool(events)
            and str(events[-1].status) == "finished"
        )

    await eventually(all_arrived, 15)  # the pump's next slot, then the socket
    await watch.stop()
    merged = merged_changes()
    assert merged.structure and job_id in merged.rows and job_id in merged.reports
    assert [str(e.status) for e in merged.status_events][-1] == "finished"
    assert len(seen) < 30  # coalesced (≤ 10 a second), not one per event


def test_the_openapi_document_describes_every_operation() -> None:
    document = openapi.document()
    ids = {
        spec["operationId"] for methods in document["paths"].values() for spec in methods.values()
    }
    assert ids == set(BY_NAME) | {"events", "stop_process"}
    assert "JobView" in document["components"]["schemas"]
    assert document["paths"]["/api/v1/jobs"]["get"]["responses"]["200"]


async def test_over_tcp_with_the_token_and_key_presses_hold_the_jobs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from ats.apis.listen import ApiOptions, bind

    token = "a-token-of-enough-length"
    manager = JobManager()
    held: list[float] = []
    monkeypatch.setattr(manager, "hold_foreground", held.append)
    listening = bind(None, ApiOptions(port=0), token=token)
    assert listening.tcp_address is not None
    url = "http://{}:{}".format(*listening.tcp_address)
    async with ControlServer(LocalJobControl(manager), listening):
        async with RemoteJobControl(url=url, token=token) as remote:
            job_id = await remote.create(backtest_config(name="tcp"))
            assert [view.job_id for view in await remote.jobs()] == [job_id]
            watch = remote.watch(lambda changes: None)
            watch.start()
            for _ in range(200):  # a key press travels on the event stream
                remote.hold_foreground(0.08)
                remote.hold_foreground(5.0)  # more than a key needs: ignored
                await asyncio.sleep(0.01)
                if held:
                    break
            await watch.stop()
        async with RemoteJobControl(url=url, token="wrong-token-of-length") as intruder:
            with pytest.raises(ATSError, match="missing or wrong bearer token"):
                await intruder.jobs()
    assert held and set(held) == {0.08}
