"""Sample-size planning against scipy's exact binomial test."""

from __future__ import annotations

import pytest
from scipy import stats

from analysis.planning import binomial_power, votes_needed


def test_power_matches_scipy_rejection_region() -> None:
    n, p = 60, 0.65
    reject = [k for k in range(n + 1) if stats.binomtest(k, n).pvalue <= 0.05]
    expected = sum(stats.binom.pmf(k, n, p) for k in reject)
    assert binomial_power(n, p) == pytest.approx(expected, abs=1e-12)


def test_votes_needed_reaches_power_and_scales_with_design_effect() -> None:
    n = votes_needed(0.6)
    assert binomial_power(n, 0.6) >= 0.8
    assert binomial_power(n // 2, 0.6) < 0.8
    assert votes_needed(0.6, design_effect=2.0) == 2 * n
    assert votes_needed(0.55) > n


@pytest.mark.parametrize(
    "kwargs", [{"win_rate": 0.5}, {"win_rate": 1.2}, {"win_rate": 0.6, "power": 1.0}]
)
def test_bad_arguments_are_named(kwargs) -> None:
    with pytest.raises(
        ValueError, match=next(k for k in kwargs if k != "win_rate" or len(kwargs) == 1)
    ):
        votes_needed(**kwargs)
