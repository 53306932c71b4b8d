"""Planning: how many votes a study needs before it is run."""

from __future__ import annotations

import math

from analysis.dist import binom_cdf, binom_sf, norm_ppf

__all__ = ["MAX_VOTES", "votes_needed", "binomial_power"]

#: The most votes per pair a plan is made for: beyond it the win rate is too close to 50% for any
#: study to detect, and the answer would only say so after a long search.
MAX_VOTES = 10_000_000
# Below this starting count the window rule is walked from the start, as exact as it gets.
_WALK_FROM_START = 2_000


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
    # Smallest win count above n/2 whose two-sided exact p-value is at most alpha. The p-value
    # falls as the count rises, so bisect: a few dozen tail evaluations instead of n / 2.
    lo, hi = n // 2 + 1, n
    if 2 * binom_sf(hi - 1, n, 0.5) > alpha:
        return None
    while lo < hi:
        mid = (lo + hi) // 2
        if 2 * binom_sf(mid - 1, n, 0.5) <= alpha:
            hi = mid
        else:
            lo = mid + 1
    return lo


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
    if approx > MAX_VOTES:
        raise ValueError(
            f"win_rate {win_rate} needs about {approx:,.0f} votes per pair at alpha {alpha:g} "
            f"and power {power:g}; expected a win rate further from 0.5 (at most "
            f"{MAX_VOTES:,} votes are planned)."
        )
    n = _first_window(p, alpha, power, max(1, int(approx * 0.8)))
    return math.ceil(n * design_effect)


def _first_window(p: float, alpha: float, power: float, start: int) -> int:
    """The smallest n >= start whose exact power reaches ``power`` at n and the 20 counts above.

    The window rule is walked exactly, skipping past the highest failing count of each window
    (every n up to it fails too). For large counts the walk starts a little below where the
    power first reaches ``power`` (found by bisection): the exact power's saw-tooth has an
    amplitude of a few counts, far less than the margin of 2 sqrt(n) + 100 left below it, so the
    answer is the one a walk from ``start`` finds, in milliseconds instead of minutes.
    """

    def reaches(m: int) -> bool:
        return binomial_power(m, p, alpha) >= power

    n = start
    if start > _WALK_FROM_START:
        lo, hi = start, 2 * start
        while not reaches(hi):
            lo, hi = hi, 2 * hi
        while lo < hi:
            mid = (lo + hi) // 2
            lo, hi = (lo, mid) if reaches(mid) else (mid + 1, hi)
        n = max(start, lo - int(2 * math.sqrt(lo)) - 100)
    while True:
        failing = next((m for m in range(n + 20, n - 1, -1) if not reaches(m)), None)
        if failing is None:
            return n
        n = failing + 1
