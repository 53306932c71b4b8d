"""The figures of ``benchmarks/crowd_quality.py``: the judge's truth, how close the ratings
come to it, the scheduler's balance, and the printed summary."""

from __future__ import annotations

import json
from itertools import combinations
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from PIL import Image
from scipy import stats

from arena.prompts import load_prompts
from benchmarks._crowd import CARELESS, MODELS, PROMPTS
from models.toy.judge import judge


def judge_truth(
    image_dir: Path, prompts: int
) -> tuple[dict[str, float], dict[tuple[str, str], float]]:
    """The judge's mean score per model of the study, and its head-to-head share per model pair
    (ties half) over the study's (prompt, seed) cells (the image set may hold more)."""
    ids = {p.id for p in load_prompts(PROMPTS, limit=prompts)}
    lines = (image_dir / "manifest.jsonl").read_text(encoding="utf-8").splitlines()
    rows = [e for e in map(json.loads, lines) if e["model"] in MODELS and e["prompt_id"] in ids]
    score: dict[tuple[str, str, int], float] = {}
    for e in rows:
        with Image.open(image_dir / e["path"]) as im:
            score[(e["model"], e["prompt_id"], e["seed"])] = judge(
                im.convert("RGB"), e["prompt"]
            ).score
    frame = pd.Series(score).rename_axis(["model", "prompt", "seed"]).unstack("model")
    means = {m: float(frame[m].mean()) for m in MODELS}
    shares = {}
    for a, b in combinations(MODELS, 2):
        diff = frame[a] - frame[b]
        shares[(a, b)] = float(((diff > 0) + 0.5 * (diff == 0)).mean())
    return means, shares


def _rating(row: dict) -> float:
    """A leaderboard rating; an unbounded one (JSON null) is infinite on its open side."""
    if row["rating"] is not None:
        return float(row["rating"])
    return {"upper": np.inf, "lower": -np.inf}.get(row.get("ci_open"), np.nan)


def closeness(leaderboard: list[dict], means: dict[str, float], shares: dict) -> dict[str, float]:
    """How close ratings come to the judge.

    ``kendall_tau`` of ratings against the judge's mean scores; ``mean_abs_gap``, the mean over
    model pairs of |Bradley–Terry P(a beats b) − the judge's head-to-head share|; and
    ``discordance``, the share of the judge's separation (|share − ½| summed over pairs) on
    pairs the ratings order the other way: 0 when every pair the judge separates is in its
    order, and a pair the judge finds even (two models with nearly equal means) weighs nothing.
    """
    rating = {row["model"]: _rating(row) for row in leaderboard}
    tau = stats.kendalltau([rating[m] for m in MODELS], [means[m] for m in MODELS]).statistic
    gaps, weight, wrong = [], 0.0, 0.0
    for (a, b), share in shares.items():
        with np.errstate(over="ignore", invalid="ignore"):
            predicted = 1 / (1 + np.power(10.0, (rating[b] - rating[a]) / 400))
        gaps.append(abs(predicted - share))  # nan when both are unbounded the same way
        weight += abs(share - 0.5)
        wrong += abs(share - 0.5) * ((rating[a] - rating[b]) * (share - 0.5) < 0)
    return {
        "kendall_tau": float(tau),
        "mean_abs_gap": float(np.nanmean(gaps)) if np.isfinite(gaps).any() else float("nan"),
        "discordance": float(wrong / weight) if weight else 0.0,
    }


