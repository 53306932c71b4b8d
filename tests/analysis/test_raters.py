"""Rater quality: simulated careful and careless raters, golden cases, and the report's use."""

import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from analysis.frame import COLUMNS, split_kinds
from analysis.present.text import quality_text
from analysis.raters import (
    FLAGS,
    RATER_COLUMNS,
    QualityRules,
    flagged_raters,
    majority_threshold,
    rater_quality,
)
from analysis.report import ALL, analyze, write_report

MODELS = ("m0", "m1", "m2", "m3")
THETA = np.array([1.2, 0.4, -0.4, -1.2])
CARELESS = {"left": "side", "random": "gold", "fast": "fast"}


def crowd(seed: int = 7, n_careful: int = 12, n_votes: int = 60) -> pd.DataFrame:
    """Careful raters, a left-clicker, a random clicker and a too-fast (but careful) rater.

    Cells are (prompt, pair) with a latent winner; careful raters pick it with probability 0.93,
    answer gold right with 0.98 and judge repeats afresh. Every rater also answers 20 gold
    trials, 12 repeats of their own trials (sides swapped) and 3 practice trials.
    """
    rng = np.random.default_rng(seed)
    pairs = [(i, j) for i in range(4) for j in range(i + 1, 4)]
    cells = [(p, i, j) for p in range(30) for i, j in pairs]
    p_first = 1 / (1 + np.exp(-np.array([THETA[i] - THETA[j] for _, i, j in cells])))
    first_wins = rng.random(len(cells)) < p_first
    raters = [f"c{k:02d}" for k in range(n_careful)] + list(CARELESS)
    rows: list[dict] = []
    trial = 0

    def add(rater, kind, left, right, outcome, prompt, ms, expected=None, repeat_of=None):
        nonlocal trial
        trial += 1
        rows.append(
            {
                "model_a": MODELS[left],
                "model_b": MODELS[right],
                "outcome": outcome,
                "rater": rater,
                "prompt": f"p{prompt}",
                "category": "general",
                "question": "quality",
                "kind": kind,
                "decision_ms": ms,
                "seed": 0,
                "expected": expected,
                "trial": trial,
                "repeat_of": repeat_of,
            }
        )
        return trial

    def choose(rater, left_is_right_answer):
        if rater == "left":
            return "a"
        if rater == "random":
            return "a" if rng.random() < 0.5 else "b"
        correct = rng.random() < 0.93
        return "a" if left_is_right_answer == correct else "b"

    for r in raters:
        fast = r == "fast"

        def ms(fast=fast):
            return float(rng.gamma(4.0, 100.0 if fast else 700.0))

        own = []
        for c in rng.choice(len(cells), size=n_votes, replace=False):
            p, i, j = cells[c]
            swap = rng.random() < 0.5
            left, right = (j, i) if swap else (i, j)
            left_wins = bool(first_wins[c]) != swap  # the latent winner is on the left
            vote = choose(r, left_wins)
            own.append((add(r, "2afc", left, right, vote, p, ms()), c, left, right))
        for _ in range(20):  # gold: correct side drawn at random
            m = int(rng.integers(4))
            good_left = rng.random() < 0.5
            if r in ("left", "random"):
                vote = choose(r, good_left)
            else:
                vote = "a" if good_left == (rng.random() < 0.98) else "b"
            add(r, "gold", m, m, vote, int(rng.integers(30)), ms(), "a" if good_left else "b")
        for k in rng.choice(len(own), size=12, replace=False):
            tid, c, left, right = own[k]
            p = cells[c][0]
            left_wins = bool(first_wins[c]) == (right == cells[c][1])  # sides swapped
            add(r, "repeat", right, left, choose(r, left_wins), p, ms(), repeat_of=tid)
        for _ in range(3):
            add(r, "practice", 0, 1, "b", 0, 50.0)
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def data():
    df = crowd()
    return df, rater_quality(df)


def test_table_shape_and_careful_raters_pass(data):
    df, t = data
    assert tuple(t.columns) == RATER_COLUMNS
    assert len(t) == 15 and t["rater"].is_monotonic_increasing
    careful = t[t["rater"].str.startswith("c")]
    assert all(len(f) == 0 for f in careful["flags"])
    assert (careful["n_votes"] == 60).all() and (careful["n_gold"] == 20).all()
    assert (careful["n_repeats"] == 12).all()
    assert careful["repeat_consistency"].mean() > 0.7
    # Practice rows count nowhere; decisive votes are 2afc + gold + repeat.
    assert (t["n_decisive"] == 92).all()


