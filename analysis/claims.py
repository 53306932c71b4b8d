"""Declared comparisons: the study's question answered per model pair and question.

A study declares what it wants to know — "is SDXL Turbo at 1 step not worse than SDXL at 50?"
— as claims on pairs of models (:class:`Claim`). Each claim is tested on the head-to-head votes
(direct votes between the two models only), with the rater-adjusted interval and test of
:func:`analysis.winrate.pairwise_table` (Kish effective counts), and the family of declared
tests is Holm-corrected. The Bradley–Terry answer (pooled through every model, assuming
transitive preferences) is shown beside it, with a goodness-of-fit test of the model
(:func:`fit_test`) so that a reader knows when the pooled answer should not be trusted.

The win rate is the share of decisive votes (ties and "both bad" carry no direction).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import special
from scipy.sparse.csgraph import connected_components

from analysis.dist import chi2_sf
from analysis.modes import RATER_PROMPT
from analysis.result import QuestionAnalysis
from analysis.winrate import binomial_test_half, holm_adjust

#: The claims a comparison can make about model a against model b.
CLAIMS: tuple[str, ...] = ("superiority", "non-inferiority", "equivalence")
#: Claims whose margin (a share of decisive votes, 0 < margin < 0.5) is required.
MARGIN_CLAIMS: tuple[str, ...] = ("non-inferiority", "equivalence")
#: Columns of :func:`claim_table`, in order; the first twelve are the documented JSON contract.
CLAIM_COLUMNS: tuple[str, ...] = (
    "model_a",
    "model_b",
    "question",
    "claim",
    "margin",
    "win_rate",
    "ci_low",
    "ci_high",
    "p_value",
    "p_adjusted",
    "verdict",
    "sentence",
    "n_decisive",
    "n_raters",
    "cluster",
    "bt_win_rate",
    "bt_ci_low",
    "bt_ci_high",
    "bt_verdict",
    "fit_statistic",
    "fit_df",
    "fit_p_value",
    "agree",
    "note",
    "two_way_ci_low",
    "two_way_ci_high",
    "two_way_p_value",
    "two_way_deff",
    "n_prompts",
)
NOT_TESTED = "not tested"


@dataclass(frozen=True)
class Claim:
    """What a study wants to know about ``model_a`` against ``model_b``.

    Attributes
    ----------
    model_a, model_b : str
        The two models; the win rate is ``model_a``'s share of their decisive votes.
    claim : {"superiority", "non-inferiority", "equivalence"}
        ``superiority``: two-sided test of a 50 % win rate. ``non-inferiority``: ``model_a``
        wins more than ``0.5 - margin`` (one-sided). ``equivalence``: the win rate lies within
        ``0.5 ± margin`` (two one-sided tests, TOST).
    margin : float
        Share of decisive votes (e.g. 0.05 = five points); 0 for superiority.
    questions : tuple of str
        Questions the claim is tested on (empty: every question).
    """

    model_a: str
    model_b: str
    claim: str = "superiority"
    margin: float = 0.0
    questions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.claim not in CLAIMS:
            raise ValueError(
                f"claim must be one of {', '.join(map(repr, CLAIMS))}; got {self.claim!r}"
            )
        if self.model_a == self.model_b:
            raise ValueError(f"a comparison needs two different models; got {self.model_a!r} twice")
        if self.claim in MARGIN_CLAIMS and not 0 < self.margin < 0.5:
            raise ValueError(
                f"margin of a {self.claim} claim must be a share between 0 and 0.5 "
                f"(e.g. 0.05); got {self.margin!r}"
            )
        if self.claim == "superiority" and self.margin != 0:
            raise ValueError(f"a superiority claim takes no margin; got {self.margin!r}")


def default_claims(models: Sequence[str], reference: str) -> list[Claim]:
    """Superiority of ``reference`` against every other model, on every question."""
    if reference not in models:
        raise ValueError(f"reference model {reference!r} is not one of {list(models)}")
    return [Claim(reference, m) for m in models if m != reference]


def one_sided_p(x: float, n: float, p0: float, upper: bool) -> float:
    """Exact binomial tail ``P(X >= x)`` (``upper``) or ``P(X <= x)`` under ``p = p0``.

    Non-integer ``x`` and ``n`` (effective counts) enter through the incomplete beta, the
    binomial tail's continuous extension (Abramowitz & Stegun 1964, 26.5.24).
    """
    if n <= 0:
        return float("nan")
    if upper:
        return 1.0 if x <= 0 else float(special.betainc(x, n - x + 1, p0))
    return 1.0 if x >= n else float(1 - special.betainc(x + 1, n - x, p0))


def claim_p_value(claim: str, x: float, n: float, margin: float) -> float:
    """p-value of ``claim`` from ``x`` wins of ``model_a`` in ``n`` decisive votes.

    Superiority: two-sided exact test of 0.5. Non-inferiority: one-sided, H0 ``p <= 0.5 -
    margin``. Equivalence: TOST, the larger of the two one-sided p-values (Schuirmann 1987).
    """
    if claim == "superiority":
        return float(binomial_test_half(x, n))
    low = one_sided_p(x, n, 0.5 - margin, upper=True)
    if claim == "non-inferiority":
        return low
    return max(low, one_sided_p(x, n, 0.5 + margin, upper=False))


def _interval_verdict(claim: str, margin: float, low: float, high: float) -> str:
    """The claim's verdict read off an interval (the Bradley–Terry answer has no p-value)."""
    if not (np.isfinite(low) and np.isfinite(high)):
        return NOT_TESTED
    if claim == "superiority":
        return "a better" if low > 0.5 else "b better" if high < 0.5 else "no difference shown"
    if claim == "non-inferiority":
        return "non-inferior" if low > 0.5 - margin else "non-inferiority not shown"
    inside = low > 0.5 - margin and high < 0.5 + margin
    return "equivalent" if inside else "equivalence not shown"


