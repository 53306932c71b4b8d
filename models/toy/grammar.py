"""The toy world: a prompt grammar of coloured shapes and a Pillow renderer that keeps its labels.

A prompt names one or two objects (size, colour, shape), for two objects a spatial relation,
and a background::

    a large green triangle on a black background
    a small red circle above a large blue square on a white background

:func:`sample_scene` draws a random :class:`Scene` (the prompt's words plus where every object
went), :func:`render` draws it, and :func:`parse_prompt` recovers the words from a prompt so that
the judge can score any image against the prompt it was made for. Two-object layouts are fixed
by the relation (the first object in its half of the image, the second in the other half); a
single object may sit anywhere, so a blurry "average" image cannot pass for a sharp one.

Only numpy and Pillow are needed: the judge and the arena never import torch through this.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

__all__ = [
    "BACKGROUNDS",
    "COLOURS",
    "IMAGE_SIZE",
    "RELATIONS",
    "SHAPES",
    "SIZES",
    "VOCABULARY",
    "Obj",
    "Scene",
    "benchmark_scenes",
    "parse_prompt",
    "region_of",
    "render",
    "render_batch",
    "sample_scene",
]

IMAGE_SIZE = 32
SHAPES = ("circle", "square", "triangle")
#: Object colours, far from every background colour and from each other.
COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (220, 40, 40),
    "green": (40, 170, 60),
    "blue": (40, 80, 230),
    "yellow": (240, 210, 40),
}
BACKGROUNDS: dict[str, tuple[int, int, int]] = {
    "white": (245, 245, 245),
    "black": (15, 15, 15),
    "grey": (128, 128, 128),
}
#: Side length (bounding box) of an object in pixels of the 32x32 image, before jitter.
SIZES: dict[str, int] = {"small": 8, "large": 13}
RELATIONS = ("above", "below", "left of", "right of")
#: Every word a prompt can contain, in a fixed order (the tokenizer's vocabulary).
VOCABULARY: tuple[str, ...] = (
    "a",
    *SIZES,
    *COLOURS,
    *SHAPES,
    "above",
    "below",
    "left",
    "right",
    "of",
    "on",
    *BACKGROUNDS,
    "background",
)
_SUPERSAMPLE = 4  # draw at 4x and box-filter down: anti-aliased edges like a real photo's


@dataclass(frozen=True)
class Obj:
    """One object of a scene; ``box`` is its ``(x0, y0, x1, y1)`` pixel box once rendered."""

    size: str
    colour: str
    shape: str
    box: tuple[float, float, float, float] | None = None

    @property
    def words(self) -> str:
        """The object as the prompt says it: ``small red circle``."""
        return f"{self.size} {self.colour} {self.shape}"


@dataclass(frozen=True)
class Scene:
    """A prompt's content (and, once sampled, its layout): the labels of a rendered image."""

    objects: tuple[Obj, ...]
    background: str
    relation: str | None = None

    @property
    def prompt(self) -> str:
        """The prompt text of this scene."""
        first = f"a {self.objects[0].words}"
        if len(self.objects) == 2:
            first += f" {self.relation} a {self.objects[1].words}"
        return f"{first} on a {self.background} background"


def region_of(scene: Scene, index: int, size: int = IMAGE_SIZE) -> tuple[int, int, int, int]:
    """Return the ``(x0, y0, x1, y1)`` region where object *index* of *scene* must appear.

    One object may be anywhere; with two, the relation gives each its half of the image
    ("A above B": A in the top half, B in the bottom half).
    """
    if len(scene.objects) == 1:
        return (0, 0, size, size)
    half = size // 2
    first_side = {"above": "top", "below": "bottom", "left of": "left", "right of": "right"}
    opposite = {"top": "bottom", "bottom": "top", "left": "right", "right": "left"}
    side = first_side[scene.relation]  # type: ignore[index]
    if index == 1:
        side = opposite[side]
    return {
        "top": (0, 0, size, half),
        "bottom": (0, half, size, size),
        "left": (0, 0, half, size),
        "right": (half, 0, size, size),
    }[side]


def _place(rng: np.random.Generator, side: float, region: tuple[int, int, int, int]) -> tuple:
    # One pixel of margin keeps an object clear of its region's edges, so halves never touch.
    x0, y0, x1, y1 = region
    left = rng.uniform(x0 + 1, x1 - 1 - side)
    top = rng.uniform(y0 + 1, y1 - 1 - side)
    return (left, top, left + side, top + side)


def _random_object(rng: np.random.Generator, exclude: str | None = None) -> Obj:
    colours = [c for c in COLOURS if c != exclude]
    return Obj(
        size=str(rng.choice(list(SIZES))),
        colour=str(rng.choice(colours)),
        shape=str(rng.choice(SHAPES)),
    )


