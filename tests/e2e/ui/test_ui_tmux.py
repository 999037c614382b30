"""Acceptance 3: ``./start.sh`` in tmux at 80x24 with TERM=xterm-256color shows the demo
jobs (within 3 s: bench/console_start.py measures it), ``s`` on the replay job makes its
chart move, ``q`` exits cleanly; the jobs are saved on ``q`` and the next start restores
them (not new demo jobs).

Runs a private tmux server (``-L``, no user config) on a temporary copy of the launcher,
with HOME and the working directory in a temp dir, so no saved state leaks either way.
Skipped when tmux is not installed (``apt-get install -y tmux``).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from ats.persistence.directory_lock import holder_pid

REPO = Path(__file__).resolve().parents[3]
TMUX = shutil.which("tmux")

pytestmark = [
    pytest.mark.skipif(TMUX is None, reason="tmux is not installed"),
    pytest.mark.skipif(not (REPO / ".venv" / "bin" / "ats").exists(), reason="no .venv/bin/ats"),
]


class Tmux:
    def __init__(self, socket: str, session: str) -> None:
        self.socket = socket
        self.session = session

    def run(self, *args: str) -> str:
        assert TMUX is not None
        command = [TMUX, "-L", self.socket, "-f", "/dev/null", *args]
        result = subprocess.run(command, capture_output=True, text=True, timeout=10, check=False)
        return result.stdout

    def kill_server(self) -> None:
        """``kill-server`` returns before the server has gone: a session started at once
        may reach the dying server and fail. Wait until nothing answers any more."""
        assert TMUX is not None
        self.run("kill-server")
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            probe = [TMUX, "-L", self.socket, "-f", "/dev/null", "list-sessions"]
            if subprocess.run(probe, capture_output=True, timeout=10, check=False).returncode:
                return
            time.sleep(0.05)

    def capture(self) -> str:
        return self.run("capture-pane", "-p", "-t", self.session)

    def keys(self, *keys: str) -> None:
        self.run("send-keys", "-t", self.session, *keys)

    def flag(self, name: str) -> str:
        return self.run("display-message", "-p", "-t", self.session, f"#{{{name}}}").strip()

    def wait(self, condition: Callable[[str], bool], timeout: float) -> tuple[str, float]:
        """Poll the pane until ``condition(text)``; returns the text and seconds waited."""
        start = time.monotonic()
        text = ""
        while time.monotonic() - start < timeout:
            text = self.capture()
            if condition(text):
                return text, time.monotonic() - start
            time.sleep(0.05)
        raise AssertionError(f"pane never matched within {timeout}s; it shows:\n{text}")


def launcher_copy(root: Path) -> Path:
    """start.sh + bootstrap + pyproject, with a .venv that reuses the real interpreter."""
    work = root / "ats"
    (work / "scripts").mkdir(parents=True)
    for name in ("start.sh", "pyproject.toml", "scripts/bootstrap.sh"):
        shutil.copy2(REPO / name, work / name)
    venv = work / ".venv"
    venv.mkdir()
    for name in ("bin", "lib", "include", "pyvenv.cfg"):
        if (REPO / ".venv" / name).exists():
            (venv / name).symlink_to(REPO / ".venv" / name)
    digest = hashlib.sha256((work / "pyproject.toml").read_bytes()).hexdigest()
    (venv / ".ats-installed").write_text(digest + "\n")  # already installed: no pip run
    return work


class Console:
    """``./start.sh`` (the launcher copy) in a private tmux server at 80x24, its saved
    state in ``state`` (ATS_SAVED_STATES_DIR): never the repository's saved_states/."""

    def __init__(self, root: Path) -> None:
        self.work = launcher_copy(root)
        self.home = root / "home"
        self.home.mkdir()
        self.state = root / "state"
        self.tmux = Tmux(f"ats-test-{os.getpid()}", "ats")

    def start(self, *args: str) -> Tmux:
        """A new session running the console; replaces the previous one."""
        self.tmux.kill_server()
        env_vars = {
            "TERM": "xterm-256color",
            "HOME": str(self.home),
            "ATS_SAVED_STATES_DIR": str(self.state),
        }
        exports = " ".join(f"{key}={value}" for key, value in env_vars.items())
        command = (
            f"cd {self.work} && export {exports} && ./start.sh {' '.join(args)}; "
            "echo ATS-EXIT:$?; sleep 60"
        )
        env = {key: value for key, value in os.environ.items() if not key.startswith("ATS_")}
        assert TMUX is not None
        server = [TMUX, "-L", self.tmux.socket, "-f", "/dev/null"]
        window = ["new-session", "-d", "-s", "ats", "-x", "80", "-y", "24", command]
        for _attempt in range(3):
            started = subprocess.run(
                [*server, *window],
                env={**env, **env_vars},
                capture_output=True,
                text=True,
                timeout=10,
                check=False,
            )
            if started.returncode == 0:
                break
            time.sleep(0.3)  # a server still shutting down: try again
        else:
            raise AssertionError(f"tmux new-session failed: {started.stderr.strip()}")
        return self.tmux

    def close(self) -> None:
        """End the session, and the console with it: since a console outlives a hang-up
        (``--on-hangup keep``), killing tmux after a failed test would leave it running."""
        self.tmux.kill_server()
        pid = holder_pid(self.state)
        if pid is None or pid <= 0:  # free, or a lock file without a pid in it
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and holder_pid(self.state) == pid:
                time.sleep(0.1)
            if holder_pid(self.state) == pid:
                os.kill(pid, signal.SIGKILL)


