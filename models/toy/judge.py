"""An automatic judge of prompt adherence for the toy world, built from the renderer's labels.

For an image and the prompt it was made for, the judge checks what the prompt says:

- **background**: the colour of the image's outer ring of pixels is the prompt's background;
- for every object, in the region the prompt puts it (anywhere for one object, the relation's
  half of the image for two), the largest blob of non-background pixels
  - **colour**: has a median colour close to the prompt's colour (a washed-out blur is not red);
  - **shape**: best matches the prompt's shape among circle, square and triangle templates
    drawn by the renderer into the blob's own bounding box (intersection over union);
  - **size**: has a bounding box on the prompt's side of the small/large threshold.

A blob too small or too large to be an object of the world (a speck, a smear over the whole
region) fails all three, so noise cannot pass for a large square.

The score of an image is the fraction of its checks that pass (4 for one object, 7 for two).
The thresholds were set on clean renders, where :func:`calibrate` measures how often each check
agrees with the labels. Needs only numpy, scipy and Pillow.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw
from scipy import ndimage

from models.toy.grammar import (
    BACKGROUNDS,
    COLOURS,
    IMAGE_SIZE,
    SHAPES,
    SIZES,
    Obj,
    Scene,
    parse_prompt,
    region_of,
    sample_scene,
)

__all__ = ["Verdict", "calibrate", "judge", "judge_scene"]

#: A pixel further than this (RGB distance) from the background colour belongs to an object.
FOREGROUND_DISTANCE = 60.0
#: A blob's median colour must be this close to the prompt's colour to count as that colour.
COLOUR_DISTANCE = 70.0
#: Blobs smaller than this many pixels are noise, not objects.
MIN_BLOB = 6
#: Bounding-box side separating small from large (the renderer draws 8 +- 1 and 13 +- 1).
SIZE_THRESHOLD = (SIZES["small"] + SIZES["large"]) / 2
#: A blob whose box side is outside this range is not an object of the world (a speck, or a
#: smear over the whole region), so none of its checks pass.
OBJECT_SIDES = (SIZES["small"] - 3, SIZES["large"] + 3)


@dataclass(frozen=True)
class Verdict:
    """The checks of one image against its prompt, by name (``object 1 shape``, ...)."""

    checks: dict[str, bool]

    @property
    def score(self) -> float:
        """Fraction of checks passed, in [0, 1]."""
        return sum(self.checks.values()) / len(self.checks)


def _as_array(image: Image.Image | np.ndarray) -> np.ndarray:
    if isinstance(image, Image.Image):
        image = np.asarray(image.convert("RGB"))
    return np.asarray(image, dtype=np.float32)


def _nearest(colour: np.ndarray, palette: dict[str, tuple[int, int, int]]) -> tuple[str, float]:
    names = list(palette)
    distances = np.linalg.norm(np.array([palette[n] for n in names]) - colour, axis=1)
    best = int(np.argmin(distances))
    return names[best], float(distances[best])


def _template(shape: str, width: int, height: int) -> np.ndarray:
    # The renderer's own drawing, at 4x and box-filtered like a render, then thresholded at half
    # coverage: the mask a clean blob of that shape and box would give.
    scale = 4
    canvas = Image.new("L", (width * scale, height * scale), 0)
    draw = ImageDraw.Draw(canvas)
    box = (0, 0, width * scale - 1, height * scale - 1)
    if shape == "circle":
        draw.ellipse(box, fill=255)
    elif shape == "square":
        draw.rectangle(box, fill=255)
    else:
        draw.polygon([(box[2] / 2, 0), (box[2], box[3]), (0, box[3])], fill=255)
    return np.asarray(canvas.resize((width, height), Image.BOX)) >= 128


def classify_shape(mask: np.ndarray) -> str:
    """The shape whose template, fitted to the mask's bounding box, overlaps it best (IoU)."""
    rows, cols = np.nonzero(mask)
    crop = mask[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]
    height, width = crop.shape
    scores = {}
    for shape in SHAPES:
        template = _template(shape, width, height)
        scores[shape] = (crop & template).sum() / max(1, (crop | template).sum())
    return max(scores, key=scores.get)


