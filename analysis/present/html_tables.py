"""HTML tables and paragraphs of the report; every piece of data goes through :func:`html.escape`.

Numbers are formatted for reading (:mod:`analysis.present.fmt`): ratings to the Elo point, intervals as
"[low, high]" or "≥ low" when one side is unbounded, explained by a footnote under each table
that has one (:func:`one_sided_note`). The unrounded values, and the columns a table leaves out
to fit the page, are in the CSV files.

Every table sits in a ``div.scroll`` wrapper. On a laptop no table needs it (the columns are
chosen and the name cells wrap so that the page is never wider than 1280 px); on a phone a
wide table scrolls inside its wrapper instead of widening the page.
"""

from __future__ import annotations

import html
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING

import pandas as pd

from analysis.present import fmt

if TYPE_CHECKING:
    from analysis.result import QuestionAnalysis, StudyAnalysis


def esc(value: object) -> str:
    """Escape any value as HTML text."""
    return html.escape(str(value))


def table(
    headers: Sequence[str],
    rows: Sequence[Sequence[object]],
    cls: str = "",
    names: Collection[int] = (),
) -> str:
    """A plain HTML table in a scroll wrapper; cells are escaped (header and body).

    ``names`` are the columns holding model names (or other free text): their cells wrap
    (``td.name``) where every other cell keeps its number on one line.
    """
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)

    def cell(k: int, c: object) -> str:
        return f'<td class="name">{esc(c)}</td>' if k in names else f"<td>{esc(c)}</td>"

    body = "".join("<tr>" + "".join(cell(k, c) for k, c in enumerate(r)) + "</tr>" for r in rows)
    attr = f' class="{cls}"' if cls else ""
    return (
        f'<div class="scroll"><table{attr}><thead><tr>{head}</tr></thead>'
        f"<tbody>{body}</tbody></table></div>"
    )


def note(text: str) -> str:
    """A small-print paragraph under a table or figure (``text`` is escaped)."""
    return f'<p class="note">{esc(text)}</p>'


def not_shown_html(items: Sequence[tuple[str, str]]) -> str:
    """ "Not shown: A and B (why); C (why)." under a figure, or "" when it shows everything.

    Models left out for the same reason are named together, in the order given.
    """
    if not items:
        return ""
    by_reason: dict[str, list[str]] = {}
    for name, why in items:
        by_reason.setdefault(why, []).append(name)
    groups = [
        f"{', '.join(names[:-1])} and {names[-1]}" if len(names) > 1 else names[0]
        for names in by_reason.values()
    ]
    text = "; ".join(f"{g} ({why})" for g, why in zip(groups, by_reason, strict=True))
    return note(f"Not shown: {text}.")


def one_sided_note(cells: Iterable[object], level: float, what: str = "rating") -> str:
    """A footnote explaining the "≥ x" / "≤ x" / "unbounded" cells among ``cells`` ("" if none).

    Parameters
    ----------
    cells : iterable
        The table's formatted cells (any that are not text are ignored).
    level : float
        Interval coverage.
    what : str
        What the intervals are of ("rating", "difference", ...).
    """
    texts = [c for c in cells if isinstance(c, str)]
    ge = next((t for t in texts if "≥" in t), None)
    le = next((t for t in texts if "≤" in t), None)
    if ge is None and le is None and not any("unbounded" in t for t in texts):
        return ""
    lvl = round(level * 100)
    parts = []
    if ge is not None:
        x = ge[ge.index("≥") :].rstrip(")")
        parts.append(
            f"“{x}” is a one-sided {lvl}% interval: a model that never lost gives its {what} "
            "a lower bound and no upper bound, "
            "because however often it wins the votes cannot say by how much it is better."
        )
    if le is not None:
        x = le[le.index("≤") :].rstrip(")")
        parts.append(
            f"“{x}” is the same for a model that never won: an upper bound and no lower bound."
        )
    if any("unbounded" in t for t in texts):
        parts.append(f"“unbounded”: the {what} has no finite estimate.")
    parts.append(
        "More votes of that model against the ones it never lost to (or never beat) close the "
        "interval."
    )
    return note(" ".join(parts))