@pytest.fixture
def console(tmp_path: Path) -> Iterator[Console]:
    running = Console(tmp_path)
    try:
        yield running
    finally:
        running.close()


@pytest.fixture
def tmux(console: Console) -> Tmux:
    return console.start()


def chart_lines(text: str) -> str:
    """The chart panel: the lines between its top and bottom border."""
    lines = text.splitlines()
    top = next(i for i, line in enumerate(lines) if "Chart (c)" in line)
    return "\n".join(lines[top + 1 : top + 14])


def test_start_sh_demo_replay_and_clean_exit(tmux: Tmux) -> None:
    text, _waited = tmux.wait(lambda t: "demo-sma-cross"[:12] in t and "demo-replay" in t, 15)
    # How soon they show (the 3 s target) is measured by bench/console_start.py.
    assert "finished" in text or "running" in text

    tmux.keys("Down")
    tmux.wait(lambda t: "demo-replay · sma_cross" in t, 15)
    tmux.keys("s")
    tmux.wait(lambda t: "running" in t.split("\n demo-replay", 1)[-1][:60], 15)  # its row
    first, _ = tmux.wait(lambda t: "┤" in chart_lines(t), 15)  # candles with a price axis
    # the replay chart moves (a loaded machine draws its next frame later: look until it does)
    second, _ = tmux.wait(lambda t: chart_lines(t) != chart_lines(first), 15)
    assert chart_lines(first) != chart_lines(second), "the replay chart did not move"

    tmux.keys("q")
    final, _ = tmux.wait(lambda t: "ATS-EXIT:" in t, 20)
    assert "ATS-EXIT:0" in final
    assert tmux.flag("alternate_on") == "0"  # back on the normal screen
    assert tmux.flag("cursor_flag") == "1"  # cursor visible again
    assert tmux.flag("mouse_any_flag") == "0"  # mouse reporting switched off
    assert "demo-replay" not in final  # no UI left behind on the normal screen


def saved_statuses(state: Path) -> dict[str, str]:
    """Job name -> the status its snapshot will resume with."""
    from ats.persistence.snapshot_store import SnapshotStore

    store = SnapshotStore(state)
    statuses = {}
    for job_id in store.job_ids():
        payload = SnapshotStore.read(store.path(job_id), job_id).payload
        assert payload is not None, job_id
        statuses[payload["config"]["name"]] = payload["status"]
    return statuses


def job_rows(text: str) -> list[str]:
    """The jobs table's rows (a job's name starts each)."""
    return [line for line in text.splitlines() if line.lstrip("│ ").startswith("demo-")]


SAVED_DEMO = {"demo-sma-cross": "finished", "demo-replay": "running"}


def test_start_sh_saves_on_q_and_restores_on_the_next_start(console: Console) -> None:
    """The console persists: s on the replay, q saves both demo jobs (the replay as
    running); the next start restores them (not a second pair of demo jobs) and resumes
    the replay."""
    tmux = console.start()
    tmux.wait(lambda t: "demo-replay" in t and "finished" in t, 15)
    tmux.keys("Down")
    tmux.wait(lambda t: "demo-replay · sma_cross" in t, 15)
    tmux.keys("s")
    tmux.wait(lambda t: "running" in t.split("\n demo-replay", 1)[-1][:60], 15)  # its row
    time.sleep(0.5)
    tmux.keys("q")
    final, quit_seconds = tmux.wait(lambda t: "ATS-EXIT:" in t, 20)
    print(f"q to shell prompt: {quit_seconds:.2f}s")
    assert "ATS-EXIT:0" in final
    assert "ats: stopped; 2 job(s) saved in" in final  # q says what it did
    assert saved_statuses(console.state) == SAVED_DEMO
    assert (console.state / ".ui.json").exists()  # the theme setting: not a job snapshot

    tmux = console.start()
    text, _ = tmux.wait(lambda t: len(job_rows(t)) >= 2 and "running" in t, 15)
    time.sleep(0.5)  # on purpose: a duplicate row would show within it
    text = tmux.capture()
    rows = job_rows(text)
    assert len(rows) == 2, text  # restored, not duplicated
    replay = next(row for row in rows if row.lstrip("│ ").startswith("demo-replay"))
    assert "running" in replay, text  # resumed
    tmux.keys("q")
    final, _ = tmux.wait(lambda t: "ATS-EXIT:" in t, 20)
    assert "ATS-EXIT:0" in final
    assert saved_statuses(console.state) == SAVED_DEMO
