"""Inverse-probability weighting of votes chosen by an adaptive scheduler.

An adaptive scheduler (``[scheduler] rule = "adaptive"``) serves some model pairs more often
than others, and which ones depends on the votes so far. Each trial records the probability
``pi`` with which its pair was chosen (the ``pair_probability`` column). Weighting a vote by
``1 / pi`` makes every pair count as it would under uniform sampling of pairs at the same
moments, from the same raters: for any pair ``e``, ``E[1{pair = e} / pi_t(e) | past] = 1`` at
every step ``t`` (Horvitz & Thompson 1952). Quantities that depend on how often each pair was
asked, such as a model's share of wins against its opponents taken together, then estimate what
uniform sampling would have estimated. (A pairwise win rate or a Bradley–Terry fit needs no
weights when the model holds: the likelihood does not depend on how the pairs were chosen.)
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["ipw_weights", "ipw_win_shares"]


def ipw_weights(pair_probability: pd.Series | np.ndarray) -> np.ndarray:
    """Inverse-probability weights ``1 / pi`` of votes.

    Parameters
    ----------
    pair_probability
        The probability with which each vote's model pair was chosen, in (0, 1].

    Returns
    -------
    numpy.ndarray
        One weight per vote, at least 1.

    Raises
    ------
    ValueError
        When a probability is missing or outside (0, 1] (named, with how many there are).
    """
    p = np.asarray(pair_probability, dtype=float)
    bad = ~(np.isfinite(p) & (p > 0) & (p <= 1))
    if bad.any():
        raise ValueError(
            f"pair_probability must lie in (0, 1] on every vote; {int(bad.sum())} of {p.size} "
            f"do not (first: {p[bad][0]!r})."
        )
    return 1.0 / p


def ipw_win_shares(comparisons: pd.DataFrame, weighted: bool = True) -> pd.DataFrame:
    """Each model's share of wins over all its votes, weighted by the inverse pair probability.

    Parameters
    ----------
    comparisons
        Rated votes with ``model_a``, ``model_b``, ``outcome`` (``a``, ``b``, ``tie``;
        ``both_bad`` rows are left out), ``rater`` and, when ``weighted``, ``pair_probability``.
    weighted
        False gives the plain shares (every vote weight 1), for comparison.

    Returns
    -------
    pandas.DataFrame
        Indexed by model: ``votes``, ``share`` (the Hájek estimate
        ``sum(w * won) / sum(w)`` over the model's votes, a tie counting one half),
        ``se`` (its standard error by linearisation, clustered by rater) and
        ``effective_votes`` (Kish's ``sum(w)^2 / sum(w^2)``). Under uniform sampling of pairs
        the share estimates the mean, over the model's opponents, of its probability of beating
        each; with weights it estimates the same under any scheduler that records ``pi``.

    Notes
    -----
    The Hájek ratio estimator and its linearised variance: Särndal, Swensson & Wretman,
    *Model Assisted Survey Sampling* (1992), sections 5.7 and 9.
    """
    rated = comparisons[comparisons["outcome"].isin(("a", "b", "tie"))]
    w = ipw_weights(rated["pair_probability"]) if weighted else np.ones(len(rated))
    score_a = rated["outcome"].map({"a": 1.0, "b": 0.0, "tie": 0.5}).to_numpy()
    raters = rated["rater"].to_numpy()
    rows = {}
    models = sorted(set(rated["model_a"]) | set(rated["model_b"]))
    for model in models:
        as_a = (rated["model_a"] == model).to_numpy()
        as_b = (rated["model_b"] == model).to_numpy()
        mine = as_a | as_b
        y = np.where(as_a, score_a, 1.0 - score_a)[mine]
        wm = w[mine]
        share = float(wm @ y / wm.sum())
        resid = pd.Series(wm * (y - share)).groupby(raters[mine]).sum().to_numpy()
        se = float(np.sqrt((resid**2).sum()) / wm.sum())
        rows[model] = {
            "votes": int(mine.sum()),
            "share": share,
            "se": se,
            "effective_votes": float(wm.sum() ** 2 / (wm**2).sum()),
        }
    return pd.DataFrame.from_dict(rows, orient="index")
