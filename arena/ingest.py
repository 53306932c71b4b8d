"""Ingest: load a study's image set into the database, after checking all of it.

The image set (a folder and its ``manifest.jsonl``, written by :mod:`models.generate` or any
other source) is the only contract between ``models/`` and ``arena/``. Every entry is checked
before anything is written, so a broken set leaves the database as it was. Ingest is
idempotent: running it again changes nothing, and images added to the set later are added.
"""

from __future__ import annotations

import hashlib
import warnings
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PIL import Image

from arena.gold import spoiled_entries
from arena.store import Store
from arena.store.imageset import ImageSetConflict

if TYPE_CHECKING:
    from arena.prompts import Prompt
    from arena.study import Study

__all__ = ["IngestError", "IngestSummary", "card_display_names", "ingest"]

_FORMATS = ("PNG", "JPEG", "WEBP")
#: The largest image ingest accepts: four times SDXL's 2048x2048 upscales, far below what would
#: exhaust memory when decoded (a 12,000 x 12,000 PNG header is a few hundred bytes).
MAX_SIDE = 4096
MAX_IMAGE_PIXELS = MAX_SIDE * MAX_SIDE
_SHOWN_PROBLEMS = 10


class IngestError(ValueError):
    """The image set cannot be ingested; the message names the file, the entry and the fix."""


@dataclass(frozen=True)
class IngestSummary:
    """What the database holds for the study after ingest, and what this run added."""

    study: str
    models: int
    prompts: int
    images: int
    new_prompts: int
    new_images: int

    def __str__(self) -> str:
        return (
            f"{self.models} models, {self.prompts} prompts, {self.images} images "
            f"({self.new_images} new images, {self.new_prompts} new prompts)"
        )


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _check_file(folder: Path, entry: Any, decode: bool) -> str | None:
    """The problem with one entry's file, or None when it is present, intact and as described.

    ``decode``: decode every pixel (an image not ingested before); ``verify()`` alone reads the
    chunks but not the compressed pixel data, so a corrupt image would pass it.
    """
    rel = Path(entry.path)
    path = (folder / rel).resolve()
    if rel.is_absolute() or not path.is_relative_to(folder):
        return f"path '{entry.path}' must be relative to and inside {folder}"
    if not path.is_file():
        return f"file '{entry.path}' is missing"
    actual = _sha256(path)
    if actual != entry.sha256:
        return f"sha256 of '{entry.path}' is {actual}, the manifest says {entry.sha256}"
    try:
        with warnings.catch_warnings():
            # Pillow warns about images above its own limit; ours is lower and checked next.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            im = Image.open(path)
        with im:
            fmt, size = im.format, im.size
            # Before any decoding: a small file can declare a huge image (a decompression bomb).
            if size[0] * size[1] > MAX_IMAGE_PIXELS:
                return _too_large(entry, f"{size[0]}x{size[1]} pixels")
            im.verify()
        if decode:
            with Image.open(path) as im:
                im.load()
    except Image.DecompressionBombError:  # Pillow's own, larger limit, met by open()
        return _too_large(entry, f"larger than {2 * (Image.MAX_IMAGE_PIXELS or 0):,} pixels")
    except Exception as exc:  # Pillow raises OSError, SyntaxError, ValueError... for bad files
        return f"'{entry.path}' is not a readable image ({type(exc).__name__}: {exc})"
    if fmt not in _FORMATS:
        return f"'{entry.path}' is {fmt}; expected a PNG"
    if size != (entry.width, entry.height):
        return (
            f"'{entry.path}' is {size[0]}x{size[1]} pixels, the manifest says "
            f"{entry.width}x{entry.height}"
        )
    return None


def _too_large(entry: Any, found: str) -> str:
    return (
        f"'{entry.path}' is {found}; expected at most {MAX_IMAGE_PIXELS:,} pixels "
        f"({MAX_SIDE}x{MAX_SIDE})"
    )


def _stored_images(store: Store, study: Study) -> Callable[[str], bool]:
    """Whether an image (by sha256) is ingested already: it was decoded then, and is not decoded
    again at every start (a 1024x1024 PNG takes 10-30 ms)."""
    try:
        store.study_id(study.name)
    except KeyError:  # a new study: nothing stored, and no query per image to find that out
        return lambda _sha: False
    return lambda sha: store.image(study.name, sha) is not None


