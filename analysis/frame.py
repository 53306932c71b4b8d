"""Validation and integer encoding of the comparisons DataFrame.

The DataFrame is the only input of ``analysis`` (see docs/design.md): one row per vote with ``model_a``,
``model_b`` (``a`` = the left image's model), ``outcome``, ``rater``, ``prompt``, ``category``,
``question``, ``kind``, ``decision_ms`` and ``seed``. Everything downstream works on the integer
codes built here, so strings are factorised exactly once.

Trial kinds and rater-quality columns
-------------------------------------
``kind`` says what a row is (:data:`KINDS`); a missing or empty value means ``"2afc"``, and so
does a missing ``kind`` column wherever :func:`with_kind` is applied (``analyze``,
:func:`split_kinds`, rater quality and agreement), for data from before trial kinds existed:

* ``"2afc"`` — a rated trial. Only these rows enter ratings, win rates, Elo and agreement.
* ``"gold"`` — an attention check with a known answer: an image against a spoiled copy of
  itself (quality questions) or against another prompt's image (alignment questions).
* ``"repeat"`` — one of the rater's earlier ``2afc`` trials shown again later, sides swapped.
* ``"practice"`` — never analysed at all (not even for rater quality).

Four further columns are optional (absent: no gold answers, no repeats):

* ``expected`` — on ``gold`` rows the correct outcome, ``"a"`` or ``"b"``; None, NaN or ``""``
  elsewhere.
* ``trial`` — an integer id, unique per row.
* ``repeat_of`` — on ``repeat`` rows the ``trial`` id of the original ``2afc`` row (same rater,
  sides the other way round, so a consistent rater's outcome is the mirror: ``a`` ↔ ``b``,
  ``tie`` and ``both_bad`` unchanged); NaN elsewhere.
* ``pair_probability`` — the probability with which the scheduler chose the row's model pair
  (:mod:`analysis.ipw` weights by its inverse); NaN where unknown.

:func:`split_kinds` separates the rated rows; :mod:`analysis.raters` uses the rest.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis.types import IntArray

#: Outcome labels in tensor order; index 0 means the left model (``model_a``) won.
OUTCOMES: tuple[str, ...] = ("a", "b", "tie", "both_bad")
A_WINS, B_WINS, TIE, BOTH_BAD = range(4)

#: Columns every comparisons DataFrame must have.
COLUMNS: tuple[str, ...] = (
    "model_a",
    "model_b",
    "outcome",
    "rater",
    "prompt",
    "category",
    "question",
    "kind",
    "decision_ms",
    "seed",
)
#: Trial kinds of the ``kind`` column; only :data:`RATED_KIND` rows are rated.
KINDS: tuple[str, ...] = ("2afc", "gold", "repeat", "practice")
RATED_KIND, GOLD_KIND, REPEAT_KIND, PRACTICE_KIND = KINDS
#: Optional columns of the rater-quality contract (module docstring).
OPTIONAL_COLUMNS: tuple[str, ...] = ("expected", "trial", "repeat_of", "pair_probability")
#: Columns that :func:`encode_comparisons` factorises into integer codes.
KEY_COLUMNS: tuple[str, ...] = ("rater", "prompt", "category", "question")


def validate_comparisons(comparisons: pd.DataFrame) -> None:
    """Check that ``comparisons`` follows the comparisons-DataFrame contract.

    Parameters
    ----------
    comparisons : pandas.DataFrame
        One row per vote, columns as in :data:`COLUMNS`.

    Raises
    ------
    ValueError
        If a column is missing, a model or rater is missing, or an outcome is not one of
        :data:`OUTCOMES`; the message names the column and the expected values.
    """
    if not isinstance(comparisons, pd.DataFrame):
        raise ValueError(
            f"comparisons must be a pandas DataFrame with columns {', '.join(COLUMNS)}; "
            f"got {type(comparisons).__name__}"
        )
    missing = [c for c in COLUMNS if c not in comparisons.columns]
    if missing:
        raise ValueError(
            f"comparisons is missing column(s) {', '.join(map(repr, missing))}; "
            f"expected columns {', '.join(COLUMNS)}"
        )
    outcome = comparisons["outcome"]
    bad = ~outcome.isin(OUTCOMES)
    if bad.any():
        examples = sorted({str(v) for v in outcome[bad].unique()[:5]})
        raise ValueError(
            f"column 'outcome' has {int(bad.sum())} invalid value(s) such as "
            f"{', '.join(map(repr, examples))}; expected one of {', '.join(map(repr, OUTCOMES))}"
        )
    for col in ("model_a", "model_b", "rater", "question"):
        if comparisons[col].isna().any():
            raise ValueError(
                f"column {col!r} has missing values; expected a non-empty value on every row"
            )


@dataclass(frozen=True)
class EncodedComparisons:
    """Integer codes of a validated comparisons DataFrame (one entry per vote).

    Attributes
    ----------
    models : tuple of str
        Sorted model names; ``a`` and ``b`` index into it.
    a, b : ndarray of int64
        Left and right model index of each vote.
    outcome : ndarray of int64
        Index into :data:`OUTCOMES`.
    keys : dict
        For each of :data:`KEY_COLUMNS`, a pair ``(codes, labels)`` with sorted labels.
    """

    models: tuple[str, ...]
    a: IntArray
    b: IntArray
    outcome: IntArray
    keys: dict[str, tuple[IntArray, tuple[str, ...]]]

    @property
    def n_votes(self) -> int:
        """Number of votes encoded."""
        return int(self.a.shape[0])

    def codes(self, column: str) -> IntArray:
        """Integer codes of ``column`` (one of :data:`KEY_COLUMNS`)."""
        return self.keys[column][0]

    def labels(self, column: str) -> tuple[str, ...]:
        """Sorted labels of ``column``; ``codes(column)`` indexes into them."""
        return self.keys[column][1]


def _factorize(values: pd.Series) -> tuple[IntArray, tuple[str, ...]]:
    # Categorical columns already carry codes; reusing them skips a hash pass over a million rows.
    if isinstance(values.dtype, pd.CategoricalDtype):
        codes, labels = _categorical_codes(values)
        if (codes < 0).any():  # missing values become the label "" (sorts first)
            return codes + 1, ("", *labels)
        return codes, labels
    codes, uniques = pd.factorize(values.fillna("").astype(str), sort=True)
    return codes.astype(np.int64, copy=False), tuple(str(u) for u in uniques)


def factorize(values: pd.Series) -> tuple[IntArray, tuple[str, ...]]:
    """Integer codes of a text or categorical column and its sorted labels (no string copies)."""
    return _factorize(values)


def same_values(left: pd.Series, right: pd.Series) -> np.ndarray:
    """Rows where two text or categorical columns hold the same label, without string copies."""
    codes_l, labels_l = _factorize(left)
    codes_r, labels_r = _factorize(right)
    pos = pd.Index(list(labels_l)).get_indexer(list(labels_r))
    return pos[codes_r] == codes_l


def _categorical_codes(values: pd.Series) -> tuple[IntArray, tuple[str, ...]]:
    cats = np.asarray(values.cat.categories.astype(str))
    order = np.argsort(cats, kind="stable")
    remap = np.empty(len(cats) + 1, dtype=np.int64)
    remap[order] = np.arange(len(cats))
    remap[-1] = -1
    codes = remap[values.cat.codes.to_numpy()]
    used = np.bincount(codes[codes >= 0], minlength=len(cats)) > 0
    if not used.all():  # drop unused categories so that labels are exactly the observed ones
        keep = np.cumsum(used) - 1
        codes = np.where(codes >= 0, keep[np.maximum(codes, 0)], -1)
        return codes, tuple(cats[order][used].tolist())
    return codes, tuple(cats[order].tolist())


def _distinct(values: pd.Series) -> list[str]:
    if isinstance(values.dtype, pd.CategoricalDtype):
        used = np.unique(values.cat.codes.to_numpy())
        return [str(c) for c in values.cat.categories[used[used >= 0]]]
    return [str(v) for v in pd.unique(values)]


def _codes_in(values: pd.Series, index: Sequence[str], column: str) -> IntArray:
    """Position of each value in ``index``; ``ValueError`` naming ``column`` if one is absent."""
    lookup = pd.Index(list(index))
    if isinstance(values.dtype, pd.CategoricalDtype):
        # Map the few categories, then gather: avoids hashing a million strings.
        cat_pos = lookup.get_indexer(values.cat.categories.astype(str))
        raw = values.cat.codes.to_numpy()
        codes = np.where(raw >= 0, np.append(cat_pos, -1)[raw], -1)
    else:
        codes = lookup.get_indexer(values.astype(str))
    if (codes < 0).any():
        unknown = sorted({str(v) for v in values[codes < 0].unique()[:5]})
        raise ValueError(f"column {column!r} has value(s) {unknown} not in {list(index)}")
    return codes.astype(np.int64, copy=False)


def encode_comparisons(
    comparisons: pd.DataFrame, *, models: Sequence[str] | None = None
) -> EncodedComparisons:
    """Validate ``comparisons`` and factorise it into integer codes in one pass per column.

    Parameters
    ----------
    comparisons : pandas.DataFrame
        The comparisons DataFrame (see :data:`COLUMNS`).
    models : sequence of str, optional
        Model index to use; defaults to the sorted union of ``model_a`` and ``model_b``. A model
        listed here that never appears gets zero counts (useful to keep one index across
        questions).

    Returns
    -------
    EncodedComparisons
        Integer codes for models, outcomes and cluster keys.
    """
    validate_comparisons(comparisons)
    col_a, col_b = comparisons["model_a"], comparisons["model_b"]
    if models is None:
        index = tuple(sorted(set(_distinct(col_a)) | set(_distinct(col_b))))
    else:
        index = tuple(sorted(str(m) for m in models))
    codes_a, codes_b = _codes_in(col_a, index, "model_a"), _codes_in(col_b, index, "model_b")
    outcome = _codes_in(comparisons["outcome"], OUTCOMES, "outcome")
    keys = {col: _factorize(comparisons[col]) for col in KEY_COLUMNS}
    return EncodedComparisons(
        models=index,
        a=codes_a,
        b=codes_b,
        outcome=outcome.astype(np.int64, copy=False),
        keys=keys,
    )


def comparisons_frame(
    rows: Sequence[tuple[str, str, str]],
    *,
    raters: str | Sequence[str] = "r0",
    question: str | Sequence[str] = "quality",
    prompts: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Build a comparisons DataFrame from ``(model_a, model_b, outcome)`` rows (examples, tests).

    Parameters
    ----------
    rows : sequence of (str, str, str)
        Left model, right model, outcome (one of :data:`OUTCOMES`).
    raters : str or sequence of str
        One rater for all rows or one per row.
    question : str or sequence of str
        One question for all rows or one per row.
    prompts : sequence of str, optional
        One prompt per row (default ``p0``, ``p1``, ``p2`` cycling).

    Returns
    -------
    pandas.DataFrame
        With every column of :data:`COLUMNS` (``kind`` = ``2afc``).
    """
    n = len(rows)

    def per_row(value: str | Sequence[str]) -> list[str]:
        return [value] * n if isinstance(value, str) else [str(v) for v in value]

    return pd.DataFrame(
        {
            "model_a": [r[0] for r in rows],
            "model_b": [r[1] for r in rows],
            "outcome": [r[2] for r in rows],
            "rater": per_row(raters),
            "prompt": list(prompts) if prompts is not None else [f"p{k % 3}" for k in range(n)],
            "category": ["general"] * n,
            "question": per_row(question),
            "kind": ["2afc"] * n,
            "decision_ms": [1000.0] * n,
            "seed": [0] * n,
        },
        columns=list(COLUMNS),
    )


