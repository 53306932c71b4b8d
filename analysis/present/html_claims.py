"""The report's opening section: the answer to each declared comparison (:mod:`analysis.claims`).

One paragraph per comparison and question (the same sentences as the terminal and the JSON), a
compact table with the head-to-head and Bradley–Terry answers side by side, the goodness of fit
of Bradley–Terry per question, and the win-rate figure (:mod:`analysis.present.plots_claims`). Every
piece of data goes through :func:`analysis.present.html_tables.esc`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
import plotly.graph_objects as go

from analysis.claims import NOT_TESTED
from analysis.present import fmt
from analysis.present.html_tables import esc, not_shown_html, table
from analysis.present.plots_claims import comparisons_figure

if TYPE_CHECKING:
    from analysis.result import StudyAnalysis

_CLAIM_SHORT = {"superiority": "differ", "non-inferiority": "not worse", "equivalence": "equal"}


def _claim(row: object) -> str:
    short = _CLAIM_SHORT[row.claim]
    return f"{short} (±{fmt.number(100 * row.margin)} pts)" if row.margin else short


def _verdict(verdict: str, a: str, b: str) -> str:
    return {"a better": f"{a} preferred", "b better": f"{b} preferred"}.get(verdict, verdict)


def _interval(rate: float, low: float, high: float) -> str:
    return f"{fmt.percent(rate)} {fmt.interval(low, high, scale=100, unit='%')}"


def comparisons_html(
    analysis: StudyAnalysis, figure_html: Callable[[go.Figure | None, str], str]
) -> str:
    """The "Answer" section (empty when there is no comparison to report)."""
    cmp = analysis.comparisons
    if cmp is None or cmp.empty:
        return ""
    names = analysis.display_names
    level = float(analysis.settings.get("level", 0.95))
    parts = ['<section id="answer"><h2>The answer</h2>']
    parts += [f"<p>{esc(s)}</p>" for s in cmp["sentence"]]
    rows = []
    for r in cmp.itertuples(index=False):
        a, b = names.get(r.model_a, r.model_a), names.get(r.model_b, r.model_b)
        rows.append(
            (
                r.question,
                f"{a} vs {b}",
                _claim(r),
                _interval(r.win_rate, r.ci_low, r.ci_high) if r.verdict != NOT_TESTED else "–",
                fmt.pvalue(r.p_adjusted),
                _verdict(r.verdict, a, b),
                _interval(r.bt_win_rate, r.bt_ci_low, r.bt_ci_high),
                _verdict(r.bt_verdict, a, b),
            )
        )
    parts.append(
        table(
            [
                "question",
                "a vs b",
                "claim",
                "a's win rate, head-to-head",
                "Holm p",
                "verdict",
                "Bradley–Terry",
                "verdict (BT)",
            ],
            rows,
            cls="compare claims",
        )
    )
    parts.append(_fit_html(cmp))
    for k, question in enumerate(dict.fromkeys(cmp["question"])):
        fig = comparisons_figure(cmp, question, names, level=level)
        parts.append(figure_html(fig, f"claims{k}"))
        here = cmp[(cmp["question"] == question) & ~np.isfinite(cmp["ci_low"].astype(float))]
        missing = {
            f"{names.get(r.model_a, r.model_a)} vs {names.get(r.model_b, r.model_b)}": r.note
            for r in here.itertuples(index=False)
        }
        if fig is not None or missing:
            parts.append(not_shown_html(list(missing.items())))
    parts.append(
        '<p class="lede">Win rates are shares of the decisive votes between the two models '
        "(ties and “both bad” carry no direction); intervals are adjusted for votes clustered "
        "by rater. Holm p: adjusted over every declared comparison and question (a one-sided "
        "p-value counts double). Bradley–Terry pools every model's votes and assumes "
        "transitive preferences; the fit test compares its predictions with the head-to-head "
        "win rates of every compared pair.</p></section>"
    )
    return "\n".join(parts)


def _fit_html(cmp: object) -> str:
    """One sentence per question on how well Bradley–Terry fits the head-to-head win rates."""
    out = []
    seen = cmp.drop_duplicates("question")
    for r in seen.itertuples(index=False):
        if r.fit_df == 0 or r.fit_p_value != r.fit_p_value:  # nan: nothing to test
            if r.note.startswith("question not rated"):
                continue
            text = (
                f"{r.question}: the fit of Bradley–Terry cannot be tested (every compared pair "
                "is needed to set the ratings)."
            )
        else:
            judged = "does not fit" if r.fit_p_value < 0.05 else "fits"
            text = (
                f"{r.question}: Bradley–Terry {judged} the head-to-head win rates "
                f"(χ² = {r.fit_statistic:.1f} on {r.fit_df} df, {fmt.p_is(r.fit_p_value)})."
            )
        out.append(f"<p>{esc(text)}</p>")
    return "\n".join(out)
