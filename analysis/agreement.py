"""Inter-rater agreement per question: percent agreement, Fleiss' kappa, Krippendorff's alpha.

An item is a *cell*: (prompt, unordered model pair, question, seed). Every rated (``2afc``) vote
on a cell is one judgement, its outcome oriented to the cell's canonical pair order (lower model
index first; :func:`analysis.raters.oriented_outcomes`), so that "the left image won" on a trial
with the sides swapped counts as the same category. The categories are the four outcomes (first
model, second model, tie, both bad); unused ones change nothing. Only cells with at least two
judgements carry information about agreement.

All three statistics are functions of the ``(items, categories)`` count table built by one
``numpy.bincount``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.frame import OUTCOMES, encode_comparisons, split_kinds
from analysis.raters import cell_codes, oriented_outcomes, seed_codes
from analysis.types import IntArray

#: Columns of :func:`agreement_by_question`.
AGREEMENT_COLUMNS: tuple[str, ...] = (
    "question",
    "n_cells",
    "n_judgements",
    "percent_agreement",
    "fleiss_kappa",
    "fleiss_n_cells",
    "fleiss_n_raters",
    "krippendorff_alpha",
)


def _multiple(table: np.ndarray) -> np.ndarray:
    t = np.asarray(table, dtype=np.float64)
    return t[t.sum(axis=1) >= 2]


def percent_agreement(table: np.ndarray) -> float:
    """Mean over items of the share of agreeing pairs of judgements.

    Parameters
    ----------
    table : array_like, shape (items, categories)
        ``table[i, j]``: judgements of item ``i`` in category ``j``; items with fewer than two
        judgements are left out.

    Returns
    -------
    float
        ``mean_i (Σ_j n_ij² − n_i) / (n_i (n_i − 1))`` — Fleiss's (1971) ``P_i`` averaged with
        equal weight per item; ``nan`` without any item judged twice.
    """
    t = _multiple(table)
    if len(t) == 0:
        return float("nan")
    n = t.sum(axis=1)
    return float(np.mean(((t**2).sum(axis=1) - n) / (n * (n - 1))))


def modal_items(table: np.ndarray) -> np.ndarray:
    """Mask of the items judged the modal number of times (at least twice; ties: the larger).

    Parameters
    ----------
    table : array_like, shape (items, categories)
        Count table.

    Returns
    -------
    ndarray of bool, shape (items,)
        The items :func:`fleiss_kappa` uses in :func:`agreement_by_question`.
    """
    n = np.asarray(table).sum(axis=1).astype(np.int64)
    if not (n >= 2).any():
        return np.zeros(len(n), dtype=bool)
    freq = np.bincount(n[n >= 2])
    mode = int(np.flatnonzero(freq == freq.max())[-1])
    return n == mode


def fleiss_kappa(table: np.ndarray) -> float:
    """Fleiss' kappa for items that all have the same number of judgements.

    Parameters
    ----------
    table : array_like, shape (items, categories)
        Count table; every row must sum to the same ``n ≥ 2``.

    Returns
    -------
    float
        ``κ = (P̄ − P̄_e) / (1 − P̄_e)`` with ``P̄`` the mean of ``P_i`` (see
        :func:`percent_agreement`) and ``P̄_e = Σ_j p_j²``, ``p_j`` the share of all judgements
        in category ``j``; ``nan`` without items or when only one category occurs.

    Raises
    ------
    ValueError
        If the rows do not all have the same sum of at least two.

    Notes
    -----
    Fleiss (1971), Psychological Bulletin 76:378. Equals
    ``statsmodels.stats.inter_rater.fleiss_kappa``.
    """
    t = np.asarray(table, dtype=np.float64)
    if len(t) == 0:
        return float("nan")
    n = t.sum(axis=1)
    if not np.all(n == n[0]) or n[0] < 2:
        raise ValueError(
            "fleiss_kappa needs the same number (at least 2) of judgements per item; "
            f"got between {n.min():g} and {n.max():g} (use modal_items to select items)"
        )
    p_bar = percent_agreement(t)
    p = t.sum(axis=0) / t.sum()
    p_e = float((p**2).sum())
    if p_e >= 1.0:
        return float("nan")
    return float((p_bar - p_e) / (1 - p_e))


def krippendorff_alpha(table: np.ndarray) -> float:
    """Krippendorff's alpha for nominal data from an item-by-category count table.

    Parameters
    ----------
    table : array_like, shape (items, categories)
        Count table; items may have different numbers of judgements, and those with fewer
        than two are not pairable and are left out.

    Returns
    -------
    float
        ``α = 1 − (n − 1) (n − Σ_c o_cc) / (n² − Σ_c n_c²)`` with the coincidences
        ``o_cc = Σ_u n_uc (n_uc − 1) / (n_u − 1)``, ``n_c = Σ_u n_uc`` and ``n = Σ_c n_c`` over
        pairable items; ``nan`` without pairable items or when only one category occurs.

    Notes
    -----
    Krippendorff (2011), "Computing Krippendorff's alpha-reliability", Annenberg School for
    Communication Departmental Papers 43 (nominal metric: ``1 − D_o / D_e``); Hayes &
    Krippendorff (2007). Equals ``krippendorff.alpha(..., level_of_measurement="nominal")``.
    """
    t = _multiple(table)
    if len(t) == 0:
        return float("nan")
    n_u = t.sum(axis=1)
    o_cc = (t * (t - 1) / (n_u - 1)[:, None]).sum()
    n_c = t.sum(axis=0)
    n = n_c.sum()
    expected = n**2 - (n_c**2).sum()
    if expected <= 0:
        return float("nan")
    return float(1 - (n - 1) * (n - o_cc) / expected)


def cell_table(comparisons: pd.DataFrame) -> tuple[IntArray, IntArray, tuple[str, ...]]:
    """Judgements per cell and oriented outcome, from the rated votes in one ``bincount``.

    Parameters
    ----------
    comparisons : pandas.DataFrame
        The comparisons DataFrame; only ``2afc`` rows are used.

    Returns
    -------
    table : ndarray of int64, shape (cells, 4)
        Oriented-outcome counts of every cell (module docstring).
    question : ndarray of int64, shape (cells,)
        Question code of each cell.
    questions : tuple of str
        Question labels.
    """
    rated, _ = split_kinds(comparisons)
    enc = encode_comparisons(rated)
    q = enc.codes("question")
    cell = cell_codes(enc.a, enc.b, enc.codes("prompt"), q, seed_codes(rated))
    k = len(OUTCOMES)
    n_cells = int(cell.max()) + 1 if len(cell) else 0
    o = oriented_outcomes(enc.a, enc.b, enc.outcome)
    table = np.bincount(cell * k + o, minlength=n_cells * k).reshape(n_cells, k)
    question = np.zeros(n_cells, dtype=np.int64)
    question[cell] = q
    return table, question, enc.labels("question")


def agreement_by_question(comparisons: pd.DataFrame) -> pd.DataFrame:
    """Agreement between raters on each question's multiply judged cells.

    Parameters
    ----------
    comparisons : pandas.DataFrame
        The comparisons DataFrame; only ``2afc`` rows are used.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`AGREEMENT_COLUMNS`, one row per question: ``n_cells`` (cells with at
        least two judgements), ``n_judgements`` (votes on them), ``percent_agreement``
        (:func:`percent_agreement`), ``fleiss_kappa`` on the cells with the modal number of
        judgements (:func:`modal_items`: Fleiss 1971 assumes equal numbers; ``fleiss_n_cells``
        and ``fleiss_n_raters`` say which), and ``krippendorff_alpha`` on all of them
        (unequal numbers allowed).

    Notes
    -----
    Fleiss (1971); Krippendorff (2011). A rater who judged a cell twice contributes two
    judgements (the scheduler shows a rater each cell once among rated trials).
    """
    table, question, labels = cell_table(comparisons)
    rows = []
    for qi, name in enumerate(labels):
        t = table[question == qi]
        t = t[t.sum(axis=1) >= 2]
        modal = modal_items(t)
        rows.append(
            {
                "question": name,
                "n_cells": int(len(t)),
                "n_judgements": int(t.sum()),
                "percent_agreement": percent_agreement(t),
                "fleiss_kappa": fleiss_kappa(t[modal]) if modal.any() else float("nan"),
                "fleiss_n_cells": int(modal.sum()),
                "fleiss_n_raters": int(t[modal].sum(axis=1)[0]) if modal.any() else 0,
                "krippendorff_alpha": krippendorff_alpha(t),
            }
        )
    return pd.DataFrame(rows, columns=list(AGREEMENT_COLUMNS))
