"""Few-cluster corrections (analysis.smallsample) and how the report applies them."""

import numpy as np
import pytest
from scipy import stats

from analysis.simulate import simulate_comparisons
from analysis.smallsample import (
    corrected_critical,
    df_adjusted_deff,
    expanded_level,
    expansion,
    t_ratio,
)
from analysis.study import analyze


def test_golden_values():
    # t_{11, 0.975} = 2.2010, sqrt(12 / 11) = 1.0445: z_adj = 2.2989, level 1 - 2 Phi(-2.2989).
    assert t_ratio(12) == pytest.approx(2.200985 / 1.959964, rel=1e-5)
    assert expansion(12) == pytest.approx(np.sqrt(12 / 11) * 2.200985 / 1.959964, rel=1e-5)
    assert expanded_level(0.95, 12) == pytest.approx(0.97849, abs=2e-5)
    assert expanded_level(0.90, 30) == pytest.approx(
        1 - 2 * stats.norm.sf(np.sqrt(30 / 29) * stats.t.ppf(0.95, 29))
    )
    assert df_adjusted_deff(2.0, 12) == pytest.approx(2.0 * (2.200985 / 1.959964) ** 2, rel=1e-5)


def test_corrections_vanish_with_many_clusters_and_withhold_with_one():
    assert expanded_level(0.95, 100_000) == pytest.approx(0.95, abs=1e-4)
    assert t_ratio(np.inf) == 1.0 and expansion(np.inf) == 1.0
    assert corrected_critical(2.6, 100_000) == pytest.approx(2.6, abs=1e-3)
    for g in (0, 1):
        assert np.isnan(expanded_level(0.95, g)) and np.isnan(corrected_critical(2.6, g))
        assert np.isnan(df_adjusted_deff(1.5, g))
    # Monotone: fewer clusters, wider.
    levels = [expanded_level(0.95, g) for g in (3, 5, 12, 30, 100)]
    assert levels == sorted(levels, reverse=True)


def test_corrected_critical_matches_the_per_pair_expansion():
    # A critical value equal to z_{0.975} maps to the expanded per-pair quantile.
    z = stats.norm.ppf(0.975)
    assert corrected_critical(z, 12) == pytest.approx(float(expansion(12)) * z, rel=1e-9)
    assert corrected_critical(2.8, 12) > corrected_critical(2.8, 30) > 2.8


def _study(n_raters, seed=4):
    return simulate_comparisons(
        (0.4, 0.0, -0.3), n_raters=n_raters, votes_per_rater=40, rater_sd=0.6, seed=seed
    )


def test_report_intervals_wider_with_few_raters_and_settings_say_so():
    df = _study(12)
    kw = {"n_boot": 400, "elo_orders": 0, "breakdown_by": None}
    on, off = analyze(df, **kw), analyze(df, small_sample=False, **kw)
    q_on, q_off = on.questions["quality"], off.questions["quality"]
    w_on = q_on.ci_high - q_on.ci_low
    w_off = q_off.ci_high - q_off.ci_low
    assert np.all(w_on > w_off)
    # Same bootstrap draw, same point estimates: only the interval levels differ.
    np.testing.assert_allclose(q_on.ratings, q_off.ratings)
    d_on, d_off = q_on.differences, q_off.differences
    assert np.all(d_on["ci_high"] - d_on["ci_low"] > d_off["ci_high"] - d_off["ci_low"])
    assert np.all(q_on.pairwise["deff_t"] > q_off.pairwise["deff_t"])
    assert (on.comparisons["p_value"] >= off.comparisons["p_value"]).all()
    assert on.settings["interval"] == "expanded percentile bootstrap"
    assert "Hesterberg" in on.settings["small_sample"] and off.settings["small_sample"] == "none"


def test_one_rater_gets_no_interval_but_a_report():
    df = _study(1)
    a = analyze(df, n_boot=100, elo_orders=0, breakdown_by=None)
    q = a.questions["quality"]
    assert np.all(np.isfinite(q.ratings))
    assert np.all(np.isnan(q.ci_low)) and np.all(np.isnan(q.ci_high))
    assert q.differences["ci_low"].isna().all() and q.pairwise["wilson_low_adj"].isna().all()
    assert (a.comparisons["verdict"] == "not tested").all()
    assert a.comparisons["note"].str.contains("one rater").all()
    # Ranks are not claimed: every model may be anywhere.
    board = q.leaderboard
    assert (board["rank_low"] == 1).all() and (board["rank_high"] == len(board)).all()


def test_raters_who_agree_exactly_do_not_give_zero_width_intervals():
    from analysis.frame import comparisons_frame

    base = [("A", "B", "a")] * 6 + [("A", "B", "b")] * 4 + [("B", "C", "a")] * 7
    base += [("B", "C", "b")] * 3 + [("A", "C", "a")] * 8 + [("A", "C", "b")] * 2
    raters = [f"r{k}" for k in range(4) for _ in base]
    a = analyze(
        comparisons_frame(base * 4, raters=raters), n_boot=500, elo_orders=0, breakdown_by=None
    )
    q = a.questions["quality"]
    # Every rater resample has the same counts; the floor at the model-based covariance keeps
    # the intervals at least as wide as for independent votes.
    assert a.settings["model_floor"]["quality"] > 0.9
    se_model = np.sqrt(np.diag(q.robust.cov_model)[:3]) * 400 / np.log(10)
    assert np.all(q.ci_high - q.ci_low > 2 * 1.96 * se_model * 0.8)
    assert not (q.leaderboard["rank_low"] == q.leaderboard["rank_high"]).all()
