import json

import numpy as np
import pytest
from scipy import stats

from analysis.bt import ELO_SCALE, pair_design, pair_stats
from analysis.counts import count_comparisons
from analysis.frame import comparisons_frame
from analysis.present.text import leaderboard_text
from analysis.profile import profile_bounds
from analysis.report import ALL, analyze, write_report
from analysis.separation import open_sides, reachability, win_graph


def graph(rows, tie_mode="davidson"):
    c = count_comparisons(comparisons_frame(rows))
    design = pair_design(c.n_models)
    return reachability(win_graph(*pair_stats(c.table[None], design, tie_mode), design))[0]


def test_chain_bounds_and_ties_count_both_ways_unless_excluded():
    reach = graph([("A", "B", "a"), ("B", "C", "a")])
    up, down = open_sides(reach, np.ones(3, dtype=bool))
    assert up.tolist() == [True, True, False] and down.tolist() == [False, True, True]
    tied = [("A", "B", "a"), ("B", "A", "tie")]
    assert graph(tied).all()  # the tie links B back to A
    assert not graph(tied, "exclude").all()


@pytest.fixture(scope="module")
def swept():
    # The tiny study of the issue: 18 votes, 3 raters, the 4-step model won every one.
    rows = [("t4", "t1", "a") if k % 5 == 0 else ("t1", "t4", "b") for k in range(18)]
    raters = [f"r{k % 3}" for k in range(18)]
    df = comparisons_frame(rows, raters=raters)
    return analyze(df, n_boot=200, elo_orders=0, display_names={"t4": "tiny-sdxl-4step"})


def test_separated_study_is_reported_as_unbounded(swept):
    lb = swept.leaderboard("quality").set_index("model")
    assert lb.loc["t4", "rating"] == np.inf and lb.loc["t1", "rating"] == -np.inf
    assert lb.loc["t4", "ci_high"] == np.inf and lb.loc["t1", "ci_low"] == -np.inf
    assert lb.loc["t4", "separated"] == "never lost" and lb.loc["t1", "separated"] == "never won"
    assert lb["design_effect"].isna().all() and lb["se_robust"].isna().all()
    # The finite side is the profile-likelihood bound: 18 wins of 18, d >= logit(e^(-q/18)).
    q = stats.chi2.ppf(0.95, 1) / 2
    d = np.log(np.exp(-q / 18) / (1 - np.exp(-q / 18)))
    assert lb.loc["t4", "ci_low"] == pytest.approx(1000 + ELO_SCALE * d / 2, abs=0.5)
    assert lb.loc["t1", "ci_high"] == pytest.approx(1000 - ELO_SCALE * d / 2, abs=0.5)
    assert swept.questions["quality"].position.gamma != swept.questions["quality"].position.gamma


def test_separated_json_text_and_html(swept, tmp_path):
    out = json.loads(json.dumps(swept.to_json()))
    q = out["questions"]["quality"]
    assert q["separated"] and q["robust"]["degenerate"]
    assert q["robust"]["design_effect"] is None and q["robust"]["effective_votes"] is None
    assert q["leaderboard"][0]["ci_high"] is None and q["leaderboard"][0]["ci_low"] > 1000
    assert q["separation"]["flags"] == {"t1": "never won", "t4": "never lost"}
    assert q["separation"]["sentences"][0].startswith("tiny-sdxl-4step won every vote against t1")
    text = leaderboard_text(swept, ALL)
    assert "won every vote against t1: its rating is only bounded below" in text
    assert "≥ " in text and "unbounded" in text and "18–0" in text
    html = write_report(swept, tmp_path, title="tiny").html.read_text(encoding="utf-8")
    assert "only bounded below" in html and "design effect not reported" in html
    assert 'id="ratings' not in html  # no figure of ridge-held ratings
    assert "independent votes" not in html


def test_two_components_are_not_compared():
    rows = [("A", "B", "a")] * 6 + [("B", "A", "a")] * 3 + [("C", "D", "a")] * 4
    rows += [("D", "C", "a")] * 2
    raters = [f"r{k % 4}" for k in range(len(rows))]
    a = analyze(comparisons_frame(rows, raters=raters), n_boot=100, elo_orders=0)
    lb = a.leaderboard("quality").set_index("model")
    # Centred on the larger group (A, B): finite; C and D have no link to it at all.
    assert a.settings["reference"] == ["A", "B"]
    assert np.isfinite(lb.loc[["A", "B"], "rating"]).all()
    assert lb.loc["A", "rating"] + lb.loc["B", "rating"] == pytest.approx(2000)
    assert lb.loc[["C", "D"], "rating"].isna().all()
    assert (lb.loc[["C", "D"], "ci_low"] == -np.inf).all()
    assert (lb.loc[["C", "D"], "ci_high"] == np.inf).all()
    assert set(lb.loc[["C", "D"], "separated"]) == {"unidentified"}
    assert "not bounded on either side" in " ".join(a.questions["quality"].sentences())


def test_model_that_never_won_leaves_the_others_finite():
    rows = [("A", "B", "a")] * 8 + [("B", "A", "a")] * 5 + [("A", "C", "a")] * 3
    rows += [("C", "B", "b")] * 3
    raters = [f"r{k % 5}" for k in range(len(rows))]
    a = analyze(comparisons_frame(rows, raters=raters), n_boot=200, elo_orders=0)
    lb = a.leaderboard("quality").set_index("model")
    assert lb.loc["C", "separated"] == "never won" and lb.loc["C", "ci_low"] == -np.inf
    assert np.isfinite(lb.loc["C", "ci_high"]) and lb.loc["C", "ci_high"] < 1000
    assert (lb.loc[["A", "B"], "separated"] == "").all()
    assert np.isfinite(lb.loc[["A", "B"], ["rating", "ci_low", "ci_high"]].to_numpy()).all()
    diffs = a.questions["quality"].differences.set_index(["model_a", "model_b"])
    assert diffs.loc[("A", "C"), "diff"] == np.inf and diffs.loc[("A", "C"), "ci_low"] > 0
    assert np.isfinite(diffs.loc[("A", "B"), "diff"])


def test_profile_bound_matches_likelihood_ratio_by_hand():
    c = count_comparisons(comparisons_frame([("A", "B", "a")] * 30 + [("B", "A", "a")] * 10))

    def ll(d):
        return 30 * np.log(stats.logistic.cdf(d)) + 10 * np.log(stats.logistic.cdf(-d))

    q = stats.chi2.ppf(0.95, 1) / 2
    from scipy.optimize import brentq

    lo = brentq(lambda d: ll(np.log(3)) - ll(d) - q, -5, np.log(3))
    hi = brentq(lambda d: ll(np.log(3)) - ll(d) - q, np.log(3), 5)
    f = np.array([[1.0, -1.0], [1.0, -1.0]])
    b = profile_bounds([c], f, np.array([True, False]), tie_mode="exclude")
    np.testing.assert_allclose(b, [lo, hi], atol=1e-3)
