"""Win rates with exact and score intervals, and exact binomial tests with Holm's correction.

These are model-free summaries of the count tensor: for each pair, how often one model was
preferred, with a Wilson (1927) score interval and a Clopper–Pearson (1934) exact interval, and a
two-sided exact binomial (sign) test of "no preference" with Holm's (1979) step-down correction
across pairs. Vote-level intervals treat votes as independent; rater-clustered uncertainty is
what :mod:`analysis.bootstrap` provides.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from analysis.counts import ComparisonCounts
from analysis.types import FloatArray

#: How ties enter a win rate: dropped (``exclude``) or half a win each (``half``).
WIN_RATE_TIES: tuple[str, ...] = ("exclude", "half")


def wilson_interval(
    successes: FloatArray, n: FloatArray, level: float = 0.95
) -> tuple[FloatArray, FloatArray]:
    """Wilson score interval for a binomial proportion (vectorised).

    Parameters
    ----------
    successes, n : array_like
        Successes and trials (``n = 0`` gives ``nan``).
    level : float, default 0.95
        Coverage.

    Returns
    -------
    low, high : ndarray
        ``(p + z^2/2n -/+ z sqrt(p(1-p)/n + z^2/4n^2)) / (1 + z^2/n)``.

    Notes
    -----
    Wilson (1927), JASA 22:209; recommended over the Wald interval by Brown, Cai & DasGupta (2001).
    """
    x = np.asarray(successes, dtype=np.float64)
    n_ = np.asarray(n, dtype=np.float64)
    z = stats.norm.ppf(1 - (1 - level) / 2)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = x / n_
        den = 1 + z**2 / n_
        centre = (p + z**2 / (2 * n_)) / den
        half = z * np.sqrt(p * (1 - p) / n_ + z**2 / (4 * n_**2)) / den
    return centre - half, centre + half


def clopper_pearson_interval(
    successes: FloatArray, n: FloatArray, level: float = 0.95
) -> tuple[FloatArray, FloatArray]:
    """Clopper–Pearson exact interval from beta quantiles (vectorised).

    Parameters
    ----------
    successes, n : array_like
        Successes and trials (half-ties make ``successes`` fractional; the beta quantiles still
        apply, as a continuous extension).
    level : float, default 0.95
        Coverage.

    Returns
    -------
    low, high : ndarray
        ``Beta(a/2; x, n-x+1)`` and ``Beta(1-a/2; x+1, n-x)``, with 0 and 1 at the edges.

    Notes
    -----
    Clopper & Pearson (1934), Biometrika 26:404.
    """
    x = np.asarray(successes, dtype=np.float64)
    n_ = np.asarray(n, dtype=np.float64)
    a = 1 - level
    with np.errstate(invalid="ignore", divide="ignore"):
        low = np.where(x > 0, stats.beta.ppf(a / 2, x, n_ - x + 1), 0.0)
        high = np.where(x < n_, stats.beta.ppf(1 - a / 2, x + 1, n_ - x), 1.0)
    empty = n_ <= 0
    return np.where(empty, np.nan, low), np.where(empty, np.nan, high)


def binomial_test_half(successes: FloatArray, n: FloatArray) -> FloatArray:
    """Two-sided exact binomial test of ``p = 1/2`` (vectorised; equals ``scipy.stats.binomtest``).

    For ``p = 1/2`` the distribution is symmetric, so the two-sided p-value is twice the smaller
    tail, capped at 1. ``n = 0`` gives ``nan``.
    """
    x = np.asarray(successes, dtype=np.float64)
    n_ = np.asarray(n, dtype=np.float64)
    lower = stats.binom.cdf(x, n_, 0.5)
    upper = stats.binom.sf(x - 1, n_, 0.5)
    p = np.minimum(1.0, 2 * np.minimum(lower, upper))
    return np.where(n_ > 0, p, np.nan)


def holm_adjust(pvalues: FloatArray) -> FloatArray:
    """Holm's step-down adjusted p-values (family-wise error control); ``nan`` entries are kept.

    Notes
    -----
    Holm (1979), Scand. J. Statist. 6:65.
    """
    p = np.asarray(pvalues, dtype=np.float64)
    out = np.full_like(p, np.nan)
    ok = ~np.isnan(p)
    k = int(ok.sum())
    if k == 0:
        return out
    order = np.argsort(p[ok], kind="stable")
    ranked = p[ok][order] * (k - np.arange(k))
    adjusted = np.minimum(1.0, np.maximum.accumulate(ranked))
    vals = np.empty(k)
    vals[order] = adjusted
    out[ok] = vals
    return out


def _check_ties(ties: str) -> None:
    if ties not in WIN_RATE_TIES:
        raise ValueError(f"ties must be one of {', '.join(map(repr, WIN_RATE_TIES))}; got {ties!r}")


def win_rate_matrix(
    counts: ComparisonCounts, *, ties: str = "exclude"
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Share of votes in which the row model beat the column model, and the votes behind it.

    Parameters
    ----------
    counts : ComparisonCounts
        Vote counts.
    ties : {"exclude", "half"}, default "exclude"
        ``exclude``: win rate = wins / (wins + losses); ``half``: a tie is half a win for each
        side and counts in the denominator. ``both_bad`` votes are never counted.

    Returns
    -------
    rates : pandas.DataFrame
        ``rates.loc[i, j]`` = win rate of ``i`` against ``j`` (``nan`` on the diagonal and for
        pairs never compared).
    votes : pandas.DataFrame
        Votes in each rate's denominator.

    Notes
    -----
    The "average win rate" matrix of Chatbot Arena (Chiang et al. 2024) with ties excluded or
    halved; no model is fitted.
    """
    _check_ties(ties)
    wins, tie = counts.wins, counts.ties
    if ties == "half":
        num, den = wins + tie / 2, wins + wins.T + tie
    else:
        num, den = wins, wins + wins.T
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = np.where(den > 0, num / den, np.nan)
    np.fill_diagonal(rate, np.nan)
    names = list(counts.models)
    return (
        pd.DataFrame(rate, index=names, columns=names),
        pd.DataFrame(
            den.astype(np.int64) if ties == "exclude" else den, index=names, columns=names
        ),
    )


