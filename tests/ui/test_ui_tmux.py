"""Acceptance 3: ``./start.sh`` in tmux at 80x24 with TERM=xterm-256color shows the demo
jobs within 3 s, ``s`` on the replay job makes its chart move, ``q`` exits cleanly.

Runs a private tmux server (``-L``, no user config) on a temporary copy of the launcher,
with HOME and the working directory in a temp dir, so no saved state leaks either way.
Skipped when tmux is not installed (``apt-get install -y tmux``).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
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


@pytest.fixture
def tmux(tmp_path: Path) -> Iterator[Tmux]:
    work = launcher_copy(tmp_path)
    home = tmp_path / "home"
    home.mkdir()
    session = Tmux(f"ats-test-{os.getpid()}", "ats")
    command = (
        f"cd {work} && export TERM=xterm-256color HOME={home} && ./start.sh; "
        "echo ATS-EXIT:$?; sleep 60"
    )
    env = {**os.environ, "TERM": "xterm-256color", "HOME": str(home)}
    assert TMUX is not None
    server = [TMUX, "-L", session.socket, "-f", "/dev/null"]
    window = ["new-session", "-d", "-s", "ats", "-x", "80", "-y", "24", command]
    subprocess.run([*server, *window], env=env, check=True, timeout=10)
    session.started = time.monotonic()  # type: ignore[attr-defined]
    try:
        yield session
    finally:
        session.run("kill-server")


def chart_lines(text: str) -> str:
    """The chart panel: the lines between its top and bottom border."""
    lines = text.splitlines()
    top = next(i for i, line in enumerate(lines) if "Chart (c)" in line)
    return "\n".join(lines[top + 1 : top + 14])


def test_start_sh_demo_replay_and_clean_exit(tmux: Tmux) -> None:
    text, _waited = tmux.wait(lambda t: "demo-sma-cross"[:12] in t and "demo-replay" in t, 15)
    elapsed = time.monotonic() - tmux.started  # type: ignore[attr-defined]
    print(f"demo jobs visible after {elapsed:.2f}s")
    assert elapsed < 3.0, f"demo jobs took {elapsed:.2f}s to show"
    assert "finished" in text or "running" in text

    tmux.keys("Down")
    tmux.wait(lambda t: "demo-replay · sma_cross" in t, 5)
    tmux.keys("s")
    tmux.wait(lambda t: "running" in t.split("demo-replay", 1)[1][:60], 5)
    first, _ = tmux.wait(lambda t: "┤" in chart_lines(t), 10)  # candles with a price axis
    time.sleep(1.5)
    second = tmux.capture()
    assert chart_lines(first) != chart_lines(second), "the replay chart did not move"

    tmux.keys("q")
    final, _ = tmux.wait(lambda t: "ATS-EXIT:" in t, 20)
    assert "ATS-EXIT:0" in final
    assert tmux.flag("alternate_on") == "0"  # back on the normal screen
    assert tmux.flag("cursor_flag") == "1"  # cursor visible again
    assert tmux.flag("mouse_any_flag") == "0"  # mouse reporting switched off
    assert "demo-replay" not in final  # no UI left behind on the normal screen
