"""One call from the comparisons DataFrame to every table of a study, and the report files.

:func:`analyze` computes, per question and for ``"all"``: Bradley–Terry ratings on the Elo scale
with rater-clustered bootstrap intervals, counts, win rates and online Elo. ``"all"`` combines
questions as the SDXL Turbo paper does (Sauer et al. 2023): each model's rating is the mean of its
per-question ratings, with the interval taken from the same bootstrap replicates (one rater draw
is shared by all questions, so the mean's interval accounts for raters answering several
questions). :func:`write_report` writes the HTML report and CSV files.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from analysis.bootstrap import (
    VOTE,
    as_generator,
    bootstrap_ratings,
    cluster_weights,
)
from analysis.bt import DEFAULT_RIDGE, ELO_SCALE, TIE_MODES, BTRatings, anchor_index, bt_ratings
from analysis.contrasts import pairwise_differences, rank_intervals
from analysis.counts import ComparisonCounts, count_comparisons
from analysis.elo import EloRatings, elo_ratings
from analysis.frame import EncodedComparisons, encode_comparisons
from analysis.robust import PositionEffect, RobustFit, position_effect, robust_fit
from analysis.winrate import pairwise_table, win_rate_matrix

#: Name of the combined entry in :attr:`StudyAnalysis.questions`.
ALL = "all"

LEADERBOARD_COLUMNS: tuple[str, ...] = (
    "rank",
    "rank_low",
    "rank_high",
    "model",
    "display_name",
    "rating",
    "ci_low",
    "ci_high",
    "se_robust",
    "design_effect",
    "votes",
    "wins",
    "losses",
    "ties",
    "both_bad",
    "win_rate",
    "elo_online",
    "elo_sdxl_turbo",
)


@dataclass(frozen=True)
class QuestionAnalysis:
    """Everything computed for one question (or for ``"all"``).

    Attributes
    ----------
    question : str
        Question name or ``"all"``.
    counts : ComparisonCounts
        Vote counts (pooled over questions for ``"all"``).
    ratings : ndarray, shape (m,)
        Elo-scale Bradley–Terry ratings (mean over questions for ``"all"``).
    replicates : ndarray, shape (B, m)
        Bootstrap replicates of ``ratings``.
    ci_low, ci_high : ndarray, shape (m,)
        Percentile interval bounds.
    fit : BTRatings or None
        The Bradley–Terry fit (None for a combined ``"all"``).
    leaderboard : pandas.DataFrame
        Columns :data:`LEADERBOARD_COLUMNS`, best model first.
    pairwise : pandas.DataFrame
        :func:`analysis.winrate.pairwise_table`.
    win_rate : pandas.DataFrame
        :func:`analysis.winrate.win_rate_matrix` rates.
    vote_counts : pandas.DataFrame
        Votes between each pair (all outcomes).
    elo_online, elo_sdxl_turbo : EloRatings or None
        Order-dependent online Elo variants.
    differences : pandas.DataFrame or None
        :func:`analysis.contrasts.pairwise_differences` from the bootstrap replicates.
    robust : RobustFit or None
        Cluster-robust sandwich fit (None for a combined ``"all"``).
    position : PositionEffect or None
        Left/right bias (None for a combined ``"all"``).
    """

    question: str
    counts: ComparisonCounts
    ratings: np.ndarray
    replicates: np.ndarray
    ci_low: np.ndarray
    ci_high: np.ndarray
    fit: BTRatings | None
    leaderboard: pd.DataFrame
    pairwise: pd.DataFrame
    win_rate: pd.DataFrame
    vote_counts: pd.DataFrame
    elo_online: EloRatings | None
    elo_sdxl_turbo: EloRatings | None
    differences: pd.DataFrame | None = None
    robust: RobustFit | None = None
    position: PositionEffect | None = None


@dataclass(frozen=True)
class StudyAnalysis:
    """Result of :func:`analyze`: per-question analyses plus the settings that produced them."""

    models: tuple[str, ...]
    display_names: dict[str, str]
    questions: dict[str, QuestionAnalysis]
    settings: dict[str, Any]
    latency_ms: dict[str, float] = field(default_factory=dict)
    breakdown: pd.DataFrame | None = None

    def leaderboard(self, question: str = ALL) -> pd.DataFrame:
        """Leaderboard of ``question`` (``"all"`` by default)."""
        return self._get(question).leaderboard

    def _get(self, question: str) -> QuestionAnalysis:
        if question not in self.questions:
            raise ValueError(
                f"unknown question {question!r}; expected one of {list(self.questions)}"
            )
        return self.questions[question]

    def leaderboard_text(self, question: str = ALL) -> str:
        """Plain-text leaderboard for the terminal.

        Parameters
        ----------
        question : str, default "all"
            Question to show.
        """
        q = self._get(question)
        lb = q.leaderboard
        lvl = int(round(self.settings["level"] * 100))
        head = (
            f"{question}: {q.counts.n_votes} votes, {q.counts.n_raters} raters; Bradley–Terry "
            f"({self.settings['tie_mode']} ties), {lvl}% {self.settings['cluster']}-bootstrap "
            f"intervals, B={self.settings['n_boot']}, seed={self.settings['seed']}"
        )
        width = max([len("model"), *(len(str(s)) for s in lb["display_name"])])
        lines = [
            head,
            f"{'#':>3}  {'ranks':>5}  {'model':<{width}}  {'rating':>7}  {f'{lvl}% CI':>15}  "
            f"{'votes':>6}  {'win%':>5}  {'elo':>6}",
        ]
        for row in lb.itertuples(index=False):
            ci = f"[{row.ci_low:.0f}, {row.ci_high:.0f}]"
            wr = "" if pd.isna(row.win_rate) else f"{100 * row.win_rate:.1f}"
            elo = "" if pd.isna(row.elo_online) else f"{row.elo_online:.0f}"
            lines.append(
                f"{row.rank:>3}  {f'{row.rank_low}-{row.rank_high}':>5}  "
                f"{row.display_name:<{width}}  {row.rating:7.1f}  {ci:>15}  "
                f"{row.votes:>6}  {wr:>5}  {elo:>6}"
            )
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        """Everything as plain JSON types (``nan`` becomes ``None``); see docs/statistics.md."""
        out: dict[str, Any] = {
            "settings": _clean(self.settings),
            "models": list(self.models),
            "display_names": dict(self.display_names),
            "latency_ms": _clean(self.latency_ms),
            "questions": {},
        }
        for name, q in self.questions.items():
            out["questions"][name] = _clean(
                {
                    "n_votes": q.counts.n_votes,
                    "n_raters": q.counts.n_raters,
                    "tie_nu": q.fit.tie_nu if q.fit is not None else None,
                    "leaderboard": q.leaderboard.to_dict(orient="records"),
                    "pairwise": q.pairwise.to_dict(orient="records"),
                    "win_rate": q.win_rate.to_numpy().tolist(),
                    "vote_counts": q.vote_counts.to_numpy().tolist(),
                    "differences": None
                    if q.differences is None
                    else q.differences.to_dict(orient="records"),
                    "robust": None
                    if q.robust is None
                    else {
                        "cluster": q.robust.cluster,
                        "n_clusters": q.robust.n_clusters,
                        "params": list(q.robust.params),
                        "estimate": q.robust.estimate,
                        "cov": q.robust.cov,
                        "design_effect": q.robust.design_effect(),
                        "effective_votes": q.robust.effective_votes(),
                    },
                    "position": None if q.position is None else asdict(q.position),
                }
            )
        if self.breakdown is not None:
            out["breakdown"] = _clean(self.breakdown.to_dict(orient="records"))
        return out


def _clean(obj: Any) -> Any:
    """Recursively convert numpy scalars and nan to JSON-safe Python values."""
    if isinstance(obj, Mapping):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_clean(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _clean(obj.tolist())
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def _leaderboard(
    counts: ComparisonCounts,
    ratings: np.ndarray,
    ci_low: np.ndarray,
    ci_high: np.ndarray,
    ranks: pd.DataFrame,
    names: Mapping[str, str],
    elo: EloRatings | None,
    elo_turbo: EloRatings | np.ndarray | None,
    robust: RobustFit | None,
) -> pd.DataFrame:
    wins, ties, bad = counts.wins, counts.ties, counts.both_bad
    won, lost = wins.sum(axis=1), wins.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = np.where(won + lost > 0, won / (won + lost), np.nan)
    turbo = elo_turbo.ratings if isinstance(elo_turbo, EloRatings) else elo_turbo
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
            "se_robust": robust.rating_se() if robust is not None else np.nan,
            "design_effect": robust.design_effect() if robust is not None else np.nan,
            "votes": counts.votes.sum(axis=1).astype(np.int64),
            "wins": won.astype(np.int64),
            "losses": lost.astype(np.int64),
            "ties": ties.sum(axis=1).astype(np.int64),
            "both_bad": bad.sum(axis=1).astype(np.int64),
            "win_rate": rate,
            "elo_online": elo.ratings if elo is not None else np.nan,
            "elo_sdxl_turbo": turbo if turbo is not None else np.nan,
        }
    )
    df = df.sort_values(["rank", "model"], kind="stable")
    return df.reset_index(drop=True)[list(LEADERBOARD_COLUMNS)]


def _cluster_units(cluster: str, robust_cluster: str) -> tuple[str, ...]:
    units = [] if cluster == VOTE else [cluster]
    if robust_cluster == "rater+prompt":
        units += ["rater", "prompt", "rater+prompt"]
    elif robust_cluster in ("rater", "prompt"):
        units.append(robust_cluster)
    return tuple(dict.fromkeys(units))


def analyze(
    comparisons: pd.DataFrame,
    *,
    seed: int = 0,
    n_boot: int = 1000,
    tie_mode: str = "davidson",
    cluster: str = "rater",
    latency_ms: Mapping[str, float] | None = None,
    display_names: Mapping[str, str] | None = None,
    anchor: str | None = None,
    level: float = 0.95,
    elo_orders: int = 1000,
    ridge: float = DEFAULT_RIDGE,
    robust_cluster: str = "rater",
    breakdown_by: str | None = "category",
) -> StudyAnalysis:
    """Analyse a study's votes: ratings, intervals, win rates and online Elo per question.

    Parameters
    ----------
    comparisons : pandas.DataFrame
        The comparisons DataFrame (DESIGN.md); validated here.
    seed : int, default 0
        Seed of the bootstrap and of the Elo shuffles.
    n_boot : int, default 1000
        Bootstrap replicates.
    tie_mode : {"davidson", "half", "exclude"}, default "davidson"
        Tie treatment of the Bradley–Terry fit (:func:`analysis.bt.bt_ratings`).
    cluster : {"rater", "prompt", "vote"}, default "rater"
        Bootstrap resampling unit. Raters are drawn once for the whole study and that draw is
        applied to every question.
    latency_ms : mapping of str to float, optional
        Milliseconds per image of each model, carried into the report.
    display_names : mapping of str to str, optional
        Human names of models (default: the model id).
    anchor : str, optional
        Model fixed at 1000 (default: mean rating 1000).
    level : float, default 0.95
        Interval coverage.
    elo_orders : int, default 1000
        Shuffled orders of the SDXL Turbo online-Elo variant (0 skips it).
    ridge : float, default 1e-6
        Ridge of the Bradley–Terry fits.
    robust_cluster : {"rater", "prompt", "rater+prompt", "vote", "model"}, default "rater"
        Clustering of the sandwich covariance (``se_robust``, design effect, position test);
        ``rater+prompt`` is two-way (Cameron, Gelbach & Miller 2011).
    breakdown_by : str or None, default "category"
        Column to break ratings down by (per question); None skips it.

    Returns
    -------
    StudyAnalysis
        Per-question results, ``"all"`` (mean over questions, Sauer et al. 2023) and settings.

    Notes
    -----
    Bradley & Terry (1952) with Davidson (1970) ties fitted by Newton's method (Hunter 2004);
    rater-clustered bootstrap and sandwich covariance (Cameron, Gelbach & Miller 2008, 2011);
    simultaneous rank intervals (Klein, Wright & Wieczorek 2020); win rates with Wilson (1927)
    and Clopper–Pearson intervals and Holm (1979)-corrected exact binomial tests; online Elo as
    in Chatbot Arena (Chiang et al. 2024) and SDXL Turbo (Sauer et al. 2023).
    """
    if tie_mode not in TIE_MODES:
        raise ValueError(
            f"tie_mode must be one of {', '.join(map(repr, TIE_MODES))}; got {tie_mode!r}"
        )
    if cluster not in ("rater", "prompt", VOTE):
        raise ValueError(f"cluster must be one of 'rater', 'prompt', 'vote'; got {cluster!r}")
    enc = encode_comparisons(comparisons)
    if enc.n_votes == 0:
        raise ValueError("comparisons has no rows; expected at least one vote")
    names = {m: str((display_names or {}).get(m, m)) for m in enc.models}
    rng = as_generator(seed)
    units = _cluster_units(cluster, robust_cluster)
    global_w = None if cluster == VOTE else cluster_weights(len(enc.labels(cluster)), n_boot, rng)
    anchor_index(enc.models, anchor)  # fail early on an unknown anchor
    opts = {"tie_mode": tie_mode, "anchor": anchor, "ridge": ridge, "level": level}
    q_codes = enc.codes("question")
    results: dict[str, QuestionAnalysis] = {}
    for qi, qname in enumerate(enc.labels("question")):
        mask = q_codes == qi
        counts = count_comparisons(enc, mask=mask, clusters=units)
        fit = bt_ratings(counts, tie_mode=tie_mode, anchor=anchor, ridge=ridge)
        w = None if global_w is None else global_w[:, counts.cluster(cluster).ids]
        boot = bootstrap_ratings(
            counts, n_boot=n_boot, seed=rng, cluster=cluster, weights=w, **opts
        )
        robust = robust_fit(counts, cluster=robust_cluster, tie_mode=tie_mode, ridge=ridge)
        pos_cluster = robust_cluster if robust_cluster != "model" else "vote"
        position = position_effect(counts, cluster=pos_cluster, tie_mode=tie_mode)
        elo = elo_ratings(enc, variant="fastchat", mask=mask)
        turbo = (
            elo_ratings(enc, variant="sdxl_turbo", n_orders=elo_orders, seed=seed, mask=mask)
            if elo_orders > 0
            else None
        )
        results[qname] = _assemble(
            qname,
            counts,
            fit.ratings,
            boot.ratings,
            boot.ci_low,
            boot.ci_high,
            fit,
            names,
            elo,
            turbo,
            robust,
            position,
            level,
        )
    pooled = count_comparisons(enc, clusters=())
    per_q = list(results.values())
    reps = np.mean([q.replicates for q in per_q], axis=0)
    mean_rating = np.mean([q.ratings for q in per_q], axis=0)
    a = (1 - level) / 2
    turbo_all = [q.elo_sdxl_turbo for q in per_q]
    turbo_mean = np.mean([t.ratings for t in turbo_all], axis=0) if all(turbo_all) else None
    results[ALL] = _assemble(
        ALL,
        pooled,
        mean_rating,
        reps,
        np.quantile(reps, a, axis=0),
        np.quantile(reps, 1 - a, axis=0),
        None,
        names,
        elo_ratings(enc, variant="fastchat"),
        turbo_mean,
        None,
        None,
        level,
    )
    table = (
        _breakdown(enc, breakdown_by, cluster, global_w, n_boot, rng, opts, names)
        if breakdown_by is not None
        else None
    )
    settings = {
        "seed": seed,
        "n_boot": n_boot,
        "cluster": cluster,
        "robust_cluster": robust_cluster,
        "tie_mode": tie_mode,
        "level": level,
        "anchor": anchor,
        "ridge": ridge,
        "n_votes": enc.n_votes,
        "n_raters": len(enc.labels("rater")),
        "n_prompts": len(enc.labels("prompt")),
        "questions": list(enc.labels("question")),
        "breakdown_by": breakdown_by,
        "combine": "mean over questions of per-question ratings (Sauer et al. 2023)",
        "elo_online": "FastChat online Elo, K=4, votes in the given order (order-dependent)",
        "elo_sdxl_turbo": f"online Elo, K=1, mean over {elo_orders} shuffled orders (seed {seed})",
        "win_rate_ties": "excluded",
        "interval": "percentile bootstrap",
        "rank_interval": "simultaneous, max-|t| over bootstrap replicates (Klein et al. 2020)",
    }
    return StudyAnalysis(
        models=enc.models,
        display_names=names,
        questions=results,
        settings=settings,
        latency_ms={str(k): float(v) for k, v in (latency_ms or {}).items()},
        breakdown=table,
    )


def _breakdown(
    enc: EncodedComparisons,
    column: str,
    cluster: str,
    global_w: np.ndarray | None,
    n_boot: int,
    rng: np.random.Generator,
    opts: dict[str, Any],
    names: Mapping[str, str],
) -> pd.DataFrame:
    """Ratings per (question, ``column`` value), bootstrapped with the study's rater draw."""
    if column not in enc.keys:
        raise ValueError(f"breakdown_by must be one of {sorted(enc.keys)}; got {column!r}")
    rows = []
    q_codes, g_codes = enc.codes("question"), enc.codes(column)
    units = () if cluster == VOTE else (cluster,)
    for qi, qname in enumerate(enc.labels("question")):
        for gi, gname in enumerate(enc.labels(column)):
            mask = (q_codes == qi) & (g_codes == gi)
            if not mask.any():
                continue
            counts = count_comparisons(enc, mask=mask, clusters=units)
            fit = bt_ratings(
                counts, tie_mode=opts["tie_mode"], anchor=opts["anchor"], ridge=opts["ridge"]
            )
            w = None if global_w is None else global_w[:, counts.cluster(cluster).ids]
            boot = bootstrap_ratings(
                counts, n_boot=n_boot, seed=rng, cluster=cluster, weights=w, **opts
            )
            votes = counts.votes.sum(axis=1)
            for k, model in enumerate(counts.models):
                rows.append(
                    {
                        "question": qname,
                        column: gname,
                        "model": model,
                        "display_name": names.get(model, model),
                        "rating": fit.ratings[k],
                        "ci_low": boot.ci_low[k],
                        "ci_high": boot.ci_high[k],
                        "votes": int(votes[k]),
                    }
                )
    return pd.DataFrame(rows)


