"""The anytime-valid stopping rule: its error rate under continuous monitoring, its verdicts."""

import numpy as np
import pandas as pd
import pytest

from analysis.sequential import betting_capital, rater_shares, settle


def _frame(shares: list[float], votes: int = 10, swap_every: int = 3) -> pd.DataFrame:
    """Raters with the given share of votes for 'x' against 'y'; every few votes the sides
    are swapped (model_a is the left image's model)."""
    rows = []
    for r, share in enumerate(shares):
        wins = round(share * votes)
        for v in range(votes):
            won = v < wins
            if v % swap_every == 0:
                rows.append(("y", "x", "b" if won else "a", f"r{r}"))
            else:
                rows.append(("x", "y", "a" if won else "b", f"r{r}"))
        rows.append(("x", "y", "tie", f"r{r}"))  # ties carry no direction
    return pd.DataFrame(rows, columns=["model_a", "model_b", "outcome", "rater"])


def test_checked_after_every_rater_a_true_null_is_rarely_rejected() -> None:
    rng = np.random.default_rng(0)
    runs, alpha, ever = 400, 0.05, 0
    for _ in range(runs):
        # Clustered raters: each rater's share of 20 votes around a mean of exactly 0.5.
        p = 1 / (1 + np.exp(-rng.normal(0, 0.8, 300)))
        y = rng.binomial(20, p) / 20
        up, down = betting_capital(y, 0.5, True), betting_capital(y, 0.5, False)
        ever += bool((0.5 * (up + down) >= 1 / alpha).any())
    assert ever / runs <= alpha + 3 * np.sqrt(alpha * (1 - alpha) / runs), ever


def test_a_clear_preference_settles_and_the_sides_are_read_right() -> None:
    df = _frame([0.8, 0.7, 0.9, 0.8, 0.7, 0.8, 0.9, 0.7, 0.8, 0.8] * 3)
    shares = rater_shares(df, "x", "y")
    assert len(shares) == 30 and shares.iloc[0] == pytest.approx(0.8)
    s = settle(df, "x", "y")
    assert s.settled and s.verdict == "a preferred" and s.raters == 30 and s.e_value >= 20
    assert settle(df, "y", "x").verdict == "b preferred"
    even = settle(_frame([0.5, 0.4, 0.6] * 10), "x", "y")
    assert not even.settled and even.verdict == "not yet"
    assert settle(_frame([0.5] * 40), "x", "y", "non-inferiority", 0.1).verdict == "non-inferior"
    assert settle(_frame([0.5] * 40), "x", "y", "equivalence", 0.1).verdict == "equivalent"
    assert not settle(_frame([0.5] * 3), "x", "y", "equivalence", 0.1).settled


def test_bad_arguments_are_named() -> None:
    with pytest.raises(ValueError, match="m0 must lie in"):
        betting_capital(np.array([0.5]), 1.0)
    with pytest.raises(ValueError, match="claim must be"):
        settle(_frame([0.5]), "x", "y", "better")
