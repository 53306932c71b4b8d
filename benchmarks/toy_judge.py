"""Prompt adherence of the five toy cards, scored by the automatic judge.

    python benchmarks/toy_judge.py [--prompts 60] [--seeds 2] [--weights DIR]
    python benchmarks/toy_judge.py --teacher-guidance 1,1.5,2,3,5


Draws every prompt of a fixed seeded prompt set of the toy grammar with every card (through
``load_pipeline``, as ``arena generate`` does; with ``--weights``, from a freshly trained folder
with the cards' settings instead), judges each image against its prompt and prints the mean
adherence per model with its 95% interval over prompts, the paired difference to the
50-step teacher and the share of objects passing each kind of check. It first prints how often
the judge's checks agree with the labels of clean renders. The expected shape (the SDXL Turbo question in miniature): base-50 and turbo-1 close,
base-1 clearly worse. ``--teacher-guidance`` instead scores the 50-step teacher card at each
listed guidance scale (how the cards' 1.5 was chosen).
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from models.backends import load_pipeline  # noqa: E402
from models.cards import load_cards  # noqa: E402
from models.toy.evaluate import card_drawers, folder_drawers, judge_table, print_table  # noqa: E402
from models.toy.grammar import benchmark_scenes  # noqa: E402
from models.toy.judge import calibrate  # noqa: E402
from models.toy.nets import CARD_SETTINGS  # noqa: E402


def guidance_drawers(scales: list[float]) -> dict[str, object]:
    """The 50-step teacher card at each guidance scale (the first is the table's reference)."""
    teacher = load_cards()["toy-base-50step"]
    drawers = {}
    for scale in scales:
        card = replace(teacher, call={**teacher.call, "guidance_scale": scale})
        drawers[f"guidance {scale:g}"] = load_pipeline(card, "cpu")
    return drawers


def main(argv: list[str] | None = None) -> int:
    """Print the judge's calibration and the adherence table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompts", type=int, default=60, help="prompts (default 60)")
    parser.add_argument("--seeds", type=int, default=2, help="seeds per prompt (default 2)")
    parser.add_argument("--prompt-seed", type=int, default=1234, help="prompt set seed")
    parser.add_argument("--weights", type=Path, default=None, help="a trained weights folder")
    parser.add_argument(
        "--teacher-guidance",
        type=lambda text: [float(g) for g in text.split(",")],
        default=None,
        help="comma-separated guidance scales: score toy-base-50step at each instead",
    )
    args = parser.parse_args(argv)
    accuracy = calibrate()
    print(
        "judge on 500 clean renders: "
        + ", ".join(f"{k} {v:.1%}" for k, v in accuracy.items() if k != "score")
        + f"; mean score {accuracy['score']:.3f}"
    )
    began = time.perf_counter()
    if args.teacher_guidance:
        drawers = guidance_drawers(args.teacher_guidance)
    elif args.weights is None:
        drawers = card_drawers(list(CARD_SETTINGS))
    else:
        drawers = folder_drawers(args.weights)
    scenes = benchmark_scenes(args.prompts, args.prompt_seed)
    reference = next(iter(drawers)) if args.teacher_guidance else "toy-base-50step"
    rows = judge_table(drawers, scenes, seeds=tuple(range(args.seeds)), reference=reference)
    print(f"{args.prompts} prompts x {args.seeds} seeds, prompt seed {args.prompt_seed}")
    print_table(rows, reference=reference)
    print(f"({time.perf_counter() - began:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
