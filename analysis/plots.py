"""Plotly figures of a study analysis (no HTML assembly here; see :mod:`analysis.html`).

Every function returns ``None`` rather than a degenerate figure: a rating without a finite
interval (separation), fewer than two points, or a matrix of one pair says nothing a table
does not say better.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from analysis import fmt

_MARGIN = {"l": 10, "r": 10, "t": 50, "b": 40}


def _finite(df: pd.DataFrame) -> pd.DataFrame:
    cols = df[["rating", "ci_low", "ci_high"]].to_numpy(dtype=np.float64)
    return df[np.isfinite(cols).all(axis=1)]


def interval_bars(value: pd.Series, low: pd.Series, high: pd.Series) -> dict:
    """Plotly error bars drawing the interval ``[low, high]`` around ``value``."""
    return {"type": "data", "symmetric": False, "array": high - value, "arrayminus": value - low}


_UNBOUNDED = {
    "never lost": "never lost, so its rating has no upper bound",
    "never won": "never won, so its rating has no lower bound",
    "unidentified": "its rating is not identified by these votes",
}


def left_out(
    leaderboard: pd.DataFrame, latency_ms: Mapping[str, float] | None = None
) -> dict[str, str]:
    """Models a ratings (or, with ``latency_ms``, a speed) figure leaves out, and why.

    Parameters
    ----------
    leaderboard : pandas.DataFrame
        Leaderboard with ``display_name``, ``rating``, ``ci_low``, ``ci_high``, ``separated``.
    latency_ms : mapping of str to float, optional
        For the speed figure: models without a measured time are left out too.

    Returns
    -------
    dict of str to str
        Display name → reason, in leaderboard order.
    """
    shown = set(_finite(leaderboard)["model"])
    out = {}
    for row in leaderboard.itertuples(index=False):
        if latency_ms is not None and row.model not in latency_ms:
            out[row.display_name] = "no seconds per image recorded"
        elif row.model not in shown:
            out[row.display_name] = _UNBOUNDED.get(
                str(row.separated), "its interval has no finite end"
            )
    return out


def ratings_figure(
    leaderboard: pd.DataFrame, *, title: str, level: float = 0.95
) -> go.Figure | None:
    """Ratings with interval bars, best model on top; None with fewer than two finite ratings.

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
    lb = _finite(leaderboard).iloc[::-1]
    if len(lb) < 2:
        return None
    fig = go.Figure(
        go.Scatter(
            x=lb["rating"],
            y=lb["display_name"],
            mode="markers",
            marker={"size": 9},
            error_x=interval_bars(lb["rating"], lb["ci_low"], lb["ci_high"]),
            customdata=np.stack([lb["ci_low"], lb["ci_high"], lb["votes"]], axis=1),
            hovertemplate="%{y}: %{x:.0f} [%{customdata[0]:.0f}, %{customdata[1]:.0f}]"
            "<br>%{customdata[2]} votes<extra></extra>",
        )
    )
    fig.update_layout(
        title=title,
        xaxis_title=f"Bradley–Terry rating (Elo scale), {round(level * 100)}% interval",
        height=max(240, 80 + 36 * len(lb)),
        margin=_MARGIN,
    )
    fig.update_yaxes(automargin=True)
    return fig


