"""Few-cluster corrections: intervals that keep their coverage with a dozen raters.

Every interval in a report treats raters (or prompts) as the independent units. With ``G``
clusters a cluster-robust variance has about ``G - 1`` degrees of freedom, so a normal critical
value and a bootstrap that resamples ``G`` clusters both make intervals too narrow when ``G`` is
small: with 12 raters a nominal 95% bootstrap interval covers about 92% (benchmarks/interval_coverage.py).
The corrections here replace the normal reference by Student's t with ``G - 1`` degrees of
freedom, each in the form its interval needs:

- Wald (sandwich) intervals: ``t_{G-1}`` critical values instead of ``z`` (the variance already
  carries ``G / (G - 1)``; Cameron & Miller 2015, §VI; MacKinnon, Nielsen & Webb 2023).
- Percentile bootstrap intervals: the expanded percentile interval (Hesterberg 2015), whose
  percentiles are moved out to where the normal quantile is ``sqrt(G / (G - 1)) t_{G-1}``.
- Simultaneous (max-|t|) intervals: the bootstrap critical value is mapped through the same
  expansion, so the joint level is corrected as each pair's is.
- Win rates on Kish effective counts: the degrees-of-freedom-adjusted effective sample size of
  Korn & Graubard (1998), ``n_eff (z / t_{G-1})^2``.

Each correction vanishes as ``G`` grows (factor 1.001 at 1,000 raters). With fewer than two
clusters there is no between-cluster variance to estimate and every corrected interval is
undefined (``nan``): the callers then withhold the interval rather than report a zero width.
"""

from __future__ import annotations

import numpy as np

from analysis.dist import norm_ppf, norm_sf, t_isf, t_ppf
from analysis.types import FloatArray

#: What the corrections are called in reports and JSON settings.
SMALL_SAMPLE_METHOD = (
    "Student t with G-1 degrees of freedom, G = clusters (raters): expanded percentile "
    "bootstrap (Hesterberg 2015), t critical values for Wald intervals, Korn-Graubard (1998) "
    "degrees-of-freedom-adjusted effective counts for win rates"
)


def t_ratio(n_clusters: FloatArray | int, level: float = 0.95) -> FloatArray:
    """``t_{G-1} / z`` at the two-sided ``level``: how much wider a t interval is.

    Parameters
    ----------
    n_clusters : int or ndarray
        ``G``, clusters behind each interval.
    level : float, default 0.95
        Two-sided coverage.

    Returns
    -------
    ndarray
        The ratio, ``nan`` where ``G < 2``; 1 for infinite ``G``.
    """
    g = np.asarray(n_clusters, dtype=np.float64)
    q = 1 - (1 - level) / 2
    with np.errstate(invalid="ignore", divide="ignore"):
        t = t_ppf(q, np.where(g >= 2, g - 1, np.nan))
    return np.where(np.isinf(g), 1.0, t / norm_ppf(q))


