"""Rater quality: attention checks, repeat consistency, side bias, speed and majority agreement.

:func:`rater_quality` turns a study's votes (every kind but ``practice``; see
:mod:`analysis.frame`) into one row per rater with five measures and the rules each breaks
(:class:`QualityRules`). Flags are advice to the researcher: :func:`analysis.study.analyze` keeps
every rater in the headline ratings and reports the ratings without the flagged ones beside them.

The measures follow common practice in crowd-sourced annotation and careless-response research:
attention checks with known answers (Oppenheimer, Meyvis & Davidenko 2009; Kittur, Chi & Suh
2008; Peer, Vosgerau & Acquisti 2014), self-consistency on repeated items and response time
(Meade & Craig 2012; Curran 2016; Zhang & Conrad 2014 on speeding), a constant-side response
pattern (the paired-comparison analogue of straight-lining, Meade & Craig 2012), and agreement
with the other annotators (Snow et al. 2008; the intuition behind Dawid & Skene 1979 and MACE,
Hovy et al. 2013). The thresholds are conventions, not estimates: set them in the study's
``[quality]`` table.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import pandas as pd

from analysis.dist import binom_cdf
from analysis.frame import (
    A_WINS,
    B_WINS,
    GOLD_KIND,
    KINDS,
    OUTCOMES,
    PRACTICE_KIND,
    RATED_KIND,
    REPEAT_KIND,
    encode_comparisons,
    kind_codes,
    with_kind,
)
from analysis.keys import combined_ids
from analysis.types import FloatArray, IntArray
from analysis.winrate import binomial_test_half

#: A cell enters majority agreement when at least this many distinct raters judged it, so that
#: every rater has at least two others to form a majority.
MIN_CELL_RATERS = 3
#: Flag names, in the order they are listed.
FLAGS: tuple[str, ...] = ("gold", "repeat", "side", "fast", "majority")
#: Columns of :func:`rater_quality`.
RATER_COLUMNS: tuple[str, ...] = (
    "rater",
    "n_votes",
    "n_gold",
    "gold_accuracy",
    "n_repeats",
    "repeat_consistency",
    "repeat_p",
    "n_decisive",
    "left_rate",
    "left_p",
    "median_decision_ms",
    "n_shared",
    "majority_agreement",
    "flags",
)


@dataclass(frozen=True)
class QualityRules:
    """Thresholds that flag a rater; every field is a float (``QualityRules(**study.quality)``).

    A rule applies only where its measure has data: a study without gold trials flags no one
    for gold accuracy. Set a ``min_`` threshold to 0 (or ``side_margin`` to 0.5,
    ``majority_margin`` to 1) to switch a rule off. Descriptions: :meth:`documented`.
    """

    min_gold_accuracy: float = 0.8
    min_gold: float = 4.0
    min_repeat_consistency: float = 0.5
    min_repeats: float = 4.0
    repeat_alpha: float = 0.05
    side_alpha: float = 0.001
    side_margin: float = 0.2
    min_median_decision_ms: float = 800.0
    majority_margin: float = 0.2
    min_shared: float = 10.0

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
                raise ValueError(f"quality rule {f.name!r} must be a number; got {value!r}")
            object.__setattr__(self, f.name, float(value))

    @classmethod
    def documented(cls) -> dict[str, str]:
        """Every rule's name mapped to a one-line description (the study file's keys)."""
        return dict(_DESCRIPTIONS)

    def describe(self) -> list[tuple[str, float, str]]:
        """``(name, value, description)`` of every rule, in field order."""
        return [(f.name, float(getattr(self, f.name)), _DESCRIPTIONS[f.name]) for f in fields(self)]


_DESCRIPTIONS: dict[str, str] = {
    "min_gold_accuracy": "flag 'gold' when fewer than this share of attention checks is right",
    "min_gold": "attention checks a rater must have answered before min_gold_accuracy applies",
    "min_repeat_consistency": "flag 'repeat' when fewer than this share of repeats match the "
    "original (sides swapped)",
    "min_repeats": "repeats a rater must have answered before min_repeat_consistency applies",
    "repeat_alpha": "flag 'repeat' only when the one-sided binomial test of holding no more "
    "often than chance (1/2) over the rater's repeats also has p below this",
    "side_alpha": "flag 'side' only when the two-sided binomial test of left rate = 0.5 over "
    "decisive votes has p below this",
    "side_margin": "flag 'side' only when the left rate is also further than this from 0.5",
    "min_median_decision_ms": "flag 'fast' when the rater's median decision time (ms) is below "
    "this",
    "majority_margin": "flag 'majority' when agreement with the other raters' majority is more "
    "than this below the median rater's",
    "min_shared": "votes on cells judged by at least 3 raters a rater needs before the majority "
    "rule applies",
}


def oriented_outcomes(a: IntArray, b: IntArray, outcome: IntArray) -> IntArray:
    """Outcomes relative to the canonical pair order (lower model index first).

    ``0`` = the first model of the sorted pair won, ``1`` = the second, ``2`` tie, ``3`` both
    bad; a vote with the models on the other sides has ``a`` and ``b`` swapped, so the same
    judgement on a side-swapped trial gets the same code.
    """
    swap = np.array([B_WINS, A_WINS, 2, 3], dtype=np.int64)
    return np.where(a <= b, outcome, swap[outcome])


def cell_codes(
    enc_a: IntArray,
    enc_b: IntArray,
    prompt: IntArray,
    question: IntArray,
    seed: IntArray,
) -> IntArray:
    """Dense id of each vote's cell: (prompt, unordered model pair, question, seed)."""
    lo, hi = np.minimum(enc_a, enc_b), np.maximum(enc_a, enc_b)
    # A prompt and its seeds first: they compress to few combinations (analysis.keys).
    return combined_ids([prompt, seed, lo, hi, question])


