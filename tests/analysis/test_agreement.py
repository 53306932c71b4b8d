"""Agreement: golden hand-computed cases and cross-checks against maintained packages."""

import krippendorff
import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.inter_rater import fleiss_kappa as sm_fleiss_kappa

from analysis.agreement import (
    AGREEMENT_COLUMNS,
    agreement_by_question,
    cell_table,
    fleiss_kappa,
    krippendorff_alpha,
    modal_items,
    percent_agreement,
)
from analysis.frame import COLUMNS

# Three items, two categories: 3 raters all "A"; 3 raters 2 "A" 1 "B"; 2 raters split.
GOLDEN = np.array([[3, 0], [2, 1], [1, 1]])


def test_golden_by_hand():
    # P_i = 1, (4 + 1 - 3) / 6 = 1/3, (1 + 1 - 2) / 2 = 0.
    assert percent_agreement(GOLDEN) == pytest.approx(4 / 9)
    # Modal count 3 (items 0, 1): p = (5/6, 1/6), P_e = 26/36, P_bar = 2/3.
    modal = modal_items(GOLDEN)
    assert modal.tolist() == [True, True, False]
    assert fleiss_kappa(GOLDEN[modal]) == pytest.approx((24 / 36 - 26 / 36) / (10 / 36))
    # o_AA = 3 + 1 = 4, n_A = 6, n_B = 2, n = 8: α = 1 - 7 (8 - 4) / (64 - 36 - 4) = -1/6.
    assert krippendorff_alpha(GOLDEN) == pytest.approx(-1 / 6)
    assert krippendorff_alpha([[2, 0], [0, 3], [1, 0]]) == pytest.approx(1.0)  # single-judged
    assert np.isnan(krippendorff_alpha([[2, 0], [3, 0]]))  # one category: no chance baseline
    assert np.isnan(percent_agreement([[1, 0]]))
    with pytest.raises(ValueError, match="same number"):
        fleiss_kappa(GOLDEN)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_fleiss_matches_statsmodels(seed):
    rng = np.random.default_rng(seed)
    n_items, n_raters, k = 40, 5, 4
    labels = rng.choice(k, size=(n_items, n_raters), p=[0.5, 0.3, 0.15, 0.05])
    table = np.stack([(labels == c).sum(axis=1) for c in range(k)], axis=1)
    assert fleiss_kappa(table) == pytest.approx(sm_fleiss_kappa(table), abs=1e-9)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_alpha_matches_krippendorff_with_missing_values(seed):
    rng = np.random.default_rng(seed)
    n_raters, n_units, k = 8, 50, 3
    data = rng.choice(k, size=(n_raters, n_units), p=[0.6, 0.3, 0.1]).astype(float)
    data[rng.random(data.shape) < 0.5] = np.nan  # unequal numbers of judgements per unit
    table = np.stack([(data == c).sum(axis=0) for c in range(k)], axis=1)
    ref = krippendorff.alpha(reliability_data=data, level_of_measurement="nominal")
    assert krippendorff_alpha(table) == pytest.approx(ref, abs=1e-9)
    ref_counts = krippendorff.alpha(value_counts=table, level_of_measurement="nominal")
    assert krippendorff_alpha(table) == pytest.approx(ref_counts, abs=1e-9)


def _votes(rows):
    n = len(rows)
    return pd.DataFrame(
        {
            "model_a": [r[0] for r in rows],
            "model_b": [r[1] for r in rows],
            "outcome": [r[2] for r in rows],
            "rater": [r[3] for r in rows],
            "prompt": [r[4] for r in rows],
            "category": ["general"] * n,
            "question": [r[5] for r in rows],
            "kind": [r[6] if len(r) > 6 else "2afc" for r in rows],
            "decision_ms": [1000.0] * n,
            "seed": [0] * n,
        },
        columns=list(COLUMNS),
    )


def test_cells_are_oriented_and_only_2afc_counts():
    rows = [
        ("x", "y", "a", "r1", "p0", "quality"),  # x
        ("y", "x", "b", "r2", "p0", "quality"),  # x, sides swapped
        ("y", "x", "a", "r3", "p0", "quality"),  # y
        ("x", "y", "a", "r4", "p0", "quality"),  # x
        ("x", "y", "b", "r5", "p0", "quality", "gold"),  # not a rated vote
        ("x", "y", "tie", "r1", "p1", "quality"),  # judged once: no agreement information
        ("x", "y", "a", "r1", "p0", "alignment"),
        ("y", "x", "b", "r2", "p0", "alignment"),
    ]
    table, question, labels = cell_table(_votes(rows))
    assert labels == ("alignment", "quality")
    got = {(labels[q], tuple(t)) for q, t in zip(question, table.tolist(), strict=True)}
    assert got == {
        ("quality", (3, 1, 0, 0)),
        ("quality", (0, 0, 1, 0)),
        ("alignment", (2, 0, 0, 0)),
    }
    ag = agreement_by_question(_votes(rows)).set_index("question")
    assert tuple(ag.reset_index().columns) == AGREEMENT_COLUMNS
    q = ag.loc["quality"]
    assert q.n_cells == 1 and q.n_judgements == 4
    assert q.percent_agreement == pytest.approx((9 + 1 - 4) / 12)
    assert q.fleiss_n_cells == 1 and q.fleiss_n_raters == 4
    a = ag.loc["alignment"]
    assert a.percent_agreement == 1.0 and np.isnan(a.krippendorff_alpha)


def test_simulated_agreement_is_higher_for_a_clear_truth():
    rng = np.random.default_rng(4)
    rows = []
    for noise, question in ((0.05, "clear"), (0.45, "close")):
        for p in range(40):
            truth = rng.random() < 0.5
            for r in range(5):
                swap = rng.random() < 0.5
                x_wins = truth != (rng.random() < noise)
                left, right = ("y", "x") if swap else ("x", "y")
                rows.append(
                    (left, right, "a" if x_wins != swap else "b", f"r{r}", f"p{p}", question)
                )
    ag = agreement_by_question(_votes(rows)).set_index("question")
    assert ag.loc["clear", "krippendorff_alpha"] > 0.6 > 0.2 > ag.loc["close", "krippendorff_alpha"]
    assert (ag["n_cells"] == 40).all() and (ag["fleiss_n_raters"] == 5).all()
    assert ag.loc["clear", "fleiss_kappa"] == pytest.approx(
        ag.loc["clear", "krippendorff_alpha"], abs=0.02
    )
