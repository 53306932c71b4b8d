"""Does it matter that votes cluster by prompt too? Two-way intervals for declared comparisons.

A study's votes cluster by rater (taste) and by prompt (some prompts suit some models). The
report's intervals count raters as the clusters; when prompts have effects of their own, an
interval that ignores them is too narrow (with prompt effects of sd 0.5 on 20 prompts, rater-only
intervals cover 92% at 12 raters, two-way ones 96%: benchmarks/interval_coverage.py). For each declared
comparison this module computes the head-to-head interval again with two-way clustering (rater
and prompt, Cameron, Gelbach & Miller 2011), so the report can say where prompts matter.

Only the declared pairs' decisive votes are counted (one sort of the votes by question and pair,
a slice per comparison, then one ``bincount`` per clustering), so the check costs a fraction of
a second on a million votes, where counting every rater-by-prompt cell for every pair would
cost seconds. The design
effects are those of :func:`analysis.winrate.two_way_design_effect`, which a test checks.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from analysis.claims import Claim, claim_p_value
from analysis.frame import OUTCOMES, EncodedComparisons
from analysis.smallsample import df_adjusted_deff
from analysis.winrate import cluster_design_effect, combine_two_way, wilson_interval

#: Columns of :func:`two_way_comparisons` besides the keys ``model_a``, ``model_b``, ``question``.
TWO_WAY_COLUMNS: tuple[str, ...] = (
    "two_way_ci_low",
    "two_way_ci_high",
    "two_way_p_value",
    "two_way_deff",
    "n_prompts",
)


def _design_effect(codes: np.ndarray, won: np.ndarray) -> tuple[float, int]:
    """One pair's design effect and cluster count for one clustering of its decisive votes."""
    _, rows = np.unique(codes, return_inverse=True)
    w = np.bincount(rows, weights=won.astype(np.float64))
    n = np.bincount(rows).astype(np.float64)
    deff, g = cluster_design_effect(w[:, None], n[:, None])
    return float(deff[0]), int(g[0])


def two_way_comparisons(
    enc: EncodedComparisons,
    claims: Sequence[Claim],
    questions: Sequence[str],
    *,
    level: float = 0.95,
    small_sample: bool = True,
) -> pd.DataFrame:
    """Head-to-head interval and test of each declared comparison under two-way clustering.

    Parameters
    ----------
    enc : EncodedComparisons
        The rated votes.
    claims : sequence of Claim
        The declared comparisons.
    questions : sequence of str
        Rated questions (a claim without questions is checked on each).
    level : float, default 0.95
        Interval coverage.
    small_sample : bool, default True
        Korn–Graubard effective counts with ``min(G_rater, G_prompt) - 1`` degrees of freedom.

    Returns
    -------
    pandas.DataFrame
        One row per claim and question with direct votes: ``model_a``, ``model_b``,
        ``question``, then :data:`TWO_WAY_COLUMNS` — the Wilson interval of ``model_a``'s win
        rate on the two-way effective counts, the claim's p-value on them (unadjusted), the
        two-way design effect and the number of prompts behind the pair's votes.
    """
    index = {m: k for k, m in enumerate(enc.models)}
    q_codes, q_labels = enc.codes("question"), enc.labels("question")
    left_won = enc.outcome == OUTCOMES.index("a")
    decisive = np.flatnonzero(left_won | (enc.outcome == OUTCOMES.index("b")))
    r_codes, p_codes = enc.codes("rater"), enc.codes("prompt")
    rp_codes = r_codes * len(enc.labels("prompt")) + p_codes
    # One sort of the decisive votes by (question, unordered pair); each comparison is a slice.
    m = len(enc.models)
    lo = np.minimum(enc.a[decisive], enc.b[decisive])
    hi = np.maximum(enc.a[decisive], enc.b[decisive])
    key = (q_codes[decisive] * m + lo) * m + hi
    order = np.argsort(key, kind="stable")
    votes_by_key, sorted_key = decisive[order], key[order]
    nan = float("nan")
    rows = []
    for c in claims:
        if c.model_a not in index or c.model_b not in index:
            continue
        ia, ib = index[c.model_a], index[c.model_b]
        for qname in c.questions or questions:
            if qname not in q_labels:
                continue
            k = (q_labels.index(qname) * m + min(ia, ib)) * m + max(ia, ib)
            start, stop = np.searchsorted(sorted_key, [k, k + 1])
            votes = votes_by_key[start:stop]
            n = len(votes)
            if n == 0:
                continue
            a_won = (enc.a[votes] == ia) == left_won[votes]
            wins = float(a_won.sum())
            effects = [
                _design_effect(codes[votes], a_won) for codes in (r_codes, p_codes, rp_codes)
            ]
            (d_r, g_r), (d_p, g_p), (d_rp, _) = effects
            deff = float(combine_two_way(d_r, d_p, d_rp))
            g = min(g_r, g_p)
            d_t = float(df_adjusted_deff(deff, g, level)) if small_sample else deff
            low, high = (float(v) for v in wilson_interval(wins / d_t, n / d_t, level))
            p = claim_p_value(c.claim, wins / d_t, n / d_t, c.margin) if np.isfinite(d_t) else nan
            rows.append(
                {
                    "model_a": c.model_a,
                    "model_b": c.model_b,
                    "question": qname,
                    "two_way_ci_low": low,
                    "two_way_ci_high": high,
                    "two_way_p_value": p,
                    "two_way_deff": deff,
                    "n_prompts": g_p,
                }
            )
    return pd.DataFrame(rows, columns=["model_a", "model_b", "question", *TWO_WAY_COLUMNS])
