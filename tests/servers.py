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

import uvicorn

__all__ = ["CHROMIUM", "CHROMIUM_ARGS", "free_port", "running"]

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


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def running(app, timeout: float = 30.0) -> Iterator[str]:
    """Serve an ASGI app with uvicorn in a thread on a free port; yields its base URL."""
    port = free_port()
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
