"""Scheduling: even cells and seeds, no repeats per rater, reproducible tie breaks."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from arena.ingest import ingest
from arena.scheduler.balance import Cell, arrange, cells_for, choose, rater_rng, seed_for
from arena.store import RaterIdentity, Store


def test_cells_need_a_common_seed() -> None:
    seeds = {("p1", "a"): [0, 1], ("p1", "b"): [1], ("p2", "a"): [0], ("p2", "b"): [1]}
    cells = cells_for(seeds, ("b", "a"), ("q",))
    assert cells == {Cell("p1", ("a", "b"), "q"): (1,)}


def test_choose_prefers_least_served_unseen_cells_and_is_reproducible() -> None:
    p1, p2, p3, p4 = (Cell(p, ("a", "b"), "q") for p in ("p1", "p2", "p3", "p4"))
    candidates = [(p3, 0), (p2, 1), (p4, 1), (p1, 2)]
    picks = [choose(candidates, {p3}, rater_rng(1, "r", i)) for i in range(40)]
    assert set(picks) == {p2, p4}  # p3 was seen; p1 is served more
    again = [choose(candidates, {p3}, rater_rng(1, "r", i)) for i in range(40)]
    assert again == picks
    assert choose(candidates, {p1, p2, p3, p4}, rater_rng(1, "r", 0)) is None
    assert choose([], set(), rater_rng(1, "r", 0)) is None


def test_seeds_take_turns_within_a_cell_and_sides_are_counterbalanced() -> None:
    cell = Cell("p1", ("a", "b"), "q")
    picks = [arrange(cell, (0, 1, 2), n, 0) for n in range(300)]
    assert Counter(c.seed for c in picks) == {0: 100, 1: 100, 2: 100}
    assert [c.seed for c in picks[:4]] == [0, 1, 2, 0]
    # Each question of a (prompt, pair) starts its turns at another seed.
    assert [seed_for((0, 1, 2), 0, q) for q in range(3)] == [0, 1, 2]
    assert all({c.left, c.right} == {"a", "b"} for c in picks)
    # Each model on the left equally often, with every seed, in every run of 6 trials.
    for start in range(0, 300, 6):
        run = Counter((c.seed, c.left) for c in picks[start : start + 6])
        assert run == {(s, m): 1 for s in (0, 1, 2) for m in ("a", "b")}
    # With any number of seeds: after every trial the sides are even within one, and every
    # run of 2 x seeds trials has each model on the left once with each seed.
    for seeds in ((0,), (0, 1), (0, 1, 2), (0, 1, 2, 3)):
        picks = [arrange(cell, seeds, n, 0) for n in range(48)]
        lefts = np.cumsum([1 if c.left == "a" else -1 for c in picks])
        assert np.abs(lefts).max() <= 1, seeds
        k = 2 * len(seeds)
        for start in range(0, 48, k):
            run = Counter((c.seed, c.left) for c in picks[start : start + k])
            assert run == {(s, m): 1 for s in seeds for m in ("a", "b")}, seeds
    # Which side a cell starts on differs between cells.
    starts = {arrange(Cell(f"p{i}", ("a", "b"), "q"), (0,), 0, 0).left for i in range(20)}
    assert starts == {"a", "b"}


@pytest.fixture
def three_models(make_study, db_url):
    study, prompts = make_study(
        models=("alpha", "beta", "gamma"),
        n_prompts=5,
        seeds=(0, 1),
        quota=7,
        questions=(("quality", "Better?"), ("alignment", "Closer to the text?")),
    )
    store = Store.open(db_url)
    ingest(store, study, prompts)
    yield study, store
    store.close()


def _cells(store, study) -> Counter:
    df = store.comparisons(study.name)
    pairs = [tuple(sorted(ab)) for ab in zip(df["model_a"], df["model_b"], strict=True)]
    return Counter(zip(df["prompt"], pairs, df["question"], df["rater"], strict=True))


def test_many_raters_fill_cells_evenly_and_never_repeat(three_models) -> None:
    study, store = three_models  # 5 prompts x 3 pairs x 2 questions = 30 cells
    for r in range(13):
        rater = store.join(study, RaterIdentity(f"r{r}"))
        p = store.next_trial(study, rater)
        while not p.done:
            p = store.vote_and_next(study, rater, p.trial.token, "left", 100.0)[1]
    per_rater = _cells(store, study)
    assert max(per_rater.values()) == 1  # nobody saw a (prompt, pair, question) twice
    cells = Counter((p, pair, q) for p, pair, q, _ in per_rater)
    assert len(cells) == 30 and max(cells.values()) - min(cells.values()) <= 1
    df = store.comparisons(study.name)
    assert len(df) == 13 * study.quota
    pairs = [tuple(sorted(ab)) for ab in zip(df["model_a"], df["model_b"], strict=True)]
    seeds = Counter(zip(df["prompt"], pairs, df["question"], df["seed"], strict=True))
    assert len(seeds) == 60  # 30 cells x 2 seeds
    assert max(seeds.values()) - min(seeds.values()) <= 1  # seeds take turns in every cell
    lefts = Counter(df["model_a"])
    assert min(lefts.values()) > 0.2 * len(df)  # sides randomised


def test_interleaved_raters_stay_nearly_even(three_models) -> None:
    study, store = three_models
    raters = [store.join(study, RaterIdentity(f"x{r}")) for r in range(9)]
    active = list(raters)
    while active:
        for rater in list(active):
            p = store.next_trial(study, rater)
            if p.done:
                active.remove(rater)
            else:
                store.vote_and_next(study, rater, p.trial.token, "right", 50.0)
    per_rater = _cells(store, study)
    assert max(per_rater.values()) == 1
    cells = Counter((p, pair, q) for p, pair, q, _ in per_rater)
    assert max(cells.values()) - min(cells.values()) <= 2


def test_a_rater_who_saw_every_cell_is_done(make_study, tmp_path) -> None:
    study, prompts = make_study(n_prompts=2, seeds=(0,), quota=10)
    store = Store.open(f"sqlite:///{tmp_path / 'arena.db'}")
    ingest(store, study, prompts)
    rater = store.join(study, RaterIdentity("r"))
    answered = 0
    p = store.next_trial(study, rater)
    while not p.done:
        assert p.total == 2
        p = store.vote_and_next(study, rater, p.trial.token, "left", 1.0)[1]
        answered += 1
    assert answered == 2 and p.answered == p.total == 2
    store.close()


def test_session_plan_places_exact_counts_and_repeats_late_enough() -> None:
    from arena.scheduler.balance import session_plan

    for seed in range(50):
        plan = session_plan(60, 0.1, 0.15, 4, np.random.default_rng(seed))
        assert len(plan.repeats) == 6 and len(plan.gold) == 9
        assert not plan.repeats & plan.gold
        assert min(plan.repeats) >= 4 and max(plan.repeats | plan.gold) < 60
    again = session_plan(60, 0.1, 0.15, 4, np.random.default_rng(3))
    assert again == session_plan(60, 0.1, 0.15, 4, np.random.default_rng(3))
    # Halves round up; a tiny session cannot hold more repeats than its late positions.
    assert len(session_plan(10, 0.25, 0.05, 4, np.random.default_rng(0)).repeats) == 3
    assert len(session_plan(5, 0.5, 0.0, 4, np.random.default_rng(0)).repeats) == 1