def balance(votes: pd.DataFrame, quota: int) -> dict[str, Any]:
    """How close the scheduler came to its design, from the exported votes."""
    rated = votes[votes["kind"] == "2afc"].copy()
    lo = rated[["model_a", "model_b"]].min(axis=1)
    hi = rated[["model_a", "model_b"]].max(axis=1)
    rated["cell"] = rated["prompt"].astype(str) + "|" + lo + "|" + hi + "|" + rated["question"]
    per_cell = rated.groupby("cell").size()
    lo_left = (rated["model_a"] == lo).groupby([lo, hi]).mean()
    per_cell_left = (rated["model_a"] == lo).groupby(rated["cell"]).sum()
    imbalance = (2 * per_cell_left - per_cell).abs()
    per_rater = votes[votes["kind"] != "practice"].groupby("rater").size()
    return {
        "rated_votes": len(rated),
        "cells_served": int(per_cell.size),
        "cell_min": int(per_cell.min()),
        "cell_max": int(per_cell.max()),
        "pair_left_share_min": float(lo_left.min()),
        "pair_left_share_max": float(lo_left.max()),
        "cells_left_right_off_by_more_than_1": int((imbalance > 1).sum()),
        "repeated_cells_per_rater": int(rated.duplicated(["rater", "cell"]).sum()),
        "raters_off_quota": int((per_rater != quota).sum()),
        "kinds": {str(k): int(v) for k, v in votes["kind"].value_counts().items()},
    }


def _cell(row: dict, key: str, spec: str = ".2f") -> str:
    return "-" if row[key] is None else format(row[key], spec)


def print_crowd(c: dict[str, Any]) -> None:
    print(f"crowd seed {c['seed']}: {c['votes']} votes in {c['voting_s']:.1f} s")
    print(
        f"  {'rater':<16}{'gold':>6}{'repeat':>8}{'left':>6}{'left p':>9}{'ms':>6}{'majority':>9}  flags"
    )
    for row in c["raters"]:
        print(
            f"  {row['rater']:<16}{_cell(row, 'gold_accuracy'):>6}"
            f"{_cell(row, 'repeat_consistency'):>8}{_cell(row, 'left_rate'):>6}"
            f"{_cell(row, 'left_p', '.1e'):>9}{_cell(row, 'median_decision_ms', '.0f'):>6}"
            f"{_cell(row, 'majority_agreement'):>9}  {','.join(row['flags']) or '-'}"
        )
    verdict = "yes" if c["exactly_careless_flagged"] else "NO"
    print(
        f"  flagged: {', '.join(c['flagged']) or 'nobody'}; exactly the careless raters: {verdict}"
    )
    for q, fig in c["questions"].items():
        e, x = fig["everyone"], fig["excluding_flagged"]
        print(
            f"  {q}: everyone -> flagged excluded: Kendall tau {e['kendall_tau']:.2f} -> "
            f"{x['kendall_tau']:.2f}; mean |P_BT - judge| {e['mean_abs_gap']:.3f} -> "
            f"{x['mean_abs_gap']:.3f}; discordance {e['discordance']:.3f} -> {x['discordance']:.3f}"
        )
    b = c["balance"]
    print(
        f"  scheduler: {b['rated_votes']} rated votes over {b['cells_served']} cells, "
        f"{b['cell_min']} to {b['cell_max']} per cell; lower-named model on the left in "
        f"{b['pair_left_share_min']:.1%} to {b['pair_left_share_max']:.1%} of each pair's trials; "
        f"cells off left/right balance by more than 1: {b['cells_left_right_off_by_more_than_1']}; "
        f"repeated cells within a rater: {b['repeated_cells_per_rater']}; raters off quota: "
        f"{b['raters_off_quota']}; trials by kind: {b['kinds']}"
    )


def print_figures(r: dict[str, Any]) -> None:
    print(
        f"{r['careful']} careful + {len(CARELESS)} careless raters, quota {r['quota']}, gold "
        f"rate {r['gold_rate']}, repeat rate {r['repeat_rate']} (images in {r['generate_s']:.0f} s)"
    )
    print("judge's mean score: " + ", ".join(f"{m} {v:.3f}" for m, v in r["judge_means"].items()))
    for c in r["crowds"]:
        print_crowd(c)
    n = len(r["crowds"])
    print(
        f"summary over {n} crowds: exactly the careless raters flagged in {r['exact_crowds']}; "
        f"careful raters flagged {r['careful_flagged']} of {n * r['careful']}; careless raters "
        f"missed {r['careless_missed']} of {n * len(CARELESS)}; ratings closer to the judge "
        f"without the flagged raters in {r['closer_without_flagged']} of {2 * n} questions"
    )
