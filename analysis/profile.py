"""Profile-likelihood bounds for contrasts of Bradley–Terry log-strengths, batched.

Under separation (a model never lost) the bootstrap cannot bound the finite side of a rating:
every replicate is separated too and its value is whatever the ridge allows. The
likelihood-ratio (profile) interval still has a finite side: the smallest value of a contrast
``c @ theta`` that the data do not reject, ``min c @ theta`` subject to
``2 (sup loglik - loglik(theta)) <= chi2_1(level)`` (Venzon & Moolgavkar 1988; Heinze & Schemper
2002 recommend profile intervals under separation in logistic regression). The constrained
problem is convex; it is solved through its Lagrangian ``max loglik(theta) - lam * c @ theta``,
one batched Newton fit for a whole grid of ``lam`` (:func:`analysis.bt.fit_bt_batch` with
``linear``), then refined on a finer grid inside the bracketing pair. Several questions combine
exactly: for the mean of per-question contrasts the likelihood drops add up at a common ``lam``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from analysis.bt import DEFAULT_RIDGE, fit_bt_batch, pair_design, pair_stats
from analysis.counts import ComparisonCounts
from analysis.dist import chi2_ppf
from analysis.types import FloatArray

_COARSE = np.logspace(-3, 5, 33)


def _curves(
    counts_list: Sequence[ComparisonCounts],
    functionals: FloatArray,
    lower: np.ndarray,
    lams: FloatArray,
    tie_mode: str,
    ridge: float,
) -> tuple[FloatArray, FloatArray]:
    """Contrast values and likelihood drops, shape ``(k, L)``, for per-row multipliers ``lams``."""
    k, n_lam = lams.shape
    m = functionals.shape[1]
    sign = np.where(lower, -1.0, 1.0)
    lin = (sign[:, None, None] * lams[:, :, None] * functionals[:, None, :]).reshape(k * n_lam, m)
    vals = np.zeros((k, n_lam))
    drops = np.zeros((k, n_lam))
    davidson = tie_mode == "davidson"
    design = pair_design(m)
    for counts in counts_list:
        w, l_, t = pair_stats(counts.table[None], design, tie_mode)
        base = fit_bt_batch(w, l_, t, design, davidson=davidson, ridge=ridge)
        rep = (np.repeat(x, k * n_lam, axis=0) for x in (w, l_, t))
        fit = fit_bt_batch(
            *rep, design, davidson=davidson, ridge=ridge, init=base.theta, linear=lin
        )
        theta = fit.theta.reshape(k, n_lam, m)
        vals += (theta * functionals[:, None, :]).sum(axis=-1) / len(counts_list)
        drops += base.loglik[0] - fit.loglik.reshape(k, n_lam)
    return vals, np.maximum.accumulate(np.maximum(drops, 0.0), axis=1)


def profile_bounds(
    counts_list: Sequence[ComparisonCounts],
    functionals: FloatArray,
    lower: np.ndarray,
    *,
    tie_mode: str = "davidson",
    ridge: float = DEFAULT_RIDGE,
    level: float = 0.95,
) -> FloatArray:
    """Profile-likelihood bound of each contrast (natural-log scale).

    Parameters
    ----------
    counts_list : sequence of ComparisonCounts
        One entry per question; the contrast is the mean over them of ``c @ theta_q``.
    functionals : ndarray, shape (k, m)
        Contrasts ``c`` (rows sum to zero), e.g. ``e_i - mean_R``.
    lower : ndarray of bool, shape (k,)
        True for a lower bound (minimise), False for an upper bound.
    tie_mode, ridge
        As in :func:`analysis.bt.bt_ratings`.
    level : float, default 0.95
        Two-sided level: the drop allowed is ``chi2_1(level) / 2``.

    Returns
    -------
    ndarray, shape (k,)
        Bounds; ``-inf`` (lower) or ``+inf`` (upper) when the contrast is unbounded on that side
        within the ``lam`` grid.

    Notes
    -----
    Likelihood-ratio intervals (Venzon & Moolgavkar 1988, Appl. Statist. 37:87); under
    separation see Heinze & Schemper (2002, Stat. Med. 21:2409). Model-based: votes are treated
    as independent, so with few raters the bound is optimistic.
    """
    c = np.atleast_2d(np.asarray(functionals, dtype=np.float64))
    low = np.asarray(lower, dtype=bool)
    k = len(c)
    if k == 0:
        return np.zeros(0)
    target = chi2_ppf(level, 1) / 2
    lams = np.tile(_COARSE, (k, 1))
    vals, drops = _curves(counts_list, c, low, lams, tie_mode, ridge)
    out = np.where(low, -np.inf, np.inf)
    hit = drops[:, -1] >= target
    if not hit.any():
        return out
    # Refine between the grid points that bracket the target drop.
    j = np.argmax(drops >= target, axis=1)
    lo_lam = np.where(j > 0, _COARSE[np.maximum(j - 1, 0)], _COARSE[0] / 10)
    hi_lam = _COARSE[j]
    fine = np.exp(np.linspace(np.log(lo_lam), np.log(hi_lam), 17).T)
    f_vals, f_drops = _curves(counts_list, c, low, fine, tie_mode, ridge)
    for r in np.flatnonzero(hit):
        d, v = f_drops[r], f_vals[r]
        if d[-1] < target:  # refinement did not bracket (flat curve): keep the coarse grid
            d, v = drops[r], vals[r]
        out[r] = np.interp(target, d, v)
    return out