def pairwise_table(
    counts: ComparisonCounts, *, ties: str = "exclude", level: float = 0.95
) -> pd.DataFrame:
    """One row per compared unordered pair: counts, win rate, intervals and a corrected test.

    Parameters
    ----------
    counts : ComparisonCounts
        Vote counts.
    ties : {"exclude", "half"}, default "exclude"
        How ties enter ``win_rate`` and its intervals (see :func:`win_rate_matrix`). The binomial
        test always uses decisive votes only (a sign test; ties carry no direction).
    level : float, default 0.95
        Interval coverage.

    Returns
    -------
    pandas.DataFrame
        Columns ``model_a``, ``model_b`` (names in index order, not screen sides), ``wins``
        (of ``model_a``), ``losses``, ``ties``, ``both_bad``, ``n`` (all votes), ``n_decisive``,
        ``win_rate``, ``wilson_low``, ``wilson_high``, ``cp_low``, ``cp_high``, ``p_value``
        (exact binomial vs 50 %), ``p_holm`` (Holm-adjusted across the pairs in the table).

    Notes
    -----
    Wilson (1927); Clopper & Pearson (1934); exact binomial (sign) test; Holm (1979).
    """
    _check_ties(ties)
    i, j = np.triu_indices(counts.n_models, k=1)
    wins, tie, bad = counts.wins, counts.ties, counts.both_bad
    w, lo, t, bb = wins[i, j], wins[j, i], tie[i, j], bad[i, j]
    keep = (w + lo + t + bb) > 0
    i, j, w, lo, t, bb = i[keep], j[keep], w[keep], lo[keep], t[keep], bb[keep]
    x, n = (w + t / 2, w + lo + t) if ties == "half" else (w, w + lo)
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = np.where(n > 0, x / n, np.nan)
    wl, wh = wilson_interval(x, n, level)
    cl, ch = clopper_pearson_interval(x, n, level)
    p = binomial_test_half(w, w + lo)
    names = np.asarray(counts.models, dtype=object)
    return pd.DataFrame(
        {
            "model_a": names[i],
            "model_b": names[j],
            "wins": w.astype(np.int64),
            "losses": lo.astype(np.int64),
            "ties": t.astype(np.int64),
            "both_bad": bb.astype(np.int64),
            "n": (w + lo + t + bb).astype(np.int64),
            "n_decisive": (w + lo).astype(np.int64),
            "win_rate": rate,
            "wilson_low": wl,
            "wilson_high": wh,
            "cp_low": cl,
            "cp_high": ch,
            "p_value": p,
            "p_holm": holm_adjust(p),
        }
    )
