"""Issue 14 item 8: a full disk or a read-only state directory gives one line naming the
directory and a non-zero exit when nothing could be saved, and no ``*.tmp`` file stays.

Real ``ats`` processes on real file systems: a tiny tmpfs for a full disk (``mount`` is
allowed here as root; elsewhere RLIMIT_FSIZE makes every write past a size fail the same
way, with EFBIG instead of ENOSPC), and ``chattr +i`` for an immutable directory (or a
directory mode the process cannot write, for a user who is not root).
"""

from __future__ import annotations

import contextlib
import os
import resource
import signal
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from job_configs import backtest_config
from persist_helpers import (
    ats_command,
    ats_env,
    read_payload,
    run_ats,
    settings_for,
    write_candles,
)

from ats.headless.job_add import add_job

STALE_TEMP = ".j1.json.999999999.0.tmp"
"""A temporary file an earlier, killed run left behind (no such pid)."""


class SmallDisk:
    """A directory on a file system of ``size`` bytes, and how to run ``ats`` on it."""

    def __init__(self, root: Path, size: int) -> None:
        self.root = root
        self.size = size
        self.mounted = False
        self.preexec: Callable[[], None] | None = None

    def __enter__(self) -> SmallDisk:
        self.root.mkdir()
        command = ["mount", "-t", "tmpfs", "-o", f"size={self.size}", "tmpfs", str(self.root)]
        with contextlib.suppress(OSError):
            self.mounted = subprocess.run(command, capture_output=True).returncode == 0
        if not self.mounted:
            limit = self.size // 4

            def limit_file_size() -> None:  # no mount: every file stops growing at `limit`
                signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
                resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

            self.preexec = limit_file_size
        return self

    def fill(self) -> None:
        """Leave no free byte (with RLIMIT_FSIZE, no write may grow any file at all)."""
        if not self.mounted:
            self.preexec = _no_file_growth
            return
        with contextlib.suppress(OSError), (self.root / "filler").open("wb", 0) as handle:
            while True:
                handle.write(b"\0" * 4096)

    def run(self, *args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ats_command(*args),
            env=env,
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=120,
            preexec_fn=self.preexec,
        )

    def __exit__(self, *exc: object) -> None:
        if self.mounted:
            subprocess.run(["umount", "-l", str(self.root)], check=False)


def _no_file_growth() -> None:
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))


@contextlib.contextmanager
def read_only(directory: Path) -> Iterator[str]:
    """``chattr +i`` on the directory, else mode 0500 (which root ignores: then skip)."""
    try:
        immutable = subprocess.run(["chattr", "+i", str(directory)], capture_output=True)
    except OSError:  # no chattr at all
        immutable = None
    if immutable is not None and immutable.returncode == 0:
        try:
            yield "Operation not permitted"
        finally:
            subprocess.run(["chattr", "-i", str(directory)], check=True)
        return
    if os.geteuid() == 0:
        pytest.skip("chattr +i is refused here and root writes through any mode")
    directory.chmod(0o500)
    try:
        yield "Permission denied"
    finally:
        directory.chmod(0o700)


def _add_jobs(tmp_path: Path, env: dict[str, str], candles: int, count: int) -> list[str]:
    data = write_candles(tmp_path / "c.csv", candles)
    config = tmp_path / "job.yaml"
    config.write_text(backtest_config(data, name="disk", fast=10, slow=30).to_yaml())
    ids = [f"j{number}" for number in range(1, count + 1)]
    settings = settings_for(Path(env["ATS_SAVED_STATES_DIR"]))
    for job_id in ids:
        assert add_job(settings, config, job_id, start=True) == 0  # as `ats jobs add --start`
    return ids


def _temp_files(state: Path) -> list[str]:
    return sorted(path.name for path in state.iterdir() if path.name.endswith(".tmp"))


