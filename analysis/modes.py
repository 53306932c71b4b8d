"""The words of the analysis settings, each defined once: tie modes and cluster units.

The fits (:mod:`analysis.bt`, :mod:`analysis.bootstrap`), the counts (:mod:`analysis.counts`),
:func:`analysis.study.analyze`, the report's methods section (:mod:`analysis.present.html`) and the
``arena report`` options (``--ties``, ``--cluster``) all read them from here. No imports: the CLI
reads this module before it loads the analysis stack.
"""

from __future__ import annotations

__all__ = [
    "BOOTSTRAP_UNITS",
    "BOOTSTRAP_UNIT_TEXT",
    "CLUSTER_UNITS",
    "DAVIDSON",
    "DEFAULT_TIE_MODE",
    "EXCLUDE",
    "HALF",
    "MODEL",
    "PROMPT",
    "RATER",
    "RATER_PROMPT",
    "TIE_MODES",
    "TIE_MODE_TEXT",
    "VOTE",
]

DAVIDSON, HALF, EXCLUDE = "davidson", "half", "exclude"
#: Tie treatments of the Bradley–Terry fit: Davidson's tie parameter, half a win each
#: (FastChat), or dropping ties.
TIE_MODES: tuple[str, ...] = (DAVIDSON, HALF, EXCLUDE)
DEFAULT_TIE_MODE = DAVIDSON
#: What each tie mode means, as the report's methods section says it.
TIE_MODE_TEXT: dict[str, str] = {
    DAVIDSON: "ties are a third outcome with Davidson's (1970) tie parameter",
    HALF: "a tie counts as half a win for each model (FastChat convention)",
    EXCLUDE: "ties are excluded from the fit",
}

RATER, PROMPT, VOTE = "rater", "prompt", "vote"
#: No clustering beyond the model pair: analysis.robust's model-based covariance.
MODEL = "model"
#: The intersection of a rater and a prompt, for two-way cluster-robust covariances
#: (Cameron, Gelbach & Miller 2011).
RATER_PROMPT = "rater+prompt"
#: Cluster units :func:`analysis.counts.count_comparisons` counts per cluster.
CLUSTER_UNITS: tuple[str, ...] = (RATER, PROMPT, "category", "question", RATER_PROMPT)
#: Units the study's bootstrap resamples (``analyze(cluster=...)``, ``arena report
#: --cluster``); ``vote`` resamples votes independently, ``rater+prompt`` raters and prompts
#: both (:mod:`analysis.draws`).
BOOTSTRAP_UNITS: tuple[str, ...] = (RATER, PROMPT, RATER_PROMPT, VOTE)
#: What resampling each unit means, as the report's methods section says it.
BOOTSTRAP_UNIT_TEXT: dict[str, str] = {
    RATER: "raters were resampled with replacement (all of a rater's votes together; one "
    "draw shared by every question)",
    PROMPT: "prompts were resampled with replacement",
    RATER_PROMPT: "raters and prompts were resampled independently, each vote weighted by the "
    "product of its rater's and its prompt's draws (pigeonhole bootstrap, Owen 2007), and win "
    "rates use two-way design effects (Cameron, Gelbach & Miller 2011)",
    VOTE: "votes were resampled independently (ignores within-rater correlation)",
}
