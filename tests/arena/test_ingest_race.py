"""Servers starting together: ingests of studies that share models, or of one study, at once."""

from __future__ import annotations

import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from servers import free_port

from arena.ingest import IngestSummary, ingest
from arena.store import Store

ROOT = Path(__file__).resolve().parents[2]
SHARED = ("alpha", "beta", "gamma")


def _ingest_at_once(url: str, jobs: list) -> list[IngestSummary]:
    """Run ``ingest`` for every (study, prompts) of ``jobs`` in its own thread and Store (its
    own engine and connections, as a separate server process has), all at the same moment."""
    stores = [Store.open(url) for _ in jobs]
    start = threading.Barrier(len(jobs))

    def run(i: int) -> IngestSummary:
        start.wait()
        return ingest(stores[i], *jobs[i])

    try:
        with ThreadPoolExecutor(len(jobs)) as pool:
            return list(pool.map(run, range(len(jobs))))
    finally:
        for s in stores:
            s.close()


def test_studies_sharing_models_are_ingested_at_once(make_study, db_url) -> None:
    one = make_study(name="s1", models=SHARED, n_prompts=3, seeds=(0,))
    two = make_study(name="s2", models=(*SHARED[1:], "delta"), n_prompts=3, seeds=(0,))
    summaries = _ingest_at_once(db_url, [one, two])
    assert [(s.study, s.models, s.images, s.new_images) for s in summaries] == [
        ("s1", 3, 9, 9),
        ("s2", 3, 9, 9),
    ]
    store = Store.open(db_url)
    try:
        assert store.counts()["models"] == 4 and store.counts()["studies"] == 2
    finally:
        store.close()


def test_one_study_is_ingested_once_by_two_servers_at_once(make_study, db_url) -> None:
    job = make_study(name="s1", models=SHARED, n_prompts=3, seeds=(0,))
    summaries = _ingest_at_once(db_url, [job, job])
    assert sorted(s.new_images for s in summaries) == [0, 9]
    assert [s.images for s in summaries] == [9, 9]
    store = Store.open(db_url)
    try:
        counts = store.counts()
        assert (counts["studies"], counts["models"], counts["images"]) == (1, 3, 9)
    finally:
        store.close()


@pytest.mark.postgres
@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_two_servers_of_studies_sharing_models_start_together(make_study, db_url) -> None:
    """Two real ``arena serve`` processes on one empty PostgreSQL database."""
    one = make_study(name="s1", models=SHARED, n_prompts=3, seeds=(0,))[0]
    two = make_study(name="s2", models=(*SHARED[1:], "delta"), n_prompts=3, seeds=(0,))[0]
    with tempfile.TemporaryFile("w+") as log_one, tempfile.TemporaryFile("w+") as log_two:
        servers = [
            (_serve(study.path, db_url, port, log), f"http://127.0.0.1:{port}/", log)
            for study, log in ((one, log_one), (two, log_two))
            for port in [free_port()]
        ]
        try:
            for proc, base, log in servers:
                assert _answers(proc, base), _tail(log)
        finally:
            for proc, _, _ in servers:
                proc.terminate()
                proc.wait(timeout=20)


def _serve(study: Path, url: str, port: int, log) -> subprocess.Popen:
    # To a file, not a pipe: a server that prints more than a pipe holds would block.
    return subprocess.Popen(
        [sys.executable, "-m", "arena.cli", "serve", "--study", str(study)]
        + ["--database", url, "--port", str(port)],
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
    )


def _answers(proc: subprocess.Popen, base: str, timeout: float = 90.0) -> bool:
    """Whether the server answers HTTP 200 on ``/`` before it exits or the time is up."""
    deadline = time.monotonic() + timeout
    while proc.poll() is None and time.monotonic() < deadline:
        try:
            if httpx.get(base, timeout=2).status_code == 200:
                return True
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    return False


def _tail(log) -> str:
    log.seek(0)
    return log.read()[-4000:]
