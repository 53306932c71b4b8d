"""The :class:`Store`: every read and write the arena makes, each in one short transaction."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from sqlalchemy import Connection, func, insert, select

from arena.scheduler.balance import SessionPlan, rater_rng, session_plan
from arena.scheduler.catalog import Catalog, trial_view
from arena.scheduler.scheduler import Made, Scheduler
from arena.store import frames, imageset, overview, raters, votes
from arena.store import queries as q
from arena.store.engine import (
    BUSY_TIMEOUT_MS,
    IMMEDIATE,
    insert_ignoring_conflicts,
    make_engine,
)
from arena.store.migrate import upgrade
from arena.store.overview import StudyOverview
from arena.store.schema import Base, ConsentRefusalRow, RaterRow, StudyRow
from arena.store.types import (
    ImageRef,
    Progress,
    RaterIdentity,
    Session,
    TrialView,
    VoteReceipt,
)

if TYPE_CHECKING:
    from datetime import datetime

    from arena.prompts import Prompt
    from arena.study import Study

__all__ = ["Store", "TRIAL_KIND"]

#: Trial kinds (analysis.frame.KINDS): rated, practice (never analysed), repeat (an earlier
#: trial again, sides swapped; for consistency, never in the ratings), gold (an attention
#: check with a known answer, arena.gold).
TRIAL_KIND, PRACTICE_KIND, REPEAT_KIND, GOLD_KIND = "2afc", "practice", "repeat", "gold"
#: A repeat shows a trial answered at least this many trials before, so it is not recognised.
REPEAT_GAP = 3
#: The ``issued`` stream of :func:`rater_rng` that draws a rater's session plan: trial streams
#: count issued trials, which never come near it.
PLAN_STREAM = 1 << 40


class Store:
    """The arena database behind one SQLAlchemy URL (SQLite file by default).

    The schema is created or upgraded on construction (:mod:`arena.store.migrate`). The store
    caches study ids in the instance and owns one :class:`~arena.scheduler.scheduler.Scheduler`
    (catalogs, cell tables, the adaptive fit; never at module level), so one store serves one
    process.
    ``serialized`` is True where the database runs one write transaction at a time (SQLite).
    """

    def __init__(self, url: str, busy_timeout_ms: int = BUSY_TIMEOUT_MS) -> None:
        self.url = url
        self.engine = make_engine(url, busy_timeout_ms)
        self._writer = self.engine.execution_options(**{IMMEDIATE: True})
        # SQLite serialises writers (BEGIN IMMEDIATE): no race between a check and a write.
        self.serialized = self.engine.dialect.name == "sqlite"
        upgrade(self.engine)
        self._insert_rater = insert_ignoring_conflicts(self.engine.dialect.name, RaterRow)
        if self._insert_rater is None:
            self._insert_rater = insert(RaterRow)
        self._study_ids: dict[str, int] = {}
        self.scheduler = Scheduler(self.engine)

    @classmethod
    def open(cls, url: str, busy_timeout_ms: int = BUSY_TIMEOUT_MS) -> Store:
        """Open (and if needed create) the database at ``url``.

        ``busy_timeout_ms``: how long an SQLite writer waits for another's lock before the
        call fails (and the rater is asked to retry).
        """
        return cls(url, busy_timeout_ms)

    def close(self) -> None:
        """Stop the scheduler's background work and release every pooled connection."""
        self.scheduler.close()
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
        """The study's image catalog (the scheduler's), rebuilt when ingest added images."""
        return self.scheduler.catalog(conn, study_id)

    def image(self, study_name: str, name: str) -> ImageRef | None:
        """An ingested image of the study named by its path or its sha256, else None.

        Called for every image the browser fetches, so the catalog's stamp is only re-checked
        when the name is unknown (the images may have been ingested after the catalog was read).
        """
        try:
            sid = self.study_id(study_name)
        except KeyError:
            return None
        cat = self.scheduler.cached_catalog(sid)
        if cat is None or name not in cat.files:
            with self.begin() as conn:
                cat = self.catalog(conn, sid)
        image_id = cat.files.get(name)
        return None if image_id is None else cat.refs[image_id]

    def image_file(self, study_name: str, name: str) -> str | None:
        """The relative path of an ingested image named by its path or its sha256, else None."""
        ref = self.image(study_name, name)
        return None if ref is None else ref.path

    def counts(self) -> dict[str, int]:
        """Row count of every table (for tests, health checks and the CLI)."""
        with self.begin() as conn:
            return {
                t.name: conn.scalar(select(func.count()).select_from(t)) or 0
                for t in Base.metadata.sorted_tables
            }

    def add_image_set(
        self,
        study: Study,
        prompts: Sequence[Prompt],
        entries: Sequence[Any],
        names: dict[str, str],
        derived: Callable[[], Sequence[Any]] = tuple,
    ) -> imageset.ImageSetCounts:
        """Write a checked image set, all or nothing (:func:`imageset.write_image_set`);
        ``derived`` makes more entries under the write lock (gold's spoiled copies)."""
        with self.begin(write=True) as conn:
            return imageset.write_image_set(conn, study, prompts, [*entries, *derived()], names)

    # ------------------------------------------------------------------ raters
    def join(self, study: Study, who: RaterIdentity) -> str:
        """Register a rater without binding a browser secret (idempotent); return their id.

        For scripts and simulations that drive the store directly; the rater's page joins
        through :meth:`start`, which binds the rater to the browser.
        """
        with self.begin(write=True) as conn:
            sid = self.study_id(study.name, conn)
            raters.admit(conn, study, sid, who, self._insert_rater)
        return who.id

    def start(
        self,
        study: Study,
        who: RaterIdentity,
        secret: str | None = None,
        consent: bool = False,
    ) -> Session:
        """Join (or resume) a rater and return the trial to show, in one transaction.

        A new rater is bound to a fresh secret, returned in the :class:`Session`; a rater
        coming back must present it. A panel rater (Prolific, MTurk) without it may move to
        another browser by presenting the panel's own session reference again (Prolific's
        ``SESSION_ID``, MTurk's ``assignmentId``): they get a new secret and the old one stops
        working. A rater joined by :meth:`join` (no secret yet) is bound on first start. In a
        study with a consent text a new rater joins only with ``consent=True``.

        Raises
        ------
        VoteRefused
            ``closed`` when the study admits no new rater (``max_raters``, ``panel``),
            ``not_yours`` when the rater is bound to another browser, ``consent_required``
            for a new rater without consent where the study asks for it.
        """
        with self.begin(write=True) as conn:
            sid = self.study_id(study.name, conn)
            row = conn.execute(q.RATER, {"sid": sid, "rater": who.id}).first()
            if row is None:
                raters.admit(conn, study, sid, who, self._insert_rater, consent)
                row = conn.execute(q.RATER, {"sid": sid, "rater": who.id}).one()
            rater_pk, source, stored = row
            issued = raters.bind(conn, rater_pk, stored, who, secret)
            progress, made = self._next(conn, study, sid, who.id, rater_pk, source)
        self.scheduler.remember(made)
        return Session(progress, issued)

    def decline(self, study: Study) -> None:
        """Count a declined consent; nothing about the person is stored."""
        with self.begin(write=True) as conn:
            conn.execute(insert(ConsentRefusalRow).values(study_id=self.study_id(study.name, conn)))

    # ------------------------------------------------------------------ trials
    def next_trial(self, study: Study, rater: str, secret: str | None = None) -> Progress:
        """The trial this rater should see now.

        An unanswered trial is served again (a refresh resumes); otherwise a new one is issued
        by :mod:`arena.scheduler.balance`, unless the rater reached the quota or has seen every cell.
        """
        with self.begin(write=True) as conn:
            sid = self.study_id(study.name, conn)
            rater_pk, source = raters.checked(conn, sid, rater, secret)
            progress, made = self._next(conn, study, sid, rater, rater_pk, source)
        self.scheduler.remember(made)
        return progress

    def vote_and_next(
        self,
        study: Study,
        rater: str,
        token: str,
        choice: str,
        decision_ms: float,
        secret: str | None = None,
    ) -> tuple[VoteReceipt, Progress]:
        """Record one vote, then :meth:`next_trial`, in one transaction (the hot path).

        The vote rules are :mod:`votes`': a refused vote raises :class:`VoteRefused` and writes
        nothing; a repeat of an answered trial's vote writes nothing and returns the first
        vote's receipt; an accepted one is committed together with the next trial.
        """
        ms = votes.checked(study, token, choice, decision_ms)
        with self.begin(write=True) as conn:
            sid = self.study_id(study.name, conn)
            rater_pk, source = raters.checked(conn, sid, rater, secret)
            receipt = votes.record(conn, sid, rater_pk, token, choice, ms, self.serialized)
            progress, made = self._next(conn, study, sid, rater, rater_pk, source)
        self.scheduler.remember(made)
        return receipt, progress

    def example(self, study: Study) -> TrialView | None:
        """A pair to show as an example (MTurk's preview, instructions): the first prompt's
        images of the study's first two models, read-only and with no token; None when the
        study has no such pair."""
        sid = self.study_id(study.name)
        with self.begin() as conn:
            cat = self.catalog(conn, sid)
        a, b = study.models[:2]
        # Dict look-ups in prompt order: the first prompt usually has the pair.
        for prompt in sorted(cat.prompt_pk):
            for seed in study.seeds:
                left, right = cat.by_key.get((prompt, a, seed)), cat.by_key.get((prompt, b, seed))
                if left is not None and right is not None:
                    return trial_view(cat, study, "", cat.prompt_pk[prompt],
                                      study.questions[0].id, left, right)  # fmt: skip
        return None

    def prepare(self, study: Study) -> bool:
        """Build the study's catalog and scheduling cells now (at server start), rather than
        on the first rater's request; ``False`` when the study has not been ingested."""
        try:
            sid = self.study_id(study.name)
        except KeyError:
            return False
        with self.begin(write=True) as conn:
            made = self.scheduler.cells(conn, study, sid)[2]
        self.scheduler.remember(made)
        return True

    def _next(
        self, conn: Connection, study: Study, sid: int, rater: str, rater_pk: int, source: str
    ) -> tuple[Progress, Made]:
        """The rater's progress and trial to show, issuing one when none is pending.

        A session is ``study.practice`` practice trials, then ``study.quota`` trials of which a
        share ``study.repeat_rate`` repeat one of the rater's earlier trials with the sides
        swapped and a share ``study.gold_rate`` are gold trials (arena.gold), at positions the
        rater's plan fixes (:func:`arena.scheduler.balance.session_plan`). A planned repeat or
        gold trial that cannot be made then (no earlier trial left to repeat, images that make
        no gold trial) is a rated trial, and is made at the next position where it can be.
        Rated and practice trials come from the scheduler (:meth:`Scheduler.pick`), with the
        probability of their pair; only rated trials count towards the cells' balance.
        """
        cat, table, made = self.scheduler.cells(conn, study, sid)
        session = study.practice + study.quota
        total = study.practice + min(study.quota, len(table.seeds))
        trials = conn.execute(q.RATER_TRIALS, {"sid": sid, "rater_pk": rater_pk}).all()
        answered = sum(1 for t in trials if t.vote_id is not None)

        def progress(trial: TrialView | None) -> Progress:
            return Progress(rater, source, answered, max(total, answered), trial)

        pending = next((t for t in trials if t.vote_id is None), None)
        if pending is not None:
            shown = (
                pending.token,
                pending.prompt_id,
                pending.question,
                pending.left,
                pending.right,
            )
            practising = pending.kind == PRACTICE_KIND
            return progress(trial_view(cat, study, *shown, practice=practising)), made
        if answered >= session:
            return progress(None), made
        rng = rater_rng(study.seed, rater, len(trials))
        practice = len(trials) < study.practice
        plan = _plan(study, rater)
        position = len(trials) - study.practice
        # A planned trial that could not be made yet is made at the next chance: the counts
        # stay exact unless the session ends first.
        if _owed(plan.repeats, position, trials, REPEAT_KIND):
            original = _repeatable(trials, rng)
            if original is not None:
                left, right = original.right, original.left  # the sides swapped
                token = self._issue(conn, sid, rater_pk, original.prompt_id, original.question,
                                    REPEAT_KIND, left, right, repeat_of=original.id)  # fmt: skip
                view = trial_view(cat, study, token, original.prompt_id, original.question,
                                  left, right)  # fmt: skip
                return progress(view), made
        if _owed(plan.gold, position, trials, GOLD_KIND):
            gold = _gold_pick(cat, study, rng)
            if gold is not None:
                prompt_pk, question, left, right, expected = gold
                token = self._issue(conn, sid, rater_pk, prompt_pk, question, GOLD_KIND,
                                    left, right, expected=expected)  # fmt: skip
                view = trial_view(cat, study, token, prompt_pk, question, left, right)
                return progress(view), made
        pick = self.scheduler.pick(conn, study, sid, cat, table, trials, rng, practice)
        if pick is None:
            return progress(None), made
        kind = PRACTICE_KIND if practice else TRIAL_KIND
        token = self._issue(conn, sid, rater_pk, pick.prompt_pk, pick.question, kind, pick.left,
                            pick.right, probability=pick.probability)  # fmt: skip
        view = trial_view(cat, study, token, pick.prompt_pk, pick.question, pick.left,
                          pick.right, practice)  # fmt: skip
        return progress(view), made

    @staticmethod
    def _issue(
        conn: Connection,
        sid: int,
        rater_pk: int,
        prompt_pk: int,
        question: str,
        kind: str,
        left: int,
        right: int,
        repeat_of: int | None = None,
        expected: str | None = None,
        probability: float | None = None,
    ) -> str:
        """Insert one trial; returns its token. ``probability``: of the trial's model pair."""
        token = secrets.token_urlsafe(24)
        conn.execute(
            q.INSERT_TRIAL,
            {
                "study_id": sid,
                "rater_id": rater_pk,
                "prompt_id": prompt_pk,
                "question": question,
                "kind": kind,
                "left_image_id": left,
                "right_image_id": right,
                "token": token,
                "repeat_of": repeat_of,
                "expected": expected,
                "pair_probability": probability,
            },
        )
        return token

    # ------------------------------------------------------------------ analysis
    def comparisons(self, study_name: str) -> pd.DataFrame:
        """One row per vote, in the docs/design.md columns (see :func:`frames.comparisons`)."""
        with self.begin() as conn:
            return frames.comparisons(conn, study_name)

    def latencies(self, study_name: str) -> dict[str, float]:
        """Mean generation latency (ms) per model, from the ingested images."""
        with self.begin() as conn:
            return frames.latencies(conn, study_name)

    def vote_times(self, study_name: str) -> list[float]:
        """When each rated vote was stored, POSIX seconds, oldest first (``arena plan``)."""
        with self.begin() as conn:
            return frames.vote_times(conn, study_name)

    def display_names(self, study_name: str) -> dict[str, str] | None:
        """Display names stored at ingest (None: none stored, see :func:`frames.display_names`)."""
        with self.begin() as conn:
            return frames.display_names(conn, study_name)

    def overview(self, study: Study, now: datetime) -> StudyOverview:
        """How far the study is at ``now`` (the admin page's figures, :mod:`overview`)."""
        with self.begin() as conn:
            return overview.overview(conn, study, self.study_id(study.name, conn), now)


