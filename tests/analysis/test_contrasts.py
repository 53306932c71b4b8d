import numpy as np
import pytest
from scipy import stats

from analysis.bt import ELO_SCALE
from analysis.contrasts import pairwise_differences, rank_intervals


def test_wald_differences_by_hand():
    theta = np.array([0.3, 0.0, -0.3])
    cov = np.diag([0.01, 0.02, 0.03])
    t = pairwise_differences(["a", "b", "c"], theta, cov=cov)
    row = t.iloc[0]  # a - b
    se = np.sqrt(0.01 + 0.02)
    assert row["diff"] == pytest.approx(ELO_SCALE * 0.3)
    assert row.se == pytest.approx(ELO_SCALE * se)
    assert row.ci_low == pytest.approx(ELO_SCALE * (0.3 - 1.959963984540054 * se))
    assert row.p_value == pytest.approx(2 * stats.norm.sf(0.3 / se))
    assert row.p_win == pytest.approx(1 / (1 + np.exp(-0.3)))
    assert row.p_win_low < row.p_win < row.p_win_high


def test_bootstrap_differences_use_percentiles():
    rng = np.random.default_rng(0)
    reps = rng.normal([0.2, 0.0], 0.05, size=(2000, 2))
    t = pairwise_differences(["a", "b"], np.array([0.2, 0.0]), replicates=reps)
    d = reps[:, 0] - reps[:, 1]
    assert t.ci_low.iloc[0] == pytest.approx(ELO_SCALE * np.quantile(d, 0.025))
    with pytest.raises(ValueError, match="cov"):
        pairwise_differences(["a", "b"], np.zeros(2))


def test_rank_intervals_separated_and_tied():
    theta = np.array([2.0, 0.0, 0.01, -2.0])
    cov = np.eye(4) * 0.01
    r = rank_intervals(list("abcd"), theta, cov=cov, seed=0)
    assert r["rank"].tolist() == [1, 3, 2, 4]
    assert (r.rank_low[0], r.rank_high[0]) == (1, 1) and (r.rank_low[3], r.rank_high[3]) == (4, 4)
    assert (r.rank_low[1], r.rank_high[1]) == (2, 3) and (r.rank_low[2], r.rank_high[2]) == (2, 3)
    # Simultaneous intervals are wider than one pair's: the critical value exceeds 1.96.
    assert r.critical.iloc[0] > 1.96
