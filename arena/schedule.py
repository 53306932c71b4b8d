"""The balanced rule's pure logic, kept importable under its old name.

Scheduling lives in :mod:`arena.scheduler`; this module re-exports
:mod:`arena.scheduler.balance` so that code written against ``arena.schedule`` keeps working.
"""

from arena.scheduler.balance import (
    Cell,
    Choice,
    SessionPlan,
    arrange,
    cells_for,
    choose,
    rater_rng,
    seed_for,
    session_plan,
)

__all__ = [
    "Cell",
    "Choice",
    "SessionPlan",
    "arrange",
    "cells_for",
    "choose",
    "rater_rng",
    "seed_for",
    "session_plan",
]
