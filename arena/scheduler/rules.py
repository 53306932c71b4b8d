"""The rules that choose a rated trial's cell: ``balanced`` and ``adaptive``.

A rule gets the rater's seen cells and the study's cell table and returns the cell to serve
with the probability that its model pair was chosen (stored with the trial, for the analysis's
inverse-probability weights). Both rules then take the least-served cell the rater has not seen
(:func:`arena.scheduler.balance.choose_with_probability`), so prompts, questions, seeds and sides
stay balanced within a pair; they differ in which pairs they read cells of.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

import numpy as np
from sqlalchemy import Connection, Engine

from arena.scheduler.adaptive import pair_probabilities
from arena.scheduler.balance import Cell, choose_with_probability
from arena.scheduler.cells import LEAST_SERVED_PAIR, WINDOW, WINS
from arena.scheduler.fit import RIDGE, Fit, add_vote, contrasts, fit_strengths, pair_design
from arena.store import queries as q

if TYPE_CHECKING:
    from arena.scheduler.catalog import Catalog
    from arena.scheduler.cells import CellTable
    from arena.study import Study

__all__ = ["Adaptive", "Balanced", "Rule", "draw"]


class Rule(Protocol):
    """What the scheduler asks of a rule."""

    def choose(
        self,
        conn: Connection,
        study: Study,
        sid: int,
        cat: Catalog,
        table: CellTable,
        seen: set[Cell | None],
        issued: int,
        rng: np.random.Generator,
    ) -> tuple[Cell, float] | None:
        """The cell to serve and its pair's probability; None when the rater saw every cell."""
        ...

    def close(self) -> None:
        """Stop any background work."""
        ...


class Balanced:
    """Every cell evenly: the least-served cell of the whole study the rater has not seen."""

    def choose(self, conn, study, sid, cat, table, seen, issued, rng):  # noqa: D102 (Rule)
        # k covers every cell the rater has seen plus a window of unseen ones (see cells.py).
        rows = conn.execute(q.LEAST_SERVED, {"sid": sid, "k": issued + WINDOW}).all()
        return choose_with_probability(table.candidates(rows), seen, rng)

    def close(self) -> None:
        """Nothing runs in the background."""


@dataclass
class _State:
    """One study's fit as this process sees it: refitted in a thread every ``refit_every``
    issued trials, with each trial issued since folded in (:func:`fit.add_vote`)."""

    names: list[str]  # the study's models, sorted (Cell.pair order)
    index: dict[int, int]  # models.id -> position in names
    pairs: np.ndarray
    x: np.ndarray
    targets: np.ndarray
    db_pairs: list[tuple[int, int]]  # (lower models.id, higher models.id) of each pair
    fit: Fit
    lock: threading.Lock = field(default_factory=threading.Lock)
    log: list[int] = field(default_factory=list)  # pairs issued since the fit's data was read
    fitted: bool = False
    thread: threading.Thread | None = None


def draw(probs: np.ndarray, rng: np.random.Generator) -> int:
    """An index drawn with probabilities ``probs`` (summing to 1 up to rounding).

    The uniform draw is scaled to the cumulative sum's own total, so rounding can never
    land past the end, and an entry of probability 0 (an ineligible pair) is an empty interval
    that ``side="right"`` never returns.
    """
    cumulative = np.cumsum(probs)
    return int(np.searchsorted(cumulative, rng.random() * cumulative[-1], side="right"))


