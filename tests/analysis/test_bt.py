import choix
import numpy as np
import pytest

from analysis.bt import ELO_SCALE, bt_ratings, to_elo
from analysis.counts import count_comparisons
from analysis.frame import comparisons_frame
from analysis.simulate import simulate_comparisons


def tensor_from_wins(wins: np.ndarray, ties: np.ndarray | None = None) -> np.ndarray:
    """(m, m, 4) tensor with every win recorded with the winner on the left."""
    m = len(wins)
    t = np.zeros((m, m, 4), dtype=np.int64)
    t[:, :, 0] = wins
    if ties is not None:
        t[:, :, 2] = np.triu(ties)
    return t


def test_matches_choix_on_tie_free_data():
    rng = np.random.default_rng(7)
    m = 6
    theta = rng.normal(size=m)
    wins = np.zeros((m, m))
    for i in range(m):
        for j in range(i + 1, m):
            n = rng.integers(20, 80)
            k = rng.binomial(n, 1 / (1 + np.exp(theta[j] - theta[i])))
            wins[i, j], wins[j, i] = k, n - k
    ours = bt_ratings(tensor_from_wins(wins.astype(np.int64)), tie_mode="exclude")
    ref = choix.ilsr_pairwise_dense(wins, tol=1e-12)
    ref -= ref.mean()  # choix: natural-log strengths, mean zero
    np.testing.assert_allclose(ours.theta, ref, atol=1e-6)
    np.testing.assert_allclose(ours.ratings, 1000 + ELO_SCALE * ref, atol=1e-6 * ELO_SCALE)
    assert ours.converged


def test_three_model_cycle_gives_equal_ratings():
    wins = np.array([[0, 10, 0], [0, 0, 10], [10, 0, 0]])
    r = bt_ratings(tensor_from_wins(wins), models=["A", "B", "C"])
    np.testing.assert_allclose(r.ratings, [1000, 1000, 1000], atol=1e-8)


def test_dominance_orders_models_and_stays_finite():
    rows = [("A", "B", "a")] * 10 + [("B", "C", "a")] * 10 + [("C", "A", "b")] * 10
    r = bt_ratings(count_comparisons(comparisons_frame(rows)))
    assert r.models == ("A", "B", "C")
    assert np.all(np.isfinite(r.ratings))
    assert r.ratings[0] > r.ratings[1] > r.ratings[2]
    assert r.converged


def test_two_model_tie_modes_by_hand():
    # 30 wins for A, 10 for B, 20 ties. For two models the MLEs have closed forms:
    #   exclude:  d = ln(30 / 10)
    #   half:     d = ln((30 + 10) / (10 + 10))
    #   davidson: d = ln(30 / 10) and nu = t / sqrt(w l) = 20 / sqrt(300)
    t = np.zeros((2, 2, 4), dtype=np.int64)
    t[0, 1] = [30, 10, 20, 5]  # the 5 both_bad votes must not matter
    diff = {
        mode: np.diff(bt_ratings(t, tie_mode=mode, ridge=1e-12).theta)[0]
        for mode in ("exclude", "half", "davidson")
    }
    assert diff["exclude"] == pytest.approx(-np.log(3), abs=1e-8)
    assert diff["half"] == pytest.approx(-np.log(2), abs=1e-8)
    assert diff["davidson"] == pytest.approx(-np.log(3), abs=1e-8)
    assert bt_ratings(t, ridge=1e-12).tie_nu == pytest.approx(20 / np.sqrt(300), rel=1e-7)
    assert bt_ratings(t, tie_mode="half").tie_nu is None


def test_tie_modes_agree_without_ties_and_differ_with_them():
    df = simulate_comparisons([1.0, 0.0, -1.0], n_raters=40, votes_per_rater=30, seed=2)
    c = count_comparisons(df)
    base = bt_ratings(c, tie_mode="exclude").ratings
    for mode in ("half", "davidson"):
        np.testing.assert_allclose(bt_ratings(c, tie_mode=mode).ratings, base, atol=1e-6)
    tied = count_comparisons(
        simulate_comparisons([1.0, 0.0, -1.0], n_raters=40, votes_per_rater=30, tie_nu=1.0, seed=2)
    )
    spread = {
        m: np.ptp(bt_ratings(tied, tie_mode=m).ratings) for m in ("exclude", "half", "davidson")
    }
    assert spread["half"] < spread["exclude"]  # half-wins pull ratings together
    assert spread["half"] < spread["davidson"]


