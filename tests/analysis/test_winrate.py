import numpy as np
import pytest
from scipy import stats

from analysis.counts import count_comparisons
from analysis.frame import comparisons_frame
from analysis.winrate import (
    binomial_test_half,
    clopper_pearson_interval,
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
