import numpy as np
import pytest

from analysis.elo import elo_ratings
from analysis.frame import comparisons_frame


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


def test_both_bad_skipped_unless_asked():
    df = comparisons_frame([("A", "B", "both_bad"), ("A", "B", "a")])
    np.testing.assert_allclose(elo_ratings(df).ratings, [1002.0, 998.0])
    assert elo_ratings(df, both_bad_as_tie=True).n_votes == 2


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
