import numpy as np
import pytest

from analysis.bootstrap import bootstrap_ratings
from analysis.bt import ELO_SCALE, bt_ratings, fit_bt_batch, pair_design, pair_stats
from analysis.counts import count_comparisons
from analysis.robust import position_effect, robust_fit
from analysis.simulate import simulate_comparisons


@pytest.fixture(scope="module")
def clustered():
    df = simulate_comparisons(
        [0.5, 0.0, -0.5, 0.2], n_raters=60, votes_per_rater=100, rater_sd=0.6, tie_nu=0.3, seed=3
    )
    return count_comparisons(df, clusters=("rater", "prompt", "rater+prompt"))


def test_model_based_bread_is_inverse_information(clustered):
    r = robust_fit(clustered, cluster="model", tie_mode="exclude")
    design = pair_design(4)
    w, l_, t = pair_stats(clustered.table[None], design, "exclude")
    info = fit_bt_batch(w, l_, t, design, davidson=False).information[0]
    np.testing.assert_allclose(np.linalg.pinv(r.cov_model), info, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(r.theta, bt_ratings(clustered, tie_mode="exclude").theta, atol=1e-9)
    np.testing.assert_allclose(r.cov.sum(axis=0)[:4], 0, atol=1e-9)  # sum-to-zero theta


def test_rater_sandwich_matches_rater_bootstrap_and_exceeds_vote_level(clustered):
    rob = robust_fit(clustered, cluster="rater")
    boot = bootstrap_ratings(clustered, n_boot=400, seed=0)
    np.testing.assert_allclose(rob.rating_se(), boot.ratings.std(axis=0), rtol=0.25)
    vote = robust_fit(clustered, cluster="vote")
    assert np.all(rob.rating_se() > vote.rating_se())
    assert np.all(rob.design_effect() > 1.5)
    assert rob.effective_votes() < clustered.n_votes
    assert rob.params[-1] == "log_nu" and rob.n_clusters == 60


def test_two_way_is_positive_semidefinite(clustered):
    r = robust_fit(clustered, cluster="rater+prompt")
    assert np.linalg.eigvalsh(r.cov).min() > -1e-12
    assert r.n_clusters[0] == 60
    with pytest.raises(ValueError, match="cluster"):
        robust_fit(clustered, cluster="session")


def test_position_effect_detected_and_absent():
    biased = count_comparisons(
        simulate_comparisons(
            [0.3, 0.0, -0.3], n_raters=50, votes_per_rater=80, position=0.4, seed=1
        )
    )
    pe = position_effect(biased)
    assert pe.left_rate > 0.55 and pe.p_value < 1e-6
    assert pe.gamma == pytest.approx(0.4, abs=0.12) and pe.gamma_p < 1e-6
    assert pe.elo_points == pytest.approx(ELO_SCALE * pe.gamma)
    fair = count_comparisons(
        simulate_comparisons([0.3, 0.0, -0.3], n_raters=50, votes_per_rater=80, seed=2)
    )
    assert position_effect(fair).gamma_p > 0.001


@pytest.mark.parametrize(("rater_sd", "low", "high"), [(0.0, 0.8, 1.25), (0.6, 1.6, 3.0)])
def test_design_effect_is_one_without_rater_taste_and_above_with_it(rater_sd, low, high):
    # 400 raters x 30 votes: enough clusters for the sandwich to be stable. Without taste the
    # votes are independent (design effect ~1); with taste sd 0.6 each rater's 30 votes are
    # correlated and the variance roughly doubles.
    df = simulate_comparisons(
        [0.5, 0.0, -0.5, 0.2], n_raters=400, votes_per_rater=30, rater_sd=rater_sd, seed=1
    )
    r = robust_fit(count_comparisons(df), cluster="rater")
    assert low < r.design_effect().mean() < high
    assert r.effective_votes() == pytest.approx(r.n_votes / r.design_effect().mean())


def test_design_effect_is_floored_and_effective_votes_never_exceed_votes():
    from analysis.counts import count_comparisons
    from analysis.robust import robust_fit
    from analysis.simulate import simulate_comparisons

    # Independent votes from many raters: the sandwich ratio scatters around 1, below it too.
    df = simulate_comparisons([0.4, 0.0, -0.4], n_raters=200, votes_per_rater=3, seed=11)
    fit = robust_fit(count_comparisons(df, clusters=("rater",)), cluster="rater")
    assert np.all(fit.design_effect() >= 1.0)
    assert fit.effective_votes() <= fit.n_votes