def kind_codes(comparisons: pd.DataFrame) -> IntArray:
    """Index into :data:`KINDS` of every row; a missing column or value means ``"2afc"``.

    Parameters
    ----------
    comparisons : pandas.DataFrame
        The comparisons DataFrame.

    Returns
    -------
    ndarray of int64
        One code per row.

    Raises
    ------
    ValueError
        If ``kind`` holds a value outside :data:`KINDS` (named, with the expected values).
    """
    n = len(comparisons)
    if "kind" not in comparisons.columns:
        return np.zeros(n, dtype=np.int64)
    codes, uniques = pd.factorize(comparisons["kind"])  # few distinct values: map those
    labels = ["2afc" if str(u) == "" else str(u) for u in uniques]
    bad = sorted({u for u in labels if u not in KINDS})
    if bad:
        raise ValueError(
            f"column 'kind' has value(s) {', '.join(map(repr, bad[:5]))}; "
            f"expected one of {', '.join(map(repr, KINDS))}"
        )
    lookup = np.array([KINDS.index(u) for u in labels] + [0], dtype=np.int64)
    return lookup[codes]  # code -1 (missing) picks the trailing 0: "2afc"


def with_kind(comparisons: pd.DataFrame) -> pd.DataFrame:
    """``comparisons`` itself, or a copy with ``kind = "2afc"`` when the column is absent."""
    if isinstance(comparisons, pd.DataFrame) and "kind" not in comparisons.columns:
        return comparisons.assign(kind=RATED_KIND)
    return comparisons


