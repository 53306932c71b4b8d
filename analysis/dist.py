"""The few distribution functions the analysis uses, from ``scipy.special``.

``scipy.stats`` builds every one of its ~200 distribution objects at import: about 0.7 s of the
``arena report`` process on this project's machines, more than the Bradley–Terry fit of a million
votes. The analysis needs a dozen functions, which are one special function each. They are kept
here, under the names of their ``scipy.stats`` counterparts, and tests compare them with
``scipy.stats`` on grids (tests/analysis/test_dist.py).
"""

from __future__ import annotations

import numpy as np
from scipy import special

from analysis.types import FloatArray

__all__ = [
    "beta_ppf",
    "binom_cdf",
    "binom_sf",
    "chi2_ppf",
    "chi2_sf",
    "logistic_cdf",
    "norm_cdf",
    "norm_ppf",
    "norm_sf",
    "t_isf",
    "t_ppf",
    "t_sf",
]


def norm_cdf(x: FloatArray) -> FloatArray:
    """Standard normal distribution function (``scipy.stats.norm.cdf``)."""
    return special.ndtr(x)


def norm_sf(x: FloatArray) -> FloatArray:
    """Standard normal upper tail (``scipy.stats.norm.sf``); exact far into the tail."""
    return special.ndtr(-np.asarray(x, dtype=np.float64))


def norm_ppf(q: FloatArray) -> FloatArray:
    """Standard normal quantile (``scipy.stats.norm.ppf``)."""
    return special.ndtri(q)


def t_ppf(q: FloatArray, df: FloatArray) -> FloatArray:
    """Student t quantile with ``df`` degrees of freedom (``scipy.stats.t.ppf``)."""
    return special.stdtrit(df, q)


def t_sf(x: FloatArray, df: FloatArray) -> FloatArray:
    """Student t upper tail (``scipy.stats.t.sf``)."""
    return special.stdtr(df, -np.asarray(x, dtype=np.float64))


def t_isf(p: FloatArray, df: FloatArray) -> FloatArray:
    """Student t upper quantile (``scipy.stats.t.isf``), by symmetry so tiny ``p`` keeps digits."""
    return -special.stdtrit(df, p)


def chi2_sf(x: FloatArray, df: FloatArray) -> FloatArray:
    """Chi-squared upper tail (``scipy.stats.chi2.sf``)."""
    return special.chdtrc(df, x)


def chi2_ppf(q: FloatArray, df: FloatArray) -> FloatArray:
    """Chi-squared quantile (``scipy.stats.chi2.ppf``); ``chdtri`` inverts the upper tail."""
    return special.chdtri(df, 1 - np.asarray(q, dtype=np.float64))


def beta_ppf(q: FloatArray, a: FloatArray, b: FloatArray) -> FloatArray:
    """Beta quantile (``scipy.stats.beta.ppf``)."""
    return special.betaincinv(a, b, q)


def _binom_tail(k: FloatArray, n: FloatArray, x: FloatArray, lower: bool) -> FloatArray:
    # The incomplete-beta form of the tails (Abramowitz & Stegun 26.5.24), for 0 <= k < n:
    # P(X <= k) = I_{1-p}(n - k, k + 1) and P(X > k) = I_p(k + 1, n - k).
    k = np.clip(k, 0, np.maximum(n - 1, 0))
    a, b = (n - k, k + 1) if lower else (k + 1, n - k)
    with np.errstate(invalid="ignore"):
        return special.betainc(np.maximum(a, 1e-300), b, x)


def binom_cdf(k: FloatArray, n: FloatArray, p: FloatArray) -> FloatArray:
    """Binomial ``P(X <= k)`` (``scipy.stats.binom.cdf``): 0 below 0, 1 from ``n`` on."""
    k = np.floor(np.asarray(k, dtype=np.float64))
    n = np.asarray(n, dtype=np.float64)
    inside = _binom_tail(k, n, 1 - np.asarray(p, dtype=np.float64), lower=True)
    return np.where(k < 0, 0.0, np.where(k >= n, 1.0, inside))


def binom_sf(k: FloatArray, n: FloatArray, p: FloatArray) -> FloatArray:
    """Binomial ``P(X > k)`` (``scipy.stats.binom.sf``): 1 below 0, 0 from ``n`` on."""
    k = np.floor(np.asarray(k, dtype=np.float64))
    n = np.asarray(n, dtype=np.float64)
    inside = _binom_tail(k, n, np.asarray(p, dtype=np.float64), lower=False)
    return np.where(k < 0, 1.0, np.where(k >= n, 0.0, inside))


def logistic_cdf(x: FloatArray) -> FloatArray:
    """Standard logistic distribution function (``scipy.stats.logistic.cdf``)."""
    return special.expit(x)