def _assemble(
    qname: str,
    counts: ComparisonCounts,
    ratings: np.ndarray,
    replicates: np.ndarray,
    low: np.ndarray,
    high: np.ndarray,
    fit: BTRatings | None,
    names: Mapping[str, str],
    elo: EloRatings | None,
    turbo: EloRatings | np.ndarray | None,
    robust: RobustFit | None,
    position: PositionEffect | None,
    level: float,
) -> QuestionAnalysis:
    rates, _ = win_rate_matrix(counts)
    labels = list(counts.models)
    # Rank intervals and differences are invariant to centring: Elo-scale replicates / scale.
    theta, reps = ratings / ELO_SCALE, replicates / ELO_SCALE
    ranks = rank_intervals(labels, theta, replicates=reps, level=level)
    return QuestionAnalysis(
        question=qname,
        counts=counts,
        ratings=ratings,
        replicates=replicates,
        ci_low=low,
        ci_high=high,
        fit=fit,
        leaderboard=_leaderboard(counts, ratings, low, high, ranks, names, elo, turbo, robust),
        pairwise=pairwise_table(counts),
        win_rate=rates,
        vote_counts=pd.DataFrame(counts.votes.astype(np.int64), index=labels, columns=labels),
        elo_online=elo,
        elo_sdxl_turbo=turbo if isinstance(turbo, EloRatings) else None,
        differences=pairwise_differences(labels, theta, replicates=reps, level=level),
        robust=robust,
        position=position,
    )


