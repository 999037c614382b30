"""The application log: job errors and engine warnings land in ``logs/ats.log`` beside the
saved_states directory (0600), never on the console's terminal; ``--log-level`` sets what
is kept. Real ``ats`` processes: the console on a pseudo-terminal, and ``--no-ui``."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import signal
import stat
import struct
import subprocess
import termios
import threading
import time
from pathlib import Path

from persist_helpers import ats_command, ats_env, run_ats, settings_for, write_candles

from ats.headless.job_add import add_job
from ats.persistence.snapshot_store import SnapshotStore

CRASHING = """
from ats.strategies.base_strategy import BaseStrategy


class Strategy(BaseStrategy):
    def on_candle(self, candle):
        raise RuntimeError("boom for the log")
"""
JOB_ERROR = "ERROR   ats.jobs: job crashing (crashing): Traceback"
ENGINE_WARNING = (
    "WARNING ats.persistence.persistent_jobs: job edited: snapshot edited.json unusable"
)
STARTED = "INFO    ats: ats --no-ui started"


def saved_state(root: Path) -> dict[str, str]:
    """Two jobs saved to run: one whose strategy raises on its first candle (a job error),
    one whose snapshot was edited and checksummed again (the restore's cross-checks
    refuse it: an engine warning, with its traceback)."""
    state, custom = root / "state", root / "custom_modules"
    (custom / "strategies" / "crashing").mkdir(parents=True)
    (custom / "strategies" / "crashing" / "strategy.py").write_text(CRASHING)
    data = write_candles(root / "candles.csv", 300)
    settings = settings_for(state, custom_modules_dir=custom)
    for job_id, strategy in (
        ("crashing", {"name": "crashing"}),
        ("edited", {"name": "sma_cross", "params": {"fast": 5, "slow": 10}}),
    ):
        config = {
            "name": job_id,
            "balances": {"USDT": 10_000},
            "exchange": {"name": "back_trading", "params": {"data": str(data)}},
            "strategy": strategy,
        }
        path = root / f"{job_id}.yaml"
        path.write_text(json.dumps(config))  # JSON is YAML
        assert add_job(settings, path, job_id, start=True) == 0
    store = SnapshotStore(state)
    payload = store.candidates("edited")[0].payload
    assert payload is not None
    payload["exchange"]["wallet"]["free"]["USDT"] = 20_000.0  # not what the fills give
    store.save("edited", payload)
    return ats_env(state, ATS_CUSTOM_MODULES_DIR=str(custom))


def log_text(root: Path) -> str:
    path = root / "logs" / "ats.log"
    return path.read_text() if path.exists() else ""


def test_the_console_logs_to_the_file_and_never_to_its_terminal(tmp_path: Path) -> None:
    env = saved_state(tmp_path)
    env["TERM"] = "xterm-256color"
    master, terminal = pty.openpty()
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
    process = subprocess.Popen(
        ats_command(),
        env=env,
        cwd=tmp_path,
        stdin=terminal,
        stdout=terminal,
        stderr=terminal,
        start_new_session=True,
    )
    os.close(terminal)
    shown = bytearray()

    def read_terminal() -> None:
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # the console is gone (EIO)
                return
            if not chunk:
                return
            shown.extend(chunk)

    reader = threading.Thread(target=read_terminal, daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + 60
        while not (JOB_ERROR in log_text(tmp_path) and ENGINE_WARNING in log_text(tmp_path)):
            assert process.poll() is None, bytes(shown)[-2000:]
            assert time.monotonic() < deadline, log_text(tmp_path)
            time.sleep(0.1)
        os.write(master, b"q")
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        reader.join(timeout=5)
        os.close(master)
    log = tmp_path / "logs" / "ats.log"
    assert stat.S_IMODE(log.stat().st_mode) == 0o600
    assert "ats.jobs: job crashing" in log_text(tmp_path)
    terminal_text = bytes(shown).decode(errors="replace")
    for line in (
        "ats.jobs",
        "job crashing (crashing):",
        "job edited: snapshot edited.json unusable",
        "ats.persistence",
    ):
        assert line not in terminal_text


def test_log_level_chooses_what_the_file_keeps(tmp_path: Path) -> None:
    env = saved_state(tmp_path)
    default = run_ats("--no-ui", env=env, cwd=tmp_path)
    assert default.returncode == 2, default.stderr  # the edited job cannot be restored
    kept = log_text(tmp_path)
    assert STARTED in kept and ENGINE_WARNING in kept and JOB_ERROR in kept
    assert "ats.persistence" not in default.stderr  # its notice says it, once
    (tmp_path / "logs" / "ats.log").unlink()
    quiet = run_ats("--no-ui", "--log-level", "error", env=env, cwd=tmp_path)
    assert quiet.returncode == 2, quiet.stderr
    kept = log_text(tmp_path)
    assert "ats.jobs: job edited (edited): no usable snapshot" in kept
    assert STARTED not in kept and ENGINE_WARNING not in kept


def test_an_unknown_log_level_is_refused(tmp_path: Path) -> None:
    result = run_ats("--log-level", "chatty", "jobs", "list", env=ats_env(tmp_path), cwd=tmp_path)
    assert result.returncode == 2 and "--log-level" in result.stderr


def test_the_log_file_is_beside_saved_states_unless_ats_log_dir_says(tmp_path: Path) -> None:
    assert settings_for(tmp_path / "state").log_file == tmp_path / "logs" / "ats.log"
    moved = settings_for(tmp_path / "state", log_dir=tmp_path / "elsewhere")
    assert moved.log_file == tmp_path / "elsewhere" / "ats.log"
