"""Shared fixtures: a tiny real image set (Pillow PNGs + manifest) and a study file around it."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image

from arena.prompts import Prompt, load_prompts
from arena.study import Study, load_study

PROMPT_TEXTS = (
    "a red cube on a table",
    "a cat wearing a hat",
    "a city skyline at night",
    "two dogs playing chess",
    "a bowl of <b>fruit</b> & ${danger} {{x}}",  # hostile markup must stay text
    "a lighthouse in fog",
    "an astronaut riding a horse",
    "a watercolor fox",
)


def _png(path: Path, color: tuple[int, int, int], size: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (size, size), color).save(path, format="PNG")


def write_image_set(
    folder: Path,
    prompts: list[Prompt],
    models: tuple[str, ...],
    seeds: tuple[int, ...],
    size: int = 8,
) -> list[dict]:
    """Write one PNG per (model, prompt, seed) and a manifest.jsonl; return the manifest rows."""
    from models.manifest import MANIFEST_NAME, sha256_file

    rows = []
    for m_i, model in enumerate(models):
        for p_i, prompt in enumerate(prompts):
            for seed in seeds:
                rel = f"{model}/{prompt.id}_s{seed}.png"
                color = (40 * m_i % 256, 30 * p_i % 256, 50 * seed % 256)
                _png(folder / rel, color, size)
                rows.append(
                    {
                        "model": model,
                        "prompt_id": prompt.id,
                        "prompt": prompt.text,
                        "seed": seed,
                        "path": rel,
                        "sha256": sha256_file(folder / rel),
                        "width": size,
                        "height": size,
                        "params": {"steps": 1 + m_i, "card": model},
                        "latency_ms": 100.0 * (m_i + 1) + seed,
                    }
                )
    write_manifest_rows(folder / MANIFEST_NAME, rows)
    return rows


def write_manifest_rows(path: Path, rows: list[dict]) -> None:
    """Write manifest rows by hand (tests corrupt them on purpose)."""
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


def build_study(
    folder: Path,
    models: tuple[str, ...] = ("alpha", "beta"),
    n_prompts: int = 6,
    seeds: tuple[int, ...] = (0, 1),
    quota: int = 5,
    questions: tuple[tuple[str, str], ...] = (("quality", "Which image looks better?"),),
    tie: bool = False,
    both_bad: bool = False,
    completion_code: str | None = "DONE-123",
    name: str = "t1",
    images: bool = True,
) -> tuple[Study, list[Prompt]]:
    """A study folder with prompts, images and study.toml under ``folder/name``."""
    folder = folder / name
    folder.mkdir(parents=True, exist_ok=True)
    lines = ["id\tprompt\tcategory"] + [
        f"p{i:02d}\t{PROMPT_TEXTS[i % len(PROMPT_TEXTS)]}\t{'ab'[i % 2]}" for i in range(n_prompts)
    ]
    (folder / "prompts.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    qs = "".join(f'[[questions]]\nid = "{q}"\ntext = "{t}"\n' for q, t in questions)
    code = f'completion_code = "{completion_code}"\n' if completion_code else ""
    (folder / "study.toml").write_text(
        f'name = "{name}"\ntitle = "Test <study>"\n'
        'instructions = "Pick the better image.\\n\\nUse 1/2 or the arrow keys."\n'
        f"models = {json.dumps(list(models))}\nseeds = {list(seeds)}\nquota = {quota}\n"
        f"seed = 7\n{code}"
        f'[prompts]\nfile = "prompts.tsv"\n{qs}'
        f"[responses]\ntie = {str(tie).lower()}\nboth_bad = {str(both_bad).lower()}\n",
        encoding="utf-8",
    )
    study = load_study(folder / "study.toml")
    prompts = load_prompts(study.prompts_file)
    if images:
        write_image_set(study.image_dir, prompts, models, seeds)
    return study, prompts


@pytest.fixture(scope="session")
def study_builder() -> Callable[..., tuple[Study, list[Prompt]]]:
    """The plain :func:`build_study`, for fixtures of wider scope than a test."""
    return build_study


@pytest.fixture
def make_study(tmp_path: Path) -> Callable[..., tuple[Study, list[Prompt]]]:
    """Factory: ``make_study(**options)`` builds a study in this test's tmp_path."""

    def make(**options) -> tuple[Study, list[Prompt]]:
        return build_study(tmp_path, **options)

    return make
