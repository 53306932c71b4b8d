"""Assembly of the offline HTML report: plotly.js inlined once, every data string escaped.

Figures are emitted as ``Plotly.newPlot`` calls on JSON from ``Figure.to_json()``, which escapes
``<``, ``>`` and ``/`` as ``\\u`` sequences, so a model name such as ``</script>`` cannot end a
script element. Text outside figures goes through :func:`html.escape` (tables via
``DataFrame.to_html(escape=True)``).
"""

from __future__ import annotations

import html
import re
from typing import TYPE_CHECKING

import plotly.graph_objects as go
from plotly.offline import get_plotlyjs

from analysis.plots import breakdown_figure, heatmap_figure, latency_figure, ratings_figure

if TYPE_CHECKING:
    from analysis.report import QuestionAnalysis, StudyAnalysis

_CSS = """
body{font-family:system-ui,sans-serif;margin:2rem auto;max-width:1100px;padding:0 1rem;color:#222}
table{border-collapse:collapse;font-size:.9rem;margin:.5rem 0 1.5rem}
th,td{border-bottom:1px solid #ddd;padding:.25rem .6rem;text-align:right}
th:nth-child(2),td:nth-child(2),th:nth-child(3),td:nth-child(3){text-align:left}
h2{border-top:2px solid #444;padding-top:1rem}
.methods{background:#f6f6f6;padding:.5rem 1rem;border-radius:4px}
"""


def _figure_html(fig: go.Figure, div_id: str) -> str:
    # to_json escapes "<", ">" and "/" (\u003c ...), so data cannot close the script element.
    payload = fig.to_json()
    return (
        f'<div id="{div_id}" class="figure"></div>\n<script>(function(){{var f={payload};'
        f'Plotly.newPlot("{div_id}",f.data,f.layout,{{responsive:true,displaylogo:false}});}})();'
        "</script>"
    )


def _table_html(q: QuestionAnalysis) -> str:
    lb = q.leaderboard.drop(columns=["model"]).rename(columns={"display_name": "model"})
    fmt = {
        c: "{:.1f}".format for c in ("rating", "ci_low", "ci_high", "elo_online", "elo_sdxl_turbo")
    }
    fmt["win_rate"] = lambda v: f"{100 * v:.1f}%"
    return lb.to_html(index=False, escape=True, formatters=fmt, na_rep="–", border=0)


def methods_html(analysis: StudyAnalysis) -> str:
    """The methods section: exactly what was computed, from ``analysis.settings``."""
    s = analysis.settings
    lvl = round(s["level"] * 100)
    cluster = {
        "rater": "raters were resampled with replacement (all of a rater's votes together; one "
        "draw shared by every question)",
        "prompt": "prompts were resampled with replacement",
        "vote": "votes were resampled independently (ignores within-rater correlation)",
    }[s["cluster"]]
    ties = {
        "davidson": "ties are a third outcome with Davidson's (1970) tie parameter",
        "half": "a tie counts as half a win for each model (FastChat convention)",
        "exclude": "ties are excluded from the fit",
    }[s["tie_mode"]]
    anchor = (
        f"{html.escape(str(s['anchor']))} is fixed at 1000"
        if s["anchor"]
        else "ratings are centred so that their mean is 1000"
    )
    items = [
        f"{s['n_votes']} votes from {s['n_raters']} raters on {s['n_prompts']} prompts; "
        f"questions: {html.escape(', '.join(map(str, s['questions'])))}.",
        "Ratings: Bradley–Terry (1952) maximum likelihood by Newton's method, reported on the Elo "
        f"scale 1000 + 400/ln(10)·θ; {anchor}; {ties}; “both bad” votes are counted and "
        f"shown but not used in the fit; ridge {s['ridge']:g} on θ keeps every fit finite.",
        f"Intervals: {lvl}% {s['interval']} intervals with B = {s['n_boot']} replicates, "
        f"seed {s['seed']}; {cluster}; every replicate is refitted.",
        f"“all”: {html.escape(s['combine'])}; its interval uses the same replicates.",
        "Rank intervals: simultaneous over all pairs (max-|t| calibration on the bootstrap "
        "replicates; Klein, Wright & Wieczorek 2020).",
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
    return (
        '<div class="methods"><h2>Methods</h2><ul>'
        + "".join(f"<li>{i}</li>" for i in items)
        + "</ul></div>"
    )


def render_report(analysis: StudyAnalysis, *, title: str) -> str:
    """Full HTML document of ``analysis``; opens offline (plotly.js embedded once).

    Parameters
    ----------
    analysis : StudyAnalysis
        Result of :func:`analysis.report.analyze`.
    title : str
        Document title (escaped).
    """
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{html.escape(title)}</title><style>{_CSS}</style>",
        f'<script type="text/javascript">{get_plotlyjs()}</script>',
        "</head><body>",
        f"<h1>{html.escape(title)}</h1>",
    ]
    names = analysis.display_names
    for k, (qname, q) in enumerate(analysis.questions.items()):
        label = html.escape(qname)
        shown = html.escape(qname)
        parts.append(f'<section id="q{k}"><h2>Question: {shown}</h2>')
        parts.append(
            f"<p>{q.counts.n_votes} votes, {q.counts.n_raters} raters.</p>" + _table_html(q)
        )
        parts.append(
            _figure_html(
                ratings_figure(
                    q.leaderboard, title=f"Ratings — {qname}", level=analysis.settings["level"]
                ),
                f"ratings{k}",
            )
        )
        parts.append(
            _figure_html(
                heatmap_figure(
                    q.win_rate,
                    title=f"Win rate (row beats column) — {qname}",
                    display_names=names,
                    percent=True,
                ),
                f"winrate{k}",
            )
        )
        parts.append(
            _figure_html(
                heatmap_figure(
                    q.vote_counts, title=f"Votes per pair — {qname}", display_names=names
                ),
                f"votes{k}",
            )
        )
        if q.position is not None:
            pe = q.position
            parts.append(
                f"<p>Position: the left image won {pe.left_votes} and the right {pe.right_votes} "
                f"decisive votes (left rate {100 * pe.left_rate:.1f}%, exact binomial "
                f"p = {pe.p_value:.3g}); model-based left advantage {pe.elo_points:+.1f} Elo "
                f"points (γ = {pe.gamma:.3f} ± {pe.gamma_se:.3f}, {html.escape(pe.cluster)}-robust, "
                f"p = {pe.gamma_p:.3g}).</p>"
            )
        if q.robust is not None:
            parts.append(
                f"<p>Clustering: mean design effect {float(q.robust.design_effect().mean()):.2f}, "
                f"worth {q.robust.effective_votes():.0f} independent votes.</p>"
            )
        bd = analysis.breakdown
        col = analysis.settings.get("breakdown_by")
        if bd is not None and col and not bd.empty and qname in set(bd["question"]):
            sub = bd[bd["question"] == qname]
            if sub[col].nunique() > 1:
                fig = breakdown_figure(sub, col, title=f"Ratings by {col} — {qname}")
                parts.append(_figure_html(fig, f"breakdown{k}"))
        if analysis.latency_ms:
            fig = latency_figure(
                q.leaderboard, analysis.latency_ms, title=f"Rating vs time — {qname}"
            )
            if fig is not None:
                parts.append(_figure_html(fig, f"latency{k}"))
        parts.append(f"<!-- end {re.sub(r'[^A-Za-z0-9_]', '_', label)} --></section>")
    parts.append(methods_html(analysis))
    parts.append("</body></html>")
    return "\n".join(parts)