def _name(names: Mapping[str, str], model: str) -> str:
    return names.get(model, model)


def _oriented(r: object) -> tuple:
    """A pairwise row turned so that the model with more wins comes first.

    Returns ``a, b, wins, losses, rate, wilson, exact, wilson_vote, exact_vote``: the intervals
    cluster-adjusted first (the ones to quote), then vote-level.
    """
    a, b, w, l_, rate = r.model_a, r.model_b, r.wins, r.losses, r.win_rate
    ivs = [
        (r.wilson_low_adj, r.wilson_high_adj),
        (r.cp_low_adj, r.cp_high_adj),
        (r.wilson_low, r.wilson_high),
        (r.cp_low, r.cp_high),
    ]
    if l_ > w:
        a, b, w, l_, rate = b, a, l_, w, 1 - rate
        ivs = [(1 - hi, 1 - lo) for lo, hi in ivs]
    return a, b, w, l_, rate, *ivs


def _adjusted(r: object) -> str:
    """How the quoted interval is adjusted: "rater-adjusted, deff 2.1" (or "vote-level")."""
    if r.cluster == "vote":
        return "vote-level"
    return f"{r.cluster}-adjusted, deff {fmt.number(r.deff, 1)}"


def rating_text(row: object) -> str:
    """ "1043 [1020, 1066]", or "unbounded (≥ 1189)" for a separated model."""
    ci = fmt.interval(row.ci_low, row.ci_high)
    return f"{fmt.rating(row.rating)} {ci}" if not row.separated else f"unbounded ({ci})"


def separation_note(q: QuestionAnalysis, names: Mapping[str, str]) -> str:
    """A warning box with one sentence per unbounded rating (empty when there is none)."""
    sentences = q.sentences(names)
    if not sentences:
        return ""
    items = "".join(f"<li>{esc(s)}</li>" for s in sentences)
    return (
        f'<div class="warn"><strong>{esc(q.question)}: some ratings have no finite estimate.'
        f"</strong><ul>{items}</ul>Design effects are not reported; the win rates and their "
        "Wilson intervals remain valid and are the result to quote.</div>"
    )


def summary_html(analysis: StudyAnalysis) -> str:
    """Headline per question ("all" first): ranked ratings, then each pair's win rate."""
    names = analysis.display_names
    lvl = round(analysis.settings["level"] * 100)
    parts = ['<section id="summary"><h2>Summary</h2>']
    for q in _ordered(analysis):
        label = "all questions (mean rating)" if q.question == "all" else q.question
        ranked = "".join(
            f"<li><strong>{esc(r.display_name)}</strong> {esc(rating_text(r))}</li>"
            for r in q.leaderboard.itertuples(index=False)
        )
        pairs = []
        for r in _by_rank(q):
            a, b, w, l_, rate, wil, *_ = _oriented(r)
            pairs.append(
                f"<li>{esc(_name(names, a))} beat {esc(_name(names, b))} in "
                f"{esc(fmt.percent(rate))} of {w + l_} decisive votes "
                f"(Wilson {lvl}% {esc(fmt.interval(*wil, 0, 100, '%'))}, {esc(_adjusted(r))}; "
                f"Holm {esc(fmt.p_is(r.p_holm_adj))})</li>"
            )
        footnote = one_sided_note(
            (rating_text(r) for r in q.leaderboard.itertuples(index=False)),
            analysis.settings["level"],
        )
        cols = [
            f"<div><h4>Ratings, {lvl}% interval</h4><ol>{ranked}</ol>{footnote}</div>",
            f"<div><h4>Head to head</h4><ul>{''.join(pairs)}</ul></div>",
        ]
        first = ""
        if q.separated:  # the win rates are what can be quoted: put them first
            first = (
                "<p><em>Ratings are not estimable here; the win rates are the headline.</em></p>"
            )
            cols.reverse()
        parts.append(
            f'<div class="headline"><h3>{esc(label)} — {q.counts.n_votes} votes, '
            f"{q.counts.n_raters} raters</h3>{first}"
            f'<div class="cols">{"".join(cols)}</div></div>'
        )
    parts.append("</section>")
    return "".join(parts)


