"""The vote path reads a bounded number of rows, whatever the number of votes (no timing).

Two independent checks: SQLite's query plan of every statement a vote runs (an index search,
never a full scan of a table or a sort of all matching rows), and the number of SQLite virtual
machine steps per vote before and after thousands of votes (a count, not a time, so it holds
on a busy machine). Also the ``cell_counts`` table itself: a new trial goes to a least-served
cell, and only the study's current models and questions are scheduled.
"""

from __future__ import annotations

import dataclasses
import secrets
from collections import Counter

import pytest
from sqlalchemy import bindparam, event, insert, select, update

from arena.ingest import ingest
from arena.store import RaterIdentity, Store
from arena.store.schema import CellCountRow, ImageRow, RaterRow, TrialRow, VoteRow

MODELS = ("alpha", "beta", "gamma")


@pytest.fixture
def served(make_study, tmp_path):
    """8 prompts x 3 pairs x 1 question = 24 cells, 2 seeds."""
    study, prompts = make_study(models=MODELS, n_prompts=8, quota=6)
    url = f"sqlite:///{tmp_path / 'arena.db'}"
    store = Store.open(url)
    ingest(store, study, prompts)
    yield study, store, url
    store.close()


def _vote(store: Store, study, rater: str) -> None:
    token = store.next_trial(study, rater).trial.token
    store.vote_and_next(study, rater, token, "left", 10.0)


def _statements(store: Store, fn) -> list[tuple[str, object]]:
    seen: list[tuple[str, object]] = []

    def capture(conn, cursor, statement, parameters, context, executemany) -> None:
        seen.append((statement, parameters))

    event.listen(store.engine, "before_cursor_execute", capture)
    try:
        fn()
    finally:
        event.remove(store.engine, "before_cursor_execute", capture)
    return seen


def test_vote_path_statements_search_indexes_and_never_aggregate(served) -> None:
    study, store, _ = served
    rater = store.join(study, RaterIdentity("r1"))
    _vote(store, study, rater)  # the first trial builds the catalog and cells
    token = store.next_trial(study, rater).trial.token
    run = lambda: store.vote_and_next(study, rater, token, "right", 20.0)  # noqa: E731
    statements = _statements(store, run)
    queries = [(s, p) for s, p in statements if s.lstrip().upper().startswith("SELECT")]
    assert len(queries) >= 3  # the listener saw the vote path
    with store.engine.connect() as conn:
        raw = conn.connection.driver_connection
        for sql, params in statements:
            assert "GROUP BY" not in sql.upper() and "count(" not in sql.lower(), sql
            if sql.lstrip().upper().startswith(("SELECT", "UPDATE", "DELETE")):
                plan = [row[-1] for row in raw.execute("EXPLAIN QUERY PLAN " + sql, params)]
                for step in plan:
                    assert not step.startswith("SCAN"), (sql, plan)
                    assert "TEMP B-TREE" not in step, (sql, plan)


