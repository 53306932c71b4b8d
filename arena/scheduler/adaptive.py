"""The ``adaptive`` rule: the model pair whose next vote most narrows the study's targets.

From the current Bradley–Terry fit (:mod:`arena.scheduler.fit`), one more vote on pair ``e``
(contrast ``x_e``, information ``w_e = p_e (1 - p_e)``) shrinks the variance of a target
difference ``c`` by ``w_e (c' S x_e)^2 / (1 + w_e x_e' S x_e)`` (Sherman–Morrison, ``S`` the
covariance). The rule adds these reductions over the targets, each weighted by its current
variance to the power :data:`WEIGHT_POWER`, and picks the pair with the largest sum. The weights
make this the steepest descent of the power mean ``sum(v ** (WEIGHT_POWER + 1))`` of the
variances, a smooth stand-in for the widest interval (a study stops when its last interval is
narrow enough); ``benchmarks/scheduling.py`` measured power 4 saving more votes than 1, 2 or 8.
It is the greedy sequential design of Chatbot Arena (Chiang et al. 2024, section 5), aimed at
the widest target rather than the sum. The targets are the study's declared
comparisons, or every pairwise difference when it declares none.

Two guards keep the estimates honest and every model reachable:

- a *floor*: a share ``floor`` of the probability is spread evenly over every pair the rater can
  still be shown, so each has probability at least ``floor / pairs`` and the inverse-probability
  weights (:mod:`analysis.ipw`) stay below ``pairs / floor``;
- *newcomers first*: a model whose standard error is more than :data:`NEWCOMER_RATIO` times the
  median model's (a model added in the middle of a study) gets every greedy pick, among its
  own pairs, until its interval has come down to the others'.
"""

from __future__ import annotations

import numpy as np

from arena.scheduler.fit import Fit

__all__ = ["NEWCOMER_RATIO", "WEIGHT_POWER", "gains", "newcomers", "pair_probabilities"]

#: A model whose standard error exceeds this multiple of the median model's is a newcomer.
NEWCOMER_RATIO = 2.0
#: Each target's variance reduction counts with weight ``variance ** WEIGHT_POWER``.
WEIGHT_POWER = 4.0


def gains(fit: Fit, x: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Weighted reduction of the targets' variances from one more vote on each pair.

    ``x`` (P, K): the pairs' contrast rows; ``targets`` (T, K): the target differences.
    """
    p = 1.0 / (1.0 + np.exp(-(x @ fit.theta)))
    w = p * (1.0 - p)
    sx = fit.cov @ x.T  # (K, P)
    reach = targets @ sx  # (T, P): c' S x_e
    variance = np.einsum("tk,kl,tl->t", targets, fit.cov, targets)
    own = np.einsum("pk,kp->p", x, sx)
    weight = (variance / variance.max()) ** WEIGHT_POWER  # scaled: the argmax is all that counts
    return w * (weight @ reach**2) / (1.0 + w * own)


def newcomers(fit: Fit) -> np.ndarray:
    """Boolean (K,): models whose standard error (against the mean strength) is more than
    :data:`NEWCOMER_RATIO` times the median model's."""
    k = len(fit.theta)
    centre = np.eye(k) - 1.0 / k
    se = np.sqrt(np.einsum("mk,kl,ml->m", centre, fit.cov, centre))
    return se > NEWCOMER_RATIO * np.median(se)


def pair_probabilities(
    fit: Fit,
    pairs: np.ndarray,
    x: np.ndarray,
    targets: np.ndarray,
    floor: float,
    eligible: np.ndarray | None = None,
) -> np.ndarray:
    """The probability of drawing each pair next.

    Parameters
    ----------
    fit
        The current strengths and covariance.
    pairs, x
        (P, 2) model indices and (P, K) contrast rows of every pair (:func:`pair_design`).
    targets
        (T, K) target differences (:func:`arena.scheduler.fit.contrasts`).
    floor
        Share of the probability spread evenly over the eligible pairs, in (0, 1].
    eligible
        (P,) booleans: pairs the rater can still be shown (default: all). At least one.

    Returns
    -------
    numpy.ndarray
        (P,) probabilities summing to 1, zero on ineligible pairs, at least ``floor / n`` on
        each of the ``n`` eligible ones; the rest is split evenly over the pairs of largest
        gain (ties are rare once there are votes, and common before any).
    """
    if not 0 < floor <= 1:
        # 0 would leave pairs that can never be drawn: no inverse-probability weight for them.
        raise ValueError(f"floor must be in (0, 1]; got {floor!r}.")
    ok = np.ones(len(pairs), dtype=bool) if eligible is None else np.asarray(eligible, bool)
    if not ok.any():
        raise ValueError("eligible must allow at least one pair; got none.")
    score = np.where(ok, gains(fit, x, targets), -np.inf)
    new = newcomers(fit)
    theirs = ok & (new[pairs[:, 0]] | new[pairs[:, 1]])
    if theirs.any():
        score = np.where(theirs, score, -np.inf)
    top = score.max()
    best = score >= top - 1e-12 * max(abs(top), 1e-300)
    out = np.where(ok, floor / ok.sum(), 0.0)
    return out + (1.0 - floor) * best / best.sum()
