"""Issue 14 item 4: a strategy's State is checked on every assignment, so a bad value is an
error at the strategy's line (never a snapshot the next start cannot load), and a job
resumed from its previous good snapshot says so in ``ats jobs list`` and ``ats --no-ui``."""

from __future__ import annotations

import json
import math
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from job_configs import backtest_config
from persist_helpers import ats_env, run_ats, settings_for, write_candles

from ats.exceptions import StateError
from ats.headless.job_add import add_job
from ats.persistence.snapshot_store import SnapshotStore
from ats.state.simple_state import SimpleState, StateValueError


class Counts(SimpleState):
    count: int = 0
    level: float | None = None
    ratio: float = 1.0
    name: str = ""
    flags: list[int] = []
    table: dict[str, float] = {}


def _line_of(marker: str) -> int:
    lines = Path(__file__).read_text().splitlines()
    return next(number for number, text in enumerate(lines, 1) if marker in text)


def test_nan_into_an_int_field_fails_at_the_line_that_wrote_it() -> None:
    state = Counts()
    with pytest.raises(StateValueError) as caught:
        state.count = float("nan")  # type: ignore[assignment]  # marker: nan-into-int
    message = str(caught.value)
    assert "Counts.count = nan: not a valid int" in message
    assert f"test_state_values.py:{_line_of('marker: nan-into-int')}" in message
    assert state.count == 0  # nothing was stored


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("count", 1.5),
        ("count", True),
        ("count", "3"),
        ("ratio", "1.5"),
        ("ratio", None),
        ("level", "x"),
        ("name", 3),
        ("flags", [1, float("nan")]),
        ("flags", (1, 2)),
        ("table", {1: 2.0}),
        ("table", {"a": "b"}),
    ],
)
def test_values_that_do_not_fit_are_refused(field: str, value: Any) -> None:
    state = Counts()
    before = state.to_dict()
    with pytest.raises(StateValueError, match=f"Counts.{field} = "):
        setattr(state, field, value)
    assert state.to_dict() == before


def test_values_that_fit_are_stored_and_numpy_scalars_become_python() -> None:
    state = Counts()
    state.count = 7
    state.ratio = 3  # an int is a fine float
    state.ratio = float("nan")  # NaN is a float (saved as "NaN")
    state.level = None
    state.level = np.float64(2.5)  # a float subclass: kept as it is
    state.count = np.int64(4)  # type: ignore[assignment]
    assert type(state.count) is int and state.count == 4
    state.flags = [1, 2]
    state.table = {"a": 1, "b": 2.5}
    state._scratch = object()  # private: allowed, never saved
    restored = Counts.from_dict(json.loads(json.dumps(state.to_dict())))
    assert restored.count == 4 and math.isnan(restored.ratio) and restored.level == 2.5
    assert "_scratch" not in state.to_dict()


def test_unknown_fields_are_refused() -> None:
    state = Counts()
    with pytest.raises(StateValueError, match="Counts has no field 'cuont'"):
        state.cuont = 1  # type: ignore[attr-defined]


def test_a_list_changed_in_place_is_refused_when_saved() -> None:
    state = Counts()
    state.flags.append(float("nan"))  # type: ignore[arg-type]  # no assignment to check
    with pytest.raises(StateError, match=r"Counts.flags: \[nan\] is not a valid list\[int\]"):
        state.to_dict()


def test_bad_defaults_and_unsaveable_types_fail_when_the_class_is_defined() -> None:
    with pytest.raises(TypeError, match=r"default 0\.5 is not a valid int"):

        class BadDefault(SimpleState):
            count: int = 0.5  # type: ignore[assignment]

    with pytest.raises(TypeError, match="cannot be saved as JSON state"):

        class Unsaveable(SimpleState):
            pair: tuple[int, int] = (1, 2)


def test_a_str_field_holding_nan_text_round_trips() -> None:
    state = Counts()
    state.name = "NaN"
    assert Counts.from_dict(state.to_dict()).name == "NaN"


NAN_STRATEGY = """
from ats.exchanges.data_classes import Candle
from ats.state.simple_state import SimpleState
from ats.strategies.base_strategy import BaseStrategy


class State(SimpleState):
    seen: int = 0


class Strategy(BaseStrategy):
    name = "nan_count"
    State = State

    def on_candle(self, candle: Candle) -> None:
        self.state.seen += 1
        if self.state.seen == 50:
            self.state.seen = float("nan")  # the bad line
"""


