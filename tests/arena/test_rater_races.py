"""Many calls for one rater at the same moment (a double load, tabs, retries): one rater row,
one open trial, no database error, on SQLite and on a real PostgreSQL server."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select

from arena.ingest import ingest
from arena.store import RaterIdentity, Store, VoteRefused
from arena.store.schema import RaterRow, TrialRow, VoteRow

CALLS = 12


@pytest.fixture
def study_store(make_study, db_url):
    study, prompts = make_study(models=("alpha", "beta", "gamma"), quota=4)
    store = Store.open(db_url)
    ingest(store, study, prompts)
    yield study, store
    store.close()


def _at_once(fn) -> list:
    barrier = threading.Barrier(CALLS)

    def call(i: int):
        barrier.wait()
        try:
            return fn(i)
        except VoteRefused as exc:
            return exc

    with ThreadPoolExecutor(CALLS) as pool:
        return list(pool.map(call, range(CALLS)))


def _rows(store: Store, rater: str) -> tuple[int, int]:
    with store.begin() as conn:
        raters = conn.scalar(select(func.count()).where(RaterRow.external_id == rater))
        open_trials = conn.scalar(
            select(func.count(TrialRow.id))
            .join(RaterRow, RaterRow.id == TrialRow.rater_id)
            .outerjoin(VoteRow, VoteRow.trial_id == TrialRow.id)
            .where(RaterRow.external_id == rater, VoteRow.id.is_(None))
        )
    return raters, open_trials


def test_concurrent_starts_of_a_panel_rater_give_one_row_and_one_trial(study_store) -> None:
    study, store = study_store
    who = RaterIdentity("pp1", source="prolific", panel_study_id="S", panel_session_id="X")
    results = _at_once(lambda _: store.start(study, who))
    # Every call presents the Prolific session id, so every one of them (re)binds and resumes.
    assert all(not isinstance(r, Exception) for r in results), results
    assert len({r.progress.trial.token for r in results}) == 1
    assert _rows(store, "pp1") == (1, 1)


def test_concurrent_starts_of_a_link_rater_bind_one_browser(study_store) -> None:
    study, store = study_store
    results = _at_once(lambda _: store.start(study, RaterIdentity("link1")))
    won = [r for r in results if not isinstance(r, Exception)]
    lost = [r for r in results if isinstance(r, Exception)]
    assert len(won) == 1 and all(e.code == "not_yours" for e in lost), results
    assert _rows(store, "link1") == (1, 1)
    # The winner's browser goes on; its secret resumes the same trial.
    again = store.start(study, RaterIdentity("link1"), won[0].secret)
    assert again.progress.trial.token == won[0].progress.trial.token


def test_concurrent_votes_and_starts_of_one_rater_stay_consistent(study_store) -> None:
    study, store = study_store
    session = store.start(study, RaterIdentity("twotabs"))
    token, secret = session.progress.trial.token, session.secret

    def either(i: int) -> object:
        if i % 2:
            return store.vote_and_next(study, "twotabs", token, "left", 100.0, secret)[0]
        return store.start(study, RaterIdentity("twotabs"), secret)

    results = _at_once(either)
    assert not [r for r in results if isinstance(r, Exception)], results
    df = store.comparisons(study.name)
    assert len(df) == 1  # one vote, whatever the interleaving
    assert _rows(store, "twotabs") == (1, 1)


def test_concurrent_starts_after_a_vote_issue_one_next_trial(study_store) -> None:
    # The race that matters: the rater exists and has no open trial, so every call would
    # issue one unless calls for one rater run one after the other.
    study, store = study_store
    session = store.start(study, RaterIdentity("again1"))
    store.vote_and_next(study, "again1", session.progress.trial.token, "left", 50.0,
                        session.secret)  # fmt: skip
    with store.begin() as conn:  # leave the rater with no open trial
        conn.execute(
            TrialRow.__table__.delete().where(
                TrialRow.id.not_in(select(VoteRow.trial_id)),
                TrialRow.rater_id.in_(select(RaterRow.id).where(RaterRow.external_id == "again1")),
            )
        )
    assert _rows(store, "again1") == (1, 0)
    results = _at_once(lambda _: store.start(study, RaterIdentity("again1"), session.secret))
    assert all(not isinstance(r, Exception) for r in results), results
    assert len({r.progress.trial.token for r in results}) == 1
    assert _rows(store, "again1") == (1, 1)