def seed_codes(comparisons: pd.DataFrame) -> IntArray:
    """Integer code of the ``seed`` column (missing seeds share one code)."""
    codes, _ = pd.factorize(comparisons["seed"], use_na_sentinel=False)
    return codes.astype(np.int64, copy=False)


def _ratio(num: FloatArray, den: FloatArray) -> FloatArray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / np.maximum(den, 1), np.nan)


def _gold(
    comparisons: pd.DataFrame, kind: IntArray, outcome: IntArray, rater: IntArray, n_r: int
) -> tuple[IntArray, FloatArray]:
    if "expected" not in comparisons.columns:
        return np.zeros(n_r, dtype=np.int64), np.full(n_r, np.nan)
    expected = pd.Index(["a", "b"]).get_indexer(comparisons["expected"].astype(object))
    use = (kind == KINDS.index(GOLD_KIND)) & (expected >= 0)
    n = np.bincount(rater[use], minlength=n_r)
    right = np.bincount(rater[use], weights=outcome[use] == expected[use], minlength=n_r)
    return n, _ratio(right, n)


def _repeats(
    comparisons: pd.DataFrame, kind: IntArray, oriented: IntArray, rater: IntArray, n_r: int
) -> tuple[IntArray, FloatArray]:
    cols = comparisons.columns
    if "repeat_of" not in cols or "trial" not in cols:
        return np.zeros(n_r, dtype=np.int64), np.full(n_r, np.nan)
    trial = pd.to_numeric(comparisons["trial"], errors="coerce").to_numpy(dtype=np.float64)
    has = np.flatnonzero(~np.isnan(trial))
    index = pd.Index(trial[has])
    if not index.is_unique:
        raise ValueError("column 'trial' has duplicate ids; expected one id per row")
    of = pd.to_numeric(comparisons["repeat_of"], errors="coerce").to_numpy(dtype=np.float64)
    rep = np.flatnonzero((kind == KINDS.index(REPEAT_KIND)) & ~np.isnan(of))
    found = index.get_indexer(of[rep])
    rep, orig = rep[found >= 0], has[found[found >= 0]]
    # The original must be a rated trial of the same rater; anything else is not a repeat.
    same = (kind[orig] == KINDS.index(RATED_KIND)) & (rater[orig] == rater[rep])
    rep, orig = rep[same], orig[same]
    n = np.bincount(rater[rep], minlength=n_r)
    held = np.bincount(rater[rep], weights=oriented[rep] == oriented[orig], minlength=n_r)
    return n, _ratio(held, n)


