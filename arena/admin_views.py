"""The sections of the admin page (:mod:`arena.admin`) as HTML, from the comparisons DataFrame
and a few counts the page reads from the database.

Pure functions of their inputs (tests feed them hostile names); every value shown goes through
:func:`html.escape`. Everything is vectorised over votes: group-bys and ``bincount`` passes, never
a loop or a row-wise ``apply``; the only Python loops run over questions, pairs or shown rows.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from datetime import datetime, timedelta

import numpy as np
import pandas as pd

from analysis.bt import ELO_BASE, ELO_SCALE, bt_ratings, pair_design, pair_stats
from analysis.counts import count_comparisons
from analysis.frame import A_WINS, B_WINS
from analysis.modes import DEFAULT_TIE_MODE
from analysis.raters import QualityRules, rater_quality
from analysis.separation import point_value, reachability, reference_models, separation, win_graph

__all__ = [
    "CELL_KEYS",
    "MAX_PROMPTS",
    "MAX_RATERS",
    "cell_votes",
    "cells_section",
    "hourly_section",
    "leaderboard_section",
    "left_share",
    "ordered_pair",
    "prompts_section",
    "raters_section",
    "table",
]

#: Rater rows shown at most (flagged first); the rest are counted.
MAX_RATERS = 200
#: Prompts listed in "fewest votes".
MAX_PROMPTS = 10
#: A scheduling cell: question, prompt id and the unordered model pair (``lo`` < ``hi`` by name).
CELL_KEYS = ["question", "prompt", "lo", "hi"]
_PAIR_KEYS = ["question", "lo", "hi"]
#: Bradley–Terry tie treatment of the live leaderboard (``arena report``'s default).
TIE_MODE = DEFAULT_TIE_MODE
_NONE = "—"


def esc(value: object) -> str:
    """``value`` as escaped HTML text."""
    return html.escape(str(value))


def table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """An HTML table; every header and cell escaped."""
    head = "".join(f"<th>{esc(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{esc(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def share(value: float) -> str:
    """A proportion as a percentage, ``—`` when undefined."""
    return _NONE if value != value else f"{value:.0%}"


def ordered_pair(a: pd.Series, b: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Each row's two models as ``(lo, hi)``, sorted by name (elementwise, no apply)."""
    a, b = a.astype(str), b.astype(str)
    swap = a > b
    return a.where(~swap, b), b.where(~swap, a)


def left_share(rated: pd.DataFrame) -> float:
    """Share of the decisive votes in ``rated`` that chose the left image (0 without any).

    Read from the count tensor every statistic uses, as :func:`analysis.robust.position_effect`
    reads its ``left_rate``.
    """
    t = count_comparisons(rated, clusters=()).table
    left, right = int(t[..., A_WINS].sum()), int(t[..., B_WINS].sum())
    return left / max(1, left + right)


def _order(questions: Sequence[str], present: pd.Series) -> list[str]:
    """The study's questions in its order, then any other question that has votes."""
    extra = sorted(set(present.astype(str)) - set(questions))
    return [*questions, *extra]


def cell_votes(rated: pd.DataFrame, scheduled: pd.DataFrame) -> pd.DataFrame:
    """Rated votes of every cell: the ``scheduled`` cells (columns :data:`CELL_KEYS`, zero votes
    where none) and any other cell that has votes (e.g. of a model the study has since dropped).
    """
    lo, hi = ordered_pair(rated["model_a"], rated["model_b"])
    keys = pd.DataFrame(
        {"question": rated["question"].astype(str), "prompt": rated["prompt"].astype(str)}
    ).assign(lo=lo, hi=hi)
    voted = keys.groupby(CELL_KEYS, sort=False).size().rename("votes").reset_index()
    cells = scheduled[CELL_KEYS].astype(str).drop_duplicates()
    out = cells.merge(voted, on=CELL_KEYS, how="outer")
    return out.assign(votes=out["votes"].fillna(0).astype(np.int64))


