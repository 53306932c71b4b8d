"""An in-memory index of one study's images and prompts, rebuilt only when the images change.

The scheduler needs to know every (prompt, model, seed) image on every trial; reading the whole
images table per vote would dominate the hot path, so the store keeps this catalog and checks a
cheap stamp (row count and highest id of the study's images) to know when to rebuild it.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import Connection, func, select

from arena.schedule import Cell, cells_for
from arena.store.schema import ImageRow, ModelRow, PromptRow
from arena.store.types import ImageRef

__all__ = ["Catalog", "catalog_stamp", "load_catalog"]


@dataclass
class Catalog:
    """Images and prompts of one study, keyed the ways the store looks them up."""

    stamp: tuple[int, int]
    by_key: dict[tuple[str, str, int], int]  # (prompt key, model name, seed) -> image id
    refs: dict[int, ImageRef]  # image id -> ref
    prompt_pk: dict[str, int]  # prompt key -> prompts.id
    prompt_key: dict[int, str]  # prompts.id -> prompt key
    prompt_text: dict[int, str]  # prompts.id -> text
    model_name: dict[int, str]  # models.id -> name
    files: dict[str, str]  # relative path or sha256 -> relative path (what the image route serves)
    _cells: dict[tuple, tuple[dict[Cell, tuple[int, ...]], dict[tuple, Cell]]] = field(
        default_factory=dict
    )

    def cells(
        self, models: tuple[str, ...], questions: tuple[str, ...]
    ) -> tuple[dict[Cell, tuple[int, ...]], dict[tuple[int, int, int, str], Cell]]:
        """Schedulable cells for these models and questions, memoised per combination.

        Returns ``Cell -> seeds`` and an index from the database's
        ``(prompt id, lower model id, higher model id, question)`` to the cell.
        """
        key = (models, questions)
        if key not in self._cells:
            seeds: dict[tuple[str, str], list[int]] = defaultdict(list)
            for prompt, model, seed in self.by_key:
                seeds[(prompt, model)].append(seed)
            cells = cells_for(seeds, models, questions)
            model_pk = {name: pk for pk, name in self.model_name.items()}
            index = {}
            for cell in cells:
                a, b = sorted((model_pk[cell.pair[0]], model_pk[cell.pair[1]]))
                index[(self.prompt_pk[cell.prompt], a, b, cell.question)] = cell
            self._cells[key] = (cells, index)
        return self._cells[key]


def catalog_stamp(conn: Connection, study_id: int) -> tuple[int, int]:
    """(number of images, highest image id): changes whenever ingest adds images."""
    row = conn.execute(
        select(func.count(ImageRow.id), func.coalesce(func.max(ImageRow.id), 0)).where(
            ImageRow.study_id == study_id
        )
    ).one()
    return int(row[0]), int(row[1])


def load_catalog(conn: Connection, study_id: int) -> Catalog:
    """Read one study's images and prompts."""
    stamp = catalog_stamp(conn, study_id)
    prompts = conn.execute(
        select(PromptRow.id, PromptRow.key, PromptRow.text).where(PromptRow.study_id == study_id)
    ).all()
    images = conn.execute(
        select(
            ImageRow.id,
            ImageRow.prompt_id,
            ModelRow.id,
            ModelRow.name,
            ImageRow.seed,
            ImageRow.path,
            ImageRow.sha256,
            ImageRow.width,
            ImageRow.height,
        )
        .join(ModelRow, ModelRow.id == ImageRow.model_id)
        .where(ImageRow.study_id == study_id)
    ).all()
    prompt_key = {pk: key for pk, key, _ in prompts}
    cat = Catalog(
        stamp=stamp,
        by_key={},
        refs={},
        prompt_pk={key: pk for pk, key, _ in prompts},
        prompt_key=prompt_key,
        prompt_text={pk: text for pk, _, text in prompts},
        model_name={},
        files={},
    )
    for image_id, prompt_pk, model_id, model, seed, path, sha, width, height in images:
        cat.by_key[(prompt_key[prompt_pk], model, seed)] = image_id
        cat.refs[image_id] = ImageRef(path=path, sha256=sha, width=width, height=height)
        cat.model_name[model_id] = model
        cat.files[path] = cat.files[sha] = path
    return cat
