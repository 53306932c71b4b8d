"""The :class:`Store`: every read and write the arena makes, each in one short transaction."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import pandas as pd
from sqlalchemy import Connection, func, insert, select

from arena.schedule import arrange, choose, rater_rng
from arena.store import frames, votes
from arena.store import queries as q
from arena.store.catalog import Catalog, catalog_stamp, load_catalog, trial_view
from arena.store.cells import DRAW_RANGE, WINDOW, CellTable, ensure_cells
from arena.store.engine import IMMEDIATE, make_engine
from arena.store.schema import Base, RaterRow, StudyRow, TrialRow, VoteRow
from arena.store.types import Progress, RaterIdentity, TrialView, VoteReceipt, VoteRefused

if TYPE_CHECKING:
    from arena.study import Study

__all__ = ["Store", "TRIAL_KIND"]

TRIAL_KIND = "2afc"


class Store:
    """The arena database behind one SQLAlchemy URL (SQLite file by default).

    Tables are created on construction. The store caches study ids and a per-study image
    catalog in the instance (never at module level), so one store serves one process.
    ``serialized`` is True where the database runs one write transaction at a time (SQLite).
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self._writer = self.engine.execution_options(**{IMMEDIATE: True})
        # SQLite serialises writers (BEGIN IMMEDIATE): no race between a check and a write.
        self.serialized = self.engine.dialect.name == "sqlite"
        Base.metadata.create_all(self.engine)
        self._study_ids: dict[str, int] = {}
        self._catalogs: dict[int, Catalog] = {}

    @classmethod
    def open(cls, url: str) -> Store:
        """Open (and if needed create) the database at ``url``."""
        return cls(url)

    def close(self) -> None:
        """Release every pooled connection."""
        self.engine.dispose()

    def __repr__(self) -> str:
        return f"Store({self.engine.url.render_as_string(hide_password=True)!r})"

    @contextmanager
    def begin(self, write: bool = False) -> Iterator[Connection]:
        """One transaction; ``write=True`` takes SQLite's write lock up front."""
        with (self._writer if write else self.engine).begin() as conn:
            yield conn

    # ------------------------------------------------------------------ lookups
    def study_id(self, name: str, conn: Connection | None = None) -> int:
        """The database id of a study that was ingested; ``KeyError`` when it was not."""
        if name in self._study_ids:
            return self._study_ids[name]
        query = select(StudyRow.id).where(StudyRow.name == name)
        if conn is None:
            with self.begin() as c:
                sid = c.scalar(query)
        else:
            sid = conn.scalar(query)
        if sid is None:
            raise KeyError(f"Study '{name}' is not in the database {self!r}; run ingest first.")
        self._study_ids[name] = sid
        return sid

    def catalog(self, conn: Connection, study_id: int) -> Catalog:
        """The study's image catalog, rebuilt when ingest has added images since."""
        cached = self._catalogs.get(study_id)
        if cached is None or cached.stamp != catalog_stamp(conn):
            cached = self._catalogs[study_id] = load_catalog(conn, study_id)
        return cached

    def image_file(self, study_name: str, name: str) -> str | None:
        """The relative path of an ingested image named by its path or its sha256, else None.

        Called for every image the browser fetches, so the catalog's stamp is only re-checked
        when the name is unknown (the images may have been ingested after the catalog was read).
        """
        try:
            sid = self.study_id(study_name)
        except KeyError:
            return None
        cat = self._catalogs.get(sid)
        if cat is not None and name in cat.files:
            return cat.files[name]
        with self.begin() as conn:
            return self.catalog(conn, sid).files.get(name)

    def counts(self) -> dict[str, int]:
        """Row count of every table (for tests, health checks and the CLI)."""
        with self.begin() as conn:
            return {
                t.name: conn.scalar(select(func.count()).select_from(t)) or 0
                for t in Base.metadata.sorted_tables
            }

    # ------------------------------------------------------------------ raters
    def join(self, study: Study, who: RaterIdentity) -> str:
        """Register a rater (idempotent) and return their id.

        A rater coming back keeps the row made on their first visit.
        """
        with self.begin(write=True) as conn:
            sid = self.study_id(study.name, conn)
            exists = conn.scalar(
                select(RaterRow.id).where(RaterRow.study_id == sid, RaterRow.external_id == who.id)
            )
            if exists is None:
                conn.execute(
                    insert(RaterRow).values(
                        study_id=sid,
                        external_id=who.id,
                        source=who.source,
                        panel_study_id=who.panel_study_id,
                        panel_session_id=who.panel_session_id,
                        panel_assignment_id=who.panel_assignment_id,
                    )
                )
        return who.id

    def answered(self, study_name: str, rater: str) -> int:
        """How many trials this rater has answered."""
        with self.begin() as conn:
            sid = self.study_id(study_name, conn)
            return int(
                conn.scalar(
                    select(func.count(VoteRow.id))
                    .join(TrialRow, TrialRow.id == VoteRow.trial_id)
                    .join(RaterRow, RaterRow.id == TrialRow.rater_id)
                    .where(RaterRow.study_id == sid, RaterRow.external_id == rater)
                )
                or 0
            )

    # ------------------------------------------------------------------ trials
    def next_trial(self, study: Study, rater: str) -> Progress:
        """The trial this rater should see now.

        An unanswered trial is served again (a refresh resumes); otherwise a new one is issued
        by :mod:`arena.schedule`, unless the rater reached the quota or has seen every cell.
        """
        with self.begin(write=True) as conn:
            sid = self.study_id(study.name, conn)
            row = conn.execute(q.RATER, {"sid": sid, "rater": rater}).first()
            if row is None:
                raise VoteRefused("This rater is not known; open the study link again.")
            progress, made = self._next(conn, study, sid, rater, *row)
        _remember(made)
        return progress

    def vote_and_next(
        self, study: Study, rater: str, token: str, choice: str, decision_ms: float
    ) -> tuple[VoteReceipt, Progress]:
        """:meth:`record_vote` then :meth:`next_trial`, in one transaction (the hot path).

        A refused vote raises :class:`VoteRefused` and writes nothing, as ``record_vote`` does;
        an accepted one is committed together with the next trial it leads to.
        """
        ms = votes.checked(study, token, choice, decision_ms)
        with self.begin(write=True) as conn:
            sid = self.study_id(study.name, conn)
            receipt, rater_pk, source = votes.record(
                conn, sid, rater, token, choice, ms, self.serialized
            )
            progress, made = self._next(conn, study, sid, rater, rater_pk, source)
        _remember(made)
        return receipt, progress

    def prepare(self, study: Study) -> bool:
        """Build the study's catalog and scheduling cells now (at server start), rather than
        on the first rater's request; ``False`` when the study has not been ingested."""
        try:
            sid = self.study_id(study.name)
        except KeyError:
            return False
        with self.begin(write=True) as conn:
            made = self._cells(conn, study, sid)[2]
        _remember(made)
        return True

    def _cells(self, conn: Connection, study: Study, sid: int) -> tuple[Catalog, CellTable, _Made]:
        """The catalog and the cell table of the study's models and questions.

        A cell table made here is also returned as ``made``: the caller caches it only once the
        transaction has committed (its rows would be gone after a rollback).
        """
        cat = self.catalog(conn, sid)
        key = (tuple(study.models), tuple(x.id for x in study.questions))
        table = cat.tables.get(key)
        if table is not None:
            return cat, table, None
        cells, index = cat.cells(*key)
        table = ensure_cells(conn, sid, cells, index, key[1], study.seed)
        return cat, table, (cat, key, table)

    def _next(
        self, conn: Connection, study: Study, sid: int, rater: str, rater_pk: int, source: str
    ) -> tuple[Progress, _Made]:
        """The rater's progress and trial to show, issuing one when none is pending."""
        cat, table, made = self._cells(conn, study, sid)
        total = min(study.quota, len(table.seeds))
        trials = conn.execute(q.RATER_TRIALS, {"sid": sid, "rater_pk": rater_pk}).all()
        answered = sum(1 for t in trials if t[6] is not None)

        def progress(trial: TrialView | None) -> Progress:
            return Progress(rater, source, answered, max(total, answered), trial)

        pending = next((t for t in trials if t[6] is None), None)
        if pending is not None:
            return progress(trial_view(cat, study, *pending[1:6])), made
        if answered >= study.quota:
            return progress(None), made
        models, index = cat.image_model, table.index
        seen = set()
        for _, _, prompt_pk, question, left, right, _ in trials:
            a, b = sorted((models[left], models[right]))
            seen.add(index.get((prompt_pk, a, b, question)))
        rng = rater_rng(study.seed, rater, len(trials))
        # k covers every cell the rater has seen plus a window of unseen ones (see cells.py).
        rows = conn.execute(q.LEAST_SERVED, {"sid": sid, "k": len(trials) + WINDOW}).all()
        cell = choose(table.candidates(rows), seen, rng)
        if cell is None:
            return progress(None), made
        draw = int(rng.integers(DRAW_RANGE))
        n = conn.execute(q.BUMP_CELL, {"cell_id": table.row_id[cell], "draw": draw}).scalar_one()
        pick = arrange(cell, table.seeds[cell], n - 1, table.offset[cell.question], rng)
        prompt_pk = cat.prompt_pk[cell.prompt]
        left = cat.by_key[(cell.prompt, pick.left, pick.seed)]
        right = cat.by_key[(cell.prompt, pick.right, pick.seed)]
        token = secrets.token_urlsafe(24)
        conn.execute(
            q.INSERT_TRIAL,
            {
                "study_id": sid,
                "rater_id": rater_pk,
                "prompt_id": prompt_pk,
                "question": cell.question,
                "kind": TRIAL_KIND,
                "left_image_id": left,
                "right_image_id": right,
                "token": token,
            },
        )
        return progress(trial_view(cat, study, token, prompt_pk, cell.question, left, right)), made

    # ------------------------------------------------------------------ votes
    def record_vote(
        self, study: Study, rater: str, token: str, choice: str, decision_ms: float
    ) -> VoteReceipt:
        """Record one vote, in one short transaction.

        Accepted only for a trial issued to ``rater`` in this study and not yet answered. A
        repeat for an answered trial writes nothing and returns the first vote's receipt (so a
        double click or a retried request is harmless).

        Raises
        ------
        VoteRefused
            For an unknown token, another rater's trial, a response the study does not offer, or
            a decision time that is not a finite non-negative number.
        """
        ms = votes.checked(study, token, choice, decision_ms)
        with self.begin(write=True) as conn:
            sid = self.study_id(study.name, conn)
            return votes.record(conn, sid, rater, token, choice, ms, self.serialized)[0]

    # ------------------------------------------------------------------ analysis
    def comparisons(self, study_name: str) -> pd.DataFrame:
        """One row per vote, in the DESIGN.md columns (see :func:`frames.comparisons`)."""
        with self.begin() as conn:
            return frames.comparisons(conn, study_name)

    def latencies(self, study_name: str) -> dict[str, float]:
        """Mean generation latency (ms) per model, from the ingested images."""
        with self.begin() as conn:
            return frames.latencies(conn, study_name)


_Made = tuple[Catalog, tuple, CellTable] | None


def _remember(made: _Made) -> None:
    """Cache a cell table in its catalog, after the transaction that made its rows committed."""
    if made is not None:
        cat, key, table = made
        cat.tables[key] = table
