"""The scheduler's view of the ``cell_counts`` table: create its rows once, then pick cheaply.

Per vote the store reads the rater's own trials (at most the quota) and the ``k`` least-served
cells of the study, ``k`` = the rater's trials + :data:`WINDOW`. Among any ``k`` cells at most
``len(seen)`` were seen by the rater, so at least ``WINDOW`` unseen cells are read whenever the
study has them, and the least-served unseen cell of the whole study is always among them: the
pick is exact, and it costs O(quota + log cells) whatever the number of votes.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from sqlalchemy import Connection, bindparam, func, insert, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased

from arena.scheduler.balance import Cell
from arena.store.schema import CellCountRow, ImageRow, TrialRow, VoteRow

__all__ = ["CellTable", "DRAW_RANGE", "LEAST_SERVED_PAIR", "WINDOW", "WINS", "ensure_cells"]

#: Unseen least-served cells read beyond the rater's own trials. Ties among them are drawn by
#: the rater's generator; a few are enough, since ``draw`` already shuffles each round.
WINDOW = 16
#: ``draw`` values are uniform in [0, DRAW_RANGE) (fits a 32-bit INTEGER everywhere).
DRAW_RANGE = 1 << 30

#: (id, n) of the ``k`` least-served active cells of one model pair (``lo`` < ``hi``, models.id),
#: in (n, draw) order: the adaptive rule's read, through the partial ``ix_cell_counts_paired``
#: (``paired`` is set on exactly the active cells of adaptive studies, see :func:`ensure_cells`;
#: the bare ``paired`` term is what lets SQLite use the partial index). Plain SQL, like
#: :data:`arena.store.queries.LEAST_SERVED`: a LIMIT without SQLAlchemy's OFFSET on SQLite.
LEAST_SERVED_PAIR = text(
    "SELECT id, n FROM cell_counts WHERE study_id = :sid AND model_lo = :lo"
    " AND model_hi = :hi AND paired ORDER BY n, draw LIMIT :k"
)

_LEFT, _RIGHT = aliased(ImageRow), aliased(ImageRow)
#: (left models.id, right models.id, choice, votes) of a study's rated trials: what the adaptive
#: rule refits from, in a thread of its own (a grouped scan of the study's votes, never on the
#: vote's path).
WINS = (
    select(_LEFT.model_id, _RIGHT.model_id, VoteRow.choice, func.count(VoteRow.id))
    .select_from(VoteRow)
    .join(TrialRow, TrialRow.id == VoteRow.trial_id)
    .join(_LEFT, _LEFT.id == TrialRow.left_image_id)
    .join(_RIGHT, _RIGHT.id == TrialRow.right_image_id)
    .where(TrialRow.study_id == bindparam("sid"), TrialRow.kind == "2afc")
    .group_by(_LEFT.model_id, _RIGHT.model_id, VoteRow.choice)
)

DbKey = tuple[int, int, int, str]  # (prompts.id, lower models.id, higher models.id, question)


@dataclass(frozen=True)
class CellTable:
    """The study's schedulable cells and their ``cell_counts`` rows, for one process."""

    by_id: dict[int, Cell]  # cell_counts.id -> cell (active rows only)
    row_id: dict[Cell, int]  # cell -> cell_counts.id
    seeds: dict[Cell, tuple[int, ...]]  # cell -> seeds both images exist for
    index: dict[DbKey, Cell]  # database key -> cell
    offset: dict[str, int]  # question -> its position (where its seed rotation starts)
    per_pair: Counter[tuple[str, str]] = field(default_factory=Counter)  # pair -> active cells

    def candidates(self, rows: Iterable[Sequence[int]]) -> list[tuple[Cell, int]]:
        """``(cell, n)`` of :data:`~arena.store.queries.LEAST_SERVED` rows, in their order."""
        by_id = self.by_id
        # A row of a cell another process activated after this table was built is skipped.
        return [(by_id[rid], n) for rid, n in rows if rid in by_id]


def ensure_cells(
    conn: Connection,
    sid: int,
    cells: Mapping[Cell, tuple[int, ...]],
    index: Mapping[DbKey, Cell],
    questions: Sequence[str],
    study_seed: int,
    paired: bool = False,
) -> CellTable:
    """Create the missing ``cell_counts`` rows of ``cells`` and mark exactly them active.

    ``paired``: also mark exactly them ``paired`` (a study on the adaptive rule, which reads
    them through the partial ``ix_cell_counts_paired``); otherwise no row of the study is,
    and its votes never touch that index.

    A missing row starts at ``n = 0``: every trial of a cell is counted in its row, which
    exists before the cell's first trial (the table is part of every schema revision, see
    :mod:`arena.store.migrate`). Runs once per process (and after an ingest adds images), not
    per vote.
    Two processes starting at once on PostgreSQL may both insert; the loser retries once, when
    the winner's rows are committed.
    """
    for attempt in range(2):
        try:
            with conn.begin_nested():
                return _ensure(conn, sid, cells, index, questions, study_seed, paired)
        except IntegrityError:
            if attempt:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


def _ensure(
    conn: Connection,
    sid: int,
    cells: Mapping[Cell, tuple[int, ...]],
    index: Mapping[DbKey, Cell],
    questions: Sequence[str],
    study_seed: int,
    paired: bool,
) -> CellTable:
    c = CellCountRow
    read = select(c.id, c.prompt_id, c.model_lo, c.model_hi, c.question, c.active, c.paired)
    read = read.where(c.study_id == sid)
    have = {(p, lo, hi, qn): (rid, bool(a), bool(pa))
            for rid, p, lo, hi, qn, a, pa in conn.execute(read)}  # fmt: skip
    missing = [key for key in index if key not in have]
    if missing:
        # Seeded by the study, so a replayed study starts from the same order of cells.
        draws = np.random.default_rng([study_seed & 0xFFFFFFFFFFFFFFFF, sid]).integers(
            DRAW_RANGE, size=len(missing)
        )
        conn.execute(
            insert(c),
            [
                {
                    "study_id": sid,
                    "prompt_id": p,
                    "model_lo": lo,
                    "model_hi": hi,
                    "question": qn,
                    "n": 0,
                    "draw": int(draw),
                    "active": True,
                    "paired": paired,
                }
                for (p, lo, hi, qn), draw in zip(missing, draws, strict=True)
            ],
        )
        have = {(p, lo, hi, qn): (rid, bool(a), bool(pa))
                for rid, p, lo, hi, qn, a, pa in conn.execute(read)}  # fmt: skip
    # Cells of models or questions the study no longer has must not sit at the front of the
    # pick forever; cells that came back are active again. A study that changed its rule
    # gets its cells in or out of the adaptive rule's index.
    flips = [
        {"rid": rid, "on": key in index, "pair": paired and key in index}
        for key, (rid, active, was_paired) in have.items()
        if (active, was_paired) != (key in index, paired and key in index)
    ]
    if flips:
        stmt = update(c).where(c.id == bindparam("rid"))
        conn.execute(stmt.values(active=bindparam("on"), paired=bindparam("pair")), flips)
    by_id = {rid: index[key] for key, (rid, _, _) in have.items() if key in index}
    return CellTable(
        by_id=by_id,
        row_id={cell: rid for rid, cell in by_id.items()},
        seeds=dict(cells),
        index=dict(index),
        offset={qn: i for i, qn in enumerate(questions)},
        per_pair=Counter(cell.pair for cell in by_id.values()),
    )
