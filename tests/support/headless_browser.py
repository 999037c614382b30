"""Headless Chromium (Debian's ``chromium``) driven over the DevTools protocol, with aiohttp.

``--screenshot`` and ``--dump-dom`` (tests/e2e/test_html_report.py) capture a page once it has
loaded; a page that draws what a WebSocket brings later (the console in ``ats web``)
needs to be waited on, so this speaks the protocol: navigate, evaluate, screenshot.
``record_websockets()`` keeps the text of every binary frame the page's WebSockets
receive (``window.__atsFrames``), since the terminal draws on a canvas, not in the DOM.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import re
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import aiohttp

BROWSER = next(
    (path for name in ("chromium", "chromium-browser") if (path := shutil.which(name))), None
)
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--proxy-server=127.0.0.1:9",  # loopback is never proxied; anything else would fail
    "--remote-debugging-port=0",
)
RECORD_WEBSOCKETS = """
window.__atsFrames = [];
const Native = window.WebSocket;
window.WebSocket = function (...args) {
  const socket = new Native(...args);
  const decoder = new TextDecoder();
  socket.addEventListener("message", (event) => {
    if (event.data instanceof ArrayBuffer) {
      window.__atsFrames.push(decoder.decode(event.data, { stream: true }));
    }
  });
  return socket;
};
window.WebSocket.prototype = Native.prototype;
"""


class HeadlessBrowser:
    """One Chromium process and its first tab; ``async with`` closes both."""

    def __init__(self, profile: Path, size: tuple[int, int] = (1280, 800)) -> None:
        assert BROWSER is not None
        profile.mkdir(parents=True, exist_ok=True)
        self._log = profile / "chromium.log"  # a file: an undrained pipe could block it
        width, height = size
        profile_flag = f"--user-data-dir={profile}"
        with self._log.open("w") as log:
            self.process = subprocess.Popen(
                [BROWSER, *FLAGS, f"--window-size={width},{height}", profile_flag, "about:blank"],
                stdout=subprocess.DEVNULL,
                stderr=log,
            )
        self._ids = itertools.count(1)
        self._session: aiohttp.ClientSession | None = None
        self._tab: aiohttp.ClientWebSocketResponse | None = None

    async def __aenter__(self) -> HeadlessBrowser:
        port = None
        deadline = time.monotonic() + 30
        while port is None:  # "DevTools listening on ws://127.0.0.1:PORT/..."
            found = re.search(r"DevTools listening on ws://[^:]+:(\d+)/", self._log.read_text())
            if found:
                port = int(found.group(1))
            elif self.process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"chromium did not start: {self._log.read_text()[-2000:]}")
            else:
                await asyncio.sleep(0.05)
        self._session = aiohttp.ClientSession()
        async with self._session.get(f"http://127.0.0.1:{port}/json/list") as response:
            tabs = [target for target in await response.json() if target["type"] == "page"]
        self._tab = await self._session.ws_connect(tabs[0]["webSocketDebuggerUrl"], max_msg_size=0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._tab is not None:
            await self._tab.close()
        if self._session is not None:
            await self._session.close()
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()

    async def call(self, method: str, **params: Any) -> dict[str, Any]:
        assert self._tab is not None
        call_id = next(self._ids)
        await self._tab.send_str(json.dumps({"id": call_id, "method": method, "params": params}))
        while True:
            message = json.loads((await self._tab.receive(timeout=30)).data)
            if message.get("id") == call_id:
                assert "error" not in message, message["error"]
                result: dict[str, Any] = message["result"]
                return result

    async def record_websockets(self) -> None:
        await self.call("Page.enable")  # new-document scripts run only with the domain on
        await self.call("Page.addScriptToEvaluateOnNewDocument", source=RECORD_WEBSOCKETS)

    async def open(self, url: str) -> None:
        await self.call("Page.navigate", url=url)

    async def evaluate(self, expression: str) -> Any:
        answer = await self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        return answer["result"].get("value")

    async def received_text(self) -> str:
        """Everything the page's WebSockets received so far, as text."""
        return str(await self.evaluate("(window.__atsFrames || []).join('')"))

    async def screenshot(self, path: Path) -> Path:
        shot = await self.call("Page.captureScreenshot", format="png")
        path.write_bytes(base64.b64decode(shot["data"]))
        return path
