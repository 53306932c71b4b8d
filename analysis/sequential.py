"""A stopping rule for declared comparisons that stays valid when checked after every vote.

A p-value is valid once, at a sample size fixed in advance; checking it after every vote and
stopping at the first p < 0.05 rejects a true 50/50 far more often than 5% of the time. An
*e-process* is a nonnegative process whose expectation under the null hypothesis is at most 1
at every stopping time; by Ville's inequality the chance that it *ever* reaches ``1 / alpha``
is at most ``alpha``, so a study may look at it as often as it likes and stop the first time it
does (Ramdas, Grünwald, Vovk & Shafer 2023, *Game-theoretic statistics and safe
anytime-valid inference*).

The unit is the rater, not the vote: a rater's votes share the rater's taste, so under a
population-level 50/50 the next vote of a rater is predictable from their earlier ones and a
vote-level process is no supermartingale. Each rater contributes once, the share ``y`` of their
decisive votes that went to model a, when their votes are in (their session ended). Under the
null the mean share over raters is ``m0``, and the capital of a bettor who stakes a fraction
``lam`` of it on ``y - m0`` each round, ``K_n = prod (1 + lam_i (y_i - m0))``, is a
nonnegative martingale for any ``lam_i`` chosen before seeing ``y_i`` (Waudby-Smith & Ramdas
2024, *Estimating means of bounded random variables by betting*, JRSS-B). ``lam_i`` follows
their aGRAPA plug-in, truncated so the capital never reaches 0. Two-sided: the average of the
capitals betting up and betting down.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["Settlement", "betting_capital", "rater_shares", "settle"]

#: Largest fraction of the distance to the bound staked in one round (keeps capital > 0).
MAX_STAKE = 0.5


def betting_capital(y: np.ndarray, m0: float, upward: bool = True) -> np.ndarray:
    """Capital after each rater of a bettor against the null ``mean(y) <= m0`` (``upward``) or
    ``mean(y) >= m0``, starting from 1.

    Parameters
    ----------
    y
        Each rater's share of decisive votes for model a, in [0, 1], in the order raters
        finished.
    m0
        The null mean, in (0, 1).
    upward
        True: bets that the mean exceeds ``m0``; False: that it falls short.

    Returns
    -------
    numpy.ndarray
        ``K_1 .. K_n``; under the null ``P(max K >= 1/alpha) <= alpha`` (Ville).
    """
    y = np.asarray(y, dtype=float)
    if not 0.0 < m0 < 1.0:
        raise ValueError(f"m0 must lie in (0, 1); got {m0}.")
    if y.size and (np.nanmin(y) < 0 or np.nanmax(y) > 1):
        raise ValueError("y must hold shares in [0, 1].")
    z = (y - m0) if upward else (m0 - y)
    bound = MAX_STAKE / (1.0 - m0 if not upward else m0)  # 1 + lam * z > 0 for every y
    capital, out = 1.0, np.empty(y.size)
    mean, var = 0.5, 0.25  # prior guesses of the shares' mean and variance
    for i, zi in enumerate(z):
        d = (mean - m0) if upward else (m0 - mean)
        lam = float(np.clip(d / (var + d * d), 0.0, bound))  # aGRAPA, predictable
        capital *= 1.0 + lam * zi
        out[i] = capital
        # Running mean and variance, shrunk towards the prior guesses by one pseudo-rater.
        mean += (y[i] - mean) / (i + 2)
        var += ((y[i] - mean) ** 2 - var) / (i + 2)
    return out


def rater_shares(comparisons: pd.DataFrame, model_a: str, model_b: str) -> pd.Series:
    """Each rater's share of decisive votes for ``model_a`` against ``model_b`` (ties and
    both-bad left out), in the order of each rater's last such vote."""
    ab = (comparisons["model_a"] == model_a) & (comparisons["model_b"] == model_b)
    ba = (comparisons["model_a"] == model_b) & (comparisons["model_b"] == model_a)
    rows = comparisons[(ab | ba) & comparisons["outcome"].isin(("a", "b"))]
    won = np.where(ab[rows.index], rows["outcome"] == "a", rows["outcome"] == "b")
    frame = pd.DataFrame({"rater": rows["rater"].to_numpy(), "won": won, "order": range(len(rows))})
    per = frame.groupby("rater").agg(share=("won", "mean"), last=("order", "max"))
    return per.sort_values("last")["share"]


@dataclass(frozen=True)
class Settlement:
    """Where one declared comparison stands: the e-value against its null and the verdict."""

    model_a: str
    model_b: str
    claim: str
    raters: int
    e_value: float
    settled: bool
    verdict: str  # "a preferred", "b preferred", "non-inferior", "equivalent" or "not yet"


def settle(
    comparisons: pd.DataFrame,
    model_a: str,
    model_b: str,
    claim: str = "superiority",
    margin: float = 0.0,
    alpha: float = 0.05,
) -> Settlement:
    """Whether a declared comparison is settled, valid however often it is checked.

    Parameters
    ----------
    comparisons
        Rated votes of raters whose sessions ended (model_a, model_b, outcome, rater).
    model_a, model_b, claim, margin
        As in ``analysis.claims.Claim``: ``superiority`` tests a 50% mean share two-sided;
        ``non-inferiority`` the null ``share <= 0.5 - margin``; ``equivalence`` both
        ``share <= 0.5 - margin`` and ``share >= 0.5 + margin`` (each at ``alpha``).
    alpha
        The most probability of a wrong verdict, under continuous monitoring.

    Returns
    -------
    Settlement
        ``e_value``: the capital the verdict rests on (the smaller one for equivalence);
        settled when it is at least ``1 / alpha``.
    """
    y = rater_shares(comparisons, model_a, model_b).to_numpy()
    last = lambda k: float(k[-1]) if k.size else 1.0  # noqa: E731
    if claim == "superiority":
        up, down = betting_capital(y, 0.5, True), betting_capital(y, 0.5, False)
        e = 0.5 * (last(up) + last(down))
        verdict = (
            ("a preferred" if last(up) >= last(down) else "b preferred")
            if e >= 1 / alpha
            else "not yet"
        )
    elif claim == "non-inferiority":
        e = last(betting_capital(y, 0.5 - margin, True))
        verdict = "non-inferior" if e >= 1 / alpha else "not yet"
    elif claim == "equivalence":
        e = min(last(betting_capital(y, 0.5 - margin, True)),
                last(betting_capital(y, 0.5 + margin, False)))  # fmt: skip
        verdict = "equivalent" if e >= 1 / alpha else "not yet"
    else:
        raise ValueError(
            f"claim must be superiority, non-inferiority or equivalence; got {claim!r}."
        )
    return Settlement(model_a, model_b, claim, int(y.size), float(e), e >= 1 / alpha, verdict)
