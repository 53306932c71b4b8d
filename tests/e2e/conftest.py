"""End-to-end helpers: the `arena` command as a researcher runs it, and a served study."""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import httpx
import pytest
from servers import free_port

ROOT = Path(__file__).resolve().parents[2]
ARENA = [sys.executable, "-m", "arena.cli"]


def run_arena(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run ``arena ARGS…`` in a subprocess; with ``check``, fail the test on a non-zero exit."""
    result = subprocess.run([*ARENA, *args], cwd=ROOT, capture_output=True, text=True, timeout=300)
    if check:
        assert result.returncode == 0, result.stdout + result.stderr
    return result


@contextmanager
def arena_process(args: list[str], port: int | None = None, timeout: float = 90.0) -> Iterator[str]:
    """``arena ARGS… --port PORT`` as a real server process; yields its base URL once it answers.

    The process writes to a temporary file, not a pipe: a server that prints more than a pipe
    holds (generation progress, access logs) would otherwise block on its own output.
    """
    port = port or free_port()
    with tempfile.TemporaryFile("w+") as log:
        proc = subprocess.Popen(
            [*ARENA, *args, "--port", str(port)],
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
        )

        def output() -> str:
            log.seek(0)
            return log.read()[-4000:]

        base = f"http://127.0.0.1:{port}/"
        try:
            deadline = time.monotonic() + timeout
            while True:
                assert proc.poll() is None, output()
                try:
                    if httpx.get(base, timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                assert time.monotonic() < deadline, f"arena {args[0]} did not come up\n{output()}"
                time.sleep(0.3)
            yield base
        finally:
            proc.terminate()
            proc.wait(timeout=20)


def serving(study: Path, port: int | None = None, timeout: float = 90.0):
    """``arena serve --study STUDY`` as a real server process; yields its base URL."""
    return arena_process(["serve", "--study", str(study)], port, timeout)


@pytest.fixture(scope="session")
def demo_workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with the demo study's images, drawn once per test session: ``arena demo
    --workdir`` on it serves at once, and other toy studies point their ``images`` key at
    ``<it>/images`` (their images are a subset: same cards, prompts and seeds)."""
    pytest.importorskip("torch")
    from arena.demo import demo_study
    from arena.prompts import load_prompts
    from models.cards import load_cards
    from models.generate import generate_image_set

    workdir = tmp_path_factory.mktemp("demo")
    study = demo_study(workdir)
    cards = load_cards(study.cards_dir)
    prompts = load_prompts(study.prompts_file, study.categories, study.prompt_limit)
    generate_image_set(
        [cards[m] for m in study.models],
        [(p.id, p.text) for p in prompts],
        study.seeds,
        study.image_dir,
        batch_size=8,
        progress=False,
    )
    return workdir


@pytest.fixture(scope="session")
def arena_cli() -> Callable[..., subprocess.CompletedProcess[str]]:
    """:func:`run_arena`."""
    return run_arena


@pytest.fixture(scope="session")
def serve_study() -> Callable[..., AbstractContextManager[str]]:
    """:func:`serving`."""
    return serving


@pytest.fixture(scope="session")
def launch_arena() -> Callable[..., AbstractContextManager[str]]:
    """:func:`arena_process`: any serving ``arena`` command (``serve``, ``demo``) as a process."""
    return arena_process
