"""The toy world: grammar, renderer and judge (numpy and Pillow only, no torch)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import ImageFilter

from models.toy.grammar import (
    RELATIONS,
    VOCABULARY,
    Obj,
    Scene,
    benchmark_scenes,
    parse_prompt,
    region_of,
    render,
    sample_scene,
)
from models.toy.judge import calibrate, classify_shape, judge, judge_scene


def _words(scene: Scene) -> Scene:
    return Scene(
        objects=tuple(Obj(o.size, o.colour, o.shape) for o in scene.objects),
        background=scene.background,
        relation=scene.relation,
    )


def test_prompts_parse_back_to_their_scene_and_use_only_the_vocabulary() -> None:
    rng = np.random.default_rng(0)
    scenes = [sample_scene(rng) for _ in range(300)]
    assert {len(s.objects) for s in scenes} == {1, 2}
    assert {s.relation for s in scenes if s.relation} == set(RELATIONS)
    for scene in scenes:
        assert parse_prompt(scene.prompt) == _words(scene)
        assert set(scene.prompt.split()) <= set(VOCABULARY)
    assert parse_prompt("A Small RED circle left of a large blue square on a grey background")


@pytest.mark.parametrize(
    "text",
    [
        "a red fox sitting in fresh snow",
        "a small red circle on a purple background",
        "a small red circle next to a large blue square on a white background",
        "a small red circle above on a white background",
        "a small red circle above a large blue square",
        "",
    ],
)
def test_text_outside_the_grammar_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="not a prompt of the toy grammar"):
        parse_prompt(text)


def test_objects_are_drawn_inside_the_region_their_prompt_gives_them() -> None:
    rng = np.random.default_rng(1)
    for _ in range(300):
        scene = sample_scene(rng)
        for i, obj in enumerate(scene.objects):
            x0, y0, x1, y1 = region_of(scene, i)
            bx0, by0, bx1, by1 = obj.box
            assert x0 < bx0 < bx1 < x1 and y0 < by0 < by1 < y1, scene.prompt
    scene = parse_prompt("a small red circle above a large blue square on a white background")
    assert region_of(scene, 0) == (0, 0, 32, 16) and region_of(scene, 1) == (0, 16, 32, 32)


def test_rendering_is_deterministic_and_keeps_the_colours_of_the_labels() -> None:
    scene = sample_scene(np.random.default_rng(3))
    a, b = np.asarray(render(scene)), np.asarray(render(scene))
    assert a.shape == (32, 32, 3) and np.array_equal(a, b)
    assert tuple(a[0, 0]) in {(245, 245, 245), (15, 15, 15), (128, 128, 128)}


def test_benchmark_prompts_are_fixed_and_distinct() -> None:
    first, again = benchmark_scenes(40), benchmark_scenes(40)
    assert [s.prompt for s in first] == [s.prompt for s in again]
    assert len({s.prompt for s in first}) == 40
    assert [s.prompt for s in benchmark_scenes(40, seed=5)] != [s.prompt for s in first]


def test_judge_agrees_with_the_labels_of_clean_renders() -> None:
    accuracy = calibrate(n=200, seed=7)
    assert accuracy["background"] == 1.0 and accuracy["colour"] == 1.0
    assert accuracy["shape"] >= 0.98 and accuracy["size"] >= 0.98
    assert accuracy["score"] >= 0.99


def test_shape_classifier_on_clean_masks() -> None:
    rng = np.random.default_rng(11)
    for _ in range(60):
        scene = sample_scene(rng, p_two=0.0)
        pixels = np.asarray(render(scene)).astype(float)
        mask = np.linalg.norm(pixels - pixels[0, 0], axis=-1) > 60
        assert classify_shape(mask) == scene.objects[0].shape


def test_judge_scores_blur_and_wrong_prompts_lower() -> None:
    rng = np.random.default_rng(2)
    scenes = [sample_scene(rng) for _ in range(120)]
    others = [sample_scene(rng) for _ in range(120)]

    def mean(pairs) -> float:
        return float(np.mean([judge_scene(image, scene).score for image, scene in pairs]))

    clean = mean((render(s), s) for s in scenes)
    slightly = mean((render(s).filter(ImageFilter.GaussianBlur(1.0)), s) for s in scenes)
    blurred = mean((render(s).filter(ImageFilter.GaussianBlur(2.5)), s) for s in scenes)
    wrong = mean((render(s), o) for s, o in zip(scenes, others, strict=True))
    assert clean > 0.99 > slightly > blurred + 0.15
    assert wrong < 0.45


def test_judge_names_every_check_of_a_two_object_prompt() -> None:
    text = "a large green triangle left of a small yellow circle on a black background"
    big = Obj("large", "green", "triangle", box=(2.0, 9.0, 15.0, 22.0))
    small = Obj("small", "yellow", "circle", box=(20.0, 12.0, 28.0, 20.0))
    image = render(Scene(objects=(big, small), background="black", relation="left of"))
    verdict = judge(image, text)
    assert set(verdict.checks) == {"background"} | {
        f"object {i} {k}" for i in (1, 2) for k in ("colour", "shape", "size")
    }
    assert verdict.score == 1.0
    # The same picture judged for the mirrored relation has both objects in the wrong half.
    assert judge(image, text.replace("left of", "right of")).score < 0.5
    # ... and for other words, the checks that differ fail.
    other = judge(image, text.replace("large green triangle", "small green square"))
    assert not other.checks["object 1 shape"] and not other.checks["object 1 size"]
    assert other.checks["object 1 colour"] and other.checks["object 2 shape"]
