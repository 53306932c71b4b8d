"""Plotly figures of a study analysis (no HTML assembly here; see :mod:`analysis.html`)."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
import plotly.graph_objects as go


def ratings_figure(leaderboard: pd.DataFrame, *, title: str, level: float = 0.95) -> go.Figure:
    """Ratings with interval bars, best model on top.

    Parameters
    ----------
    leaderboard : pandas.DataFrame
        A leaderboard from :func:`analysis.report.analyze` (``display_name``, ``rating``,
        ``ci_low``, ``ci_high``, ``votes``).
    title : str
        Figure title.
    level : float
        Interval coverage, for the axis label.
    """
    lb = leaderboard.iloc[::-1]
    fig = go.Figure(
        go.Scatter(
            x=lb["rating"],
            y=lb["display_name"],
            mode="markers",
            marker={"size": 9},
            error_x={
                "type": "data",
                "symmetric": False,
                "array": lb["ci_high"] - lb["rating"],
                "arrayminus": lb["rating"] - lb["ci_low"],
            },
            customdata=np.stack([lb["ci_low"], lb["ci_high"], lb["votes"]], axis=1),
            hovertemplate="%{y}: %{x:.1f} [%{customdata[0]:.1f}, %{customdata[1]:.1f}]"
            "<br>%{customdata[2]} votes<extra></extra>",
        )
    )
    fig.update_layout(
        title=title,
        xaxis_title=f"Bradley–Terry rating (Elo scale), {round(level * 100)}% interval",
        height=max(260, 60 + 32 * len(lb)),
        margin={"l": 10, "r": 10, "t": 50, "b": 40},
    )
    fig.update_yaxes(automargin=True)
    return fig


def heatmap_figure(
    matrix: pd.DataFrame,
    *,
    title: str,
    display_names: Mapping[str, str] | None = None,
    percent: bool = False,
    colorscale: str = "RdBu",
) -> go.Figure:
    """Heatmap of a model-by-model matrix (win rates or vote counts), row vs column.

    Parameters
    ----------
    matrix : pandas.DataFrame
        Square matrix indexed by model id.
    title : str
        Figure title.
    display_names : mapping, optional
        Labels for model ids.
    percent : bool, default False
        Show values as percentages centred at 50 % (win rates).
    colorscale : str
        Plotly colour scale.
    """
    names = display_names or {}
    labels = [names.get(m, m) for m in matrix.index]
    z = matrix.to_numpy(dtype=np.float64)
    text = np.where(
        np.isnan(z),
        "",
        np.vectorize(lambda v: f"{100 * v:.0f}%" if percent else f"{v:.0f}")(np.nan_to_num(z)),
    )
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=labels,
            y=labels,
            text=text,
            texttemplate="%{text}",
            colorscale=colorscale if percent else "Blues",
            zmid=0.5 if percent else None,
            hovertemplate="%{y} vs %{x}: %{text}<extra></extra>",
        )
    )
    fig.update_layout(
        title=title,
        xaxis_title="opponent (column)",
        yaxis_title="model (row)",
        yaxis_autorange="reversed",
        height=max(300, 120 + 40 * len(labels)),
        margin={"l": 10, "r": 10, "t": 50, "b": 40},
    )
    return fig


def latency_figure(
    leaderboard: pd.DataFrame, latency_ms: Mapping[str, float], *, title: str
) -> go.Figure | None:
    """Rating against seconds per image (log axis), with interval bars; None without latencies.

    Parameters
    ----------
    leaderboard : pandas.DataFrame
        Leaderboard with ``model``, ``display_name``, ``rating``, ``ci_low``, ``ci_high``.
    latency_ms : mapping of str to float
        Milliseconds per image by model id.
    title : str
        Figure title.
    """
    lb = leaderboard[leaderboard["model"].isin(list(latency_ms))]
    if lb.empty:
        return None
    secs = np.array([latency_ms[m] / 1000 for m in lb["model"]])
    fig = go.Figure(
        go.Scatter(
            x=secs,
            y=lb["rating"],
            mode="markers+text",
            text=lb["display_name"],
            textposition="top center",
            error_y={
                "type": "data",
                "symmetric": False,
                "array": lb["ci_high"] - lb["rating"],
                "arrayminus": lb["rating"] - lb["ci_low"],
            },
        )
    )
    fig.update_layout(
        title=title,
        xaxis_title="seconds per image",
        yaxis_title="rating (Elo scale)",
        xaxis_type="log",
        height=420,
        margin={"l": 10, "r": 10, "t": 50, "b": 40},
    )
    return fig


def breakdown_figure(breakdown: pd.DataFrame, column: str, *, title: str) -> go.Figure:
    """Ratings per group (e.g. prompt category) with interval bars, one trace per model.

    Parameters
    ----------
    breakdown : pandas.DataFrame
        Rows of one question from :attr:`analysis.report.StudyAnalysis.breakdown`.
    column : str
        Grouping column (``category``).
    title : str
        Figure title.
    """
    fig = go.Figure()
    for model, part in breakdown.groupby("display_name", sort=True):
        fig.add_trace(
            go.Scatter(
                x=part[column],
                y=part["rating"],
                name=str(model),
                mode="markers",
                error_y={
                    "type": "data",
                    "symmetric": False,
                    "array": part["ci_high"] - part["rating"],
                    "arrayminus": part["rating"] - part["ci_low"],
                },
            )
        )
    fig.update_layout(
        title=title,
        xaxis_title=column,
        yaxis_title="rating (Elo scale)",
        height=420,
        margin={"l": 10, "r": 10, "t": 50, "b": 40},
    )
    return fig
