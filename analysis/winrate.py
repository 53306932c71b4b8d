"""Win rates with exact and score intervals, and exact binomial tests with Holm's correction.

These are model-free summaries of the count tensor: for each pair, how often one model was
preferred, with a Wilson (1927) score interval and a Clopper–Pearson (1934) exact interval, and a
two-sided exact binomial (sign) test of "no preference" with Holm's (1979) step-down correction
across pairs. Vote-level intervals treat votes as independent, which is too narrow when votes
cluster by rater; :func:`pairwise_table` therefore also reports cluster-adjusted intervals and
tests on Kish's (1965) effective sample size, from the cluster-robust variance of the ratio
estimator (:func:`cluster_design_effect`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy import special

from analysis.counts import ClusterCounts, ComparisonCounts
from analysis.dist import beta_ppf, norm_ppf
from analysis.frame import A_WINS, B_WINS, OUTCOMES
from analysis.modes import EXCLUDE, HALF, RATER_PROMPT
from analysis.smallsample import df_adjusted_deff
from analysis.types import FloatArray, IntArray

#: How ties enter a win rate: dropped (``exclude``) or half a win each (``half``).
WIN_RATE_TIES: tuple[str, ...] = (EXCLUDE, HALF)


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
    z = norm_ppf(1 - (1 - level) / 2)
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
        low = np.where(x > 0, beta_ppf(a / 2, x, n_ - x + 1), 0.0)
        high = np.where(x < n_, beta_ppf(1 - a / 2, x + 1, n_ - x), 1.0)
    empty = n_ <= 0
    return np.where(empty, np.nan, low), np.where(empty, np.nan, high)


def binomial_test_half(successes: FloatArray, n: FloatArray) -> FloatArray:
    """Two-sided exact binomial test of ``p = 1/2`` (vectorised; equals ``scipy.stats.binomtest``).

    Parameters
    ----------
    successes, n : array_like
        Successes and trials. Non-integer values (effective counts after a design-effect
        adjustment) are allowed: the tails are computed in their incomplete-beta form, which is
        the binomial tail at integers and its continuous extension in between.

    Returns
    -------
    ndarray
        ``min(1, 2 min(P(X <= x), P(X >= x)))`` with ``P(X <= x) = I_{1/2}(n - x, x + 1)`` and
        ``P(X >= x) = I_{1/2}(x, n - x + 1)``; ``nan`` where ``n = 0``.

    Notes
    -----
    For ``p = 1/2`` the distribution is symmetric, so the two-sided p-value is twice the smaller
    tail. The beta form of the binomial tail: Abramowitz & Stegun (1964), 26.5.24; on integer
    counts it matches ``scipy.stats.binom`` to rounding.
    """
    x = np.asarray(successes, dtype=np.float64)
    n_ = np.asarray(n, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        # At the edges one beta shape is 0, where betainc is undefined; the tail is then 1.
        lower = np.where(x >= n_, 1.0, special.betainc(np.maximum(n_ - x, 1e-300), x + 1, 0.5))
        upper = np.where(x <= 0, 1.0, special.betainc(np.maximum(x, 1e-300), n_ - x + 1, 0.5))
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


def cluster_design_effect(
    wins: FloatArray | sp.sparray, n: FloatArray | sp.sparray
) -> tuple[FloatArray, IntArray]:
    """Design effect of a win rate from per-cluster wins and votes (ratio estimator).

    Parameters
    ----------
    wins, n : ndarray or scipy.sparse array, shape (C, P)
        Per cluster (row) and pair (column): decisive wins ``w_r`` and decisive votes ``n_r``.

    Returns
    -------
    deff : ndarray, shape (P,)
        ``max(1, V_c / V_b)`` with ``p = Σw / Σn``, the cluster-robust variance of the ratio
        estimator ``V_c = G/(G-1) Σ_r (w_r - p n_r)² / (Σn)²`` and the binomial variance
        ``V_b = p(1 - p) / Σn``. It is 1 where it is undefined: ``p`` is 0 or 1 (``V_b = 0``,
        and ``V_c = 0`` too, since every rater then has ``w_r = p n_r``), fewer than two
        clusters voted on the pair (no between-cluster variance to estimate), or no votes.
    n_clusters : ndarray of int64, shape (P,)
        ``G``: clusters with ``n_r > 0``.

    Notes
    -----
    Linearised (Taylor) variance of a ratio mean under cluster sampling with the ``G/(G-1)``
    small-sample factor (Cochran 1977, §6.11; Kish 1965, §6.4); design effect as in Kish (1965).
    It is floored at 1 because a below-binomial estimate would make the interval narrower than
    if the votes were independent: with few raters the ratio variance is noisy, and negative
    within-rater correlation of preferences is not a plausible reason to claim more precision.
    """

    def colsum(a: FloatArray | sp.sparray) -> FloatArray:
        return np.asarray(a.sum(axis=0), dtype=np.float64).ravel()

    def prod(a: FloatArray | sp.sparray, b: FloatArray | sp.sparray) -> FloatArray | sp.sparray:
        return a.multiply(b) if sp.issparse(a) else np.asarray(a) * np.asarray(b)

    sw, sn = colsum(wins), colsum(n)
    # Σ(w - p n)² expanded into column sums, so a sparse table stays sparse (no dense C × P).
    sww, swn, snn = colsum(prod(wins, wins)), colsum(prod(wins, n)), colsum(prod(n, n))
    g = colsum(n > 0).astype(np.int64)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = sw / sn
        ss = np.maximum(sww - 2 * p * swn + p**2 * snn, 0.0)  # rounding can dip below 0
        v_c = g / (g - 1) * ss / sn**2
        v_b = p * (1 - p) / sn
        ratio = v_c / v_b
    defined = (g > 1) & (v_b > 0) & np.isfinite(ratio)
    return np.where(defined, np.maximum(ratio, 1.0), 1.0), g


def _pair_cluster_counts(
    clusters: ClusterCounts, i: IntArray, j: IntArray
) -> tuple[FloatArray | sp.sparray, FloatArray | sp.sparray]:
    """Per-cluster wins of ``i`` over ``j`` and decisive votes, shape ``(C, P)``, by one product.

    A selection matrix maps the flat cells ``(a * m + b) * 4 + outcome`` to pairs: ``i`` wins
    on the left with outcome ``a`` and on the right with outcome ``b``.
    """
    m, k, n_pairs = clusters.n_models, len(OUTCOMES), len(i)
    cols = np.arange(n_pairs)

    def select(cells: list[IntArray]) -> sp.csc_array:
        rows = np.concatenate(cells)
        vals = np.ones(len(rows))
        return sp.csc_array((vals, (rows, np.tile(cols, len(cells)))), shape=(m * m * k, n_pairs))

    ij, ji = (i * m + j) * k, (j * m + i) * k
    win = select([ij + A_WINS, ji + B_WINS])
    decisive = select([ij + A_WINS, ji + B_WINS, ij + B_WINS, ji + A_WINS])
    mat = clusters.matrix
    if sp.issparse(mat):
        return sp.csr_array(mat @ win), sp.csr_array(mat @ decisive)
    # Sparse on the left keeps the product in scipy (dense @ sparse would go through numpy).
    return np.asarray((win.T @ mat.T).T), np.asarray((decisive.T @ mat.T).T)


def two_way_design_effect(
    parts: tuple[ClusterCounts, ClusterCounts, ClusterCounts], i: IntArray, j: IntArray
) -> tuple[FloatArray, IntArray]:
    """Design effect of each pair's win rate under two-way clustering (rater and prompt).

    Parameters
    ----------
    parts : (ClusterCounts, ClusterCounts, ClusterCounts)
        Per-cluster counts by rater, by prompt and by their intersection (``rater+prompt``).
    i, j : ndarray of int
        Model indices of the pairs.

    Returns
    -------
    deff : ndarray, shape (P,)
        ``max(1, (V_rater + V_prompt - V_both) / V_binomial)``, each ``V`` the ratio-estimator
        variance of :func:`cluster_design_effect` for that clustering.
    n_clusters : ndarray of int64, shape (3, P)
        ``min(G_rater, G_prompt)`` (the degrees of freedom that two-way inference has; Cameron,
        Gelbach & Miller 2011, §2.3), then ``G_rater`` and ``G_prompt``.

    Notes
    -----
    Cameron, Gelbach & Miller (2011, JBES 29:238): the two-way variance adds the one-way ones
    and subtracts the intersection's, which the votes would otherwise count twice. The sum can
    fall below either one-way variance by chance; it is floored at their larger one.
    """
    effects = [cluster_design_effect(*_pair_cluster_counts(p, i, j)) for p in parts]
    (d_r, g_r), (d_p, g_p), (d_rp, _) = effects
    return combine_two_way(d_r, d_p, d_rp), np.stack([np.minimum(g_r, g_p), g_r, g_p])


def combine_two_way(d_r: FloatArray, d_p: FloatArray, d_rp: FloatArray) -> FloatArray:
    """Two-way design effect from the rater, prompt and intersection ones (CGM 2011), floored
    at the larger one-way effect and at 1."""
    return np.maximum(np.maximum(np.maximum(d_r, d_p), d_r + d_p - d_rp), 1.0)


def pairwise_table(
    counts: ComparisonCounts,
    *,
    ties: str = "exclude",
    level: float = 0.95,
    cluster: str | ClusterCounts | tuple[ClusterCounts, ...] | None = "rater",
    small_sample: bool = True,
) -> pd.DataFrame:
    """One row per compared unordered pair: counts, win rate, intervals and corrected tests.

    Parameters
    ----------
    counts : ComparisonCounts
        Vote counts.
    ties : {"exclude", "half"}, default "exclude"
        How ties enter ``win_rate`` and its intervals (see :func:`win_rate_matrix`). The binomial
        test always uses decisive votes only (a sign test; ties carry no direction).
    level : float, default 0.95
        Interval coverage.
    cluster : str, ClusterCounts, tuple or None, default "rater"
        Cluster unit of the adjusted columns: a unit counted in ``counts`` (``ValueError`` if
        not; ``"rater+prompt"`` is two-way clustering and needs ``rater``, ``prompt`` and
        ``rater+prompt`` counted), per-cluster counts given directly (e.g. pooled over
        questions; a tuple of three for two-way, as :func:`two_way_design_effect`), or
        ``"vote"`` / None for none (the adjusted columns then equal the vote-level ones).
    small_sample : bool, default True
        Adjusted intervals and tests on Korn & Graubard's (1998) degrees-of-freedom-adjusted
        effective counts (:func:`analysis.smallsample.df_adjusted_deff`, ``G - 1`` degrees of
        freedom with ``G`` the pair's clusters): with few raters the Kish counts alone give
        intervals that are too narrow. Without clusters (``"vote"``) it changes nothing.

    Returns
    -------
    pandas.DataFrame
        Columns ``model_a``, ``model_b`` (names in index order, not screen sides), ``wins``
        (of ``model_a``), ``losses``, ``ties``, ``both_bad``, ``n`` (all votes), ``n_decisive``,
        ``win_rate``; cluster-adjusted first: ``cluster`` (unit), ``n_clusters`` (clusters
        with a decisive vote on the pair; for two-way the fewer of raters and prompts, then
        ``n_raters`` and ``n_prompts`` columns), ``deff`` (:func:`cluster_design_effect`), ``n_eff``
        (``n_decisive / deff``), ``deff_t`` (the divisor the adjusted columns use: ``deff``
        with the small-sample factor, ``nan`` when fewer than two clusters voted on the pair,
        which leaves the adjusted columns ``nan``: no interval without clusters), ``wilson_low_adj``, ``wilson_high_adj``, ``cp_low_adj``,
        ``cp_high_adj``, ``p_value_adj``, ``p_holm_adj``; then vote-level (votes independent,
        FastChat parity): ``wilson_low``, ``wilson_high``, ``cp_low``, ``cp_high``, ``p_value``
        (exact binomial vs 50 %), ``p_holm`` (Holm-adjusted across the pairs in the table).

    Notes
    -----
    Wilson (1927); Clopper & Pearson (1934); exact binomial (sign) test; Holm (1979). Adjusted
    columns: the interval's successes and trials and the test's wins and decisive votes are
    divided by the pair's design effect (Kish 1965 effective sample size, as for survey
    proportions: Korn & Graubard 1998 for Clopper–Pearson with an effective ``n``); the
    non-integer counts enter through the beta quantiles and the incomplete-beta binomial tail
    (:func:`binomial_test_half`), not rounded. The design effect is the decisive-vote one also
    under ``ties="half"``.
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
    if cluster == RATER_PROMPT:
        cluster = tuple(counts.cluster(u) for u in ("rater", "prompt", RATER_PROMPT))
    elif isinstance(cluster, str) and cluster != "vote":
        cluster = counts.cluster(cluster)
    by_unit = {}
    if isinstance(cluster, tuple):
        unit = RATER_PROMPT
        deff, g = two_way_design_effect(cluster, i, j)
        n_clusters, by_unit = g[0], {"n_raters": g[1], "n_prompts": g[2]}
    elif isinstance(cluster, ClusterCounts):
        unit = cluster.unit
        deff, n_clusters = cluster_design_effect(*_pair_cluster_counts(cluster, i, j))
    else:  # votes are their own clusters: no adjustment
        unit, deff, n_clusters = "vote", np.ones(len(i)), (w + lo).astype(np.int64)
    d_t = deff
    if small_sample and unit != "vote":
        d_t = df_adjusted_deff(deff, n_clusters, level)
    wl_a, wh_a = wilson_interval(x / d_t, n / d_t, level)
    cl_a, ch_a = clopper_pearson_interval(x / d_t, n / d_t, level)
    p_a = binomial_test_half(w / d_t, (w + lo) / d_t)
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
            "cluster": unit,
            "n_clusters": n_clusters,
            **by_unit,
            "deff": deff,
            "n_eff": (w + lo) / deff,
            "deff_t": d_t,
            "wilson_low_adj": wl_a,
            "wilson_high_adj": wh_a,
            "cp_low_adj": cl_a,
            "cp_high_adj": ch_a,
            "p_value_adj": p_a,
            "p_holm_adj": holm_adjust(p_a),
            "wilson_low": wl,
            "wilson_high": wh,
            "cp_low": cl,
            "cp_high": ch,
            "p_value": p,
            "p_holm": holm_adjust(p),
        }
    )
