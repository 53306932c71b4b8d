"""The sentences that open a report: one per declared comparison and question.

Kept apart from :mod:`analysis.claims` so the statistics and their wording change separately;
the same sentences go to the terminal, the HTML report and the JSON ``comparisons`` list.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from analysis.present.fmt import p_is, percent, pvalue


def _points(share: float) -> str:
    return f"{100 * share:.3g} points"


def _claim_words(row: Mapping[str, Any], a: str, b: str) -> str:
    """The claim as a clause, e.g. "the claim that A is not worse than B by more than 5 points"."""
    m = row["margin"]
    if row["claim"] == "non-inferiority":
        return (
            f"the claim that {a} is not worse than {b} by more than {_points(m)} "
            f"(a win rate above {percent(0.5 - m)})"
        )
    if row["claim"] == "equivalence":
        return (
            f"the claim that {a} and {b} are equivalent within ±{_points(m)} "
            f"(a win rate from {percent(0.5 - m)} to {percent(0.5 + m)})"
        )
    return "a difference between them"


def _shown(verdict: str) -> str:
    return "is not shown" if verdict.endswith("not shown") else "is shown"


def _preferred(row: Mapping[str, Any], a: str, b: str, level: float) -> str:
    """Who was preferred, in what share of decisive votes, with the rater-adjusted interval."""
    rate, low, high = row["win_rate"], row["ci_low"], row["ci_high"]
    if rate < 0.5:
        a, b, rate, low, high = b, a, 1 - rate, 1 - high, 1 - low
    ci = f"{level:.0%} CI {percent(low)}–{percent(high)}, {_clusters(row)}"
    n = row["n_decisive"]
    if rate == 0.5:
        return f"{a} and {b} were each preferred in half of {n} decisive votes ({ci})"
    return f"{a} was preferred to {b} in {percent(rate)} of {n} decisive votes ({ci})"


def _clusters(row: Mapping[str, Any]) -> str:
    """What the interval counted as independent: "12 raters", "12 raters and 20 prompts"."""
    n = row["n_raters"]
    if row.get("cluster") == "rater+prompt":
        return f"{n} raters and {row['n_prompts']} prompts"
    if row.get("cluster") == "prompt":
        return f"{n} prompts"
    if row.get("cluster") == "vote":
        return "votes taken as independent"
    return f"{n} raters"


def _finite(v: Any) -> bool:
    return v is not None and isinstance(v, int | float) and math.isfinite(v)


def bt_words(row: Mapping[str, Any], a: str, b: str, level: float = 0.95) -> str:
    """The Bradley–Terry answer in a sentence, about the head-to-head's winner ("" if none)."""
    p, low, high = row["bt_win_rate"], row["bt_ci_low"], row["bt_ci_high"]
    if not _finite(p):
        return ""
    if _finite(row["win_rate"]) and row["win_rate"] < 0.5:
        a, b, p, low, high = b, a, 1 - p, 1 - high, 1 - low
    ci = (
        f" ({level:.0%} CI {percent(low)}–{percent(high)})"
        if _finite(low) and _finite(high)
        else ""
    )
    return (
        f"Bradley–Terry, pooling every model's votes, predicts {a} preferred to {b} in "
        f"{percent(p)}{ci}."
    )


def disagreement_words(row: Mapping[str, Any]) -> str:
    """Why the head-to-head and the pooled answers differ, and whether to trust the pooled one."""
    if row["verdict"] == "not tested" or row["agree"] or row["bt_verdict"] == "not tested":
        return ""
    why = (
        "The two answers differ: the head-to-head uses only the votes between these two "
        "models, Bradley–Terry also the votes through the other models and assumes preferences "
        "are transitive"
    )
    p, df = row["fit_p_value"], row["fit_df"]
    if not _finite(p) or df == 0:
        return why + "; with these pairs its fit cannot be tested."
    fit = f"χ² = {row['fit_statistic']:.1f} on {df} df, {p_is(p)}"
    if p < 0.05:
        return (
            why + f"; it does not fit the head-to-head win rates ({fit}): trust the head-to-head."
        )
    return (
        why + f"; it fits the head-to-head win rates ({fit}), so the pooled answer is the "
        "more precise one."
    )


#: Two-way intervals this much wider than the rater-clustered ones are mentioned.
PROMPT_WIDENING = 1.1


def prompt_words(row: Mapping[str, Any]) -> str:
    """Where votes also cluster by prompt: the two-way interval, if it is a tenth wider or more."""
    low, high = row.get("two_way_ci_low"), row.get("two_way_ci_high")
    if not (_finite(low) and _finite(high) and _finite(row["ci_low"]) and _finite(row["ci_high"])):
        return ""
    one = row["ci_high"] - row["ci_low"]
    if one <= 0 or (high - low) < PROMPT_WIDENING * one:
        return ""
    rate = row["win_rate"]
    if _finite(rate) and rate < 0.5:  # worded about the preferred model, as the head is
        low, high = 1 - high, 1 - low
    return (
        f"Votes also cluster by prompt here: counting the {row['n_prompts']} prompts as clusters "
        f"too (two-way, Cameron, Gelbach & Miller 2011) widens the interval to "
        f"{percent(low)}–{percent(high)} ({p_is(row['two_way_p_value'])}, unadjusted); "
        "arena report --cluster rater+prompt uses it throughout."
    )


def claim_sentence(
    row: Mapping[str, Any], names: Mapping[str, str], *, n_tests: int, level: float = 0.95
) -> str:
    """The answer to a declared comparison on one question, in a sentence (or two).

    Who was preferred, in what share of decisive votes with the rater-adjusted interval, the
    verdict against the claim with its p-value and Holm-adjusted p-value, then the pooled
    Bradley–Terry answer and, when the two disagree, why.
    """
    a = str(names.get(row["model_a"], row["model_a"]))
    b = str(names.get(row["model_b"], row["model_b"]))
    q = row["question"]
    claim = _claim_words(row, a, b)
    if row["verdict"] == "not tested":
        head = f"{q}: {a} against {b}: not tested, {row['note']}."
        return " ".join(part for part in (head, bt_words(row, a, b, level)) if part)
    holm = f"Holm-adjusted over {n_tests}: {pvalue(row['p_adjusted'])}"
    verdict = row["verdict"]
    if row["claim"] == "superiority":
        significant = verdict != "no difference shown"
        result = f"the difference is {'' if significant else 'not '}significant"
    else:
        result = f"{claim} {_shown(verdict)}"
    head = f"{q}: {_preferred(row, a, b, level)}; {result} ({p_is(row['p_value'])}, {holm})."
    parts = (
        head,
        prompt_words(row),
        bt_words(row, a, b, level),
        disagreement_words(row),
    )
    return " ".join(part for part in parts if part)