def _one_line(result: subprocess.CompletedProcess[str]) -> str:
    assert "Traceback" not in result.stdout + result.stderr
    (line,) = result.stderr.splitlines()
    return line


def test_a_full_disk_gives_one_line_and_exit_2(tmp_path: Path) -> None:
    with SmallDisk(tmp_path / "disk", 512 * 1024) as disk:
        state = disk.root / "state"
        env = ats_env(state)
        ids = _add_jobs(tmp_path, env, 2_000, 2)
        (state / STALE_TEMP).write_bytes(b"half a snapshot")
        before = {job_id: read_payload(state, job_id) for job_id in ids}
        disk.fill()

        run = disk.run("--no-ui", env=env, cwd=tmp_path)
        assert run.returncode == 2
        reason = "No space left on device" if disk.mounted else "File too large"
        assert _one_line(run) == (
            f"ats: error: cannot save in {state}: {reason}; "
            + ("free some space" if disk.mounted else "make it writable")
            + " or set ATS_SAVED_STATES_DIR to another directory"
        )
        assert _temp_files(state) == []  # the earlier run's too
        assert {job_id: read_payload(state, job_id) for job_id in ids} == before
        console = disk.run(env=env, cwd=tmp_path)  # the console says it before Textual starts
        assert console.returncode == 2 and _one_line(console).startswith(
            f"ats: error: cannot save in {state}: {reason}"
        )
        assert run_ats("jobs", "list", env=env, cwd=tmp_path).returncode == 0


def test_a_disk_that_fills_up_gives_one_line_and_exit_1(tmp_path: Path) -> None:
    """Room to start, not for the snapshots of three finished 20,000-candle jobs (about
    560 KB each): the jobs run, the one line says none of them was saved."""
    with SmallDisk(tmp_path / "disk", 1024 * 1024) as disk:
        state = disk.root / "state"
        env = ats_env(state)
        ids = _add_jobs(tmp_path, env, 20_000, 3)
        (state / STALE_TEMP).write_bytes(b"half a snapshot")

        run = disk.run("--no-ui", env=env, cwd=tmp_path)
        assert run.returncode == 1, run.stderr
        assert _temp_files(state) == []
        statuses = {job_id: read_payload(state, job_id) for job_id in ids}
        unsaved = [job_id for job_id, payload in statuses.items() if payload["status"] == "running"]
        assert unsaved and all(  # as added, intact; the others finished and were saved
            payload["status"] in ("running", "finished") for payload in statuses.values()
        )
        reason = "No space left on device" if disk.mounted else "File too large"
        assert _one_line(run) == (
            f"ats: error: {len(unsaved)} job(s) not saved in {state} ({reason}): the next "
            "start resumes them from their last saved state"
        )


def test_a_read_only_state_directory_gives_one_line_and_exit_2(tmp_path: Path) -> None:
    state = tmp_path / "state"
    env = ats_env(state)
    ids = _add_jobs(tmp_path, env, 2_000, 2)
    assert run_ats("--no-ui", env=env, cwd=tmp_path).returncode == 0  # .lock, journal, .bak
    before = sorted(path.name for path in state.iterdir())
    with read_only(state) as reason:
        run = run_ats("--no-ui", env=env, cwd=tmp_path)
        assert run.returncode == 2
        assert _one_line(run) == (
            f"ats: error: cannot save in {state}: {reason}; make it writable or set "
            "ATS_SAVED_STATES_DIR to another directory"
        )
        listed = run_ats("jobs", "list", "--json", env=env, cwd=tmp_path)
        assert listed.returncode == 0 and all(job_id in listed.stdout for job_id in ids)
        added = run_ats("jobs", "add", str(tmp_path / "job.yaml"), env=env, cwd=tmp_path)
        assert added.returncode == 2
        assert _one_line(added).startswith(f"ats: error: cannot save in {state}: {reason}")
        assert sorted(path.name for path in state.iterdir()) == before  # no *.tmp either
