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


def test_a_win_rate_near_half_is_planned_by_the_same_window_rule() -> None:
    """0.501 needs about two million votes; the answer keeps the window rule: power reached at
    n and the 20 counts above, not at n - 1 and its window (that walk took over 30 s)."""
    n = votes_needed(0.501)
    assert 1_900_000 < n < 2_100_000
    assert all(binomial_power(m, 0.501) >= 0.8 for m in range(n, n + 21))
    assert not all(binomial_power(m, 0.501) >= 0.8 for m in range(n - 1, n + 20))


def test_the_large_count_search_finds_what_the_walk_from_the_start_finds(monkeypatch) -> None:
    import analysis.planning as planning

    cases = [(0.51, 0.05, 0.8), (0.49, 0.01, 0.9), (0.52, 0.05 / 6, 0.8)]
    fast = [votes_needed(p, alpha=a, power=pw) for p, a, pw in cases]
    assert min(fast) > planning._WALK_FROM_START  # the bisection path is the one under test
    monkeypatch.setattr(planning, "_WALK_FROM_START", 10**12)
    assert [votes_needed(p, alpha=a, power=pw) for p, a, pw in cases] == fast


@pytest.mark.parametrize("win_rate", [0.5001, 0.49999])
def test_an_undetectable_win_rate_is_refused_in_one_sentence(win_rate: float) -> None:
    with pytest.raises(ValueError, match=rf"win_rate {win_rate} needs about [\d,]+ votes"):
        votes_needed(win_rate)
