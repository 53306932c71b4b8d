"""An in-memory index of one study's images and prompts, rebuilt only when the images change.

The scheduler needs to know every (prompt, model, seed) image on every trial; reading the whole
images table per vote would dominate the hot path, so the store keeps this catalog and checks a
cheap stamp (the highest image id of the database: images are only ever added) to know when to
rebuild it.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy import Connection, select

from arena.gold import SPOILED
from arena.scheduler.balance import Cell, cells_for
from arena.store.queries import IMAGES_STAMP
from arena.store.schema import ImageRow, ModelRow, PromptRow
from arena.store.types import ImageRef, TrialView

if TYPE_CHECKING:
    from arena.scheduler.cells import CellTable
    from arena.study import Study

__all__ = ["Catalog", "GoldPool", "catalog_stamp", "load_catalog", "trial_view"]


@dataclass(frozen=True)
class GoldPool:
    """Gold trials' material: (real image, its spoiled copy, prompts.id) triples, and the
    (image id, prompts.id) pairs of the one model whose images are shown against another
    prompt's (the study's first model that has images of two prompts)."""

    spoiled: list[tuple[int, int, int]]
    by_model: dict[str, list[tuple[int, int]]]


@dataclass
class Catalog:
    """Images and prompts of one study, keyed the ways the store looks them up."""

    stamp: int
    by_key: dict[tuple[str, str, int], int]  # (prompt key, model name, seed) -> image id
    refs: dict[int, ImageRef]  # image id -> ref
    prompt_pk: dict[str, int]  # prompt key -> prompts.id
    prompt_key: dict[int, str]  # prompts.id -> prompt key
    prompt_text: dict[int, str]  # prompts.id -> text
    model_name: dict[int, str]  # models.id -> name
    files: dict[str, int]  # relative path or sha256 -> image id (what the image route serves)
    image_model: dict[int, int] = field(default_factory=dict)  # image id -> models.id
    #: Per (models, questions, on the adaptive rule): the store's cell table, set once its
    #: cell_counts rows are known to exist; a new catalog (after an ingest) starts without any.
    tables: dict[tuple, CellTable] = field(default_factory=dict)
    _cells: dict[tuple, tuple[dict[Cell, tuple[int, ...]], dict[tuple, Cell]]] = field(
        default_factory=dict
    )
    _gold: dict[tuple[str, ...], GoldPool] = field(default_factory=dict)

    def gold_pool(self, models: tuple[str, ...]) -> GoldPool:
        """What gold trials are drawn from (arena.gold), memoised per set of models."""
        if models not in self._gold:
            spoiled, by_model = [], defaultdict(list)
            for (prompt, model, seed), image_id in sorted(self.by_key.items()):
                if model == SPOILED:
                    source = next(
                        (self.by_key[(prompt, m, seed)] for m in models
                         if (prompt, m, seed) in self.by_key), None,
                    )  # fmt: skip
                    if source is not None:
                        spoiled.append((source, image_id, self.prompt_pk[prompt]))
                elif model in models:
                    by_model[model].append((image_id, self.prompt_pk[prompt]))
            # Another prompt's image needs a model with images of two prompts at least. Like the
            # spoiled copies, the pair comes from the study's first model that can make one (its
            # reference): a weak model's image of the right prompt can be as wrong as another
            # prompt's, and an attention check must have an answer no attentive rater misses.
            first = next((m for m in models if len({p for _, p in by_model[m]}) > 1), None)
            self._gold[models] = GoldPool(spoiled, {first: by_model[first]} if first else {})
        return self._gold[models]

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


def catalog_stamp(conn: Connection) -> int:
    """The highest image id: changes whenever ingest adds images (to any study; a rebuild for
    another study's images is rare and harmless, and this reads one index entry per vote)."""
    return int(conn.scalar(IMAGES_STAMP) or 0)


def load_catalog(conn: Connection, study_id: int) -> Catalog:
    """Read one study's images and prompts."""
    stamp = catalog_stamp(conn)
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
        cat.image_model[image_id] = model_id
        cat.files[path] = cat.files[sha] = image_id
    return cat


def trial_view(
    cat: Catalog,
    study: Study,
    token: str,
    prompt_pk: int,
    question: str,
    left: int,
    right: int,
    practice: bool = False,
) -> TrialView:
    """What the page shows of one trial (images by id, prompt and question text)."""
    text = next((x.text for x in study.questions if x.id == question), question)
    return TrialView(
        token=token,
        prompt=cat.prompt_text[prompt_pk],
        question=question,
        question_text=text,
        left=cat.refs[left],
        right=cat.refs[right],
        practice=practice,
    )