@dataclass(frozen=True)
class ReportFiles:
    """Paths written by :func:`write_report`."""

    html: Path
    json: Path
    csv: dict[str, Path]


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("._") or "question"


def write_report(analysis: StudyAnalysis, out_dir: Path, *, title: str) -> ReportFiles:
    """Write ``report.html`` (offline, plotly.js inline), ``analysis.json`` and CSV tables.

    Parameters
    ----------
    analysis : StudyAnalysis
        Result of :func:`analyze`.
    out_dir : pathlib.Path
        Folder to write into (created if needed).
    title : str
        Report title (HTML-escaped).

    Returns
    -------
    ReportFiles
        The HTML, JSON and CSV paths; CSV keys are ``leaderboard_<q>``, ``pairwise_<q>``,
        ``winrate_<q>`` and ``votes_<q>``.
    """
    from analysis.html import render_report  # plotly is imported only when a report is written

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    csv: dict[str, Path] = {}
    used: set[str] = set()
    for name, q in analysis.questions.items():
        slug = _slug(name)
        while slug in used:
            slug += "_"
        used.add(slug)
        tables = {
            f"leaderboard_{slug}": (q.leaderboard, False),
            f"pairwise_{slug}": (q.pairwise, False),
            f"winrate_{slug}": (q.win_rate, True),
            f"votes_{slug}": (q.vote_counts, True),
        }
        for key, (df, index) in tables.items():
            path = out / f"{key}.csv"
            df.to_csv(path, index=index)
            csv[key] = path
    json_path = out / "analysis.json"
    json_path.write_text(json.dumps(analysis.to_json(), indent=1), encoding="utf-8")
    html_path = out / "report.html"
    html_path.write_text(render_report(analysis, title=title), encoding="utf-8")
    return ReportFiles(html=html_path, json=json_path, csv=csv)
