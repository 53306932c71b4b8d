"""Trial scheduling: the study's image catalog, its cell counts and the choice of the next pair.

:class:`~arena.scheduler.scheduler.Scheduler` owns all three for one store; the store only
persists what it decides. The choice of model pair is a *rule* (``[scheduler] rule`` of the
study file): ``balanced`` (:mod:`arena.scheduler.balance`, the default) serves every cell evenly;
``adaptive`` (:mod:`arena.scheduler.adaptive`) serves the pair whose next vote most narrows
the study's targets. Either way prompt, question, seed and side are then balanced within the
pair, and every trial records the probability with which its pair was chosen.
"""

# The store imports this package's modules and they import the store's schema and queries:
# loading the store first keeps one import order whichever module a caller names first.
import arena.store  # noqa: F401
