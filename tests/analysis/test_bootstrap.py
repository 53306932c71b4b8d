import numpy as np
import pytest

from analysis.bootstrap import (
    bootstrap_ratings,
    cluster_weights,
    replicate_pair_stats,
    replicate_tensors,
)
from analysis.bt import bt_ratings, pair_design, pair_stats
from analysis.counts import count_comparisons
from analysis.frame import comparisons_frame
from analysis.simulate import simulate_comparisons


@pytest.fixture(scope="module")
def counts():
    df = simulate_comparisons(
        [0.6, 0.0, -0.6], n_raters=30, votes_per_rater=20, tie_nu=0.4, rater_sd=0.5, seed=11
    )
    return count_comparisons(df, clusters=("rater", "prompt"))


def test_reproducible_with_seed_and_changes_with_another(counts):
    a = bootstrap_ratings(counts, n_boot=200, seed=1)
    b = bootstrap_ratings(counts, n_boot=200, seed=1)
    c = bootstrap_ratings(counts, n_boot=200, seed=2)
    np.testing.assert_array_equal(a.ratings, b.ratings)
    assert not np.allclose(a.ci_low, c.ci_low)
    g = bootstrap_ratings(counts, n_boot=200, seed=np.random.default_rng(1))
    np.testing.assert_array_equal(g.ratings, a.ratings)
    assert a.converged == 1.0


def test_intervals_contain_point_estimate(counts):
    point = bt_ratings(counts).ratings
    for cluster in ("rater", "prompt", "vote"):
        bs = bootstrap_ratings(counts, n_boot=300, seed=0, cluster=cluster)
        assert np.all(bs.ci_low < point) and np.all(point < bs.ci_high)
        assert bs.ratings.shape == (300, 3)


def test_weights_are_resamples_with_replacement():
    w = cluster_weights(17, 50, seed=0)
    assert w.shape == (50, 17)
    np.testing.assert_array_equal(w.sum(axis=1), 17)


def test_reduced_product_equals_tensor_product(counts):
    design = pair_design(counts.n_models)
    w = cluster_weights(counts.cluster("rater").n_clusters, 20, seed=3)
    fast = replicate_pair_stats(counts, design, 20, weights=w)
    slow = pair_stats(replicate_tensors(counts, 20, weights=w), design)
    for x, y in zip(fast, slow, strict=True):
        np.testing.assert_allclose(x, y)
    # A replicate's counts are the weighted sum of whole raters' tables.
    tens = counts.cluster("rater").tensor()
    np.testing.assert_allclose(
        replicate_tensors(counts, 20, weights=w)[4], np.tensordot(w[4], tens, 1)
    )


def test_dominance_replicates_are_unbounded_not_ridge_values():
    rows = [("A", "B", "a"), ("B", "C", "a"), ("A", "C", "a")] * 10
    # Each rater sees all three pairs, so every replicate is again a perfect dominance order:
    # no replicate has a finite estimate, and the interval must say so instead of echoing the
    # ridge (which held A near 3350 with a narrow interval).
    raters = [f"r{(k // 3) % 6}" for k in range(len(rows))]
    c = count_comparisons(comparisons_frame(rows, raters=raters))
    bs = bootstrap_ratings(c, n_boot=100, seed=0)
    assert bs.ci_low[0] == np.inf and bs.ci_high[2] == -np.inf  # A: +inf, C: -inf every time
    assert (bs.ci_low[1], bs.ci_high[1]) == (-np.inf, np.inf)  # B between: no bound at all


def test_replicates_that_drop_the_only_loss_open_the_interval():
    # A beat B 20 times; B won once, by rater r0 (one of 5). Replicates without r0 are separated,
    # about (4/5)^5 = 33% of them: far more than 2.5%, so A's upper end is unbounded.
    rows = [("A", "B", "a")] * 20 + [("A", "B", "b")]
    raters = [f"r{k % 5}" for k in range(20)] + ["r0"]
    c = count_comparisons(comparisons_frame(rows, raters=raters))
    bs = bootstrap_ratings(c, n_boot=400, seed=0)
    assert np.isfinite(bs.ci_low[0]) and bs.ci_high[0] == np.inf
    assert bs.ci_low[1] == -np.inf and np.isfinite(bs.ci_high[1])
    assert 0.2 < (~bs.reach[:, 1, 0]).mean() < 0.45


def test_rater_bootstrap_is_wider_than_vote_bootstrap_with_rater_taste():
    df = simulate_comparisons(
        [0.3, 0.0, -0.3], n_raters=20, votes_per_rater=150, rater_sd=1.0, seed=9
    )
    c = count_comparisons(df)
    rater = bootstrap_ratings(c, n_boot=300, seed=0, cluster="rater")
    vote = bootstrap_ratings(c, n_boot=300, seed=0, cluster="vote")
    assert np.all(rater.ci_high - rater.ci_low > vote.ci_high - vote.ci_low)


def test_bad_n_boot(counts):
    with pytest.raises(ValueError, match="n_boot"):
        bootstrap_ratings(counts, n_boot=0)
