"""Result types of a study analysis and their JSON form (see docs/statistics.md).

:class:`StudyAnalysis` holds one :class:`QuestionAnalysis` per question plus ``"all"``;
:meth:`StudyAnalysis.to_json` turns everything into plain JSON types (non-finite numbers become
``null``; an unbounded interval side is ``null`` with the row's ``separated`` flag saying which).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from analysis.bt import BTRatings
from analysis.counts import ComparisonCounts
from analysis.elo import EloRatings
from analysis.robust import PositionEffect, RobustFit
from analysis.separation import Separation

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
    "separated",
    "ci_open",
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
        Elo-scale Bradley–Terry ratings (mean over questions for ``"all"``); ``+inf`` / ``-inf``
        for a model that never lost / never won (no finite estimate), ``nan`` if neither bound.
    replicates : ndarray, shape (B, m)
        Bootstrap replicates of the ridge-held ratings (finite; see ``replicate_reach``).
    ci_low, ci_high : ndarray, shape (m,)
        Interval bounds, infinite on an unbounded side (:mod:`analysis.separation`).
    fit : BTRatings or None
        The Bradley–Terry fit (None for a combined ``"all"``).
    leaderboard : pandas.DataFrame
        Columns :data:`LEADERBOARD_COLUMNS`, best model first.
    pairwise : pandas.DataFrame
        :func:`analysis.winrate.pairwise_table`: cluster-adjusted intervals and tests
        (``deff``, ``n_eff``, ``*_adj``) first, then the vote-level ones.
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
    separation : Separation or None
        Which ratings are bounded, the reference set they are centred on, and why.
    replicate_reach : ndarray of bool, shape (B, m, m), optional
        Reachability of each replicate's win graph.
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
    separation: Separation | None = None
    replicate_reach: np.ndarray | None = None

    @property
    def separated(self) -> bool:
        """True when some rating has no finite estimate (a model never lost or never won)."""
        return self.separation is not None and self.separation.separated

    @property
    def tie_nu(self) -> float | None:
        """Davidson's tie parameter, None without a Davidson fit (or for ``"all"``)."""
        return self.fit.tie_nu if self.fit is not None else None

    def design_effect(self) -> float | None:
        """Mean design effect, None when there is no robust fit or it is degenerate."""
        if self.robust is None or self.separated:
            return None
        return float(np.nanmean(self.robust.design_effect()))

    def effective_votes(self) -> float | None:
        """Votes worth the same precision if independent, None when degenerate."""
        if self.robust is None or self.separated:
            return None
        return float(self.robust.effective_votes())

    def sentences(self, names: Mapping[str, str] | None = None) -> list[str]:
        """Plain sentences explaining each unbounded rating (empty when none)."""
        if not self.separated:
            return []
        idx = {m: k for k, m in enumerate(self.counts.models)}
        order = [idx[m] for m in self.leaderboard["model"]]
        return self.separation.sentences(names, self.counts.wins, order)


@dataclass(frozen=True)
class ExcludingFlagged:
    """Leaderboards computed again without the flagged raters (same settings and seed).

    Attributes
    ----------
    raters : tuple of str
        The flagged raters left out (empty: nothing was left out, the leaderboards are the
        main ones).
    n_votes : int
        Rated votes that remain.
    leaderboards : dict of str to pandas.DataFrame
        Per question and ``"all"``, columns :data:`LEADERBOARD_COLUMNS`.
    """

    raters: tuple[str, ...]
    n_votes: int
    leaderboards: dict[str, pd.DataFrame]

    def comparison(self, full: pd.DataFrame, question: str) -> pd.DataFrame:
        """Per model (order of ``full``): rank, rating and interval with everyone and without.

        Columns ``model``, ``display_name``, ``rank``, ``rating``, ``ci_low``, ``ci_high``,
        ``separated`` (everyone), the same five with suffix ``_excluding_flagged``, and
        ``change`` (rating without minus rating with; ``nan`` when either is unbounded).
        """
        keep = ["model", "display_name", "rank", "rating", "ci_low", "ci_high", "separated"]
        excl = self.leaderboards.get(question)
        right = (
            excl[keep[0:1] + keep[2:]]
            if excl is not None
            else pd.DataFrame(columns=[keep[0], *keep[2:]])
        )
        out = full[keep].merge(right, on="model", how="left", suffixes=("", "_excluding_flagged"))
        with np.errstate(invalid="ignore"):
            out["change"] = out["rating_excluding_flagged"].astype(float) - out["rating"]
        out.loc[~np.isfinite(out["change"]), "change"] = np.nan
        return out

    def order_changed(self, full: pd.DataFrame, question: str) -> bool:
        """True when the models that remain are ranked in another order without the flagged."""
        excl = self.leaderboards.get(question)
        if excl is None:
            return False
        common = set(excl["model"])
        before = [m for m in full["model"] if m in common]
        return before != list(excl["model"])

    def sentence(
        self, full: pd.DataFrame, question: str, names: Mapping[str, str] | None = None
    ) -> str | None:
        """A plain sentence when excluding the flagged raters reorders the models, else None."""
        if not self.order_changed(full, question):
            return None
        names = names or {}
        excl = self.leaderboards[question]
        common = set(excl["model"])

        def order(models: Sequence[str]) -> str:
            return " > ".join(str(names.get(m, m)) for m in models if m in common)

        label = "all questions" if question == ALL else question
        return (
            f"{label}: without the {len(self.raters)} flagged rater(s) the order changes from "
            f"{order(list(full['model']))} to {order(list(excl['model']))}."
        )


