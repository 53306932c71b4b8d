"""Live-mode load for benchmarks/vote_load.py: a study's [live] table and a client that keeps
the live worker's queue full while the controlled raters vote.

``idle``: the [live] table is there, its worker process has loaded the toy models and waits.
``busy``: one client sends a new prompt every 0.1 s for the whole run (the queue is full; the
server refuses the overflow as busy), so the worker draws without pause.
"""

from __future__ import annotations

import threading
import time
from collections import Counter

import httpx

__all__ = ["LIVE_MODES", "LiveLoad", "live_table"]

LIVE_MODES = ("off", "idle", "busy")
#: The toy student and teacher: the teacher's 50 steps keep the worker busy on a CPU.
LIVE_MODELS = ("toy-turbo-1step", "toy-base-50step")


def live_table() -> str:
    models = ", ".join(f'"{m}"' for m in LIVE_MODELS)
    return f'\n[live]\nmodels = [{models}]\nqueue = 4\ndevice = "cpu"\n'


class LiveLoad:
    """Wait until the live worker answers a first prompt; then, if ``busy``, keep it busy."""

    def __init__(self, port: int, busy: bool) -> None:
        self.base = f"http://127.0.0.1:{port}/"
        self.busy = busy
        self.answers: Counter[int] = Counter()
        self.drawn = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def ready(self, limit: float = 300.0) -> None:
        """Block until one battle has both images (the worker has loaded its models)."""
        with httpx.Client(base_url=self.base, timeout=30) as client:
            state = client.post("api/live/prompt", json={"prompt": "a red circle", "rater": "b"})
            state.raise_for_status()
            token, deadline = state.json()["token"], time.monotonic() + limit
            while time.monotonic() < deadline:
                if client.post("api/live/poll", json={"token": token}).json()["done"]:
                    return
                time.sleep(0.2)
        raise SystemExit(f"the live worker drew nothing within {limit:g} s")

    def __enter__(self) -> LiveLoad:
        if self.busy:
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self.busy:
            self._thread.join(timeout=30)

    def _run(self) -> None:
        tokens: list[str] = []
        with httpx.Client(base_url=self.base, timeout=30) as client:
            while not self._stop.wait(0.1):
                r = client.post("api/live/prompt", json={"prompt": "a blue square", "rater": "b"})
                self.answers[r.status_code] += 1
                if r.status_code == 200:
                    tokens.append(r.json()["token"])
            for token in tokens:  # how many battles the worker finished during the run
                self.drawn += client.post("api/live/poll", json={"token": token}).json()["done"]
