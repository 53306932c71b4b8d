"""The admin page's "Settled comparisons" section: the anytime-valid stopping rule
(:mod:`analysis.sequential`) for every declared comparison and question.

Only the votes of raters whose session has ended count (a rater is the rule's unit, and a
rater's share must be final before it is bet on), so a comparison that settles stays valid
however often the page is reloaded.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from analysis.sequential import settle
from arena.admin_views import table

if TYPE_CHECKING:
    from arena.study import Study

__all__ = ["ALPHA", "settled_section"]

#: The largest chance of a wrong verdict under continuous monitoring.
ALPHA = 0.05


def settled_section(study: Study, comparisons: pd.DataFrame) -> str:
    """One row per declared comparison and question: finished raters, e-value, verdict."""
    if comparisons.empty:
        return "<p>No votes yet.</p>"
    kind = comparisons["kind"].astype(str).replace("", "2afc")
    judged = comparisons.loc[kind.ne("practice").to_numpy()]
    done = judged.groupby("rater").size()
    finished = set(done[done >= study.quota].index)
    rated = comparisons.loc[(kind.eq("2afc") & comparisons["rater"].isin(finished)).to_numpy()]
    if study.comparisons:
        claims = [(c.model_a, c.model_b, c.claim, c.margin, c.questions) for c in study.comparisons]
    else:
        claims = [(study.reference, m, "superiority", 0.0, ()) for m in study.models
                  if m != study.reference]  # fmt: skip
    rows = []
    for a, b, claim, margin, only in claims:
        for q in only or tuple(x.id for x in study.questions):
            sub = rated.loc[rated["question"].astype(str).eq(q).to_numpy()]
            s = settle(sub, a, b, claim, margin, ALPHA)
            shown = f"{claim} (margin {margin:g})" if margin else claim
            verdict = f"settled: {s.verdict}" if s.settled else s.verdict
            rows.append([f"{a} vs {b}", q, shown, s.raters, f"{s.e_value:.2f}", verdict])
    note = (
        f"<p>A comparison is settled when its e-value reaches {1 / ALPHA:.0f}: valid however "
        f"often this page is checked (at most {ALPHA:.0%} wrong verdicts), counting each rater "
        "whose session ended once, by their share of votes (docs/statistics.md).</p>"
    )
    head = ["comparison", "question", "claim", "raters", "e-value", "verdict"]
    return note + table(head, rows)