def cells_section(rated: pd.DataFrame, cells: pd.DataFrame, questions: Sequence[str]) -> str:
    """Votes per (question, model pair) with their spread over the pair's prompt cells, and how
    often the pair's first model was shown on the left."""
    if cells.empty:
        return "<p>No cells are scheduled yet (the server builds them when it starts).</p>"
    v = cells["votes"]
    head = (
        f"<p>{len(cells)} cells (prompt × model pair × question). Rated votes per cell: "
        f"min {v.min()}, median {v.median():g}, max {v.max()}; "
        f"<strong>{int(v.eq(0).sum())}</strong> cells without a vote.</p>"
    )
    per = (
        cells.assign(zero=v.eq(0))
        .groupby(_PAIR_KEYS)
        .agg(
            votes=("votes", "sum"),
            n=("votes", "size"),
            lo_=("votes", "min"),
            med=("votes", "median"),
            hi_=("votes", "max"),
            zero=("zero", "sum"),
        )
    )
    lo, hi = ordered_pair(rated["model_a"], rated["model_b"])
    left = (
        pd.DataFrame({"question": rated["question"].astype(str), "lo": lo, "hi": hi})
        .assign(first_left=(rated["model_a"].astype(str) == lo).to_numpy())
        .groupby(_PAIR_KEYS)["first_left"]
        .sum()
    )
    per = per.join(left.rename("first_left")).fillna({"first_left": 0}).reset_index()
    rank = {q: i for i, q in enumerate(_order(questions, per["question"]))}
    per = per.assign(rank=per["question"].map(rank)).sort_values(["rank", "lo", "hi"])
    rows = [
        [q, f"{a} vs {b}", n_v, n, mn, f"{md:g}", mx, z, _left(int(fl), n_v)]
        for q, a, b, n_v, n, mn, md, mx, z, fl in per[
            ["question", "lo", "hi", "votes", "n", "lo_", "med", "hi_", "zero", "first_left"]
        ].itertuples(index=False)
    ]
    header = ["question", "model pair", "rated votes", "prompt cells", "min per cell",
              "median", "max", "cells at 0", "first model on the left"]  # fmt: skip
    return head + table(header, rows)


def _left(first: int, total: int) -> str:
    return f"{first} of {total} ({first / total:.0%})" if total else _NONE


def prompts_section(cells: pd.DataFrame, texts: pd.Series) -> str:
    """The prompts with the fewest rated votes (``texts``: prompt text by prompt id)."""
    if cells.empty:
        return ""
    per = (
        cells.assign(zero=cells["votes"].eq(0))
        .groupby("prompt")
        .agg(votes=("votes", "sum"), zero=("zero", "sum"), n=("votes", "size"))
        .reset_index()
        .sort_values(["votes", "prompt"])
    )
    shown = per.head(MAX_PROMPTS)
    text = shown["prompt"].map(texts).fillna("").astype(str)
    text = text.where(text.str.len() <= 120, text.str.slice(0, 119) + "…")
    rows = [
        [p, t, n_v, f"{z} of {n}"]
        for p, t, n_v, z, n in zip(
            shown["prompt"], text, shown["votes"], shown["zero"], shown["n"], strict=True
        )
    ]
    more = len(per) - len(shown)
    tail = f"<p>{more} more prompts not shown.</p>" if more else ""
    return table(["prompt", "text", "rated votes", "cells at 0"], rows) + tail


def hourly_section(counts: Sequence[tuple[datetime, int]], last_hour: int) -> str:
    """Votes per clock hour (UTC), newest first, and the last 60 minutes' count."""
    rows = [
        [f"{start:%Y-%m-%d %H:00}–{start + timedelta(hours=1):%H:00}", n]
        for start, n in reversed(counts)
    ]
    total = sum(n for _, n in counts)
    return (
        f"<p><strong>{last_hour}</strong> votes in the last 60 minutes; {total} in the last "
        "24 clock hours (votes of every kind, by the server's clock).</p>"
        + table(["hour (UTC)", "votes"], rows)
    )