def test_exactly_the_careless_are_flagged_each_with_its_flag(data):
    _, t = data
    assert sorted(flagged_raters(t)) == sorted(CARELESS)
    flags = dict(zip(t["rater"], t["flags"], strict=True))
    for rater, flag in CARELESS.items():
        assert flag in flags[rater], (rater, flags[rater])
    assert flags["fast"] == ["fast"]
    assert {"side", "repeat", "gold"} <= set(flags["left"])  # mirror repeats undo a left-clicker
    row = t.set_index("rater").loc["left"]
    assert row.left_rate == 1.0 and row.repeat_consistency == 0.0
    assert all(set(f) <= set(FLAGS) for f in t["flags"])


def test_without_gold_or_repeat_columns(data):
    df, _ = data
    old = df[df["kind"] == "2afc"].drop(columns=["expected", "trial", "repeat_of", "kind"])
    t = rater_quality(old)
    assert t["n_gold"].eq(0).all() and t["gold_accuracy"].isna().all()
    assert t["n_repeats"].eq(0).all() and t["repeat_consistency"].isna().all()
    flags = dict(zip(t["rater"], t["flags"], strict=True))
    assert sorted(flagged_raters(t)) == sorted(CARELESS)
    assert "side" in flags["left"] and flags["fast"] == ["fast"]
    assert flags["random"] == ["majority"]  # no gold: the crowd is what catches it
    assert not any({"gold", "repeat"} & set(f) for f in t["flags"])
    # No decision times at all: no "fast" flag, and no error.
    t2 = rater_quality(old.assign(decision_ms=np.nan))
    assert t2["median_decision_ms"].isna().all()
    assert not any("fast" in f for f in t2["flags"])


def _tiny(rows, **extra):
    n = len(rows)
    base = {
        "model_a": [r[0] for r in rows],
        "model_b": [r[1] for r in rows],
        "outcome": [r[2] for r in rows],
        "rater": [r[3] for r in rows],
        "prompt": ["p0"] * n,
        "category": ["general"] * n,
        "question": ["quality"] * n,
        "kind": [r[4] if len(r) > 4 else "2afc" for r in rows],
        "decision_ms": [1000.0] * n,
        "seed": [0] * n,
    }
    return pd.DataFrame({**base, **extra}, columns=[*COLUMNS, *extra])


def test_golden_gold_repeats_and_side():
    rows = [
        ("x", "y", "a", "r1"),  # trial 1
        ("y", "x", "b", "r1"),  # trial 2
        ("y", "x", "b", "r1", "repeat"),  # repeats 1 with sides swapped: x again -> consistent
        ("x", "y", "b", "r1", "repeat"),  # repeats 2: x on the left now, "b" = y -> inconsistent
        ("x", "x", "a", "r1", "gold"),
        ("x", "x", "b", "r1", "gold"),
        ("x", "x", "tie", "r1", "gold"),  # a tie on gold is wrong
        ("x", "x", "a", "r1", "gold"),
        ("x", "y", "b", "r1", "practice"),
    ]
    extra = {
        "expected": [None, None, None, None, "a", "b", "a", "b", None],
        "trial": list(range(1, 10)),
        "repeat_of": [np.nan, np.nan, 1, 2, np.nan, np.nan, np.nan, np.nan, np.nan],
    }
    t = rater_quality(_tiny(rows, **extra)).set_index("rater")
    r = t.loc["r1"]
    assert r.n_votes == 2 and r.n_gold == 4 and r.gold_accuracy == pytest.approx(0.5)
    assert r.n_repeats == 2 and r.repeat_consistency == pytest.approx(0.5)
    # Decisive votes (2afc, repeat, gold): a, b, b, b, a, b, a -> 3 left of 7.
    assert r.n_decisive == 7 and r.left_rate == pytest.approx(3 / 7)
    assert r.left_p == pytest.approx(stats.binomtest(3, 7, 0.5).pvalue, abs=1e-12)
    assert r["flags"] == ["gold"]  # 4 gold answers, half right; 2 repeats are too few to judge


def _repeats_held(held: list[bool], rater: str) -> tuple[list, list, list]:
    """Rows of ``len(held)`` originals (x beats y) and their swapped repeats, ``held`` each."""
    rows, trial, repeat_of = [], [], []
    for k, keeps in enumerate(held):
        rows.append(("x", "y", "a", rater))
        rows.append(("y", "x", "b" if keeps else "a", rater, "repeat"))
        trial += [2 * k + 1, 2 * k + 2]
        repeat_of += [np.nan, 2 * k + 1]
    return rows, trial, repeat_of


