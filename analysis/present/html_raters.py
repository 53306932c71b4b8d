"""The report's "Raters" section: flagged raters, the rules, agreement, ratings without them.

Every piece of data goes through :func:`html.escape` (:func:`analysis.present.html_tables.table`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from analysis.present import fmt
from analysis.present.html_tables import esc, one_sided_note, table
from analysis.raters import QualityRules

if TYPE_CHECKING:
    from analysis.result import StudyAnalysis

#: Above this many raters the full table is left to raters.csv.
MAX_LISTED_RATERS = 500

_KIND_WORDS = {"gold": "attention checks", "repeat": "repeats", "practice": "practice trials"}


def _of(n: object, share: object) -> str:
    return "–" if not n else f"{fmt.percent(share)} of {n}"


def _signed(v: object) -> str:
    text = fmt.number(v)
    return f"+{text}" if text[0].isdigit() and text.strip("0.") else text.replace("-", "−")


def _rater_rows(raters: pd.DataFrame) -> list[tuple]:
    return [
        (
            r.rater,
            ", ".join(r.flags) or "–",
            r.n_votes,
            _of(r.n_gold, r.gold_accuracy),
            _of(r.n_repeats, r.repeat_consistency),
            _of(r.n_decisive, r.left_rate),
            fmt.pvalue(r.left_p),
            fmt.number(r.median_decision_ms / 1000, 2),
            _of(r.n_shared, r.majority_agreement),
        )
        for r in raters.itertuples(index=False)
    ]


_HEADERS = [
    "rater",
    "flags",
    "votes",
    "gold right",
    "repeats held",
    "left",
    "side p",
    "median s",
    "with majority",
]


def _flagged_first(raters: pd.DataFrame) -> pd.DataFrame:
    n_flags = raters["flags"].map(len)
    return raters.assign(_n=n_flags).sort_values(["_n", "rater"], ascending=[False, True])


def _rules_html(analysis: StudyAnalysis) -> str:
    values = analysis.settings.get("quality_rules") or {}
    rules = QualityRules(**values)
    items = "".join(
        f"<li><code>{esc(name)}</code> = {esc(f'{value:g}')}: {esc(text)}</li>"
        for name, value, text in rules.describe()
    )
    thr = analysis.settings.get("majority_threshold")
    note = (
        f"<p>Majority threshold in this study: {esc(fmt.percent(thr, 1))} agreement.</p>"
        if thr is not None and thr == thr
        else "<p>Majority rule not applied (fewer than three raters with enough shared votes).</p>"
    )
    return f"<h3>Rules</h3><ul>{items}</ul>{note}"


def _agreement_html(analysis: StudyAnalysis) -> str:
    ag = analysis.agreement
    if ag is None or ag.empty:
        return ""
    rows = [
        (
            r.question,
            r.n_cells,
            r.n_judgements,
            fmt.percent(r.percent_agreement, 1),
            fmt.number(r.fleiss_kappa, 3),
            f"{r.fleiss_n_cells} cells × {r.fleiss_n_raters}" if r.fleiss_n_cells else "–",
            fmt.number(r.krippendorff_alpha, 3),
        )
        for r in ag.itertuples(index=False)
    ]
    headers = ["question", "cells judged ≥ 2×", "judgements", "percent agreement"]
    headers += ["Fleiss κ", "κ on", "Krippendorff α"]
    return (
        "<h3>Agreement between raters</h3><p>Over cells (prompt, model pair, question, seed) "
        "judged at least twice, outcomes oriented to one order of the pair. Fleiss' κ (1971) "
        "uses the cells with the most common number of judgements; Krippendorff's α (2011, "
        "nominal) uses all of them. 1 is perfect agreement, 0 what chance gives.</p>"
        + table(headers, rows, "compare", names={0})
    )


def _comparison_html(analysis: StudyAnalysis) -> str:
    ex = analysis.excluding_flagged
    if ex is None:
        return (
            '<div class="warn">Without the flagged raters too few votes remain to rate the '
            "models.</div>"
        )
    if not ex.raters:
        return ""
    lvl = round(analysis.settings["level"] * 100)
    parts = [
        f"<h3>Ratings with and without the {len(ex.raters)} flagged rater(s)</h3>",
        f"<p>Same method and seed; {ex.n_votes} rated votes remain. The headline ratings "
        "above keep every rater.</p>",
    ]
    names = analysis.display_names
    for q in _ordered(analysis):
        full = analysis.questions[q].leaderboard
        cmp = ex.comparison(full, q)
        rows = [
            (
                r.display_name,
                r.rank,
                f"{fmt.rating(r.rating)} {fmt.interval(r.ci_low, r.ci_high)}",
                "–" if pd.isna(r.rank_excluding_flagged) else int(r.rank_excluding_flagged),
                f"{fmt.rating(r.rating_excluding_flagged)} "
                f"{fmt.interval(r.ci_low_excluding_flagged, r.ci_high_excluding_flagged)}",
                _signed(r.change),
            )
            for r in cmp.itertuples(index=False)
        ]
        sentence = ex.sentence(full, q, names)
        label = "all questions" if q == "all" else q
        parts.append(f"<h4>{esc(label)}</h4>")
        parts.append(
            f'<div class="warn">{esc(sentence)}</div>'
            if sentence
            else "<p>The order of the models is the same.</p>"
        )
        headers = ["model", "rank", f"rating (all), {lvl}%", "rank excl."]
        headers += [f"rating (excluding flagged), {lvl}%", "change"]
        parts.append(table(headers, rows, "compare", names={0}))
        parts.append(
            one_sided_note((c for r in rows for c in r[2:5:2]), analysis.settings["level"])
        )
    return "".join(parts)


def _ordered(analysis: StudyAnalysis) -> list[str]:
    return ["all", *(q for q in analysis.questions if q != "all")]


def exclusion_warning(analysis: StudyAnalysis) -> str:
    """A warning box for the top of the report when excluding flagged raters reorders models."""
    ex = analysis.excluding_flagged
    if ex is None or not ex.raters:
        return ""
    sentences = [
        s
        for q in _ordered(analysis)
        if (s := ex.sentence(analysis.questions[q].leaderboard, q, analysis.display_names))
    ]
    if not sentences:
        return ""
    items = "".join(f"<li>{esc(s)}</li>" for s in sentences)
    return (
        '<div class="warn"><strong>Flagged raters change the order of the models.</strong>'
        f'<ul>{items}</ul>See <a href="#raters">Raters</a>.</div>'
    )


def raters_html(analysis: StudyAnalysis) -> str:
    """The "Raters" section (empty when rater quality was not assessed)."""
    raters = analysis.raters
    if raters is None:
        return ""
    s = analysis.settings
    aside = [f"{n} {_KIND_WORDS.get(k, k)}" for k, n in s.get("set_aside", {}).items() if n]
    kinds = (
        f" Set aside from the ratings: {', '.join(aside)} (practice trials are not analysed "
        "at all; attention checks and repeats only measure the raters)."
        if aside
        else ""
    )
    kinds += "".join(
        f" Question {esc(q)} is not rated: {esc(why)}."
        for q, why in s.get("unrated_questions", {}).items()
    )
    n_flag = int(s.get("n_flagged", 0))
    counts = {f: c for f, c in s.get("flag_counts", {}).items() if c}
    flag_text = (
        f"{n_flag} of {len(raters)} raters flagged: "
        + ", ".join(f"{c} {f}" for f, c in counts.items())
        + "."
        if n_flag
        else f"None of the {len(raters)} raters was flagged by the rules below."
    )
    parts = [
        '<section id="raters"><h2>Raters</h2>',
        f"<p>{esc(flag_text)}{esc(kinds)} Flags are advice: the headline ratings keep every "
        "rater.</p>",
    ]
    flagged = raters[raters["flags"].map(len) > 0]
    if len(flagged):
        parts += [
            "<h3>Flagged raters</h3>",
            table(_HEADERS, _rater_rows(_flagged_first(flagged)), "raters", names={0, 1}),
        ]
    if len(raters) <= MAX_LISTED_RATERS:
        parts.append(
            f"<details><summary>All {len(raters)} raters</summary>"
            + table(_HEADERS, _rater_rows(_flagged_first(raters)), "raters", names={0, 1})
            + "</details>"
        )
    else:
        parts.append(f"<p>All {len(raters)} raters: raters.csv.</p>")
    parts += [_comparison_html(analysis), _agreement_html(analysis), _rules_html(analysis)]
    parts.append("</section>")
    return "\n".join(p for p in parts if p)
