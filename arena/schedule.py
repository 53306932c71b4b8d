"""Trial scheduling: which (prompt, model pair, question, seed) a rater sees next.

Pure logic over counts the store fetches in one query, so it is easy to test and to reason
about. The rules:

- every *cell* (prompt, unordered model pair, question) is served evenly: the next trial comes
  from the least-served cells, counting answered and outstanding trials of all raters;
- a rater never sees the same cell twice;
- within a cell the seed is chosen evenly too, and the left/right side is drawn per trial;
- ties are broken by a ``numpy.random.Generator`` seeded from the study seed, the rater and the
  number of trials already issued to the rater, so a schedule can be replayed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations
from typing import NamedTuple

import numpy as np

__all__ = ["Cell", "Choice", "cells_for", "choose", "rater_rng"]


class Cell(NamedTuple):
    """A unit of even allocation: one prompt, one unordered model pair, one question.

    ``pair`` is sorted, so (a, b) and (b, a) are the same cell whatever side each was shown on.
    A NamedTuple rather than a dataclass: cells are hashed thousands of times per trial.
    """

    prompt: str
    pair: tuple[str, str]
    question: str


@dataclass(frozen=True)
class Choice:
    """What to show next: a cell, the seed of both images and which model goes left."""

    cell: Cell
    seed: int
    left: str
    right: str


def cells_for(
    seeds: Mapping[tuple[str, str], Collection[int]],
    models: Sequence[str],
    questions: Sequence[str],
) -> dict[Cell, tuple[int, ...]]:
    """All schedulable cells with the seeds each can use.

    Parameters
    ----------
    seeds
        ``(prompt, model) -> seeds`` for which an image exists.
    models
        The study's models; pairs are formed among these only.
    questions
        The study's question ids.

    Returns
    -------
    dict
        ``Cell -> sorted seeds`` present for both models of the pair; cells without a common
        seed are left out because no paired trial can be built for them.
    """
    prompts = sorted({p for p, _ in seeds})
    out: dict[Cell, tuple[int, ...]] = {}
    for prompt in prompts:
        for a, b in combinations(sorted(set(models)), 2):
            common = set(seeds.get((prompt, a), ())) & set(seeds.get((prompt, b), ()))
            if not common:
                continue
            for question in questions:
                out[Cell(prompt, (a, b), question)] = tuple(sorted(common))
    return out


def rater_rng(study_seed: int, rater: str, issued: int) -> np.random.Generator:
    """The generator for a rater's next trial: reproducible, independent across raters.

    Python's ``hash`` of a string changes per process, so the rater id goes through SHA-256.
    """
    digest = int.from_bytes(hashlib.sha256(rater.encode("utf-8")).digest()[:8], "big")
    return np.random.default_rng([study_seed & 0xFFFFFFFFFFFFFFFF, digest, issued])


def _least(pool: Sequence, counts: Mapping, rng: np.random.Generator):
    """A uniformly drawn item among those with the lowest count (``pool`` order is kept, so
    the draw is reproducible for a given generator)."""
    get = counts.get
    low = min(get(i, 0) for i in pool)
    best = [i for i in pool if get(i, 0) == low]
    return best[int(rng.integers(len(best)))]


def choose(
    cells: Mapping[Cell, Sequence[int]],
    counts: Mapping[Cell, int],
    seed_counts: Mapping[tuple[str, tuple[str, str]], Mapping[int, int]],
    seen: Collection[Cell],
    rng: np.random.Generator,
) -> Choice | None:
    """Pick the next trial for one rater.

    Parameters
    ----------
    cells
        ``Cell -> seeds`` as built by :func:`cells_for`; its order makes draws reproducible.
    counts
        Trials per cell over all raters, answered and outstanding.
    seed_counts
        ``(prompt, pair) -> {seed: trials}`` over all raters and questions.
    seen
        Cells already issued to this rater.
    rng
        Tie-breaking generator, e.g. from :func:`rater_rng`.

    Returns
    -------
    Choice or None
        ``None`` when the rater has seen every cell.
    """
    eligible = [c for c in cells if c not in seen]
    if not eligible:
        return None
    cell = _least(eligible, counts, rng)
    seed = _least(cells[cell], seed_counts.get((cell.prompt, cell.pair), {}), rng)
    a, b = cell.pair
    if rng.random() < 0.5:
        a, b = b, a
    return Choice(cell=cell, seed=seed, left=a, right=b)
