"""Editing a job through the control API when its config holds literal credentials: the
API shows them masked (``***``), so the edited config comes back with the mask where
the secret was. The server keeps the stored secret for a mask sent back, takes a new
value when one is typed, and never sends the secret out (answers, events, log)."""

from __future__ import annotations

import pytest
from job_configs import backtest_config
from textual.widgets import Input
from ui_helpers import focus_on, press, type_text, wait_for

from ats.apis.remote_control import RemoteJobControl
from ats.apis.server import ControlServer
from ats.trading_job.job_config import JobConfig
from ats.trading_job.job_manager import JobManager
from ats.ui.app import AtsApp
from ats.ui.screens.job_form import JobFormScreen
from ats.ui.screens.main import MainScreen
from ats.ui.themes import BUNDLED_THEMES
from ats.utils.redaction import MASK

SECRET = "literal-secret-0b7e41c9d2"
API_KEY = "literal-key-5a1f93e7c4"
NEW_SECRET = "typed-anew-secret-8e2d"


def _with_credentials(**params: str) -> JobConfig:
    config = backtest_config(name="keyed")
    exchange = config.exchange.model_copy(update={"params": {**config.exchange.params, **params}})
    return config.model_copy(update={"exchange": exchange})


def _stored(manager: JobManager, job_id: str) -> dict[str, object]:
    return dict(manager.get(job_id).config.exchange.params)


async def test_an_edit_keeps_masked_credentials_and_takes_new_ones(
    served: tuple[JobManager, ControlServer],
    remote: RemoteJobControl,
    caplog: pytest.LogCaptureFixture,
) -> None:
    manager, _server = served
    job_id = manager.create(_with_credentials(secret=SECRET, api_key=API_KEY)).id
    shown = await remote.job_config(job_id)
    assert shown.exchange.params["secret"] == shown.exchange.params["api_key"] == MASK

    with caplog.at_level("DEBUG"):
        strategy = shown.strategy.model_copy(update={"params": {"fast": 7, "slow": 30}})
        answer = await remote.edit(job_id, shown.model_copy(update={"strategy": strategy}))
        assert answer == job_id
        stored = _stored(manager, job_id)
        assert stored["secret"] == SECRET and stored["api_key"] == API_KEY  # not "***"
        assert manager.get(job_id).config.strategy.params == {"fast": 7, "slow": 30}

        again = await remote.job_config(job_id)
        assert again.exchange.params["secret"] == MASK  # still never sent
        params = {**again.exchange.params, "secret": NEW_SECRET}
        exchange = again.exchange.model_copy(update={"params": params})
        await remote.edit(job_id, again.model_copy(update={"exchange": exchange}))
        stored = _stored(manager, job_id)
        assert stored["secret"] == NEW_SECRET and stored["api_key"] == API_KEY
        answers = await _raw_answers(served[1], job_id)
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert f'"secret":"{MASK}"' in answers.replace(" ", "")
    for secret in (SECRET, API_KEY, NEW_SECRET):
        assert secret not in logged and secret not in answers


async def _raw_answers(server: ControlServer, job_id: str) -> str:
    """The bodies of the routes that show a job (its view, config and log), as sent."""
    import aiohttp

    assert server.listening.socket_file is not None
    connector = aiohttp.UnixConnector(path=str(server.listening.socket_file))
    texts = []
    async with aiohttp.ClientSession(connector=connector) as http:
        for path in ("/jobs", f"/jobs/{job_id}", f"/jobs/{job_id}/config", f"/jobs/{job_id}/logs"):
            async with http.get(f"http://ats/api/v1{path}") as response:
                assert response.status == 200, path
                texts.append(await response.text())
    return "\n".join(texts)


async def test_the_attached_console_edits_a_job_without_losing_its_secret(
    served: tuple[JobManager, ControlServer], remote: RemoteJobControl
) -> None:
    """The user's path: e in a console attached through the socket, change a parameter,
    ctrl+s. The job's literal secret is still the one it had."""
    manager, _server = served
    job_id = manager.create(_with_credentials(secret=SECRET)).id
    app = AtsApp(control=remote, demo=False, settings_path=None, theme_dirs=[BUNDLED_THEMES])
    async with app.run_test(size=(100, 30)) as pilot:
        screen = app.screen
        assert isinstance(screen, MainScreen)
        await wait_for(pilot, lambda: screen.selected_job_id == job_id)
        await press(pilot, "e")
        await wait_for(pilot, lambda: isinstance(app.screen, JobFormScreen))
        form = app.screen
        assert isinstance(form, JobFormScreen)
        await wait_for(pilot, lambda: len(form.query(".param-input")) == 3)
        slow = next(w for w in form.query(".param-input").results(Input) if w.id.endswith("slow"))
        await focus_on(pilot, slow)
        await press(pilot, "ctrl+u")
        await type_text(pilot, "120")
        await press(pilot, "ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, MainScreen))
        await wait_for(pilot, lambda: manager.get(job_id).config.strategy.params["slow"] == 120)
    assert _stored(manager, job_id)["secret"] == SECRET