def _by_rank(q: QuestionAnalysis) -> list:
    """Pairwise rows ordered by the leaderboard ranks of the pair (top pair first)."""
    rank = {m: k for k, m in enumerate(q.leaderboard["model"])}
    rows = list(q.pairwise.itertuples(index=False))
    return sorted(rows, key=lambda r: sorted((rank[r.model_a], rank[r.model_b])))


def _ordered(analysis: StudyAnalysis) -> list[QuestionAnalysis]:
    qs = analysis.questions
    return [qs["all"], *(q for k, q in qs.items() if k != "all")]


def _rank_text(r: object) -> str:
    """ "2 (1–3)", "1" when the interval is one rank, "–" for a model not rated here."""
    if pd.isna(r.rank):
        return "–"
    return f"{r.rank} ({r.rank_low}–{r.rank_high})" if r.rank_low != r.rank_high else str(r.rank)


def leaderboard_html(q: QuestionAnalysis, level: float) -> str:
    """Leaderboard: rank (interval), model, rating, interval, votes, win %, robust SE, note."""
    lvl = round(level * 100)
    rows = [
        (
            _rank_text(r),
            r.display_name,
            fmt.rating(r.rating),
            fmt.interval(r.ci_low, r.ci_high),
            r.votes,
            fmt.percent(r.win_rate, 1),
            fmt.number(r.se_robust, 1),
            r.separated,
        )
        for r in q.leaderboard.itertuples(index=False)
    ]
    headers = ["rank (interval)", "model", "rating", f"{lvl}% interval", "votes", "win %"]
    headers += ["robust SE", "note"]
    drop = {6} if q.leaderboard["se_robust"].isna().all() else set()
    drop |= set() if q.leaderboard["separated"].astype(bool).any() else {7}  # notes only
    keep = [k for k in range(len(headers)) if k not in drop]
    body = [[r[k] for k in keep] for r in rows]
    return table(
        [headers[k] for k in keep], body, "leaderboard", names={keep.index(1)}
    ) + one_sided_note((c for r in rows for c in r[2:4]), level)


def head_to_head_html(q: QuestionAnalysis, names: Mapping[str, str], level: float) -> str:
    """Per pair: counts, win rate, the cluster-adjusted Wilson interval and Holm p.

    The adjusted columns are the ones shown because votes cluster by rater. The design effect,
    effective votes, exact (Clopper–Pearson) intervals and the vote-level intervals and tests
    (votes independent, as in FastChat) would more than double the table's width; they are in
    ``pairwise_<question>.csv``, and a note under the table says so.
    """

    lvl = round(level * 100)
    rows = []
    for r in _by_rank(q):
        a, b, w, l_, rate, wil, *_ = _oriented(r)
        rows.append(
            (
                _name(names, a),
                _name(names, b),
                w,
                l_,
                r.ties,
                r.both_bad,
                r.n,
                fmt.percent(rate, 1),
                fmt.interval(*wil, 1, 100, "%"),
                fmt.pvalue(r.p_holm_adj),
            )
        )
    unit = q.pairwise["cluster"].iloc[0] if len(q.pairwise) else "vote"
    adj = f" ({unit}-adj.)" if unit != "vote" else ""
    headers = ["model (more wins)", "against", "wins", "losses", "ties", "both bad", "votes"]
    headers += ["win rate", f"Wilson {lvl}%{adj}", f"Holm p{adj}"]
    more = (
        "design effects, effective votes, exact (Clopper–Pearson) intervals and the vote-level "
        "intervals and tests"
    )
    return table(headers, rows, "pairs", names={0, 1}) + note(
        f"Wins and losses are decisive votes; the win rate leaves ties out. The full table, "
        f"with {more}, is pairwise_{fmt.slug(q.question)}.csv beside this report."
    )


