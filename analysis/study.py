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
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from analysis.agreement import agreement_by_question
from analysis.assemble import Options, Rated, question_analysis
from analysis.bootstrap import bootstrap_ratings
from analysis.breakdown import breakdown_table, point_reach
from analysis.bt import BTRatings, anchor_index, bt_ratings
from analysis.claims import Claim, claim_table, default_claims, fit_test
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
from analysis.modes import PROMPT, RATER, RATER_PROMPT, VOTE
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
from analysis.settings import ELO_BUDGET, AnalysisSettings, method_text
from analysis.smallsample import floor_at_model
from analysis.twoway import two_way_comparisons

#: Fewest shuffled orders averaged when the budget caps them.
MIN_ELO_ORDERS = 10
#: The ``set_aside`` key of rated votes that compare a model with itself (not rated).
SELF_COMPARISON = "self-comparison"

__all__ = ["ELO_BUDGET", "AnalysisSettings", "QuestionFits", "analyze", "elo_orders_within"]


def elo_orders_within(requested: int, n_votes: int, budget: int = ELO_BUDGET) -> int:
    """Shuffled orders to average: ``requested``, or fewer (at least 10) to fit ``budget``."""
    if requested <= 0 or requested * max(n_votes, 1) <= budget:
        return max(requested, 0)
    return max(MIN_ELO_ORDERS, min(requested, budget // max(n_votes, 1)))


@dataclass(frozen=True)
class RatedVotes:
    """The votes :func:`analyze` rates, and what it set aside."""

    #: Every ``2afc`` vote between two different models (agreement and claims read these).
    all_rated: pd.DataFrame
    #: Those of the questions with a decisive vote (the ratings read these).
    rated: pd.DataFrame
    #: Rows of each kind (``2afc``, ``gold``, ``repeat``, ``practice``).
    kinds: dict[str, int]
    #: ``2afc`` votes that compare a model with itself.
    n_self: int
    #: Questions without a decisive vote, with the reason.
    unrated: dict[str, str]


@dataclass(frozen=True)
class QuestionFits:
    """Every fit of one question, before :func:`analysis.assemble.question_analysis` tabulates
    them."""

    counts: Any
    fit: BTRatings
    boot: Any
    reach: np.ndarray
    robust: Any
    position: Any
    elo: Any
    turbo: Any | None


def analyze(
    comparisons: pd.DataFrame,
    settings: AnalysisSettings | None = None,
    *,
    latency_ms: Mapping[str, float] | None = None,
    display_names: Mapping[str, str] | None = None,
    rules: QualityRules | None = None,
    claims: Sequence[Claim] | None = None,
    **options: Any,
) -> StudyAnalysis:
    """Analyse a study's votes: ratings, intervals, win rates and online Elo per question.

    Parameters
    ----------
    comparisons : pandas.DataFrame
        The comparisons DataFrame (docs/design.md); validated here.
    settings : AnalysisSettings, optional
        What to compute (:class:`analysis.settings.AnalysisSettings`: seed, n_boot, tie_mode,
        cluster, anchor, level, elo_orders, elo_budget, ridge, robust_cluster, breakdown_by,
        reference_model, alpha, small_sample, each with its default and help there).
    latency_ms : mapping of str to float, optional
        Milliseconds per image of each model, carried into the report.
    display_names : mapping of str to str, optional
        Human names of models (default: the model id).
    rules : QualityRules, optional
        Rater-quality rules (:class:`analysis.raters.QualityRules`; default thresholds when
        None). Flagged raters stay in the headline ratings; the leaderboards without them are
        in ``excluding_flagged``.
    claims : sequence of Claim, optional
        The study's declared comparisons (:class:`analysis.claims.Claim`); default: the
        reference model against every other model, superiority, on every question.
    **options
        Fields of :class:`AnalysisSettings` overriding ``settings`` (``n_boot=200``).

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
    in Chatbot Arena (Chiang et al. 2024) and SDXL Turbo (Sauer et al. 2023). ``cluster =
    "rater+prompt"`` is two-way (pigeonhole bootstrap, :mod:`analysis.draws`); with another
    unit the declared comparisons still report their two-way interval (``two_way_*`` columns).
    With more votes than ``elo_budget / elo_orders`` the shuffled Elo averages fewer orders
    (at least 10), and the settings say how many (``elo_orders_used``).

    Only ``kind == "2afc"`` rows are rated; gold and repeat rows feed rater quality, practice
    rows nothing (:mod:`analysis.frame`). Rater quality: :mod:`analysis.raters`; agreement:
    Fleiss (1971) and Krippendorff (2011) (:mod:`analysis.agreement`).
    """
    asked = replace(settings or AnalysisSettings(), **options)
    votes = _rated_votes(comparisons)
    rules = rules or QualityRules()
    used = replace(
        asked, elo_orders=elo_orders_within(asked.elo_orders, len(votes.rated), asked.elo_budget)
    )
    names = dict(display_names or {})
    enc = encode_comparisons(votes.rated)  # once: the ratings and the two-way check share it
    result = _analyze_rated(votes.rated, used, names, latency_ms, enc=enc)
    raters = rater_quality(comparisons, rules)
    flagged = flagged_raters(raters)
    declared = _claims(claims, asked.reference_model, votes.all_rated)
    return replace(
        result,
        settings=_record(result.settings, asked, votes, rules, raters, len(flagged)),
        raters=raters,
        agreement=agreement_by_question(votes.all_rated),
        excluding_flagged=_excluding(result, votes.rated, flagged, used, names),
        comparisons=_claim_table(result, declared, asked, enc, votes.unrated),
        fit_tests={q: fit_test(a) for q, a in result.questions.items()},
    )


def _rated_votes(comparisons: pd.DataFrame) -> RatedVotes:
    """The votes to rate, refusing a frame with none in one sentence."""
    rated, kinds = split_kinds(comparisons)
    if len(comparisons) == 0:
        raise ValueError("comparisons has no rows; expected at least one vote")
    if len(rated) == 0:
        raise ValueError(
            f"comparisons has no 2afc votes ({', '.join(f'{n} {k}' for k, n in kinds.items())}); "
            "expected at least one rated vote"
        )
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
    decisive, unrated = decisive_questions(rated)
    if len(decisive) == 0:
        raise ValueError(
            "no question has a decisive vote ("
            + "; ".join(f"{q}: {why}" for q, why in unrated.items())
            + "); ratings need at least one vote for one image over the other"
        )
    return RatedVotes(rated, decisive, kinds, int(same.sum()), unrated)


def _record(
    base: dict[str, Any],
    asked: AnalysisSettings,
    votes: RatedVotes,
    rules: QualityRules,
    raters: pd.DataFrame,
    n_flagged: int,
) -> dict[str, Any]:
    """The result's ``settings`` dict: the keys the report and JSON consumers read."""
    settings = {
        **base,
        "votes_by_kind": votes.kinds,
        "set_aside": {k: n for k, n in votes.kinds.items() if k != RATED_KIND}
        | ({SELF_COMPARISON: votes.n_self} if votes.n_self else {}),
        "unrated_questions": votes.unrated,
        "elo_orders_requested": asked.elo_orders,
        "elo_budget": asked.elo_budget,
        "quality_rules": asdict(rules),
        "majority_threshold": majority_threshold(raters, rules),
        "n_flagged": n_flagged,
        "flag_counts": flag_counts(raters),
    }
    used = settings["elo_orders_used"]
    if 0 < used < asked.elo_orders:
        settings["elo_sdxl_turbo"] += (
            f"; fewer than the {asked.elo_orders} asked for, because {len(votes.rated):,} votes "
            f"× {asked.elo_orders} orders exceed the budget of {asked.elo_budget:,} vote updates"
        )
    return settings


def _claim_table(
    result: StudyAnalysis,
    declared: list[Claim],
    asked: AnalysisSettings,
    enc: EncodedComparisons,
    unrated: dict[str, str],
) -> pd.DataFrame:
    # Where the head-to-head is already two-way there is nothing to compare it with.
    two_way = (
        None
        if asked.cluster == RATER_PROMPT
        else two_way_comparisons(
            enc,
            declared,
            [q for q in result.questions if q != ALL],
            level=asked.level,
            small_sample=asked.small_sample,
        )
    )
    return claim_table(
        result.questions,
        declared,
        alpha=asked.alpha,
        names=result.display_names,
        unrated=unrated,
        level=asked.level,
        two_way=two_way,
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
    result: StudyAnalysis,
    rated: pd.DataFrame,
    flagged: list[str],
    used: AnalysisSettings,
    names: Mapping[str, str],
) -> ExcludingFlagged | None:
    """The leaderboards again without ``flagged`` (the main ones when nobody is flagged)."""
    if not flagged:
        boards = {q: a.leaderboard for q, a in result.questions.items()}
        return ExcludingFlagged((), int(result.settings["n_votes"]), boards)
    keep = ~rated["rater"].astype(str).isin(flagged).to_numpy()
    rest, _ = decisive_questions(rated.loc[keep])
    models = {str(m) for col in ("model_a", "model_b") for m in pd.unique(rest[col])}
    if len(models) < 2 or (used.anchor is not None and used.anchor not in models):
        return None
    again = _analyze_rated(rest, replace(used, breakdown_by=None), names, None)
    boards = {q: a.leaderboard for q, a in again.questions.items()}
    return ExcludingFlagged(tuple(flagged), len(rest), boards)


def _cluster_units(draw: StudyDraw, robust_cluster: str) -> tuple[str, ...]:
    units = list(draw.counted_units)
    if robust_cluster == RATER_PROMPT:
        units += [RATER, PROMPT, RATER_PROMPT]
    elif robust_cluster in (RATER, PROMPT):
        units.append(robust_cluster)
    return tuple(dict.fromkeys(units))


def _fit_question(
    enc: EncodedComparisons,
    mask: np.ndarray,
    units: tuple[str, ...],
    draw: StudyDraw,
    rng: np.random.Generator,
    s: AnalysisSettings,
) -> QuestionFits:
    """Every fit of the votes in ``mask`` (one question)."""
    counts = count_comparisons(enc, mask=mask, clusters=units)
    opts = {"tie_mode": s.tie_mode, "anchor": s.anchor, "ridge": s.ridge, "level": s.level}
    boot = bootstrap_ratings(
        counts,
        n_boot=s.n_boot,
        seed=rng,
        cluster=s.cluster,
        weights=draw.for_counts(counts),
        **opts,
    )
    turbo = (
        elo_ratings(enc, variant="sdxl_turbo", n_orders=s.elo_orders, seed=s.seed, mask=mask)
        if s.elo_orders > 0
        else None
    )
    return QuestionFits(
        counts=counts,
        fit=bt_ratings(counts, tie_mode=s.tie_mode, anchor=s.anchor, ridge=s.ridge),
        boot=boot,
        reach=point_reach(counts, s.tie_mode),
        robust=robust_fit(counts, cluster=s.robust_cluster, tie_mode=s.tie_mode, ridge=s.ridge),
        position=position_effect(
            counts,
            cluster=s.robust_cluster if s.robust_cluster != "model" else "vote",
            tie_mode=s.tie_mode,
        ),
        elo=elo_ratings(enc, variant="fastchat", mask=mask),
        turbo=turbo,
    )


def _analyze_rated(
    comparisons: pd.DataFrame,
    s: AnalysisSettings,
    display_names: Mapping[str, str],
    latency_ms: Mapping[str, float] | None,
    enc: EncodedComparisons | None = None,
) -> StudyAnalysis:
    """:func:`analyze` on rated (``2afc``) votes only, without rater quality.

    ``enc`` is ``comparisons`` already encoded, when the caller has it."""
    enc = encode_comparisons(comparisons) if enc is None else enc
    names = {m: str(display_names.get(m, m)) for m in enc.models}
    rng = as_generator(s.seed)
    draw = study_draw(enc, s.cluster, s.n_boot, rng)
    units = _cluster_units(draw, s.robust_cluster)
    a_idx = anchor_index(enc.models, s.anchor)  # fail early on an unknown anchor
    q_codes = enc.codes("question")
    fits = {
        qname: _fit_question(enc, q_codes == qi, units, draw, rng, s)
        for qi, qname in enumerate(enc.labels("question"))
    }
    pooled = count_comparisons(enc, clusters=())
    # One reference set for the study, so that "all" averages ratings with the same origin.
    ref = reference_models([f.reach for f in fits.values()], pooled.votes.sum(axis=1), a_idx)
    shared = Options(
        tie_mode=s.tie_mode,
        ridge=s.ridge,
        level=s.level,
        reference=ref,
        win_rate_cluster=s.cluster,
        small_sample=s.small_sample,
    )
    fits, floors = _floored(fits, s)
    results: dict[str, QuestionAnalysis] = {
        qname: question_analysis(
            qname,
            f.counts,
            Rated(f.fit.theta, f.boot.theta, f.reach, f.boot.reach, (f.counts,)),
            shared,
            fit=f.fit,
            names=names,
            elo=f.elo,
            turbo=f.turbo,
            robust=f.robust,
            position=f.position,
            n_clusters=draw.n_clusters([f.counts]),
        )
        for qname, f in fits.items()
    }
    results[ALL] = _all_questions(list(fits.values()), enc, pooled, draw, shared, names)
    table = (
        breakdown_table(enc, s.breakdown_by, draw, s.n_boot, rng, shared, names)
        if s.breakdown_by is not None
        else None
    )
    settings = {
        **s.record(),
        "n_votes": enc.n_votes,
        "n_raters": len(enc.labels("rater")),
        "n_prompts": len(enc.labels("prompt")),
        "questions": list(enc.labels("question")),
        **method_text(s, s.elo_orders),
        "elo_orders_used": s.elo_orders,
        "reference": [m for m, r in zip(enc.models, ref, strict=True) if r],
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


def _floored(
    fits: dict[str, QuestionFits], s: AnalysisSettings
) -> tuple[dict[str, QuestionFits], dict[str, float]]:
    """Raters who agree exactly leave a cluster bootstrap no spread: floor its covariance at
    the model-based one (own seed stream, so the bootstrap draw is unchanged)."""
    out, floors = {}, {}
    for k, (qname, f) in enumerate(fits.items()):
        if f.reach.all() and s.cluster != VOTE:
            theta, floors[qname] = floor_at_model(f.boot.theta, f.robust.cov_model, [s.seed, 1, k])
            f = replace(f, boot=replace(f.boot, theta=theta))
        out[qname] = f
    return out, floors


def _all_questions(
    per_q: list[QuestionFits],
    enc: EncodedComparisons,
    pooled: Any,
    draw: StudyDraw,
    shared: Options,
    names: dict[str, str],
) -> QuestionAnalysis:
    """ "all": the mean of per-question log-strengths; a contrast is bounded only if it is in
    every question (reachability AND-ed), in the estimate and in each replicate."""
    rated_all = Rated(
        np.mean([f.fit.theta for f in per_q], axis=0),
        np.mean([f.boot.theta for f in per_q], axis=0),
        np.logical_and.reduce([f.reach for f in per_q]),
        np.logical_and.reduce([f.boot.reach for f in per_q]),
        tuple(f.counts for f in per_q),
    )
    turbo = [f.turbo for f in per_q]
    return question_analysis(
        ALL,
        pooled,
        rated_all,
        shared,
        fit=None,
        names=names,
        elo=elo_ratings(enc, variant="fastchat"),
        turbo=np.mean([t.ratings for t in turbo], axis=0) if all(turbo) else None,
        # Clusters that voted on any question: one draw of them is shared by every question.
        n_clusters=draw.n_clusters([f.counts for f in per_q]),
    )
