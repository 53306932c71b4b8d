"""Bootstrap intervals for Bradley–Terry ratings, all replicates fitted in one batch.

A cluster bootstrap resamples whole clusters (raters by default) with replacement. Drawing a
cluster ``k`` times multiplies its votes by ``k``, so a replicate's counts are a weighted sum of
per-cluster count tensors: with weights ``W`` of shape ``(B, C)``, all replicates' counts are the
matrix product ``W @ cluster_counts``; rows of the vote table are never copied. All ``B``
replicates then go through one batched Newton fit (:func:`analysis.bt.fit_bt_batch`).

The vote-level bootstrap (resampling votes independently, as Chatbot Arena does; Chiang et al.
2024) is the special case of one vote per cluster: its replicate counts are one multinomial draw
over the outcome cells. It ignores that votes of one rater are correlated and is offered for
comparison.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from analysis.bt import (
    DEFAULT_RIDGE,
    PairDesign,
    anchor_index,
    fit_bt_batch,
    pair_design,
    pair_stats,
    to_elo,
)
from analysis.counts import ComparisonCounts
from analysis.modes import DAVIDSON, DEFAULT_TIE_MODE, VOTE
from analysis.rng import as_generator
from analysis.separation import (
    bounded_values,
    open_sides,
    percentile_interval,
    reachability,
    win_graph,
)
from analysis.types import FloatArray, ThetaBatch

# A bootstrap resamples any counted cluster unit, or votes (analysis.modes.VOTE).


def cluster_weights(
    n_clusters: int, n_boot: int, seed: int | np.random.Generator | None = 0
) -> FloatArray:
    """How often each cluster is drawn in each of ``n_boot`` resamples with replacement.

    Parameters
    ----------
    n_clusters : int
        Number of clusters ``C``.
    n_boot : int
        Number of replicates ``B``.
    seed : int or numpy.random.Generator
        Randomness source.

    Returns
    -------
    ndarray, shape (B, C)
        Multinomial(C, 1/C) counts: the weights of the nonparametric cluster bootstrap
        (Efron & Tibshirani 1993; Cameron, Gelbach & Miller 2008).
    """
    rng = as_generator(seed)
    draws = rng.integers(0, n_clusters, size=(n_boot, n_clusters))
    offset = (np.arange(n_boot) * n_clusters)[:, None]
    flat = np.bincount((draws + offset).ravel(), minlength=n_boot * n_clusters)
    return flat.reshape(n_boot, n_clusters).astype(np.float64)


def replicate_tensors(
    counts: ComparisonCounts,
    n_boot: int,
    *,
    cluster: str = "rater",
    seed: int | np.random.Generator | None = 0,
    weights: FloatArray | None = None,
) -> np.ndarray:
    """Outcome tensors of ``n_boot`` bootstrap replicates, shape ``(B, m, m, 4)``.

    Parameters
    ----------
    counts : ComparisonCounts
        Counts with per-cluster tables for ``cluster`` (unless ``cluster == "vote"``).
    n_boot : int
        Number of replicates.
    cluster : str, default "rater"
        Resampling unit: a counted cluster unit or ``"vote"``.
    seed : int or numpy.random.Generator
        Randomness source.
    weights : ndarray, shape (B, C), optional
        Cluster weights to use instead of drawing them (lets several subsets share one draw).

    Returns
    -------
    ndarray, shape (B, m, m, 4)
        Replicate counts ``weights @ per-cluster counts``.
    """
    rng = as_generator(seed)
    if cluster == VOTE:
        flat = counts.table.ravel().astype(np.float64)
        total = int(flat.sum())
        if total == 0:
            return np.zeros((n_boot, *counts.table.shape))
        draws = rng.multinomial(total, flat / total, size=n_boot).astype(np.float64)
        return draws.reshape(n_boot, *counts.table.shape)
    per = counts.cluster(cluster)
    if weights is None:
        weights = cluster_weights(per.n_clusters, n_boot, rng)
    return per.weighted(weights)


def replicate_pair_stats(
    counts: ComparisonCounts,
    design: PairDesign,
    n_boot: int,
    *,
    cluster: str = "rater",
    tie_mode: str = DEFAULT_TIE_MODE,
    seed: int | np.random.Generator | None = 0,
    weights: FloatArray | None = None,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Per-replicate wins, losses and ties on ``design`` rows, each of shape ``(B, P)``.

    Equal to ``pair_stats(replicate_tensors(...))`` but cheaper for dense cluster tables: the
    linear map from outcome cells to pair statistics is applied to the ``C`` cluster rows first,
    so the ``(B, C)`` weight product runs over ``3 P`` columns instead of ``4 m^2``.

    Parameters
    ----------
    counts, n_boot, cluster, seed, weights
        As in :func:`replicate_tensors`.
    design : PairDesign
        Pair design of the fit.
    tie_mode : str
        As in :func:`analysis.bt.pair_stats`.

    Returns
    -------
    w, l, t : ndarray, shape (B, P)
        Replicate sufficient statistics (Bradley & Terry 1952; Davidson 1970).
    """
    if cluster == VOTE or sp.issparse(counts.cluster(cluster).matrix):
        tensors = replicate_tensors(counts, n_boot, cluster=cluster, seed=seed, weights=weights)
        return pair_stats(tensors, design, tie_mode)
    per = counts.cluster(cluster)
    if weights is None:
        weights = cluster_weights(per.n_clusters, n_boot, seed)
    w, l_, t = pair_stats(per.tensor(), design, tie_mode)
    p = w.shape[1]
    stacked = np.concatenate([w, l_, t], axis=1)
    weights = np.asarray(weights, dtype=np.float64)
    # float32 halves the cost of the product and is exact here: weights and counts are integers
    # (half-ties are multiples of 1/2) and every replicate total stays far below 2**24.
    if np.all(weights == np.round(weights)) and weights.sum(axis=1).max() * stacked.sum() < 2**23:
        out = (weights.astype(np.float32) @ stacked.astype(np.float32)).astype(np.float64)
    else:
        out = weights @ stacked
    return out[:, :p], out[:, p : 2 * p], out[:, 2 * p :]


