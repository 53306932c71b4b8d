"""Batched, resumable generation of image sets from model cards.

For every (model, prompt, seed) the generator writes ``<out_dir>/<model>/<prompt_id>-s<seed>.png``
and one manifest line (see :mod:`models.manifest`). Models are loaded one at a time and freed
before the next. Runs are resumable: an image whose file still matches its manifest line (same
bytes, same prompt, same card file, same engine options) is skipped, and the manifest is
rewritten after every batch, so an interrupted run picks up where it stopped. Under
``accelerate launch`` the processes share the work out (see :mod:`models.shard`).

Latency is recorded two ways: every image's ``latency_ms`` is its batch's time per image, and
``params["latency"]["warm_single_ms"]`` is the model's warm single-image latency (its last image
drawn alone and timed after the batches warmed the pipeline up), with the device's name beside it.

torch and diffusers are imported only when a ``diffusers`` card has work to do, so image sets
made elsewhere (``image-folder`` cards) can be assembled without them.
"""

from __future__ import annotations

import hashlib
import io
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, NamedTuple

from tqdm.auto import tqdm

from models.cards import CardError, ModelCard, display_path
from models.engine import EngineOptions
from models.manifest import (
    MANIFEST_NAME,
    ManifestEntry,
    ManifestError,
    atomic_write_bytes,
    read_manifest,
    sha256_file,
    write_manifest,
)
from models.shard import Shard, current_shard, merge_parts, part_name

__all__ = ["GenerateSummary", "GenerationError", "generate_image_set", "image_path"]

_PROMPT_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_MAX_SEED = 2**63 - 1


class GenerationError(ValueError):
    """Generation cannot proceed (bad inputs, or an image-folder card lacks an image)."""


@dataclass(frozen=True)
class GenerateSummary:
    """What a :func:`generate_image_set` run did."""

    generated: int
    skipped: int
    manifest_path: Path
    seconds: float


class _Job(NamedTuple):
    prompt_id: str
    prompt: str
    seed: int


class _Sink:
    """Where a run records its images: the manifest itself, or this process's part of it."""

    def __init__(self, out_dir: Path, entries: dict, shard: Shard) -> None:
        self.out_dir, self.entries, self.shard = out_dir, entries, shard
        self.own: dict = {}

    def add(self, entry: ManifestEntry) -> None:
        self.entries[entry.key] = entry
        self.own[entry.key] = entry

    def set_warm_latency(self, model: str, jobs: list[_Job], warm_ms: float) -> None:
        """Record the model's warm single-image latency with every image of *jobs*."""
        for job in jobs:
            entry = self.own[(model, job.prompt_id, job.seed)]
            latency = {**entry.params["latency"], "warm_single_ms": warm_ms}
            self.add(replace(entry, params={**entry.params, "latency": latency}))

    def save(self) -> None:
        if self.shard.count == 1:
            write_manifest(self.out_dir, self.entries.values())
        else:  # only the main process writes the manifest, once all parts are done
            write_manifest(self.out_dir, self.own.values(), name=part_name(self.shard.index))


def image_path(model: str, prompt_id: str, seed: int) -> str:
    """Return the manifest ``path`` of an image: ``<model>/<prompt_id>-s<seed>.png``."""
    return f"{model}/{prompt_id}-s{seed}.png"


def _check_inputs(
    cards: Sequence[ModelCard], prompts: Sequence[tuple[str, str]], seeds: Sequence[int], batch: int
) -> None:
    ids = [card.id for card in cards]
    for card_id in ids:
        if ids.count(card_id) > 1:
            raise GenerationError(f"model '{card_id}' is listed twice; each card once, please")
    prompt_ids = [pid for pid, _ in prompts]
    for pid, text in prompts:
        if not isinstance(pid, str) or not _PROMPT_ID_RE.match(pid):
            raise GenerationError(
                f"prompt id {pid!r} must be letters, digits, '.', '_' or '-' (it names a file)"
            )
        if not isinstance(text, str) or not text.strip():
            raise GenerationError(f"prompt '{pid}' has no text")
        if prompt_ids.count(pid) > 1:
            raise GenerationError(f"prompt id '{pid}' appears twice; prompt ids must be unique")
    for seed in seeds:
        if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= _MAX_SEED:
            raise GenerationError(f"seed {seed!r} must be an integer from 0 to 2**63 - 1")
    if len(set(seeds)) != len(seeds):
        raise GenerationError(f"seeds {list(seeds)} repeat a value; each seed once, please")
    if batch < 1:
        raise GenerationError(f"batch_size must be at least 1, not {batch}")


def _is_current(
    entry: ManifestEntry | None, card: ModelCard, job: _Job, out_dir: Path, engine: dict | None
) -> bool:
    if entry is None or entry.prompt != job.prompt:
        return False
    # A changed card file (steps, scheduler, ...) makes its old images stale; so do other
    # engine options. Images made before engine options were recorded count as current.
    if entry.params.get("card_sha256") != card.sha256:
        return False
    if engine is not None and entry.params.get("engine", engine) != engine:
        return False
    file = out_dir / entry.path
    return file.is_file() and sha256_file(file) == entry.sha256