def expansion(n_clusters: FloatArray | int, level: float = 0.95) -> FloatArray:
    """``sqrt(G / (G - 1)) t_{G-1} / z``: Hesterberg's (2015) expansion factor of a bootstrap SE.

    A bootstrap that resamples ``G`` clusters estimates the variance of a mean with the divisor
    ``G`` rather than ``G - 1``, and its normal-like quantiles ignore that the variance is itself
    estimated from ``G`` clusters; this factor corrects both.
    """
    g = np.asarray(n_clusters, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        root = np.where(np.isinf(g), 1.0, np.sqrt(g / (g - 1)))
    return root * t_ratio(g, level)


def expanded_level(level: float, n_clusters: int) -> float:
    """Percentile level of the expanded percentile interval (Hesterberg 2015).

    Parameters
    ----------
    level : float
        Nominal two-sided coverage, e.g. 0.95.
    n_clusters : int
        ``G``, clusters the bootstrap resampled.

    Returns
    -------
    float
        ``1 - 2 Phi(-z_adj)`` with ``z_adj = sqrt(G / (G - 1)) t_{G-1, (1 + level) / 2}``; the
        percentile interval at this level is the expanded interval at ``level``. ``nan`` for
        ``G < 2``. At ``G = 12`` and 95% it is 97.8%; at ``G = 1000``, 95.0%.

    Examples
    --------
    >>> round(expanded_level(0.95, 12), 4)
    0.9785
    """
    z_adj = float(expansion(n_clusters, level) * norm_ppf(1 - (1 - level) / 2))
    return float(1 - 2 * norm_sf(z_adj)) if np.isfinite(z_adj) else float("nan")


def corrected_critical(critical: float, n_clusters: int) -> float:
    """A bootstrap max-|t| critical value, moved to the t reference with ``G - 1`` d.f.

    The critical value ``c`` of a simultaneous interval has a normal tail probability
    ``Phi(-c)``; the corrected value is ``sqrt(G / (G - 1)) t_{G-1}`` at that tail, the same
    expansion the per-pair intervals get (:func:`expanded_level`). ``nan`` for ``G < 2``.
    """
    g = float(n_clusters)
    if not np.isfinite(critical) or critical <= 0:
        return float(critical)
    if g < 2:
        return float("nan")
    if np.isinf(g):
        return float(critical)
    tail = norm_sf(critical)
    return float(np.sqrt(g / (g - 1)) * t_isf(tail, g - 1))


def df_adjusted_deff(deff: FloatArray, n_clusters: FloatArray, level: float = 0.95) -> FloatArray:
    """Design effect times ``(t_{G-1} / z)^2``: Korn & Graubard's (1998) effective-count rule.

    Dividing wins and votes by this (instead of by ``deff``) gives the degrees-of-freedom-adjusted
    effective sample size, so a Wilson or Clopper–Pearson interval on the effective counts has
    t-based width. ``nan`` where ``G < 2``.
    """
    return np.asarray(deff, dtype=np.float64) * t_ratio(n_clusters, level) ** 2


def floor_at_model(
    replicates: FloatArray,
    cov_model: FloatArray,
    seed: int | np.random.Generator | None = 0,
) -> tuple[FloatArray, float]:
    """Bootstrap replicates whose covariance is at least the model-based one.

    A cluster bootstrap sees only the variation between clusters. When raters agree exactly
    (every rater cast the same votes), every resample has the same counts and the intervals
    have zero width, although each vote was still a random draw. As the design effect is
    floored at 1 (:func:`analysis.winrate.cluster_design_effect`), the replicates' covariance
    is floored at the model-based covariance (inverse information): seeded normal noise with
    covariance ``(cov_model - cov_boot)+`` (its positive part) is added, which changes nothing
    where the bootstrap already varies more than independent votes would.

    Parameters
    ----------
    replicates : ndarray, shape (B, m)
        Bootstrap replicates of ``theta``.
    cov_model : ndarray, shape (m, m)
        Model-based covariance of ``theta`` (e.g. :attr:`analysis.robust.RobustFit.cov_model`).
    seed : int or numpy.random.Generator
        Randomness of the noise.

    Returns
    -------
    replicates : ndarray, shape (B, m)
        Floored replicates (the input itself when no floor was needed).
    added : float
        Share of the model-based total variance that was added (0 when none).
    """
    reps = np.asarray(replicates, dtype=np.float64)
    m = reps.shape[1]
    c_model = np.asarray(cov_model, dtype=np.float64)[:m, :m]
    if reps.shape[0] < 2 or not np.all(np.isfinite(c_model)) or not np.all(np.isfinite(reps)):
        return reps, 0.0
    gap = c_model - np.cov(reps, rowvar=False)
    vals, vecs = np.linalg.eigh((gap + gap.T) / 2)
    total = float(np.trace(c_model))
    keep = vals > 1e-9 * max(total, 1e-300)
    if not keep.any():
        return reps, 0.0
    rng = np.random.default_rng(seed) if not isinstance(seed, np.random.Generator) else seed
    z = rng.standard_normal((reps.shape[0], int(keep.sum())))
    noise = z * np.sqrt(vals[keep]) @ vecs[:, keep].T
    return reps + noise - noise.mean(axis=0), float(vals[keep].sum() / total)