def lower_tail_half(successes: FloatArray, n: FloatArray) -> FloatArray:
    """``P(X <= successes)`` for ``X ~ Binomial(n, 1/2)`` (vectorised; ``nan`` where ``n = 0``).

    The one-sided p-value of "no more successes than chance": a rater whose repeats hold less
    often than half the time by more than chance allows follows the side, not the image.
    Few repeats cannot show that (0 of 4 held has p = 1/16), so an honest rater on close
    pairs, whose repeats are near coin flips, is not flagged for a bad draw.
    """
    x = np.asarray(successes, dtype=np.float64)
    n_ = np.asarray(n, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        p = binom_cdf(np.round(x), n_, 0.5)
    return np.where(n_ > 0, p, np.nan)


def majority_agreement(
    cell: IntArray, oriented: IntArray, rater: IntArray, n_r: int
) -> tuple[IntArray, FloatArray]:
    """Leave-one-out agreement of each rater with the majority of the other raters.

    Parameters
    ----------
    cell : ndarray of int64
        Cell id of each rated vote (:func:`cell_codes`).
    oriented : ndarray of int64
        Oriented outcome of each vote (:func:`oriented_outcomes`).
    rater : ndarray of int64
        Rater code of each vote.
    n_r : int
        Number of raters.

    Returns
    -------
    n_shared : ndarray of int64, shape (n_r,)
        The rater's votes on cells judged by at least :data:`MIN_CELL_RATERS` distinct raters
        whose other votes have a unique most frequent outcome.
    agreement : ndarray, shape (n_r,)
        Share of those votes equal to that outcome (``nan`` without any).

    Notes
    -----
    For vote ``v`` of rater ``r`` in cell ``c`` the others' counts are the cell's outcome counts
    minus ``r``'s own counts in ``c``, both from one ``bincount``; a tie for the most frequent
    outcome among the others is no majority and the vote is left out. Agreement with the
    others' majority is the crowd-sourcing check of Snow et al. (2008).
    """
    k = len(OUTCOMES)
    n_cells = int(cell.max()) + 1 if len(cell) else 0
    counts = np.bincount(cell * k + oriented, minlength=n_cells * k).reshape(n_cells, k)
    rc = combined_ids([cell, rater])  # one id per (cell, rater), in cell order
    n_rc = int(rc.max()) + 1 if len(rc) else 0
    cell_of = np.zeros(n_rc, dtype=np.int64)
    cell_of[rc] = cell
    own = np.bincount(rc * k + oriented, minlength=n_rc * k).reshape(-1, k)
    raters_in_cell = np.bincount(cell_of, minlength=n_cells)
    # Column by column: gathering one contiguous column at a time is ~3x faster than (n, k).
    counts_t, own_t = np.ascontiguousarray(counts.T), np.ascontiguousarray(own.T)
    others = [counts_t[j][cell] - own_t[j][rc] for j in range(k)]
    top = np.maximum.reduce(others)
    n_top = np.add.reduce([x == top for x in others], dtype=np.int64)
    use = (n_top == 1) & (top > 0) & (raters_in_cell[cell] >= MIN_CELL_RATERS)
    agree = np.choose(oriented, others) == top  # the rater's outcome is the unique maximum
    n = np.bincount(rater[use], minlength=n_r)
    return n, _ratio(np.bincount(rater[use], weights=agree[use], minlength=n_r), n)


def majority_threshold(table: pd.DataFrame, rules: QualityRules) -> float:
    """Agreement below which the majority rule flags: median eligible rater − margin.

    Raters with at least ``rules.min_shared`` shared votes are eligible; with fewer than three
    eligible raters there is no reference and the result is ``nan`` (no one is flagged).
    Relative rather than absolute, because honest raters agree with each other only as much as
    the models differ: when two models are close, everyone's agreement is near one half.
    """
    eligible = table["majority_agreement"][table["n_shared"] >= max(rules.min_shared, 1)]
    eligible = eligible.dropna()
    if len(eligible) < 3:
        return float("nan")
    return float(eligible.median() - rules.majority_margin)


def rater_quality(comparisons: pd.DataFrame, rules: QualityRules | None = None) -> pd.DataFrame:
    """One row per rater: gold accuracy, repeat consistency, side bias, speed, majority agreement.

    Parameters
    ----------
    comparisons : pandas.DataFrame
        The comparisons DataFrame with any kinds of rows (:mod:`analysis.frame`); ``practice``
        rows are ignored.
    rules : QualityRules, optional
        Thresholds (default :class:`QualityRules()`).

    Returns
    -------
    pandas.DataFrame
        Columns :data:`RATER_COLUMNS`, one row per rater with a non-practice vote, sorted by
        rater: ``n_votes`` (2afc votes), ``n_gold`` and ``gold_accuracy`` (gold rows with an
        ``expected`` answer; a tie or "both bad" counts as wrong), ``n_repeats`` and
        ``repeat_consistency`` (repeats whose original is the rater's own 2afc row; consistent
        when the judgement is the same once sides are undone) and ``repeat_p``
        (:func:`lower_tail_half` of the consistent repeats), ``n_decisive``, ``left_rate`` and
        ``left_p`` (left choices among the rater's decisive votes of every kind; two-sided
        exact binomial test of 0.5, as ``scipy.stats.binomtest``), ``median_decision_ms`` (all
        non-practice votes), ``n_shared`` and ``majority_agreement``
        (:func:`majority_agreement` on 2afc votes), and ``flags``, a list of names from
        :data:`FLAGS`. A measure without data is ``nan`` and flags nothing.

    Notes
    -----
    Counts per rater are ``numpy.bincount`` sums; the only per-rater work in Python is building
    the flag lists. Rules and sources: :class:`QualityRules` and the module docstring.
    """
    rules = rules or QualityRules()
    df = with_kind(comparisons)
    kind = kind_codes(df)
    practice = kind == KINDS.index(PRACTICE_KIND)
    if practice.any():
        df, kind = df.loc[~practice], kind[~practice]
    enc = encode_comparisons(df)
    rater, labels = enc.codes("rater"), enc.labels("rater")
    n_r = len(labels)
    rated = kind == KINDS.index(RATED_KIND)
    oriented = oriented_outcomes(enc.a, enc.b, enc.outcome)
    n_gold, gold_acc = _gold(df, kind, enc.outcome, rater, n_r)
    n_rep, consistency = _repeats(df, kind, oriented, rater, n_r)
    decisive = enc.outcome <= B_WINS
    n_dec = np.bincount(rater[decisive], minlength=n_r)
    n_left = np.bincount(rater[decisive], weights=enc.outcome[decisive] == A_WINS, minlength=n_r)
    ms = pd.to_numeric(df["decision_ms"], errors="coerce").to_numpy(dtype=np.float64)
    median_ms = pd.Series(ms).groupby(rater).median().reindex(range(n_r)).to_numpy()
    cell = cell_codes(
        enc.a[rated],
        enc.b[rated],
        enc.codes("prompt")[rated],
        enc.codes("question")[rated],
        seed_codes(df)[rated],
    )
    n_shared, agreement = majority_agreement(cell, oriented[rated], rater[rated], n_r)
    table = pd.DataFrame(
        {
            "rater": list(labels),
            "n_votes": np.bincount(rater[rated], minlength=n_r),
            "n_gold": n_gold,
            "gold_accuracy": gold_acc,
            "n_repeats": n_rep,
            "repeat_consistency": consistency,
            "repeat_p": lower_tail_half(n_rep * consistency, n_rep),
            "n_decisive": n_dec,
            "left_rate": _ratio(n_left, n_dec),
            "left_p": binomial_test_half(n_left, n_dec),
            "median_decision_ms": median_ms,
            "n_shared": n_shared,
            "majority_agreement": agreement,
        }
    )
    table["flags"] = _flags(table, rules)
    return table[list(RATER_COLUMNS)]


def _flags(t: pd.DataFrame, rules: QualityRules) -> list[list[str]]:
    threshold = majority_threshold(t, rules)
    with np.errstate(invalid="ignore"):
        hits = {
            "gold": (t.n_gold >= max(rules.min_gold, 1))
            & (t.gold_accuracy < rules.min_gold_accuracy),
            "repeat": (t.n_repeats >= max(rules.min_repeats, 1))
            & (t.repeat_consistency < rules.min_repeat_consistency)
            & (t.repeat_p < rules.repeat_alpha),
            "side": (t.left_p < rules.side_alpha) & ((t.left_rate - 0.5).abs() > rules.side_margin),
            "fast": t.median_decision_ms < rules.min_median_decision_ms,
            "majority": (t.n_shared >= max(rules.min_shared, 1))
            & (t.majority_agreement < threshold),
        }
    matrix = np.column_stack([hits[f].to_numpy(dtype=bool) for f in FLAGS])
    names = np.asarray(FLAGS, dtype=object)
    return [list(names[row]) for row in matrix]


def flagged_raters(table: pd.DataFrame) -> list[str]:
    """Raters of a :func:`rater_quality` table with at least one flag, in table order."""
    return [str(r) for r, f in zip(table["rater"], table["flags"], strict=True) if len(f)]


def flag_counts(table: pd.DataFrame) -> dict[str, int]:
    """Raters carrying each flag (every name of :data:`FLAGS`, zero when unused)."""
    out = dict.fromkeys(FLAGS, 0)
    for flags in table["flags"]:
        for f in flags:
            out[f] += 1
    return out
