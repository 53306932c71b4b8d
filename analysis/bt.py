"""Bradley–Terry ratings by Newton's method on count tensors, batched over replicates.

Model (Bradley & Terry 1952; ties after Davidson 1970): with log-strengths ``theta`` and
``d = theta_i - theta_j (+ gamma if i was shown on the left)``,

    P(i beats j) = e^{d/2} / D,   P(j beats i) = e^{-d/2} / D,   P(tie) = nu / D,
    D = e^{d/2} + e^{-d/2} + nu,

so ``nu = 0`` is the plain Bradley–Terry model. The log-likelihood of a pair depends on ``d`` and
``delta = log nu`` only, it is concave in ``(theta, delta, gamma)`` and its gradient and Hessian
have closed forms, so Newton's method (Hunter 2004 discusses MM and Newton for these models)
converges in a handful of steps. Every array carries a leading replicate axis ``B``: a bootstrap
fits all replicates in one batched Newton iteration (``numpy.linalg.solve`` on ``(B, q, q)``).

Ratings are reported on the Elo scale ``1000 + 400 / ln(10) * theta`` with ``theta`` summing to 0,
or with an anchor model fixed at 1000 (as Chatbot Arena does, Chiang et al. 2024).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from analysis.counts import ComparisonCounts
from analysis.frame import A_WINS, B_WINS, TIE
from analysis.modes import DAVIDSON, DEFAULT_TIE_MODE, EXCLUDE, HALF, TIE_MODES
from analysis.types import FloatArray, IntArray, OutcomeTensor, Theta, ThetaBatch

#: Elo points per unit of natural-log strength: 400 / ln(10).
ELO_SCALE: float = 400.0 / np.log(10.0)
#: Rating given to the mean model (or to the anchor model).
ELO_BASE: float = 1000.0
#: Default ridge on theta. It makes every fit finite (a model that never wins, a disconnected
#: comparison graph) while moving estimates on real data by far less than their standard error;
#: it has the role of FastChat's ``LogisticRegression(C=1e6)``.
DEFAULT_RIDGE: float = 1e-6


@dataclass(frozen=True)
class PairDesign:
    """Which comparisons the fit sees: one row per (ordered or unordered) model pair.

    ``X[p] = e_i - e_j`` (plus a last column equal to 1 when the position term is fitted, with
    ``i`` the left model) so that the linear predictor is ``d = X @ [theta, gamma]``.
    """

    i: IntArray
    j: IntArray
    X: FloatArray
    n_models: int
    position: bool


def pair_design(n_models: int, *, position: bool = False) -> PairDesign:
    """Design of the pairwise comparisons among ``n_models`` models.

    Parameters
    ----------
    n_models : int
        Number of models ``m``.
    position : bool, default False
        If True, rows are ordered pairs ``(left, right)`` including ``left == right`` and a
        position column is added; otherwise rows are unordered pairs ``i < j``.

    Returns
    -------
    PairDesign
        Pair indices and the design matrix.
    """
    m = n_models
    if position:
        i, j = (g.ravel() for g in np.indices((m, m)))
    else:
        i, j = np.triu_indices(m, k=1)
    p = len(i)
    X = np.zeros((p, m + int(position)))
    X[np.arange(p), i] += 1.0
    X[np.arange(p), j] -= 1.0
    if position:
        X[:, m] = 1.0
    return PairDesign(
        i=i.astype(np.int64), j=j.astype(np.int64), X=X, n_models=m, position=position
    )


def pair_stats(
    tensor: np.ndarray, design: PairDesign, tie_mode: str = DEFAULT_TIE_MODE
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Wins, losses and ties per design row from ``(..., m, m, 4)`` outcome tensors.

    Parameters
    ----------
    tensor : ndarray, shape (..., m, m, 4)
        Outcome counts ``[a, b, outcome]`` (``a`` = left), possibly batched.
    design : PairDesign
        Rows to produce.
    tie_mode : {"davidson", "half", "exclude"}
        ``half`` moves half of each tie to either side (FastChat parity); ``exclude`` drops ties.

    Returns
    -------
    w, l, t : ndarray, shape (..., P)
        Wins of ``design.i``, wins of ``design.j`` and ties. ``both_bad`` is never used.
    """
    _check_tie_mode(tie_mode)
    t4 = np.asarray(tensor, dtype=np.float64)
    i, j = design.i, design.j
    if design.position:
        w = t4[..., i, j, A_WINS]
        l_ = t4[..., i, j, B_WINS]
        t = t4[..., i, j, TIE]
    else:
        w = t4[..., i, j, A_WINS] + t4[..., j, i, B_WINS]
        l_ = t4[..., i, j, B_WINS] + t4[..., j, i, A_WINS]
        t = t4[..., i, j, TIE] + t4[..., j, i, TIE]
    if tie_mode == HALF:
        w, l_, t = w + t / 2, l_ + t / 2, np.zeros_like(t)
    elif tie_mode == EXCLUDE:
        t = np.zeros_like(t)
    return w, l_, t


