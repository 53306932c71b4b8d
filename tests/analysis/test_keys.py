"""analysis.keys: dense ids of combined integer keys, against pandas.factorize."""

import numpy as np
import pandas as pd
import pytest

from analysis import keys
from analysis.keys import combined_ids, dense_ids


def same_partition(ids, reference):
    # Two labellings group rows alike when the pair map is one-to-one both ways.
    pairs = pd.DataFrame({"a": ids, "b": reference}).drop_duplicates()
    return pairs["a"].is_unique and pairs["b"].is_unique


def test_dense_ids_are_sorted_and_invert():
    key = np.array([7, 3, 7, 0, 3, 9])
    ids, values = dense_ids(key, 10)
    assert values.tolist() == [0, 3, 7, 9]
    assert ids.tolist() == [2, 1, 2, 0, 1, 3]
    assert (values[ids] == key).all()


@pytest.mark.parametrize("limit", [1 << 24, 64, 8])
def test_combined_ids_group_rows_as_factorize_does(monkeypatch, limit):
    # Small limits force the compress-and-continue path and the hashing fallback.
    monkeypatch.setattr(keys, "DENSE_LIMIT", limit)
    rng = np.random.default_rng(0)
    cols = [rng.integers(0, r, 5000) for r in (40, 20, 20, 2, 500)]
    ids = combined_ids(cols)
    reference, _ = pd.factorize(pd.MultiIndex.from_arrays(cols))
    assert ids.min() == 0 and ids.max() == reference.max()
    assert same_partition(ids, reference)


def test_combined_ids_follow_lexicographic_order_when_addressed():
    ids = combined_ids([np.array([1, 0, 1, 0]), np.array([0, 5, 0, 2])])
    assert ids.tolist() == [2, 1, 2, 0]


def test_no_rows():
    assert combined_ids([np.zeros(0, dtype=np.int64)]).shape == (0,)
