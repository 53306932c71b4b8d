import numpy as np
import pytest
import scipy.sparse as sp
from scipy import stats

from analysis.counts import count_comparisons
from analysis.frame import comparisons_frame
from analysis.winrate import (
    binomial_test_half,
    clopper_pearson_interval,
    cluster_design_effect,
    holm_adjust,
    pairwise_table,
    wilson_interval,
    win_rate_matrix,
)


@pytest.fixture
def counts():
    # A beats B 8 times (5 on the left, 3 on the right), B beats A twice, 2 ties, 1 both bad;
    # B beats C 3 times, C never wins.
    rows = [("A", "B", "a")] * 5 + [("B", "A", "b")] * 3 + [("A", "B", "b")] * 2
    rows += [("A", "B", "tie")] * 2 + [("B", "A", "both_bad")] + [("B", "C", "a")] * 3
    return count_comparisons(comparisons_frame(rows))


def test_wilson_by_hand():
    z = 1.959963984540054
    n, p = 10, 0.8
    centre = (p + z**2 / (2 * n)) / (1 + z**2 / n)
    half = z * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / (1 + z**2 / n)
    low, high = wilson_interval(8, 10)
    assert low == pytest.approx(centre - half) and high == pytest.approx(centre + half)
    assert (round(float(low), 4), round(float(high), 4)) == (0.4902, 0.9433)


def test_clopper_pearson_and_binomial_match_scipy():
    for x, n in [(8, 10), (0, 7), (7, 7), (33, 61)]:
        ref = stats.binomtest(x, n).proportion_ci(method="exact")
        low, high = clopper_pearson_interval(x, n)
        assert low == pytest.approx(ref.low, abs=1e-12) and high == pytest.approx(
            ref.high, abs=1e-12
        )
        assert binomial_test_half(x, n) == pytest.approx(stats.binomtest(x, n).pvalue)
    # P(X >= 8 | n=10) = (45 + 10 + 1) / 1024; two-sided doubles it.
    assert binomial_test_half(8, 10) == pytest.approx(112 / 1024)


def test_holm_by_hand():
    np.testing.assert_allclose(holm_adjust([0.01, 0.04, 0.03]), [0.03, 0.06, 0.06])
    out = holm_adjust([0.2, np.nan])
    assert out[0] == pytest.approx(0.2) and np.isnan(out[1])


def test_win_rate_matrix_modes(counts):
    rates, n = win_rate_matrix(counts)
    assert rates.loc["A", "B"] == pytest.approx(0.8) and rates.loc["B", "A"] == pytest.approx(0.2)
    assert n.loc["A", "B"] == 10
    assert (
        rates.loc["B", "C"] == 1.0
        and np.isnan(rates.loc["A", "C"])
        and np.isnan(rates.loc["A", "A"])
    )
    half, n_half = win_rate_matrix(counts, ties="half")
    assert half.loc["A", "B"] == pytest.approx(9 / 12) and n_half.loc["A", "B"] == 12
    with pytest.raises(ValueError, match="ties"):
        win_rate_matrix(counts, ties="drop")


def test_pairwise_table(counts):
    t = pairwise_table(counts)
    assert list(zip(t.model_a, t.model_b, strict=True)) == [("A", "B"), ("B", "C")]
    ab = t.iloc[0]
    assert (ab.wins, ab.losses, ab.ties, ab.both_bad, ab.n, ab.n_decisive) == (8, 2, 2, 1, 13, 10)
    assert ab.win_rate == pytest.approx(0.8)
    assert ab.wilson_low == pytest.approx(float(wilson_interval(8, 10)[0]))
    assert ab.p_value == pytest.approx(112 / 1024)
    bc = t.iloc[1]
    assert bc.p_value == pytest.approx(0.25)  # 3 of 3: 2 * (1/2)^3
    # Holm: smallest p times 2, then the next times 1, kept monotone.
    assert ab.p_holm == pytest.approx(2 * 112 / 1024)
    assert bc.p_holm == pytest.approx(max(2 * 112 / 1024, 0.25))