def test_nan_into_an_int_in_a_real_backtest_puts_the_job_in_error(tmp_path: Path) -> None:
    """The issue's case: the job saved "NaN", then every start silently resumed from the
    older .bak while `ats jobs list` said "finished". Now the job stops in error, naming
    the line, and stays in error."""
    folder = tmp_path / "custom_modules" / "strategies" / "nan_count"
    folder.mkdir(parents=True)
    (folder / "strategy.py").write_text(NAN_STRATEGY)
    bad_line = next(
        number
        for number, text in enumerate(NAN_STRATEGY.splitlines(), 1)
        if "# the bad line" in text
    )
    data = write_candles(tmp_path / "c.csv", 2_000)
    job = tmp_path / "job.yaml"
    job.write_text(
        textwrap.dedent(
            f"""
            name: nan-job
            balances: {{USDT: 10000}}
            exchange: {{name: back_trading, params: {{data: {data}}}}}
            strategy: {{name: nan_count}}
            """
        )
    )
    env = ats_env(tmp_path / "state")
    added = run_ats("jobs", "add", str(job), "--start", "--id", "nan", env=env, cwd=tmp_path)
    assert added.returncode == 0, added.stderr
    first = run_ats("--no-ui", env=env, cwd=tmp_path)
    assert first.returncode == 1, first.stderr
    where = f"strategies/nan_count/strategy.py:{bad_line}"
    assert "Traceback" in first.stdout and where in first.stdout  # the log has it all
    listed = run_ats("jobs", "list", "--json", env=env, cwd=tmp_path)
    (row,) = json.loads(listed.stdout)
    assert row["status"] == "error" and not row["from_backup"]
    assert "State.seen = nan: not a valid int" in row["error"] and where in row["error"]
    payload = SnapshotStore.read(tmp_path / "state" / "nan.json", "nan").payload
    assert payload is not None and payload["strategy_state"] == {"seen": 50}
    again = run_ats("--no-ui", env=env, cwd=tmp_path)  # nothing resumes, nothing rolls back
    assert again.returncode == 0 and "no saved job to resume" in again.stdout
    assert "previous good copy" not in again.stdout + again.stderr


def _backtest_yaml(tmp_path: Path, candles: int) -> Path:
    data = write_candles(tmp_path / "c.csv", candles)
    path = tmp_path / "job.yaml"
    path.write_text(backtest_config(data, name="rolled", fast=10, slow=30).to_yaml())
    return path


def break_current_snapshot(state_dir: Path, job_id: str) -> None:
    """What an older ATS wrote for NaN in an int field: a well-formed, checksummed
    snapshot whose strategy state the restore refuses (so the .bak is used)."""
    store = SnapshotStore(state_dir)
    payload = store.read(store.path(job_id), job_id).payload
    assert payload is not None
    payload["strategy_state"] = {"prev_diff": "not a number"}
    store.write(job_id, SnapshotStore.encode(job_id, payload))


def test_a_job_resumed_from_its_backup_says_so_in_jobs_list_and_no_ui(tmp_path: Path) -> None:
    env = ats_env(tmp_path / "state")
    job = _backtest_yaml(tmp_path, 3_000)
    assert add_job(settings_for(tmp_path / "state"), job, "rolled", start=True) == 0
    assert run_ats("--no-ui", env=env, cwd=tmp_path).returncode == 0  # .bak: the added job
    break_current_snapshot(tmp_path / "state", "rolled")

    run = run_ats("--no-ui", env=env, cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    (warning,) = run.stderr.splitlines()
    assert warning.startswith(
        "ats: warning: job rolled (rolled) resumed from the previous good copy"
    )
    assert "rolled.json unusable" in warning and "prev_diff" in warning

    listed = run_ats("jobs", "list", env=env, cwd=tmp_path)
    assert "(backup)" in listed.stdout and "resumed from the previous good copy" in listed.stdout
    (row,) = json.loads(run_ats("jobs", "list", "--json", env=env, cwd=tmp_path).stdout)
    assert row["status"] == "finished" and row["from_backup"]
    assert row["restore_note"].startswith("resumed from the previous good copy saved at")
    assert (tmp_path / "state" / "rolled.json.unusable").is_file()  # kept for a look
