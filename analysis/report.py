"""Study report files, and the public entry points of a study analysis.

:func:`analysis.study.analyze` computes everything (re-exported here, as are the result types of
:mod:`analysis.result`); :func:`write_report` writes the HTML report (:mod:`analysis.present.html`),
``analysis.json`` and the CSV tables.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from analysis.present import fmt
from analysis.raters import QualityRules
from analysis.result import ALL, LEADERBOARD_COLUMNS, QuestionAnalysis, StudyAnalysis
from analysis.study import analyze

__all__ = [
    "ALL",
    "LEADERBOARD_COLUMNS",
    "QualityRules",
    "QuestionAnalysis",
    "ReportFiles",
    "StudyAnalysis",
    "analyze",
    "write_report",
]


@dataclass(frozen=True)
class ReportFiles:
    """Paths written by :func:`write_report`."""

    html: Path
    json: Path
    csv: dict[str, Path]


def write_report(analysis: StudyAnalysis, out_dir: Path, *, title: str) -> ReportFiles:
    """Write ``report.html`` (offline, plotly.js inline), ``analysis.json`` and CSV tables.

    Parameters
    ----------
    analysis : StudyAnalysis
        Result of :func:`analyze`.
    out_dir : pathlib.Path
        Folder to write into (created if needed).
    title : str
        Report title (HTML-escaped).

    Returns
    -------
    ReportFiles
        The HTML, JSON and CSV paths; CSV keys are ``leaderboard_<q>``, ``pairwise_<q>``,
        ``winrate_<q>`` and ``votes_<q>``, ``comparisons`` (the declared comparisons), and with rater quality ``raters`` (flags joined by
        ``;``), ``agreement`` and ``leaderboard_<q>_excluding_flagged``.
    """
    from analysis.present.html import (
        render_report,  # plotly is imported only when a report is written
    )

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    csv: dict[str, Path] = {}
    used: set[str] = set()
    for name, q in analysis.questions.items():
        slug = fmt.slug(name)
        while slug in used:
            slug += "_"
        used.add(slug)
        tables = {
            f"leaderboard_{slug}": (q.leaderboard, False),
            f"pairwise_{slug}": (q.pairwise, False),
            f"winrate_{slug}": (q.win_rate, True),
            f"votes_{slug}": (q.vote_counts, True),
        }
        ex = analysis.excluding_flagged
        if ex is not None and name in ex.leaderboards:
            tables[f"leaderboard_{slug}_excluding_flagged"] = (ex.leaderboards[name], False)
        for key, (df, index) in tables.items():
            path = out / f"{key}.csv"
            df.to_csv(path, index=index)
            csv[key] = path
    if analysis.comparisons is not None:
        csv["comparisons"] = out / "comparisons.csv"
        analysis.comparisons.to_csv(csv["comparisons"], index=False)
    if analysis.raters is not None:
        raters = analysis.raters.assign(flags=analysis.raters["flags"].map(";".join))
        csv["raters"] = out / "raters.csv"
        raters.to_csv(csv["raters"], index=False)
    if analysis.agreement is not None:
        csv["agreement"] = out / "agreement.csv"
        analysis.agreement.to_csv(csv["agreement"], index=False)
    json_path = out / "analysis.json"
    # Compact: with an indent, json falls back to its pure-Python encoder, 0.3 s of a
    # million-vote report (``python -m json.tool`` or jq pretty-print it).
    json_path.write_text(json.dumps(analysis.to_json()), encoding="utf-8")
    html_path = out / "report.html"
    html_path.write_text(render_report(analysis, title=title), encoding="utf-8")
    return ReportFiles(html=html_path, json=json_path, csv=csv)
