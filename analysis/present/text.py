"""Plain-text leaderboard and rater-quality line for the terminal (``arena report``)."""

from __future__ import annotations

import textwrap
from typing import TYPE_CHECKING

import pandas as pd

from analysis.present import fmt
from analysis.result import ALL

if TYPE_CHECKING:
    from analysis.result import StudyAnalysis


def _cell(v: object) -> str:
    return "–" if pd.isna(v) else str(v)


def _ranks(row: object) -> str:
    return "–" if pd.isna(row.rank_low) else f"{row.rank_low}-{row.rank_high}"


def leaderboard_text(analysis: StudyAnalysis, question: str = ALL) -> str:
    """Leaderboard of one question as aligned text, with a plain note when ratings are unbounded.

    Parameters
    ----------
    analysis : StudyAnalysis
        The study (settings and display names).
    question : str, default "all"
        The question to show; an unknown one raises ValueError.

    Returns
    -------
    str
        Header (votes, raters, method, B, seed), one row per model, and — under separation —
        one sentence per unbounded rating followed by the win rates, which stay valid.
    """
    q = analysis.question(question)
    s = analysis.settings
    lb = q.leaderboard
    lvl = int(round(s["level"] * 100))
    head = (
        f"{q.question}: {q.counts.n_votes} votes, {q.counts.n_raters} raters; Bradley–Terry "
        f"({s['tie_mode']} ties), {lvl}% {s['cluster']}-bootstrap intervals"
        f"{' (few-cluster corrected)' if s.get('small_sample', 'none') != 'none' else ''}, "
        f"B={s['n_boot']}, seed={s['seed']}"
    )
    width = max([len("model"), *(len(str(n)) for n in lb["display_name"])])
    lines = [
        head,
        f"{'#':>3}  {'ranks':>5}  {'model':<{width}}  {'rating':>9}  {f'{lvl}% CI':>15}  "
        f"{'votes':>6}  {'win%':>5}  {'elo':>6}  note",
    ]
    for row in lb.itertuples(index=False):
        lines.append(
            f"{_cell(row.rank):>3}  {_ranks(row):>5}  "
            f"{row.display_name:<{width}}  {fmt.rating(row.rating, 1):>9}  "
            f"{fmt.interval(row.ci_low, row.ci_high):>15}  {row.votes:>6}  "
            f"{fmt.number(100 * row.win_rate, 1):>5}  {fmt.number(row.elo_online):>6}  "
            f"{row.separated}".rstrip()
        )
    if q.separated:
        for sentence in q.sentences(analysis.display_names):
            lines += textwrap.wrap(sentence, 100, initial_indent="! ", subsequent_indent="  ")
        names = analysis.display_names
        unit = q.pairwise["cluster"].iloc[0] if len(q.pairwise) else "vote"
        adj = f"{unit}-adjusted " if unit != "vote" else ""
        lines.append(
            f"Win rates (decisive votes, {lvl}% {adj}Wilson interval, Holm-adjusted p; "
            "deff = design effect):"
        )
        for r in q.pairwise.itertuples(index=False):
            a, b, w, l_, lo, hi = (
                r.model_a,
                r.model_b,
                r.wins,
                r.losses,
                r.wilson_low_adj,
                r.wilson_high_adj,
            )
            rate = r.win_rate
            if l_ > w:  # winner first
                a, b, w, l_, lo, hi, rate = b, a, l_, w, 1 - hi, 1 - lo, 1 - rate
            lines.append(
                f"  {names.get(a, a)} vs {names.get(b, b)}: {w}–{l_}, {fmt.percent(rate, 1)} "
                f"{fmt.interval(lo, hi, 1, 100, '%')}, deff {fmt.number(r.deff, 1)}, "
                f"Holm {fmt.p_is(r.p_holm_adj)}"
            )
    return "\n".join(lines)


def quality_text(analysis: StudyAnalysis) -> str:
    """One line: how many raters were flagged, by which rule, and whether it changes the order.

    Parameters
    ----------
    analysis : StudyAnalysis
        The study; its ``raters`` table comes from :func:`analysis.raters.rater_quality`.

    Returns
    -------
    str
        E.g. ``Raters: 3 of 40 flagged (flags: gold 2, side 1); without them the order is the same;
        set aside: 80 gold, 40 repeat, 20 practice votes.``
    """
    s = analysis.settings
    if analysis.raters is None:
        return "Raters: quality not assessed."
    n = len(analysis.raters)
    k = int(s.get("n_flagged", 0))
    counts = {f: c for f, c in s.get("flag_counts", {}).items() if c}
    text = f"Raters: {k} of {n} flagged"
    if counts:
        text += " (flags: " + ", ".join(f"{f} {c}" for f, c in counts.items()) + ")"
    ex = analysis.excluding_flagged
    if k and ex is None:
        text += "; too few votes remain without them to rate the models"
    elif k:
        order = sorted(analysis.questions, key=lambda q: q != "all")  # "all" first
        changed = [
            q
            for q in order
            if q in ex.leaderboards and ex.order_changed(analysis.questions[q].leaderboard, q)
        ]
        text += (
            f"; without them the order changes for {', '.join(changed)}"
            if changed
            else "; without them the order is the same"
        )
    aside = {kind: c for kind, c in s.get("set_aside", {}).items() if c}
    if aside:
        text += "; set aside: " + ", ".join(f"{c} {kind}" for kind, c in aside.items()) + " votes"
    for question, why in s.get("unrated_questions", {}).items():
        text += f"; question '{question}' is not rated: {why}"
    return text + "."