def _verdict(claim: str, win_rate: float, p_adjusted: float, alpha: float) -> str:
    shown = p_adjusted <= alpha
    if claim == "superiority":
        if not shown:
            return "no difference shown"
        return "a better" if win_rate > 0.5 else "b better"
    if claim == "non-inferiority":
        return "non-inferior" if shown else "non-inferiority not shown"
    return "equivalent" if shown else "equivalence not shown"


@dataclass(frozen=True)
class FitTest:
    """Goodness of fit of Bradley–Terry to one question's head-to-head win rates.

    Attributes
    ----------
    statistic : float
        Pearson χ² over the compared pairs, each term divided by the pair's design effect
        (first-order Rao–Scott correction for votes clustered by rater).
    df : int
        Compared pairs minus the free ratings (models minus connected components); 0 when the
        ratings reproduce every pair exactly (e.g. two models, or a chain), so nothing is tested.
    p_value : float
        ``chi2.sf(statistic, df)``; ``nan`` when ``df == 0``.
    pairs : pandas.DataFrame
        Per compared pair: ``model_a``, ``model_b``, ``n`` (decisive votes), ``observed`` and
        ``predicted`` win rate of ``model_a``, ``deff`` and ``residual`` (standardised).
    """

    statistic: float
    df: int
    p_value: float
    pairs: pd.DataFrame


