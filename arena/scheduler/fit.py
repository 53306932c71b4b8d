"""The Bradley–Terry fit the adaptive rule steers by: small, dense and pure numpy.

Strengths are on the natural (logit) scale with a weak normal prior (a ridge), so that a model
without votes has a finite but wide interval, and the information matrix is always invertible.
The fit is a maximum a posteriori estimate by Newton's method (Hunter 2004 discusses the
likelihood; with a ridge it is strictly concave). It is refitted every few votes, off the vote's
path; between refits :func:`add_vote` folds each issued trial's expected information into the
covariance (Sherman–Morrison), so consecutive picks do not all go to one pair.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations

import numpy as np

__all__ = ["RIDGE", "Fit", "add_vote", "contrasts", "fit_strengths", "pair_design"]

#: Prior precision of every strength (prior sd 1 / sqrt(RIDGE) = 5 logits, ~870 Elo points):
#: weak against a few votes, yet enough to make a model without votes finite.
RIDGE = 0.04


@dataclass(frozen=True)
class Fit:
    """Strengths (natural scale) and their covariance, for the models of ``pair_design``."""

    theta: np.ndarray  # (K,)
    cov: np.ndarray  # (K, K)


def pair_design(n_models: int) -> tuple[np.ndarray, np.ndarray]:
    """Every unordered pair ``(i, j)``, ``i < j``, and its contrast row ``e_i - e_j``.

    Returns ``pairs`` (P, 2) and ``x`` (P, K) in :func:`itertools.combinations` order, which is
    the order of the sorted model names' pairs when the models are sorted.
    """
    pairs = np.array(list(combinations(range(n_models), 2)), dtype=np.int64).reshape(-1, 2)
    x = np.zeros((len(pairs), n_models))
    x[np.arange(len(pairs)), pairs[:, 0]] = 1.0
    x[np.arange(len(pairs)), pairs[:, 1]] = -1.0
    return pairs, x


def contrasts(n_models: int, targets: list[tuple[int, int]] | None) -> np.ndarray:
    """Rows ``e_a - e_b`` of the target differences; every pair when ``targets`` is empty."""
    if not targets:
        return pair_design(n_models)[1]
    out = np.zeros((len(targets), n_models))
    for row, (a, b) in enumerate(targets):
        out[row, a], out[row, b] = 1.0, -1.0
    return out


def fit_strengths(wins: np.ndarray, ridge: float = RIDGE, iterations: int = 50) -> Fit:
    """Maximum a posteriori Bradley–Terry strengths from a win matrix.

    Parameters
    ----------
    wins
        (K, K) array: ``wins[i, j]`` = votes where model i beat model j (a tie counts half to
        each side).
    ridge
        Precision of the normal prior on every strength.
    iterations
        Most Newton steps; stops earlier once a step moves no strength by more than 1e-10.

    Returns
    -------
    Fit
        Strengths and the inverse of the observed information (plus prior) at them.
    """
    wins = np.asarray(wins, dtype=float)
    k = wins.shape[0]
    n = wins + wins.T
    theta = np.zeros(k)
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(theta[None, :] - theta[:, None]))  # p[i, j] = P(i beats j)
        grad = (wins - n * p).sum(axis=1) - ridge * theta
        info = _information(n, p, ridge)
        step = np.linalg.solve(info, grad)
        theta = theta + step
        if np.max(np.abs(step)) < 1e-10:
            break
    p = 1.0 / (1.0 + np.exp(theta[None, :] - theta[:, None]))
    return Fit(theta, np.linalg.inv(_information(n, p, ridge)))


def _information(n: np.ndarray, p: np.ndarray, ridge: float) -> np.ndarray:
    w = n * p * (1.0 - p)
    info = -w
    info[np.diag_indices_from(info)] = w.sum(axis=1) - np.diag(w) + ridge
    return info


def add_vote(cov: np.ndarray, x: np.ndarray, weight: float) -> np.ndarray:
    """The covariance after one more vote of contrast ``x`` and information ``weight``."""
    sx = cov @ x
    return cov - np.outer(sx, sx) * (weight / (1.0 + weight * float(x @ sx)))
