"""Helpers shared by the tests, their conftests and docs/screenshots.py (importable because
pyproject.toml puts tests/ on pytest's pythonpath; the scripts add it themselves).

Plain functions, not fixtures: conftest modules cannot import one another under
``--import-mode=importlib``, and the screenshot script is not a test.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest
import uvicorn

__all__ = [
    "BROWSER",
    "CHROMIUM",
    "CHROMIUM_ARGS",
    "ApiError",
    "RaterClient",
    "free_port",
    "running",
]

#: Debian's chromium, or the browser T2I_ARENA_CHROMIUM names.
CHROMIUM = os.environ.get("T2I_ARENA_CHROMIUM") or shutil.which("chromium")
# Without the background-networking flags Chromium keeps dialling out on a closed network.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

#: Marks of a test module that drives Chromium: skipped on a developer machine without the
#: browser, a failure under CI (where .ci/run installs Debian's chromium).
BROWSER = [
    pytest.mark.browser,
    pytest.mark.skipif(
        CHROMIUM is None and not os.environ.get("CI"),
        reason="no Chromium binary (set T2I_ARENA_CHROMIUM)",
    ),
]


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def running(app, timeout: float = 30.0, port: int | None = None) -> Iterator[str]:
    """Serve an ASGI app with uvicorn in a thread on ``port`` (default: a free one); yields
    its base URL."""
    port = port or free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "server did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


class ApiError(Exception):
    """A non-2xx answer of the rater API: its status and the ``error`` object's fields."""

    def __init__(self, status: int, code: str, message: str, retry: bool) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status, self.code, self.message, self.retry = status, code, message, retry


class RaterClient:
    """One rater's browser, over the page's HTTP API (docs/http-api.md).

    Keeps the rater id, the secret and the last answer, as the page's script does.
    """

    def __init__(self, base: str, secret: str | None = None) -> None:
        self.http = httpx.Client(base_url=base, timeout=30.0)
        self.rater: str | None = None
        self.secret = secret
        self.state: dict = {}

    def __enter__(self) -> RaterClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.http.close()

    def post(self, name: str, body: dict) -> dict:
        got = self.http.post(f"api/{name}", json=body)
        data = got.json()
        if got.status_code != 200:
            e = data["error"]
            raise ApiError(got.status_code, e["code"], e["message"], e["retry"])
        self.rater, self.state = data["rater"], data
        self.secret = data.get("secret", self.secret)
        return data

    def start(self, params: dict[str, str] | str | None = None) -> dict:
        """Open the study link: ``params`` are its query parameters (a str means ``rater``)."""
        if isinstance(params, str):
            params = {"rater": params}
        return self.post("start", {"params": params or {}, "secret": self.secret})

    @property
    def token(self) -> str | None:
        trial = self.state.get("trial")
        return trial["token"] if trial else None

    def vote(self, choice: str, decision_ms: float = 500.0, token: str | None = None) -> dict:
        """Answer the trial on screen (or the one ``token`` names)."""
        body = {
            "rater": self.rater,
            "secret": self.secret,
            "token": token or self.token,
            "choice": choice,
            "decision_ms": decision_ms,
        }
        return self.post("vote", body)


def on_screen(page, selector: str) -> None:
    """Assert that the first element ``selector`` matches lies wholly inside the viewport of a
    Playwright page (seen without scrolling)."""
    box = page.locator(selector).first.bounding_box()
    view = page.viewport_size
    assert box is not None, selector
    assert box["y"] >= 0 and box["y"] + box["height"] <= view["height"], (selector, box, view)
    assert box["x"] >= 0 and box["x"] + box["width"] <= view["width"], (selector, box, view)


#: What a trial must show without scrolling: question, prompt, both images, the two side
#: buttons and the progress.
TRIAL_PARTS = (
    "#arena-trial .arena-question",
    "#arena-trial .arena-prompt",
    "#arena-trial figure:nth-child(1) img",
    "#arena-trial figure:nth-child(2) img",
    "#arena-left",
    "#arena-right",
    "#arena-progress",
)


def trial_on_screen(page) -> None:
    """Assert that every one of :data:`TRIAL_PARTS` is inside the viewport."""
    for selector in TRIAL_PARTS:
        on_screen(page, selector)