def _wilson_by_hand(x, n, z=1.959963984540054):
    p = x / n
    centre = (p + z**2 / (2 * n)) / (1 + z**2 / n)
    half = z * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / (1 + z**2 / n)
    return centre - half, centre + half


@pytest.fixture
def three_raters():
    # A vs B. r1: A wins 3 of 3 (twice on the left, once on the right); r2: A wins 1 of 4;
    # r3: A wins 2 of 3, plus a tie (not decisive) and a both-bad vote.
    rows = [("A", "B", "a")] * 2 + [("B", "A", "b")]
    rows += [("A", "B", "a")] + [("A", "B", "b")] * 2 + [("B", "A", "a")]
    rows += [("B", "A", "b")] * 2 + [("A", "B", "b")] + [("A", "B", "tie"), ("A", "B", "both_bad")]
    raters = ["r1"] * 3 + ["r2"] * 4 + ["r3"] * 5
    return count_comparisons(comparisons_frame(rows, raters=raters))


def test_design_effect_by_hand(three_raters):
    t = pairwise_table(three_raters, small_sample=False).iloc[0]
    # p = 6/10; residuals w - p n: 3 - 1.8, 1 - 2.4, 2 - 1.8 -> squares 1.44 + 1.96 + 0.04 = 3.44.
    v_c = 3 / 2 * 3.44 / 10**2  # 0.0516
    v_b = 0.6 * 0.4 / 10  # 0.024
    deff = v_c / v_b  # 2.15
    assert deff == pytest.approx(2.15)
    assert (t.wins, t.losses, t.n_decisive, t.n_clusters, t.cluster) == (6, 4, 10, 3, "rater")
    assert t.deff == pytest.approx(deff) and t.n_eff == pytest.approx(10 / 2.15)
    low, high = _wilson_by_hand(6 / 2.15, 10 / 2.15)
    assert (t.wilson_low_adj, t.wilson_high_adj) == (pytest.approx(low), pytest.approx(high))
    # The adjusted interval is the wider one; the vote-level columns are kept unchanged.
    assert (t.wilson_low, t.wilson_high) == tuple(pytest.approx(v) for v in _wilson_by_hand(6, 10))
    assert t.wilson_high_adj - t.wilson_low_adj > t.wilson_high - t.wilson_low
    ref = stats.beta.ppf([0.025, 0.975], [6 / 2.15, 6 / 2.15 + 1], [4 / 2.15 + 1, 4 / 2.15])
    assert (t.cp_low_adj, t.cp_high_adj) == (pytest.approx(ref[0]), pytest.approx(ref[1]))
    # Same numbers from a sparse per-rater table.
    w = np.array([[3.0], [1.0], [2.0]])
    n = np.array([[3.0], [4.0], [3.0]])
    d, g = cluster_design_effect(sp.csr_array(w), sp.csr_array(n))
    assert d[0] == pytest.approx(2.15) and g[0] == 3
    assert cluster_design_effect(w, n)[0][0] == pytest.approx(2.15)


def test_small_sample_effective_counts_by_hand(three_raters):
    # Korn & Graubard (1998): with G = 3 raters the Kish counts shrink by (z / t_2)^2 more.
    t = pairwise_table(three_raters).iloc[0]
    factor = (stats.t.ppf(0.975, 2) / stats.norm.ppf(0.975)) ** 2  # (4.303 / 1.960)^2 = 4.82
    assert factor == pytest.approx(4.8193, rel=1e-4)
    assert t.deff == pytest.approx(2.15) and t.deff_t == pytest.approx(2.15 * factor)
    low, high = _wilson_by_hand(6 / (2.15 * factor), 10 / (2.15 * factor))
    assert (t.wilson_low_adj, t.wilson_high_adj) == (pytest.approx(low), pytest.approx(high))
    plain = pairwise_table(three_raters, small_sample=False).iloc[0]
    assert plain.deff_t == pytest.approx(2.15)
    assert t.wilson_low_adj < plain.wilson_low_adj and t.wilson_high_adj > plain.wilson_high_adj
    assert t.p_value_adj >= plain.p_value_adj
    # Vote-level columns do not change.
    assert (t.wilson_low, t.wilson_high) == (plain.wilson_low, plain.wilson_high)