@dataclass(frozen=True)
class StudyAnalysis:
    """Result of :func:`analyze`: per-question analyses plus the settings that produced them.

    ``raters`` is :func:`analysis.raters.rater_quality`'s table, ``agreement``
    :func:`analysis.agreement.agreement_by_question`'s, and ``excluding_flagged`` the
    leaderboards without the flagged raters (None when no rated vote or fewer than two models
    would remain).
    """

    models: tuple[str, ...]
    display_names: dict[str, str]
    questions: dict[str, QuestionAnalysis]
    settings: dict[str, Any]
    latency_ms: dict[str, float] = field(default_factory=dict)
    breakdown: pd.DataFrame | None = None
    raters: pd.DataFrame | None = None
    agreement: pd.DataFrame | None = None
    excluding_flagged: ExcludingFlagged | None = None
    #: :func:`analysis.claims.claim_table`: the declared comparisons, one row per question.
    comparisons: pd.DataFrame | None = None
    #: :func:`analysis.claims.fit_test` of each question (None for ``"all"``), computed by
    #: ``analyze`` so that this module needs no statistics module that imports it.
    fit_tests: dict[str, Any] = field(default_factory=dict)

    def comparisons_text(self) -> str:
        """The declared comparisons' sentences, one paragraph each (empty when none)."""
        if self.comparisons is None:
            return ""
        return "\n".join(self.comparisons["sentence"])

    def leaderboard(self, question: str = ALL) -> pd.DataFrame:
        """Leaderboard of ``question`` (``"all"`` by default)."""
        return self.question(question).leaderboard

    def question(self, question: str = ALL) -> QuestionAnalysis:
        """The results of ``question``; an unknown one raises ValueError naming the known ones.

        Terminal text of a result: :mod:`analysis.present.text`."""
        if question not in self.questions:
            raise ValueError(
                f"unknown question {question!r}; expected one of {list(self.questions)}"
            )
        return self.questions[question]

    def to_json(self) -> dict[str, Any]:
        """Everything as plain JSON types (``nan`` becomes ``None``); see docs/statistics.md."""
        out: dict[str, Any] = {
            "comparisons": None
            if self.comparisons is None
            else _clean(self.comparisons.to_dict(orient="records")),
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
                    "tie_nu": q.tie_nu,
                    "tie_share": None if q.tie_nu is None else q.tie_nu / (2 + q.tie_nu),
                    "separated": q.separated,
                    "separation": _separation_json(q, self.display_names),
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
                        "degenerate": q.separated,
                        "design_effect": None if q.separated else q.robust.design_effect(),
                        "effective_votes": q.effective_votes(),
                    },
                    "position": None if q.position is None else asdict(q.position),
                    "fit": _fit_json(self.fit_tests.get(name)),
                }
            )
        if self.breakdown is not None:
            out["breakdown"] = _clean(self.breakdown.to_dict(orient="records"))
        out.update(self._quality_json())
        return out

    def _quality_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.raters is not None:
            rows = self.raters.to_dict(orient="records")
            out["raters"] = _clean([{**r, "flags": list(r["flags"])} for r in rows])
        if self.agreement is not None:
            out["agreement"] = {
                str(r["question"]): _clean({k: v for k, v in r.items() if k != "question"})
                for r in self.agreement.to_dict(orient="records")
            }
        ex = self.excluding_flagged
        if self.raters is not None:
            out["excluding_flagged"] = (
                None
                if ex is None
                else {
                    "raters": list(ex.raters),
                    "n_raters": len(ex.raters),
                    "n_votes": ex.n_votes,
                    "questions": {
                        q: {
                            "order_changed": ex.order_changed(self.questions[q].leaderboard, q),
                            "sentence": ex.sentence(
                                self.questions[q].leaderboard, q, self.display_names
                            ),
                            "leaderboard": _clean(lb.to_dict(orient="records")),
                        }
                        for q, lb in ex.leaderboards.items()
                        if q in self.questions
                    },
                }
            )
        return out


def _fit_json(fit: Any) -> dict[str, Any] | None:
    if fit is None:
        return None
    return {
        "test": "Pearson chi-square of head-to-head against Bradley-Terry win rates, "
        "per-pair design effect (Rao-Scott)",
        "statistic": fit.statistic,
        "df": fit.df,
        "p_value": fit.p_value,
        "pairs": fit.pairs.to_dict(orient="records"),
    }


def _separation_json(q: QuestionAnalysis, names: Mapping[str, str]) -> dict[str, Any] | None:
    if q.separation is None:
        return None
    sep = q.separation
    return {
        "reference": [m for m, r in zip(sep.models, sep.reference, strict=True) if r],
        "flags": dict(zip(sep.models, sep.flags(), strict=True)),
        "sentences": q.sentences(names),
    }


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
