"""Two-way clustering (rater and prompt): the declared comparisons' check and --cluster."""

import numpy as np
import pytest

import analysis.draws as draws
from analysis.report import write_report
from analysis.simulate import simulate_comparisons
from analysis.study import analyze

KW = {"n_boot": 300, "elo_orders": 0, "breakdown_by": None}


def _votes(prompt_sd, n_prompts, seed=2):
    return simulate_comparisons(
        (0.4, 0.0, -0.3),
        n_raters=12,
        votes_per_rater=60,
        rater_sd=0.3,
        prompt_sd=prompt_sd,
        n_prompts=n_prompts,
        seed=seed,
    )


def test_prompt_effects_are_named_in_the_sentence():
    a = analyze(_votes(prompt_sd=1.0, n_prompts=8), **KW)
    c = a.comparisons
    one = c["ci_high"] - c["ci_low"]
    two = c["two_way_ci_high"] - c["two_way_ci_low"]
    assert (c["n_prompts"] == 8).all() and (c["cluster"] == "rater").all()
    assert (two >= one - 1e-12).all() and (two > 1.1 * one).any()
    flagged = c["sentence"].str.contains("Votes also cluster by prompt")
    assert flagged.tolist() == (two >= 1.1 * one).tolist()
    assert c.loc[flagged, "sentence"].str.contains("--cluster rater\\+prompt").all()
    assert c["two_way_p_value"].between(0, 1).all()


def test_no_prompt_effect_no_mention():
    a = analyze(_votes(prompt_sd=0.0, n_prompts=200), **KW)
    c = a.comparisons
    assert not c["sentence"].str.contains("cluster by prompt").any()
    assert np.isfinite(c["two_way_ci_low"]).all()


def test_two_way_report_is_wider_and_says_what_it_counted(tmp_path):
    df = _votes(prompt_sd=1.0, n_prompts=8)
    one, two = analyze(df, **KW), analyze(df, cluster="rater+prompt", **KW)
    html = write_report(two, tmp_path, title="t").html.read_text(encoding="utf-8")
    assert "pigeonhole bootstrap" in html and "Few-cluster corrections" in html
    q1, q2 = one.questions["quality"], two.questions["quality"]
    assert np.all(q2.ci_high - q2.ci_low > q1.ci_high - q1.ci_low)
    assert (q2.pairwise["cluster"] == "rater+prompt").all()
    assert (q2.pairwise["n_clusters"] == 8).all() and (q2.pairwise["n_raters"] == 12).all()
    c = two.comparisons
    assert (c["cluster"] == "rater+prompt").all() and (c["n_raters"] == 12).all()
    np.testing.assert_allclose(c["two_way_ci_low"], c["ci_low"])
    np.testing.assert_allclose(c["two_way_p_value"], c["p_value"])
    assert c["sentence"].str.contains("12 raters and 8 prompts").all()
    assert not c["sentence"].str.contains("Votes also cluster by prompt").any()
    assert two.settings["cluster"] == "rater+prompt"
    # The check on the declared pairs (analysis.twoway, bincounts of the pair's votes) gives
    # exactly the two-way interval of the full pairwise table.
    for col in ("ci_low", "ci_high", "p_value"):
        np.testing.assert_allclose(one.comparisons[f"two_way_{col}"], c[col], rtol=1e-9)
    np.testing.assert_allclose(one.comparisons["two_way_deff"], c["two_way_deff"], rtol=1e-9)


def test_two_way_bootstrap_refuses_weights_it_cannot_hold(monkeypatch):
    monkeypatch.setattr(draws, "MAX_TWO_WAY_WEIGHTS", 1000)
    with pytest.raises(ValueError, match=r"rater-by-prompt cells.*--cluster rater"):
        analyze(_votes(prompt_sd=0.0, n_prompts=8), cluster="rater+prompt", **KW)
