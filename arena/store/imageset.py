"""Writing a checked image set: the study, its models, prompts and images (:mod:`arena.ingest`).

Ingest checks the files; this module writes what they describe, in the caller's write
transaction, and refuses (:class:`ImageSetConflict`) whatever would change a stored prompt or
image, so that votes never mix two versions of one. Rows already stored are left as they are,
so a second ingest of the same set writes nothing.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, func, insert, select, update

from arena.store.engine import insert_ignoring_conflicts
from arena.store.schema import ImageRow, ModelRow, PromptRow, StudyRow

if TYPE_CHECKING:
    from arena.prompts import Prompt
    from arena.study import Study

__all__ = ["ImageSetConflict", "ImageSetCounts", "write_image_set"]


class ImageSetConflict(ValueError):
    """The image set would change stored prompts or images; ``problems`` names each."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class ImageSetCounts:
    """What the database holds for the study after the write, and what the write added."""

    models: int
    prompts: int
    images: int
    new_prompts: int
    new_images: int


def write_image_set(
    conn: Connection,
    study: Study,
    prompts: Sequence[Prompt],
    entries: Sequence[Any],
    display_names: dict[str, str],
) -> ImageSetCounts:
    """Upsert the study, its models, prompts and images (manifest entries) in ``conn``.

    ``display_names``: the cards' display names, merged into those stored with the study
    (names of models whose card is gone stay as stored: the study's votes still need them).

    Raises
    ------
    ImageSetConflict
        When a stored prompt's text or a stored image's file or hash differs from the set; the
        caller's transaction must then roll back (raising out of it does).
    """
    problems: list[str] = []
    _insert_missing(conn, StudyRow, "name", [{"name": study.name, "title": study.title}])
    sid = conn.scalar(select(StudyRow.id).where(StudyRow.name == study.name))
    # The update also locks the study's row until commit, so a second ingest of this study
    # (another server starting) waits here and then reads the prompts and images this one wrote.
    conn.execute(update(StudyRow).where(StudyRow.id == sid).values(title=study.title))
    stored_names = conn.scalar(select(StudyRow.display_names).where(StudyRow.id == sid))
    merged = {**(stored_names or {}), **display_names}
    conn.execute(update(StudyRow).where(StudyRow.id == sid).values(display_names=merged))

    # Model ids are shared by studies: servers of two studies may insert the same ones at once.
    # Sorted, so that two such inserts take their row locks in one order (no deadlock).
    _insert_missing(
        conn, ModelRow, "name", [{"name": m} for m in sorted({e.model for e in entries})]
    )
    model_ids = {name: pk for name, pk in conn.execute(select(ModelRow.name, ModelRow.id))}
    prompt_ids, new_prompts = _write_prompts(conn, sid, prompts, problems)

    names = {v: k for k, v in model_ids.items()}
    keys = {v: k for k, v in prompt_ids.items()}
    have = {
        (names[m], keys.get(p), s): (sha, path)
        for m, p, s, sha, path in conn.execute(
            select(
                ImageRow.model_id, ImageRow.prompt_id, ImageRow.seed, ImageRow.sha256, ImageRow.path
            ).where(ImageRow.study_id == sid)
        )
    }
    new_rows = []
    for e in entries:
        old = have.get((e.model, e.prompt_id, e.seed))
        if old is not None:
            if old != (e.sha256, Path(e.path).as_posix()):
                problems.append(
                    f"{e.path}: the image of {e.model}/{e.prompt_id}/seed {e.seed} was stored as "
                    f"{old[1]} with sha256 {old[0]}; stored images never change (start a new study)"
                )
            continue
        new_rows.append(_image_row(sid, model_ids, prompt_ids, e))
    if problems:
        raise ImageSetConflict(problems)
    if new_rows:
        conn.execute(insert(ImageRow), new_rows)
    n_prompts, n_images, n_models = conn.execute(
        select(
            select(func.count(PromptRow.id)).where(PromptRow.study_id == sid).scalar_subquery(),
            func.count(ImageRow.id),
            func.count(func.distinct(ImageRow.model_id)),
        ).where(ImageRow.study_id == sid)
    ).one()
    return ImageSetCounts(
        models=int(n_models),
        prompts=int(n_prompts),
        images=int(n_images),
        new_prompts=new_prompts,
        new_images=len(new_rows),
    )


def _write_prompts(
    conn: Connection, sid: int, prompts: Sequence[Prompt], problems: list[str]
) -> tuple[dict[str, int], int]:
    """Insert the prompts not stored yet; a stored prompt whose text changed is a problem.
    Returns the prompt id -> ``prompts.id`` of every stored prompt and the number inserted."""
    stored = {
        key: (pk, text)
        for pk, key, text in conn.execute(
            select(PromptRow.id, PromptRow.key, PromptRow.text).where(PromptRow.study_id == sid)
        )
    }
    prompt_ids = {key: pk for key, (pk, _) in stored.items()}
    new = 0
    for p in prompts:
        if p.id in stored:
            if stored[p.id][1] != p.text:
                problems.append(
                    f"prompt '{p.id}' was stored with the text {stored[p.id][1]!r}; the prompt "
                    f"set now says {p.text!r} (votes would be mixed): use a new prompt id"
                )
            continue
        prompt_ids[p.id] = conn.execute(
            insert(PromptRow)
            .values(
                study_id=sid,
                key=p.id,
                text=p.text,
                category=p.category,
                challenge=p.challenge,
                note=p.note,
            )
            .returning(PromptRow.id)
        ).scalar_one()
        new += 1
    return prompt_ids, new


def _image_row(
    sid: int, model_ids: dict[str, int], prompt_ids: dict[str, int], e: Any
) -> dict[str, Any]:
    return {
        "study_id": sid,
        "model_id": model_ids[e.model],
        "prompt_id": prompt_ids[e.prompt_id],
        "seed": e.seed,
        "path": Path(e.path).as_posix(),
        "sha256": e.sha256,
        "width": e.width,
        "height": e.height,
        "params": dict(e.params),
        # NaN (unknown, e.g. images from an API) is stored as NULL, which AVG skips.
        "latency_ms": None if math.isnan(e.latency_ms) else float(e.latency_ms),
    }


def _insert_missing(conn: Connection, table: type, key: str, rows: list[dict[str, Any]]) -> None:
    """Insert the rows whose unique ``key`` is not stored yet, also when another process
    inserts the same key at the same moment (see :func:`insert_ignoring_conflicts`)."""
    ignoring = insert_ignoring_conflicts(conn.dialect.name, table)
    if ignoring is not None:
        conn.execute(ignoring, rows)
        return
    column = getattr(table, key)
    have = set(conn.scalars(select(column).where(column.in_([r[key] for r in rows]))))
    new = [r for r in rows if r[key] not in have]
    if new:
        conn.execute(insert(table), new)
