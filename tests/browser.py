"""Headless Chromium (Debian's ``chromium``) driven over the DevTools protocol with websocket-client,
for the end-to-end test of the docs page: open a URL, wait until an expression holds, take a
screenshot, and tell every URL the page requested and every error it logged.

Debian's chromium is installed with apt-get when missing (as root, as devtools/sam_local.py
installs docker.io); ``BrowserUnavailable`` says why it cannot run (a skip for a developer, a
failure in CI)."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

# What the machine's own Chromium needs to start quietly in a closed network (no first-run, sync,
# component updates or background connections), headless and, as root, without the sandbox.
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--remote-debugging-port=0",
)
START_TIMEOUT_S = 60


class BrowserUnavailable(Exception):
    """No Chromium here, and it cannot be installed (not root, no apt-get)."""


def chromium_executable() -> str:
    """Debian's chromium, installed with apt-get when missing."""
    for name in ("chromium", "chromium-browser"):
        if found := shutil.which(name):
            return found
    from devtools.sam_local import Failed, Unavailable, apt_install

    try:
        apt_install("chromium")
    except (Unavailable, Failed) as reason:
        raise BrowserUnavailable(str(reason)) from reason
    found = shutil.which("chromium")
    if found is None:
        raise BrowserUnavailable("apt-get installed chromium, but it is not on PATH")
    return found


class Page:
    """One tab, over its DevTools WebSocket: commands in order, events kept."""

    def __init__(self, websocket_url: str) -> None:
        import websocket  # websocket-client

        self._socket = websocket.create_connection(websocket_url, timeout=30, suppress_origin=True)
        self._next_id = 0
        self.events: list[dict[str, Any]] = []

    def send(self, method: str, **params: Any) -> dict[str, Any]:
        self._next_id += 1
        self._socket.send(json.dumps({"id": self._next_id, "method": method, "params": params}))
        while True:
            message = json.loads(self._socket.recv())
            if message.get("id") == self._next_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})
            self.events.append(message)

    def evaluate(self, expression: str) -> Any:
        result = self.send("Runtime.evaluate", expression=expression, returnByValue=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def wait_for(self, expression: str, timeout: float) -> Any:
        """The expression's value once it is truthy; TimeoutError with the last value otherwise. An
        evaluation that fails (the page navigating: its context destroyed) counts as not yet."""
        deadline = time.monotonic() + timeout
        value: Any = None
        while time.monotonic() < deadline:
            try:
                value = self.evaluate(expression)
            except RuntimeError as error:
                value = error
            else:
                if value:
                    return value
            time.sleep(0.2)
        raise TimeoutError(f"{expression!r} still {value!r} after {timeout:.0f} s")

    def screenshot(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(self.send("Page.captureScreenshot", format="png")["data"]))
        return path

    def requested_urls(self) -> list[str]:
        return [e["params"]["request"]["url"] for e in self.events if e.get("method") == "Network.requestWillBeSent"]

    def errors(self) -> list[str]:
        """Exceptions, failed loads and error-level console or log entries (a refused CSP among them)."""
        found = []
        for event in self.events:
            method, params = event.get("method"), event.get("params", {})
            if method == "Runtime.exceptionThrown":
                found.append(json.dumps(params["exceptionDetails"])[:500])
            elif method == "Network.loadingFailed" and not params.get("canceled"):
                found.append(f"load failed: {params.get('errorText')} ({params.get('requestId')})")
            elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
                found.append(f"{params['entry'].get('url', '')}: {params['entry']['text']}")
            elif method == "Runtime.consoleAPICalled" and params["type"] == "error":
                found.append(" ".join(str(arg.get("value", arg.get("description"))) for arg in params["args"]))
        return found

    def close(self) -> None:
        self._socket.close()


@contextmanager
def open_page(width: int = 1280, height: int = 1600) -> Iterator[Page]:
    """A fresh headless Chromium (its own empty profile) and its one tab, network and logs watched."""
    with tempfile.TemporaryDirectory(prefix="chromium-", ignore_cleanup_errors=True) as profile:
        process = subprocess.Popen(
            [chromium_executable(), *FLAGS, f"--user-data-dir={profile}", f"--window-size={width},{height}"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        try:
            port = _devtools_port(process)
            new_tab = urllib.request.Request(f"http://127.0.0.1:{port}/json/new?about:blank", method="PUT")
            with urllib.request.urlopen(new_tab, timeout=30) as answer:
                target = json.loads(answer.read())
            page = Page(target["webSocketDebuggerUrl"])
            try:
                for domain in ("Page", "Runtime", "Network", "Log"):
                    page.send(f"{domain}.enable")
                page.send(
                    "Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1, mobile=False
                )
                yield page
            finally:
                page.close()
        finally:
            _stop(process)


def _stop(process: subprocess.Popen) -> None:
    """Chromium and its helper processes (its own process group): gone before the profile is removed."""
    for sig, grace in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 10.0)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=0.1)
            try:
                os.killpg(process.pid, 0)
            except ProcessLookupError:
                return


def _devtools_port(process: subprocess.Popen) -> int:
    """Chromium prints ``DevTools listening on ws://127.0.0.1:<port>/...`` once it listens."""
    found: list[int] = []
    seen: list[str] = []

    def read() -> None:
        assert process.stderr is not None
        for line in process.stderr:
            seen.append(line)
            if not found and line.startswith("DevTools listening on ws://"):
                found.append(int(line.split("ws://", 1)[1].split("/", 1)[0].rsplit(":", 1)[1]))

    threading.Thread(target=read, daemon=True).start()  # also drains stderr while the browser runs
    deadline = time.monotonic() + START_TIMEOUT_S
    while not found:
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"chromium did not start (exit {process.poll()}): {''.join(seen)[-2000:]}")
        time.sleep(0.05)
    return found[0]


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("true", "1")