def differences_html(
    q: QuestionAnalysis, names: Mapping[str, str], order: Sequence[str], level: float
) -> str:
    """Each pair (better-rated first): Δ rating with interval, predicted P(win) with interval."""
    lvl = round(level * 100)
    rank = {m: k for k, m in enumerate(order)}
    rows = []
    for r in q.differences.itertuples(index=False):
        a, b, d, lo, hi = r.model_a, r.model_b, r.diff, r.ci_low, r.ci_high
        pw, pl, ph = r.p_win, r.p_win_low, r.p_win_high
        if rank[b] < rank[a]:
            a, b, d, lo, hi, pw, pl, ph = b, a, -d, -hi, -lo, 1 - pw, 1 - ph, 1 - pl
        rows.append(
            (
                _name(names, a),
                _name(names, b),
                fmt.number(d),
                fmt.interval(lo, hi),
                fmt.percent(pw),
                fmt.interval(pl, ph, 0, 100, "%"),
            )
        )
    headers = ["first model", "second model", "Δ rating", f"{lvl}% interval", "P(first wins)"]
    headers += [f"{lvl}% interval"]
    return table(headers, rows, "diffs", names={0, 1}) + one_sided_note(
        (c for r in rows for c in r[2:]), level, "rating difference"
    )


def tie_html(analysis: StudyAnalysis, q: QuestionAnalysis) -> str:
    """What the tie model is and, for Davidson, what its fitted ν means."""
    mode = analysis.settings["tie_mode"]
    ties = int(q.counts.ties.sum() / 2)
    if mode == "half":
        return f"<p>Ties ({ties}): each counts as half a win for both models (FastChat).</p>"
    if mode == "exclude":
        return f"<p>Ties ({ties}): left out of the ratings; counted in the tables.</p>"
    if q.question == "all":
        per = [
            f"{esc(k)}: ν = {v.tie_nu:.2f}"
            for k, v in analysis.questions.items()
            if k != "all" and v.tie_nu is not None
        ]
        return f"<p>Tie model (Davidson 1970), per question: {'; '.join(per)}.</p>"
    nu = q.tie_nu or 0.0
    if ties == 0:
        return "<p>Tie model (Davidson 1970): no ties were recorded, so ν = 0.</p>"
    return (
        f"<p>Tie model (Davidson 1970): ν = {nu:.2f} from {ties} ties. Two equally rated models "
        f"tie in ν/(2+ν) = {100 * nu / (2 + nu):.0f}% of votes, fewer the further apart their "
        "ratings are; “both bad” votes are not part of the fit.</p>"
    )


def position_html(q: QuestionAnalysis) -> str:
    """Left/right bias: raw left-vote rate and, when identified, the model-based γ."""
    pe = q.position
    if pe is None:
        return ""
    text = (
        f"<p>Position: the left image won {pe.left_votes} and the right {pe.right_votes} decisive "
        f"votes (left {fmt.percent(pe.left_rate, 1)}, exact binomial {fmt.p_is(pe.p_value)})"
    )
    if pe.gamma == pe.gamma:  # not nan
        text += (
            f"; holding model strength fixed the left image gains {pe.elo_points:+.0f} Elo "
            f"points (γ = {pe.gamma:.2f} ± {pe.gamma_se:.2f}, {esc(pe.cluster)}-robust, "
            f"{fmt.p_is(pe.gamma_p)})."
        )
    else:
        text += "; the model-based left advantage is not identified while ratings are unbounded."
    return text + "</p>"


def clustering_html(q: QuestionAnalysis) -> str:
    """Design effect and effective votes, or why they are not reported."""
    if q.robust is None:
        return ""
    if q.separated:
        return (
            "<p>Clustering: design effect not reported — with unbounded ratings the sandwich "
            "variance has nothing to measure.</p>"
        )
    return (
        f"<p>Clustering by {esc(q.robust.cluster)}: mean design effect {q.design_effect():.2f} "
        f"(robust / model-based variance), so the {q.counts.n_votes} votes carry the precision "
        f"of about {q.effective_votes():.0f} independent votes.</p>"
    )