def _blob(pixels: np.ndarray, background: np.ndarray) -> np.ndarray | None:
    """The largest connected set of foreground pixels, as a mask over *pixels*, if any."""
    foreground = np.linalg.norm(pixels - background, axis=-1) > FOREGROUND_DISTANCE
    labels, count = ndimage.label(foreground)
    if count == 0:
        return None
    sizes = ndimage.sum(foreground, labels, index=np.arange(1, count + 1))
    biggest = int(np.argmax(sizes))
    if sizes[biggest] < MIN_BLOB:
        return None
    return labels == biggest + 1


def _check_object(pixels: np.ndarray, obj: Obj, background: np.ndarray) -> dict[str, bool]:
    mask = _blob(pixels, background)
    missing = {"colour": False, "shape": False, "size": False}
    if mask is None:
        return missing
    rows, cols = np.nonzero(mask)
    side = max(rows.max() - rows.min() + 1, cols.max() - cols.min() + 1)
    if not OBJECT_SIDES[0] <= side <= OBJECT_SIDES[1]:
        return missing
    colour = np.median(pixels[mask], axis=0)
    return {
        "colour": float(np.linalg.norm(colour - np.array(COLOURS[obj.colour]))) < COLOUR_DISTANCE,
        "shape": classify_shape(mask) == obj.shape,
        "size": (side > SIZE_THRESHOLD) == (obj.size == "large"),
    }


def judge_scene(image: Image.Image | np.ndarray, scene: Scene) -> Verdict:
    """Check *image* against a scene's words (its layout, if any, is not used)."""
    pixels = _as_array(image)
    size = pixels.shape[0]
    ring = np.concatenate([pixels[0], pixels[-1], pixels[1:-1, 0], pixels[1:-1, -1]])
    name, distance = _nearest(np.median(ring, axis=0), BACKGROUNDS)
    checks = {"background": name == scene.background and distance < FOREGROUND_DISTANCE}
    # The prompt's background, not the image's, defines what "foreground" is: an image with
    # the wrong background then also fails its objects, as a rater would see it.
    background = np.array(BACKGROUNDS[scene.background], dtype=np.float32)
    for i, obj in enumerate(scene.objects, start=1):
        x0, y0, x1, y1 = region_of(scene, i - 1, size)
        result = _check_object(pixels[y0:y1, x0:x1], obj, background)
        checks.update({f"object {i} {key}": ok for key, ok in result.items()})
    return Verdict(checks)


def judge(image: Image.Image | np.ndarray, prompt: str) -> Verdict:
    """Check *image* against *prompt* (a prompt of the toy grammar).

    Raises
    ------
    ValueError
        If the prompt is not of the grammar.
    """
    return judge_scene(image, parse_prompt(prompt))


def calibrate(n: int = 500, seed: int = 99) -> dict[str, float]:
    """Accuracy of each kind of check on *n* clean renders (how often it agrees with the labels).

    Returns
    -------
    dict of str to float
        ``background``, ``colour``, ``shape``, ``size`` and ``score`` (mean image score).
    """
    from models.toy.grammar import render

    rng = np.random.default_rng(seed)
    passed: dict[str, list[bool]] = {"background": [], "colour": [], "shape": [], "size": []}
    scores = []
    for _ in range(n):
        scene = sample_scene(rng)
        verdict = judge_scene(render(scene), scene)
        for key, ok in verdict.checks.items():
            passed[key.split()[-1]].append(ok)
        scores.append(verdict.score)
    result = {key: float(np.mean(v)) for key, v in passed.items()}
    result["score"] = float(np.mean(scores))
    return result


def mean_interval(values: Sequence[float]) -> tuple[float, float, float]:
    """Mean and 95% Student-t interval of *values* (``nan`` bounds for fewer than two)."""
    from scipy import stats

    x = np.asarray(values, dtype=float)
    mean = float(x.mean())
    if len(x) < 2:
        return mean, float("nan"), float("nan")
    half = float(stats.t.ppf(0.975, len(x) - 1) * x.std(ddof=1) / np.sqrt(len(x)))
    return mean, mean - half, mean + half


#: The image size the judge expects (the renderer's).
JUDGE_SIZE = IMAGE_SIZE
