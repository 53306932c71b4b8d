"""Does it matter that votes cluster by prompt too? Two-way intervals for declared comparisons.

A study's votes cluster by rater (taste) and by prompt (some prompts suit some models). The
report's intervals count raters as the clusters; when prompts have effects of their own, an
interval that ignores them is too narrow (with prompt effects of sd 0.5 on 20 prompts, rater-only
intervals cover 92% at 12 raters, two-way ones 96%: benchmarks/coverage.py). For each declared
comparison this module computes the head-to-head interval again with two-way clustering (rater
and prompt, Cameron, Gelbach & Miller 2011), so the report can say where prompts matter.

Only the declared pairs are counted (a mask per pair and question), so the check costs a few
milliseconds even on a million votes, where counting every rater-by-prompt cell for every pair
would cost seconds.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from analysis.claims import Claim, claim_p_value
from analysis.counts import TWO_WAY, count_comparisons
from analysis.frame import EncodedComparisons
from analysis.winrate import pairwise_table

#: Columns of :func:`two_way_comparisons` besides the keys ``model_a``, ``model_b``, ``question``.
TWO_WAY_COLUMNS: tuple[str, ...] = (
    "two_way_ci_low",
    "two_way_ci_high",
    "two_way_p_value",
    "two_way_deff",
    "n_prompts",
)


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
    rows = []
    for c in claims:
        if c.model_a not in index or c.model_b not in index:
            continue
        ia, ib = index[c.model_a], index[c.model_b]
        pair = ((enc.a == ia) & (enc.b == ib)) | ((enc.a == ib) & (enc.b == ia))
        for qname in c.questions or questions:
            if qname not in q_labels:
                continue
            mask = pair & (q_codes == q_labels.index(qname))
            if not mask.any():
                continue
            counts = count_comparisons(enc, mask=mask, clusters=("rater", "prompt", TWO_WAY))
            table = pairwise_table(counts, level=level, cluster=TWO_WAY, small_sample=small_sample)
            if table.empty or table["n_decisive"].iloc[0] == 0:
                continue
            r = table.iloc[0]
            flip = r["model_a"] != c.model_a
            low, high = float(r["wilson_low_adj"]), float(r["wilson_high_adj"])
            wins = float(r["losses"] if flip else r["wins"])
            d = float(r["deff_t"])
            p = claim_p_value(c.claim, wins / d, r["n_decisive"] / d, c.margin)
            rows.append(
                {
                    "model_a": c.model_a,
                    "model_b": c.model_b,
                    "question": qname,
                    "two_way_ci_low": 1 - high if flip else low,
                    "two_way_ci_high": 1 - low if flip else high,
                    "two_way_p_value": p if np.isfinite(d) else float("nan"),
                    "two_way_deff": float(r["deff"]),
                    "n_prompts": int(counts.cluster("prompt").n_clusters),
                }
            )
    return pd.DataFrame(rows, columns=["model_a", "model_b", "question", *TWO_WAY_COLUMNS])
