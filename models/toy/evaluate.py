"""Score the toy cards' prompt adherence with the judge: the table the trainer and
``benchmarks/toy_judge.py`` print.

Images are drawn exactly as ``arena generate`` draws them (one generator per image, seeded by
the image's seed), on a fixed seeded prompt set of the grammar.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from models.toy.grammar import Scene, benchmark_scenes
from models.toy.judge import judge_scene, mean_interval
from models.toy.nets import CARD_SETTINGS

__all__ = ["Row", "card_drawers", "folder_drawers", "judge_table", "print_table"]

#: draw(prompts, seeds) -> one PIL image per (prompt, seed), like ``LoadedPipeline.__call__``.
Drawer = Callable[[Sequence[str], Sequence[int]], list]


@dataclass(frozen=True)
class Row:
    """One model's adherence: mean image score with its 95% interval over prompts, and the
    paired difference to the reference model (same prompt, same seed)."""

    model: str
    mean: float
    low: float
    high: float
    diff: float
    diff_low: float
    diff_high: float
    n_images: int
    #: Share of images passing each kind of check (background, colour, shape, size); an image
    #: with two objects counts each object's check once.
    checks: dict[str, float] = field(default_factory=dict)


def folder_drawers(weights: Path, device: str = "cpu") -> dict[str, Drawer]:
    """Drawers for the five card settings over ``<weights>/toy-base`` and ``<weights>/toy-turbo``
    (for a freshly trained folder that no card points at yet)."""
    from models.toy.pipeline import ToyPipeline

    pipes: dict[str, ToyPipeline] = {}
    drawers: dict[str, Drawer] = {}
    for card_id, (folder, steps, guidance) in CARD_SETTINGS.items():
        if folder not in pipes:
            pipes[folder] = ToyPipeline.from_pretrained(Path(weights) / folder).to(device)
            pipes[folder].set_progress_bar_config(disable=True)
        pipe = pipes[folder]

        def draw(prompts, seeds, pipe=pipe, steps=steps, guidance=guidance):
            generators = [torch.Generator(device).manual_seed(int(s)) for s in seeds]
            return pipe(
                list(prompts),
                num_inference_steps=steps,
                guidance_scale=guidance,
                generator=generators,
            ).images

        drawers[card_id] = draw
    return drawers


def card_drawers(card_ids: Sequence[str], device: str = "cpu") -> dict[str, Drawer]:
    """Drawers for shipped cards, loaded through :func:`models.backends.load_pipeline`."""
    from models.backends import load_pipeline
    from models.cards import load_cards

    cards = load_cards()
    return {card_id: load_pipeline(cards[card_id], device) for card_id in card_ids}


def judge_table(
    drawers: dict[str, Drawer],
    scenes: Sequence[Scene] | None = None,
    seeds: Sequence[int] = (0, 1),
    reference: str = "toy-base-50step",
    batch: int = 32,
) -> list[Row]:
    """Draw every (prompt, seed) with every model, judge each image, and summarise per model.

    Intervals treat prompts as the sampling unit (an image score is averaged over seeds first),
    because a model's adherence varies far more between prompts than between seeds.
    """
    scenes = list(scenes) if scenes is not None else benchmark_scenes(60)
    jobs = [(scene, seed) for scene in scenes for seed in seeds]
    scores: dict[str, np.ndarray] = {}
    checks: dict[str, dict[str, float]] = {}
    for model, draw in drawers.items():
        values, passed = [], {}
        for start in range(0, len(jobs), batch):
            chunk = jobs[start : start + batch]
            images = draw([s.prompt for s, _ in chunk], [seed for _, seed in chunk])
            for im, (scene, _) in zip(images, chunk, strict=True):
                verdict = judge_scene(im, scene)
                values.append(verdict.score)
                for name, ok in verdict.checks.items():
                    passed.setdefault(name.split()[-1], []).append(ok)
        scores[model] = np.array(values).reshape(len(scenes), len(seeds)).mean(axis=1)
        checks[model] = {kind: float(np.mean(oks)) for kind, oks in passed.items()}
    ref = scores.get(reference)
    rows = []
    for model, per_prompt in scores.items():
        diff = (per_prompt - ref) if ref is not None else np.full_like(per_prompt, np.nan)
        rows.append(
            Row(
                model,
                *mean_interval(per_prompt),
                *mean_interval(diff),
                len(jobs),
                checks[model],
            )  # type: ignore[arg-type]
        )
    return rows


def print_table(rows: Sequence[Row], reference: str = "toy-base-50step") -> None:
    """Print the rows as a fixed-width table."""
    kinds = ("background", "colour", "shape", "size")
    print(
        f"{'model':<18} {'adherence':>9} {'95% CI':>15}   {'vs ' + reference:>24}  images  "
        + "  ".join(f"{k:>10}" for k in kinds)
    )
    for r in rows:
        print(
            f"{r.model:<18} {r.mean:9.3f} [{r.low:5.3f}, {r.high:5.3f}]   "
            f"{r.diff:+7.3f} [{r.diff_low:+6.3f}, {r.diff_high:+6.3f}]  {r.n_images:6d}  "
            + "  ".join(f"{r.checks.get(k, float('nan')):10.2f}" for k in kinds)
        )
