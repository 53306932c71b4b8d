"""The :class:`Store`: every read and write the arena makes, each in one short transaction."""

from __future__ import annotations

import math
import secrets
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import pandas as pd
from sqlalchemy import Connection, func, insert, select
from sqlalchemy.exc import IntegrityError

from arena.schedule import Cell, Choice, choose, rater_rng
from arena.store import frames
from arena.store import queries as q
from arena.store.catalog import Catalog, catalog_stamp, load_catalog
from arena.store.engine import IMMEDIATE, make_engine
from arena.store.schema import Base, RaterRow, StudyRow, TrialRow, VoteRow
from arena.store.types import Progress, RaterIdentity, TrialView, VoteReceipt, VoteRefused

if TYPE_CHECKING:
    from arena.study import Study

__all__ = ["Store", "TRIAL_KIND"]

TRIAL_KIND = "2afc"
_MAX_TOKEN = 100


class Store:
    """The arena database behind one SQLAlchemy URL (SQLite file by default).

    Tables are created on construction. The store caches study ids and a per-study image
    catalog in the instance (never at module level), so one store serves one process.
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self._writer = self.engine.execution_options(**{IMMEDIATE: True})
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
        if cached is None or cached.stamp != catalog_stamp(conn, study_id):
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
            rater_pk, source = row
            cat = self.catalog(conn, sid)
            cells, index = cat.cells(tuple(study.models), tuple(x.id for x in study.questions))
            total = min(study.quota, len(cells))
            answered, pending = conn.execute(q.RATER_PROGRESS, {"rater_pk": rater_pk}).one()

            def progress(trial: TrialView | None) -> Progress:
                return Progress(rater, source, int(answered), max(total, answered), trial)

            if pending is not None:
                token, prompt_pk, question, left, right = conn.execute(
                    q.TRIAL, {"trial_id": pending}
                ).one()
                return progress(self._view(study, cat, token, prompt_pk, question, left, right))
            if answered >= study.quota:
                return progress(None)
            pick = self._pick(conn, study, sid, rater, rater_pk, cells, index)
            if pick is None:
                return progress(None)
            values = {
                "study_id": sid,
                "rater_id": rater_pk,
                "prompt_id": cat.prompt_pk[pick.cell.prompt],
                "question": pick.cell.question,
                "kind": TRIAL_KIND,
                "left_image_id": cat.by_key[(pick.cell.prompt, pick.left, pick.seed)],
                "right_image_id": cat.by_key[(pick.cell.prompt, pick.right, pick.seed)],
                "token": secrets.token_urlsafe(24),
            }
            conn.execute(q.INSERT_TRIAL, values)
            return progress(
                self._view(
                    study,
                    cat,
                    values["token"],
                    values["prompt_id"],
                    values["question"],
                    values["left_image_id"],
                    values["right_image_id"],
                )
            )

    @staticmethod
    def _pick(
        conn: Connection,
        study: Study,
        sid: int,
        rater: str,
        rater_pk: int,
        cells: dict[Cell, tuple[int, ...]],
        index: dict[tuple[int, int, int, str], Cell],
    ) -> Choice | None:
        """Fetch every cell's count in one grouped query and let the scheduler choose."""
        rows = conn.execute(q.CELL_COUNTS, {"sid": sid, "rater_pk": rater_pk}).all()
        counts: dict[Cell, int] = defaultdict(int)
        seed_counts: dict[tuple, dict[int, int]] = defaultdict(lambda: defaultdict(int))
        seen: set[Cell] = set()
        issued = 0
        for prompt_pk, lo, hi, question, seed, n, n_mine in rows:
            issued += n_mine or 0
            cell = index.get((prompt_pk, lo, hi, question))
            if cell is None:  # a model or question the study no longer has
                continue
            counts[cell] += n
            seed_counts[(cell.prompt, cell.pair)][seed] += n
            if n_mine:
                seen.add(cell)
        return choose(cells, counts, seed_counts, seen, rater_rng(study.seed, rater, issued))

    @staticmethod
    def _view(
        study: Study,
        cat: Catalog,
        token: str,
        prompt_pk: int,
        question: str,
        left_id: int,
        right_id: int,
    ) -> TrialView:
        texts = {x.id: x.text for x in study.questions}
        return TrialView(
            token=token,
            prompt=cat.prompt_text[prompt_pk],
            question=question,
            question_text=texts.get(question, question),
            left=cat.refs[left_id],
            right=cat.refs[right_id],
        )

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
        if choice not in study.choices:
            allowed = ", ".join(study.choices)
            raise VoteRefused(f"'{choice}' is not a response this study accepts ({allowed}).")
        try:
            ms = float(decision_ms)
        except (TypeError, ValueError):
            ms = math.nan
        if not math.isfinite(ms) or ms < 0:
            raise VoteRefused("The decision time must be a finite, non-negative number of ms.")
        if not token or len(token) > _MAX_TOKEN:
            raise VoteRefused("This trial is not known; reload the page to continue.")
        with self.begin(write=True) as conn:
            sid = self.study_id(study.name, conn)
            found = self._find_trial(conn, sid, token)
            if found is None:
                raise VoteRefused("This trial is not known; reload the page to continue.")
            trial_id, owner, old = found
            if owner != rater:
                raise VoteRefused("This trial was issued to another rater.")
            if old is not None:
                return VoteReceipt(trial_id, old[0], old[1], recorded=False)
            try:
                with conn.begin_nested():
                    conn.execute(
                        q.INSERT_VOTE, {"trial_id": trial_id, "choice": choice, "decision_ms": ms}
                    )
            except IntegrityError:
                # A concurrent duplicate won the race (possible on PostgreSQL); it stands.
                found = self._find_trial(conn, sid, token)
                if found is None or found[2] is None:
                    raise
                return VoteReceipt(trial_id, found[2][0], found[2][1], recorded=False)
        return VoteReceipt(trial_id, choice, ms, recorded=True)

    @staticmethod
    def _find_trial(conn: Connection, sid: int, token: str):
        row = conn.execute(q.FIND_TRIAL, {"token": token, "sid": sid}).first()
        if row is None:
            return None
        trial_id, owner, choice, ms = row
        return trial_id, owner, (None if choice is None else (choice, ms))

    # ------------------------------------------------------------------ analysis
    def comparisons(self, study_name: str) -> pd.DataFrame:
        """One row per vote, in the DESIGN.md columns (see :func:`frames.comparisons`)."""
        with self.begin() as conn:
            return frames.comparisons(conn, study_name)

    def latencies(self, study_name: str) -> dict[str, float]:
        """Mean generation latency (ms) per model, from the ingested images."""
        with self.begin() as conn:
            return frames.latencies(conn, study_name)