def test_one_rater_pair_has_no_adjusted_interval():
    rows = [("A", "B", "a")] * 5 + [("A", "B", "b")]
    t = pairwise_table(count_comparisons(comparisons_frame(rows, raters=["r1"] * 6))).iloc[0]
    assert t.n_clusters == 1 and np.isnan(t.deff_t)
    assert np.isnan(t.wilson_low_adj) and np.isnan(t.p_value_adj) and np.isnan(t.p_holm_adj)
    assert np.isfinite(t.wilson_low)  # the vote-level interval is still reported


def test_two_way_design_effect_adds_prompt_clustering():
    # Each prompt favours one model for every rater: votes cluster by prompt, not by rater.
    rng = np.random.default_rng(3)
    rows, raters, prompts = [], [], []
    for r in range(12):
        for p in range(8):
            for _ in range(3):
                p_a = 0.85 if p % 2 else 0.15
                rows.append(("A", "B", "a" if rng.random() < p_a else "b"))
                raters.append(f"r{r}")
                prompts.append(f"p{p}")
    frame = comparisons_frame(rows, raters=raters, prompts=prompts)
    c = count_comparisons(frame, clusters=("rater", "prompt", "rater+prompt"))
    one = pairwise_table(c, cluster="rater").iloc[0]
    two = pairwise_table(c, cluster="rater+prompt").iloc[0]
    by_prompt = pairwise_table(c, cluster="prompt").iloc[0]
    assert two.cluster == "rater+prompt" and two.n_clusters == 8  # min(12 raters, 8 prompts)
    assert two.deff >= max(one.deff, by_prompt.deff) and two.deff > 2 * one.deff
    assert two.wilson_high_adj - two.wilson_low_adj > one.wilson_high_adj - one.wilson_low_adj


def test_raters_agree_within_disagree_between():
    # Three raters always prefer A (8 votes each), one always prefers B: votes are not
    # independent draws, the rater is the unit.
    rows = ([("A", "B", "a")] * 4 + [("B", "A", "b")] * 4) * 3 + [("A", "B", "b")] * 8
    raters = [f"r{k // 8}" for k in range(32)]
    t = pairwise_table(count_comparisons(comparisons_frame(rows, raters=raters))).iloc[0]
    # p = 0.75; Σ(w - p n)² = 3·2² + 6² = 48; V_c = 4/3·48/32², V_b = 0.75·0.25/32.
    assert t.deff == pytest.approx((4 / 3 * 48 / 32**2) / (0.75 * 0.25 / 32))  # 10.67
    assert t.deff > 10
    assert t.wilson_high_adj - t.wilson_low_adj > 2 * (t.wilson_high - t.wilson_low)
    assert t.cp_low_adj < t.cp_low and t.cp_high_adj > t.cp_high
    assert t.p_value < 0.01 < 0.3 < t.p_value_adj  # 24-8 of votes, but only 3-1 of raters