@pytest.mark.parametrize(
    ("held", "flagged"),
    [
        ([False] * 6, True),  # reverses every repeat: p = 1/64
        ([False] * 5 + [True], True),  # 1 of 6: p = 7/64, flagged at repeat_alpha = 0.15
        ([True, True] + [False] * 4, False),  # 2 of 6 held: p = 22/64, a bad draw of coin flips
        ([False] * 4, False),  # 0 of 4: p = 1/16, too few repeats to tell
    ],
)
def test_repeat_rule_needs_consistency_below_half_beyond_chance(held, flagged):
    rows, trial, repeat_of = _repeats_held(held, "r")
    t = rater_quality(_tiny(rows, trial=trial, repeat_of=repeat_of)).set_index("rater")
    n, k = len(held), sum(held)
    assert t.loc["r", "repeat_p"] == pytest.approx(
        stats.binomtest(k, n, 0.5, alternative="less").pvalue, abs=1e-12
    )
    rules = QualityRules(repeat_alpha=0.15 if k == 1 else 0.05)
    got = rater_quality(_tiny(rows, trial=trial, repeat_of=repeat_of), rules)
    assert ("repeat" in got.set_index("rater").loc["r", "flags"]) is flagged


def test_golden_majority_leave_one_out():
    # One cell, four raters; r2 and r3 see m1 on the left. Oriented: m0, m0, m1, m0.
    rows = [
        ("m0", "m1", "a", "r1"),
        ("m1", "m0", "b", "r2"),
        ("m1", "m0", "a", "r3"),
        ("m0", "m1", "a", "r4"),
    ]
    t = rater_quality(_tiny(rows)).set_index("rater")
    assert t["n_shared"].tolist() == [1, 1, 1, 1]
    assert t["majority_agreement"].tolist() == [1.0, 1.0, 0.0, 1.0]
    # Three raters: r1's others split (m0 vs m1): no majority for r1 and r2.
    t3 = rater_quality(_tiny(rows[:3])).set_index("rater")
    assert t3["n_shared"].tolist() == [0, 0, 1]
    assert np.isnan(t3.loc["r1", "majority_agreement"])
    # The majority rule needs three eligible raters and min_shared votes each.
    assert np.isnan(majority_threshold(t, QualityRules()))
    assert majority_threshold(t, QualityRules(min_shared=1)) == pytest.approx(1.0 - 0.2)
    flags = rater_quality(_tiny(rows), QualityRules(min_shared=1)).set_index("rater")["flags"]
    assert flags["r3"] == ["majority"] and flags["r1"] == []


def test_rules_are_documented_floats():
    doc = QualityRules.documented()
    rules = QualityRules()
    assert set(doc) == set(vars(rules)) and all(isinstance(v, float) for v in vars(rules).values())
    assert all(isinstance(d, str) and d for d in doc.values())
    assert QualityRules(**{"min_gold_accuracy": 0.9}).min_gold_accuracy == 0.9


def test_unknown_kind_and_duplicate_trial_are_errors(data):
    df, _ = data
    with pytest.raises(ValueError, match="'kind'"):
        rater_quality(df.assign(kind="screening"))
    with pytest.raises(ValueError, match="'trial'"):
        rater_quality(df.assign(trial=1))


@pytest.fixture(scope="module")
def analysed(data):
    df, _ = data
    return df, analyze(df, n_boot=60, seed=2, elo_orders=10)


def test_set_aside_kinds_do_not_change_the_ratings(analysed):
    df, a = analysed
    rated = df[df["kind"] == "2afc"].drop(columns=["expected", "trial", "repeat_of"])
    b = analyze(rated, n_boot=60, seed=2, elo_orders=10)
    for q in a.questions:
        pd.testing.assert_frame_equal(a.leaderboard(q), b.leaderboard(q))
    counts = split_kinds(df)[1]
    assert (
        a.settings["votes_by_kind"]
        == counts
        == {
            "2afc": 900,
            "gold": 300,
            "repeat": 180,
            "practice": 45,
        }
    )
    assert a.settings["set_aside"] == {"gold": 300, "repeat": 180, "practice": 45}
    assert a.settings["n_votes"] == 900


