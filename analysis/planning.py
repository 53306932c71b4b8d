"""Planning: how many votes a study needs before it is run."""

from __future__ import annotations

import math

import numpy as np

from analysis.dist import binom_cdf, binom_sf, norm_ppf

__all__ = ["votes_needed", "binomial_power"]


def binomial_power(n: int, win_rate: float, alpha: float = 0.05) -> float:
    """Power of the exact two-sided binomial test of 50% with ``n`` independent votes.

    Parameters
    ----------
    n
        Number of votes on the pair (ties excluded).
    win_rate
        The true probability that the first model wins a vote.
    alpha
        Two-sided significance level.

    Returns
    -------
    float
        The probability that the test rejects 50% at level ``alpha``.

    Notes
    -----
    The rejection region is the set of outcomes whose two-sided exact p-value is at most
    ``alpha`` (Clopper & Pearson 1934 style tail doubling, as in ``scipy.stats.binomtest``).
    """
    if n < 1:
        raise ValueError(f"n must be a positive integer; got {n}.")
    k = _critical_count(n, alpha)
    if k is None:
        return 0.0
    # Symmetric null: reject when wins >= k or wins <= n - k.
    return float(binom_sf(k - 1, n, win_rate) + binom_cdf(n - k, n, win_rate))


def _critical_count(n: int, alpha: float) -> int | None:
    # Smallest win count above n/2 whose two-sided exact p-value is at most alpha.
    ks = np.arange(n // 2 + 1, n + 1)
    ok = np.flatnonzero(2 * binom_sf(ks - 1, n, 0.5) <= alpha)
    return int(ks[ok[0]]) if ok.size else None


def votes_needed(
    win_rate: float, *, alpha: float = 0.05, power: float = 0.8, design_effect: float = 1.0
) -> int:
    """Votes on one model pair needed to tell ``win_rate`` from 50%.

    Parameters
    ----------
    win_rate
        True win rate to detect, in (0, 1) and not 0.5.
    alpha
        Two-sided significance level (divide by the number of pairs for a Bonferroni bound).
    power
        Wanted probability of detecting the difference.
    design_effect
        Variance inflation of clustered votes (Kish 1965): the count for independent votes is
        multiplied by it. Use the design effect that ``arena report`` measured on a pilot.

    Returns
    -------
    int
        The smallest vote count whose exact binomial test reaches ``power`` at every larger
        count up to 20 more votes (the exact test's power saw-tooths with ``n``), times the
        design effect, rounded up.
    """
    if not 0.0 < win_rate < 1.0 or win_rate == 0.5:
        raise ValueError(f"win_rate must lie in (0, 1) and differ from 0.5; got {win_rate}.")
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must lie in (0, 1); got {alpha}.")
    if not 0.0 < power < 1.0:
        raise ValueError(f"power must lie in (0, 1); got {power}.")
    if design_effect < 1.0:
        raise ValueError(f"design_effect must be at least 1; got {design_effect}.")
    # Start from the normal approximation (Fleiss 1981), then walk the exact power.
    z_a, z_b = norm_ppf(1 - alpha / 2), norm_ppf(power)
    p = win_rate
    approx = ((z_a * 0.5 + z_b * math.sqrt(p * (1 - p))) / (p - 0.5)) ** 2
    n = max(1, int(approx * 0.8))
    while not all(binomial_power(m, p, alpha) >= power for m in range(n, n + 21)):
        n += 1
    return math.ceil(n * design_effect)
