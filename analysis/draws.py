"""One resampling of a study's clusters, shared by every subset that is bootstrapped.

Raters answer several questions and vote in several prompt categories, so one draw of raters
is applied to every question and every category: the "all" interval then accounts for raters
answering several questions. :class:`StudyDraw` holds that draw and gives each subset's counts
the weights of their clusters.

Two-way clustering (``rater+prompt``) resamples raters and prompts independently and weights a
vote by the product of its rater's and its prompt's draw counts: the pigeonhole bootstrap
(Owen 2007, Ann. Appl. Stat. 1:380), which is conservative (it counts the rater-by-prompt
interaction twice) where a rater-only bootstrap ignores prompt effects.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from analysis.bootstrap import cluster_weights
from analysis.counts import ComparisonCounts
from analysis.frame import EncodedComparisons
from analysis.modes import BOOTSTRAP_UNITS, PROMPT, RATER, RATER_PROMPT, VOTE
from analysis.types import FloatArray

#: Largest weight matrix (replicates × rater-by-prompt cells) a two-way draw may build: 800 MB.
MAX_TWO_WAY_WEIGHTS = 100_000_000


@dataclass(frozen=True)
class StudyDraw:
    """Cluster draw counts of ``n_boot`` replicates for the whole study.

    Attributes
    ----------
    unit : str
        ``rater``, ``prompt``, ``rater+prompt`` or ``vote`` (no shared draw: votes are drawn
        per subset).
    weights : ndarray, shape (B, L), or None
        Draw counts per label of the unit (raters for ``rater+prompt``).
    prompt_weights : ndarray, shape (B, P), or None
        Two-way only: draw counts per prompt.
    n_prompts : int
        Prompt labels in the study (decodes rater-by-prompt cluster ids).
    """

    unit: str
    weights: FloatArray | None
    prompt_weights: FloatArray | None = None
    n_prompts: int = 0

    @property
    def counted_units(self) -> tuple[str, ...]:
        """Cluster tables the counts need for this draw."""
        if self.unit == VOTE:
            return ()
        return (RATER, PROMPT, RATER_PROMPT) if self.unit == RATER_PROMPT else (self.unit,)

    def for_counts(self, counts: ComparisonCounts) -> FloatArray | None:
        """Weights of ``counts``' clusters, shape ``(B, C)`` (None for a vote bootstrap)."""
        if self.weights is None:
            return None
        if self.unit != RATER_PROMPT:
            return self.weights[:, counts.cluster(self.unit).ids]
        ids = counts.cluster(RATER_PROMPT).ids
        size = self.weights.shape[0] * len(ids)
        if size > MAX_TWO_WAY_WEIGHTS:
            raise ValueError(
                f"a two-way (rater+prompt) bootstrap of {len(ids):,} rater-by-prompt cells with "
                f"{self.weights.shape[0]} replicates needs {size * 8 / 1e9:.1f} GB of weights; "
                "expected at most 0.8 GB: use fewer replicates (--bootstrap) or --cluster rater"
            )
        assert self.prompt_weights is not None
        return self.weights[:, ids // self.n_prompts] * self.prompt_weights[:, ids % self.n_prompts]

    def n_clusters(self, counts_list: Sequence[ComparisonCounts]) -> int | None:
        """Clusters behind an interval over ``counts_list`` (None for votes).

        Clusters with votes in any of the counts; for two-way the fewer of raters and prompts,
        the degrees of freedom two-way inference has (Cameron, Gelbach & Miller 2011).
        """
        if self.unit == VOTE:
            return None
        if self.unit != RATER_PROMPT:
            return _distinct([c.cluster(self.unit).ids for c in counts_list])
        return min(_distinct([c.cluster(u).ids for c in counts_list]) for u in (RATER, PROMPT))


def _distinct(ids: Sequence[np.ndarray]) -> int:
    return len(np.unique(np.concatenate(ids))) if len(ids) > 1 else len(ids[0])


def study_draw(
    enc: EncodedComparisons, unit: str, n_boot: int, rng: np.random.Generator
) -> StudyDraw:
    """Draw the study's clusters once for ``n_boot`` replicates.

    Parameters
    ----------
    enc : EncodedComparisons
        The rated votes.
    unit : {"rater", "prompt", "rater+prompt", "vote"}
        What is resampled.
    n_boot : int
        Replicates ``B``.
    rng : numpy.random.Generator
        Randomness source (the study's seed).
    """
    if unit not in BOOTSTRAP_UNITS:
        raise ValueError(
            f"cluster must be one of {', '.join(map(repr, BOOTSTRAP_UNITS))}; got {unit!r}"
        )
    if unit == VOTE:
        return StudyDraw(unit, None)
    if unit != RATER_PROMPT:
        return StudyDraw(unit, cluster_weights(len(enc.labels(unit)), n_boot, rng))
    n_prompts = len(enc.labels("prompt"))
    raters = cluster_weights(len(enc.labels("rater")), n_boot, rng)
    return StudyDraw(unit, raters, cluster_weights(n_prompts, n_boot, rng), n_prompts)
