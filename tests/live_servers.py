"""A live study's server for the live tests (plain functions; see tests/servers.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from servers import running

from arena.ingest import ingest
from arena.live.hub import LiveHub, open_live
from arena.serve import create_server
from arena.store import Store

#: The toy student (1 step) and its teacher (50 steps): the student's image arrives first.
LIVE_MODELS = ("toy-turbo-1step", "toy-base-50step")


def live_table(queue: int = 4, max_chars: int = 60) -> str:
    models = ", ".join(f'"{m}"' for m in LIVE_MODELS)
    return f"\n[live]\nmodels = [{models}]\nqueue = {queue}\nmax_prompt_chars = {max_chars}\n"


@contextmanager
def live_server(
    build_study: Callable,
    tmp_path: Path,
    *,
    start: bool = True,
    queue: int = 4,
    tie: bool = True,
) -> Iterator[tuple[str, object, Store, LiveHub]]:
    """(base URL, study, store, hub) of a launched study with a [live] table; ``build_study``
    is conftest's (the ``study_builder`` fixture)."""
    study, prompts = build_study(tmp_path, extra=live_table(queue), tie=tie, quota=4)
    store = Store.open(study.database_url)
    hub = open_live(study, store, start=start)
    try:
        ingest(store, study, prompts)
        with running(create_server(study, store, live=hub)) as base:
            yield base, study, store, hub
    finally:
        hub.close()
        store.close()