def _png_bytes(image: Any) -> bytes:
    # No pnginfo and no timestamps: the same pixels always give the same bytes and sha256.
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format="PNG")
    return buffer.getvalue()


def _copy_from_folder(card: ModelCard, todo: list[_Job], out_dir: Path, sink: _Sink, bar) -> int:
    """Copy the images an ``image-folder`` card needs from its source set into *out_dir*."""
    source = Path(card.resolved_repo)
    where = display_path(card.path)
    try:
        available = {e.key: e for e in read_manifest(source) if e.model == card.id}
    except ManifestError as exc:
        raise GenerationError(
            f"{where}: the image folder of key 'repo' is unusable: {exc}"
        ) from exc
    missing = [job for job in todo if (card.id, job.prompt_id, job.seed) not in available]
    if missing:
        shown = ", ".join(f"{j.prompt_id} seed {j.seed}" for j in missing[:5])
        more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
        raise GenerationError(
            f"{where}: the image folder {source} has no image of model '{card.id}' for "
            f"{shown}{more}; it holds {len(available)} images of this model"
        )
    for job in todo:
        src = available[(card.id, job.prompt_id, job.seed)]
        if src.prompt.strip() != job.prompt.strip():
            raise GenerationError(
                f"{source}: image {src.path} was made for the prompt {src.prompt!r}, but prompt "
                f"'{job.prompt_id}' here reads {job.prompt!r}"
            )
        data = (source / src.path).read_bytes() if (source / src.path).is_file() else b""
        if not data.startswith(_PNG_MAGIC):
            raise GenerationError(f"{source}: image {src.path} is missing or not a PNG file")
        if hashlib.sha256(data).hexdigest() != src.sha256:
            raise GenerationError(f"{source}: image {src.path} does not match its sha256")
        rel = image_path(card.id, job.prompt_id, job.seed)
        atomic_write_bytes(out_dir / rel, data)
        entry = ManifestEntry(
            model=card.id,
            prompt_id=job.prompt_id,
            prompt=job.prompt,
            seed=job.seed,
            path=rel,
            sha256=src.sha256,
            width=src.width,
            height=src.height,
            params={
                "card": card.id,
                "card_sha256": card.sha256,
                "backend": card.backend,
                "source": str(source),
                "source_path": src.path,
                "source_params": src.params,
                "seed": job.seed,
            },
            latency_ms=src.latency_ms,
        )
        sink.add(entry)
        bar.update(1)
    sink.save()
    return len(todo)


def _timed(loaded: Any, batch: list[_Job], cuda: bool) -> tuple[list[Any], float]:
    """Draw *batch*; return its images and the wall time per image in milliseconds."""
    import torch  # deferred: see the module docstring

    if cuda:
        torch.cuda.synchronize()
    began = time.perf_counter()
    images = loaded([job.prompt for job in batch], [job.seed for job in batch])
    if cuda:
        torch.cuda.synchronize()
    return images, (time.perf_counter() - began) * 1000 / len(batch)


def _run_diffusers(
    card: ModelCard,
    todo: list[_Job],
    sink: _Sink,
    bar: tqdm,
    run: _RunOptions,
) -> int:
    """Draw *todo* with the card's pipeline, one batch at a time, then its last image alone.

    The batches warm the pipeline up (kernels, caches, allocator), so the last image, drawn
    alone and timed, gives the warm single-image latency at the cost of one extra call. When
    there is no batch before it, or torch.compile would compile the batch-1 shape anew, one
    single-image warm-up call goes first. The figure is then added to every image of the run.
    """
    import torch  # deferred: see the module docstring

    from models.backends import load_pipeline

    loaded = load_pipeline(card, run.device, engine=run.engines[card.id], dtype=run.dtype)
    cuda = torch.device(loaded.device).type == "cuda"
    try:
        base = loaded.params()
        *rest, last = todo
        batches = [rest[s : s + run.batch_size] for s in range(0, len(rest), run.batch_size)]
        if not rest or loaded.engine.compile is not None:
            batches.insert(0, [])  # the explicit warm-up call: its image is not kept
        batches.append([last])
        for number, batch in enumerate(batches):
            if not batch:
                _timed(loaded, [last], cuda)
                continue
            images, latency_ms = _timed(loaded, batch, cuda)
            for job, image in zip(batch, images, strict=True):
                data = _png_bytes(image)
                rel = image_path(card.id, job.prompt_id, job.seed)
                atomic_write_bytes(sink.out_dir / rel, data)
                latency = {"batch_size": len(batch)}
                sink.add(
                    ManifestEntry(
                        model=card.id,
                        prompt_id=job.prompt_id,
                        prompt=job.prompt,
                        seed=job.seed,
                        path=rel,
                        sha256=hashlib.sha256(data).hexdigest(),
                        width=image.width,
                        height=image.height,
                        params={**base, "seed": job.seed, "latency": latency},
                        latency_ms=latency_ms,
                    )
                )
            if number == len(batches) - 1:
                sink.set_warm_latency(card.id, todo, latency_ms)
            sink.save()
            bar.update(len(batch))
    finally:
        loaded.close()
    return len(todo)


