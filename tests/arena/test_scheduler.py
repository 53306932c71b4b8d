"""The scheduler's rules through a real store: the study key, the stored pair probabilities,
the adaptive rule's steering and a model added in the middle of a study."""

from __future__ import annotations

import dataclasses
from collections import Counter

import numpy as np
import pytest
from sqlalchemy import event

from analysis.ipw import ipw_weights
from arena.ingest import ingest
from arena.scheduler.adaptive import newcomers, pair_probabilities
from arena.scheduler.fit import Fit, contrasts, pair_design
from arena.store import RaterIdentity, Store
from arena.study import StudyError, load_study

MODELS = ("alpha", "beta", "gamma", "delta")
STRENGTH = {"alpha": 1.0, "beta": 0.6, "gamma": 0.0, "delta": -0.8}  # logits


def _adaptive(refit_every: int = 5, floor: float = 0.1, comparisons: str = "") -> str:
    return (
        f'{comparisons}[scheduler]\nrule = "adaptive"\nfloor = {floor}\n'
        f"refit_every = {refit_every}\n"
    )


def _crowd(store: Store, study, raters: range, rng: np.random.Generator) -> None:
    """Raters who vote by the strengths above (Bradley–Terry), until their quota is done."""
    for r in raters:
        rater = store.join(study, RaterIdentity(f"r{r}"))
        progress = store.next_trial(study, rater)
        while not progress.done:
            left, right = (_model(store, study, side) for side in (progress.trial.left,
                                                                   progress.trial.right))  # fmt: skip
            p = 1 / (1 + np.exp(STRENGTH.get(right, -9) - STRENGTH.get(left, -9)))  # _spoiled: -9
            choice = "left" if rng.random() < p else "right"
            _, progress = store.vote_and_next(study, rater, progress.trial.token, choice, 500.0)
            store.scheduler.settle()  # each refit sees the votes so far (a real server races)


def _model(store: Store, study, image) -> str:
    sid = store.study_id(study.name)
    cat = store.scheduler.cached_catalog(sid)
    return cat.model_name[cat.image_model[cat.files[image.sha256]]]


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ('rule = "clever"', "key 'scheduler.rule' must be 'balanced' or 'adaptive', not 'clever'"),
        ("floor = 0", "key 'scheduler.floor' must be a number above 0 and at most 1, not 0"),
        ("refit_every = 0", "key 'scheduler.refit_every' must be a whole number from 1"),
        ("rul = 'adaptive'", "unknown key 'scheduler.rul' (did you mean 'rule'?)"),
    ],
)
def test_the_scheduler_table_is_checked_in_one_sentence(make_study, table, message) -> None:
    study, _ = make_study()
    study.path.write_text(study.path.read_text() + f"[scheduler]\n{table}\n")
    with pytest.raises(StudyError) as err:
        load_study(study.path)
    assert str(err.value).startswith(f"{study.path}: ") and message in str(err.value)


def test_balanced_is_the_default_and_every_rated_trial_stores_its_pair_probability(
    make_study, tmp_path
) -> None:
    study, prompts = make_study(models=MODELS[:3], n_prompts=6, quota=8, extra="gold_rate = 0.25")
    assert study.scheduler.rule == "balanced"
    store = Store.open(f"sqlite:///{tmp_path / 'arena.db'}")
    try:
        ingest(store, study, prompts)
        _crowd(store, study, range(6), np.random.default_rng(1))
        df = store.comparisons(study.name)
    finally:
        store.close()
    rated, gold = df[df["kind"] == "2afc"], df[df["kind"] == "gold"]
    assert len(gold) == 12 and gold["pair_probability"].isna().all()
    p = rated["pair_probability"]
    # Ties among the least-served cells are drawn uniformly: a pair's probability is its share
    # of them, so with 3 pairs in play each is about 1/3, never 0.
    assert p.between(0, 1, inclusive="right").all() and abs(p.mean() - 1 / 3) < 0.15
    assert (ipw_weights(p) >= 1).all()


