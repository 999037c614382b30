"""Acceptance 7 of issue 11: ATS installed from its wheel, like ``pipx install`` does,
works outside the repository: ``ats init`` in an empty directory, then ``ats --no-ui``
finishes the demo backtest, and the console starts with its themes.

The wheel is built from this checkout (``pip wheel --no-build-isolation``, offline) and
installed with ``--no-deps`` into a fresh venv. The dependencies are not downloaded
again: a ``.pth`` file lends the venv this environment's site-packages, *after* the
venv's own, so ``ats`` itself can only come from the wheel (checked), and ``pip check``
proves that every dependency the wheel declares is satisfied. The console is the
installed ``ats`` in tmux at 80x24.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
TMUX = shutil.which("tmux")
NOT_SHIPPED = (".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", ".*_cache")
NOT_SHIPPED += ("saved_states", "tests", "bench", ".hypothesis")

pytestmark = pytest.mark.skipif(
    not (REPO / "pyproject.toml").is_file(), reason="needs the source checkout"
)


def _run(*command: str | Path, cwd: Path | None = None, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(
        [str(part) for part in command],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, f"{command} exited {result.returncode}:\n{result.stderr}"
    return result.stdout


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A venv with ATS from a freshly built wheel; returns its bin/ directory."""
    root = tmp_path_factory.mktemp("install")
    # Built from a copy: an in-tree build would leave build/ behind, whose stale files a
    # later build of the checkout would ship.
    source = root / "source"
    shutil.copytree(REPO, source, symlinks=True, ignore=shutil.ignore_patterns(*NOT_SHIPPED))
    dist = root / "dist"
    _run(sys.executable, "-m", "pip", "wheel", source, "--no-deps", "--no-build-isolation",
         "--quiet", "--wheel-dir", dist, cwd=root)  # fmt: skip
    [wheel] = dist.glob("ats-*.whl")
    venv = root / "venv"
    _run(sys.executable, "-m", "venv", "--without-pip", venv)
    python = venv / "bin" / "python"
    _run(sys.executable, "-m", "pip", "--python", python, "install", "--no-deps",
         "--no-index", "--quiet", wheel)  # fmt: skip
    site = Path(_run(python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))",
                     cwd=root).strip())  # fmt: skip
    (site / "zz_test_dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    _run(sys.executable, "-m", "pip", "--python", python, "check")
    return venv / "bin"


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ATS_")}
    env.update(HOME=str(home), TERM="xterm-256color", COLORTERM="truecolor")
    return env


def test_init_then_the_demo_backtest_from_the_wheel(installed: Path, tmp_path: Path) -> None:
    env = _env(tmp_path)
    where = _run(installed / "python", "-c", "import ats.demo as d; print(d.__file__, d.DEMO_DATA)",
                 cwd=tmp_path)  # fmt: skip
    module, data = where.split()
    assert module.startswith(str(installed.parent)), "ats must come from the wheel"
    assert data.startswith(str(installed.parent)) and Path(data).is_file()

    workspace = tmp_path / "ws"
    workspace.mkdir()
    out = _run(installed / "ats", "init", env=env, cwd=workspace)
    assert "ATS workspace ready" in out
    for name in ("custom_modules/strategies/README.md", "themes/ats-dark.toml", ".env.example"):
        assert (workspace / name).is_file(), name
    started = time.monotonic()
    out = _run(installed / "ats", "--no-ui", env=env, cwd=workspace)
    assert "demo-sma-cross" in out and "finished" in out, out
    print(f"ats --no-ui demo backtest from the wheel: {time.monotonic() - started:.1f}s")
    # A job config of the workspace, with its relative data path, runs too.
    out = _run(installed / "ats", "run", "examples/sma_cross_backtest.yaml", "--no-ui",
               env=env, cwd=workspace)  # fmt: skip
    assert "btc-sma-cross" in out


@pytest.mark.skipif(TMUX is None, reason="tmux is not installed")
def test_the_installed_console_starts_with_its_themes(installed: Path, tmp_path: Path) -> None:
    """ats-dark, the bundled default theme, paints the jobs table (24-bit colour)."""
    assert TMUX is not None
    env = _env(tmp_path)
    workspace = tmp_path / "ws"
    workspace.mkdir()
    _run(installed / "ats", "init", env=env, cwd=workspace)
    tmux = [TMUX, "-L", f"ats-install-{os.getpid()}", "-f", "/dev/null"]
    _run(*tmux, "new-session", "-d", "-s", "ats", "-x", "80", "-y", "24", "-c", workspace,
         "-e", f"HOME={tmp_path}", "-e", "TERM=xterm-256color", "-e", "COLORTERM=truecolor",
         str(installed / "ats"),
         env=env)  # fmt: skip
    try:
        screen = ""
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            screen = _run(*tmux, "capture-pane", "-p", "-e", "-t", "ats")
            if "demo-sma-cross" in screen and "demo-replay" in screen:
                break
            time.sleep(0.1)
        assert "demo-sma-cross" in screen and "demo-replay" in screen, screen
        assert "48;2;17;22;29" in screen, "the bundled ats-dark theme's surface, #11161d"
        _run(*tmux, "send-keys", "-t", "ats", "q")
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            sessions = subprocess.run([*tmux, "list-sessions"], capture_output=True, check=False)
            if sessions.returncode:
                break  # the console exited, and with it the only session
            time.sleep(0.1)
        else:
            raise AssertionError("the console did not exit on q")
        assert any((workspace / "saved_states").glob("*.json")), "q saved the demo jobs"
    finally:
        subprocess.run([*tmux, "kill-server"], capture_output=True, check=False)