def sample_scene(rng: np.random.Generator, p_two: float = 0.6) -> Scene:
    """Draw a random scene: one object (anywhere) or, with probability *p_two*, two objects.

    The two objects of a scene always differ in colour, so each is identifiable by colour alone.
    """
    background = str(rng.choice(list(BACKGROUNDS)))
    first = _random_object(rng)
    if rng.random() >= p_two:
        scene = Scene(objects=(first,), background=background)
    else:
        second = _random_object(rng, exclude=first.colour)
        relation = str(rng.choice(RELATIONS))
        scene = Scene(objects=(first, second), background=background, relation=relation)
    placed = []
    for i, obj in enumerate(scene.objects):
        side = SIZES[obj.size] + rng.uniform(-1.0, 1.0)
        placed.append(
            Obj(obj.size, obj.colour, obj.shape, box=_place(rng, side, region_of(scene, i)))
        )
    return Scene(objects=tuple(placed), background=background, relation=scene.relation)


def _draw(draw: ImageDraw.ImageDraw, obj: Obj) -> None:
    x0, y0, x1, y1 = (v * _SUPERSAMPLE for v in obj.box)  # type: ignore[union-attr]
    fill = COLOURS[obj.colour]
    if obj.shape == "circle":
        draw.ellipse((x0, y0, x1, y1), fill=fill)
    elif obj.shape == "square":
        draw.rectangle((x0, y0, x1, y1), fill=fill)
    else:  # an upright isosceles triangle filling its box
        draw.polygon([((x0 + x1) / 2, y0), (x1, y1), (x0, y1)], fill=fill)


def render(scene: Scene, size: int = IMAGE_SIZE) -> Image.Image:
    """Draw a sampled scene (objects must have boxes) as an RGB image of *size* pixels."""
    big = size * _SUPERSAMPLE
    canvas = Image.new("RGB", (big, big), BACKGROUNDS[scene.background])
    draw = ImageDraw.Draw(canvas)
    for obj in scene.objects:
        _draw(draw, obj)
    return canvas.resize((size, size), Image.BOX)


def render_batch(scenes: Sequence[Scene]) -> np.ndarray:
    """Render scenes into one ``uint8`` array of shape ``(n, 32, 32, 3)``."""
    return np.stack([np.asarray(render(s)) for s in scenes])


def parse_prompt(text: str) -> Scene:
    """Recover the scene (without layout) that a prompt of the grammar describes.

    Raises
    ------
    ValueError
        If the text is not a prompt of the grammar; the message quotes it.
    """
    words = text.lower().split()

    def fail() -> ValueError:
        return ValueError(f"not a prompt of the toy grammar: {text!r}")

    def obj(at: int) -> Obj:
        if at + 4 > len(words) - 4:
            raise fail()
        article, size, colour, shape = words[at : at + 4]
        if article != "a" or size not in SIZES or colour not in COLOURS or shape not in SHAPES:
            raise fail()
        return Obj(size, colour, shape)

    if len(words) < 8 or words[-4:-1] != ["on", "a", words[-2]] or words[-1] != "background":
        raise fail()
    background = words[-2]
    if background not in BACKGROUNDS:
        raise fail()
    body = words[:-4]
    first = obj(0)
    if len(body) == 4:
        return Scene(objects=(first,), background=background)
    rest = body[4:]
    for relation in RELATIONS:
        n = len(relation.split())
        if rest[:n] == relation.split() and len(rest) == n + 4:
            return Scene(objects=(first, obj(4 + n)), background=background, relation=relation)
    raise fail()


def benchmark_scenes(n: int, seed: int = 1234) -> list[Scene]:
    """A fixed, seeded list of *n* distinct prompts' scenes, for benchmarks and studies."""
    rng = np.random.default_rng(seed)
    scenes: list[Scene] = []
    seen: set[str] = set()
    while len(scenes) < n:
        scene = sample_scene(rng)
        if scene.prompt not in seen:
            seen.add(scene.prompt)
            scenes.append(scene)
    return scenes


def main(argv: list[str] | None = None) -> int:
    """``python -m models.toy.grammar --prompts N``: print a PartiPrompts-style TSV prompt set."""
    parser = argparse.ArgumentParser(prog="python -m models.toy.grammar", description=main.__doc__)
    parser.add_argument("--prompts", type=int, default=12, help="number of prompts (default 12)")
    parser.add_argument("--seed", type=int, default=1234, help="seed (default 1234)")
    args = parser.parse_args(argv)
    print("Prompt\tCategory\tChallenge\tNote")
    for scene in benchmark_scenes(args.prompts, args.seed):
        category = "one object" if len(scene.objects) == 1 else "two objects"
        challenge = "Basic" if len(scene.objects) == 1 else "Spatial"
        print(f"{scene.prompt}\t{category}\t{challenge}\t")
    return 0


if __name__ == "__main__":
    sys.exit(main())
