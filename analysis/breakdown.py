"""Ratings per (question, group) — e.g. per prompt category — with the study's rater draw.

Split from :mod:`analysis.study`, which calls :func:`breakdown_table` for ``breakdown_by``.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from analysis.assemble import (
    Options,
    Rated,
    bounded_ratings,
    open_interval_sides,
    percentile_level,
)
from analysis.bootstrap import bootstrap_ratings
from analysis.bt import bt_ratings, pair_design, pair_stats
from analysis.counts import ComparisonCounts, count_comparisons
from analysis.draws import StudyDraw
from analysis.frame import EncodedComparisons
from analysis.separation import reachability, win_graph


def point_reach(counts: ComparisonCounts, tie_mode: str) -> np.ndarray:
    """Reachability of the point estimate's win graph (:func:`analysis.separation.reachability`)."""
    design = pair_design(counts.n_models)
    return reachability(win_graph(*pair_stats(counts.table[None], design, tie_mode), design))[0]


def breakdown_table(
    enc: EncodedComparisons,
    column: str,
    draw: StudyDraw,
    n_boot: int,
    rng: np.random.Generator,
    opts: Options,
    names: Mapping[str, str],
) -> pd.DataFrame:
    """Ratings per (question, ``column`` value), bootstrapped with the study's rater draw.

    Centred on the study's reference set; small groups are often separated, and their unbounded
    ratings are reported as such (``separated`` column), as in the leaderboard. With a single
    group the table is empty: its rows would repeat the leaderboard.
    """
    if column not in enc.keys:
        raise ValueError(f"breakdown_by must be one of {sorted(enc.keys)}; got {column!r}")
    rows = []
    columns = ["question", column, "model", "display_name", "rating", "ci_low", "ci_high"]
    columns += ["separated", "ci_open", "votes"]
    if len(enc.labels(column)) < 2:
        # One group holds the question's own votes: its rows would be the leaderboard again,
        # at the price of a second bootstrap per question (the report shows no such breakdown).
        return pd.DataFrame(columns=columns)
    q_codes, g_codes = enc.codes("question"), enc.codes(column)
    units = draw.counted_units
    for qi, qname in enumerate(enc.labels("question")):
        for gi, gname in enumerate(enc.labels(column)):
            mask = (q_codes == qi) & (g_codes == gi)
            if not mask.any():
                continue
            counts = count_comparisons(enc, mask=mask, clusters=units)
            fit = bt_ratings(counts, tie_mode=opts.tie_mode, ridge=opts.ridge)
            w = draw.for_counts(counts)
            boot = bootstrap_ratings(
                counts,
                n_boot=n_boot,
                seed=rng,
                cluster=draw.unit,
                weights=w,
                tie_mode=opts.tie_mode,
                ridge=opts.ridge,
            )
            rated = Rated(
                fit.theta, boot.theta, point_reach(counts, opts.tie_mode), boot.reach, (counts,)
            )
            plevel = percentile_level(opts, draw.n_clusters([counts]))
            ratings, _, low, high, sep = bounded_ratings(rated, counts.models, opts, plevel)
            votes = counts.votes.sum(axis=1)
            opened = open_interval_sides(low, high)
            for k, (model, flag) in enumerate(zip(counts.models, sep.flags(), strict=True)):
                rows.append(
                    {
                        "question": qname,
                        column: gname,
                        "model": model,
                        "display_name": names.get(model, model),
                        "rating": ratings[k],
                        "ci_low": low[k],
                        "ci_high": high[k],
                        "separated": flag,
                        "ci_open": opened[k],
                        "votes": int(votes[k]),
                    }
                )
    return pd.DataFrame(rows, columns=columns)
