"""Planning a study as a whole: its compared pairs, a measured design effect, and time left.

:mod:`analysis.planning` sizes one pair; this module adds what a study file and a running
study know: how many pairs the targets involve, the design effect the votes so far show, and
how long the remaining votes take at the current rate.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from analysis.dist import norm_ppf

__all__ = ["ELO_PER_LOGIT", "measured_design_effect", "votes_for_half_width"]

#: Elo points per logit of the Bradley–Terry scale.
ELO_PER_LOGIT = 400 / math.log(10)


def votes_for_half_width(
    half_width: float, win_rate: float = 0.5, *, alpha: float = 0.05, design_effect: float = 1.0
) -> int:
    """Votes on one pair for a ``1 - alpha`` interval of its Elo difference of ``± half_width``.

    Parameters
    ----------
    half_width
        Wanted half-width of the interval, Elo points (> 0).
    win_rate
        The pair's expected win rate: a vote carries information ``p (1 - p)`` on the
        difference (most at 50%).
    alpha
        Two-sided level of the interval.
    design_effect
        Variance inflation of votes clustered by rater (Kish 1965), at least 1.

    Returns
    -------
    int
        ``design_effect * (z * ELO / half_width)^2 / (p (1 - p))``, rounded up: the direct
        comparisons alone (a Bradley–Terry fit also borrows from the other pairs, so this is
        an upper bound for a connected design).
    """
    if not half_width > 0:
        raise ValueError(f"half_width must be a positive number of Elo points; got {half_width}.")
    if not 0.0 < win_rate < 1.0:
        raise ValueError(f"win_rate must lie in (0, 1); got {win_rate}.")
    if design_effect < 1.0:
        raise ValueError(f"design_effect must be at least 1; got {design_effect}.")
    z = norm_ppf(1 - alpha / 2)
    info = win_rate * (1 - win_rate)
    return math.ceil(design_effect * (z * ELO_PER_LOGIT / half_width) ** 2 / info)


def measured_design_effect(comparisons: pd.DataFrame) -> tuple[float, int]:
    """The design effect of the rated votes so far, and how many decisive votes it rests on.

    Per model pair, the variance of the win rate with votes clustered by rater (the
    between-rater variance of the rater totals) over its variance for independent votes;
    pooled over the pairs weighted by their votes, and never below 1. 1.0 with no pair of two
    raters or more.

    Notes
    -----
    The ratio estimator of Kish (1965), section 8.2, as ``analysis.winrate`` uses per pair.
    """
    rated = comparisons
    if "kind" in rated.columns:
        rated = rated[rated["kind"].fillna("2afc").isin(("2afc", ""))]
    rated = rated[rated["outcome"].isin(("a", "b"))]
    if rated.empty:
        return 1.0, 0
    lo = np.minimum(rated["model_a"], rated["model_b"])
    hi = np.maximum(rated["model_a"], rated["model_b"])
    won = np.where(rated["model_a"] == lo, rated["outcome"] == "a", rated["outcome"] == "b")
    frame = pd.DataFrame({"pair": lo + "\0" + hi, "rater": rated["rater"], "y": won.astype(float)})
    ratios, weights = [], []
    for _, votes in frame.groupby("pair"):
        n = len(votes)
        per = votes.groupby("rater")["y"].agg(["sum", "count"])
        p = votes["y"].mean()
        if len(per) < 2 or p in (0.0, 1.0):
            continue
        resid = per["sum"] - p * per["count"]
        clustered = len(per) / (len(per) - 1) * float((resid**2).sum())
        ratios.append(clustered / (n * p * (1 - p)))
        weights.append(n)
    if not ratios:
        return 1.0, len(frame)
    return max(1.0, float(np.average(ratios, weights=weights))), len(frame)
