"""Which ratings the votes can bound: separation in the directed win graph.

The Bradley–Terry maximum-likelihood estimate exists (is finite and unique up to centring) if and
only if, for every split of the models into two groups, some model of each group beat some model
of the other — i.e. the directed graph "i beat j at least once" is strongly connected (Zermelo
1929; Ford 1957, Amer. Math. Monthly 64:28; Hunter 2004, Assumption 1). A tie bounds the
difference from both sides (Davidson 1970), so under ``davidson`` and ``half`` a tie is an edge both
ways; under ``exclude`` it is no edge.

When the graph is not strongly connected, the likelihood keeps increasing along directions ``v``
with ``v_i >= v_j`` whenever ``i`` beat ``j`` (the recession cone). A linear functional of the
log-strengths is then bounded above only where no such direction increases it. For the
difference ``theta_i - theta_j`` that gives a simple rule in terms of reachability ("``j`` beat
someone who beat ... ``i``"): it is bounded above iff ``j`` reaches ``i`` and bounded below iff
``i`` reaches ``j``. A rating centred on a reference set ``R`` (all models, a core group or an
anchor) is bounded above iff every model of ``R`` reaches ``i``, and below iff ``i`` reaches every
model of ``R``. Everything here is batched over bootstrap replicates.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from analysis.bt import PairDesign
from analysis.types import FloatArray

#: Leaderboard flags: a rating bounded on one side only, or on neither.
NEVER_LOST, NEVER_WON, UNIDENTIFIED = "never lost", "never won", "unidentified"
NO_VOTES = "no votes"


def win_graph(w: FloatArray, l: FloatArray, t: FloatArray, design: PairDesign) -> np.ndarray:  # noqa: E741
    """Directed win graph ``adj[..., i, j]`` = "``i`` beat (or, where ties count, tied) ``j``".

    Parameters
    ----------
    w, l, t : ndarray, shape (..., P)
        Pair statistics from :func:`analysis.bt.pair_stats` (so ``half`` ties are already half
        wins each way and ``exclude`` ties are zero).
    design : PairDesign
        Unordered-pair design of the statistics.

    Returns
    -------
    ndarray of bool, shape (..., m, m)
        Adjacency, diagonal False (Ford 1957).
    """
    m = design.n_models
    w, l_, t = (np.asarray(x) for x in (w, l, t))
    # Two arrays, then OR: with an ordered (position) design both (i, j) and (j, i) are rows.
    fwd = np.zeros((*w.shape[:-1], m, m), dtype=bool)
    back = np.zeros_like(fwd)
    fwd[..., design.i, design.j] = (w > 0) | (t > 0)
    back[..., design.j, design.i] = (l_ > 0) | (t > 0)
    adj = fwd | back
    adj[..., np.arange(m), np.arange(m)] = False
    return adj


def reachability(adj: np.ndarray) -> np.ndarray:
    """Reflexive transitive closure ``reach[..., i, j]`` = a chain of wins leads from ``i`` to ``j``.

    Repeated squaring of the (batched) boolean matrix; ``log2(m)`` products.
    """
    m = adj.shape[-1]
    r = np.asarray(adj, dtype=bool) | np.eye(m, dtype=bool)
    for _ in range(max(1, int(np.ceil(np.log2(max(m, 2)))) + 1)):
        f = r.astype(np.float32)
        nr = (f @ f) > 0
        if np.array_equal(nr, r):
            break
        r = nr
    return r


def open_sides(reach: np.ndarray, reference: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Which ratings (centred on ``reference``) are unbounded above / below.

    Parameters
    ----------
    reach : ndarray of bool, shape (..., m, m)
        :func:`reachability`.
    reference : ndarray of bool, shape (m,)
        Models whose mean is the rating origin (one model for an anchor).

    Returns
    -------
    open_up, open_down : ndarray of bool, shape (..., m)
        ``open_up[i]``: some reference model does not reach ``i``; ``open_down[i]``: ``i`` does
        not reach every reference model.
    """
    ref = np.asarray(reference, dtype=bool)
    bounded_above = reach[..., ref, :].all(axis=-2)
    bounded_below = reach[..., :, ref].all(axis=-1)
    return ~bounded_above, ~bounded_below


