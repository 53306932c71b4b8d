import numpy as np
import pytest

from analysis.elo import elo_ratings
from analysis.elo_kernel import order_permutation, pack_votes, shuffled_replays
from analysis.frame import comparisons_frame
from analysis.study import analyze, elo_orders_within


def test_one_vote_by_hand():
    # Equal ratings: expected score 0.5, so the winner gains K * 0.5 = 2 with K = 4.
    r = elo_ratings(comparisons_frame([("A", "B", "a")]))
    np.testing.assert_allclose(r.ratings, [1002.0, 998.0])
    tie = elo_ratings(comparisons_frame([("A", "B", "tie")]))
    np.testing.assert_allclose(tie.ratings, [1000.0, 1000.0])


def test_second_vote_uses_updated_ratings():
    r = elo_ratings(comparisons_frame([("A", "B", "a"), ("B", "A", "a")]))
    e_b = 1 / (1 + 10 ** ((1002 - 998) / 400))
    expected_b = 998 + 4 * (1 - e_b)
    assert r.ratings[1] == pytest.approx(expected_b)


def test_both_bad_is_a_tie_in_fastchat_and_skipped_in_sdxl_turbo():
    df = comparisons_frame([("A", "B", "both_bad"), ("A", "B", "a")])
    # FastChat scores "tie (bothbad)" as a tie: a tie at equal ratings changes nothing.
    fastchat = elo_ratings(df)
    assert fastchat.n_votes == 2
    np.testing.assert_allclose(fastchat.ratings, [1002.0, 998.0])
    np.testing.assert_allclose(
        elo_ratings(comparisons_frame([("A", "B", "a"), ("A", "B", "both_bad")])).ratings,
        elo_ratings(comparisons_frame([("A", "B", "a"), ("A", "B", "tie")])).ratings,
    )
    assert elo_ratings(df, both_bad_as_tie=False).n_votes == 1
    assert elo_ratings(df, variant="sdxl_turbo", n_orders=3).n_votes == 1
    assert elo_ratings(df, variant="sdxl_turbo", n_orders=3, both_bad_as_tie=True).n_votes == 2


def test_order_dependent():
    rows = [("A", "B", "a")] * 5 + [("A", "B", "b")] * 5
    forward = elo_ratings(comparisons_frame(rows)).ratings
    backward = elo_ratings(comparisons_frame(rows[::-1])).ratings
    assert forward[0] < backward[0]  # the most recent votes weigh more


def test_sdxl_turbo_variant_seeded_mean_over_orders():
    rows = [("A", "B", "a")] * 6 + [("A", "B", "b")] * 3 + [("B", "C", "a")] * 5
    df = comparisons_frame(rows)
    a = elo_ratings(df, variant="sdxl_turbo", n_orders=50, seed=1)
    b = elo_ratings(df, variant="sdxl_turbo", n_orders=50, seed=1)
    c = elo_ratings(df, variant="sdxl_turbo", n_orders=50, seed=2)
    np.testing.assert_array_equal(a.ratings, b.ratings)
    assert not np.array_equal(a.ratings, c.ratings)
    assert a.k == 1.0 and a.n_orders == 50 and np.all(a.spread > 0)
    assert a.ratings.sum() == pytest.approx(3000.0)  # zero-sum updates
    # One order of the shuffled variant with K=1 equals the sequential update on that order.
    single = elo_ratings(df, variant="sdxl_turbo", n_orders=1, seed=3)
    assert single.ratings.sum() == pytest.approx(3000.0)
    with pytest.raises(ValueError, match="variant"):
        elo_ratings(df, variant="glicko")


def _published_replay(a, b, score, order, m, k=1.0, base=1000.0, scale=400.0):
    """The published update in plain Python, votes in ``order``."""
    r = [base] * m
    for v in order:
        ia, ib = int(a[v]), int(b[v])
        e = 1.0 / (1.0 + 10.0 ** ((r[ib] - r[ia]) / scale))
        r[ia] += k * (score[v] - e)
        r[ib] -= k * (score[v] - e)
    return np.asarray(r)


@pytest.mark.parametrize("n_orders", [1, 3, 4])
def test_compiled_kernel_is_the_published_update_on_its_orders(n_orders):
    rng = np.random.default_rng(n_orders)
    n, m = 257, 6
    a = rng.integers(0, m, n)
    b = (a + 1 + rng.integers(0, m - 1, n)) % m
    score = rng.choice([0.0, 0.5, 1.0], n)
    seeds = rng.integers(0, 2**62, n_orders)
    got = shuffled_replays(pack_votes(a, b, score), m, 1.0, 1000.0, 400.0, seeds)
    for o, seed in enumerate(seeds):
        order = order_permutation(n, seed)
        assert sorted(order.tolist()) == list(range(n))  # a permutation of the votes
        want = _published_replay(a, b, score, order, m)
        np.testing.assert_allclose(got[o], want, rtol=0, atol=1e-9)
    if n_orders > 1:  # different seeds, different orders
        assert not np.array_equal(order_permutation(n, seeds[0]), order_permutation(n, seeds[1]))


def test_shuffled_orders_are_uniform_enough():
    # Position of vote 0 over many seeds: every position about equally often (chi-square).
    n, draws = 8, 4000
    pos = np.array([int(np.argmax(order_permutation(n, s) == 0)) for s in range(draws)])
    counts = np.bincount(pos, minlength=n)
    chi2 = ((counts - draws / n) ** 2 / (draws / n)).sum()
    assert chi2 < 24.3  # 99.9% point of chi-square with 7 df


def test_the_order_budget_caps_orders_and_says_so():
    assert elo_orders_within(1000, 60_000) == 1000
    assert elo_orders_within(1000, 100_000) == 600
    assert elo_orders_within(1000, 1_000_000) == 60
    assert elo_orders_within(1000, 10**9) == 10
    assert elo_orders_within(0, 10**9) == 0
    rows = [("A", "B", "a")] * 30 + [("A", "B", "b")] * 20 + [("B", "C", "a")] * 30
    df = comparisons_frame(rows).assign(question="q", kind="2afc")
    a = analyze(df, n_boot=20, elo_orders=1000, elo_budget=2000)
    assert a.settings["elo_orders_used"] == 25 and a.settings["elo_orders_requested"] == 1000
    assert "mean over 25 shuffled orders" in a.settings["elo_sdxl_turbo"]
    assert "fewer than the 1000 asked for" in a.settings["elo_sdxl_turbo"]
    assert a.questions["q"].elo_sdxl_turbo.n_orders == 25
