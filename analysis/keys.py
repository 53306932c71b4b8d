"""Dense ids of combined integer keys, by direct addressing instead of hashing.

The rater-quality and agreement tables group a million votes by cell (prompt, model pair,
question, seed) and by (cell, rater). ``pandas.factorize`` hashes every key: about 0.09 s per
million. Small integer columns can be combined into a mixed-radix key and compressed with one
presence array instead, compressing again whenever the radix grows past :data:`DENSE_LIMIT`
(the observed combinations never exceed the number of rows), which costs a few milliseconds.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from analysis.types import IntArray

#: Largest radix addressed directly: a presence array of this many bytes is cheap.
DENSE_LIMIT = 1 << 24


def dense_ids(key: IntArray, radix: int) -> tuple[IntArray, IntArray]:
    """Ids ``0..k-1`` of the ``k`` distinct values of ``key`` (each in ``[0, radix)``), in order.

    Returns ``(ids, values)``: ``values[ids] == key``, ``values`` sorted ascending.
    """
    present = np.zeros(radix, dtype=bool)
    present[key] = True
    values = np.flatnonzero(present)
    remap = np.cumsum(present, dtype=np.int64) - 1
    return remap[key], values


def combined_ids(columns: Sequence[IntArray]) -> IntArray:
    """One dense id per distinct row of non-negative integer ``columns`` (same length each).

    Columns are folded in one at a time; whenever the radix would pass :data:`DENSE_LIMIT` the
    key so far is compressed to its observed values, and only if that is still too large is the
    key hashed (``pandas.factorize``). Put columns that determine each other next to each other
    (a prompt and its seed) so that compression keeps the radix small. Ids follow the rows'
    lexicographic order whenever no hashing was needed.
    """
    cols = [np.asarray(c, dtype=np.int64) for c in columns]
    n = len(cols[0]) if cols else 0
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    key, radix = np.zeros(n, dtype=np.int64), 1
    for col in cols:
        r = int(col.max()) + 1
        if radix * r > DENSE_LIMIT:
            key, values = dense_ids(key, radix)
            radix = len(values)
        key, radix = key * r + col, radix * r
        if radix > DENSE_LIMIT:  # at most n distinct values: hash them once
            codes, uniques = pd.factorize(key)
            key, radix = codes.astype(np.int64, copy=False), len(uniques)
    return dense_ids(key, radix)[0]
