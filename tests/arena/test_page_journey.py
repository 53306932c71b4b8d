"""A new rater's whole session in a real Chromium, at a laptop's and a phone's size:
consent -> instructions and practice -> trials by click, tap and keyboard -> a refresh in the
middle -> the completion code. Every screen must fit without scrolling; each is saved as a
screenshot (the README's pictures of the rater's page are these files).

Screenshots go to ``$T2I_ARENA_SCREENS`` (default ``artifacts/screens/`` in the repository,
ignored by git); ``T2I_ARENA_SCREENS=docs/img/screens`` refreshes the README's.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import ImageFilter
from servers import BROWSER, running
from servers import on_screen as _on_screen
from servers import trial_on_screen as _trial_on_screen

from arena.ingest import ingest
from arena.prompts import load_prompts
from arena.serve import create_server
from arena.store import Store
from arena.study import load_study
from models.manifest import sha256_file
from models.toy.grammar import render, sample_scene

pytestmark = BROWSER

ROOT = Path(__file__).resolve().parents[2]
SCREENS = Path(os.environ.get("T2I_ARENA_SCREENS", ROOT / "artifacts" / "screens"))
SHOWN = "window.arena && window.arena.shownAt !== null && !window.arena.pending"
SIZES = {
    "laptop": {"viewport": {"width": 1280, "height": 800}},
    "phone": {"viewport": {"width": 390, "height": 844}, "has_touch": True, "is_mobile": True},
}
CONSENT = (
    "You will compare pairs of small images made by computer programs from a text prompt. "
    "It takes about two minutes. Your answers are stored under a pseudonymous id; you may "
    "stop at any time."
)


def toy_study(folder: Path):
    """Two "models" on six toy-grammar prompts: clean renders, and the same renders blurred."""
    scenes = [sample_scene(np.random.default_rng(i)) for i in range(6)]
    lines = ["id\tprompt\tcategory"] + [f"p{i}\t{s.prompt}\ttoy" for i, s in enumerate(scenes)]
    (folder / "prompts.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    rows = []
    for i, scene in enumerate(scenes):
        for model in ("sharp", "blurry"):
            image = render(scene, 128)
            if model == "blurry":
                image = image.filter(ImageFilter.GaussianBlur(5))
            rel = f"{model}/p{i}.png"
            (folder / "images" / model).mkdir(parents=True, exist_ok=True)
            image.save(folder / "images" / rel)
            rows.append(
                {"model": model, "prompt_id": f"p{i}", "prompt": scene.prompt, "seed": 0,
                 "path": rel, "sha256": sha256_file(folder / "images" / rel), "width": 128,
                 "height": 128, "params": {}, "latency_ms": 10.0}
            )  # fmt: skip
    manifest = "".join(json.dumps(r) + "\n" for r in rows)
    (folder / "images" / "manifest.jsonl").write_text(manifest, encoding="utf-8")
    (folder / "study.toml").write_text(
        f"""name = "journey"