def fit_test(q: QuestionAnalysis) -> FitTest | None:
    """Observed against Bradley–Terry-predicted head-to-head win rates, with a χ² test.

    Returns None for a combined question (no fit). Pairs involving a model without a finite
    rating (separated) are left out: their prediction only echoes the ridge.

    Notes
    -----
    Among decisive votes the Davidson (1970) and plain Bradley–Terry models both predict
    ``P(i beats j) = 1 / (1 + exp(theta_j - theta_i))``; with ``tie_mode="half"`` ties count as
    half a win in ``observed`` and in ``n``. Pearson's statistic with per-pair design effects
    (Rao & Scott 1981, first order) on ``pairs - (models - components)`` degrees of freedom.
    """
    if q.fit is None:
        return None
    theta, models = q.fit.theta, q.counts.models
    wins, ties = q.counts.wins, q.counts.ties
    half = q.fit.tie_mode == "half"
    finite = np.isfinite(q.ratings)
    deff = {(r.model_a, r.model_b): float(r.deff) for r in q.pairwise.itertuples(index=False)}
    rows = []
    i_idx, j_idx = np.triu_indices(len(models), k=1)
    for i, j in zip(i_idx, j_idx, strict=True):
        x = wins[i, j] + (ties[i, j] / 2 if half else 0)
        n = wins[i, j] + wins[j, i] + (ties[i, j] if half else 0)
        if n <= 0 or not (finite[i] and finite[j]):
            continue
        p = 1 / (1 + np.exp(theta[j] - theta[i]))
        d = deff.get((models[i], models[j]), 1.0)
        resid = (x - n * p) / np.sqrt(n * p * (1 - p) * d)
        rows.append((models[i], models[j], n, x / n, p, d, resid))
    pairs = pd.DataFrame(
        rows, columns=["model_a", "model_b", "n", "observed", "predicted", "deff", "residual"]
    )
    used = sorted(set(pairs["model_a"]) | set(pairs["model_b"]))
    if pairs.empty:
        return FitTest(float("nan"), 0, float("nan"), pairs)
    pos = {m: k for k, m in enumerate(used)}
    adj = np.zeros((len(used), len(used)))
    adj[pairs["model_a"].map(pos), pairs["model_b"].map(pos)] = 1
    n_comp = connected_components(adj, directed=False)[0]
    df = len(pairs) - (len(used) - n_comp)
    stat = float((pairs["residual"] ** 2).sum())
    p_value = float(chi2_sf(stat, df)) if df > 0 else float("nan")
    return FitTest(stat, int(df), p_value, pairs)


def _oriented(table: pd.DataFrame, a: str, b: str) -> tuple[pd.Series | None, bool]:
    """The row of pair (a, b) in a table ordered by model index, and whether it is flipped."""
    hit = table[(table["model_a"] == a) & (table["model_b"] == b)]
    if len(hit):
        return hit.iloc[0], False
    hit = table[(table["model_a"] == b) & (table["model_b"] == a)]
    return (hit.iloc[0], True) if len(hit) else (None, False)


def _head_to_head(q: QuestionAnalysis, a: str, b: str) -> dict[str, float]:
    row, flip = _oriented(q.pairwise, a, b)
    if row is None or row["n_decisive"] == 0:
        return {"n_decisive": 0, "n_raters": 0}
    wins = row["losses"] if flip else row["wins"]
    low, high = row["wilson_low_adj"], row["wilson_high_adj"]
    two_way = row["cluster"] == RATER_PROMPT
    out = {}
    if two_way:  # the interval is itself two-way: the two_way_* columns repeat it
        lo2, hi2 = (1 - high, 1 - low) if flip else (low, high)
        out = {
            "two_way_ci_low": float(lo2),
            "two_way_ci_high": float(hi2),
            "two_way_deff": float(row["deff"]),
            "n_prompts": int(row["n_prompts"]),
        }
    return {
        **out,
        "cluster": str(row["cluster"]),
        "n_clusters": int(row["n_clusters"]),
        "n_decisive": int(row["n_decisive"]),
        "n_raters": int(row["n_raters"] if two_way else row["n_clusters"]),
        "wins": float(wins),
        # The divisor behind the interval, so the test and the interval agree (small-sample
        # corrected unless the analysis was asked not to be).
        "deff": float(row["deff_t"]),
        "win_rate": float(wins / row["n_decisive"]),
        "ci_low": float(1 - high if flip else low),
        "ci_high": float(1 - low if flip else high),
    }


