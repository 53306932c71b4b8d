"""Plotly figures of a study analysis (no HTML assembly here; see :mod:`analysis.present.html`).

Every function returns ``None`` rather than a degenerate figure: a rating without a finite
interval (separation), fewer than two points, or a matrix of one pair says nothing a table
does not say better. What a figure leaves out is said in words by :func:`not_shown` and
:func:`breakdown_not_shown` (the report prints it under the figure).

Labels are made to fit a phone as well as a laptop: model names are wrapped onto lines of at
most :data:`LABEL_WIDTH` characters, axes grow their margins to their labels (``automargin``),
and text placed by plotly goes through :func:`label` first, because plotly reads a small subset
of HTML in every string (``<b>``, ``<br>``, entities) and a model name must show as typed.
"""

from __future__ import annotations

import html
import textwrap
from collections.abc import Mapping

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from analysis.present import fmt
from analysis.separation import NEVER_LOST, NEVER_WON, UNIDENTIFIED

_MARGIN = {"l": 10, "r": 10, "t": 50, "b": 40}

#: Longest line of a wrapped label: about 150 px at plotly's 12 px font, which leaves a
#: 390 px phone screen about half its width for the plot itself.
LABEL_WIDTH = 22
#: Longest line of a figure or axis title (plotly never wraps a title itself).
TITLE_WIDTH = 40

#: Why a model without a finite interval is missing from a figure, by separation flag.
REASONS = {
    NEVER_LOST: "never lost, so its rating has no upper bound",
    NEVER_WON: "never won, so its rating has no lower bound",
    UNIDENTIFIED: "no chain of wins and losses links it to the others, so its rating has no bound",
}
NO_INTERVAL = "its rating has no finite interval"
NO_LATENCY = "no time per image recorded"


def interval_bars(value: pd.Series, low: pd.Series, high: pd.Series) -> dict:
    """Plotly error bars drawing the interval ``[low, high]`` around ``value``."""
    return {"type": "data", "symmetric": False, "array": high - value, "arrayminus": value - low}


def label(text: object, width: int = LABEL_WIDTH) -> str:
    """``text`` escaped for plotly's HTML subset and wrapped with ``<br>`` at ``width``."""
    lines = textwrap.wrap(str(text), width, break_on_hyphens=False) or [""]
    return "<br>".join(html.escape(line, quote=False) for line in lines)


def _title(text: str, width: int = TITLE_WIDTH) -> str:
    return label(text, width)


def _top(title: str) -> int:
    """Top margin for a (wrapped) title: plotly reserves none for its extra lines."""
    return _MARGIN["t"] + 22 * title.count("<br>")


def _finite(df: pd.DataFrame) -> pd.DataFrame:
    cols = df[["rating", "ci_low", "ci_high"]].to_numpy(dtype=np.float64)
    return df[np.isfinite(cols).all(axis=1)]


def _reason(flag: object) -> str:
    return REASONS.get(str(flag), NO_INTERVAL)


def not_shown(
    leaderboard: pd.DataFrame, latency_ms: Mapping[str, float] | None = None
) -> list[tuple[str, str]]:
    """``(display name, why)`` of each leaderboard model that a figure leaves out.

    Parameters
    ----------
    leaderboard : pandas.DataFrame
        Leaderboard with ``model``, ``display_name``, ``rating``, ``ci_low``, ``ci_high`` and
        ``separated`` (the flag of :mod:`analysis.separation`).
    latency_ms : mapping of str to float, optional
        For :func:`latency_figure`: a model without a (positive) time is left out too.

    Returns
    -------
    list of (str, str)
        In leaderboard order; a model missing for both reasons is named once, with its time.
    """
    shown = set(_finite(leaderboard).index)
    out = []
    for idx, r in leaderboard.iterrows():
        if latency_ms is not None and not latency_ms.get(r["model"], 0) > 0:
            out.append((str(r["display_name"]), NO_LATENCY))
        elif idx not in shown:
            out.append((str(r["display_name"]), _reason(r["separated"])))
    return out


