"""Gold (attention) trials from the study's own images.

A gold trial has an answer that any attentive rater gives:

- ``spoiled`` questions (quality): one image against a spoiled copy of itself (a heavy blur
  and strong noise, so even a flat image changes beyond doubt);
- ``other-prompt`` questions (alignment): an image of the prompt shown against the same
  model's image of another prompt.

The spoiled copies are made at ingest, one per (prompt, seed), from the image of the study's
first model that has it, into ``<image set>/_spoiled/``, and stored as images of the reserved
model :data:`SPOILED` (never a card id: card ids cannot start with ``_``), so that they are
served, hash-checked and cached like every other image, and never scheduled in rated trials.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image, ImageFilter

if TYPE_CHECKING:
    from arena.study import Study

__all__ = ["GOLD_KINDS", "SPOILED", "SPOILED_DIR", "spoiled_entries", "spoil"]

#: How a question's gold trials are built (the ``gold`` key of a ``[[questions]]`` table).
GOLD_KINDS = ("spoiled", "other-prompt")
#: The model name of the spoiled copies.
SPOILED = "_spoiled"
SPOILED_DIR = "_spoiled"


def spoil(source: Path, target: Path, seed: int) -> tuple[int, int]:
    """Write a heavily blurred, noisy copy of ``source`` to ``target``; returns its size."""
    with Image.open(source) as im:
        rgb = im.convert("RGB")
    radius = max(2.0, min(rgb.size) / 12)
    pixels = np.asarray(rgb.filter(ImageFilter.GaussianBlur(radius)), dtype=np.float64)
    noise = np.random.default_rng(seed).normal(0.0, 60.0, pixels.shape)
    out = Image.fromarray(np.clip(pixels + noise, 0, 255).astype(np.uint8))
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".tmp")
    out.save(tmp, format="PNG")
    os.replace(tmp, target)  # atomic: a crash leaves no half-written copy
    return out.size


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def spoiled_entries(study: Study, entries: Sequence[Any]) -> list[Any]:
    """Manifest-like rows of the spoiled copies the study's gold trials need (made if missing).

    None unless the study has gold trials (``gold_rate``) and a ``spoiled`` question.
    """
    if not study.gold_rate or not any(q.gold == "spoiled" for q in study.questions):
        return []
    from models.manifest import ManifestEntry

    rank = {m: i for i, m in enumerate(study.models)}
    sources: dict[tuple[str, int], Any] = {}
    for e in sorted(_of_study(entries, rank), key=lambda e: rank[e.model]):
        sources.setdefault((e.prompt_id, e.seed), e)
    out = []
    for (prompt_id, seed), e in sorted(sources.items()):
        rel = f"{SPOILED_DIR}/{e.sha256[:24]}.png"
        target = study.image_dir / rel
        if not target.is_file():
            spoil(study.image_dir / e.path, target, seed=int(e.sha256[:8], 16))
        with Image.open(target) as im:
            width, height = im.size
        out.append(
            ManifestEntry(
                SPOILED,
                prompt_id,
                e.prompt,
                seed,
                rel,
                _sha256(target),
                width,
                height,
                {"spoiled_from": e.sha256},
                float("nan"),
            )  # fmt: skip
        )
    return out


def _of_study(entries: Iterable[Any], rank: dict[str, int]) -> list[Any]:
    return [e for e in entries if e.model in rank]
