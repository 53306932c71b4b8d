"""Planning a study: votes for an Elo half-width, and the design effect its votes show."""

import numpy as np
import pandas as pd
import pytest

from analysis.study_plan import measured_design_effect, votes_for_half_width


def test_votes_for_a_half_width_follow_the_variance_of_a_difference() -> None:
    n = votes_for_half_width(50, 0.5)
    # 1.96 * 173.7 / 50 = 6.81 logits^-1; squared over 0.25: 185.5 -> 186 votes.
    assert n == 186
    assert votes_for_half_width(25, 0.5) == pytest.approx(4 * n, abs=4)
    assert votes_for_half_width(50, 0.5, design_effect=2) == pytest.approx(2 * n, abs=2)
    assert votes_for_half_width(50, 0.8) > n  # a lopsided pair says less per vote
    with pytest.raises(ValueError, match="half_width must be a positive number"):
        votes_for_half_width(0)


def _crowd(taste: float, rng: np.random.Generator) -> pd.DataFrame:
    rows = []
    for r in range(60):
        p = 1 / (1 + np.exp(-rng.normal(0, taste)))
        for _ in range(20):
            rows.append(("x", "y", "a" if rng.random() < p else "b", f"r{r}", "2afc"))
    return pd.DataFrame(rows, columns=["model_a", "model_b", "outcome", "rater", "kind"])


def test_clustered_raters_show_a_design_effect_and_independent_ones_none() -> None:
    rng = np.random.default_rng(0)
    clustered, n = measured_design_effect(_crowd(1.5, rng))
    independent, _ = measured_design_effect(_crowd(0.0, rng))
    assert n == 1200
    # 20 votes per rater with a taste sd of 1.5 logits: intra-rater correlation ~0.25.
    assert clustered > 3 and independent < 1.5
    assert measured_design_effect(_crowd(0.0, rng).iloc[:0]) == (1.0, 0)