@dataclass(frozen=True)
class _RunOptions:
    device: str | None
    batch_size: int
    dtype: str | None
    engines: dict[str, EngineOptions]


def _engines(cards: Sequence[ModelCard], overrides: dict[str, Any] | None) -> dict:
    engines = {}
    for card in cards:
        engine = card.engine
        if overrides:
            where = f"{display_path(card.path)} (with the command-line options)"
            try:
                engine = engine.with_overrides(overrides, where)
            except ValueError as exc:
                raise CardError(str(exc)) from None
        engines[card.id] = engine
    return engines


def generate_image_set(
    cards: Sequence[ModelCard],
    prompts: Sequence[tuple[str, str]],
    seeds: Sequence[int],
    out_dir: Path,
    *,
    device: str | None = None,
    batch_size: int = 4,
    progress: bool = True,
    dtype: str | None = None,
    engine: dict[str, Any] | None = None,
    shard: Shard | None = None,
) -> GenerateSummary:
    """Make (or complete) an image set: every card × prompt × seed, as PNG plus manifest line.

    Parameters
    ----------
    cards : sequence of ModelCard
        Models to draw with, each at most once.
    prompts : sequence of (str, str)
        ``(prompt_id, text)`` pairs; ids name files, so they are letters, digits, ``.``, ``_``
        and ``-``.
    seeds : sequence of int
        Seeds drawn for every prompt. Image ``(model, prompt, seed)`` depends only on these three
        (and the card), not on the batch it was drawn in.
    out_dir : Path
        The image-set folder; created if missing. Existing images of other models, prompts or
        seeds, and their manifest lines, are kept.
    device : str, optional
        Torch device; by default this process's accelerator under ``accelerate launch``, else
        cuda, then mps, else cpu.
    batch_size : int, optional
        Images per pipeline call.
    progress : bool, optional
        Show a tqdm progress bar.
    dtype : str, optional
        ``float32``, ``float16`` or ``bfloat16`` for every diffusers card, instead of its own.
    engine : dict, optional
        ``[engine]`` keys (see :mod:`models.engine`) that override every card's; ``None`` values
        keep the card's.
    shard : Shard, optional
        This process's share of the work; by default read from ``accelerate launch``'s
        environment (a single process otherwise).

    Returns
    -------
    GenerateSummary
        Counts of images generated (by this process) and skipped (already present and current),
        the manifest path and the wall time.

    Raises
    ------
    GenerationError
        For invalid inputs, or an ``image-folder`` card whose folder lacks a requested image.
    CardError
        If a card names a class or argument its pipeline does not have, or an engine option
        that cannot apply.
    """
    began = time.perf_counter()
    out_dir = Path(out_dir)
    _check_inputs(cards, prompts, seeds, batch_size)
    run = _RunOptions(device, batch_size, dtype, _engines(cards, engine))
    shard = current_shard() if shard is None else shard
    if run.device is None and shard.device is not None:
        run = _RunOptions(shard.device, batch_size, dtype, run.engines)
    out_dir.mkdir(parents=True, exist_ok=True)
    if shard.is_main:
        merge_parts(out_dir)  # what a crashed run's processes finished
    shard.wait()
    entries = {e.key: e for e in read_manifest(out_dir, missing_ok=True)}
    jobs = [_Job(pid, text, seed) for pid, text in prompts for seed in seeds]

    plan: list[tuple[ModelCard, list[_Job]]] = []
    skipped = position = 0
    for card in cards:
        recorded = run.engines[card.id].record() if card.backend == "diffusers" else None
        todo = []
        for job in jobs:
            entry = entries.get((card.id, job.prompt_id, job.seed))
            # Like the device, --dtype does not make old images stale; the card and engine do.
            if _is_current(entry, card, job, out_dir, recorded):
                skipped += 1
                continue
            # Every process computes the same list from the same manifest; each takes its share.
            if shard.take(position):
                todo.append(job)
            position += 1
        plan.append((card, todo))

    sink = _Sink(out_dir, entries, shard)
    generated = 0
    total = sum(len(todo) for _, todo in plan)
    with tqdm(total=total, disable=not progress, unit="img", desc="generate") as bar:
        for card, todo in plan:
            if not todo:
                continue
            bar.set_postfix_str(card.id)
            if card.backend == "image-folder":
                generated += _copy_from_folder(card, todo, out_dir, sink, bar)
            elif card.backend == "diffusers":
                generated += _run_diffusers(card, todo, sink, bar, run)
            else:  # load_card rejects other backends; a hand-built card might not
                raise CardError(f"{display_path(card.path)}: unknown backend '{card.backend}'")
    sink.save()
    shard.wait()
    if shard.is_main:
        merge_parts(out_dir)
    return GenerateSummary(
        generated=generated,
        skipped=skipped,
        manifest_path=out_dir / MANIFEST_NAME,
        seconds=time.perf_counter() - began,
    )
