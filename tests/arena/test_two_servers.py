"""Two arena servers on one database, raters' calls spread over both: nothing lost, nothing
doubled. On PostgreSQL (the deployment docs/deploying.md describes) and on one SQLite file."""

from __future__ import annotations

import random
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack

import pytest
from servers import RaterClient, running
from sqlalchemy import func, select

from arena.ingest import ingest
from arena.serve import create_server
from arena.store import Store
from arena.store.schema import TrialRow, VoteRow

RATERS = 8


@pytest.mark.parametrize("rule", ["balanced", "adaptive"])
def test_raters_spread_over_two_servers_lose_and_double_nothing(make_study, db_url, rule) -> None:
    # Adaptive: each server refits every other issued trial in its own thread, racing both
    # servers' votes; its fit is its own, its picks and their stored probabilities must not be.
    extra = f'[scheduler]\nrule = "{rule}"\nrefit_every = 2\n' if rule == "adaptive" else ""
    study, prompts = make_study(models=("alpha", "beta", "gamma"), n_prompts=6, quota=6,
                                extra=extra)  # fmt: skip
    assert study.scheduler.rule == rule
    with ExitStack() as stack:
        stores = [Store.open(db_url) for _ in range(2)]
        for store in stores:
            stack.callback(store.close)
        ingest(stores[0], study, prompts)
        bases = [stack.enter_context(running(create_server(study, s))) for s in stores]

        def session(i: int) -> int:
            rng = random.Random(i)
            # Each call of this rater goes to either server, as behind a load balancer.
            clients = [stack.enter_context(RaterClient(base)) for base in bases]
            first = clients[0].start(f"spread{i}")
            for c in clients:
                c.secret, c.rater = clients[0].secret, first["rater"]
            got, acknowledged = first, 0
            while not got["done"]:
                client = rng.choice(clients)
                got = client.vote(rng.choice(["left", "right"]), 300.0, token=got["trial"]["token"])
                acknowledged += got["recorded"]
            return acknowledged

        with ThreadPoolExecutor(RATERS) as pool:
            acknowledged = sum(pool.map(session, range(RATERS)))

        store = stores[0]
        with store.begin() as conn:
            stored = conn.scalar(select(func.count(VoteRow.id)))
            trials = conn.scalar(select(func.count(TrialRow.id)))
        assert acknowledged == stored == trials == RATERS * study.quota
        df = store.comparisons(study.name)
        pairs = [tuple(sorted(ab)) for ab in zip(df["model_a"], df["model_b"], strict=True)]
        seen = Counter(zip(df["rater"], df["prompt"], pairs, df["question"], strict=True))
        assert max(seen.values()) == 1  # no rater was given a cell twice
        assert df["pair_probability"].between(0, 1, inclusive="right").all()