def _bradley_terry(q: QuestionAnalysis, a: str, b: str) -> dict[str, float]:
    nan = float("nan")
    if q.differences is None:
        return {"bt_win_rate": nan, "bt_ci_low": nan, "bt_ci_high": nan}
    row, flip = _oriented(q.differences, a, b)
    if row is None:
        return {"bt_win_rate": nan, "bt_ci_low": nan, "bt_ci_high": nan}
    p, low, high = float(row["p_win"]), float(row["p_win_low"]), float(row["p_win_high"])
    if flip:
        p, low, high = 1 - p, 1 - high, 1 - low
    return {"bt_win_rate": p, "bt_ci_low": low, "bt_ci_high": high}


def claim_table(
    questions: Mapping[str, QuestionAnalysis],
    claims: Sequence[Claim],
    *,
    alpha: float = 0.05,
    names: Mapping[str, str] | None = None,
    unrated: Mapping[str, str] | None = None,
    level: float = 0.95,
    two_way: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Test every declared claim on every question it names; one row per claim and question.

    Parameters
    ----------
    questions : mapping of str to QuestionAnalysis
        The study's per-question analyses (a combined ``"all"`` entry is ignored: a claim is
        about one question at a time).
    claims : sequence of Claim
        The declared comparisons.
    alpha : float, default 0.05
        Family-wise error rate of the verdicts.
    names : mapping of str to str, optional
        Display names for the sentences.
    unrated : mapping of str to str, optional
        Questions that were not rated, with the reason (:func:`analysis.frame.decisive_questions`).
    level : float, default 0.95
        Coverage of the intervals in the sentences' wording.
    two_way : pandas.DataFrame, optional
        The same comparisons under two-way clustering by rater and prompt
        (:func:`analysis.twoway.two_way_comparisons`); its columns are joined on, and the
        sentence says when they widen the interval by more than a tenth.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`CLAIM_COLUMNS`. ``win_rate``, ``ci_low``, ``ci_high``: head-to-head share
        of decisive votes won by ``model_a`` with its rater-adjusted Wilson interval.
        ``p_value``: the claim's own test (two-sided for superiority, one-sided for
        non-inferiority, TOST for equivalence) on Kish effective counts. ``p_adjusted``: Holm
        over all tested rows on the two-sided scale (a one-sided p-value counts double, so every
        test is at ``alpha / 2`` per side, matching the two-sided interval). ``verdict``: ``a
        better``, ``b better``, ``no difference shown``, ``non-inferior``, ``non-inferiority
        not shown``, ``equivalent``, ``equivalence not shown`` or ``not tested`` (why in
        ``note``). ``bt_*``: the Bradley–Terry win probability with its bootstrap interval and
        the verdict read off that interval; ``fit_*``: :func:`fit_test` of the question;
        ``agree``: the two verdicts are the same. ``two_way_*`` and ``n_prompts``: from
        ``two_way`` (``nan`` without it).

    Notes
    -----
    Holm (1979); Schuirmann (1987) TOST; Kish (1965) effective sample size; Wilson (1927).
    A pair whose decisive votes come from one rater gets no verdict: a rater-clustered interval
    needs at least two clusters.
    """
    names = names or {}
    unrated = unrated or {}
    fits = {name: fit_test(q) for name, q in questions.items()}
    rows: list[dict] = []
    for c in claims:
        targets = c.questions or tuple(q for q in questions if q != "all") + tuple(unrated)
        for qname in targets:
            rows.append(_row(c, qname, questions.get(qname), fits.get(qname), unrated))
    table = pd.DataFrame(rows, columns=[col for col in CLAIM_COLUMNS if col != "sentence"])
    if two_way is not None and len(two_way):
        keys = ["model_a", "model_b", "question"]
        extra = [c for c in two_way.columns if c not in keys]
        table = table.drop(columns=extra).merge(two_way, on=keys, how="left")
        table["n_prompts"] = table["n_prompts"].fillna(0).astype(np.int64)
    tested = table["p_value"].notna().to_numpy()
    scale = np.where(table["claim"] == "superiority", 1.0, 2.0)
    p2 = np.minimum(1.0, table["p_value"].to_numpy(dtype=float) * scale)
    table["p_adjusted"] = holm_adjust(np.where(tested, p2, np.nan))
    table["verdict"] = [
        _verdict(r.claim, r.win_rate, r.p_adjusted, alpha) if t else NOT_TESTED
        for r, t in zip(table.itertuples(index=False), tested, strict=True)
    ]
    table["agree"] = [
        bool(t and r.bt_verdict == r.verdict)
        for r, t in zip(table.itertuples(index=False), tested, strict=True)
    ]
    from analysis.present.claims_text import claim_sentence

    n_tests = int(tested.sum())
    table["sentence"] = [
        claim_sentence(r._asdict(), names, n_tests=n_tests, level=level)
        for r in table.itertuples(index=False)
    ]
    return table[list(CLAIM_COLUMNS)]


def _row(
    c: Claim,
    qname: str,
    q: QuestionAnalysis | None,
    fit: FitTest | None,
    unrated: Mapping[str, str],
) -> dict:
    nan = float("nan")
    row: dict = {
        "model_a": c.model_a,
        "model_b": c.model_b,
        "question": qname,
        "claim": c.claim,
        "margin": c.margin,
        "win_rate": nan,
        "ci_low": nan,
        "ci_high": nan,
        "p_value": nan,
        "p_adjusted": nan,
        "verdict": NOT_TESTED,
        "n_decisive": 0,
        "n_raters": 0,
        "cluster": "",
        "bt_win_rate": nan,
        "bt_ci_low": nan,
        "bt_ci_high": nan,
        "bt_verdict": NOT_TESTED,
        "fit_statistic": nan,
        "fit_df": 0,
        "fit_p_value": nan,
        "agree": False,
        "note": "",
        "two_way_ci_low": nan,
        "two_way_ci_high": nan,
        "two_way_p_value": nan,
        "two_way_deff": nan,
        "n_prompts": 0,
    }
    if q is None:
        why = unrated.get(qname, "the question has no votes")
        return {**row, "note": f"question not rated: {why}"}
    missing = [m for m in (c.model_a, c.model_b) if m not in q.counts.models]
    if not missing:
        votes = q.counts.votes.sum(axis=1)
        missing = [m for m in (c.model_a, c.model_b) if votes[q.counts.models.index(m)] == 0]
    if missing:
        return {**row, "note": f"no votes for {' and '.join(missing)} in this question"}
    h2h = _head_to_head(q, c.model_a, c.model_b)
    bt = _bradley_terry(q, c.model_a, c.model_b)
    row.update({k: v for k, v in h2h.items() if k in row}, **bt)
    row["bt_verdict"] = _interval_verdict(c.claim, c.margin, bt["bt_ci_low"], bt["bt_ci_high"])
    if fit is not None:
        row.update(fit_statistic=fit.statistic, fit_df=fit.df, fit_p_value=fit.p_value)
    if h2h["n_decisive"] == 0:
        return {**row, "note": "never compared directly (no decisive vote between them)"}
    if h2h["n_clusters"] < 2:
        unit = "prompt" if h2h["cluster"] == "prompt" else "rater"
        return {
            **row,
            "ci_low": nan,
            "ci_high": nan,
            "note": f"every decisive vote between them is from one {unit}; a {unit}-adjusted "
            f"interval needs at least two {unit}s",
        }
    d = h2h["deff"]
    row["p_value"] = claim_p_value(c.claim, h2h["wins"] / d, h2h["n_decisive"] / d, c.margin)
    if h2h["cluster"] == RATER_PROMPT:
        row["two_way_p_value"] = row["p_value"]
    return row