def test_disconnected_graph_and_never_winning_model():
    rows = (
        [("A", "B", "a")] * 6
        + [("B", "A", "a")] * 3
        + [("C", "D", "a")] * 5
        + [("D", "C", "a")] * 5
    )
    rows += [("E", "A", "b")] * 4  # E never wins
    r = bt_ratings(count_comparisons(comparisons_frame(rows)))
    assert np.all(np.isfinite(r.ratings)) and r.converged
    assert r.ratings[4] == r.ratings.min()
    # C and D form their own component: equal, and (ridge) centred at the overall mean.
    assert r.ratings[2] == pytest.approx(r.ratings[3], abs=1e-6)


def test_anchor_fixes_one_model_and_keeps_differences():
    df = simulate_comparisons([0.5, 0.0, -0.5], n_raters=20, votes_per_rater=20, seed=5)
    c = count_comparisons(df)
    free, anchored = bt_ratings(c), bt_ratings(c, anchor="m1")
    assert anchored.ratings[1] == pytest.approx(1000.0)
    np.testing.assert_allclose(np.diff(free.ratings), np.diff(anchored.ratings), atol=1e-9)
    assert free.ratings.mean() == pytest.approx(1000.0)
    np.testing.assert_allclose(to_elo(free.theta, 1), anchored.ratings)
    with pytest.raises(ValueError, match="anchor"):
        bt_ratings(c, anchor="nope")


def test_position_term_is_recovered():
    df = simulate_comparisons(
        [0.5, 0.0, -0.5], n_raters=100, votes_per_rater=100, position=0.4, seed=6
    )
    r = bt_ratings(count_comparisons(df), position=True)
    assert r.position == pytest.approx(0.4, abs=0.08)


def test_bad_inputs():
    with pytest.raises(ValueError, match="tie_mode"):
        bt_ratings(np.zeros((2, 2, 4)), tie_mode="draw")
    with pytest.raises(ValueError, match="shape"):
        bt_ratings(np.zeros((2, 3, 4)))
    with pytest.raises(ValueError, match="ridge"):
        bt_ratings(np.zeros((2, 2, 4)), ridge=0.0)


def test_a_replicate_of_only_ties_or_only_left_wins_stays_solvable():
    # Small groups (a category of a dozen votes) give bootstrap replicates like these; each used
    # to stop the whole report with "Singular matrix".
    from analysis.bt import fit_bt_batch, pair_design

    design = pair_design(2)
    only_ties = fit_bt_batch(np.array([[0.0]]), np.array([[0.0]]), np.array([[5.0]]), design)
    assert np.isfinite(only_ties.theta).all() and np.allclose(only_ties.theta, 0, atol=1e-6)
    assert only_ties.delta[0] > 10  # nu "infinite": every vote a tie
    positioned = pair_design(2, position=True)
    # Every decisive vote for the left image: the position effect has no finite optimum.
    left = fit_bt_batch(np.array([[4.0]]), np.array([[0.0]]), np.array([[1.0]]), positioned)
    assert np.isfinite(left.theta).all() and np.isfinite(left.gamma).all()


def test_a_tiny_study_with_categories_and_ties_is_reported():
    from analysis.study import analyze

    rng = np.random.default_rng(0)
    for seed in range(8):
        df = simulate_comparisons(
            [0.3, 0.0], n_raters=3, votes_per_rater=4, seed=seed, tie_nu=0.5, both_bad=0.2
        )
        df["category"] = rng.choice(["animals", "scenes", "food"], len(df))
        result = analyze(df, n_boot=50, seed=0, elo_orders=0)
        assert set(result.breakdown["category"]) <= {"animals", "scenes", "food"}
