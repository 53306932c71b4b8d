"""One call from the comparisons DataFrame to every table of a study: :func:`analyze`.

Per question and for ``"all"``: Bradley–Terry ratings on the Elo scale with rater-clustered
bootstrap intervals, counts, win rates and online Elo. ``"all"`` combines questions as the SDXL
Turbo paper does (Sauer et al. 2023): each model's rating is the mean of its per-question ratings,
with the interval taken from the same bootstrap replicates (one rater draw is shared by all
questions, so the mean's interval accounts for raters answering several questions). Separation
(a model that never lost or never won) is detected per question and per replicate and reported as
unbounded rather than as a precise rating (:mod:`analysis.separation`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, replace
from typing import Any

import numpy as np
import pandas as pd

from analysis.agreement import agreement_by_question
from analysis.assemble import Options, Rated, question_analysis
from analysis.bootstrap import bootstrap_ratings
from analysis.breakdown import breakdown_table, point_reach
from analysis.bt import DEFAULT_RIDGE, anchor_index, bt_ratings
from analysis.claims import Claim, claim_table, default_claims
from analysis.counts import count_comparisons
from analysis.draws import StudyDraw, study_draw
from analysis.elo import elo_ratings
from analysis.frame import (
    RATED_KIND,
    EncodedComparisons,
    decisive_questions,
    encode_comparisons,
    factorize,
    same_values,
    split_kinds,
)
from analysis.modes import (
    BOOTSTRAP_UNITS,
    DEFAULT_TIE_MODE,
    PROMPT,
    RATER,
    RATER_PROMPT,
    TIE_MODES,
    VOTE,
)
from analysis.raters import (
    QualityRules,
    flag_counts,
    flagged_raters,
    majority_threshold,
    rater_quality,
)
from analysis.result import ALL, ExcludingFlagged, QuestionAnalysis, StudyAnalysis
from analysis.rng import as_generator
from analysis.robust import position_effect, robust_fit
from analysis.separation import reference_models
from analysis.smallsample import SMALL_SAMPLE_METHOD, floor_at_model
from analysis.twoway import two_way_comparisons

#: Vote updates (votes × shuffled orders) the SDXL Turbo online Elo may spend: about 0.4 s of the
#: compiled kernel on two cores (benchmarks/analysis_speed.py).
ELO_BUDGET = 60_000_000
#: Fewest shuffled orders averaged when the budget caps them.
MIN_ELO_ORDERS = 10


def elo_orders_within(requested: int, n_votes: int, budget: int = ELO_BUDGET) -> int:
    """Shuffled orders to average: ``requested``, or fewer (at least 10) to fit ``budget``."""
    if requested <= 0 or requested * max(n_votes, 1) <= budget:
        return max(requested, 0)
    return max(MIN_ELO_ORDERS, min(requested, budget // max(n_votes, 1)))


#: The ``set_aside`` key of rated votes that compare a model with itself (not rated).
SELF_COMPARISON = "self-comparison"


def _cluster_units(draw: StudyDraw, robust_cluster: str) -> tuple[str, ...]:
    units = list(draw.counted_units)
    if robust_cluster == RATER_PROMPT:
        units += [RATER, PROMPT, RATER_PROMPT]
    elif robust_cluster in (RATER, PROMPT):
        units.append(robust_cluster)
    return tuple(dict.fromkeys(units))


def analyze(
    comparisons: pd.DataFrame,
    *,
    seed: int = 0,
    n_boot: int = 1000,
    tie_mode: str = DEFAULT_TIE_MODE,
    cluster: str = RATER,
    latency_ms: Mapping[str, float] | None = None,
    display_names: Mapping[str, str] | None = None,
    anchor: str | None = None,
    level: float = 0.95,
    elo_orders: int = 1000,
    ridge: float = DEFAULT_RIDGE,
    robust_cluster: str = RATER,
    breakdown_by: str | None = "category",
    rules: QualityRules | None = None,
    elo_budget: int = ELO_BUDGET,
    claims: Sequence[Claim] | None = None,
    reference_model: str | None = None,
    alpha: float = 0.05,
    small_sample: bool = True,
) -> StudyAnalysis:
    """Analyse a study's votes: ratings, intervals, win rates and online Elo per question.

    Parameters
    ----------
    comparisons : pandas.DataFrame
        The comparisons DataFrame (docs/design.md); validated here.
    seed : int, default 0
        Seed of the bootstrap and of the Elo shuffles.
    n_boot : int, default 1000
        Bootstrap replicates.
    tie_mode : {"davidson", "half", "exclude"}, default "davidson"
        Tie treatment of the Bradley–Terry fit (:func:`analysis.bt.bt_ratings`).
    cluster : {"rater", "prompt", "rater+prompt", "vote"}, default "rater"
        Bootstrap resampling unit, and the cluster unit of the win rates' design effects.
        Clusters are drawn once for the whole study and that draw is applied to every question.
        ``rater+prompt`` is two-way: raters and prompts resampled independently (pigeonhole
        bootstrap, :mod:`analysis.draws`) and two-way design effects (Cameron, Gelbach & Miller
        2011). With another unit the declared comparisons still report their two-way interval
        (``two_way_*`` columns), and the sentence says where it is a tenth wider.
    latency_ms : mapping of str to float, optional
        Milliseconds per image of each model, carried into the report.
    display_names : mapping of str to str, optional
        Human names of models (default: the model id).
    anchor : str, optional
        Model fixed at 1000 (default: mean rating 1000).
    level : float, default 0.95
        Interval coverage.
    elo_orders : int, default 1000
        Shuffled orders of the SDXL Turbo online-Elo variant (0 skips it). At most
        ``elo_budget`` vote updates are spent on it: with more votes than
        ``elo_budget / elo_orders`` it averages fewer orders (at least 10), and the settings say
        how many (``elo_orders_used``).
    elo_budget : int, default 60,000,000
        Vote updates (votes × orders) the shuffled online Elo may take (about 0.4 s on two cores).
    ridge : float, default 1e-6
        Ridge of the Bradley–Terry fits.
    robust_cluster : {"rater", "prompt", "rater+prompt", "vote", "model"}, default "rater"
        Clustering of the sandwich covariance (``se_robust``, design effect, position test);
        ``rater+prompt`` is two-way (Cameron, Gelbach & Miller 2011).
    breakdown_by : str or None, default "category"
        Column to break ratings down by (per question); None skips it.
    rules : QualityRules, optional
        Rater-quality rules (:class:`analysis.raters.QualityRules`; default thresholds when
        None). Flagged raters stay in the headline ratings; the leaderboards without them are
        in ``excluding_flagged``.
    claims : sequence of Claim, optional
        The study's declared comparisons (:class:`analysis.claims.Claim`); default: the
        reference model against every other model, superiority, on every question.
    reference_model : str, optional
        Model of the default comparisons (default: the model with the most votes).
    alpha : float, default 0.05
        Family-wise error rate of the declared comparisons' verdicts (Holm).
    small_sample : bool, default True
        Few-cluster corrections with ``G - 1`` degrees of freedom, ``G`` the clusters behind
        each interval (:mod:`analysis.smallsample`): expanded percentile bootstrap intervals,
        the simultaneous rank intervals' critical value, and Korn–Graubard effective counts for
        win rates and the declared comparisons' tests. False gives the uncorrected intervals
        (with 12 raters they cover about 92% at a nominal 95%, benchmarks/coverage.py).

    Returns
    -------
    StudyAnalysis
        Per-question results, ``"all"`` (mean over questions, Sauer et al. 2023), settings
        (with ``votes_by_kind`` and ``set_aside``: rows of each kind, and those not rated),
        the rater table, agreement per question and the leaderboards without flagged raters.

    Notes
    -----
    Bradley & Terry (1952) with Davidson (1970) ties fitted by Newton's method (Hunter 2004);
    rater-clustered bootstrap and sandwich covariance (Cameron, Gelbach & Miller 2008, 2011);
    simultaneous rank intervals (Klein, Wright & Wieczorek 2020); win rates with Wilson (1927)
    and Clopper–Pearson intervals and Holm (1979)-corrected exact binomial tests; online Elo as
    in Chatbot Arena (Chiang et al. 2024) and SDXL Turbo (Sauer et al. 2023).

    Only ``kind == "2afc"`` rows are rated; gold and repeat rows feed rater quality, practice
    rows nothing (:mod:`analysis.frame`). Rater quality: :mod:`analysis.raters`; agreement:
    Fleiss (1971) and Krippendorff (2011) (:mod:`analysis.agreement`).
    """
    if tie_mode not in TIE_MODES:
        raise ValueError(
            f"tie_mode must be one of {', '.join(map(repr, TIE_MODES))}; got {tie_mode!r}"
        )
    if cluster not in BOOTSTRAP_UNITS:
        raise ValueError(
            f"cluster must be one of {', '.join(map(repr, BOOTSTRAP_UNITS))}; got {cluster!r}"
        )
    rated, kinds = split_kinds(comparisons)
    if len(comparisons) == 0:
        raise ValueError("comparisons has no rows; expected at least one vote")
    if len(rated) == 0:
        raise ValueError(
            f"comparisons has no 2afc votes ({', '.join(f'{n} {k}' for k, n in kinds.items())}); "
            "expected at least one rated vote"
        )
    rules = rules or QualityRules()
    # A model against itself says nothing about which model is better, and would count twice
    # in its own row of the count tensor.
    same = same_values(rated["model_a"], rated["model_b"])
    if same.any():
        rated = rated.loc[~same]
        if len(rated) == 0:
            raise ValueError(
                f"every rated vote ({int(same.sum())}) compares a model with itself; "
                "expected votes between two different models"
            )
    all_rated = rated
    rated, unrated = decisive_questions(rated)
    if len(rated) == 0:
        raise ValueError(
            "no question has a decisive vote ("
            + "; ".join(f"{q}: {why}" for q, why in unrated.items())
            + "); ratings need at least one vote for one image over the other"
        )
    kw: dict[str, Any] = {
        "seed": seed,
        "n_boot": n_boot,
        "tie_mode": tie_mode,
        "cluster": cluster,
        "latency_ms": latency_ms,
        "display_names": display_names,
        "anchor": anchor,
        "level": level,
        "elo_orders": elo_orders_within(elo_orders, len(rated), elo_budget),
        "ridge": ridge,
        "robust_cluster": robust_cluster,
        "small_sample": small_sample,
    }
    enc = encode_comparisons(rated)  # once: the ratings and the two-way check share it
    result = _analyze_rated(rated, breakdown_by=breakdown_by, enc=enc, **kw)
    raters = rater_quality(comparisons, rules)
    flagged = flagged_raters(raters)
    settings = {
        **result.settings,
        "votes_by_kind": kinds,
        "set_aside": {k: n for k, n in kinds.items() if k != RATED_KIND}
        | ({SELF_COMPARISON: int(same.sum())} if same.any() else {}),
        "unrated_questions": unrated,
        "elo_orders_requested": elo_orders,
        "elo_budget": elo_budget,
        "quality_rules": asdict(rules),
        "majority_threshold": majority_threshold(raters, rules),
        "n_flagged": len(flagged),
        "flag_counts": flag_counts(raters),
    }
    used = settings["elo_orders_used"]
    if 0 < used < elo_orders:
        settings["elo_sdxl_turbo"] += (
            f"; fewer than the {elo_orders} asked for, because {len(rated):,} votes × "
            f"{elo_orders} orders exceed the budget of {elo_budget:,} vote updates"
        )
    declared = _claims(claims, reference_model, all_rated)
    # Where the head-to-head is already two-way there is nothing to compare it with.
    two_way = (
        None
        if cluster == RATER_PROMPT
        else two_way_comparisons(
            enc,
            declared,
            [q for q in result.questions if q != ALL],
            level=level,
            small_sample=small_sample,
        )
    )
    return replace(
        result,
        settings=settings,
        raters=raters,
        agreement=agreement_by_question(all_rated),
        excluding_flagged=_excluding(result, rated, flagged, kw),
        comparisons=claim_table(
            result.questions,
            declared,
            alpha=alpha,
            names=result.display_names,
            unrated=unrated,
            level=level,
            two_way=two_way,
        ),
    )


def _claims(
    claims: Sequence[Claim] | None, reference: str | None, rated: pd.DataFrame
) -> list[Claim]:
    """The declared claims, or the reference model against every other model."""
    if claims is not None:
        return list(claims)
    votes: dict[str, int] = {}
    for side in ("model_a", "model_b"):
        codes, labels = factorize(rated[side])
        for label, n in zip(labels, np.bincount(codes, minlength=len(labels)), strict=True):
            votes[label] = votes.get(label, 0) + int(n)
    models = sorted(votes, key=lambda m: (-votes[m], m))
    if reference is None:
        reference = models[0]
    elif reference not in models:
        raise ValueError(f"reference_model {reference!r} has no votes; expected one of {models}")
    return default_claims(models, reference)


def _excluding(
    result: StudyAnalysis, rated: pd.DataFrame, flagged: list[str], kw: dict[str, Any]
) -> ExcludingFlagged | None:
    """The leaderboards again without ``flagged`` (the main ones when nobody is flagged)."""
    if not flagged:
        boards = {q: a.leaderboard for q, a in result.questions.items()}
        return ExcludingFlagged((), int(result.settings["n_votes"]), boards)
    keep = ~rated["rater"].astype(str).isin(flagged).to_numpy()
    rest, _ = decisive_questions(rated.loc[keep])
    keep_n = len(rest)
    models = {str(m) for col in ("model_a", "model_b") for m in pd.unique(rest[col])}
    if len(models) < 2 or (kw.get("anchor") is not None and kw["anchor"] not in models):
        return None
    again = _analyze_rated(rest, breakdown_by=None, **kw)
    boards = {q: a.leaderboard for q, a in again.questions.items()}
    return ExcludingFlagged(tuple(flagged), int(keep_n), boards)


def _analyze_rated(
    comparisons: pd.DataFrame,
    *,
    seed: int = 0,
    n_boot: int = 1000,
    tie_mode: str = DEFAULT_TIE_MODE,
    cluster: str = RATER,
    latency_ms: Mapping[str, float] | None = None,
    display_names: Mapping[str, str] | None = None,
    anchor: str | None = None,
    level: float = 0.95,
    elo_orders: int = 1000,
    ridge: float = DEFAULT_RIDGE,
    robust_cluster: str = RATER,
    breakdown_by: str | None = "category",
    small_sample: bool = True,
    enc: EncodedComparisons | None = None,
) -> StudyAnalysis:
    """:func:`analyze` on rated (``2afc``) votes only, without rater quality.

    ``enc`` is ``comparisons`` already encoded, when the caller has it."""
    enc = encode_comparisons(comparisons) if enc is None else enc
    names = {m: str((display_names or {}).get(m, m)) for m in enc.models}
    rng = as_generator(seed)
    draw = study_draw(enc, cluster, n_boot, rng)
    units = _cluster_units(draw, robust_cluster)
    a_idx = anchor_index(enc.models, anchor)  # fail early on an unknown anchor
    opts = {"tie_mode": tie_mode, "anchor": anchor, "ridge": ridge, "level": level}
    q_codes = enc.codes("question")
    raw: dict[str, dict[str, Any]] = {}
    for qi, qname in enumerate(enc.labels("question")):
        mask = q_codes == qi
        counts = count_comparisons(enc, mask=mask, clusters=units)
        w = draw.for_counts(counts)
        pos_cluster = robust_cluster if robust_cluster != "model" else "vote"
        raw[qname] = {
            "counts": counts,
            "fit": bt_ratings(counts, tie_mode=tie_mode, anchor=anchor, ridge=ridge),
            "boot": bootstrap_ratings(
                counts, n_boot=n_boot, seed=rng, cluster=cluster, weights=w, **opts
            ),
            "reach": point_reach(counts, tie_mode),
            "robust": robust_fit(counts, cluster=robust_cluster, tie_mode=tie_mode, ridge=ridge),
            "position": position_effect(counts, cluster=pos_cluster, tie_mode=tie_mode),
            "elo": elo_ratings(enc, variant="fastchat", mask=mask),
            "turbo": elo_ratings(
                enc, variant="sdxl_turbo", n_orders=elo_orders, seed=seed, mask=mask
            )
            if elo_orders > 0
            else None,
        }
    pooled = count_comparisons(enc, clusters=())
    # One reference set for the study, so that "all" averages ratings with the same origin.
    ref = reference_models([r["reach"] for r in raw.values()], pooled.votes.sum(axis=1), a_idx)
    shared = Options(
        tie_mode=tie_mode,
        ridge=ridge,
        level=level,
        reference=ref,
        win_rate_cluster=cluster,
        small_sample=small_sample,
    )
    results: dict[str, QuestionAnalysis] = {}
    floors: dict[str, float] = {}
    for k, (qname, r) in enumerate(raw.items()):
        reps = r["boot"].theta
        if r["reach"].all() and cluster != VOTE:
            # Raters who agree exactly leave a cluster bootstrap no spread: floor its covariance
            # at the model-based one (own seed stream, so the bootstrap draw is unchanged).
            reps, floors[qname] = floor_at_model(reps, r["robust"].cov_model, [seed, 1, k])
            r["boot"] = replace(r["boot"], theta=reps)
        rated = Rated(r["fit"].theta, reps, r["reach"], r["boot"].reach, (r["counts"],))
        results[qname] = question_analysis(
            qname,
            r["counts"],
            rated,
            shared,
            fit=r["fit"],
            names=names,
            elo=r["elo"],
            turbo=r["turbo"],
            robust=r["robust"],
            position=r["position"],
            n_clusters=draw.n_clusters([r["counts"]]),
        )
    per_q = list(raw.values())
    # "all": mean of per-question log-strengths; a contrast is bounded only if it is in every
    # question (reachability AND-ed), in the estimate and in each replicate.
    rated_all = Rated(
        np.mean([r["fit"].theta for r in per_q], axis=0),
        np.mean([r["boot"].theta for r in per_q], axis=0),
        np.logical_and.reduce([r["reach"] for r in per_q]),
        np.logical_and.reduce([r["boot"].reach for r in per_q]),
        tuple(r["counts"] for r in per_q),
    )
    turbo_all = [r["turbo"] for r in per_q]
    results[ALL] = question_analysis(
        ALL,
        pooled,
        rated_all,
        shared,
        fit=None,
        names=names,
        elo=elo_ratings(enc, variant="fastchat"),
        turbo=np.mean([t.ratings for t in turbo_all], axis=0) if all(turbo_all) else None,
        # Clusters that voted on any question: one draw of them is shared by every question.
        n_clusters=draw.n_clusters([r["counts"] for r in per_q]),
    )
    table = (
        breakdown_table(enc, breakdown_by, draw, n_boot, rng, shared, names)
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
        "elo_online": "FastChat online Elo, K=4, votes in the given order (order-dependent); "
        "both bad scored as a tie, as FastChat does",
        "elo_sdxl_turbo": f"online Elo, K=1, mean over {elo_orders} shuffled orders (seed {seed})"
        if elo_orders > 0
        else "not computed",
        "elo_orders_used": elo_orders,
        "win_rate_ties": "excluded",
        "interval": "expanded percentile bootstrap" if small_sample else "percentile bootstrap",
        "rank_interval": "simultaneous, max-|t| over bootstrap replicates (Klein et al. 2020)"
        + (", critical value on t with G-1 df" if small_sample else ""),
        "small_sample": SMALL_SAMPLE_METHOD if small_sample else "none",
        "reference": [m for m, r in zip(enc.models, ref, strict=True) if r],
        "separation": "profile likelihood for the finite side of an unbounded rating",
        "model_floor": {q: round(v, 4) for q, v in floors.items()},
    }
    return StudyAnalysis(
        models=enc.models,
        display_names=names,
        questions=results,
        settings=settings,
        latency_ms={str(k): float(v) for k, v in (latency_ms or {}).items()},
        breakdown=table,
    )
