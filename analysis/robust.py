"""Cluster-robust (sandwich) covariance of Bradley–Terry estimates, from per-cluster counts.

The score of one vote depends only on its cell ``(left, right, outcome)``, so the score summed
over a cluster is ``cluster_counts @ cell_scores`` — one matrix product, no loop over votes. With
``A`` the observed information, the covariance is

    V = A^+ (G / (G - 1) * sum_g s_g s_g^T) A^+

(Liang & Zeger 1986; White 1980), using the Moore–Penrose inverse because ``theta`` is identified
only up to a constant (the result is the covariance of the sum-to-zero ``theta``). Two-way
clustering by rater and prompt follows Cameron, Gelbach & Miller (2011, JBES 29:238):
``V_rater + V_prompt - V_rater∩prompt``, with negative eigenvalues clipped to zero.

Comparing with the model-based ``A^+`` gives the design effect of clustering and an effective
number of independent votes (Kish 1965).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from analysis.bt import (
    DEFAULT_RIDGE,
    ELO_SCALE,
    _pair_terms,
    fit_bt_batch,
    pair_design,
    pair_stats,
)
from analysis.counts import ComparisonCounts
from analysis.dist import norm_sf
from analysis.frame import A_WINS, B_WINS, TIE
from analysis.modes import MODEL, PROMPT, RATER, RATER_PROMPT, VOTE
from analysis.types import FloatArray
from analysis.winrate import binomial_test_half

#: Covariance types: model-based, vote-level (HC0), one-way cluster, or two-way (CGM 2011).
ROBUST_UNITS: tuple[str, ...] = (MODEL, VOTE, RATER, PROMPT, RATER_PROMPT)


@dataclass(frozen=True)
class RobustFit:
    """Bradley–Terry estimate with a (cluster-)robust covariance.

    Attributes
    ----------
    models : tuple of str
        Model names.
    params : tuple of str
        Names of the parameter vector: models' ``theta``, then ``position`` if fitted, then
        ``log_nu`` with Davidson ties.
    estimate : ndarray, shape (p,)
        Estimates (``theta`` sums to zero).
    cov : ndarray, shape (p, p)
        Covariance (natural-log scale) of ``estimate`` under ``cluster``.
    cov_model : ndarray, shape (p, p)
        Model-based covariance (inverse information), for design effects.
    cluster : str
        ``model``, ``vote``, ``rater``, ``prompt`` or ``rater+prompt`` (two-way).
    n_clusters : int or tuple of int
        Clusters used.
    n_votes : int
        Votes in the fit (both_bad excluded).
    """

    models: tuple[str, ...]
    params: tuple[str, ...]
    estimate: FloatArray
    cov: FloatArray
    cov_model: FloatArray
    cluster: str
    n_clusters: int | tuple[int, ...]
    n_votes: int

    @property
    def theta(self) -> FloatArray:
        """Log-strengths (sum to zero)."""
        return self.estimate[: len(self.models)]

    @property
    def theta_cov(self) -> FloatArray:
        """Covariance of ``theta``."""
        m = len(self.models)
        return self.cov[:m, :m]

    def rating_se(self) -> FloatArray:
        """Standard errors of the Elo-scale ratings (centred at their mean)."""
        return ELO_SCALE * np.sqrt(np.clip(np.diag(self.theta_cov), 0, None))

    def design_effect(self) -> FloatArray:
        """Per-model ratio of robust to model-based variance of ``theta``, floored at 1.

        A ratio below 1 would claim the clustered votes are worth more than independent ones;
        with few clusters the sandwich is noisy enough to give one, and negative within-rater
        correlation is not a plausible reason (as :func:`analysis.winrate.cluster_design_effect`).
        """
        m = len(self.models)
        with np.errstate(invalid="ignore", divide="ignore"):
            ratio = np.diag(self.cov)[:m] / np.diag(self.cov_model)[:m]
        return np.where(np.isfinite(ratio), np.maximum(ratio, 1.0), ratio)

    def effective_votes(self) -> float:
        """Votes divided by the mean design effect: never more than the votes themselves."""
        deff = float(np.nanmean(self.design_effect()))
        return self.n_votes / deff if deff >= 1 else float("nan")


def cell_scores(
    theta: FloatArray,
    *,
    delta: float = -np.inf,
    gamma: float = 0.0,
    tie_mode: str = "davidson",
    position: bool = False,
) -> FloatArray:
    """Score (gradient of one vote's log-likelihood) for every cell ``(left, right, outcome)``.

    Parameters
    ----------
    theta : ndarray, shape (m,)
        Log-strengths.
    delta : float
        ``log nu`` (``-inf`` without Davidson ties).
    gamma : float
        Left-position log-odds (used when ``position``).
    tie_mode : {"davidson", "half", "exclude"}
        Tie treatment of the fit.
    position : bool
        Whether the position parameter is part of the vector.

    Returns
    -------
    ndarray, shape (m * m * 4, p)
        Scores with respect to ``[theta, gamma?, delta?]``; zero rows for both_bad votes.

    Notes
    -----
    Derivatives of the Davidson (1970) likelihood; see :mod:`analysis.bt` for the model.
    """
    m = len(theta)
    a, b = (g.ravel() for g in np.indices((m, m)))
    d = theta[a] - theta[b] + (gamma if position else 0.0)
    davidson = tie_mode == "davidson" and np.isfinite(delta)
    _, pw, pl, pt = _pair_terms(d[None], np.array([delta if davidson else -np.inf]))
    pw, pl, pt = pw[0], pl[0], pt[0]
    dlog = (pw - pl) / 2
    s_d = np.zeros((m * m, 4))
    s_d[:, A_WINS] = 0.5 - dlog
    s_d[:, B_WINS] = -0.5 - dlog
    if tie_mode == "davidson":
        s_d[:, TIE] = -dlog
    elif tie_mode == "half":
        s_d[:, TIE] = -dlog  # half a win and half a loss
    p = m + int(position) + int(davidson)
    out = np.zeros((m * m, 4, p))
    X = np.zeros((m * m, m))
    X[np.arange(m * m), a] += 1.0
    X[np.arange(m * m), b] -= 1.0
    out[:, :, :m] = s_d[:, :, None] * X[:, None, :]
    if position:
        out[:, :, m] = s_d
    if davidson:
        out[:, A_WINS, -1] = -pt
        out[:, B_WINS, -1] = -pt
        out[:, TIE, -1] = 1 - pt
    if tie_mode == "exclude":
        out[:, TIE, :] = 0.0
    return out.reshape(m * m * 4, p)


def _pinv_sym(a: FloatArray) -> FloatArray:
    return np.linalg.pinv((a + a.T) / 2, hermitian=True)


def _meat(scores: FloatArray, n_clusters: int) -> FloatArray:
    g = max(n_clusters, 2)
    return g / (g - 1) * scores.T @ scores


def robust_fit(
    counts: ComparisonCounts,
    *,
    cluster: str = "rater",
    tie_mode: str = "davidson",
    position: bool = False,
    ridge: float = DEFAULT_RIDGE,
) -> RobustFit:
    """Bradley–Terry fit with cluster-robust (sandwich) covariance.

    Parameters
    ----------
    counts : ComparisonCounts
        Counts; per-cluster tables are needed for the chosen unit (``rater``, ``prompt``;
        ``rater+prompt`` needs ``rater``, ``prompt`` and ``rater+prompt``).
    cluster : {"rater", "prompt", "rater+prompt", "vote", "model"}, default "rater"
        ``rater``/``prompt``: one-way clusters (Liang & Zeger 1986); ``rater+prompt``: two-way
        (Cameron, Gelbach & Miller 2011); ``vote``: heteroskedasticity-robust HC0 (White 1980);
        ``model``: inverse information only.
    tie_mode : {"davidson", "half", "exclude"}
        As in :func:`analysis.bt.bt_ratings`.
    position : bool, default False
        Include the left-position parameter.
    ridge : float
        Ridge of the point fit.

    Returns
    -------
    RobustFit
        Estimate, robust and model-based covariances.

    Notes
    -----
    The small-sample factor ``G / (G - 1)`` is applied per clustering (Cameron, Gelbach & Miller
    2008 discuss few-cluster corrections; with fewer than ~30 raters prefer the bootstrap).
    """
    if cluster not in ROBUST_UNITS:
        raise ValueError(
            f"cluster must be one of {', '.join(map(repr, ROBUST_UNITS))}; got {cluster!r}"
        )
    m = counts.n_models
    design = pair_design(m, position=position)
    w, l_, t = pair_stats(counts.table[None], design, tie_mode)
    fit = fit_bt_batch(w, l_, t, design, davidson=tie_mode == "davidson", ridge=ridge)
    theta, delta, gamma = fit.theta[0], float(fit.delta[0]), float(fit.gamma[0])
    davidson = tie_mode == "davidson" and np.isfinite(delta)
    scores = cell_scores(theta, delta=delta, gamma=gamma, tie_mode=tie_mode, position=position)
    flat = counts.table.ravel().astype(np.float64)
    # Information = sum over votes of score outer products' expectation; computed as the
    # negative Hessian from the fit plus the delta block, via expected scores per cell.
    info = _information(theta, delta, gamma, flat, m, tie_mode, position)
    bread = _pinv_sym(info)
    names = [*counts.models] + (["position"] if position else []) + (["log_nu"] if davidson else [])
    if cluster == "model":
        meat, n_cl = info, 0
    elif cluster == "vote":
        meat, n_cl = (scores * flat[:, None]).T @ scores, counts.n_votes
    elif cluster == "rater+prompt":
        parts, sizes = [], []
        for unit in ("rater", "prompt", "rater+prompt"):
            per = counts.cluster(unit)
            s = _cluster_scores(per.matrix, scores)
            parts.append(_meat(s, per.n_clusters))
            sizes.append(per.n_clusters)
        meat = parts[0] + parts[1] - parts[2]
        n_cl = tuple(sizes)
    else:
        per = counts.cluster(cluster)
        meat, n_cl = _meat(_cluster_scores(per.matrix, scores), per.n_clusters), per.n_clusters
    cov = bread @ meat @ bread
    if cluster == "rater+prompt":  # CGM (2011): clip negative eigenvalues of the two-way sum
        vals, vecs = np.linalg.eigh((cov + cov.T) / 2)
        cov = (vecs * np.clip(vals, 0, None)) @ vecs.T
    est = np.concatenate([theta, [gamma] if position else [], [delta] if davidson else []])
    n_fit = int(w.sum() + l_.sum() + (t.sum() if tie_mode == "davidson" else 0))
    return RobustFit(
        models=counts.models,
        params=tuple(names),
        estimate=est,
        cov=cov,
        cov_model=bread,
        cluster=cluster,
        n_clusters=n_cl,
        n_votes=n_fit,
    )


def _cluster_scores(matrix: object, scores: FloatArray) -> FloatArray:
    return np.asarray(matrix @ scores)


def _information(
    theta: FloatArray,
    delta: float,
    gamma: float,
    flat: FloatArray,
    m: int,
    tie_mode: str,
    position: bool,
) -> FloatArray:
    """Observed information as the count-weighted sum of per-cell expected score outer products.

    For the exponential-family-like Davidson likelihood the Hessian does not depend on the
    outcome, so ``-H = sum_cells n_cell * Var(score | cell)``; this reuses :func:`cell_scores`.
    """
    scores = cell_scores(theta, delta=delta, gamma=gamma, tie_mode=tie_mode, position=position)
    p = scores.shape[1]
    s = scores.reshape(m * m, 4, p)
    n_cell = flat.reshape(m * m, 4)
    a, b = (g.ravel() for g in np.indices((m, m)))
    d = theta[a] - theta[b] + (gamma if position else 0.0)
    davidson = tie_mode == "davidson" and np.isfinite(delta)
    _, pw, pl, pt = _pair_terms(d[None], np.array([delta if davidson else -np.inf]))
    probs = np.stack([pw[0], pl[0], pt[0]], axis=1)  # outcome probabilities of a, b, tie
    if tie_mode == "half":
        # Half-tie pseudo-likelihood: a tie contributes half a win and half a loss, so the
        # information counts ties as decisive votes (probabilities pw, pl only).
        n_eff = n_cell[:, A_WINS] + n_cell[:, B_WINS] + n_cell[:, TIE]
        probs = probs[:, :2] / probs[:, :2].sum(axis=1, keepdims=True)
        s3 = s[:, :2, :]
    elif tie_mode == "exclude":
        n_eff = n_cell[:, A_WINS] + n_cell[:, B_WINS]
        probs = probs[:, :2] / probs[:, :2].sum(axis=1, keepdims=True)
        s3 = s[:, :2, :]
    else:
        n_eff = n_cell[:, :3].sum(axis=1)
        s3 = s[:, :3, :]
    mean = np.einsum("ck,ckp->cp", probs, s3)
    centred = s3 - mean[:, None, :]
    return np.einsum("c,ck,ckp,ckq->pq", n_eff, probs, centred, centred)


@dataclass(frozen=True)
class PositionEffect:
    """Left/right presentation bias.

    Attributes
    ----------
    left_votes, right_votes : int
        Decisive votes for the left and the right image.
    left_rate : float
        ``left_votes / (left_votes + right_votes)``.
    p_value : float
        Exact two-sided binomial test of ``left_rate = 1/2``.
    gamma : float
        Left-position log-odds from the Bradley–Terry model with a position term.
    gamma_se : float
        Its (cluster-robust) standard error.
    gamma_p : float
        Two-sided Wald p-value of ``gamma = 0``.
    elo_points : float
        ``gamma`` on the Elo scale.
    cluster : str
        Clustering of ``gamma_se``.
    """

    left_votes: int
    right_votes: int
    left_rate: float
    p_value: float
    gamma: float
    gamma_se: float
    gamma_p: float
    elo_points: float
    cluster: str


def position_effect(
    counts: ComparisonCounts, *, cluster: str = "rater", tie_mode: str = "davidson"
) -> PositionEffect:
    """Test for a left/right bias: raw left-vote rate and the BT position parameter.

    Parameters
    ----------
    counts : ComparisonCounts
        Counts (with per-cluster tables for ``cluster``).
    cluster : str, default "rater"
        Clustering of the standard error of ``gamma`` (see :func:`robust_fit`).
    tie_mode : str
        Tie treatment of the model fit.

    Returns
    -------
    PositionEffect
        Left-vote rate with an exact binomial test, and ``gamma`` with a robust Wald test.

    Notes
    -----
    The position parameter is the "home advantage" of Bradley–Terry models (Agresti 2002,
    sec. 10.6); the raw rate is only interpretable when pairs are shown in both orders equally
    often, which the model-based ``gamma`` does not require.
    """
    t = counts.table
    left, right = int(t[:, :, A_WINS].sum()), int(t[:, :, B_WINS].sum())
    p_raw = float(binomial_test_half(left, left + right)) if left + right > 0 else float("nan")
    fit = robust_fit(counts, cluster=cluster, tie_mode=tie_mode, position=True)
    k = fit.params.index("position")
    g, se = float(fit.estimate[k]), float(np.sqrt(max(fit.cov[k, k], 0.0)))
    p_g = float(2 * norm_sf(abs(g) / se)) if se > 0 else float("nan")
    return PositionEffect(
        left_votes=left,
        right_votes=right,
        left_rate=left / (left + right) if left + right else float("nan"),
        p_value=float(p_raw),
        gamma=g,
        gamma_se=se,
        gamma_p=p_g,
        elo_points=float(ELO_SCALE * g),
        cluster=cluster,
    )
