"""The figure a reader of the SDXL Turbo paper expects: win rates of the declared comparisons.

Per question, each comparison's head-to-head win rate (``model_a``'s share of decisive votes)
with its rater-adjusted interval, the Bradley–Terry prediction beside it, the 50 % line and, for
non-inferiority and equivalence claims, the margin.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from analysis.present.plots import interval_bars, label

_MARGIN = {"l": 10, "r": 10, "t": 50, "b": 40}


def comparisons_figure(
    table: pd.DataFrame, question: str, names: Mapping[str, str], *, level: float = 0.95
) -> go.Figure | None:
    """Win rates of the declared comparisons on ``question``; None when none has an interval.

    Parameters
    ----------
    table : pandas.DataFrame
        :func:`analysis.claims.claim_table`.
    question : str
        Question to draw.
    names : mapping of str to str
        Display names.
    level : float
        Interval coverage, for the axis label.
    """
    rows = table[(table["question"] == question) & np.isfinite(table["ci_low"].astype(float))]
    if rows.empty:
        return None
    rows = rows.iloc[::-1]
    labels = [
        label(f"{names.get(a, a)} vs {names.get(b, b)}", width=30)
        for a, b in zip(rows["model_a"], rows["model_b"], strict=True)
    ]
    title = label(f"{question}: share of decisive votes won by the first model", width=40)
    fig = go.Figure()
    fig.add_trace(
        go.Scatter(
            name="head-to-head",
            x=rows["win_rate"],
            y=labels,
            mode="markers",
            marker={"size": 10},
            error_x=interval_bars(rows["win_rate"], rows["ci_low"], rows["ci_high"]),
            customdata=np.stack([rows["ci_low"], rows["ci_high"], rows["n_decisive"]], axis=1),
            hovertemplate="%{y}: %{x:.0%} [%{customdata[0]:.0%}, %{customdata[1]:.0%}]"
            "<br>%{customdata[2]} decisive votes<extra>head-to-head</extra>",
        )
    )
    bt = rows[np.isfinite(rows["bt_win_rate"].astype(float))]
    if len(bt):
        fig.add_trace(
            go.Scatter(
                name="Bradley–Terry (pooled)",
                x=bt["bt_win_rate"],
                y=[labels[k] for k in np.flatnonzero(rows.index.isin(bt.index))],
                mode="markers",
                marker={"size": 9, "symbol": "diamond-open"},
                hovertemplate="%{y}: %{x:.0%}<extra>Bradley–Terry</extra>",
            )
        )
    fig.add_vline(x=0.5, line_dash="dash", line_color="#888")
    for margin in sorted(set(rows.loc[rows["margin"] > 0, "margin"])):
        fig.add_vline(x=0.5 - margin, line_dash="dot", line_color="#c0392b")
        if (rows.loc[rows["margin"] == margin, "claim"] == "equivalence").any():
            fig.add_vline(x=0.5 + margin, line_dash="dot", line_color="#c0392b")
    fig.update_layout(
        title=title,
        xaxis={"range": [0, 1], "tickformat": ".0%"},
        xaxis_title=label(
            f"win rate, {round(level * 100)}% interval; dashed 50%, dotted margin", width=28
        ),
        # room for every wrapped label line, and for a title of several lines
        height=max(260, 150 + sum(18 * (t.count("<br>") + 1) + 14 for t in labels)),
        margin={**_MARGIN, "t": 30 + 22 * (title.count("<br>") + 1)},
        legend={"orientation": "h", "y": -0.3},
    )
    fig.update_yaxes(automargin=True)
    return fig