def split_kinds(comparisons: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, int]]:
    """The rated (``2afc``) rows of ``comparisons`` and the number of rows of every kind.

    Parameters
    ----------
    comparisons : pandas.DataFrame
        The comparisons DataFrame, optionally with gold, repeat and practice rows.

    Returns
    -------
    rated : pandas.DataFrame
        The ``2afc`` rows (``comparisons`` itself when every row is one, so nothing is copied).
    counts : dict of str to int
        Rows per kind, every kind of :data:`KINDS` present (zero when absent).
    """
    comparisons = with_kind(comparisons)
    validate_comparisons(comparisons)
    codes = kind_codes(comparisons)
    counts = dict(zip(KINDS, np.bincount(codes, minlength=len(KINDS)).tolist(), strict=True))
    if counts[RATED_KIND] == len(comparisons):
        return comparisons, counts
    return comparisons.loc[codes == 0], counts


def decisive_questions(rated: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, str]]:
    """Split off the questions without a single decisive vote.

    Parameters
    ----------
    rated : pandas.DataFrame
        Rated (``2afc``) comparisons.

    Returns
    -------
    kept : pandas.DataFrame
        The rows of questions with at least one ``a`` or ``b`` outcome.
    unrated : dict of str to str
        Each other question and why it is not rated, e.g. ``"no decisive vote (40 ties, 2 both
        bad)"``.

    Notes
    -----
    A question whose votes are all ties or "both bad" says nothing about which model is better:
    Bradley–Terry strengths are not identified (the likelihood is flat in every direction but the
    tie parameter), so it gets no ratings rather than a singular fit.
    """
    q_codes, q_labels = factorize(rated["question"])
    is_decisive = rated["outcome"].isin(["a", "b"]).to_numpy()
    decisive = np.bincount(q_codes, weights=is_decisive, minlength=len(q_labels)) > 0
    unrated = {}
    for qi in np.flatnonzero(~decisive):
        question = q_labels[qi]
        here = rated["outcome"][q_codes == qi].astype(str)
        ties, bad = int((here == "tie").sum()), int((here == "both_bad").sum())
        unrated[str(question)] = f"no decisive vote ({ties} ties, {bad} both bad)"
    if not unrated:
        return rated, unrated
    return rated[~rated["question"].isin(list(unrated))], unrated