def _check_tie_mode(tie_mode: str) -> None:
    if tie_mode not in TIE_MODES:
        raise ValueError(
            f"tie_mode must be one of {', '.join(map(repr, TIE_MODES))}; got {tie_mode!r}"
        )


def _pair_terms(
    d: FloatArray, delta: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """``log D`` and the three outcome probabilities, overflow-safe (three exps per pair)."""
    half = d / 2
    dl = delta[:, None]
    top = np.maximum(np.abs(half), dl)
    e_w = np.exp(half - top)
    e_l = np.exp(-half - top)
    e_t = np.exp(dl - top)
    s = e_w + e_l + e_t
    inv = 1.0 / s
    return top + np.log(s), e_w * inv, e_l * inv, e_t * inv


@dataclass(frozen=True)
class BatchFit:
    """Raw result of :func:`fit_bt_batch` (natural-log scale, sum-to-zero theta)."""

    theta: ThetaBatch
    delta: FloatArray
    gamma: FloatArray
    loglik: FloatArray
    information: np.ndarray
    n_iter: int
    converged: np.ndarray


def fit_bt_batch(
    w: FloatArray,
    l: FloatArray,  # noqa: E741 - the paper's notation
    t: FloatArray,
    design: PairDesign,
    *,
    davidson: bool = True,
    ridge: float = DEFAULT_RIDGE,
    max_iter: int = 200,
    tol: float = 1e-10,
    init: FloatArray | None = None,
    linear: FloatArray | None = None,
) -> BatchFit:
    """Fit Bradley–Terry (or Davidson) models to ``B`` count sets at once by damped Newton.

    Parameters
    ----------
    w, l, t : ndarray, shape (B, P)
        Wins of ``design.i``, wins of ``design.j`` and ties, per replicate and design row.
    design : PairDesign
        Pair design from :func:`pair_design`.
    davidson : bool, default True
        Fit Davidson's (1970) tie parameter ``nu = exp(delta)``; a replicate without ties gets
        ``nu = 0``. When False ties must already be folded into ``w``/``l`` or dropped.
    ridge : float, default 1e-6
        Gaussian penalty ``ridge / 2 * ||theta||^2`` (and on the position effect ``gamma``
        when fitted); must be positive (see :data:`DEFAULT_RIDGE`).
    max_iter : int, default 200
        Newton iterations at most (steps are capped, so a never-winning model needs more).
    tol : float, default 1e-10
        Convergence when the largest parameter change of every replicate is below ``tol``.
    init : ndarray, shape (m,) or (B, m), optional
        Starting log-strengths (a bootstrap starts from the point estimate: fewer steps).
    linear : ndarray, shape (B, m), optional
        Adds ``linear[b] @ theta`` to each replicate's objective: the Lagrangian of a profile
        likelihood (:mod:`analysis.profile`). Rows must sum to zero (contrasts), like ``theta``.

    Returns
    -------
    BatchFit
        ``theta`` of shape ``(B, m)`` summing to zero, ``delta`` and ``gamma`` of shape ``(B,)``
        (``-inf``/0 when not fitted), log-likelihood, observed information of ``[theta, gamma]``
        ``(B, q, q)``, iterations and a per-replicate convergence flag.

    Notes
    -----
    Newton's method for Bradley–Terry models is discussed by Hunter (2004, Ann. Statist. 32:384);
    the tie model is Davidson (1970, JASA 65:317). The sum-to-zero constraint is imposed with the
    penalty ``c / 2 * (sum theta)^2``, which leaves the optimum unchanged (the likelihood is
    translation invariant) but makes each Newton system well conditioned.
    """
    if ridge <= 0:
        raise ValueError(f"ridge must be positive (it keeps every fit finite); got {ridge}")
    w = np.atleast_2d(np.asarray(w, dtype=np.float64))
    l = np.atleast_2d(np.asarray(l, dtype=np.float64))  # noqa: E741
    t = np.atleast_2d(np.asarray(t, dtype=np.float64))
    B, _ = w.shape
    m = design.n_models
    X = design.X
    q = X.shape[1]
    n = w + l + t
    diff = (w - l) / 2
    T = t.sum(axis=1)
    ties_on = davidson & (T > 0)
    total = n.sum(axis=1)
    # Only ties (a bootstrap replicate of a small group can draw them): nu's estimate is
    # infinite and its Newton row vanishes. Keep delta at its large starting value instead.
    free_delta = ties_on & (total > T)
    c = np.maximum(total / max(m, 1), 1.0)  # scale of the sum-to-zero penalty
    XX = np.einsum("pi,pj->pij", X, X).reshape(len(X), q * q)
    ones_m = np.zeros(q)
    ones_m[:m] = 1.0
    J = np.outer(ones_m, ones_m)
    lin = np.zeros((B, q))
    if linear is not None:
        lin[:, :m] = np.asarray(linear, dtype=np.float64)

    beta = np.zeros((B, q))
    frac = np.where(total > 0, T / np.maximum(total, 1), 0)
    delta = np.where(
        ties_on, np.log(np.maximum(2 * frac / np.maximum(1 - frac, 1e-12), 1e-12)), -np.inf
    )

    def evaluate(beta_: FloatArray, delta_: FloatArray) -> tuple[FloatArray, ...]:
        d = beta_ @ X.T
        log_d, pw, pl, pt = _pair_terms(d, delta_)
        tie_term = np.where(ties_on, T * np.where(ties_on, delta_, 0.0), 0.0)
        ll = (diff * d).sum(axis=1) + tie_term - (n * log_d).sum(axis=1)
        th = beta_[:, :m]
        # The ridge holds the position effect too: every left vote decisive for the left side
        # would otherwise leave gamma without a finite optimum and Newton's system singular.
        f = ll - ridge / 2 * (beta_ * beta_).sum(axis=1) - c / 2 * th.sum(axis=1) ** 2
        f = f + (beta_ * lin).sum(axis=1)
        return f, ll, pw, pl, pt

    if init is not None:
        beta[:, :m] = np.asarray(init, dtype=np.float64)[..., :m]
    f_old, ll, pw, pl, pt = evaluate(beta, delta)
    converged = np.zeros(B, dtype=bool)
    info = np.zeros((B, q, q))
    ridge_diag = ridge * np.eye(q)
    it = 0
    for it in range(1, max_iter + 1):  # noqa: B007 - iterations are reported
        g_d = diff - n * (pw - pl) / 2
        h_dd = -n * ((pw + pl) / 4 - (pw - pl) ** 2 / 4)
        th_sum = beta[:, :m].sum(axis=1)
        grad = g_d @ X - ridge * beta - (c * th_sum)[:, None] * ones_m + lin
        info = -(h_dd @ XX).reshape(B, q, q)
        # Davidson's delta joins as one more coordinate; a replicate without it gets a dummy row.
        npt = n * pt
        full_h = np.empty((B, q + 1, q + 1))
        full_h[:, :q, :q] = -info - ridge_diag - c[:, None, None] * J
        h_cross = np.where(free_delta[:, None], (npt * (pw - pl) / 2) @ X, 0.0)
        full_h[:, :q, q] = h_cross
        full_h[:, q, :q] = h_cross
        full_h[:, q, q] = np.where(free_delta, -(npt * (1 - pt)).sum(axis=1), -1.0)
        full_g = np.empty((B, q + 1))
        full_g[:, :q] = grad
        full_g[:, q] = np.where(free_delta, T - npt.sum(axis=1), 0.0)
        step = -np.linalg.solve(full_h, full_g[..., None])[..., 0]
        # Cap steps: far from the optimum (a model that never wins) Newton would overshoot.
        big = np.abs(step).max(axis=1)
        step *= np.minimum(1.0, 4.0 / np.maximum(big, 1e-300))[:, None]
        step[converged] = 0.0
        scale = np.ones(B)
        for _ in range(30):  # backtracking keeps each replicate's objective non-decreasing
            nb = beta + scale[:, None] * step[:, :q]
            nd = np.where(free_delta, delta + scale * step[:, q], delta)
            f_new, ll_new, pw, pl, pt = evaluate(nb, nd)
            bad = f_new < f_old - 1e-12 * np.abs(f_old)
            if not bad.any():
                break
            scale = np.where(bad, scale / 2, scale)
        beta, delta, f_old, ll = nb, nd, f_new, ll_new
        converged |= big * scale < tol
        if converged.all():
            break
    theta = beta[:, :m] - beta[:, :m].mean(axis=1, keepdims=True)
    gamma = beta[:, m] if design.position else np.zeros(B)
    loglik = ll
    return BatchFit(theta, delta, gamma, loglik, info, it, converged)


def to_elo(theta: Theta | ThetaBatch, anchor: int | None = None) -> FloatArray:
    """Map log-strengths to the Elo scale: ``1000 + 400 / ln(10) * theta``.

    Parameters
    ----------
    theta : ndarray, shape (m,) or (B, m)
        Natural-log strengths.
    anchor : int, optional
        Index of a model to pin at 1000; otherwise ``theta`` is centred (mean model = 1000).

    Returns
    -------
    ndarray
        Ratings on the Elo scale (Elo 1978; the mapping used by Chiang et al. 2024).
    """
    th = np.asarray(theta, dtype=np.float64)
    ref = th[..., [anchor]] if anchor is not None else th.mean(axis=-1, keepdims=True)
    return ELO_BASE + ELO_SCALE * (th - ref)


@dataclass(frozen=True)
class BTRatings:
    """Bradley–Terry ratings of one set of votes.

    Attributes
    ----------
    models : tuple of str
        Model names (index of every array).
    theta : ndarray, shape (m,)
        Log-strengths, summing to zero.
    ratings : ndarray, shape (m,)
        Elo-scale ratings (anchor model at 1000, else mean 1000).
    tie_mode : str
        ``davidson``, ``half`` or ``exclude``.
    tie_nu : float or None
        Davidson's tie parameter ``nu`` (None unless ``tie_mode == DAVIDSON``).
    position : float or None
        Left-position log-odds ``gamma`` when fitted.
    anchor : str or None
        Anchor model.
    loglik : float
        Log-likelihood at the estimate.
    n_iter : int
        Newton iterations.
    converged : bool
        Whether Newton's method met its tolerance.
    ridge : float
        Ridge used.
    """

    models: tuple[str, ...]
    theta: Theta
    ratings: FloatArray
    tie_mode: str
    tie_nu: float | None
    position: float | None
    anchor: str | None
    loglik: float
    n_iter: int
    converged: bool
    ridge: float

    def as_dict(self) -> dict[str, float]:
        """Ratings keyed by model name."""
        return dict(zip(self.models, self.ratings.tolist(), strict=True))


def anchor_index(models: Sequence[str], anchor: str | None) -> int | None:
    """Index of ``anchor`` in ``models`` (None stays None); ``ValueError`` if it is unknown."""
    if anchor is None:
        return None
    if anchor not in models:
        raise ValueError(f"anchor model {anchor!r} is not among the models {list(models)}")
    return list(models).index(anchor)


def bt_ratings(
    counts: ComparisonCounts | OutcomeTensor,
    *,
    models: Sequence[str] | None = None,
    tie_mode: str = DEFAULT_TIE_MODE,
    anchor: str | None = None,
    position: bool = False,
    ridge: float = DEFAULT_RIDGE,
) -> BTRatings:
    """Bradley–Terry maximum-likelihood ratings on the Elo scale.

    Parameters
    ----------
    counts : ComparisonCounts or ndarray of shape (m, m, 4)
        Vote counts (``table[a, b, outcome]``, ``a`` = left).
    models : sequence of str, optional
        Model names when ``counts`` is a bare tensor (default ``"0"``, ``"1"``, ...).
    tie_mode : {"davidson", "half", "exclude"}, default "davidson"
        ``davidson``: ties are a third outcome with Davidson's (1970) parameter ``nu``;
        ``half``: a tie is half a win for each side (FastChat / Chatbot Arena parity);
        ``exclude``: ties are dropped. ``both_bad`` votes are never part of the fit.
    anchor : str, optional
        Model pinned at 1000; by default ratings average 1000.
    position : bool, default False
        Also fit a left-position advantage ``gamma`` (home advantage in the sense of
        Agresti 2002, sec. 10.6); ratings then hold left/right presentation fixed.
    ridge : float, default 1e-6
        Penalty keeping fits finite for models that never win or lose and for disconnected
        comparison graphs. Such ratings have no maximum-likelihood estimate and the ridge-held
        value means nothing: :mod:`analysis.separation` detects them and
        :func:`analysis.report.analyze` reports them as unbounded.

    Returns
    -------
    BTRatings
        Ratings, log-strengths and fit details.

    Notes
    -----
    Bradley & Terry (1952, Biometrika 39:324); ties by Davidson (1970, JASA 65:317); Newton's
    method as discussed by Hunter (2004, Ann. Statist. 32:384). The Elo-scale mapping
    ``1000 + 400 / ln(10) * theta`` is the one used by Chatbot Arena (Chiang et al. 2024).
    """
    if isinstance(counts, ComparisonCounts):
        models, tensor = counts.models, counts.table
    else:
        tensor = np.asarray(counts)
        if tensor.ndim != 3 or tensor.shape[0] != tensor.shape[1] or tensor.shape[2] != 4:
            raise ValueError(f"counts must have shape (m, m, 4); got {tensor.shape}")
        models = tuple(models) if models is not None else tuple(str(k) for k in range(len(tensor)))
    design = pair_design(len(models), position=position)
    w, l_, t = pair_stats(tensor[None], design, tie_mode)
    fit = fit_bt_batch(w, l_, t, design, davidson=tie_mode == DAVIDSON, ridge=ridge)
    a_idx = anchor_index(models, anchor)
    theta = fit.theta[0]
    nu = float(np.exp(fit.delta[0])) if tie_mode == DAVIDSON else None
    return BTRatings(
        models=tuple(models),
        theta=theta,
        ratings=to_elo(theta, a_idx),
        tie_mode=tie_mode,
        tie_nu=nu,
        position=float(fit.gamma[0]) if position else None,
        anchor=anchor,
        loglik=float(fit.loglik[0]),
        n_iter=fit.n_iter,
        converged=bool(fit.converged[0]),
        ridge=ridge,
    )
