"""Number formatting shared by the terminal table and the HTML report.

Unbounded interval sides (separation, :mod:`analysis.separation`) are written out in words or as
one-sided bounds ("≥ 1189") rather than as numbers, so that no reader mistakes them for estimates.
"""

from __future__ import annotations

import math
import re


def _finite(v: object) -> bool:
    return isinstance(v, int | float) and math.isfinite(float(v))


def number(v: object, digits: int = 0) -> str:
    """``v`` rounded, ``+∞`` / ``−∞`` for infinities and an en dash for missing values."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "–"
    if isinstance(v, int | float) and math.isinf(v):
        return "+∞" if v > 0 else "−∞"
    return f"{float(v):.{digits}f}"


def rating(v: object, digits: int = 0) -> str:
    """A rating: the number, or "unbounded" when it has no finite estimate."""
    if _finite(v):
        return number(v, digits)
    return "unbounded" if v is not None and not math.isnan(float(v)) else "unidentified"


def interval(low: object, high: object, digits: int = 0, scale: float = 1.0, unit: str = "") -> str:
    """``[low, high]``, ``≥ low`` / ``≤ high`` with one open side, "unbounded" with two.

    Parameters
    ----------
    low, high : float
        Interval ends (``±inf`` for an open side, ``nan`` when not estimated).
    digits : int
        Decimals.
    scale : float
        Multiplier (100 for percentages).
    unit : str
        Suffix of each number ("%").
    """
    lo_ok = _finite(low)
    hi_ok = _finite(high)

    def f(v: object) -> str:
        return f"{float(v) * scale:.{digits}f}{unit}"

    if lo_ok and hi_ok:
        return f"[{f(low)}, {f(high)}]"
    if lo_ok and high is not None and float(high) == math.inf:
        return f"≥ {f(low)}"
    if hi_ok and low is not None and float(low) == -math.inf:
        return f"≤ {f(high)}"
    if low is not None and high is not None and float(low) == -math.inf and float(high) == math.inf:
        return "unbounded"
    if low is not None and float(low) == math.inf:
        return "unbounded above"
    if high is not None and float(high) == -math.inf:
        return "unbounded below"
    return "–"


def percent(v: object, digits: int = 0) -> str:
    """A proportion as a percentage (``0.625`` → ``62.5%`` with ``digits=1``)."""
    if not _finite(v):
        return "–"
    return f"{100 * float(v):.{digits}f}%"


def pvalue(p: object) -> str:
    """A p-value: three significant digits, ``< 0.001`` below that."""
    if not _finite(p):
        return "–"
    p = float(p)
    return "< 0.001" if p < 0.001 else f"{p:.3f}" if p < 0.1 else f"{p:.2f}"


def p_is(p: object) -> str:
    """``p = 0.012`` or ``p < 0.001`` (for running text)."""
    text = pvalue(p)
    return f"p {text}" if text.startswith("<") else f"p = {text}"


def slug(text: str) -> str:
    """``text`` as a file-name part (a question's CSV, ``pairwise_<slug>.csv``)."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("._") or "question"
