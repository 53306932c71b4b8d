"""End-to-end helpers: the `arena` command as a researcher runs it, and a served study."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
ARENA = [sys.executable, "-m", "arena.cli"]


def run_arena(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run ``arena ARGS…`` in a subprocess; with ``check``, fail the test on a non-zero exit."""
    result = subprocess.run([*ARENA, *args], cwd=ROOT, capture_output=True, text=True, timeout=300)
    if check:
        assert result.returncode == 0, result.stdout + result.stderr
    return result


@contextmanager
def serving(study: Path, port: int, timeout: float = 90.0) -> Iterator[str]:
    """``arena serve --study STUDY`` as a real server process; yields its base URL."""
    proc = subprocess.Popen(
        [*ARENA, "serve", "--study", str(study), "--port", str(port)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + timeout
        while True:
            assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
            try:
                if httpx.get(base, timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "arena serve did not come up"
            time.sleep(0.3)
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=20)


@pytest.fixture(scope="session")
def arena_cli() -> Callable[..., subprocess.CompletedProcess[str]]:
    """:func:`run_arena`."""
    return run_arena


@pytest.fixture(scope="session")
def serve_study() -> Callable[[Path, int], AbstractContextManager[str]]:
    """:func:`serving`."""
    return serving
