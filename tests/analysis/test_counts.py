import numpy as np
import pytest

import analysis.counts as counts_mod
from analysis.counts import count_comparisons
from analysis.frame import comparisons_frame as make_votes
from analysis.simulate import simulate_comparisons


def test_table_by_hand():
    df = make_votes(
        [
            ("A", "B", "a"),
            ("B", "A", "a"),
            ("A", "B", "b"),
            ("A", "B", "tie"),
            ("B", "A", "both_bad"),
        ]
    )
    c = count_comparisons(df)
    assert c.models == ("A", "B")
    assert c.table[0, 1].tolist() == [1, 1, 1, 0]  # A left vs B right: a, b, tie, both_bad
    assert c.table[1, 0].tolist() == [1, 0, 0, 1]
    # A beat B once on the left; B beat A once on the left and once on the right.
    np.testing.assert_array_equal(c.wins, [[0, 1], [2, 0]])
    np.testing.assert_array_equal(c.ties, [[0, 1], [1, 0]])
    np.testing.assert_array_equal(c.both_bad, [[0, 1], [1, 0]])
    np.testing.assert_array_equal(c.votes, [[0, 5], [5, 0]])
    assert c.n_votes == 5
    assert c.n_raters == 1


def test_cluster_tensor_sums_to_table_and_mask():
    df = simulate_comparisons(
        [0.5, 0, -0.5],
        n_raters=7,
        votes_per_rater=9,
        tie_nu=0.5,
        both_bad=0.1,
        questions=("q1", "q2"),
        seed=3,
    )
    c = count_comparisons(df, clusters=("rater", "prompt", "rater+prompt"))
    for unit in ("rater", "prompt", "rater+prompt"):
        np.testing.assert_array_equal(c.cluster(unit).tensor().sum(axis=0), c.table)
    assert c.cluster("rater").n_clusters == 7
    assert c.cluster("rater").labels[0] == "r0"
    q1 = count_comparisons(df, mask=(df["question"] == "q1").to_numpy())
    q2 = count_comparisons(df, mask=(df["question"] == "q2").to_numpy())
    np.testing.assert_array_equal(q1.table + q2.table, c.table)
    with pytest.raises(ValueError, match="not counted"):
        c.cluster("category")


def test_sparse_layout_matches_dense(monkeypatch):
    df = simulate_comparisons(
        [0.5, 0, -0.5, 1.0], n_raters=11, votes_per_rater=13, tie_nu=0.3, seed=4
    )
    dense = count_comparisons(df).cluster("rater")
    monkeypatch.setattr(counts_mod, "_DENSE_LIMIT", 0)
    sparse = count_comparisons(df).cluster("rater")
    assert not isinstance(sparse.matrix, np.ndarray)
    np.testing.assert_array_equal(sparse.tensor(), dense.tensor())
    w = np.random.default_rng(0).integers(0, 3, size=(5, dense.n_clusters)).astype(float)
    np.testing.assert_allclose(sparse.weighted(w), dense.weighted(w))


def test_unknown_cluster_unit():
    with pytest.raises(ValueError, match="unknown cluster unit"):
        count_comparisons(make_votes([("A", "B", "a")]), clusters=("session",))