def raters_section(comparisons: pd.DataFrame, rules: QualityRules) -> str:
    """The rater-quality table (:func:`analysis.raters.rater_quality`), flagged raters first."""
    practice = comparisons["kind"].astype(str).eq("practice")
    if practice.all():
        return "<p>No votes yet.</p>"
    quality = rater_quality(comparisons, rules)
    flagged = quality["flags"].str.len().to_numpy() > 0
    quality = quality.iloc[np.argsort(~flagged, kind="stable")]  # rater order within each
    shown = quality.head(MAX_RATERS)
    rows = [
        [r, n, share(g), share(c), share(lr), _ms(ms), ", ".join(f)]
        for r, n, g, c, lr, ms, f in shown[
            [
                "rater",
                "n_votes",
                "gold_accuracy",
                "repeat_consistency",
                "left_rate",
                "median_decision_ms",
                "flags",
            ]  # fmt: skip
        ].itertuples(index=False)
    ]
    header = ["rater", "rated votes", "gold accuracy", "repeat consistency", "left rate",
              "median decision (ms)", "flags"]  # fmt: skip
    more = len(quality) - len(shown)
    return (
        f"<p>{int(flagged.sum())} of {len(quality)} raters flagged. Flags are advice: "
        "<code>arena report</code> keeps every rater in the ratings and shows them without the "
        "flagged raters beside.</p>"
        + table(header, rows)
        + (f"<p>{more} more raters not shown.</p>" if more else "")
    )


def _ms(value: float) -> str:
    return _NONE if value != value else f"{value:.0f}"


def leaderboard_section(rated: pd.DataFrame, questions: Sequence[str]) -> str:
    """Per question, Bradley–Terry point ratings on the Elo scale with each model's votes."""
    if rated.empty:
        return "<p>No rated votes yet.</p>"
    out = [
        "<p>Point estimates only: a Bradley–Terry fit (ties as in Davidson 1970) of the rated "
        "(2afc) votes, redone on every load, without intervals. Run <code>arena report</code> "
        "for bootstrap intervals, ranks and the ratings without flagged raters.</p>"
    ]
    question = rated["question"].astype(str)
    for q in _order(questions, question):
        sub = rated.loc[question.eq(q).to_numpy()]
        if sub.empty:
            continue
        out.append(f"<h3>{esc(q)}</h3>" + _leaderboard(sub))
    return "".join(out)


def _leaderboard(sub: pd.DataFrame) -> str:
    counts = count_comparisons(sub, clusters=())
    tensor = counts.table
    fit = bt_ratings(counts, tie_mode=TIE_MODE)
    design = pair_design(counts.n_models)
    reach = reachability(win_graph(*pair_stats(tensor[None], design, TIE_MODE), design))[0]
    votes = tensor.sum(axis=(1, 2)) + tensor.sum(axis=(0, 2))
    ref = reference_models([reach], votes)
    sep = separation(counts.models, reach, ref)
    # Centred on the models whose ratings the votes bound (all of them, as a rule).
    rating = ELO_BASE + ELO_SCALE * (fit.theta - fit.theta[ref].mean())
    wins = tensor[:, :, A_WINS].sum(axis=1) + tensor[:, :, B_WINS].sum(axis=0)
    value = point_value(rating, sep.open_up, sep.open_down)
    order = np.lexsort((np.asarray(counts.models), -np.nan_to_num(value, nan=-np.inf)))
    flags = sep.flags()
    rows = [
        [
            counts.models[i],
            _NONE if flags[i] else f"{rating[i]:.0f}",
            int(votes[i]),
            int(wins[i]),
            flags[i],
        ]
        for i in order
    ]
    return table(["model", "rating (point)", "votes", "wins", "note"], rows)
