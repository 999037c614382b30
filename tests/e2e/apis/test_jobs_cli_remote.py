"""Issue 11 item 4: ``ats jobs ...`` while ATS runs talks to it through its socket (live
views, start/stop/pause/...), instead of refusing with exit 2; and a TCP API without a
token is refused before anything runs."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from ats_process import ats_env, replay_config, run_ats, save_job, start_headless
from job_configs import backtest_config

from ats.cli import main


@pytest.fixture
def workspace(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path_factory.mktemp("ws")
    monkeypatch.chdir(home)
    for key in ("ATS_SAVED_STATES_DIR", "ATS_JOURNAL_PATH", "ATS_API_TOKEN", "ATS_HOME"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("ATS_SAVED_STATES_DIR", str(home / "s"))
    monkeypatch.setenv("COLUMNS", "200")
    return home


def test_jobs_commands_go_to_the_running_process(
    workspace: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state = workspace / "s"
    env = ats_env(state)
    save_job(replay_config(speed=20.0), "replay", env=env, cwd=workspace)
    assert main(["jobs", "pause", "replay"]) == 2  # nothing runs: a clear refusal
    assert "needs a running ATS" in capsys.readouterr().err
    process = start_headless(state, env=env, cwd=workspace)
    try:
        deadline = time.monotonic() + 20
        listed: list[dict[str, str]] = []
        while time.monotonic() < deadline and [row["status"] for row in listed] != ["running"]:
            assert main(["jobs", "list", "--json"]) == 0  # served from the restore on
            listed = json.loads(capsys.readouterr().out)
        assert [(row["job_id"], row["status"]) for row in listed] == [("replay", "running")]
        assert process.poll() is None, process.communicate()[0]
        assert main(["jobs", "pause", "repl"]) == 0  # a prefix, as for saved jobs
        assert capsys.readouterr().out.strip() == "replay (replay): paused"
        assert main(["jobs", "resume", "replay"]) == 0
        assert main(["jobs", "speed", "replay", "40"]) == 0
        assert "speed 40x" in capsys.readouterr().out
        bt = workspace / "bt.yaml"
        bt.write_text(backtest_config(name="bt").to_yaml())
        assert main(["jobs", "add", str(bt), "--start"]) == 0
        new_id = capsys.readouterr().out.strip()
        assert main(["jobs", "show", "bt"]) == 0
        shown = capsys.readouterr().out
        assert f"bt ({new_id})" in shown and "running ATS" in shown and "sma_cross" in shown
        while time.monotonic() < deadline + 20 and "finished" not in shown:
            assert main(["jobs", "show", "bt"]) == 0
            shown = capsys.readouterr().out
        # --trades/--fills: the pages the console reads (the process's journal), by the API
        assert main(["jobs", "show", "bt", "--trades"]) == 0
        table = capsys.readouterr().out.splitlines()
        assert table[0] == f"bt ({new_id}): 27 trades, newest first"
        assert [line.split()[0] for line in table[2:]] == [str(n) for n in range(27, 0, -1)]
        assert main(["jobs", "show", "bt", "--fills", "--csv"]) == 0
        fills = capsys.readouterr().out.splitlines()
        assert len(fills) == 1 + 53 and fills[1].startswith("53,")
        assert main(["jobs", "list"]) == 0
        assert "replay" in capsys.readouterr().out
        assert main(["jobs", "delete", new_id]) == 0  # no longer refused while ATS runs
        assert main(["jobs", "show", "nope"]) == 2
        capsys.readouterr()
        stopped = main(["jobs", "stop", "replay"])  # the last job: the process ends
        said = capsys.readouterr()
        assert stopped == 0, said.err
        output = process.communicate(timeout=30)[0]
        assert process.returncode == 0, output
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert main(["jobs", "list", "--json"]) == 0  # from the files again
    rows = json.loads(capsys.readouterr().out)
    assert [(row["job_id"], row["status"]) for row in rows] == [("replay", "stopped")]


def test_tcp_without_a_token_refuses_to_start(workspace: Path) -> None:
    state = workspace / "s"
    env = ats_env(state)
    save_job(backtest_config(name="bt"), "bt", env=env, cwd=workspace)
    refused = run_ats("--no-ui", "--api-port", "0", env=env, cwd=workspace)
    assert refused.returncode == 2
    assert refused.stderr.strip().splitlines() == [
        "ats: error: --api-port needs a bearer token: set ATS_API_TOKEN in the environment "
        "or .env (the control API is never served over TCP without one)"
    ]
    public = run_ats(
        "--no-ui",
        "--api-port",
        "0",
        "--api-host",
        "0.0.0.0",
        env=env | {"ATS_API_TOKEN": "x" * 20},
        cwd=workspace,
    )
    assert public.returncode == 2 and "--api-allow-remote" in public.stderr
    assert main(["jobs", "list", "--json"]) == 0  # nothing ran: still saved as running
