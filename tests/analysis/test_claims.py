"""Declared comparisons: exact tests against scipy, Holm against statsmodels, verdicts on
constructed votes, the goodness-of-fit test on transitive and intransitive votes, and the edges
(one rater, a model without votes, an unrated question)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from statsmodels.stats.multitest import multipletests

from analysis.claims import Claim, claim_p_value, one_sided_p
from analysis.present.text import leaderboard_text, quality_text
from analysis.report import analyze, write_report


def votes(spec: list[tuple[str, str, int, int]], *, raters: int = 20, question: str = "quality"):
    """Rows for (a, b, wins of a, wins of b), spread round-robin over ``raters`` raters."""
    rows = []
    k = 0
    for a, b, wa, wb in spec:
        for outcome, n in (("a", wa), ("b", wb)):
            for _ in range(n):
                left, right, out = (
                    (a, b, outcome) if k % 2 else (b, a, "b" if outcome == "a" else "a")
                )
                rows.append(
                    {
                        "model_a": left,
                        "model_b": right,
                        "outcome": out,
                        "rater": f"r{k % raters}",
                        "prompt": f"p{k % 7}",
                        "category": "c",
                        "question": question,
                        "kind": "2afc",
                        "decision_ms": 1500,
                        "seed": 0,
                    }
                )
                k += 1
    return pd.DataFrame(rows)


def run(df: pd.DataFrame, claims=None, **kw):
    return analyze(df, n_boot=60, seed=1, elo_orders=0, claims=claims, **kw)


@pytest.mark.parametrize(
    ("x", "n", "p0"), [(30, 50, 0.45), (0, 12, 0.4), (12, 12, 0.45), (7, 20, 0.3)]
)
def test_one_sided_tails_equal_scipy_binomtest(x, n, p0):
    up = stats.binomtest(x, n, p0, alternative="greater").pvalue
    down = stats.binomtest(x, n, p0, alternative="less").pvalue
    assert one_sided_p(x, n, p0, upper=True) == pytest.approx(up, rel=1e-9, abs=1e-12)
    assert one_sided_p(x, n, p0, upper=False) == pytest.approx(down, rel=1e-9, abs=1e-12)


def test_claim_p_values_are_the_textbook_tests():
    assert claim_p_value("superiority", 32, 50, 0) == pytest.approx(
        stats.binomtest(32, 50, 0.5).pvalue
    )
    assert claim_p_value("non-inferiority", 26, 50, 0.1) == pytest.approx(
        stats.binomtest(26, 50, 0.4, alternative="greater").pvalue
    )
    tost = max(
        stats.binomtest(26, 50, 0.4, alternative="greater").pvalue,
        stats.binomtest(26, 50, 0.6, alternative="less").pvalue,
    )
    assert claim_p_value("equivalence", 26, 50, 0.1) == pytest.approx(tost)


def test_claims_refuse_what_cannot_be_tested():
    with pytest.raises(ValueError, match="two different models"):
        Claim("x", "x")
    with pytest.raises(ValueError, match="margin of a non-inferiority claim"):
        Claim("x", "y", "non-inferiority")
    with pytest.raises(ValueError, match="takes no margin"):
        Claim("x", "y", "superiority", 0.1)
    with pytest.raises(ValueError, match="claim must be one of"):
        Claim("x", "y", "better")


def test_verdicts_follow_the_votes_and_holm_matches_statsmodels():
    df = votes([("turbo", "base", 110, 90), ("turbo", "lcm", 100, 100), ("turbo", "old", 150, 50)])
    claims = [
        Claim("turbo", "base", "non-inferiority", 0.05),
        Claim("turbo", "lcm", "equivalence", 0.1),
        Claim("turbo", "old"),
        Claim("old", "turbo", "non-inferiority", 0.05),
    ]
    a = run(df, claims)
    t = a.comparisons
    assert list(t["verdict"]) == [
        "non-inferior",
        "equivalent",
        "a better",
        "non-inferiority not shown",
    ]
    assert t.loc[2, "win_rate"] == pytest.approx(0.75)
    assert t.loc[3, "win_rate"] == pytest.approx(0.25)
    doubled = np.minimum(1, t["p_value"] * np.where(t["claim"] == "superiority", 1, 2))
    expected = multipletests(doubled, method="holm")[1]
    np.testing.assert_allclose(t["p_adjusted"], expected, rtol=1e-12)
    # the same pair both ways round: mirrored intervals
    assert t.loc[2, "ci_low"] == pytest.approx(1 - t.loc[3, "ci_high"])
    assert t.loc[2, "ci_high"] == pytest.approx(1 - t.loc[3, "ci_low"])
    assert t.loc[2, "bt_win_rate"] == pytest.approx(1 - t.loc[3, "bt_win_rate"])
    assert (t["ci_low"] < t["win_rate"]).all() and (t["win_rate"] < t["ci_high"]).all()
    assert "turbo was preferred to old in 75% of 200 decisive votes" in t.loc[2, "sentence"]
    assert (
        "the claim that turbo is not worse than base by more than 5 points" in t.loc[0, "sentence"]
    )
    assert t.loc[0, "sentence"].count("is shown") == 1


def test_default_is_the_reference_against_every_other_model():
    df = votes([("turbo", "base", 60, 40), ("turbo", "lcm", 50, 50), ("base", "lcm", 40, 60)])
    t = run(df, reference_model="lcm").comparisons
    assert set(zip(t["model_a"], t["model_b"], strict=True)) == {("lcm", "turbo"), ("lcm", "base")}
    assert set(t["claim"]) == {"superiority"}


def test_json_opens_with_the_comparisons_and_the_report_with_the_answer(tmp_path):
    df = votes([("turbo", "base", 60, 40), ("turbo", "lcm", 50, 50)])
    a = run(df, [Claim("turbo", "base", "non-inferiority", 0.05)])
    out = json.loads(json.dumps(a.to_json()))
    assert next(iter(out)) == "comparisons"
    row = out["comparisons"][0]
    for key in (
        "model_a",
        "model_b",
        "question",
        "claim",
        "margin",
        "win_rate",
        "ci_low",
        "ci_high",
        "p_value",
        "p_adjusted",
        "verdict",
        "sentence",
    ):
        assert key in row
    assert row["claim"] == "non-inferiority" and row["margin"] == 0.05
    files = write_report(a, tmp_path, title="t")
    assert pd.read_csv(files.csv["comparisons"])["verdict"].tolist() == [row["verdict"]]
    page = files.html.read_text()
    assert page.index('id="answer"') < page.index('id="summary"')
    assert row["sentence"].split(";")[0] in page


def test_votes_from_one_rater_get_no_verdict_and_no_interval(tmp_path):
    df = votes([("turbo", "base", 40, 10), ("turbo", "lcm", 30, 30)], raters=20)
    one = (df["model_a"] + df["model_b"]).str.contains("base")
    df.loc[one, "rater"] = "solo"
    a = run(df, [Claim("turbo", "base"), Claim("turbo", "lcm")])
    page = write_report(a, tmp_path, title="t").html.read_text()
    assert "Not shown: turbo vs base (every decisive vote between them is from one rater" in page
    t = a.comparisons
    assert t.loc[0, "verdict"] == "not tested"
    assert np.isnan(t.loc[0, "ci_low"]) and np.isnan(t.loc[0, "p_value"])
    assert "one rater" in t.loc[0, "sentence"]


def test_a_model_without_votes_in_a_question_is_not_tested_there():
    q1 = votes([("turbo", "base", 60, 40), ("turbo", "lcm", 50, 50)])
    q2 = votes([("turbo", "base", 55, 45)], question="alignment")
    t = run(pd.concat([q1, q2]), [Claim("turbo", "lcm")]).comparisons
    by_q = t.set_index("question")
    assert by_q.loc["quality", "verdict"] == "no difference shown"
    assert by_q.loc["alignment", "verdict"] == "not tested"
    assert "no votes for lcm" in by_q.loc["alignment", "note"]


def test_an_unrated_question_gets_a_row_that_says_why():
    q1 = votes([("turbo", "base", 60, 40)])
    q2 = votes([("turbo", "base", 30, 30)], question="alignment").assign(outcome="tie")
    t = run(pd.concat([q1, q2]), [Claim("turbo", "base")]).comparisons
    row = t[t["question"] == "alignment"].iloc[0]
    assert row["verdict"] == "not tested" and "no decisive vote" in row["note"]
    assert np.isnan(row["p_adjusted"])


def test_fit_test_is_silent_on_transitive_votes_and_rejects_a_cycle():
    # Counts equal to the Bradley-Terry expectation of strengths 2:1 (a:b), 2:1 (b:c), 4:1
    # (a:c): the fit is exact, chi-square zero.
    exact = votes([("a", "b", 80, 40), ("b", "c", 80, 40), ("a", "c", 96, 24)])
    t = run(exact, [Claim("a", "c")]).comparisons
    assert t.loc[0, "fit_df"] == 1
    assert t.loc[0, "fit_statistic"] == pytest.approx(0, abs=1e-6)
    # A beats B, B beats C, C beats A: no ratings can reproduce a cycle.
    cycle = votes([("a", "b", 90, 30), ("b", "c", 90, 30), ("c", "a", 90, 30)])
    t = run(cycle, [Claim("a", "b")]).comparisons
    assert t.loc[0, "fit_p_value"] < 1e-6
    assert t.loc[0, "verdict"] == "a better" and t.loc[0, "bt_verdict"] == "no difference shown"
    assert "does not fit the head-to-head win rates" in t.loc[0, "sentence"]
    assert "trust the head-to-head" in t.loc[0, "sentence"]


def test_two_models_leave_nothing_for_the_fit_to_test():
    t = run(votes([("a", "b", 60, 40)]), [Claim("a", "b")]).comparisons
    assert t.loc[0, "fit_df"] == 0 and np.isnan(t.loc[0, "fit_p_value"])


def test_a_model_against_itself_is_set_aside_not_counted():
    df = votes([("turbo", "base", 60, 40), ("turbo", "lcm", 50, 50)])
    mirror = df.head(30).assign(model_b=df.head(30)["model_a"])
    with_self = analyze(pd.concat([df, mirror]), n_boot=30, seed=1, elo_orders=0)
    plain = analyze(df, n_boot=30, seed=1, elo_orders=0)
    assert with_self.settings["set_aside"]["self-comparison"] == 30
    assert with_self.settings["n_votes"] == plain.settings["n_votes"] == len(df)
    np.testing.assert_array_equal(
        with_self.questions["quality"].counts.table, plain.questions["quality"].counts.table
    )
    assert "30 self-comparison votes" in quality_text(with_self)
    with pytest.raises(ValueError, match="compares a model with itself"):
        analyze(mirror, n_boot=30, elo_orders=0)


def test_a_model_without_votes_in_a_question_is_left_out_of_its_ratings(tmp_path):
    q1 = votes([("a", "b", 60, 40), ("a", "c", 55, 45), ("b", "c", 50, 50)])
    q2 = votes([("a", "b", 70, 30)], question="alignment")
    an = analyze(pd.concat([q1, q2]), n_boot=50, seed=1, elo_orders=10)
    lb = an.leaderboard("alignment").set_index("model")
    assert pd.isna(lb.loc["c", "rank"]) and lb.loc["c", "separated"] == "no votes"
    assert np.isnan(lb.loc["c", "rating"]) and np.isnan(lb.loc["c", "elo_online"])
    assert np.isnan(lb.loc["c", "elo_sdxl_turbo"])
    # a and b are rated as in a two-model study: bounded, ranked 1 and 2, robust SEs reported
    assert not an.questions["alignment"].separated
    assert list(lb.loc[["a", "b"], "rank"]) == [1, 2]
    assert list(lb.loc[["a", "b"], "rank_high"]) == [1, 2]
    assert np.isfinite(lb.loc[["a", "b"], ["rating", "ci_low", "ci_high", "se_robust"]]).all().all()
    assert an.leaderboard("all").set_index("model").loc["c", "separated"] == "not in every question"
    rows = {r["model"]: r for r in an.to_json()["questions"]["alignment"]["leaderboard"]}
    assert rows["c"]["rank"] is None and rows["c"]["rating"] is None
    assert "no votes" in leaderboard_text(an, "alignment")
    assert "no votes" in write_report(an, tmp_path, title="t").html.read_text()