def _add_votes(store: Store, study, count: int) -> None:
    """``count`` answered trials straight into the tables, evenly over the cells, with
    ``cell_counts`` kept in step (as the store keeps it)."""
    store.prepare(study)  # the cell_counts rows
    with store.begin(write=True) as conn:
        sid = store.study_id(study.name, conn)
        images = conn.execute(
            select(ImageRow.prompt_id, ImageRow.model_id, ImageRow.id).where(
                ImageRow.study_id == sid, ImageRow.seed == study.seeds[0]
            )
        ).all()
        by = {(p, m): i for p, m, i in images}
        models = sorted({m for _, m, _ in images})
        pairs = [(a, b) for i, a in enumerate(models) for b in models[i + 1 :]]
        cells = [(p, a, b) for p in sorted({p for p, _, _ in images}) for a, b in pairs]
        n_raters = -(-count // len(cells))
        conn.execute(
            insert(RaterRow),
            [
                {"study_id": sid, "external_id": f"bulk{r}", "source": "url"}
                for r in range(n_raters)
            ],
        )
        pks = conn.execute(select(RaterRow.id).where(RaterRow.external_id.like("bulk%"))).all()
        trials = []
        for i in range(count):
            p, a, b = cells[i % len(cells)]  # rater i // len(cells) sees each cell once
            trials.append(
                {
                    "study_id": sid,
                    "rater_id": pks[i // len(cells)][0],
                    "prompt_id": p,
                    "question": "quality",
                    "kind": "2afc",
                    "left_image_id": by[(p, a)],
                    "right_image_id": by[(p, b)],
                    "token": secrets.token_urlsafe(16),
                }
            )
        conn.execute(insert(TrialRow), trials)
        ids = conn.execute(select(TrialRow.id).where(TrialRow.rater_id.in_([k for (k,) in pks])))
        conn.execute(
            insert(VoteRow), [{"trial_id": t, "choice": "left", "decision_ms": 1.0} for (t,) in ids]
        )
        per_cell = Counter(cells[i % len(cells)] for i in range(count))
        c = CellCountRow
        bump = (
            update(c)
            .where(
                c.study_id == sid,
                c.prompt_id == bindparam("p"),
                c.model_lo == bindparam("lo"),
                c.model_hi == bindparam("hi"),
                c.question == "quality",
            )
            .values(n=c.n + bindparam("k"))
        )
        conn.execute(
            bump, [{"p": p, "lo": a, "hi": b, "k": k} for (p, a, b), k in per_cell.items()]
        )


def _steps_per_vote(store: Store, study, tag: str) -> float:
    """Mean SQLite VM steps of next_trial + vote_and_next over 3 raters x 3 votes."""
    steps = [0]

    def count() -> int:
        steps[0] += 1
        return 0

    def install(dbapi_conn, record, proxy) -> None:
        dbapi_conn.set_progress_handler(count, 1)

    for i in range(3):  # warm up: catalog, cell table, each rater's first trial
        store.next_trial(study, store.join(study, RaterIdentity(f"{tag}{i}")))
    event.listen(store.engine, "checkout", install)
    try:
        for _ in range(3):
            for i in range(3):
                _vote(store, study, f"{tag}{i}")
    finally:
        event.remove(store.engine, "checkout", install)
        store.engine.dispose()  # drop connections that still carry the handler
    return steps[0] / 9


def test_work_per_vote_does_not_grow_with_the_votes(served) -> None:
    study, store, url = served
    before = _steps_per_vote(store, study, "a")
    _add_votes(store, study, 3000)
    fresh = Store.open(url)
    try:
        after = _steps_per_vote(fresh, study, "b")
    finally:
        fresh.close()
    # Reading every trial would cost thousands of steps per vote more; a deeper B-tree a few.
    assert after < 1.3 * before, (before, after)


def test_a_new_trial_goes_to_a_least_served_cell(served) -> None:
    study, store, url = served
    _add_votes(store, study, 100)  # 24 cells: 4 or 5 trials each
    fresh = Store.open(url)
    try:
        rater = fresh.join(study, RaterIdentity("late"))
        fresh.next_trial(study, rater)
        with fresh.begin() as conn:
            counts = Counter(n for (n,) in conn.execute(select(CellCountRow.n)))
    finally:
        fresh.close()
    # 100 prior trials + the one just issued, on the least-served cells (those with 4).
    assert sum(n * k for n, k in counts.items()) == 101
    assert counts == {4: 19, 5: 5}


def test_only_the_studys_current_models_are_scheduled(served) -> None:
    study, store, url = served
    store.next_trial(study, store.join(study, RaterIdentity("first")))  # all 24 cells

    def active() -> Counter:
        with store.begin() as conn:
            return Counter(a for (a,) in conn.execute(select(CellCountRow.active)))

    assert active() == {True: 24}
    # The study file now names two of the three models (a new server process reads it).
    fewer = dataclasses.replace(study, models=("alpha", "beta"))
    edited = Store.open(url)
    try:
        rater = edited.join(fewer, RaterIdentity("r"))
        p = edited.next_trial(fewer, rater)
        while not p.done:
            p = edited.vote_and_next(fewer, rater, p.trial.token, "left", 1.0)[1]
        df = edited.comparisons(study.name)
    finally:
        edited.close()
    df = df[df["rater"] == "r"]
    assert len(df) == 6 and set(df["model_a"]) | set(df["model_b"]) == {"alpha", "beta"}
    assert active() == {True: 8, False: 16}
    restored = Store.open(url)
    try:
        restored.next_trial(study, restored.join(study, RaterIdentity("s")))
    finally:
        restored.close()
    assert active() == {True: 24}