def components(reach: np.ndarray) -> np.ndarray:
    """Strongly connected component label of each model (labels are the smallest member index)."""
    same = reach & reach.T
    return np.argmax(same, axis=1)


def reference_models(
    reaches: Sequence[np.ndarray], votes: FloatArray, anchor: int | None = None
) -> np.ndarray:
    """Models the ratings are centred on: the anchor, all models, or the largest identified group.

    Parameters
    ----------
    reaches : sequence of ndarray, shape (m, m)
        Point-estimate reachability of each question.
    votes : ndarray, shape (m,)
        Votes per model (breaks ties between equally large groups).
    anchor : int, optional
        Anchor model index.

    Returns
    -------
    ndarray of bool, shape (m,)
        All models when every question's win graph is strongly connected (the usual case) or
        when no two models are connected in every question; otherwise the largest group of
        models that share one strongly connected component in every question, so that their
        ratings stay finite while separated models are reported as unbounded.
    """
    m = len(votes)
    if anchor is not None:
        out = np.zeros(m, dtype=bool)
        out[anchor] = True
        return out
    together = np.ones((m, m), dtype=bool)
    for r in reaches:
        together &= r & r.T
    sizes = together.sum(axis=1)
    if sizes.max() <= 1 or sizes.min() == m:
        return np.ones(m, dtype=bool)
    group_votes = together.astype(float) @ np.asarray(votes, dtype=float)
    best = np.lexsort((np.arange(m), -group_votes, -sizes))[0]
    return together[best].copy()


@dataclass(frozen=True)
class Separation:
    """Which ratings of one set of votes are bounded, and why not.

    Attributes
    ----------
    models : tuple of str
        Model names.
    reach : ndarray of bool, shape (m, m)
        :func:`reachability` of the win graph.
    reference : ndarray of bool, shape (m,)
        Models the ratings are centred on.
    open_up, open_down : ndarray of bool, shape (m,)
        Ratings without an upper / lower bound.
    """

    models: tuple[str, ...]
    reach: np.ndarray
    reference: np.ndarray
    open_up: np.ndarray
    open_down: np.ndarray
    #: Models without a vote in these votes (a question they were not asked in): not rated,
    #: and not a reason to call the others unbounded.
    absent: np.ndarray | None = None

    def _present(self) -> np.ndarray:
        return np.ones(len(self.models), bool) if self.absent is None else ~self.absent

    @property
    def separated(self) -> bool:
        """True when some rating is unbounded (the maximum-likelihood estimate does not exist)."""
        keep = self._present()
        return bool((self.open_up & keep).any() or (self.open_down & keep).any())

    @property
    def connected(self) -> bool:
        """True when the win graph is strongly connected (every rating and difference finite)."""
        return bool(self.reach.all())

    def flags(self) -> list[str]:
        """Per model: ``""``, ``"never lost"``, ``"never won"``, ``"unidentified"`` or
        ``"no votes"``."""
        out = []
        for up, down, here in zip(self.open_up, self.open_down, self._present(), strict=True):
            out.append(
                NO_VOTES
                if not here
                else UNIDENTIFIED
                if up and down
                else NEVER_LOST
                if up
                else NEVER_WON
                if down
                else ""
            )
        return out

    def sentences(
        self,
        names: Mapping[str, str] | None = None,
        wins: FloatArray | None = None,
        order: Sequence[int] | None = None,
    ) -> list[str]:
        """One plain sentence per unbounded rating, e.g. "A won every vote against B: ...".

        Parameters
        ----------
        names : mapping, optional
            Display names.
        wins : ndarray, shape (m, m), optional
            ``wins[i, j]`` decisive wins; lets the sentence say "won every vote against" when
            the model met each of those models and beat them every time.
        order : sequence of int, optional
            Model order of the sentences (e.g. leaderboard order).
        """
        names = names or {}
        label = [str(names.get(m, m)) for m in self.models]
        ref = self.reference
        out = []
        flags = self.flags()
        for i in order if order is not None else range(len(flags)):
            flag = flags[i]
            if not flag:
                continue
            if flag == NO_VOTES:
                out.append(f"{label[i]} has no votes here: it is not rated, and the others are.")
                continue
            here = self._present()
            above = [k for k in np.flatnonzero(ref & here & ~self.reach[:, i]) if k != i]
            below = [k for k in np.flatnonzero(ref & here & ~self.reach[i, :]) if k != i]
            if flag == NEVER_LOST:
                met = wins is not None and all(wins[i, k] > 0 for k in above)
                verb = "won every vote against" if met else "never lost to"
                out.append(
                    f"{label[i]} {verb} {_join(label, above)}: its rating is only bounded "
                    "below; collect more votes."
                )
            elif flag == NEVER_WON:
                met = wins is not None and all(wins[k, i] > 0 for k in below)
                verb = "lost every vote against" if met else "never beat"
                out.append(
                    f"{label[i]} {verb} {_join(label, below)}: its rating is only bounded "
                    "above; collect more votes."
                )
            else:
                others = sorted(set(above) | set(below))
                out.append(
                    f"{label[i]} has no chain of wins and losses linking it both ways to "
                    f"{_join(label, others)}: its rating is not bounded on either side; "
                    "collect more votes."
                )
        return out


