"""Issue 11, item 5 and acceptance 5: ``ats web`` serves the console (textual-serve running
``ats attach``) on 127.0.0.1 behind the control API's token; headless Chromium opens it,
the page's WebSocket brings the jobs table of the running ``ats --no-ui``, and the
screenshot shows it (the table's selected row is a full-width band at the top)."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest
from ats_process import ats_env, save_job, start_headless
from headless_browser import BROWSER, HeadlessBrowser

from ats.cli import main
from ats.demo import DEMO_DATA
from ats.trading_job.job_config import parse_job_config

if BROWSER is None and os.environ.get("CI"):
    pytest.fail("CI needs chromium for the ats web test (.ci/run installs it)")
needs_browser = pytest.mark.skipif(BROWSER is None, reason="chromium is not installed")

TOKEN = "web-test-token-0123456789"
JOB = "web-replay"


@pytest.fixture
def running_ats(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict[str, str]]]:
    """``ats --no-ui`` running a paced replay; its workspace and environment."""
    root = tmp_path_factory.mktemp("web")  # short: a unix socket path has 107 bytes
    state = root / "s"
    env = ats_env(state, ATS_API_TOKEN=TOKEN)
    config = parse_job_config(
        {
            "name": JOB,
            "balances": {"USDT": 10_000},
            "exchange": {
                "name": "paper",
                "params": {"feed": "replay", "data": str(DEMO_DATA), "speed": 20},
            },
            "strategy": {"name": "sma_cross", "params": {"fast": 10, "slow": 30}},
        }
    )
    save_job(config, "replay", env=env, cwd=root)
    process = start_headless(state, env=env, cwd=root)
    try:
        yield root, env
    finally:
        process.terminate()
        process.wait(15)


def _start_web(root: Path, env: dict[str, str]) -> tuple[subprocess.Popen[str], int]:
    web = subprocess.Popen(
        [sys.executable, "-m", "ats.cli", "web", "--port", "0"],
        env=env,
        cwd=root,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert web.stdout is not None
    line = web.stdout.readline()
    found = re.search(r"http://127\.0\.0\.1:(\d+)/", line)
    assert found, line + (web.communicate(timeout=10)[0] if web.poll() is not None else "")
    assert TOKEN not in line  # the token is never printed
    return web, int(found.group(1))


@needs_browser
def test_ats_web_shows_the_jobs_table_in_chromium(
    running_ats: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    root, env = running_ats
    web, port = _start_web(root, env)
    try:
        asyncio.run(_refusals(port))
        shot, received = asyncio.run(_browse(port, tmp_path))
    finally:
        web.terminate()
        web.wait(15)
    for text in ("Jobs (j)", "Strategy", "Status", JOB, "sma_cross", "running"):
        assert text in received, f"{text!r} never reached the browser"
    _assert_table_drawn(shot)


async def _refusals(port: int) -> None:
    """No token, a wrong one, or a WebSocket from another site's page: refused."""
    base = f"http://127.0.0.1:{port}"
    async with aiohttp.ClientSession() as session:
        for url in (f"{base}/", f"{base}/?token=wrong-{TOKEN}", f"{base}/ws", f"{base}/static/"):
            async with session.get(url, allow_redirects=False) as response:
                assert response.status == 401, url
        bearer = {"Authorization": f"Bearer {TOKEN}", "Origin": "http://evil.example"}
        async with session.get(f"{base}/ws", headers=bearer) as response:
            assert response.status == 403
        async with session.get(f"{base}/?token={TOKEN}", allow_redirects=False) as response:
            assert response.status == 303 and response.headers["Location"] == "/"
            cookie = response.headers["Set-Cookie"]
            assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and TOKEN not in cookie


async def _browse(port: int, folder: Path) -> tuple[Path, str]:
    """Open the console with the token; once the jobs table arrived, a screenshot."""
    async with HeadlessBrowser(folder / "profile", size=(1280, 720)) as browser:
        await browser.record_websockets()
        await browser.open(f"http://127.0.0.1:{port}/?token={TOKEN}")
        deadline = time.monotonic() + 30
        received = ""
        while "running" not in received.split(JOB, 1)[-1]:
            assert time.monotonic() < deadline, f"no jobs table within 30 s: {received[-500:]!r}"
            await asyncio.sleep(0.2)
            received = await browser.received_text()
        assert await browser.evaluate("location.pathname + location.search") == "/"
        # the terminal draws what arrived on one of its next frames: look until it shows
        deadline = time.monotonic() + 15
        while True:
            shot = await browser.screenshot(folder / "ats-web.png")
            if _table_missing(shot) is None or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.2)
        print(f"ats web screenshot: {shot}")
        return shot, received


def _assert_table_drawn(shot: Path) -> None:
    missing = _table_missing(shot)
    assert missing is None, missing


def _table_missing(shot: Path) -> str | None:
    """Not blank, and the jobs panel at the top holds the table's selected row: a band,
    in a colour other than the background, across most of the width (None), or what is
    missing."""
    from PIL import Image

    with Image.open(shot) as image:
        pixels = image.convert("RGB")
    width, height = pixels.size
    colours = Counter(
        pixels.getpixel((x, y)) for x in range(0, width, 4) for y in range(0, height, 4)
    )
    background, _count = colours.most_common(1)[0]
    if len(colours) <= 20:
        return "the screenshot is (nearly) blank"
    bands = []
    for y in range(height // 5):  # the jobs panel: the top of the screen
        row = Counter(pixels.getpixel((x, y)) for x in range(width))
        colour, count = row.most_common(1)[0]
        if colour != background and count > 0.6 * width:
            bands.append(y)
    if len(bands) < 8:
        return f"no selected row drawn in the jobs table ({shot})"
    return None


@pytest.mark.parametrize(
    ("token", "args", "says"),
    [
        (None, [], "ats web needs a token: set ATS_API_TOKEN"),
        ("tiny-tok", [], "ATS_API_TOKEN is too short"),
        (TOKEN, ["--host", "0.0.0.0"], "--host 0.0.0.0 is not a loopback address"),
        (TOKEN, [], "no ATS is running on"),
    ],
)
def test_ats_web_refuses_to_start_with_one_line(
    token: str | None,
    args: list[str],
    says: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    for key in [key for key in os.environ if key.startswith("ATS_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("ATS_SAVED_STATES_DIR", str(tmp_path / "s"))
    if token is not None:
        monkeypatch.setenv("ATS_API_TOKEN", token)
    assert main(["web", *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"ats: error: {says}") and err.count("\n") == 1, err
    if token is not None:
        assert token not in err
