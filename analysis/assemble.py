"""From fits and bootstrap replicates to one question's tables, honest about separation.

Ratings are centred on a reference set (:func:`analysis.separation.reference_models`: all models
unless some are separated, or the anchor). A rating the votes cannot bound on one side (a model
that never lost or never won) is reported as ``±inf`` with that side of its interval infinite;
its other side is the profile-likelihood bound (:mod:`analysis.profile`), because every bootstrap
replicate is separated too and the percentile interval would only echo the ridge.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
import scipy.sparse as sp

from analysis.bt import ELO_BASE, ELO_SCALE, BTRatings
from analysis.contrasts import pairwise_differences, rank_intervals
from analysis.counts import ClusterCounts, ComparisonCounts
from analysis.elo import EloRatings
from analysis.modes import RATER_PROMPT
from analysis.profile import profile_bounds
from analysis.result import LEADERBOARD_COLUMNS, QuestionAnalysis
from analysis.robust import PositionEffect, RobustFit
from analysis.separation import (
    NO_VOTES,
    Separation,
    bounded_values,
    open_sides,
    percentile_interval,
    point_value,
    separation,
)
from analysis.smallsample import expanded_level
from analysis.types import FloatArray
from analysis.winrate import pairwise_table, win_rate_matrix

_DIFF_BOUNDS = ("se", "ci_low", "ci_high", "p_win_low", "p_win_high")


def open_interval_sides(low: FloatArray, high: FloatArray) -> list[str]:
    """Per interval: ``""``, ``"upper"``, ``"lower"``, ``"both"`` (no finite end on that side).

    JSON writes an infinite or missing bound as ``null``; this column says which side is open
    and so why, also when the point estimate is bounded but enough bootstrap replicates were
    separated to open the percentile interval.
    """
    lo_open = ~np.isfinite(np.asarray(low, dtype=np.float64))
    hi_open = ~np.isfinite(np.asarray(high, dtype=np.float64))
    return [
        "both" if a and b else "lower" if a else "upper" if b else ""
        for a, b in zip(lo_open, hi_open, strict=True)
    ]


@dataclass(frozen=True)
class Rated:
    """Centred log-strengths of one question (or their mean over questions) with their graphs.

    ``theta`` (m,) and ``replicates`` (B, m) are the ridge-held fits (finite); ``reach`` and
    ``replicate_reach`` say which of their contrasts the votes bound. ``counts_list`` are the
    per-question counts whose likelihoods define the estimate (one entry, or all questions for
    ``"all"``).
    """

    theta: FloatArray
    replicates: FloatArray
    reach: np.ndarray
    replicate_reach: np.ndarray
    counts_list: tuple[ComparisonCounts, ...]


@dataclass(frozen=True)
class Options:
    """Fit settings that every question shares."""

    tie_mode: str
    ridge: float
    level: float
    reference: np.ndarray
    #: Cluster unit of the adjusted win-rate intervals (``"vote"``: none); None takes
    #: ``rater`` when it was counted, else ``prompt``, else ``vote`` (:func:`win_rate_clusters`).
    win_rate_cluster: str | None = None
    #: Few-cluster corrections with G - 1 degrees of freedom (:mod:`analysis.smallsample`).
    small_sample: bool = True


def percentile_level(opts: Options, n_clusters: int | None) -> float:
    """Level of the percentile intervals: the expanded level with few clusters.

    ``n_clusters`` is the number of clusters the bootstrap resampled (None: votes, no
    correction). ``nan`` when fewer than two clusters: there is no interval to report.
    """
    if not opts.small_sample or n_clusters is None:
        return opts.level
    return expanded_level(opts.level, n_clusters)


def bounded_ratings(
    rated: Rated, models: Sequence[str], opts: Options, plevel: float | None = None
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, Separation]:
    """Elo-scale ratings, replicates and interval, infinite where the votes give no bound.

    ``plevel`` is the percentile level (:func:`percentile_level`; default ``opts.level``);
    ``nan`` withholds the bootstrap side of every interval (fewer than two clusters).

    Returns
    -------
    ratings, replicates, ci_low, ci_high, separation
        ``ratings`` is ``±inf`` for a one-sided rating and ``nan`` for an unidentified one;
        replicates are centred on the reference set (finite).
    """
    ref = opts.reference
    theta = rated.theta - rated.theta[ref].mean()
    reps = rated.replicates - rated.replicates[:, ref].mean(axis=1, keepdims=True)
    sep = separation(models, rated.reach, ref)
    rep_up, rep_down = open_sides(rated.replicate_reach, ref)
    elo_reps = ELO_BASE + ELO_SCALE * reps
    plevel = opts.level if plevel is None else plevel
    withhold = not np.isfinite(plevel)
    bounded = bounded_values(elo_reps, rep_up, rep_down)
    low, high = percentile_interval(*bounded, opts.level if withhold else plevel)
    if withhold:
        low, high = np.full_like(low, np.nan), np.full_like(high, np.nan)
    up, down = sep.open_up, sep.open_down
    low = np.where(down, -np.inf, low)
    high = np.where(up, np.inf, high)
    # The finite side of a one-sided rating: profile likelihood of e_i - mean over the reference.
    one_sided = np.flatnonzero(up ^ down)
    if len(one_sided):
        funcs = -np.tile(ref / ref.sum(), (len(one_sided), 1))
        funcs[np.arange(len(one_sided)), one_sided] += 1.0
        b = profile_bounds(
            rated.counts_list,
            funcs,
            up[one_sided],
            tie_mode=opts.tie_mode,
            ridge=opts.ridge,
            level=opts.level,
        )
        side = ELO_BASE + ELO_SCALE * b
        low[one_sided] = np.where(up[one_sided], side, low[one_sided])
        high[one_sided] = np.where(down[one_sided], side, high[one_sided])
    ratings = ELO_BASE + ELO_SCALE * point_value(theta, up, down)
    return ratings, elo_reps, low, high, sep


def _fill_difference_bounds(diffs: pd.DataFrame, rated: Rated, opts: Options) -> pd.DataFrame:
    """Profile-likelihood finite side of differences that have only one open side."""
    low, high = diffs["ci_low"].to_numpy(), diffs["ci_high"].to_numpy()
    one = diffs["separated"].to_numpy() & (np.isinf(low) ^ np.isinf(high))
    rows = np.flatnonzero(one)
    if not len(rows):
        return diffs
    m = len(rated.theta)
    i, j = np.triu_indices(m, k=1)
    funcs = np.zeros((len(rows), m))
    funcs[np.arange(len(rows)), i[rows]] = 1.0
    funcs[np.arange(len(rows)), j[rows]] = -1.0
    lower = np.isinf(high[rows])  # open above: find the lower bound
    b = ELO_SCALE * profile_bounds(
        rated.counts_list,
        funcs,
        lower,
        tie_mode=opts.tie_mode,
        ridge=opts.ridge,
        level=opts.level,
    )
    out = diffs.copy()
    col_low, col_high = out.columns.get_loc("ci_low"), out.columns.get_loc("ci_high")
    out.iloc[rows[lower], col_low] = b[lower]
    out.iloc[rows[~lower], col_high] = b[~lower]
    out["p_win_low"] = 1 / (1 + np.exp(-out["ci_low"].to_numpy() / ELO_SCALE))
    out["p_win_high"] = 1 / (1 + np.exp(-out["ci_high"].to_numpy() / ELO_SCALE))
    return out


def _pooled_clusters(parts: Sequence[ClusterCounts]) -> ClusterCounts:
    """One cluster table from per-question ones: rows with the same study-wide id are summed.

    A rater who voted on several questions is one cluster of the pooled ("all") votes; the sum
    is a sparse aggregation matrix times the stacked tables (no loop over raters).
    """
    ids = np.concatenate([p.ids for p in parts])
    uniq, first, inv = np.unique(ids, return_index=True, return_inverse=True)
    agg = sp.csr_array((np.ones(len(ids)), (inv, np.arange(len(ids)))), shape=(len(uniq), len(ids)))
    if any(sp.issparse(p.matrix) for p in parts):
        matrix: np.ndarray | sp.csr_array = sp.csr_array(
            agg @ sp.vstack([sp.csr_array(p.matrix) for p in parts], format="csr")
        )
    else:
        matrix = np.asarray(agg @ np.vstack([p.matrix for p in parts]))
    labels = np.asarray([lab for p in parts for lab in p.labels], dtype=object)
    return ClusterCounts(
        unit=parts[0].unit,
        ids=uniq,
        labels=tuple(labels[first].tolist()) if len(labels) == len(ids) else (),
        matrix=matrix,
        n_models=parts[0].n_models,
    )


def win_rate_clusters(
    counts: ComparisonCounts, parts: Sequence[ComparisonCounts], unit: str | None
) -> ClusterCounts | tuple[ClusterCounts, ...] | None:
    """Per-cluster counts behind the adjusted win-rate intervals, None for vote level.

    Parameters
    ----------
    counts : ComparisonCounts
        The question's counts (pooled for ``"all"``, which the study counts without clusters).
    parts : sequence of ComparisonCounts
        Per-question counts; their cluster tables are pooled by cluster id when ``counts`` has
        none for the unit.
    unit : str or None
        Cluster unit; None takes ``rater`` when counted, else ``prompt``, else ``vote`` —
        votes cluster by rater (docs/statistics.md, coverage), so that is the default.
    """
    have = [
        u
        for u in ("rater", "prompt")
        if u in counts.clusters or parts and all(u in p.clusters for p in parts)
    ]
    unit = unit if unit is not None else (have[0] if have else "vote")
    if unit == "vote":
        return None
    if (
        unit == RATER_PROMPT
    ):  # rater, prompt and their intersection (Cameron, Gelbach & Miller 2011)
        return tuple(_unit_clusters(counts, parts, u) for u in ("rater", "prompt", RATER_PROMPT))
    return _unit_clusters(counts, parts, unit)


def _unit_clusters(
    counts: ComparisonCounts, parts: Sequence[ComparisonCounts], unit: str
) -> ClusterCounts:
    if unit in counts.clusters:
        return counts.cluster(unit)
    return _pooled_clusters([p.cluster(unit) for p in parts])


def _holm_better(pairwise: pd.DataFrame, models: Sequence[str], level: float) -> np.ndarray:
    """``[i, j]`` True where the Holm-adjusted, cluster-adjusted exact test puts ``i`` above ``j``.

    The cluster-adjusted test, because a pair decided by one enthusiastic rater is not ordered.
    """
    idx = {m: k for k, m in enumerate(models)}
    out = np.zeros((len(models), len(models)), dtype=bool)
    for r in pairwise.itertuples(index=False):
        if r.p_holm_adj < 1 - level:
            i, j = idx[r.model_a], idx[r.model_b]
            out[(i, j) if r.wins > r.losses else (j, i)] = True
    return out


def leaderboard(
    counts: ComparisonCounts,
    ratings: FloatArray,
    ci_low: FloatArray,
    ci_high: FloatArray,
    ranks: pd.DataFrame,
    names: Mapping[str, str],
    elo: EloRatings | None,
    turbo: FloatArray | None,
    robust: RobustFit | None,
    sep: Separation,
    absent: np.ndarray,
) -> pd.DataFrame:
    """Leaderboard rows (:data:`analysis.result.LEADERBOARD_COLUMNS`), best model first.

    A model without votes (``absent``) comes last with no rank, rating or Elo.
    """
    wins = counts.wins
    won, lost = wins.sum(axis=1), wins.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = np.where(won + lost > 0, won / (won + lost), np.nan)
    # A sandwich around a ridge-held estimate is not a variance: report none.
    use_robust = robust is not None and not sep.separated
    df = pd.DataFrame(
        {
            "rank": ranks["rank"].to_numpy(),
            "rank_low": ranks["rank_low"].to_numpy(),
            "rank_high": ranks["rank_high"].to_numpy(),
            "model": list(counts.models),
            "display_name": [names.get(m, m) for m in counts.models],
            "rating": ratings,
            "ci_low": ci_low,
            "ci_high": ci_high,
            "separated": sep.flags(),
            "ci_open": open_interval_sides(ci_low, ci_high),
            "se_robust": robust.rating_se() if use_robust else np.nan,
            "design_effect": robust.design_effect() if use_robust else np.nan,
            "votes": counts.votes.sum(axis=1).astype(np.int64),
            "wins": won.astype(np.int64),
            "losses": lost.astype(np.int64),
            "ties": counts.ties.sum(axis=1).astype(np.int64),
            "both_bad": counts.both_bad.sum(axis=1).astype(np.int64),
            "win_rate": rate,
            "elo_online": elo.ratings if elo is not None else np.nan,
            "elo_sdxl_turbo": turbo if turbo is not None else np.nan,
        }
    )
    for column in ("se_robust", "design_effect", "elo_online", "elo_sdxl_turbo"):
        df[column] = df[column].where(~absent)
    df["ci_open"] = np.where(absent, "", df["ci_open"])
    for column in ("rank", "rank_low", "rank_high"):
        df[column] = df[column].astype("Int64")
    df = df.sort_values(["rank", "model"], kind="stable")
    return df.reset_index(drop=True)[list(LEADERBOARD_COLUMNS)]


def question_analysis(
    qname: str,
    counts: ComparisonCounts,
    rated: Rated,
    opts: Options,
    *,
    fit: BTRatings | None,
    names: Mapping[str, str],
    elo: EloRatings | None,
    turbo: EloRatings | FloatArray | None,
    robust: RobustFit | None = None,
    position: PositionEffect | None = None,
    n_clusters: int | None = None,
) -> QuestionAnalysis:
    """Everything reported for one question (or ``"all"``) from its fits and replicates.

    ``n_clusters`` is the number of clusters the bootstrap resampled (None: votes); with
    ``opts.small_sample`` the percentile and simultaneous intervals get the few-cluster
    correction of :mod:`analysis.smallsample`.

    Notes
    -----
    Bounds as in :func:`bounded_ratings`; differences and win probabilities by
    :func:`analysis.contrasts.pairwise_differences`; simultaneous rank intervals (Klein, Wright
    & Wieczorek 2020) with separated pairs ordered by the Holm-corrected exact test; win rates
    with Wilson (1927) and Clopper–Pearson intervals, vote-level and cluster-adjusted by the
    design effect (Kish 1965) of :func:`win_rate_clusters`'s unit (:mod:`analysis.winrate`).
    """
    labels = list(counts.models)
    plevel = percentile_level(opts, n_clusters)
    ratings, reps, low, high, sep = bounded_ratings(rated, labels, opts, plevel)
    g = n_clusters if opts.small_sample else None
    # A model with no votes here (in "all": missing from some question) is not rated here, and
    # the others are ranked as if it were not in the study.
    absent = np.logical_or.reduce([c.votes.sum(axis=1) == 0 for c in rated.counts_list])
    if absent.any():
        sep = replace(sep, absent=absent)
        ratings, low, high = (np.where(absent, np.nan, v) for v in (ratings, low, high))
    clusters = win_rate_clusters(counts, rated.counts_list, opts.win_rate_cluster)
    pairwise = pairwise_table(
        counts, level=opts.level, cluster=clusters, small_sample=opts.small_sample
    )
    rates, _ = win_rate_matrix(counts)
    rr = rated.replicate_reach
    both = rated.reach & rated.reach.T & (rr & np.swapaxes(rr, 1, 2)).all(axis=0)
    theta_reps = (reps - ELO_BASE) / ELO_SCALE
    theta = rated.theta - rated.theta[opts.reference].mean()
    here = np.flatnonzero(~absent)
    sub = rank_intervals(
        [labels[k] for k in here],
        theta[here],
        replicates=theta_reps[:, here],
        level=opts.level,
        n_clusters=g,
        unbounded=~both[np.ix_(here, here)],
        known_better=_holm_better(pairwise, labels, opts.level)[np.ix_(here, here)],
    )
    ranks = sub.set_index("model").reindex(labels).rename_axis("model").reset_index()
    diffs = pairwise_differences(
        labels,
        theta,
        replicates=theta_reps,
        level=opts.level if not np.isfinite(plevel) else plevel,
        reach=rated.reach,
        replicate_reach=rr,
    )
    if not np.isfinite(plevel):  # one cluster: a bootstrap over it has no spread to report
        diffs = diffs.assign(
            **{c: np.where(diffs["separated"], diffs[c], np.nan) for c in _DIFF_BOUNDS}
        )
    if sep.separated:
        diffs = _fill_difference_bounds(diffs, rated, opts)
    if position is not None and sep.separated:
        # gamma is not identified when pairs are decided by strength alone: report the raw rate.
        nan = float("nan")
        position = PositionEffect(
            position.left_votes,
            position.right_votes,
            position.left_rate,
            position.p_value,
            nan,
            nan,
            nan,
            nan,
            position.cluster,
        )
    turbo_r = turbo.ratings if isinstance(turbo, EloRatings) else turbo
    board = leaderboard(counts, ratings, low, high, ranks, names, elo, turbo_r, robust, sep, absent)
    if len(rated.counts_list) > 1:  # "all": the model has votes, just not in every question
        board.loc[board["separated"] == NO_VOTES, "separated"] = "not in every question"
    return QuestionAnalysis(
        question=qname,
        counts=counts,
        ratings=ratings,
        replicates=reps,
        ci_low=low,
        ci_high=high,
        fit=fit,
        leaderboard=board,
        pairwise=pairwise,
        win_rate=rates,
        vote_counts=pd.DataFrame(counts.votes.astype(np.int64), index=labels, columns=labels),
        elo_online=elo,
        elo_sdxl_turbo=turbo if isinstance(turbo, EloRatings) else None,
        differences=diffs,
        robust=robust,
        position=position,
        separation=sep,
        replicate_reach=rr,
    )
