"""Trial scheduling: which (prompt, model pair, question, seed) a rater sees next.

Pure logic over a few rows the store reads, so it is easy to test and to reason about. The
rules:

- every *cell* (prompt, unordered model pair, question) is served evenly: the next trial comes
  from the least-served cells, counting answered and outstanding trials of all raters;
- a rater never sees the same cell twice;
- within a cell the seeds take turns (the k-th trial of a cell uses seed k mod #seeds, each
  question starting at another seed), so seeds are even within a cell and across its
  questions; the sides alternate within a cell (:func:`arrange`);
- a session's repeat and gold trials sit at positions fixed per rater
  (:func:`session_plan`), so every rater gets as many of each;
- ties are broken by a ``numpy.random.Generator`` seeded from the study seed, the rater and the
  number of trials already issued to the rater, so a schedule can be replayed.

The store does not hand every cell to :func:`choose`: it reads the cells in order of
(trials, random draw) and stops after the rater's own trials plus a window, which always
holds the least-served cells the rater has not seen (see ``arena.scheduler.cells``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations
from typing import NamedTuple

import numpy as np

__all__ = [
    "Cell",
    "Choice",
    "SessionPlan",
    "arrange",
    "cells_for",
    "choose",
    "choose_with_probability",
    "rater_rng",
    "seed_for",
    "session_plan",
]


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


@dataclass(frozen=True)
class SessionPlan:
    """Positions (0 = the first trial after practice) of a session's repeat and gold trials."""

    repeats: frozenset[int]
    gold: frozenset[int]


def session_plan(
    quota: int, repeat_rate: float, gold_rate: float, first_repeat: int, rng: np.random.Generator
) -> SessionPlan:
    """Where in a session of ``quota`` trials its repeat and gold trials go.

    Exactly ``round(rate * quota)`` of each (halves up), at positions drawn by ``rng``; repeats
    only from ``first_repeat`` on, where an earlier trial can be shown again. A fixed number
    rather than a draw per trial: every rater answers as many attention checks and repeats, so
    a rule such as "at least 80% of the checks right" is equally strict for everyone (with a
    draw per trial at rate 0.15 over 60 trials, one rater in ten gets 5 checks or fewer).
    """
    n_repeats, n_gold = (int(np.floor(rate * quota + 0.5)) for rate in (repeat_rate, gold_rate))
    late = np.arange(min(first_repeat, quota), quota)
    repeats = rng.choice(late, size=min(n_repeats, len(late)), replace=False)
    free = np.setdiff1d(np.arange(quota), repeats)
    gold = rng.choice(free, size=min(n_gold, len(free)), replace=False)
    return SessionPlan(frozenset(repeats.tolist()), frozenset(gold.tolist()))


def choose(
    candidates: Iterable[tuple[Cell, int]],
    seen: Collection[Cell],
    rng: np.random.Generator,
) -> Cell | None:
    """The least-served cell this rater has not seen, ties drawn uniformly.

    Parameters
    ----------
    candidates
        ``(cell, trials issued for it)`` pairs; their order makes draws reproducible.
    seen
        Cells already issued to this rater.
    rng
        Tie-breaking generator, e.g. from :func:`rater_rng`.

    Returns
    -------
    Cell or None
        ``None`` when every candidate was seen.
    """
    chosen = choose_with_probability(candidates, seen, rng)
    return None if chosen is None else chosen[0]


def choose_with_probability(
    candidates: Iterable[tuple[Cell, int]],
    seen: Collection[Cell],
    rng: np.random.Generator,
) -> tuple[Cell, float] | None:
    """:func:`choose`, with the probability that the chosen cell's model pair was drawn.

    The draw is uniform over the least-served unseen cells, so the pair's probability is the
    share of those cells that hold it. The generator is used exactly as :func:`choose` uses it,
    so a replayed schedule is the same.
    """
    eligible = [(cell, n) for cell, n in candidates if cell not in seen]
    if not eligible:
        return None
    low = min(n for _, n in eligible)
    best = [cell for cell, n in eligible if n == low]
    cell = best[int(rng.integers(len(best)))]
    return cell, [c.pair for c in best].count(cell.pair) / len(best)


def seed_for(seeds: Sequence[int], issued: int, offset: int = 0) -> int:
    """The seed of a cell's trial number ``issued`` (0-based): the seeds take turns.

    ``offset`` (the question's position) starts each question of a (prompt, pair) at another
    seed, so that a pair's images are used evenly across questions too.
    """
    return seeds[(issued + offset) % len(seeds)]


def arrange(cell: Cell, seeds: Sequence[int], issued: int, offset: int) -> Choice:
    """The cell's trial number ``issued`` (0-based): its seed by :func:`seed_for`, its sides
    counterbalanced.

    The sides alternate from trial to trial, so after any number of a cell's trials each model
    has been on the left as often as the other, give or take one (most cells get only a few
    votes); with an even number of seeds the alternation skips a beat after each full turn of
    the seeds, so that over every ``2 * len(seeds)`` trials each model is also on the left
    once with each seed. Which side a cell starts on is fixed by the cell itself (a hash), so
    that the left image is not always the model that sorts first.
    """
    a, b = cell.pair
    digest = hashlib.sha256(f"{cell.prompt}\0{a}\0{b}\0{cell.question}".encode()).digest()
    turn = issued // len(seeds) if len(seeds) % 2 == 0 else 0
    if (issued + turn + digest[0]) % 2:
        a, b = b, a
    return Choice(cell=cell, seed=seed_for(seeds, issued, offset), left=a, right=b)
