"""The settings of :func:`analysis.study.analyze`, each with its default and help in one place.

:class:`AnalysisSettings` holds what a user chooses; the ``settings`` dict of a
:class:`analysis.result.StudyAnalysis` (and of the report's JSON) is built from it by
:func:`settings_record`, together with the facts of the votes and the one-line method
descriptions the report's methods section shows, so its keys stay what JSON consumers read.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

from analysis.bt import DEFAULT_RIDGE
from analysis.modes import BOOTSTRAP_UNITS, DEFAULT_TIE_MODE, RATER, TIE_MODES
from analysis.robust import ROBUST_UNITS
from analysis.smallsample import SMALL_SAMPLE_METHOD

__all__ = ["ELO_BUDGET", "AnalysisSettings", "method_text"]

#: Vote updates (votes × shuffled orders) the SDXL Turbo online Elo may spend: about 0.4 s of the
#: compiled kernel on two cores (benchmarks/analysis_speed.py).
ELO_BUDGET = 60_000_000


def _setting(default: Any, help: str) -> Any:  # noqa: A002 - the word the CLI uses too
    return field(default=default, metadata={"help": help})


@dataclass(frozen=True)
class AnalysisSettings:
    """What :func:`analysis.study.analyze` is asked to do; ``help(field)`` via :meth:`help`."""

    seed: int = _setting(0, "seed of the bootstrap and of the Elo shuffles")
    n_boot: int = _setting(1000, "bootstrap replicates")
    tie_mode: str = _setting(
        DEFAULT_TIE_MODE, "tie treatment of the Bradley–Terry fit (analysis.modes.TIE_MODES)"
    )
    cluster: str = _setting(
        RATER,
        "bootstrap resampling unit and cluster unit of the win rates' design effects "
        "(analysis.modes.BOOTSTRAP_UNITS); one draw is shared by every question",
    )
    anchor: str | None = _setting(None, "model fixed at 1000 (None: mean rating 1000)")
    level: float = _setting(0.95, "interval coverage")
    elo_orders: int = _setting(
        1000, "shuffled orders of the SDXL Turbo online Elo (0 skips it), within elo_budget"
    )
    elo_budget: int = _setting(
        ELO_BUDGET, "vote updates (votes × orders) the shuffled online Elo may take"
    )
    ridge: float = _setting(DEFAULT_RIDGE, "ridge of the Bradley–Terry fits")
    robust_cluster: str = _setting(
        RATER,
        "clustering of the sandwich covariance (se_robust, design effect, position test; "
        "analysis.robust.ROBUST_UNITS)",
    )
    breakdown_by: str | None = _setting("category", "column to break ratings down by, or None")
    reference_model: str | None = _setting(
        None, "model of the default comparisons (None: the model with the most votes)"
    )
    alpha: float = _setting(0.05, "family-wise error rate of the comparisons' verdicts (Holm)")
    small_sample: bool = _setting(
        True, "few-cluster corrections with G - 1 degrees of freedom (analysis.smallsample)"
    )

    def __post_init__(self) -> None:
        for name, allowed in (
            ("tie_mode", TIE_MODES),
            ("cluster", BOOTSTRAP_UNITS),
            ("robust_cluster", ROBUST_UNITS),
        ):
            value = getattr(self, name)
            if value not in allowed:
                raise ValueError(
                    f"{name} must be one of {', '.join(map(repr, allowed))}; got {value!r}"
                )
        if not 0 < self.level < 1:
            raise ValueError(f"level must lie in (0, 1); got {self.level}")
        if self.n_boot < 1:
            raise ValueError(f"n_boot must be at least 1; got {self.n_boot}")

    @classmethod
    def help(cls) -> dict[str, str]:
        """Each setting's one-line help, by name."""
        return {f.name: f.metadata["help"] for f in fields(cls)}

    def record(self) -> dict[str, Any]:
        """The settings as the ``settings`` dict of a result names them."""
        keys = ("seed", "n_boot", "cluster", "robust_cluster", "tie_mode", "level", "anchor")
        return {k: getattr(self, k) for k in (*keys, "ridge", "breakdown_by")}


def method_text(settings: AnalysisSettings, elo_orders_used: int) -> dict[str, str]:
    """The one-line description of each method, as the report's methods section shows it."""
    small = settings.small_sample
    turbo = f"online Elo, K=1, mean over {elo_orders_used} shuffled orders (seed {settings.seed})"
    return {
        "combine": "mean over questions of per-question ratings (Sauer et al. 2023)",
        "elo_online": "FastChat online Elo, K=4, votes in the given order (order-dependent); "
        "both bad scored as a tie, as FastChat does",
        "elo_sdxl_turbo": turbo if elo_orders_used > 0 else "not computed",
        "win_rate_ties": "excluded",
        "interval": "expanded percentile bootstrap" if small else "percentile bootstrap",
        "rank_interval": "simultaneous, max-|t| over bootstrap replicates (Klein et al. 2020)"
        + (", critical value on t with G-1 df" if small else ""),
        "small_sample": SMALL_SAMPLE_METHOD if small else "none",
        "separation": "profile likelihood for the finite side of an unbounded rating",
    }