title = "Which image is better?"
instructions = "Each trial shows two images made from the same prompt. Choose the one that answers the question better: click or tap it."
consent = {json.dumps(CONSENT)}
models = ["sharp", "blurry"]
seeds = [0]
quota = 3
practice = 1
completion_code = "C1A2B3D4"
[prompts]
file = "prompts.tsv"
[[questions]]
id = "quality"
text = "Which image is of higher quality?"
[[questions]]
id = "alignment"
text = "Which image better matches the prompt?"
""",
        encoding="utf-8",
    )
    study = load_study(folder / "study.toml")
    return study, load_prompts(study.prompts_file)


def _same_height(page, *selectors: str) -> None:
    """Buttons on one row stand equally tall (Gradio's .prose margins once made them not)."""
    heights = [page.locator(s).bounding_box()["height"] for s in selectors]
    assert max(heights) - min(heights) < 0.5, dict(zip(selectors, heights, strict=True))


def _answered(page) -> int:
    return int(page.inner_text("#arena-progress").split("/")[0])


def _wait_answered(page, n: int) -> None:
    page.wait_for_function(
        f"document.querySelector('#arena-progress').innerText.startsWith('{n} ')",
        timeout=15_000,
    )


@pytest.mark.parametrize("size", list(SIZES))
def test_a_whole_session_fits_every_screen(chromium, tmp_path, size) -> None:
    study, prompts = toy_study(tmp_path)
    store = Store.open(f"sqlite:///{tmp_path / 'arena.db'}")
    ingest(store, study, prompts)
    shots = SCREENS / size
    shots.mkdir(parents=True, exist_ok=True)
    phone = size == "phone"
    with running(create_server(study, store)) as base:
        context = chromium.new_context(**SIZES[size])
        page = context.new_page()
        page.goto(base + f"?rater={size}")

        # 1. Consent, with the instructions and an example pair; nothing to vote on yet.
        page.wait_for_selector("#arena-consent:not([hidden])", timeout=30_000)
        page.wait_for_selector("#arena-example .arena-pair img")
        assert "you may stop at any time" in page.inner_text("#arena-consent")
        assert not page.is_visible("#arena-left")
        _on_screen(page, "#arena-agree")
        _on_screen(page, "#arena-decline")
        _same_height(page, "#arena-agree", "#arena-decline")
        page.screenshot(path=str(shots / "1-consent.png"))
        (page.tap if phone else page.click)("#arena-agree")

        # 2. The practice trial, marked as such; chosen by its image.
        page.wait_for_function(SHOWN, timeout=15_000)
        assert page.is_visible("#arena-trial .arena-practice")
        _trial_on_screen(page)
        _same_height(page, "#arena-left", "#arena-right")
        assert page.is_visible("#arena-left .arena-key") != phone  # key hints need keys
        page.screenshot(path=str(shots / "2-practice.png"))
        pick = "#arena-trial button.arena-pick[data-choice=left]"
        (page.tap if phone else page.click)(pick)
        _wait_answered(page, 1)

        # 3. A rated trial: a key on the laptop, a tap on the button on the phone.
        page.wait_for_function(SHOWN, timeout=15_000)
        assert not page.is_visible("#arena-trial .arena-practice")
        _trial_on_screen(page)
        page.screenshot(path=str(shots / "3-trial.png"))
        if phone:
            page.tap("#arena-right")
        else:
            page.keyboard.press("2")
        _wait_answered(page, 2)

        # 4. A refresh in the middle resumes where the rater was, without consent again.
        page.wait_for_function(SHOWN, timeout=15_000)
        token = page.evaluate("window.arena.token")
        page.reload()
        page.wait_for_function(SHOWN, timeout=30_000)
        assert _answered(page) == 2 and page.evaluate("window.arena.token") == token
        assert not page.is_visible("#arena-consent")
        _trial_on_screen(page)
        page.screenshot(path=str(shots / "4-after-refresh.png"))
        for _ in range(2):
            n = _answered(page)
            if phone:
                page.tap("#arena-trial button.arena-pick[data-choice=right]")
            else:
                page.keyboard.press("ArrowLeft")
            _wait_answered(page, n + 1)
            if n + 1 < study.practice + study.quota:
                page.wait_for_function(SHOWN, timeout=15_000)

        # 5. The completion code, on one line, with its copy button.
        page.wait_for_selector("#arena-trial .arena-done", timeout=15_000)
        _on_screen(page, "#arena-trial .arena-code")
        _on_screen(page, "#arena-copy")
        assert "C1A2B3D4" in page.inner_text("#arena-trial")
        page.screenshot(path=str(shots / "5-done.png"))
        context.close()
    df = store.comparisons(study.name)
    assert list(df["kind"]) == ["practice", "2afc", "2afc", "2afc"]
    assert list(df["outcome"]) == ["a", "b", "a" if not phone else "b", "a" if not phone else "b"]
    store.close()
    for name in ("1-consent", "2-practice", "3-trial", "4-after-refresh", "5-done"):
        assert (shots / f"{name}.png").stat().st_size > 5_000, name
