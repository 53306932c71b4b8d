"""The live arena's section of the report: raters' own prompts, kept apart from the study.

Live votes are not a designed experiment (the prompts are the raters', the pairs and sides are
drawn per prompt, nobody is balanced), so they never enter the controlled analysis; this
section only counts them: votes, and per model its battles, wins, losses, ties and win share.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

__all__ = ["LIVE_HEADING", "live_table", "live_text", "write_live"]

LIVE_HEADING = "Live arena (raters' own prompts; not part of the controlled analysis)"
_SUFFIXES = (".csv", ".jsonl", ".ndjson", ".parquet")


def live_table(frame: pd.DataFrame) -> pd.DataFrame:
    """Per model: battles, wins, losses, ties (tie and both bad) and the win share
    ``(wins + ties / 2) / battles``, most winning first."""
    rows = []
    for side, other in (("a", "b"), ("b", "a")):
        part = pd.DataFrame(
            {
                "model": frame[f"model_{side}"],
                "win": frame["outcome"] == side,
                "loss": frame["outcome"] == other,
                "tie": ~frame["outcome"].isin(["a", "b"]),
            }
        )
        rows.append(part)
    long = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame()
    table = long.groupby("model").agg(
        battles=("win", "size"), wins=("win", "sum"), losses=("loss", "sum"), ties=("tie", "sum")
    )
    table["win_share"] = (table["wins"] + table["ties"] / 2) / table["battles"]
    return table.sort_values(["win_share", "battles"], ascending=False).reset_index()


def live_text(frame: pd.DataFrame, names: dict[str, str] | None = None) -> str:
    """The live section as plain text (what ``arena report --live`` prints)."""
    names = names or {}
    lines = [LIVE_HEADING, ""]
    if len(frame) == 0:
        return "\n".join([*lines, "No live votes yet."])
    lines.append(
        f"{len(frame)} votes on {frame['prompt'].nunique()} prompts by "
        f"{frame['rater'].nunique()} raters."
    )
    lines.append(
        f"{'model':<32} {'battles':>7} {'wins':>5} {'losses':>6} {'ties':>5} {'win share':>9}"
    )
    for row in live_table(frame).itertuples():
        lines.append(
            f"{names.get(row.model, row.model):<32} {row.battles:>7} {row.wins:>5} "
            f"{row.losses:>6} {row.ties:>5} {row.win_share:>9.1%}"
        )
    return "\n".join(lines)


def write_live(frame: pd.DataFrame, out: Path) -> None:
    """Write the live votes (arena.store.LIVE_COLUMNS) as .csv, .jsonl/.ndjson or .parquet."""
    suffix = out.suffix.lower()
    if suffix not in _SUFFIXES:
        raise ValueError(
            f"{out}: the file's suffix must be one of {', '.join(_SUFFIXES)}; got {suffix!r}."
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    frame = frame.assign(voted_at=frame["voted_at"].astype(str))
    if suffix == ".csv":
        frame.to_csv(out, index=False)
    elif suffix == ".parquet":
        frame.to_parquet(out, index=False)
    else:
        frame.to_json(out, orient="records", lines=True, force_ascii=False)
