import numpy as np
import pandas as pd
import pytest

from analysis.frame import (
    COLUMNS,
    OUTCOMES,
    encode_comparisons,
    validate_comparisons,
)
from analysis.frame import (
    comparisons_frame as make_votes,
)


def test_missing_column_is_named():
    df = make_votes([("a", "b", "a")]).drop(columns=["rater"])
    with pytest.raises(ValueError, match="'rater'") as err:
        validate_comparisons(df)
    assert "model_a" in str(err.value)  # lists the expected columns


def test_bad_outcome_names_column_and_expected_values():
    df = make_votes([("a", "b", "left"), ("a", "b", "a")])
    with pytest.raises(ValueError, match="'outcome'") as err:
        validate_comparisons(df)
    msg = str(err.value)
    assert "'left'" in msg
    assert all(f"'{o}'" in msg for o in OUTCOMES)


def test_not_a_dataframe():
    with pytest.raises(ValueError, match="DataFrame"):
        validate_comparisons([1, 2])


def test_missing_model_value():
    df = make_votes([("a", "b", "a")])
    df.loc[0, "model_b"] = None
    with pytest.raises(ValueError, match="'model_b'"):
        validate_comparisons(df)


def test_encoding_sorted_and_categorical_equivalent():
    df = make_votes([("zeta", "alpha", "a"), ("alpha", "mid", "tie"), ("mid", "zeta", "both_bad")])
    enc = encode_comparisons(df)
    assert enc.models == ("alpha", "mid", "zeta")
    np.testing.assert_array_equal(enc.a, [2, 0, 1])
    np.testing.assert_array_equal(enc.b, [0, 1, 2])
    np.testing.assert_array_equal(enc.outcome, [0, 2, 3])
    cat = df.copy()
    for col in ("model_a", "model_b", "outcome", "rater", "prompt"):
        cat[col] = cat[col].astype("category")
    cat["model_a"] = cat["model_a"].cat.add_categories(["unused"])
    enc2 = encode_comparisons(cat)
    assert enc2.models == enc.models
    np.testing.assert_array_equal(enc2.a, enc.a)
    np.testing.assert_array_equal(enc2.outcome, enc.outcome)
    np.testing.assert_array_equal(enc2.codes("prompt"), enc.codes("prompt"))
    assert set(COLUMNS) <= set(df.columns)


def test_unknown_model_in_given_index():
    df = make_votes([("a", "b", "a")])
    with pytest.raises(ValueError, match="model_b"):
        encode_comparisons(df, models=["a"])


def test_empty_frame_encodes():
    df = make_votes([]).astype({"decision_ms": float})
    enc = encode_comparisons(pd.DataFrame(df))
    assert enc.n_votes == 0
