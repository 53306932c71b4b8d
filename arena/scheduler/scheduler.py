"""The :class:`Scheduler`: one store's catalogs, cell tables and rules.

The store calls it inside its transactions and persists what it returns; the scheduler keeps
what it may reuse across requests (catalogs, cell tables, the adaptive rule's fit) in the
instance, never at module level.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from sqlalchemy import Connection, Engine

from arena.scheduler.balance import arrange
from arena.scheduler.catalog import Catalog, catalog_stamp, load_catalog
from arena.scheduler.cells import DRAW_RANGE, CellTable, ensure_cells
from arena.scheduler.rules import Adaptive, Balanced, Rule
from arena.store import queries as q

if TYPE_CHECKING:
    from arena.study import Study

__all__ = ["Made", "Pick", "RULES", "Scheduler"]

#: The rules a study may name (``[scheduler] rule``).
RULES = ("balanced", "adaptive")
#: A cell table built in a transaction, cached by :meth:`Scheduler.remember` after it commits.
Made = tuple[Catalog, tuple, CellTable] | None


@dataclass(frozen=True)
class Pick:
    """A rated (or practice) trial to issue: images by id and the pair's probability."""

    prompt_pk: int
    question: str
    left: int
    right: int
    probability: float


class Scheduler:
    """Chooses rated trials for the studies of one store (one process).

    ``engine``: the store's engine, which the adaptive rule's refits read from in a thread of
    their own.
    """

    def __init__(self, engine: Engine) -> None:
        self._catalogs: dict[int, Catalog] = {}
        self._balanced = Balanced()
        self._adaptive = Adaptive(engine)

    # ------------------------------------------------------------------ catalog and cells
    def catalog(self, conn: Connection, study_id: int) -> Catalog:
        """The study's image catalog, rebuilt when ingest has added images since."""
        cached = self._catalogs.get(study_id)
        if cached is None or cached.stamp != catalog_stamp(conn):
            cached = self._catalogs[study_id] = load_catalog(conn, study_id)
        return cached

    def cached_catalog(self, study_id: int) -> Catalog | None:
        """The catalog last read for the study, without checking its stamp (image routes)."""
        return self._catalogs.get(study_id)

    def cells(self, conn: Connection, study: Study, sid: int) -> tuple[Catalog, CellTable, Made]:
        """The catalog and the cell table of the study's models and questions.

        A cell table made here is also returned as ``made``: the caller passes it to
        :meth:`remember` once the transaction has committed (its rows would be gone after a
        rollback).
        """
        cat = self.catalog(conn, sid)
        paired = study.scheduler.rule == "adaptive"
        key = (tuple(study.models), tuple(x.id for x in study.questions), paired)
        table = cat.tables.get(key)
        if table is not None:
            return cat, table, None
        cells, index = cat.cells(*key[:2])
        table = ensure_cells(conn, sid, cells, index, key[1], study.seed, paired)
        return cat, table, (cat, key, table)

    @staticmethod
    def remember(made: Made) -> None:
        """Cache a cell table in its catalog, after the transaction that made its rows."""
        if made is not None:
            cat, key, table = made
            cat.tables[key] = table

    # ------------------------------------------------------------------ the choice
    def rule(self, study: Study) -> Rule:
        """The study's rule (``[scheduler] rule``)."""
        return self._adaptive if study.scheduler.rule == "adaptive" else self._balanced

    def pick(
        self,
        conn: Connection,
        study: Study,
        sid: int,
        cat: Catalog,
        table: CellTable,
        trials: list[Any],
        rng: np.random.Generator,
        practice: bool,
    ) -> Pick | None:
        """The rater's next rated or practice trial; None when they have seen every cell.

        ``trials``: the rater's trials (:data:`arena.store.queries.RATER_TRIALS` rows). A
        rated trial counts in its cell's row; a practice trial, never analysed, leaves the
        counts alone and is always chosen by the balanced rule (it must not steer the fit).
        """
        models, index = cat.image_model, table.index
        seen = {index.get((t.prompt_id, *sorted((models[t.left], models[t.right])), t.question))
                for t in trials}  # fmt: skip
        rule = self._balanced if practice else self.rule(study)
        chosen = rule.choose(conn, study, sid, cat, table, seen, len(trials), rng)
        if chosen is None:
            return None
        cell, probability = chosen
        draw = int(rng.integers(DRAW_RANGE))
        if practice:
            issued = int(rng.integers(2 * len(table.seeds[cell])))
        else:
            bump = {"cell_id": table.row_id[cell], "draw": draw}
            issued = conn.execute(q.BUMP_CELL, bump).scalar_one() - 1
        pick = arrange(cell, table.seeds[cell], issued, table.offset[cell.question])
        return Pick(
            prompt_pk=cat.prompt_pk[cell.prompt],
            question=cell.question,
            left=cat.by_key[(cell.prompt, pick.left, pick.seed)],
            right=cat.by_key[(cell.prompt, pick.right, pick.seed)],
            probability=probability,
        )

    def settle(self) -> None:
        """Wait until no refit is running (for tests and benchmarks that need the fit)."""
        self._adaptive.settle()

    def close(self) -> None:
        """Stop background work (a running refit finishes first)."""
        self._adaptive.close()
