"""Assembly of the offline HTML report: plotly.js inlined once, every data string escaped.

Layout: a one-line study description, warnings for unbounded ratings, a summary with the headline
of every question ("all" first), then one section per question (leaderboard, head-to-head table,
differences and predicted win probabilities, tie model, position, clustering, categories,
rating against speed), the raters (:mod:`analysis.present.html_raters`) and the methods. Figures are
emitted as ``Plotly.newPlot`` calls on JSON from ``Figure.to_json()``, which escapes ``<``,
``>`` and ``/`` as ``\\u`` sequences, so a model name such as ``</script>`` cannot end a script
element; all other text goes through :func:`html.escape` (:mod:`analysis.present.html_tables`).
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

import plotly.graph_objects as go
from plotly.offline import get_plotlyjs

from analysis.modes import BOOTSTRAP_UNIT_TEXT, TIE_MODE_TEXT
from analysis.present import html_tables as ht
from analysis.present.html_claims import comparisons_html
from analysis.present.html_raters import exclusion_warning, raters_html
from analysis.present.plots import (
    breakdown_figure,
    breakdown_not_shown,
    difference_figure,
    latency_figure,
    not_shown,
    ratings_figure,
)

if TYPE_CHECKING:
    from analysis.result import QuestionAnalysis, StudyAnalysis

#: A category enters the per-category breakdown only with at least this many votes.
MIN_CATEGORY_VOTES = 30

_CSS = """
body{font-family:system-ui,sans-serif;margin:2rem auto;max-width:1100px;padding:0 1rem;color:#222;
line-height:1.45;overflow-wrap:break-word}
.scroll{overflow-x:auto;margin:.5rem 0 1.2rem}
table{border-collapse:collapse;font-size:.9rem;font-variant-numeric:tabular-nums}
th,td{border-bottom:1px solid #ddd;padding:.3rem .6rem;text-align:right;white-space:nowrap}
th{background:#f3f3f3;white-space:normal;vertical-align:bottom}
td.name{white-space:normal;text-align:left;min-width:7rem}
table.claims td:nth-child(2),table.claims td:nth-child(6),table.claims td:nth-child(8){white-space:normal}
table.pairs th:nth-child(2),table.diffs th:nth-child(2){text-align:left}
.note{font-size:.85rem;color:#555;margin:.3rem 0 1.2rem}.scroll+.note{margin-top:-.6rem}
table.leaderboard td:nth-child(2),table.leaderboard th:nth-child(2),table.leaderboard td:last-child,
table.pairs td:first-child,table.pairs th:first-child,table.diffs td:first-child,
table.diffs th:first-child{text-align:left}
table.raters td:nth-child(-n+2),table.raters th:nth-child(-n+2),table.compare td:first-child,
table.compare th:first-child{text-align:left}
table.raters td:nth-child(2){white-space:normal}
h2{border-top:2px solid #444;padding-top:1rem;margin-top:2.2rem}
h3{margin-bottom:.3rem}
.lede{color:#444}
nav{display:flex;flex-wrap:wrap;gap:.2rem 1rem}
.headline{border:1px solid #ddd;border-radius:6px;padding:.2rem 1rem;margin:.8rem 0}
.cols{display:flex;gap:2rem;flex-wrap:wrap}.cols>div{flex:1 1 280px;min-width:0}
.headline h4{margin:.4rem 0 .2rem;color:#555;font-weight:600}
.warn{background:#fff4e5;border-left:4px solid #e08a00;padding:.6rem 1rem;margin:1rem 0}
.methods{background:#f6f6f6;padding:.5rem 1rem;border-radius:4px}
"""


def _figure_html(fig: go.Figure | None, div_id: str) -> str:
    if fig is None:  # a degenerate figure is skipped, not drawn
        return ""
    # to_json escapes "<", ">" and "/" (\u003c ...), so data cannot close the script element.
    payload = fig.to_json()
    return (
        f'<div id="{div_id}" class="figure"></div>\n<script>(function(){{var f={payload};'
        f'Plotly.newPlot("{div_id}",f.data,f.layout,{{responsive:true,displaylogo:false}});}})();'
        "</script>"
    )


def methods_html(analysis: StudyAnalysis) -> str:
    """The methods section: exactly what was computed, from ``analysis.settings``."""
    s = analysis.settings
    lvl = round(s["level"] * 100)
    cluster = BOOTSTRAP_UNIT_TEXT[s["cluster"]]
    ties = TIE_MODE_TEXT[s["tie_mode"]]
    ref = s.get("reference") or []
    anchor = (
        f"{html.escape(str(s['anchor']))} is fixed at 1000"
        if s["anchor"]
        else "ratings are centred so that their mean is 1000"
        if len(ref) == len(analysis.models)
        else "ratings are centred so that the mean of the models whose ratings are bounded in "
        f"every question ({html.escape(', '.join(map(str, ref)))}) is 1000"
    )
    items = [
        f"{s['n_votes']} votes from {s['n_raters']} raters on {s['n_prompts']} prompts; "
        f"questions: {html.escape(', '.join(map(str, s['questions'])))}.",
        "Ratings: Bradley–Terry (1952) maximum likelihood by Newton's method, reported on the Elo "
        f"scale 1000 + 400/ln(10)·θ; {anchor}; {ties}; “both bad” votes are counted and "
        f"shown but not used in the fit; ridge {s['ridge']:g} on θ keeps every fit finite.",
        "Separation: a rating exists only if a chain of wins links the model both ways to the "
        "others (Ford 1957; ties count both ways unless excluded). Where it does not (a model "
        "never lost or never won), the rating is reported as unbounded on that side, in the "
        "estimate and in every bootstrap replicate; its finite side is the profile-likelihood "
        "bound (Venzon & Moolgavkar 1988; model-based, so optimistic with few raters), and "
        "design effects are not reported.",
        f"Intervals: {lvl}% {s['interval']} intervals with B = {s['n_boot']} replicates, "
        f"seed {s['seed']}; {cluster}; every replicate is refitted. Cluster unit: "
        f"{html.escape(str(s['cluster']))}; tie mode: {html.escape(str(s['tie_mode']))}.",
        f"“all”: {html.escape(s['combine'])}; its interval uses the same replicates.",
        _small_sample_item(s),
        "Rank intervals: simultaneous over all pairs (max-|t| calibration on the bootstrap "
        "replicates; Klein, Wright & Wieczorek 2020); pairs without a bounded difference are "
        "ordered only where the Holm-corrected exact test is significant.",
        f"Differences: Δ = rating of the first model minus the second, "
        f"{html.escape(str(s['interval']))} interval; P(first wins) = 1 / (1 + 10^(−Δ/400)), the Bradley–Terry probability of "
        "winning a decisive vote, with the interval transformed from Δ's.",
        f"Standard errors (se_robust) and design effects: sandwich covariance clustered by "
        f"{html.escape(str(s['robust_cluster']))} (Liang & Zeger 1986; two-way as in Cameron, "
        "Gelbach & Miller 2011); design effect = robust / model-based variance.",
        "Position: exact binomial test of the left-vote rate among decisive votes, and a "
        "Bradley–Terry left-advantage parameter with a robust Wald test.",
        "Win rates: wins / (wins + losses), ties excluded; Wilson (1927) and Clopper–Pearson "
        "intervals; two-sided exact binomial test against 50 % with Holm (1979) correction "
        "across pairs (vote-level, see the CSV files).",
        f"Online Elo (order-dependent, no interval): {html.escape(s['elo_online'])}; "
        f"SDXL Turbo variant: {html.escape(s['elo_sdxl_turbo'])}.",
    ]
    if analysis.raters is not None:
        items.append(
            "Raters: only rated (2afc) trials enter the ratings; attention checks (gold) and "
            "repeated trials measure each rater, practice trials are not analysed. A rater is "
            "flagged for low gold accuracy, low consistency on repeats (sides swapped), a side "
            "preference (exact binomial test and a margin), a fast median decision time, or "
            "agreement with the other raters' majority (leave-one-out, cells judged by at least "
            "three raters) well below the median rater's; the rules are listed in the Raters "
            "section. Flagged raters stay in the headline ratings, which are computed again "
            "without them for comparison. Agreement: Fleiss' κ (1971) and Krippendorff's α "
            "(2011, nominal)."
        )
    return (
        '<section id="methods" class="methods"><h2>Methods</h2><ul>'
        + "".join(f"<li>{i}</li>" for i in items)
        + "</ul></section>"
    )


def _breakdown_html(analysis: StudyAnalysis, q: QuestionAnalysis, k: int) -> str:
    bd, col = analysis.breakdown, analysis.settings.get("breakdown_by")
    if bd is None or not col or bd.empty or q.question not in set(bd["question"]):
        return ""
    sub = bd[bd["question"] == q.question]
    votes = sub.groupby(col)["votes"].sum() / 2  # each vote counts for two models
    keep = votes[votes >= MIN_CATEGORY_VOTES].index
    if len(keep) < 2:
        return ""
    shown = sub[sub[col].isin(keep)]
    fig = breakdown_figure(shown, col, title=f"Ratings by {col} — {q.question}")
    if fig is None:
        return ""
    left_out = breakdown_not_shown(shown, col)
    few = [f"{g} ({votes[g]:.0f} votes)" for g in votes.index if g not in set(keep)]
    if few:
        left_out.append((", ".join(few), f"fewer than {MIN_CATEGORY_VOTES} votes"))
    return (
        f"<h3>By {html.escape(str(col))}</h3>"
        + _figure_html(fig, f"breakdown{k}")
        + ht.not_shown_html(left_out)
    )


def _ratings_html(q: QuestionAnalysis, label: str, level: float, k: int) -> str:
    """The ratings figure and, under it, which models it leaves out and why."""
    fig = ratings_figure(q.leaderboard, title=f"Ratings — {label}", level=level)
    if fig is None:
        return ht.note("No ratings figure: fewer than two models have a bounded rating.")
    return _figure_html(fig, f"ratings{k}") + ht.not_shown_html(not_shown(q.leaderboard))


def _question_html(analysis: StudyAnalysis, q: QuestionAnalysis, k: int) -> str:
    names, level = analysis.display_names, analysis.settings["level"]
    order = list(q.leaderboard["model"])
    label = "all questions" if q.question == "all" else q.question
    parts = [
        f'<section id="q{k}"><h2>Question: {html.escape(label)}</h2>',
        f"<p>{q.counts.n_votes} votes from {q.counts.n_raters} raters.</p>",
        ht.separation_note(q, names),
        ht.leaderboard_html(q, level),
        _ratings_html(q, label, level, k),
        "<h3>Head to head (vote counts)</h3>",
        ht.head_to_head_html(q, names, level),
    ]
    if q.differences is not None and len(q.differences):
        parts += [
            "<h3>Rating differences and predicted win probability</h3>",
            ht.differences_html(q, names, order, level),
            _figure_html(
                difference_figure(
                    q.differences,
                    order,
                    title=f"Rating difference, row − column, {round(level * 100)}% interval",
                    display_names=names,
                ),
                f"diff{k}",
            ),
        ]
    parts += [
        "<h3>Ties, position and clustering</h3>",
        ht.tie_html(analysis, q),
        ht.position_html(q),
        ht.clustering_html(q),
        _breakdown_html(analysis, q, k),
    ]
    if analysis.latency_ms:
        fig = latency_figure(
            q.leaderboard,
            analysis.latency_ms,
            title=f"Rating vs seconds per image — {label}",
            question=label,
        )
        if fig is not None:
            parts += [
                "<h3>Quality against speed</h3>",
                _figure_html(fig, f"latency{k}"),
                ht.not_shown_html(not_shown(q.leaderboard, analysis.latency_ms)),
            ]
    parts.append("</section>")
    return "\n".join(p for p in parts if p)


def render_report(analysis: StudyAnalysis, *, title: str) -> str:
    """Full HTML document of ``analysis``; opens offline (plotly.js embedded once).

    Parameters
    ----------
    analysis : StudyAnalysis
        Result of :func:`analysis.report.analyze`.
    title : str
        Document title (escaped).
    """
    s = analysis.settings
    questions = [analysis.questions["all"]]
    questions += [q for name, q in analysis.questions.items() if name != "all"]
    lede = (
        f"{s['n_votes']} votes from {s['n_raters']} raters on {s['n_prompts']} prompts; "
        f"{len(s['questions'])} question(s): {', '.join(map(str, s['questions']))}; "
        f"ties: {s['tie_mode']}; bootstrap unit: {s['cluster']} (B = {s['n_boot']}, "
        f"seed {s['seed']})."
    )
    links = [("answer", "Answer")] if analysis.comparisons is not None else []
    links += [("summary", "Summary")]
    links += [
        (f"q{k}", "all" if q.question == "all" else q.question) for k, q in enumerate(questions)
    ]
    if analysis.raters is not None:
        links.append(("raters", "Raters"))
    links.append(("methods", "Methods"))
    nav = "".join(f'<a href="#{i}">{html.escape(t)}</a>' for i, t in links)
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{html.escape(title)}</title><style>{_CSS}</style>",
        f'<script type="text/javascript">{get_plotlyjs()}</script>',
        "</head><body>",
        f"<h1>{html.escape(title)}</h1>",
        f'<p class="lede">{html.escape(lede)}</p><nav>{nav}</nav>',
        exclusion_warning(analysis),
        comparisons_html(analysis, _figure_html),
        ht.summary_html(analysis),
        *(_question_html(analysis, q, k) for k, q in enumerate(questions)),
        raters_html(analysis),
        methods_html(analysis),
        "</body></html>",
    ]
    return "\n".join(parts)


def _small_sample_item(s: dict) -> str:
    """The methods line on few-cluster corrections: which were applied, or that none were."""
    if s.get("small_sample", "none") == "none":
        return (
            "Few-cluster corrections: none (asked for with --no-small-sample). With a dozen "
            "raters the uncorrected intervals cover about 92% at a nominal 95% "
            "(benchmarks/interval_coverage.py)."
        )
    return (
        "Few-cluster corrections (G = raters, or the clusters named above): ratings and "
        "differences use the expanded percentile bootstrap (Hesterberg 2015: percentiles moved "
        "out to the normal quantile √(G/(G−1))·t<sub>G−1</sub>); the rank intervals' critical "
        "value is mapped to the same t reference; win rates and the declared comparisons' tests "
        "use Korn & Graubard's (1998) degrees-of-freedom-adjusted effective votes. With fewer "
        "than two clusters no interval is reported. Each correction vanishes as G grows; with "
        "12 raters they bring the coverage of nominal 95% intervals from 91–92% (83% for the "
        "simultaneous ones) to 93.5–94% (benchmarks/interval_coverage.py, docs/statistics.md)."
    )
