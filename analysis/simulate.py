"""Seeded simulation of comparisons DataFrames, for tests, benchmarks and coverage studies.

Votes follow Davidson's (1970) extension of the Bradley–Terry (1952) model with an optional
left-position effect and per-rater taste: rater ``r`` sees strengths ``theta + u_r`` with
``u_r ~ Normal(0, rater_sd^2)`` per model, which makes one rater's votes correlated — the
situation a rater-clustered bootstrap is built for.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from analysis.frame import OUTCOMES
from analysis.rng import as_generator


def simulate_comparisons(
    theta: Sequence[float],
    *,
    n_raters: int = 50,
    votes_per_rater: int = 20,
    models: Sequence[str] | None = None,
    rater_sd: float = 0.0,
    prompt_sd: float = 0.0,
    tie_nu: float = 0.0,
    both_bad: float = 0.0,
    position: float = 0.0,
    n_prompts: int = 20,
    categories: Sequence[str] = ("general",),
    questions: Sequence[str] = ("quality",),
    seed: int | np.random.Generator | None = 0,
    categorical: bool = False,
) -> pd.DataFrame:
    """Draw a comparisons DataFrame from a Bradley–Terry–Davidson model.

    Parameters
    ----------
    theta : sequence of float
        True log-strengths, one per model.
    n_raters, votes_per_rater : int
        Raters and votes per rater (per question).
    models : sequence of str, optional
        Model names (default ``m0``, ``m1``, ...).
    rater_sd : float, default 0
        Standard deviation of each rater's per-model taste offset.
    prompt_sd : float, default 0
        Standard deviation of each prompt's per-model offset (some prompts suit some models):
        votes then cluster by prompt as well as by rater.
    tie_nu : float, default 0
        Davidson's tie parameter (0: no ties).
    both_bad : float, default 0
        Probability that a vote is ``both_bad`` regardless of the pair.
    position : float, default 0
        Log-odds advantage of the left image.
    n_prompts : int, default 20
        Prompts drawn uniformly for each vote.
    categories : sequence of str
        Prompt categories, assigned to prompts round-robin.
    questions : sequence of str
        Every rater answers ``votes_per_rater`` votes for each question.
    seed : int or numpy.random.Generator
        Randomness source.
    categorical : bool, default False
        Return string columns as pandas categoricals (smaller and faster to encode).

    Returns
    -------
    pandas.DataFrame
        Columns of the comparisons contract (docs/design.md).

    Notes
    -----
    Model of Bradley & Terry (1952) with ties as in Davidson (1970).
    """
    rng = as_generator(seed)
    th = np.asarray(theta, dtype=np.float64)
    m = len(th)
    names = list(models) if models is not None else [f"m{k}" for k in range(m)]
    n_q = len(questions)
    n = n_raters * votes_per_rater * n_q
    rater = np.repeat(np.arange(n_raters), votes_per_rater * n_q)
    question = np.tile(np.repeat(np.arange(n_q), votes_per_rater), n_raters)
    a = rng.integers(0, m, size=n)
    b = (a + rng.integers(1, m, size=n)) % m  # uniform over the other models
    taste = (
        rng.normal(0.0, rater_sd, size=(n_raters, m)) if rater_sd > 0 else np.zeros((n_raters, m))
    )
    d = th[a] - th[b] + taste[rater, a] - taste[rater, b] + position
    if prompt_sd > 0:
        # Prompts are drawn before the outcomes only here, so that studies without prompt
        # effects keep the random stream (and every seeded figure) they always had.
        prompt = rng.integers(0, n_prompts, size=n)
        suits = rng.normal(0.0, prompt_sd, size=(n_prompts, m))
        d = d + suits[prompt, a] - suits[prompt, b]
    e_a, e_b = np.exp(d / 2), np.exp(-d / 2)
    den = e_a + e_b + tie_nu
    u = rng.random(n)
    outcome = np.where(u < e_a / den, 0, np.where(u < (e_a + e_b) / den, 1, 2))
    if both_bad > 0:
        outcome = np.where(rng.random(n) < both_bad, 3, outcome)
    if prompt_sd <= 0:
        prompt = rng.integers(0, n_prompts, size=n)
    cats = np.asarray(categories)
    rater_names = np.asarray([f"r{k}" for k in range(n_raters)])
    prompt_names = np.asarray([f"p{k}" for k in range(n_prompts)])

    def column(codes: np.ndarray, labels: np.ndarray) -> pd.Categorical | np.ndarray:
        if not categorical:
            return labels[codes]
        if len(np.unique(labels)) == len(labels):
            # From codes: no per-row string work, even for a million votes.
            return pd.Categorical.from_codes(codes, categories=labels)
        return pd.Categorical(labels[codes])

    frame = {
        "model_a": column(a, np.asarray(names)),
        "model_b": column(b, np.asarray(names)),
        "outcome": column(outcome, np.asarray(OUTCOMES)),
        "rater": column(rater, rater_names),
        "prompt": column(prompt, prompt_names),
        "category": column(prompt % len(cats), cats),
        "question": column(question, np.asarray(questions)),
        "kind": column(np.zeros(n, dtype=np.int64), np.asarray(["2afc"])),
        "decision_ms": rng.gamma(4.0, 600.0, size=n).round(),
        "seed": prompt,
    }
    df = pd.DataFrame(frame)
    return df