def breakdown_not_shown(breakdown: pd.DataFrame, column: str) -> list[tuple[str, str]]:
    """``(model in groups, why)`` for the rows :func:`breakdown_figure` drops.

    Parameters
    ----------
    breakdown : pandas.DataFrame
        The rows given to :func:`breakdown_figure`.
    column : str
        Grouping column (``category``).
    """
    dropped = breakdown.drop(index=_finite(breakdown).index)
    out = []
    for (name, flag), part in dropped.groupby(["display_name", "separated"], sort=False):
        groups = ", ".join(sorted(map(str, part[column].unique())))
        out.append((f"{name} in {groups}", _reason(flag).replace(", so", " there, so", 1)))
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
    # The wrapped label is the category itself, so each model keeps its row even when two
    # display names wrap alike only at a phone's width.
    names = [label(n) for n in lb["display_name"]]
    fig = go.Figure(
        go.Scatter(
            x=lb["rating"],
            y=names,
            mode="markers",
            marker={"size": 9},
            error_x=interval_bars(lb["rating"], lb["ci_low"], lb["ci_high"]),
            customdata=np.stack([lb["ci_low"], lb["ci_high"], lb["votes"]], axis=1),
            hovertemplate="%{y}: %{x:.0f} [%{customdata[0]:.0f}, %{customdata[1]:.0f}]"
            "<br>%{customdata[2]} votes<extra></extra>",
        )
    )
    lines = sum(n.count("<br>") + 1 for n in names)
    head = _title(title)
    fig.update_layout(
        title=head,
        xaxis_title=_title(f"Bradley–Terry rating (Elo scale), {round(level * 100)}% interval", 28),
        height=max(240, 80 + 24 * len(lb) + 14 * lines),
        margin={**_MARGIN, "t": _top(head)},
    )
    fig.update_yaxes(automargin=True)
    fig.update_xaxes(automargin=True)
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
    # Rows carry the numbered names, columns only the numbers: m names side by side never fit
    # a phone (nor, wrapped, a laptop once m is 8 or so), and slanted ones run off the left.
    full = [f"{n + 1}. {names.get(k, k)}" for n, k in enumerate(models)]
    rows = [label(t) for t in full]
    cols = [str(n + 1) for n in range(m)]
    who = np.array([[f"{html.escape(full[a])} − {html.escape(full[b])}" for b in range(m)]
                    for a in range(m)], dtype=object)  # fmt: skip
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=cols,
            y=rows,
            text=text,
            customdata=np.stack([who, hover], axis=-1),
            texttemplate="%{text}",
            colorscale="RdBu",
            zmid=0,
            zmin=-400,
            zmax=400,
            colorbar={"title": "Δ Elo"},
            hovertemplate="%{customdata[0]}: %{text}<br>%{customdata[1]}<extra></extra>",
        )
    )
    head = _title(title)
    lines = sum(r.count("<br>") + 1 for r in rows)
    fig.update_layout(
        title=head,
        xaxis_title="column model (numbered as the rows)",
        yaxis_title="row model",
        yaxis_autorange="reversed",
        xaxis_showgrid=False,
        yaxis_showgrid=False,
        plot_bgcolor="white",
        height=max(320, 140 + 44 * m + 10 * lines),
        margin={**_MARGIN, "t": _top(head)},
    )
    fig.update_yaxes(automargin=True)
    fig.update_xaxes(automargin=True)
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
    # Labels sit beside their point on the side with room: a centred label on the leftmost or
    # rightmost point runs off the figure, and plotly does not count text in its autorange.
    pos = np.log10(secs) if log else secs
    lo_x, hi_x = pos.min(), pos.max()
    frac = (pos - lo_x) / (hi_x - lo_x) if hi_x > lo_x else np.full(len(pos), 0.5)
    side = np.where(frac < 1 / 3, "top right", np.where(frac > 2 / 3, "top left", "top center"))
    pad_x = 0.08 * (hi_x - lo_x or 1.0)
    x_range = [lo_x - pad_x, hi_x + pad_x]
    lo_y, hi_y = float(lb["ci_low"].min()), float(lb["ci_high"].max())
    # Room above the highest interval for its (wrapped) label.
    y_range = [lo_y - 0.08 * (hi_y - lo_y or 1.0), hi_y + 0.3 * (hi_y - lo_y or 1.0)]
    names = [label(n) for n in lb["display_name"]]
    fig = go.Figure(
        go.Scatter(
            x=secs,
            y=lb["rating"],
            mode="markers+text",
            text=names,
            textposition=list(side),
            cliponaxis=False,
            error_y={
                "type": "data",
                "symmetric": False,
                "array": lb["ci_high"] - lb["rating"],
                "arrayminus": lb["rating"] - lb["ci_low"],
            },
            hovertemplate="%{text}: %{x:.3g} s, rating %{y:.0f}<extra></extra>",
        )
    )
    head = _title(title)
    fig.update_layout(
        title=head,
        xaxis_title="seconds per image" + (" (log scale)" if log else ""),
        yaxis_title=_title(f"rating for “{question}” (Elo scale)", 30),
        xaxis_type="log" if log else "linear",
        xaxis_range=x_range,
        yaxis_range=y_range,
        height=420,
        margin={**_MARGIN, "t": _top(head)},
    )
    fig.update_xaxes(automargin=True)
    fig.update_yaxes(automargin=True)
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
                name=label(model, 2 * LABEL_WIDTH),
                mode="markers",
                error_y={
                    "type": "data",
                    "symmetric": False,
                    "array": part["ci_high"] - part["rating"],
                    "arrayminus": part["rating"] - part["ci_low"],
                },
            )
        )
    head = _title(title)
    fig.update_layout(
        title=head,
        xaxis={
            "title": column,
            "tickvals": list(range(len(groups))),
            "ticktext": [label(g) for g in groups],
            "automargin": True,
        },
        yaxis_title="rating (Elo scale)",
        # The legend goes under the plot: beside it, long model names leave a phone's plot
        # a sliver. It pushes the bottom margin itself; the height grows with its rows.
        legend={"orientation": "h", "yanchor": "top", "y": -0.2, "x": 0},
        height=420 + 22 * n_models,
        margin={**_MARGIN, "t": _top(head)},
    )
    return fig
