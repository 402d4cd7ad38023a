"""Screenshots of parts of a page with headless Chromium, for the documentation's images.

Chromium is driven over ``--remote-debugging-pipe`` (the DevTools protocol on file
descriptors 3 and 4, no network port): open the page, find each element by CSS selector and
capture exactly its box. Used by ``run_report.py --screenshots``.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
)


class Browser:
    """One headless Chromium, one page, spoken to in DevTools messages."""

    def __init__(self, width: int = 1280) -> None:
        program = shutil.which("chromium") or shutil.which("chromium-browser")
        if program is None:
            raise RuntimeError("Chromium is not installed (apt-get install chromium)")
        self._profile = tempfile.mkdtemp(prefix="opto-chromium-")
        to_browser_read, self._to_browser = os.pipe()
        self._from_browser, from_browser_write = os.pipe()

        # The protocol lives on descriptors 3 and 4 of the browser; the shell puts it there.
        wiring = f'exec "$@" 3<&{to_browser_read} 4>&{from_browser_write}'
        self._process = subprocess.Popen(
            [
                "sh",
                "-c",
                wiring,
                "sh",
                program,
                *FLAGS,
                f"--user-data-dir={self._profile}",
                "--remote-debugging-pipe",
            ],
            pass_fds=(to_browser_read, from_browser_write),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(to_browser_read)
        os.close(from_browser_write)
        self._buffer = b""
        self._next_id = 0
        target = self._send("Target.createTarget", {"url": "about:blank"})["targetId"]
        self._session = self._send("Target.attachToTarget", {"targetId": target, "flatten": True})[
            "sessionId"
        ]
        self._send("Page.enable", session=True)
        self._send(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": 900, "deviceScaleFactor": 1, "mobile": False},
            session=True,
        )

    def _send(self, method: str, params: dict | None = None, session: bool = False) -> dict:
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = self._session
        os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        while True:
            reply = self._read()
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})

    def _read(self) -> dict:
        while b"\0" not in self._buffer:
            chunk = os.read(self._from_browser, 1 << 16)
            if not chunk:
                raise RuntimeError("Chromium closed the connection")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def open(self, url: str) -> None:
        self._send("Page.navigate", {"url": url}, session=True)
        while True:
            event = self._read()
            if event.get("method") == "Page.loadEventFired":
                return

    def capture(self, selector: str, path: Path, max_height: int = 1600) -> Path:
        """A PNG of the element ``selector`` matches (cut at ``max_height`` pixels)."""
        script = (
            f"(() => {{ const r = document.querySelector({json.dumps(selector)})"
            ".getBoundingClientRect(); return JSON.stringify([r.x + window.scrollX, "
            "r.y + window.scrollY, r.width, r.height]); })()"
        )
        result = self._send(
            "Runtime.evaluate", {"expression": script, "returnByValue": True}, session=True
        )
        x, y, width, height = json.loads(result["result"]["value"])
        clip = {"x": x, "y": y, "width": width, "height": min(height, max_height), "scale": 1}
        shot = self._send(
            "Page.captureScreenshot",
            {"format": "png", "clip": clip, "captureBeyondViewport": True},
            session=True,
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(shot["data"]))
        return path

    def close(self) -> None:
        with contextlib.suppress(RuntimeError, OSError):
            self._send("Browser.close")
        self._process.wait(timeout=30)
        os.close(self._to_browser)
        os.close(self._from_browser)
        shutil.rmtree(self._profile, ignore_errors=True)
