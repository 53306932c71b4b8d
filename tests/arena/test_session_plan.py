"""A session's plan: practice trials first (stored, never rated), then rated trials with a share
of repeats (an earlier trial again, sides swapped), through the store and the analysis."""

from __future__ import annotations

import numpy as np
from sqlalchemy import func, select

from analysis.raters import rater_quality
from analysis.study import analyze
from arena.gold import SPOILED
from arena.ingest import ingest
from arena.store import RaterIdentity, Store
from arena.store.schema import CellCountRow, ImageRow, ModelRow, PromptRow

MIRROR = {"left": "right", "right": "left"}


def _study(make_study, tmp_path, extra: str):
    study, prompts = make_study(
        models=("alpha", "beta", "gamma"), n_prompts=8, seeds=(0,), quota=12, extra=extra
    )
    store = Store.open(f"sqlite:///{tmp_path / 'arena.db'}")
    ingest(store, study, prompts)
    return study, store


def _run(store, study, rater: str, choose) -> list:
    session = store.start(study, RaterIdentity(rater))
    progress, shown = session.progress, []
    while not progress.done:
        trial = progress.trial
        shown.append(trial)
        _, progress = store.vote_and_next(
            study, rater, trial.token, choose(trial), 900.0, session.secret
        )
    return shown


def test_practice_comes_first_and_stays_out_of_the_ratings(make_study, tmp_path) -> None:
    study, store = _study(make_study, tmp_path, "practice = 3")
    shown = _run(store, study, "p1", lambda t: "left")
    assert len(shown) == study.practice + study.quota == 15
    df = store.comparisons(study.name)
    assert list(df["kind"][:3]) == ["practice"] * 3 and set(df["kind"][3:]) == {"2afc"}
    with store.begin() as conn:  # practice leaves the cells' balance alone
        assert conn.scalar(select(func.sum(CellCountRow.n))) == study.quota
    # The report rates exactly the rated trials.
    result = analyze(df, n_boot=50, elo_orders=0)
    assert result.settings["votes_by_kind"]["practice"] == 3
    assert result.settings["n_votes"] == study.quota
    store.close()


def test_repeats_show_an_earlier_trial_with_the_sides_swapped(make_study, tmp_path) -> None:
    study, store = _study(make_study, tmp_path, "repeat_rate = 0.3")
    rng = np.random.default_rng(1)

    first: dict[frozenset, str] = {}

    def careful(trial) -> str:
        key = frozenset((trial.left.sha256, trial.right.sha256))
        if key in first:  # pick the same image as before
            return "left" if trial.left.sha256 == first[key] else "right"
        choice = str(rng.choice(["left", "right"]))
        first[key] = trial.left.sha256 if choice == "left" else trial.right.sha256
        return choice

    shown = _run(store, study, "c1", careful)
    assert len(shown) == study.quota
    df = store.comparisons(study.name)
    repeats = df[df["kind"] == "repeat"]
    assert 1 <= len(repeats) <= 8
    by_trial = df.set_index("trial")
    for _, row in repeats.iterrows():
        original = by_trial.loc[int(row["repeat_of"])]
        assert original["kind"] == "2afc" and original["prompt"] == row["prompt"]
        # Sides swapped: a is the original's b, and the careful rater's outcome mirrors.
        assert (row["model_a"], row["model_b"]) == (original["model_b"], original["model_a"])
        assert {row["outcome"], original["outcome"]} == {"a", "b"}
    assert repeats["repeat_of"].is_unique  # never the same trial twice
    table = rater_quality(df)
    assert table.loc[table["rater"] == "c1", "repeat_consistency"].item() == 1.0
    store.close()