def _validate(
    study: Study, prompts: Sequence[Prompt], entries: Sequence[Any], store: Store
) -> list[str]:
    by_id = {p.id: p for p in prompts}
    stored = _stored_images(store, study)
    folder = study.image_dir.resolve()
    problems: list[str] = []
    seen: dict[tuple[str, str, int], int] = {}
    paths: dict[str, int] = {}
    models_at: dict[tuple[str, int], set[str]] = defaultdict(set)
    # read_manifest drops lines replaced by later ones, so entries are named by path, not line.
    for index, e in enumerate(entries, start=1):
        where = f"{e.path} ({e.model}, {e.prompt_id}, seed {e.seed})"
        if e.model not in study.models:
            problems.append(
                f"{where}: model '{e.model}' is not in study '{study.name}' "
                f"(expected one of: {', '.join(study.models)})"
            )
            continue
        prompt = by_id.get(e.prompt_id)
        if prompt is None:
            problems.append(f"{where}: prompt id '{e.prompt_id}' is not in the study's prompt set")
            continue
        if e.prompt.strip() != prompt.text.strip():
            problems.append(
                f"{where}: prompt text {e.prompt!r} differs from prompt "
                f"'{prompt.id}' of the prompt set ({prompt.text!r})"
            )
        if e.seed not in study.seeds:
            problems.append(
                f"{where}: seed {e.seed} is not one of the study's seeds {list(study.seeds)}"
            )
        key = (e.model, e.prompt_id, e.seed)
        if key in seen:
            problems.append(f"{where}: repeats model/prompt/seed of entry {seen[key]}")
        seen[key] = index
        norm = Path(e.path).as_posix()
        if norm in paths:
            problems.append(f"{where}: repeats the path of entry {paths[norm]}")
        paths[norm] = index
        models_at[(e.prompt_id, e.seed)].add(e.model)
        decode = not stored(e.sha256)
        if (problem := _check_file(folder, e, decode)) is not None:
            problems.append(f"{where}: {problem}")
    for (prompt_id, seed), have in sorted(models_at.items()):
        missing = [m for m in study.models if m not in have]
        if missing:
            problems.append(
                f"prompt '{prompt_id}' seed {seed}: no image from {', '.join(missing)}; every "
                "study model needs one so that pairs are complete"
            )
    return problems


def ingest(store: Store, study: Study, prompts: Sequence[Prompt]) -> IngestSummary:
    """Check the study's image set and load study, models, prompts and images.

    The display names of the study's model cards are stored with the study (``studies.
    display_names``), so that reports show the names the study ran with even after a card is
    edited or deleted.

    Parameters
    ----------
    store
        The database.
    study
        The study; its ``image_dir`` holds ``manifest.jsonl``.
    prompts
        The study's prompt set (after its category filter and limit).

    Raises
    ------
    IngestError
        When the manifest is unreadable or empty, a file is missing, corrupt or differs from its
        sha256, a model, prompt or seed is not part of the study, some model lacks the image of
        a (prompt, seed) others have, or an image or prompt already stored has changed. Nothing
        is written in any of these cases.
    """
    from models.manifest import MANIFEST_NAME, ManifestError, read_manifest

    manifest = study.image_dir / MANIFEST_NAME
    try:
        entries = read_manifest(study.image_dir)
    except (ManifestError, OSError) as exc:
        raise IngestError(f"{manifest}: cannot read the image set ({exc}).") from None
    if not entries:
        raise IngestError(f"{manifest}: the image set is empty; run `arena generate` first.")
    problems = _validate(study, prompts, entries, store)
    if problems:
        raise IngestError(_message(manifest, problems))
    names = card_display_names(study)  # read before the write lock is taken
    try:
        # The spoiled copies of gold trials join as images of a reserved model (arena.gold);
        # made under the store's write lock, so two servers starting at once never write the
        # same file together.
        counts = store.add_image_set(
            study, prompts, entries, names, derived=lambda: spoiled_entries(study, entries)
        )
    except ImageSetConflict as exc:  # the store rolled back everything
        raise IngestError(_message(manifest, exc.problems)) from None
    return IngestSummary(
        study=study.name,
        models=counts.models,
        prompts=counts.prompts,
        images=counts.images,
        new_prompts=counts.new_prompts,
        new_images=counts.new_images,
    )


def card_display_names(study: Study) -> dict[str, str]:
    """The display names the study's model cards give today, by model id.

    Models without a card (images from another source) get no entry. A card folder that does
    not load gives none at all: serving needs no cards, so a broken unrelated card must not
    stop it (``arena models validate`` names the problem).
    """
    from models.cards import CardError, load_cards

    try:
        cards = load_cards(study.cards_dir)
    except (CardError, OSError):
        return {}
    return {m: cards[m].display_name for m in study.models if m in cards}


def _message(manifest: Path, problems: list[str]) -> str:
    shown = "; ".join(problems[:_SHOWN_PROBLEMS])
    more = len(problems) - _SHOWN_PROBLEMS
    tail = f"; and {more} more" if more > 0 else ""
    return f"{manifest}: {len(problems)} problem(s), nothing was ingested: {shown}{tail}."