def _join(labels: Sequence[str], idx: Sequence[int]) -> str:
    names = [labels[k] for k in idx]
    if len(names) <= 1:
        return "".join(names) or "the other models"
    return ", ".join(names[:-1]) + " and " + names[-1]


def separation(models: Sequence[str], reach: np.ndarray, reference: np.ndarray) -> Separation:
    """:class:`Separation` of one point estimate from its reachability and reference set."""
    up, down = open_sides(reach, reference)
    return Separation(tuple(models), reach, np.asarray(reference, dtype=bool), up, down)


def bounded_values(
    values: FloatArray, open_up: np.ndarray, open_down: np.ndarray
) -> tuple[FloatArray, FloatArray]:
    """Encode unbounded estimates for percentile intervals: ``(for the low, for the high) end``.

    A replicate whose estimate has no upper bound has a maximum-likelihood value of ``+inf``
    (and ``-inf`` symmetrically); one unbounded both ways could be anything, so it counts as
    ``-inf`` for the lower end and ``+inf`` for the upper end (conservative).
    """
    v = np.asarray(values, dtype=np.float64)
    low = np.where(open_down, -np.inf, np.where(open_up, np.inf, v))
    high = np.where(open_up, np.inf, np.where(open_down, -np.inf, v))
    return low, high


def point_value(values: FloatArray, open_up: np.ndarray, open_down: np.ndarray) -> FloatArray:
    """Maximum-likelihood value: ``+inf`` / ``-inf`` when one side is open, ``nan`` for both."""
    low, high = bounded_values(values, open_up, open_down)
    return np.where(open_up & open_down, np.nan, np.where(open_up, high, low))


def percentile_interval(
    low_values: FloatArray, high_values: FloatArray, level: float
) -> tuple[FloatArray, FloatArray]:
    """Percentile interval over axis 0 that lets infinite replicates through.

    Columns without infinite values use linear interpolation (as :func:`numpy.quantile`);
    columns with them take the order statistic outward (``lower`` / ``higher``), so an interval
    end is infinite exactly when more than ``(1 - level) / 2`` of the replicates are.
    """
    a = (1 - level) / 2
    lo_v, hi_v = np.asarray(low_values), np.asarray(high_values)
    finite = np.isfinite(lo_v).all(axis=0) & np.isfinite(hi_v).all(axis=0)
    with np.errstate(invalid="ignore"):
        low = np.where(
            finite,
            np.quantile(np.where(np.isfinite(lo_v), lo_v, 0.0), a, axis=0),
            np.quantile(lo_v, a, axis=0, method="lower"),
        )
        high = np.where(
            finite,
            np.quantile(np.where(np.isfinite(hi_v), hi_v, 0.0), 1 - a, axis=0),
            np.quantile(hi_v, 1 - a, axis=0, method="higher"),
        )
    return low, high
