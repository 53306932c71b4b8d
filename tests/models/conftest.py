"""Shared fixtures: one tiny SDXL pipeline per test session, and a card writer."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest


def pytest_configure(config: pytest.Config) -> None:
    # diffusers' schedulers call np.array on tensors, which numpy 2 flags; not ours to fix.
    config.addinivalue_line(
        "filterwarnings", "ignore:__array__ implementation doesn't accept a copy:DeprecationWarning"
    )


@pytest.fixture(scope="session")
def tiny_sdxl(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random SDXL pipeline saved with ``save_pretrained``, built once per session."""
    from models.tiny import build_tiny_sdxl

    return build_tiny_sdxl(tmp_path_factory.mktemp("weights") / "tiny-sdxl", seed=0)


@pytest.fixture
def write_card(tmp_path: Path) -> Callable[..., Path]:
    """Return ``write_card(id, body, folder=None)`` that writes ``<folder>/<id>.toml``.

    *body* is TOML after the ``id`` line; ``{id}`` inside it is replaced by the id.
    """

    def write(card_id: str, body: str, folder: Path | None = None) -> Path:
        folder = folder or tmp_path / "cards"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{card_id}.toml"
        text = f'id = "{card_id}"\n' + textwrap.dedent(body).replace("{id}", card_id)
        path.write_text(text, encoding="utf-8")
        return path

    return write


@pytest.fixture
def tiny_card_body(tiny_sdxl: Path) -> Callable[..., str]:
    """Return ``body(steps=1, scheduler=..., extra="")``: a diffusers card for the tiny pipeline."""

    def body(
        steps: int = 1,
        scheduler: str = 'class = "EulerAncestralDiscreteScheduler"\ntimestep_spacing = "trailing"',
        extra: str = "",
        guidance: float = 0.0,
    ) -> str:
        return (
            'display_name = "Tiny {id}"\n'
            'backend = "diffusers"\n'
            f'repo = "{tiny_sdxl.as_posix()}"\n'
            'pipeline = "StableDiffusionXLPipeline"\n'
            'dtype = "float32"\n'
            f"{extra}\n"
            f"[scheduler]\n{scheduler}\n\n"
            f"[call]\nnum_inference_steps = {steps}\nguidance_scale = {guidance}\n"
            "height = 64\nwidth = 64\n"
        )

    return body
