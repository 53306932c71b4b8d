"""Many raters at once, on SQLite and on PostgreSQL: nothing lost, nothing doubled."""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select

from arena.ingest import ingest
from arena.store import RaterIdentity, Store, VoteRefused
from arena.store.schema import TrialRow, VoteRow

RATERS = 8


@pytest.fixture
def busy(make_study, db_url):
    study, prompts = make_study(
        models=("alpha", "beta", "gamma"), n_prompts=6, seeds=(0, 1), quota=6
    )
    store = Store.open(db_url)
    ingest(store, study, prompts)
    yield study, store
    store.close()


def test_concurrent_raters_each_finish_with_distinct_cells(busy) -> None:
    study, store = busy
    start = threading.Barrier(RATERS)

    def session(i: int) -> int:
        rater = store.join(study, RaterIdentity(f"r{i}"))
        progress = store.next_trial(study, rater)
        start.wait()  # every rater votes at the same moments
        votes = 0
        while not progress.done:
            _, progress = store.vote_and_next(
                study, rater, progress.trial.token, "left" if votes % 2 else "right", 500.0
            )
            votes += 1
        return votes

    with ThreadPoolExecutor(RATERS) as pool:
        done = list(pool.map(session, range(RATERS)))
    assert done == [study.quota] * RATERS

    df = store.comparisons(study.name)
    assert len(df) == RATERS * study.quota
    pairs = [tuple(sorted(ab)) for ab in zip(df["model_a"], df["model_b"], strict=True)]
    seen = Counter(zip(df["rater"], df["prompt"], pairs, df["question"], strict=True))
    assert max(seen.values()) == 1  # no rater saw a (prompt, pair) twice
    # 6 prompts x 3 pairs = 18 cells, 48 votes. SQLite runs one writer at a time, so the
    # least-served rule holds exactly (spread 2 at most, from the never-twice rule). On
    # PostgreSQL simultaneous picks may choose the same least-served cell: the counts stay
    # exact, and the spread is bounded by the number of simultaneous writers.
    cells = Counter(zip(df["prompt"], pairs, strict=True))
    bound = 2 if store.serialized else RATERS
    assert len(cells) == 18 and max(cells.values()) - min(cells.values()) <= bound


def test_the_same_vote_sent_twice_at_once_is_counted_once(busy) -> None:
    study, store = busy
    rater = store.join(study, RaterIdentity("double"))
    token = store.next_trial(study, rater).trial.token
    start = threading.Barrier(4)

    def click(_: int) -> tuple[str, bool] | str:
        start.wait()
        try:
            receipt, _ = store.vote_and_next(study, rater, token, "left", 321.0)
        except VoteRefused as exc:  # pragma: no cover - would fail the assertion below
            return f"refused: {exc}"
        return receipt.choice, receipt.recorded

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(click, range(4)))
    assert sorted(results) == [("left", False)] * 3 + [("left", True)]
    with store.begin() as conn:
        assert conn.scalar(select(func.count()).select_from(VoteRow)) == 1
        # The answered trial and the one next trial, issued once for the four clicks.
        assert conn.scalar(select(func.count()).select_from(TrialRow)) == 2