def test_one_vote_per_rater_is_vote_level():
    rows = [("A", "B", "a")] * 30 + [("B", "A", "a")] * 20
    c = count_comparisons(comparisons_frame(rows, raters=[f"r{k}" for k in range(50)]))
    # Without the t correction (which adds (t_49 / z)^2 = 1.05 on top of any clustering).
    t = pairwise_table(c, small_sample=False).iloc[0]
    # Σ(w - p n)² = G p(1-p) exactly, so V_c / V_b is the small-sample factor G/(G-1) alone.
    assert t.deff == pytest.approx(50 / 49) and t.n_eff == pytest.approx(49)
    assert t.wilson_low_adj == pytest.approx(t.wilson_low, abs=0.005)
    assert t.p_value_adj == pytest.approx(t.p_value, rel=0.05)
    # No clustering (vote unit), or a single rater without the t correction (with it, one
    # rater has no adjusted interval at all): adjusted columns equal the vote-level ones.
    for tab in (
        pairwise_table(c, cluster="vote"),
        pairwise_table(count_comparisons(comparisons_frame(rows)), small_sample=False),
    ):
        row = tab.iloc[0]
        assert row.deff == 1.0 and row.n_eff == 50
        for col in ("wilson_low", "wilson_high", "cp_low", "cp_high", "p_value", "p_holm"):
            assert row[f"{col}_adj"] == pytest.approx(row[col], rel=1e-12)


def test_holm_on_adjusted_p(three_raters):
    rows = [("A", "B", "a")] * 9 + [("A", "C", "a")] * 6 + [("B", "C", "b")] * 5
    rows += [("A", "C", "b")] * 2 + [("B", "C", "a")]
    # A-B is unanimous (deff 1); on A-C and B-C each rater always votes the same way.
    raters = ["r0"] * 5 + ["r1"] * 4 + ["r0"] * 6 + ["r1"] * 5 + ["r2"] * 2 + ["r2"]
    t = pairwise_table(count_comparisons(comparisons_frame(rows, raters=raters)))
    p = t.p_value_adj.to_numpy()
    np.testing.assert_allclose(t.p_holm_adj, holm_adjust(p))
    k = np.argsort(p)  # step-down by hand: 3·p(1), then max with 2·p(2), then with p(3)
    by_hand = np.maximum.accumulate(np.minimum(1, p[k] * np.array([3, 2, 1])))
    np.testing.assert_allclose(t.p_holm_adj.to_numpy()[k], np.minimum(1, by_hand))
    assert not np.allclose(t.p_holm_adj, t.p_holm)  # the adjustment is not a no-op here
    with pytest.raises(ValueError, match="prompt"):
        pairwise_table(three_raters, cluster="prompt")


def test_binomial_test_beta_form_continuous():
    # Integer counts: same as scipy; non-integer: between its integer neighbours.
    for x, n in [(0, 5), (5, 5), (12, 40)]:
        assert binomial_test_half(x, n) == pytest.approx(stats.binomtest(x, n).pvalue, rel=1e-10)
    mid = float(binomial_test_half(2.5, 10))
    assert float(binomial_test_half(2, 10)) < mid < float(binomial_test_half(3, 10))
    assert binomial_test_half(3.7, 7.4) == 1.0


def test_pooled_rater_table_for_all_questions(three_raters):
    # "all" is counted without clusters; its rater table is the per-question ones summed by rater.
    from analysis.assemble import win_rate_clusters
    from analysis.frame import encode_comparisons

    rows = [("A", "B", "a")] * 6 + [("A", "B", "b")] * 3 + [("B", "A", "a")] * 3
    df = comparisons_frame(rows, raters=["r0", "r1", "r2"] * 4, question=["q1", "q2"] * 6)
    enc = encode_comparisons(df)
    q = enc.codes("question")
    parts = [count_comparisons(enc, mask=q == k) for k in range(2)]
    pooled = win_rate_clusters(count_comparisons(enc, clusters=()), parts, None)
    direct = count_comparisons(enc).cluster("rater")
    assert pooled.unit == "rater" and pooled.labels == direct.labels
    np.testing.assert_array_equal(pooled.ids, direct.ids)
    np.testing.assert_allclose(pooled.matrix, direct.matrix)
    assert win_rate_clusters(count_comparisons(enc, clusters=()), [], None) is None
