"""Intervals for rating differences, predicted win probabilities and ranks.

A rating alone is relative; what a reader wants is "how much better is A than B" and "where does
A rank". Differences ``theta_i - theta_j`` are identified whatever the centring, and the
Bradley–Terry win probability ``1 / (1 + exp(-(theta_i - theta_j)))`` (among decisive votes) is a
monotone function of the difference, so its interval is the transformed difference interval.

Rank intervals are simultaneous: all pairwise-difference intervals hold jointly at the stated
level (max-|t| calibration over bootstrap replicates or normal draws), and model ``i``'s rank
interval counts the models that are significantly better or worse — the construction of
Klein, Wright & Wieczorek (2020, JRSS-C 69:917).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from analysis.bt import ELO_SCALE
from analysis.dist import logistic_cdf, norm_ppf, norm_sf, t_ppf, t_sf
from analysis.rng import as_generator
from analysis.separation import bounded_values, percentile_interval, point_value
from analysis.smallsample import corrected_critical
from analysis.types import FloatArray


def _diffs(theta: FloatArray) -> FloatArray:
    t = np.asarray(theta, dtype=np.float64)
    return t[..., :, None] - t[..., None, :]


def _draws(
    theta: FloatArray,
    cov: FloatArray | None,
    replicates: FloatArray | None,
    seed: int | np.random.Generator | None,
    n_draws: int,
) -> tuple[FloatArray, str]:
    if replicates is not None:
        return np.asarray(replicates, dtype=np.float64), "bootstrap"
    if cov is None:
        raise ValueError("pass either cov (from analysis.robust) or replicates (from a bootstrap)")
    m = len(theta)
    rng = as_generator(seed)
    c = np.asarray(cov, dtype=np.float64)[:m, :m]
    return rng.multivariate_normal(theta, (c + c.T) / 2, size=n_draws, method="eigh"), "normal"


def pairwise_differences(
    models: Sequence[str],
    theta: FloatArray,
    *,
    cov: FloatArray | None = None,
    replicates: FloatArray | None = None,
    level: float = 0.95,
    reach: np.ndarray | None = None,
    replicate_reach: np.ndarray | None = None,
    df: float | None = None,
) -> pd.DataFrame:
    """Rating differences and predicted win probabilities for every pair, with intervals.

    Parameters
    ----------
    models : sequence of str
        Model names.
    theta : ndarray, shape (m,)
        Log-strength estimates.
    cov : ndarray, optional
        Covariance of ``theta`` (e.g. :attr:`analysis.robust.RobustFit.theta_cov`): Wald
        intervals and p-values.
    replicates : ndarray, shape (B, m), optional
        Bootstrap replicates of ``theta``: percentile intervals (preferred when given).
    level : float, default 0.95
        Coverage (per pair, not simultaneous).
    reach : ndarray of bool, shape (m, m), optional
        Reachability of the win graph (:func:`analysis.separation.reachability`). A difference
        with no chain of wins one way has no finite estimate: ``diff`` is ``±inf`` (``nan`` if
        unbounded both ways), the open interval side is infinite and the other ``nan`` (to be
        filled, e.g. by :func:`analysis.profile.profile_bounds`).
    replicate_reach : ndarray of bool, shape (B, m, m), optional
        The same per bootstrap replicate; unbounded replicates count as ``±inf``.
    df : float, optional
        Degrees of freedom of the Wald intervals and p-values (Student t; ``G - 1`` for ``G``
        clusters, the few-cluster correction of :mod:`analysis.smallsample`). None: normal.

    Returns
    -------
    pandas.DataFrame
        One row per unordered pair ``i < j``: ``model_a``, ``model_b``, ``diff`` (Elo points,
        a minus b), ``se``, ``ci_low``, ``ci_high``, ``p_value`` (Wald, ``nan`` for bootstrap),
        ``p_win`` (Bradley–Terry probability that a beats b in a decisive vote) with
        ``p_win_low``/``p_win_high``, ``separated`` (no finite estimate) and ``method``.

    Notes
    -----
    Bradley & Terry (1952) win probability; Wald intervals with a sandwich covariance
    (Liang & Zeger 1986) or percentile bootstrap intervals (Efron & Tibshirani 1993).
    """
    th = np.asarray(theta, dtype=np.float64)
    i, j = np.triu_indices(len(th), k=1)
    d = th[i] - th[j]
    a = (1 - level) / 2
    if replicates is not None:
        rd = np.asarray(replicates)[:, i] - np.asarray(replicates)[:, j]
        se = rd.std(axis=0, ddof=1)
        if replicate_reach is None:
            low, high = np.quantile(rd, a, axis=0), np.quantile(rd, 1 - a, axis=0)
        else:
            rr = np.asarray(replicate_reach)
            up, down = ~rr[:, j, i], ~rr[:, i, j]
            low, high = percentile_interval(*bounded_values(rd, up, down), level)
            se = np.where((up | down).any(axis=0), np.nan, se)
        p = np.full(len(d), np.nan)
        method = "percentile bootstrap"
    elif cov is not None:
        c = np.asarray(cov)[: len(th), : len(th)]
        se = np.sqrt(np.clip(c[i, i] + c[j, j] - 2 * c[i, j], 0, None))
        z = norm_ppf(1 - a) if df is None else t_ppf(1 - a, df)
        low, high = d - z * se, d + z * se
        with np.errstate(invalid="ignore", divide="ignore"):
            t = np.abs(d) / se
            p = 2 * (norm_sf(t) if df is None else t_sf(t, df))
        method = "wald" if df is None else f"wald, t with {df:g} df"
    else:
        raise ValueError("pass either cov (from analysis.robust) or replicates (from a bootstrap)")
    open_up = np.zeros(len(d), dtype=bool) if reach is None else ~np.asarray(reach)[j, i]
    open_down = np.zeros(len(d), dtype=bool) if reach is None else ~np.asarray(reach)[i, j]
    sep = open_up | open_down
    # No finite estimate: the open side is infinite; the other is not a bootstrap quantity.
    d = point_value(d, open_up, open_down)
    low = np.where(open_down, -np.inf, np.where(sep, np.nan, low))
    high = np.where(open_up, np.inf, np.where(sep, np.nan, high))
    se, p = np.where(sep, np.nan, se), np.where(sep, np.nan, p)
    names = np.asarray(models, dtype=object)
    return pd.DataFrame(
        {
            "model_a": names[i],
            "model_b": names[j],
            "diff": ELO_SCALE * d,
            "se": ELO_SCALE * se,
            "ci_low": ELO_SCALE * low,
            "ci_high": ELO_SCALE * high,
            "p_value": p,
            "p_win": logistic_cdf(d),
            "p_win_low": logistic_cdf(low),
            "p_win_high": logistic_cdf(high),
            "separated": sep,
            "method": method,
        }
    )


def rank_intervals(
    models: Sequence[str],
    theta: FloatArray,
    *,
    cov: FloatArray | None = None,
    replicates: FloatArray | None = None,
    level: float = 0.95,
    seed: int | np.random.Generator | None = 0,
    n_draws: int = 10_000,
    unbounded: np.ndarray | None = None,
    known_better: np.ndarray | None = None,
    n_clusters: int | None = None,
) -> pd.DataFrame:
    """Simultaneous rank intervals from jointly valid pairwise-difference intervals.

    Parameters
    ----------
    models : sequence of str
        Model names.
    theta : ndarray, shape (m,)
        Log-strength estimates.
    cov : ndarray, optional
        Covariance of ``theta``; the joint critical value is then calibrated on ``n_draws``
        seeded normal draws.
    replicates : ndarray, shape (B, m), optional
        Bootstrap replicates of ``theta`` (used when given).
    level : float, default 0.95
        Joint coverage of all intervals together.
    seed : int or numpy.random.Generator
        Randomness of the normal draws.
    n_draws : int
        Normal draws when ``cov`` is used.
    unbounded : ndarray of bool, shape (m, m), optional
        Pairs whose difference is unbounded in the estimate or in some replicate (separation):
        left out of the max-|t| calibration and ordered only by ``known_better``.
    known_better : ndarray of bool, shape (m, m), optional
        ``[i, j]`` True where another test shows ``i`` better than ``j`` (used for ``unbounded``
        pairs only).
    n_clusters : int, optional
        Clusters ``G`` the replicates resampled: the critical value is moved to the t
        reference with ``G - 1`` degrees of freedom
        (:func:`analysis.smallsample.corrected_critical`). None: no correction.

    Returns
    -------
    pandas.DataFrame
        ``model``, ``rank`` (1 = best), ``rank_low``, ``rank_high`` and ``critical`` (the
        max-|t| critical value used), in model order.

    Notes
    -----
    Joint intervals ``d_ij +/- c * se_ij`` with ``c`` the ``level`` quantile of
    ``max_ij |d*_ij - d_ij| / se_ij``; the rank of ``i`` lies in
    ``[1 + #{j surely better}, m - #{j surely worse}]`` (Klein, Wright & Wieczorek 2020).
    """
    th = np.asarray(theta, dtype=np.float64)
    m = len(th)
    draws, _ = _draws(th, cov, replicates, seed, n_draws)
    d_hat = _diffs(th)
    d_star = _diffs(draws)
    se = d_star.std(axis=0, ddof=1)
    off = ~np.eye(m, dtype=bool)
    free = np.zeros((m, m), dtype=bool) if unbounded is None else np.asarray(unbounded, bool)
    safe = np.where(off & (se > 0) & ~free, se, np.inf)
    with np.errstate(invalid="ignore"):
        tmax = np.max(np.nan_to_num(np.abs(d_star - d_hat) / safe), axis=(1, 2))
    crit = float(np.quantile(tmax, level)) if m > 1 else 0.0
    if n_clusters is not None and m > 1:
        crit = corrected_critical(crit, n_clusters)
    lower = d_hat - crit * np.where(off, se, 0.0)  # lower bound of theta_i - theta_j
    surely_better = (lower > 0) & off & ~free  # [i, j]: i surely better than j
    if known_better is not None:
        surely_better |= free & np.asarray(known_better, dtype=bool) & off
    order = np.argsort(-th, kind="stable")
    rank = np.empty(m, dtype=np.int64)
    rank[order] = np.arange(1, m + 1)
    return pd.DataFrame(
        {
            "model": list(models),
            "rank": rank,
            "rank_low": 1 + surely_better.sum(axis=0),
            "rank_high": m - surely_better.sum(axis=1),
            "critical": crit,
        }
    )