def difference_figure(
    differences: pd.DataFrame,
    models: list[str],
    *,
    title: str,
    display_names: Mapping[str, str] | None = None,
) -> go.Figure | None:
    """Heatmap of ``row − column`` rating differences annotated "Δ [lo, hi]"; None for m < 3.

    Parameters
    ----------
    differences : pandas.DataFrame
        :func:`analysis.contrasts.pairwise_differences` rows (``model_a`` before ``model_b``).
    models : list of str
        Row and column order (e.g. leaderboard order).
    title : str
        Figure title.
    display_names : mapping, optional
        Labels for model ids.
    """
    m = len(models)
    if m < 3:
        return None
    names = display_names or {}
    pos = {k: n for n, k in enumerate(models)}
    z = np.full((m, m), np.nan)
    text = np.full((m, m), "", dtype=object)
    hover = np.full((m, m), "", dtype=object)
    for r in differences.itertuples(index=False):
        i, j = pos[r.model_a], pos[r.model_b]
        for a, b, s in ((i, j, 1), (j, i, -1)):
            d = s * r.diff
            lo, hi = (r.ci_low, r.ci_high) if s > 0 else (-r.ci_high, -r.ci_low)
            pw, pl, ph = (
                (r.p_win, r.p_win_low, r.p_win_high)
                if s > 0
                else (1 - r.p_win, 1 - r.p_win_high, 1 - r.p_win_low)
            )
            # Colour saturates at ±400 Elo points; an infinite difference gets the end colour.
            z[a, b] = np.clip(d, -400, 400) if not np.isnan(d) else np.nan
            text[a, b] = f"{fmt.number(d)}<br>{fmt.interval(lo, hi)}"
            hover[a, b] = f"P(win) {fmt.percent(pw)} {fmt.interval(pl, ph, 0, 100, '%')}"
    labels = [names.get(k, k) for k in models]
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=labels,
            y=labels,
            text=text,
            customdata=hover,
            texttemplate="%{text}",
            colorscale="RdBu",
            zmid=0,
            zmin=-400,
            zmax=400,
            colorbar={"title": "Δ Elo"},
            hovertemplate="%{y} − %{x}: %{text}<br>%{customdata}<extra></extra>",
        )
    )
    fig.update_layout(
        title=title,
        xaxis_title="column model",
        yaxis_title="row model",
        yaxis_autorange="reversed",
        xaxis_showgrid=False,
        yaxis_showgrid=False,
        plot_bgcolor="white",
        height=max(320, 140 + 60 * m),
        margin=_MARGIN,
    )
    fig.update_yaxes(automargin=True)
    return fig


def latency_figure(
    leaderboard: pd.DataFrame, latency_ms: Mapping[str, float], *, title: str, question: str
) -> go.Figure | None:
    """Rating against seconds per image, with interval bars; None with fewer than two models.

    Parameters
    ----------
    leaderboard : pandas.DataFrame
        Leaderboard with ``model``, ``display_name``, ``rating``, ``ci_low``, ``ci_high``.
    latency_ms : mapping of str to float
        Milliseconds per image by model id.
    title : str
        Figure title.
    question : str
        The question the ratings answer (labels the y axis).

    Notes
    -----
    The x axis is logarithmic when latencies span more than a factor of 10 (e.g. 1 vs 50
    denoising steps), linear otherwise. Models without a finite interval are left out.
    """
    lb = _finite(leaderboard[leaderboard["model"].isin(list(latency_ms))])
    secs = np.array([latency_ms[m] / 1000 for m in lb["model"]])
    if len(lb) < 2 or not np.all(secs > 0):
        return None
    log = secs.max() / secs.min() > 10
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
            hovertemplate="%{text}: %{x:.3g} s, rating %{y:.0f}<extra></extra>",
        )
    )
    fig.update_layout(
        title=title,
        xaxis_title="seconds per image" + (" (log scale)" if log else ""),
        yaxis_title=f"rating for “{question}” (Elo scale)",
        xaxis_type="log" if log else "linear",
        height=420,
        margin=_MARGIN,
    )
    return fig


def breakdown_figure(breakdown: pd.DataFrame, column: str, *, title: str) -> go.Figure | None:
    """Ratings per group (e.g. prompt category), one trace per model; None below two groups.

    Parameters
    ----------
    breakdown : pandas.DataFrame
        Rows of one question from :attr:`analysis.report.StudyAnalysis.breakdown` (already
        restricted to groups with enough votes); rows without a finite interval are dropped.
    column : str
        Grouping column (``category``).
    title : str
        Figure title.
    """
    part_all = _finite(breakdown)
    if part_all[column].nunique() < 2:
        return None
    fig = go.Figure()
    groups = sorted(part_all[column].unique(), key=str)
    pos = {g: k for k, g in enumerate(groups)}
    n_models = part_all["display_name"].nunique()
    for n, (model, part) in enumerate(part_all.groupby("display_name", sort=True)):
        # Side by side within a group, so that overlapping intervals stay readable.
        shift = 0.5 * (n + 0.5) / n_models - 0.25
        fig.add_trace(
            go.Scatter(
                x=[pos[g] + shift for g in part[column]],
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
        xaxis={"title": column, "tickvals": list(range(len(groups))), "ticktext": groups},
        yaxis_title="rating (Elo scale)",
        height=420,
        margin=_MARGIN,
    )
    return fig
