"""Issue 11, acceptance 2: ``./start.sh`` in tmux, the replay started, then the tmux
server killed, so the console's terminal hangs up (SIGHUP, then EOF/EIO on the tty).
The process keeps running headless and the replay keeps advancing (its snapshots show
the cursor growing); ``ats attach`` in a new tmux session shows it running, and ``q``
there stops the process, which saves the replay to resume. (``--on-hangup stop``: a
hang-up quits as before, test_ui_robustness.py and test_ui_hangup.py.)"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from persist_helpers import read_payload, wait_for
from test_ui_tmux import Console, saved_statuses
from test_ui_tmux import pytestmark as tmux_marks

from ats.persistence.directory_lock import holder_pid

pytestmark = tmux_marks


def _replay_cursor(state: Path) -> int:
    """Candles the demo replay has done, as its latest snapshot says (-1: none yet)."""
    from ats.persistence.snapshot_store import SnapshotStore

    for job_id in SnapshotStore(state).job_ids():
        payload = read_payload(state, job_id)
        if payload is not None and payload["config"]["name"] == "demo-replay":
            return int(payload["exchange"]["feed"]["cursor"])
    return -1


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _replay_row(screen: str) -> str:
    """The replay's row of the jobs table (the header names the job too)."""
    rows = [line for line in screen.splitlines() if line.strip().startswith("demo-replay")]
    return rows[0] if rows else ""


def _start_replay_and_hang_up(console: Console) -> int:
    """The console with the demo replay running; the tmux server killed. Its pid."""
    (console.work / ".env").write_text("ATS_SNAPSHOT_INTERVAL_S=0.3\n")
    tmux = console.start()
    tmux.wait(lambda t: "demo-replay" in t and "finished" in t, 15)
    tmux.keys("Down")
    tmux.wait(lambda t: "demo-replay · sma_cross" in t, 15)
    tmux.keys("s")
    tmux.wait(lambda t: "running" in _replay_row(t), 15)
    pid = holder_pid(console.state)
    assert pid is not None and pid > 0
    assert wait_for(lambda: _replay_cursor(console.state) > 0, timeout=10)
    console.tmux.kill_server()  # the pty goes away: SIGHUP to the console
    return pid


def test_the_jobs_outlive_a_hang_up_and_q_in_ats_attach_stops_and_saves_them(
    tmp_path: Path,
) -> None:
    console = Console(tmp_path)
    pid = 0
    try:
        pid = _start_replay_and_hang_up(console)
        time.sleep(0.5)
        assert _alive(pid), "the console exited on the hang-up"
        before = _replay_cursor(console.state)
        assert wait_for(lambda: _replay_cursor(console.state) > before + 3, timeout=10), (
            "the replay stopped advancing after the hang-up"
        )
        assert _alive(pid)
        log = (console.state.parent / "logs" / "ats.log").read_text()  # the status, not the tty
        assert "SIGHUP: the terminal hung up; the jobs keep running headless" in log
        assert "headless: 1 finished, 1 running | " in log

        tmux = console.start("attach")  # a new ssh session: the console comes back
        text, _ = tmux.wait(lambda t: "demo-replay" in t and "demo-sma-cross" in t, 15)
        assert "running" in _replay_row(text), text
        tmux.keys("q")  # as in the console that runs the jobs: stop, save, exit
        final, _ = tmux.wait(lambda t: "ATS-EXIT:" in t, 20)
        assert "ATS-EXIT:0" in final
        assert "is stopping its jobs and saving them" in final.replace("\n", "")
        assert wait_for(lambda: not _alive(pid), timeout=15), "the process did not exit"
        assert saved_statuses(console.state) == {
            "demo-sma-cross": "finished",
            "demo-replay": "running",
        }
        assert _replay_cursor(console.state) > before + 3
        assert holder_pid(console.state) is None
        log = (console.state.parent / "logs" / "ats.log").read_text()
        assert "ats: stopped; 2 job(s) saved in" in log  # said where someone can read it
        assert "Traceback" not in log  # e.g. a headless timer outside the app's context
    finally:
        console.close()
        if pid and _alive(pid):
            os.kill(pid, signal.SIGKILL)
