"""Count tensors built from the votes in one ``numpy.bincount`` pass.

Every statistic in ``analysis`` is a function of these counts: the whole table
``[a, b, outcome]`` for point estimates, and the same table per cluster (rater, prompt, ...) for
cluster bootstraps and cluster-robust covariances. A vote maps to the flat cell
``(a * m + b) * 4 + outcome``; counting is then a single ``bincount`` over that code, offset by the
cluster index when counting per cluster. Nothing loops over votes in Python.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.sparse as sp

from analysis.frame import A_WINS, B_WINS, BOTH_BAD, OUTCOMES, TIE, EncodedComparisons
from analysis.frame import encode_comparisons as _encode
from analysis.modes import CLUSTER_UNITS, PROMPT, RATER, RATER_PROMPT
from analysis.types import FloatArray, IntArray, OutcomeTensor, PairMatrix

# Above this many cells a per-cluster table is stored sparse: dense would cost memory for nothing
# (e.g. rater x prompt intersections are mostly single votes).
_DENSE_LIMIT = 20_000_000


@dataclass(frozen=True)
class ClusterCounts:
    """Per-cluster outcome counts, shape ``(C, m * m * 4)`` flattened from ``(C, m, m, 4)``.

    Only clusters with at least one vote in the counted subset are rows. The matrix is dense when
    small and a ``scipy.sparse.csr_array`` otherwise; both support ``weights @ matrix``, which is
    how a cluster bootstrap forms all replicates' counts in one matrix product.

    Attributes
    ----------
    unit : str
        Cluster unit (``"rater"``, ``"prompt"``, ``"rater+prompt"``, ...).
    ids : ndarray of int64
        Study-wide code of each row's cluster (so replicates can share weights across subsets).
    labels : tuple of str
        Label of each row's cluster.
    matrix : ndarray or scipy.sparse.csr_array
        Counts, one row per cluster, columns the flat cells ``(a * m + b) * 4 + outcome``.
    n_models : int
        Number of models ``m``.
    """

    unit: str
    ids: IntArray
    labels: tuple[str, ...]
    matrix: np.ndarray | sp.csr_array
    n_models: int

    @property
    def n_clusters(self) -> int:
        """Number of clusters ``C`` with at least one vote."""
        return int(self.matrix.shape[0])

    def tensor(self) -> np.ndarray:
        """Dense ``(C, m, m, 4)`` tensor (allocates; prefer :meth:`weighted` for bootstraps)."""
        dense = self.matrix.toarray() if sp.issparse(self.matrix) else self.matrix
        m = self.n_models
        return np.asarray(dense).reshape(-1, m, m, len(OUTCOMES))

    def weighted(self, weights: FloatArray) -> FloatArray:
        """Counts per replicate: ``weights @ matrix`` reshaped to ``(B, m, m, 4)``.

        Parameters
        ----------
        weights : ndarray, shape (B, C)
            Cluster weights per replicate (e.g. how often each rater was drawn).
        """
        w = np.asarray(weights, dtype=np.float64)
        out = np.asarray((self.matrix.T @ w.T).T) if sp.issparse(self.matrix) else w @ self.matrix
        m = self.n_models
        return out.reshape(w.shape[0], m, m, len(OUTCOMES))


@dataclass(frozen=True)
class ComparisonCounts:
    """Outcome counts of a set of votes.

    Attributes
    ----------
    models : tuple of str
        Sorted model names (the index of every axis below).
    table : ndarray of int64, shape (m, m, 4)
        ``table[a, b, k]``: votes with ``a`` on the left, ``b`` on the right and outcome ``k``
        (order of :data:`analysis.frame.OUTCOMES`).
    clusters : dict of str to ClusterCounts
        Per-cluster tables for the requested cluster units.
    n_raters : int
        Distinct raters among the counted votes.
    """

    models: tuple[str, ...]
    table: OutcomeTensor
    clusters: dict[str, ClusterCounts] = field(default_factory=dict)
    n_raters: int = 0

    @property
    def n_models(self) -> int:
        """Number of models ``m``."""
        return len(self.models)

    @property
    def n_votes(self) -> int:
        """Number of votes counted (all outcomes)."""
        return int(self.table.sum())

    @property
    def wins(self) -> PairMatrix:
        """``wins[i, j]``: votes where ``i`` beat ``j``, on either side."""
        t = self.table
        return (t[:, :, A_WINS] + t[:, :, B_WINS].T).astype(np.float64)

    @property
    def ties(self) -> PairMatrix:
        """``ties[i, j]``: tie votes between ``i`` and ``j`` (symmetric)."""
        t = self.table[:, :, TIE]
        return (t + t.T).astype(np.float64)

    @property
    def both_bad(self) -> PairMatrix:
        """``both_bad[i, j]``: "both bad" votes between ``i`` and ``j`` (symmetric)."""
        t = self.table[:, :, BOTH_BAD]
        return (t + t.T).astype(np.float64)

    @property
    def votes(self) -> PairMatrix:
        """``votes[i, j]``: all votes between ``i`` and ``j`` (symmetric, every outcome)."""
        t = self.table.sum(axis=2)
        return (t + t.T).astype(np.float64)

    def cluster(self, unit: str) -> ClusterCounts:
        """Per-cluster counts for ``unit``; raises ``ValueError`` if they were not counted."""
        if unit not in self.clusters:
            raise ValueError(
                f"cluster unit {unit!r} was not counted; counted units: {sorted(self.clusters)}"
            )
        return self.clusters[unit]


def _cluster_codes(enc: EncodedComparisons, unit: str) -> tuple[IntArray, tuple[str, ...]]:
    if unit == RATER_PROMPT:
        r, p = enc.codes(RATER), enc.codes(PROMPT)
        n_p = len(enc.labels(PROMPT))
        # Labels of intersections are built later, only for the pairs that occur.
        return r * n_p + p, ()
    if unit not in enc.keys:
        raise ValueError(
            f"unknown cluster unit {unit!r}; expected one of {', '.join(CLUSTER_UNITS)}"
        )
    return enc.codes(unit), enc.labels(unit)


def _count_clusters(
    enc: EncodedComparisons,
    unit: str,
    cell: IntArray,
    mask: np.ndarray | None,
    n_cells: int,
    m: int,
) -> ClusterCounts:
    codes, labels = _cluster_codes(enc, unit)
    if mask is not None:
        codes = codes[mask]
    # Presence by bincount rather than np.unique: linear time, no sort of a million codes.
    n_total = (
        len(enc.labels(RATER)) * len(enc.labels(PROMPT)) if unit == RATER_PROMPT else len(labels)
    )
    present = np.bincount(codes, minlength=n_total) > 0
    ids = np.flatnonzero(present)
    rows = (np.cumsum(present) - 1)[codes]
    n_c = len(ids)
    if unit == RATER_PROMPT:
        n_p = len(enc.labels(PROMPT))
        rl, pl = enc.labels(RATER), enc.labels(PROMPT)
        row_labels = tuple(f"{rl[i // n_p]}|{pl[i % n_p]}" for i in ids.tolist())
    else:
        row_labels = tuple(labels[i] for i in ids.tolist())
    if n_c * n_cells <= _DENSE_LIMIT:
        flat = np.bincount(rows * n_cells + cell, minlength=n_c * n_cells)
        matrix: np.ndarray | sp.csr_array = flat.reshape(n_c, n_cells).astype(np.float64)
    else:
        ones = np.ones(len(cell), dtype=np.float64)
        matrix = sp.csr_array(sp.coo_array((ones, (rows, cell)), shape=(n_c, n_cells)))
        matrix.sum_duplicates()
    return ClusterCounts(unit=unit, ids=ids, labels=row_labels, matrix=matrix, n_models=m)


def count_comparisons(
    comparisons: pd.DataFrame | EncodedComparisons,
    *,
    clusters: Sequence[str] = (RATER,),
    mask: np.ndarray | None = None,
    models: Sequence[str] | None = None,
) -> ComparisonCounts:
    """Count votes into ``(a, b, outcome)`` tensors, overall and per cluster, with ``bincount``.

    Parameters
    ----------
    comparisons : pandas.DataFrame or EncodedComparisons
        The comparisons DataFrame (validated here) or its encoding from
        :func:`analysis.frame.encode_comparisons` (reuse it to count several subsets cheaply).
    clusters : sequence of str, default ("rater",)
        Cluster units to count per cluster, from :data:`analysis.modes.CLUSTER_UNITS`.
    mask : ndarray of bool, optional
        Subset of votes to count (e.g. one question).
    models : sequence of str, optional
        Model index when ``comparisons`` is a DataFrame; defaults to the models present.

    Returns
    -------
    ComparisonCounts
        Counts with ``table[a, b, outcome]`` (``a`` = left) and per-cluster tables.

    Notes
    -----
    These are the sufficient statistics of the paired-comparison models of Bradley & Terry (1952)
    and Davidson (1970); per-cluster tables are the sufficient statistics of a cluster bootstrap
    and of cluster-robust covariances (Cameron, Gelbach & Miller 2008, 2011).
    """
    enc = (
        comparisons
        if isinstance(comparisons, EncodedComparisons)
        else _encode(comparisons, models=models)
    )
    m = len(enc.models)
    n_out = len(OUTCOMES)
    n_cells = m * m * n_out
    cell = (enc.a * m + enc.b) * n_out + enc.outcome
    if mask is not None:
        mask = np.asarray(mask, dtype=bool)
        cell = cell[mask]
    table = np.bincount(cell, minlength=n_cells).reshape(m, m, n_out).astype(np.int64)
    per_cluster = {
        u: _count_clusters(enc, u, cell, mask, n_cells, m) for u in dict.fromkeys(clusters)
    }
    raters = enc.codes("rater") if mask is None else enc.codes("rater")[mask]
    n_raters = int((np.bincount(raters, minlength=1) > 0).sum()) if len(raters) else 0
    return ComparisonCounts(models=enc.models, table=table, clusters=per_cluster, n_raters=n_raters)
