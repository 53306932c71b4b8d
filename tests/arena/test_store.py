"""The store on a real SQLite file: pragmas, trial issue/resume, the vote rules, the frames."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest

from arena.ingest import ingest
from arena.store import COMPARISON_COLUMNS, RaterIdentity, Store, VoteRefused


@pytest.fixture
def served(make_study, db_url):
    study, prompts = make_study(tie=True)
    store = Store.open(db_url)
    ingest(store, study, prompts)
    yield study, store
    store.close()


def test_sqlite_connections_use_wal_foreign_keys_and_busy_timeout(tmp_path) -> None:
    store = Store.open(f"sqlite:///{tmp_path / 'pragmas.db'}")
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 1000


def test_tables_match_the_database_contract(served) -> None:
    _, store = served
    assert set(store.counts()) == {
        "studies",
        "models",
        "prompts",
        "images",
        "raters",
        "trials",
        "votes",
        "cell_counts",  # derived from trials, for the scheduler (not part of the contract)
        "consent_refusals",  # a count of declined consents, nothing about the person
        "live_battles",  # the live arena's (revision 0007), apart from trials and votes
        "live_images",
        "live_votes",
    }


def test_refresh_resumes_the_unanswered_trial(served) -> None:
    study, store = served
    rater = store.join(study, RaterIdentity("r1"))
    first = store.next_trial(study, rater)
    again = store.next_trial(study, rater)
    assert first.trial is not None and again.trial == first.trial
    assert store.counts()["trials"] == 1
    assert (first.answered, first.total) == (0, study.quota)


def test_unknown_rater_gets_no_trial(served) -> None:
    study, store = served
    with pytest.raises(VoteRefused, match="not known"):
        store.next_trial(study, "nobody")


def _vote_setup(study, store):
    a = store.join(study, RaterIdentity("ra"))
    b = store.join(study, RaterIdentity("rb", source="prolific", panel_study_id="S"))
    ta = store.next_trial(study, a).trial
    tb = store.next_trial(study, b).trial
    return a, b, ta, tb


def test_replayed_vote_returns_the_same_result_and_writes_nothing(served) -> None:
    study, store = served
    a, _, ta, _ = _vote_setup(study, store)
    first, shown = store.vote_and_next(study, a, ta.token, "left", 812.5)
    assert first.recorded and first.choice == "left"
    before = store.counts()
    again, shown_again = store.vote_and_next(study, a, ta.token, "left", 812.5)
    also, _ = store.vote_and_next(study, a, ta.token, "right", 10.0)  # a late second click
    assert not again.recorded and (again.trial_id, again.choice) == (first.trial_id, "left")
    assert (also.choice, also.decision_ms) == ("left", 812.5)
    assert shown_again.trial.token == shown.trial.token  # the same next trial, not a new one
    assert store.counts() == before


@pytest.mark.parametrize(
    ("token", "choice", "ms", "needle"),
    [
        ("forged-token-xyz", "left", 500.0, "not known"),
        ("OTHER", "left", 500.0, "another rater"),
        ("MINE", "both_bad", 500.0, "not a response"),
        ("MINE", "up", 500.0, "not a response"),
        ("MINE", "left", -1.0, "decision time"),
        ("MINE", "left", math.nan, "decision time"),
        ("MINE", "left", math.inf, "decision time"),
        ("", "left", 500.0, "not known"),
    ],
)
def test_refused_votes_write_nothing(served, token, choice, ms, needle) -> None:
    study, store = served
    a, _, ta, tb = _vote_setup(study, store)
    token = {"MINE": ta.token, "OTHER": tb.token}.get(token, token)
    before = store.counts()
    with pytest.raises(VoteRefused, match=needle) as info:
        store.vote_and_next(study, a, token, choice, ms)
    assert str(info.value).endswith(".") and "Traceback" not in str(info.value)
    assert store.counts() == before


def test_quota_ends_the_session_and_frames_follow_the_contract(served) -> None:
    study, store = served
    rater = store.join(study, RaterIdentity("r1"))
    shown = []
    p = store.next_trial(study, rater)
    while not p.done:
        shown.append(p.trial)
        choice = ("left", "right", "tie")[len(shown) % 3]
        p = store.vote_and_next(study, rater, p.trial.token, choice, 5)[1]
    assert len(shown) == study.quota == p.answered == p.total
    assert store.next_trial(study, rater).answered == study.quota
    df = store.comparisons(study.name)
    assert tuple(df.columns) == (
        *COMPARISON_COLUMNS,
        "trial",
        "repeat_of",
        "expected",
        "pair_probability",
    )
    assert len(df) == study.quota
    assert set(df["outcome"]) <= {"a", "b", "tie"}
    assert df["kind"].eq("2afc").all() and df["rater"].eq("r1").all()
    assert df["decision_ms"].eq(5.0).all() and df["seed"].isin(study.seeds).all()
    assert set(df["category"]) <= {"a", "b"} and df["question"].eq("quality").all()
    assert all(
        {a, b} == set(study.models) for a, b in zip(df["model_a"], df["model_b"], strict=True)
    )
    lat = store.latencies(study.name)
    assert lat == pytest.approx({"alpha": 100.5, "beta": 200.5})


def test_empty_comparisons_keep_the_columns(served) -> None:
    study, store = served
    df = store.comparisons(study.name)
    assert (
        tuple(df.columns)
        == (*COMPARISON_COLUMNS, "trial", "repeat_of", "expected", "pair_probability")
        and len(df) == 0
    )
    assert store.comparisons("no-such-study").empty


def test_image_lookup_by_path_or_hash_only_for_ingested_images(served) -> None:
    study, store = served
    p = store.join(study, RaterIdentity("r1"))
    ref = store.next_trial(study, p).trial.left
    assert store.image_file(study.name, ref.sha256) == ref.path
    assert store.image_file(study.name, ref.path) == ref.path
    assert store.image_file(study.name, "manifest.jsonl") is None
    assert store.image_file("other", ref.path) is None


def test_only_the_store_reads_and_writes_tables() -> None:
    """Every read and write goes through arena.store: no other arena module imports the tables
    or builds SQL (its database errors and URL parsing aside). The one other owner is
    arena.scheduler, which reads and bumps its own cell counts and catalog inside the store's
    transactions (the scheduler owns the catalog, the counts and the choice; issue 12)."""
    import ast
    from pathlib import Path

    allowed = {"sqlalchemy.exc", "sqlalchemy.engine"}
    arena = Path(__file__).resolve().parents[2] / "arena"
    offenders = []
    for path in arena.rglob("*.py"):
        if {"store", "scheduler"} & set(path.relative_to(arena).parts):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            for name in names:
                if name == "arena.store.schema" or (
                    name.split(".")[0] == "sqlalchemy" and name not in allowed
                ):
                    offenders.append(f"{path.relative_to(arena)}: {name}")
    assert not offenders, offenders


def test_latencies_prefer_the_warm_single_image_figure(make_study, db_url) -> None:
    from models.manifest import read_manifest, write_manifest

    study, prompts = make_study(tie=True)
    entries = read_manifest(study.image_dir)
    # alpha's images carry a warm single-image latency (as generation records it); beta's,
    # like an image set from before or from elsewhere, only the batch time per image.
    write_manifest(
        study.image_dir,
        [
            replace(e, params={**e.params, "latency": {"warm_single_ms": 42.0, "batch_size": 1}})
            if e.model == "alpha"
            else e
            for e in entries
        ],
    )
    store = Store.open(db_url)
    try:
        ingest(store, study, prompts)
        assert store.latencies(study.name) == pytest.approx({"alpha": 42.0, "beta": 200.5})
    finally:
        store.close()
