"""``ats attach`` in a real terminal (tmux): the console shows the running process's jobs,
``ctrl+d`` detaches with one line and leaves them running; with nothing to attach to it
says so in one line (exit 2)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time

import pytest
from ats_process import ats_env, replay_config, run_ats, save_job, start_headless

TMUX = shutil.which("tmux")
pytestmark = pytest.mark.skipif(TMUX is None, reason="tmux is not installed")


def _tmux(socket: str, *args: str) -> str:
    assert TMUX is not None
    command = [TMUX, "-L", socket, "-f", "/dev/null", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=10).stdout


def _wait_pane(socket: str, text: str, timeout: float = 15) -> str:
    deadline = time.monotonic() + timeout
    shown = ""
    while time.monotonic() < deadline:
        shown = _tmux(socket, "capture-pane", "-p", "-t", "attach")
        if text in shown:
            return shown
        time.sleep(0.05)
    raise AssertionError(f"{text!r} never shown; the pane shows:\n{shown}")


def test_attach_in_a_terminal_and_detach(tmp_path_factory: pytest.TempPathFactory) -> None:
    workspace = tmp_path_factory.mktemp("tmx")
    state = workspace / "s"
    env = ats_env(state)
    nothing = run_ats("attach", env=env, cwd=workspace)
    assert nothing.returncode == 2
    assert nothing.stderr.startswith("ats: error: no ATS is running on ")
    assert len(nothing.stderr.strip().splitlines()) == 1
    save_job(replay_config("tmux-replay", speed=5.0), "tmux-replay", env=env, cwd=workspace)
    process = start_headless(state, env=env, cwd=workspace)
    socket = f"ats-attach-{workspace.name}"
    try:
        command = " ".join(
            [f"{key}='{value}'" for key, value in env.items() if key.startswith("ATS_")]
            + [sys.executable, "-m", "ats.cli", "attach", "; echo EXIT=$?; sleep 30"]
        )
        _tmux(
            socket,
            "new-session",
            "-d",
            "-s",
            "attach",
            "-x",
            "120",
            "-y",
            "36",
            "-c",
            str(workspace),
            f"env TERM=xterm-256color {command}",
        )
        _wait_pane(socket, "tmux-replay")
        _wait_pane(socket, "running")
        _tmux(socket, "send-keys", "-t", "attach", "C-d")
        shown = _wait_pane(socket, "EXIT=0")
        assert f"detached from {state / 'ats.sock'}; the jobs keep running" in shown
        assert process.poll() is None  # still running its job
        stopped = run_ats("jobs", "stop", "tmux-replay", env=env, cwd=workspace)
        assert stopped.returncode == 0, stopped.stderr
        process.communicate(timeout=30)
        assert process.returncode == 0
    finally:
        _tmux(socket, "kill-server")
        if process.poll() is None:
            process.kill()
            process.wait()