class Adaptive:
    """The pair whose next vote most narrows the study's targets (:mod:`.adaptive`).

    ``floor``: the share of probability spread over every pair; ``refit_every``: issued trials
    between refits. A refit reads the study's vote counts (one grouped query) in a thread of
    its own, never in the vote's transaction; until the first one finishes, the rule knows
    only the prior and spreads its picks over all pairs.
    """

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._states: dict[int, _State] = {}
        self._lock = threading.Lock()

    def choose(self, conn, study, sid, cat, table, seen, issued, rng):  # noqa: D102 (Rule)
        state = self._state(study, sid, cat)
        settings = study.scheduler
        have = table.per_pair
        mine = Counter(c.pair for c in seen if c is not None)
        names = state.names
        eligible = np.array(
            [have[(names[i], names[j])] > mine[(names[i], names[j])] for i, j in state.pairs]
        )
        if not eligible.any():
            return None
        with state.lock:
            fit = state.fit
        probs = pair_probabilities(fit, state.pairs, state.x, state.targets, settings.floor,
                                   eligible)  # fmt: skip
        chosen = draw(probs, rng)
        i, j = state.pairs[chosen]
        lo, hi = state.db_pairs[chosen]
        k = mine[(names[i], names[j])] + WINDOW
        rows = conn.execute(LEAST_SERVED_PAIR, {"sid": sid, "lo": lo, "hi": hi, "k": k}).all()
        picked = choose_with_probability(table.candidates(rows), seen, rng)
        if picked is None:  # pragma: no cover - eligible says an unseen cell exists
            return None
        self._issued(state, chosen, sid, settings.refit_every)
        return picked[0], float(probs[chosen])

    def _state(self, study: Study, sid: int, cat: Catalog) -> _State:
        with self._lock:
            state = self._states.get(sid)
            names = sorted(study.models)
            where = {name: n for n, name in enumerate(names)}
            targets = contrasts(
                len(names), [(where[c.model_a], where[c.model_b]) for c in study.comparisons]
            )
            # A study file edited between two requests (a model or a comparison more) gets a
            # state of its own; the next refit reads every vote again.
            if state is None or state.names != names or not np.array_equal(state.targets, targets):
                pk = {name: pk for pk, name in cat.model_name.items()}
                pairs, x = pair_design(len(names))
                state = self._states[sid] = _State(
                    names=names,
                    index={pk[name]: n for n, name in enumerate(names) if name in pk},
                    pairs=pairs,
                    x=x,
                    targets=targets,
                    db_pairs=[
                        tuple(sorted((pk.get(names[i], -1), pk.get(names[j], -1))))
                        for i, j in pairs
                    ],  # fmt: skip
                    fit=Fit(np.zeros(len(names)), np.eye(len(names)) / RIDGE),
                )
            return state

    def _issued(self, state: _State, pair: int, sid: int, refit_every: int) -> None:
        with state.lock:
            p = 1.0 / (1.0 + np.exp(-(state.x[pair] @ state.fit.theta)))
            cov = add_vote(state.fit.cov, state.x[pair], p * (1 - p))
            state.fit = Fit(state.fit.theta, cov)
            state.log.append(pair)
            due = not state.fitted or len(state.log) >= refit_every
            if due and state.thread is None:
                state.thread = threading.Thread(
                    target=self._refit, args=(state, sid), name=f"arena-refit-{sid}", daemon=True
                )
                state.thread.start()

    def _refit(self, state: _State, sid: int) -> None:
        # The counts are read after ``start`` is taken: a trial logged after it and voted on
        # before the read counts twice (its vote, and its expected information folded in
        # below), one logged before it and not yet voted on is dropped until the next refit.
        # Both are a few votes' worth of information at most, and only steer the next picks;
        # the stored probabilities are the ones the picks were drawn with either way.
        with state.lock:
            start = len(state.log)
        try:
            with self._engine.connect() as conn:
                rows = conn.execute(WINS, {"sid": sid}).all()
            k = len(state.names)
            wins = np.zeros((k, k))
            for left, right, choice, n in rows:
                a, b = state.index.get(left), state.index.get(right)
                if a is None or b is None or a == b:
                    continue
                if choice == "left":
                    wins[a, b] += n
                elif choice == "right":
                    wins[b, a] += n
                elif choice == "tie":
                    wins[a, b] += n / 2
                    wins[b, a] += n / 2
            fit = fit_strengths(wins)
        except Exception:  # noqa: BLE001 - a failed refit keeps the old fit; the next retries
            with state.lock:
                state.thread = None
            return
        with state.lock:
            cov = fit.cov
            for pair in state.log[start:]:  # issued while the counts were read and fitted
                p = 1.0 / (1.0 + np.exp(-(state.x[pair] @ fit.theta)))
                cov = add_vote(cov, state.x[pair], p * (1 - p))
            state.fit = Fit(fit.theta, cov)
            state.log = state.log[start:]
            state.fitted = True
            state.thread = None

    def settle(self) -> None:
        """Wait for running refits (tests, shutdown)."""
        for state in list(self._states.values()):
            thread = state.thread
            if thread is not None:
                thread.join()

    def close(self) -> None:
        """Wait for running refits, so none outlives the store's connections."""
        self.settle()