def _repeatable(trials: list, rng: np.random.Generator) -> Any:
    """One of the rater's answered rated trials to show again, or None: never one of the last
    :data:`REPEAT_GAP` trials, never one already repeated."""
    repeated = {t.repeat_of for t in trials if t.repeat_of is not None}
    eligible = [
        t
        for t in trials[:-REPEAT_GAP]
        if t.kind == TRIAL_KIND and t.vote_id is not None and t.id not in repeated
    ]
    return eligible[int(rng.integers(len(eligible)))] if eligible else None


def _plan(study: Study, rater: str) -> SessionPlan:
    """The rater's session plan, from a generator of the rater's that no trial uses."""
    return _plan_of(study.seed, rater, study.quota, study.repeat_rate, study.gold_rate)


@lru_cache(maxsize=8192)
def _plan_of(
    seed: int, rater: str, quota: int, repeat_rate: float, gold_rate: float
) -> SessionPlan:
    # Memoised: drawing a plan costs ~70 us, a few percent of a vote, and it never changes.
    rng = rater_rng(seed, rater, PLAN_STREAM)
    return session_plan(quota, repeat_rate, gold_rate, REPEAT_GAP + 1, rng)


def _owed(planned: frozenset[int], position: int, trials: list[Any], kind: str) -> bool:
    """True when fewer trials of ``kind`` were issued than the plan puts at or before
    ``position``."""
    due = sum(1 for p in planned if p <= position)
    return due > sum(1 for t in trials if t.kind == kind)


def _gold_pick(
    cat: Catalog, study: Study, rng: np.random.Generator
) -> tuple[int, str, int, int, str] | None:
    """(prompts.id, question, left, right, expected side) of a gold trial, or None when the
    study's images cannot make one for the drawn question."""
    question = study.questions[int(rng.integers(len(study.questions)))]
    pool = cat.gold_pool(tuple(study.models))
    if question.gold == "spoiled":
        if not pool.spoiled:
            return None
        good, bad, prompt_pk = pool.spoiled[int(rng.integers(len(pool.spoiled)))]
    else:
        if not pool.by_model:
            return None
        models = sorted(pool.by_model)
        images = pool.by_model[models[int(rng.integers(len(models)))]]
        good, prompt_pk = images[int(rng.integers(len(images)))]
        others = [image for image, p in images if p != prompt_pk]
        bad = others[int(rng.integers(len(others)))]
    if rng.random() < 0.5:
        return prompt_pk, question.id, good, bad, "left"
    return prompt_pk, question.id, bad, good, "right"