def test_excluding_flagged_is_the_analysis_without_them(analysed):
    df, a = analysed
    ex = a.excluding_flagged
    assert sorted(ex.raters) == sorted(CARELESS) and a.settings["n_flagged"] == 3
    rest = df[(df["kind"] == "2afc") & ~df["rater"].isin(ex.raters)]
    assert ex.n_votes == len(rest)
    c = analyze(rest, n_boot=60, seed=2, elo_orders=10, breakdown_by=None)
    for q in a.questions:
        pd.testing.assert_frame_equal(ex.leaderboards[q], c.leaderboard(q))
    cmp = ex.comparison(a.leaderboard(ALL), ALL)
    assert cmp["model"].tolist() == a.leaderboard(ALL)["model"].tolist()
    assert {"rating", "rating_excluding_flagged", "change"} <= set(cmp.columns)


def test_json_csv_and_html(analysed, tmp_path):
    _, a = analysed
    out = json.loads(json.dumps(a.to_json()))
    rows = {r["rater"]: r for r in out["raters"]}
    assert set(rows["left"]) == set(RATER_COLUMNS) and "side" in rows["left"]["flags"]
    assert rows["c00"]["flags"] == []
    assert set(out["agreement"]["quality"]) >= {"fleiss_kappa", "krippendorff_alpha"}
    ex = out["excluding_flagged"]
    assert sorted(ex["raters"]) == sorted(CARELESS) and ex["n_raters"] == 3
    assert set(ex["questions"]) == {"quality", ALL}
    assert len(ex["questions"][ALL]["leaderboard"]) == 4
    assert isinstance(ex["questions"][ALL]["order_changed"], bool)
    assert out["settings"]["quality_rules"]["min_gold_accuracy"] == 0.8
    files = write_report(a, tmp_path, title="crowd")
    raters = pd.read_csv(files.csv["raters"])
    assert raters.set_index("rater").loc["fast", "flags"] == "fast"
    assert "agreement" in files.csv and "leaderboard_all_excluding_flagged" in files.csv
    html = files.html.read_text(encoding="utf-8")
    assert 'id="raters"' in html and "Flagged raters" in html and "Krippendorff" in html
    assert html.index("Flagged raters") < html.index("All 15 raters")
    assert "Raters: 3 of 15 flagged" in quality_text(a)


def test_order_change_is_reported():
    rng = np.random.default_rng(3)
    rows = []
    for k in range(14):
        careless = k >= 6  # eight fast raters who always prefer m1
        for v in range(30):
            swap = rng.random() < 0.5
            m0_wins = rng.random() < (0.05 if careless else 0.75)
            rows.append(
                {
                    "model_a": "m1" if swap else "m0",
                    "model_b": "m0" if swap else "m1",
                    "outcome": "a" if m0_wins != swap else "b",
                    "rater": f"r{k:02d}",
                    "prompt": f"p{v}",
                    "category": "general",
                    "question": "quality",
                    "kind": "2afc",
                    "decision_ms": 300.0 if careless else 2500.0,
                    "seed": 0,
                }
            )
    df = pd.DataFrame(rows)
    a = analyze(df, n_boot=40, elo_orders=0, rules=QualityRules(majority_margin=1.0))
    assert a.settings["flag_counts"]["fast"] == 8 and a.settings["n_flagged"] == 8
    assert a.leaderboard(ALL)["model"].tolist() == ["m1", "m0"]
    ex = a.excluding_flagged
    assert ex.leaderboards[ALL]["model"].tolist() == ["m0", "m1"]
    assert ex.order_changed(a.leaderboard(ALL), ALL)
    assert "m1 > m0 to m0 > m1" in ex.sentence(a.leaderboard(ALL), ALL)
    assert "order changes for all, quality." in quality_text(a)
    from analysis.present.html import render_report

    assert "Flagged raters change the order" in render_report(a, title="t")


def test_every_rule_and_its_default_is_documented():
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    guide = (root / "docs" / "writing-a-study.md").read_text(encoding="utf-8")
    stats_doc = (root / "docs" / "statistics.md").read_text(encoding="utf-8")
    for name, value, _ in QualityRules().describe():
        assert f"| `{name}` | `{value:g}` |" in guide, name
        assert f"`{name}`" in stats_doc, name


def test_rules_take_ints_and_refuse_non_numbers():
    assert QualityRules(min_gold=5).min_gold == 5.0
    with pytest.raises(ValueError, match="min_gold"):
        QualityRules(min_gold="five")