def test_the_adaptive_rule_steers_to_the_declared_comparison(make_study, db_url) -> None:
    declared = '[[comparisons]]\na = "beta"\nb = "gamma"\n'
    study, prompts = make_study(models=MODELS, n_prompts=12, quota=12,
                                extra=_adaptive(floor=0.3, comparisons=declared))  # fmt: skip
    assert study.scheduler.rule == "adaptive" and study.scheduler.refit_every == 5
    store = Store.open(db_url)
    try:
        ingest(store, study, prompts)
        _crowd(store, study, range(8), np.random.default_rng(2))
        df = store.comparisons(study.name)
    finally:
        store.close()
    pairs = Counter(frozenset(p) for p in zip(df["model_a"], df["model_b"], strict=True))
    assert sum(pairs.values()) == 96 and len(pairs) == 6  # every pair is still served
    # The balanced rule gives each of the 6 pairs a sixth; the target pair gets far more.
    assert pairs[frozenset(("beta", "gamma"))] / 96 > 0.35, pairs
    p = df["pair_probability"]
    assert (p >= 0.3 / 6 - 1e-12).all() and (p <= 1).all()  # the floor bounds the weights
    assert df.groupby("rater").size().eq(12).all()  # quotas and the rater's cells as before


def test_a_model_added_mid_study_gets_its_comparisons_first(make_study, tmp_path) -> None:
    study, prompts = make_study(models=MODELS, n_prompts=12, quota=12, extra=_adaptive())
    early = dataclasses.replace(study, models=MODELS[:3])
    store = Store.open(f"sqlite:///{tmp_path / 'arena.db'}")
    try:
        ingest(store, study, prompts)
        _crowd(store, early, range(6), np.random.default_rng(3))
        before = len(store.comparisons(study.name))
        _crowd(store, study, range(6, 8), np.random.default_rng(4))
        df = store.comparisons(study.name).iloc[before:]
    finally:
        store.close()
    with_new = (df["model_a"] == "delta") | (df["model_b"] == "delta")
    # 3 of the 6 pairs involve delta; the first fit that knows it puts every greedy pick there.
    assert with_new.iloc[:12].mean() >= 0.75, df[["model_a", "model_b"]]


def test_pair_probabilities_have_their_floor_and_favour_a_newcomer() -> None:
    pairs, x = pair_design(4)
    cov = np.eye(4) * 0.05
    cov[3, 3] = 25.0  # model 3 has no votes yet
    fit = Fit(np.zeros(4), cov)
    assert newcomers(fit).tolist() == [False, False, False, True]
    probs = pair_probabilities(fit, pairs, x, contrasts(4, None), floor=0.2)
    assert probs.sum() == pytest.approx(1) and probs.min() == pytest.approx(0.2 / 6)
    assert probs[(pairs == 3).any(axis=1)].sum() == pytest.approx(1 - 0.2 + 3 * 0.2 / 6)
    eligible = ~(pairs == 3).any(axis=1)  # the rater has seen every cell of the newcomer
    probs = pair_probabilities(fit, pairs, x, contrasts(4, None), 0.2, eligible)
    assert probs[~eligible].sum() == 0 and probs.sum() == pytest.approx(1)
    with pytest.raises(ValueError, match="eligible must allow at least one pair"):
        pair_probabilities(fit, pairs, x, contrasts(4, None), 0.2, np.zeros(6, bool))


def test_the_adaptive_vote_path_searches_indexes_and_never_aggregates(make_study, tmp_path):
    study, prompts = make_study(models=MODELS, n_prompts=8, quota=6, extra=_adaptive(1000))
    store = Store.open(f"sqlite:///{tmp_path / 'arena.db'}")
    try:
        ingest(store, study, prompts)
        rater = store.join(study, RaterIdentity("r1"))
        token = store.next_trial(study, rater).trial.token  # builds the cells, starts a refit
        store.scheduler.settle()
        seen: list[tuple[str, object]] = []

        def capture(conn, cursor, statement, parameters, context, executemany) -> None:
            seen.append((statement, parameters))

        event.listen(store.engine, "before_cursor_execute", capture)
        try:
            store.vote_and_next(study, rater, token, "left", 10.0)
        finally:
            event.remove(store.engine, "before_cursor_execute", capture)
        assert any("model_lo" in sql for sql, _ in seen)  # the pair's cells were read
        with store.engine.connect() as conn:
            raw = conn.connection.driver_connection
            for sql, params in seen:
                assert "GROUP BY" not in sql.upper() and "count(" not in sql.lower(), sql
                if sql.lstrip().upper().startswith(("SELECT", "UPDATE", "DELETE")):
                    plan = [row[-1] for row in raw.execute("EXPLAIN QUERY PLAN " + sql, params)]
                    assert not any(s.startswith("SCAN") or "TEMP B-TREE" in s for s in plan), (
                        sql,
                        plan,
                    )
    finally:
        store.close()