@dataclass(frozen=True)
class BootstrapRatings:
    """Bootstrap distribution of Bradley–Terry ratings.

    Attributes
    ----------
    models : tuple of str
        Model names.
    theta : ndarray, shape (B, m)
        Log-strengths per replicate (sum to zero).
    ratings : ndarray, shape (B, m)
        Elo-scale ratings per replicate (same anchor as the point estimate).
    ci_low, ci_high : ndarray, shape (m,)
        Percentile interval bounds; ``-inf`` / ``+inf`` when more than ``(1 - level) / 2`` of
        the replicates leave that side unbounded (separation, :mod:`analysis.separation`).
    level : float
        Interval coverage (0.95).
    cluster : str
        Resampling unit.
    n_boot : int
        Replicates.
    n_clusters : int
        Clusters resampled (votes when ``cluster == "vote"``).
    seed : int or None
        Seed when an integer was given.
    converged : float
        Share of replicates whose Newton fit converged.
    reach : ndarray of bool, shape (B, m, m), optional
        Reachability of each replicate's win graph (:func:`analysis.separation.reachability`).
    """

    models: tuple[str, ...]
    theta: ThetaBatch
    ratings: FloatArray
    ci_low: FloatArray
    ci_high: FloatArray
    level: float
    cluster: str
    n_boot: int
    n_clusters: int
    seed: int | None
    converged: float
    reach: np.ndarray | None = None

    def interval(self, values: FloatArray) -> tuple[FloatArray, FloatArray]:
        """Percentile interval of any statistic computed per replicate (first axis = B)."""
        a = (1 - self.level) / 2
        return np.quantile(values, a, axis=0), np.quantile(values, 1 - a, axis=0)


def bootstrap_ratings(
    counts: ComparisonCounts,
    *,
    n_boot: int = 1000,
    seed: int | np.random.Generator | None = 0,
    cluster: str = "rater",
    tie_mode: str = DEFAULT_TIE_MODE,
    anchor: str | None = None,
    position: bool = False,
    ridge: float = DEFAULT_RIDGE,
    level: float = 0.95,
    weights: FloatArray | None = None,
) -> BootstrapRatings:
    """Percentile bootstrap intervals for Bradley–Terry ratings, clustered by rater by default.

    Parameters
    ----------
    counts : ComparisonCounts
        Counts with per-cluster tables for ``cluster``.
    n_boot : int, default 1000
        Replicates ``B``.
    seed : int or numpy.random.Generator, default 0
        Randomness source; the same seed gives the same intervals.
    cluster : str, default "rater"
        Resampling unit: ``"rater"`` (raters with replacement, all their votes together),
        another counted unit such as ``"prompt"``, or ``"vote"`` (independent votes).
    tie_mode, anchor, position, ridge
        As in :func:`analysis.bt.bt_ratings`.
    level : float, default 0.95
        Interval coverage.
    weights : ndarray, shape (B, C), optional
        Cluster weights to reuse (e.g. the same rater draw for every question).

    Returns
    -------
    BootstrapRatings
        Replicates and percentile intervals.

    Notes
    -----
    Cluster (block) bootstrap: Efron & Tibshirani (1993), Cameron, Gelbach & Miller (2008,
    Rev. Econ. Stat. 90:414). Resampling raters respects that one rater's votes are correlated
    (taste, attention), which a vote-level bootstrap (Chiang et al. 2024) ignores.
    """
    if n_boot < 1:
        raise ValueError(f"n_boot must be at least 1; got {n_boot}")
    if weights is not None:
        n_boot = int(np.asarray(weights).shape[0])
    design = pair_design(counts.n_models, position=position)
    w, l_, t = replicate_pair_stats(
        counts, design, n_boot, cluster=cluster, tie_mode=tie_mode, seed=seed, weights=weights
    )
    # Warm start at the point estimate: replicates are near it, so Newton needs fewer steps.
    w0, l0, t0 = pair_stats(counts.table[None], design, tie_mode)
    start = fit_bt_batch(w0, l0, t0, design, davidson=tie_mode == DAVIDSON, ridge=ridge).theta
    # tol 1e-8 in theta is 2e-6 Elo points: far below any interval width, saves a Newton step.
    fit = fit_bt_batch(
        w, l_, t, design, davidson=tie_mode == DAVIDSON, ridge=ridge, init=start, tol=1e-8
    )
    a_idx = anchor_index(counts.models, anchor)
    ratings = to_elo(fit.theta, a_idx)
    # A replicate in which some model never lost (or never won) has no finite estimate; its
    # ridge-held value would make the percentile interval look precise, so it counts as +-inf.
    reach = reachability(win_graph(w, l_, t, design))
    ref = (
        np.ones(counts.n_models, dtype=bool)
        if a_idx is None
        else np.arange(counts.n_models) == a_idx
    )
    low, high = percentile_interval(*bounded_values(ratings, *open_sides(reach, ref)), level)
    n_clusters = counts.n_votes if cluster == VOTE else counts.cluster(cluster).n_clusters
    return BootstrapRatings(
        models=counts.models,
        theta=fit.theta,
        ratings=ratings,
        ci_low=low,
        ci_high=high,
        level=level,
        cluster=cluster,
        n_boot=n_boot,
        n_clusters=n_clusters,
        seed=seed if isinstance(seed, int) else None,
        converged=float(fit.converged.mean()),
        reach=reach,
    )