def test_gold_trials_have_a_known_answer_that_careful_raters_give(make_study, tmp_path) -> None:
    study, prompts = make_study(
        models=("alpha", "beta", "gamma"), n_prompts=8, seeds=(0,), quota=30,
        questions=(("quality", "Which looks better?"), ("alignment", "Which fits the prompt?")),
        extra="gold_rate = 0.3",
    )  # fmt: skip
    store = Store.open(f"sqlite:///{tmp_path / 'arena.db'}")
    ingest(store, study, prompts)
    assert [q.gold for q in study.questions] == ["spoiled", "other-prompt"]
    with store.begin() as conn:
        rows = conn.execute(
            select(ImageRow.sha256, ModelRow.name, PromptRow.text)
            .join(ModelRow, ModelRow.id == ImageRow.model_id)
            .join(PromptRow, PromptRow.id == ImageRow.prompt_id)
        ).all()
    spoiled = {sha for sha, model, _ in rows if model == SPOILED}
    prompt_of = {sha: text for sha, _, text in rows}
    assert len(spoiled) == 8  # one per (prompt, seed), on disk in the image folder
    assert all((study.image_dir / "_spoiled").glob("*.png"))

    def careful(trial) -> str:
        left, right = trial.left.sha256, trial.right.sha256
        if left in spoiled or prompt_of[left] != trial.prompt:
            return "right"
        if right in spoiled or prompt_of[right] != trial.prompt:
            return "left"
        return "left" if left < right else "right"

    _run(store, study, "careful", careful)
    _run(store, study, "lefty", lambda t: "left")
    df = store.comparisons(study.name)
    gold = df[df["kind"] == "gold"]
    assert {"quality", "alignment"} <= set(gold["question"])
    assert (
        gold["expected"].isin(["a", "b"]).all()
        and df.loc[df["kind"] != "gold", "expected"].isna().all()
    )
    assert 6 <= len(gold) <= 36
    # Both images of a gold trial come from the study's first model (or its spoiled copy).
    assert set(gold["model_a"]) | set(gold["model_b"]) <= {"alpha", SPOILED}
    mine = gold[gold["rater"] == "careful"]
    assert (mine["outcome"] == mine["expected"]).all()
    table = rater_quality(df).set_index("rater")
    assert table.loc["careful", "gold_accuracy"] == 1.0
    assert table.loc["lefty", "gold_accuracy"] < 0.9
    # Gold trials never reach the ratings: the spoiled copies are no model of the study.
    result = analyze(df, n_boot=20, elo_orders=0)
    assert set(result.models) == set(study.models)
    assert SPOILED not in str(result.to_json())
    with store.begin() as conn:  # nor the cells' balance
        assert conn.scalar(select(func.sum(CellCountRow.n))) == (df["kind"] == "2afc").sum()
    store.close()


def test_every_rater_gets_the_same_number_of_repeats_and_checks(make_study, tmp_path) -> None:
    study, prompts = make_study(
        models=("alpha", "beta", "gamma"), n_prompts=8, seeds=(0,), quota=20,
        questions=(("quality", "Which looks better?"),),
        extra="practice = 2\nrepeat_rate = 0.15\ngold_rate = 0.25",
    )  # fmt: skip
    store = Store.open(f"sqlite:///{tmp_path / 'arena.db'}")
    ingest(store, study, prompts)
    for r in range(6):
        _run(store, study, f"r{r}", lambda t: "left")
    df = store.comparisons(study.name)
    kinds = df.groupby("rater")["kind"].value_counts().unstack(fill_value=0)
    # round(0.15 * 20) = 3 repeats and 0.25 * 20 = 5 checks each, whatever the draws.
    assert kinds["repeat"].eq(3).all() and kinds["gold"].eq(5).all(), kinds
    assert kinds["practice"].eq(2).all() and kinds["2afc"].eq(12).all(), kinds
    # The positions differ between raters (seeded per rater), never among the practice.
    positions = {
        rater: tuple(np.flatnonzero(g["kind"].to_numpy() == "gold"))
        for rater, g in df.groupby("rater")
    }
    assert len(set(positions.values())) > 1
    assert all(min(p) >= study.practice for p in positions.values())
    store.close()