def test_only_an_adaptive_studys_active_cells_are_in_the_pair_index(make_study, db_url) -> None:
    """``paired`` (the partial ``ix_cell_counts_paired``) follows the study's rule and models:
    a balanced study's votes never touch the adaptive rule's index."""
    from arena.store.schema import CellCountRow

    study, prompts = make_study(models=MODELS[:3], n_prompts=4, quota=4)
    adaptive = dataclasses.replace(
        study, models=MODELS[:2], scheduler=dataclasses.replace(study.scheduler, rule="adaptive")
    )

    def flags(url: str, which) -> Counter:
        store = Store.open(url)
        try:
            store.next_trial(which, store.join(which, RaterIdentity(f"r-{len(which.models)}")))
            with store.begin() as conn:
                rows = conn.execute(CellCountRow.__table__.select()).mappings().all()
            return Counter((bool(r["active"]), bool(r["paired"])) for r in rows)
        finally:
            store.close()

    store = Store.open(db_url)
    ingest(store, study, prompts)
    store.close()
    assert flags(db_url, study) == {(True, False): 12}  # 4 prompts x 3 pairs, balanced
    # The study file now names two models and the adaptive rule (a new server process).
    assert flags(db_url, adaptive) == {(True, True): 4, (False, False): 8}
    assert flags(db_url, study) == {(True, False): 12}  # and back


def test_pair_probabilities_at_the_edges() -> None:
    pairs, x = pair_design(2)  # two models: one pair, always drawn
    fit = Fit(np.zeros(2), np.eye(2))
    assert pair_probabilities(fit, pairs, x, contrasts(2, None), 0.1).tolist() == [1.0]
    assert pair_design(1)[0].shape == (0, 2)  # one model: no pair (the rule issues nothing)
    pairs, x = pair_design(4)
    settled = Fit(np.array([2.0, 1.0, 0.0, -1.0]), np.eye(4) * 1e-9)  # every pair settled
    probs = pair_probabilities(settled, pairs, x, contrasts(4, None), 0.1)
    assert probs.sum() == pytest.approx(1) and probs.min() >= 0.1 / 6 - 1e-15
    uniform = pair_probabilities(settled, pairs, x, contrasts(4, None), 1.0)
    assert uniform == pytest.approx(np.full(6, 1 / 6))  # floor 1: uniform random pairs
    with pytest.raises(ValueError, match=r"floor must be in \(0, 1\]; got 0"):
        pair_probabilities(settled, pairs, x, contrasts(4, None), 0)


def test_a_draw_never_lands_on_a_pair_of_probability_zero() -> None:
    from arena.scheduler.rules import draw

    probs = np.array([0.0, 0.3, 0.0, 0.7 - 1e-12, 0.0])  # sums to just under 1
    rng = np.random.default_rng(0)
    drawn = Counter(draw(probs, rng) for _ in range(4000))
    assert set(drawn) == {1, 3} and abs(drawn[1] / 4000 - 0.3) < 0.03

    class Top:  # the largest uniform draw there is
        def random(self) -> float:
            return np.nextafter(1.0, 0.0)

    assert draw(probs, Top()) == 3


def test_a_two_model_adaptive_study_serves_its_one_pair(make_study, tmp_path) -> None:
    study, prompts = make_study(models=MODELS[:2], n_prompts=6, quota=6, extra=_adaptive())
    store = Store.open(f"sqlite:///{tmp_path / 'arena.db'}")
    try:
        ingest(store, study, prompts)
        _crowd(store, study, range(3), np.random.default_rng(5))
        df = store.comparisons(study.name)
    finally:
        store.close()
    assert len(df) == 18 and (df["pair_probability"] == 1.0).all()
    assert df.groupby("rater")["prompt"].nunique().eq(6).all()  # every prompt once per rater
