"""Model-card loading and validation (no torch needed)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from models.cards import DEFAULT_CARDS_DIR, CardError, ModelCard, load_card, load_cards

MINIMAL = """\
display_name = "Example"
backend = "diffusers"
repo = "org/model"
"""


def _error(path: Path) -> str:
    with pytest.raises(CardError) as info:
        load_card(path)
    return str(info.value)


def test_minimal_card_gets_defaults(write_card):
    card = load_card(write_card("example", MINIMAL))
    assert card.id == "example"
    assert card.dtype == "float16"
    assert card.revision is None and card.lora is None and card.pipeline is None
    assert card.scheduler.name is None and dict(card.scheduler.options) == {}
    assert card.steps is None and card.width is None and card.height is None
    assert card.resolved_repo == "org/model"
    assert len(card.sha256) == 64


def test_full_card_fields(write_card, tmp_path):
    path = write_card(
        "full",
        """\
        display_name = "Full"
        description = "all keys"
        backend = "diffusers"
        repo = "./weights/full"
        revision = "main"
        variant = "fp16"
        dtype = "bfloat16"
        pipeline = "StableDiffusionXLPipeline"

        [scheduler]
        class = "EulerDiscreteScheduler"
        timestep_spacing = "trailing"

        [lora]
        repo = "org/lora"
        weight_name = "w.safetensors"
        scale = 1

        [call]
        num_inference_steps = 4
        guidance_scale = 0
        height = 512
        width = 768
        negative_prompt = "blurry"
        original_size = [1024, 1024]
        """,
    )
    card = load_card(path)
    assert (card.steps, card.width, card.height, card.guidance_scale) == (4, 768, 512, 0)
    assert card.scheduler.name == "EulerDiscreteScheduler"
    assert dict(card.scheduler.options) == {"timestep_spacing": "trailing"}
    assert card.lora is not None and card.lora.scale == 1.0 and card.lora.fuse is True
    assert card.call["negative_prompt"] == "blurry"
    # A leading dot is a path relative to the card file, not to the working directory.
    assert Path(card.resolved_repo) == (tmp_path / "cards" / "weights" / "full").resolve()
    assert card.resolved_lora_repo == "org/lora"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (MINIMAL + "stpes = 4\n", ["unknown key 'stpes'", "valid keys"]),
        (MINIMAL + "displayname = 'x'\n", ["'displayname'", "did you mean 'display_name'"]),
        (MINIMAL + "num_inference_steps = 4\n", ["'num_inference_steps'", "[call]"]),
        (
            MINIMAL + "[call]\nnum_inference_step = 4\n",
            ["unknown key 'call.num_inference_step'", "did you mean 'num_inference_steps'"],
        ),
        (
            MINIMAL + "[call]\nprompt = 'x'\n",
            ["key 'call.prompt' must be absent", "the generator sets it"],
        ),
        (
            MINIMAL + "[call]\nheight = 500\n",
            ["key 'call.height' must be a positive multiple of 8, not 500"],
        ),
        (
            MINIMAL + "[call]\nnum_inference_steps = '4'\n",
            ["key 'call.num_inference_steps' must be a positive integer, not '4'"],
        ),
        (
            MINIMAL + "[call]\nnum_inference_steps = true\n",
            ["key 'call.num_inference_steps'", "not true"],
        ),
        (MINIMAL + "[call.extra]\na = 1\n", ["key 'call.extra'", "scalar", "not {a = 1}"]),
        (MINIMAL + "[lora]\nscale = 1.0\n", ["missing key 'lora.repo'"]),
        (
            MINIMAL + "[lora]\nrepo = 'a'\nfuze = true\n",
            ["unknown key 'lora.fuze'", "did you mean 'fuse'", "valid keys"],
        ),
        (MINIMAL + "[scheduler]\nclass = 'Euler'\n", ["key 'scheduler.class'", "not 'Euler'"]),
        (MINIMAL + "dtype = 'fp16'\n", ["key 'dtype'", "float32, float16, bfloat16", "not 'fp16'"]),
        (
            MINIMAL.replace('"diffusers"', '"difusers"'),
            ["key 'backend'", "diffusers, image-folder", "not 'difusers'"],
        ),
        (MINIMAL.replace('"Example"', "3"), ["key 'display_name' must be a string, not 3"]),
        (
            MINIMAL.replace('repo = "org/model"\n', ""),
            ["missing key 'repo'", "required: id, display_name, backend, repo"],
        ),
    ],
)
def test_validation_errors_name_file_and_key(write_card, body, expected):
    message = _error(write_card("bad", body))
    assert "bad.toml" in message
    for fragment in expected:
        assert fragment in message


def test_did_you_mean_for_unknown_backend(write_card):
    message = _error(write_card("bad", MINIMAL.replace('"diffusers"', '"image_folder"')))
    assert "did you mean 'image-folder'" in message


def test_id_must_match_file_name(write_card, tmp_path):
    path = write_card("right", MINIMAL)
    moved = path.rename(path.with_name("wrong.toml"))
    message = _error(moved)
    assert "wrong.toml" in message and "'id'" in message and "right" in message


def test_id_must_be_a_safe_folder_name(tmp_path):
    path = tmp_path / "Bad Id.toml"
    path.write_text('id = "Bad Id"\n' + MINIMAL)
    message = _error(path)
    assert "Bad Id.toml" in message and "'id'" in message


def test_invalid_toml_names_the_line(write_card):
    path = write_card("broken", MINIMAL + "[call]\nnum_inference_steps = = 4\n")
    message = _error(path)
    assert "broken.toml" in message and "line 6: not valid TOML" in message


def test_duplicate_id_names_both_files(write_card, tmp_path):
    first = write_card("twin", MINIMAL)
    second = write_card("twin", MINIMAL, folder=tmp_path / "cards" / "more")
    with pytest.raises(CardError) as info:
        load_cards(tmp_path / "cards")
    message = str(info.value)
    assert "key 'id' must be unique, not 'twin'" in message and "'id'" in message
    assert str(first) in message and str(second) in message


def test_load_cards_missing_folder(tmp_path):
    with pytest.raises(CardError, match="not a folder"):
        load_cards(tmp_path / "nope")


def test_shipped_cards_load():
    cards = load_cards()
    assert DEFAULT_CARDS_DIR.is_dir()
    expected = {
        "sdxl-turbo-1step": (1, 512, 0.0),
        "sdxl-turbo-4step": (4, 512, 0.0),
        "sdxl-base-50step": (50, 1024, 5.0),
        "sd-turbo-1step": (1, 512, 0.0),
        "lcm-lora-sdxl-4step": (4, 1024, 1.0),
        "sdxl-lightning-4step": (4, 1024, 0.0),
        "tiny-sdxl-1step": (1, 64, 0.0),
        "tiny-sdxl-4step": (4, 64, 0.0),
        "tiny-sdxl-25step": (25, 64, 5.0),
    }
    assert expected.keys() <= cards.keys()
    for card_id, (steps, size, guidance) in expected.items():
        card = cards[card_id]
        assert isinstance(card, ModelCard)
        assert (card.steps, card.width, card.height, card.guidance_scale) == (
            steps,
            size,
            size,
            guidance,
        ), card_id
    assert cards["sdxl-lightning-4step"].lora.weight_name == "sdxl_lightning_4step_lora.safetensors"
    assert cards["lcm-lora-sdxl-4step"].scheduler.name == "LCMScheduler"
    tiny = cards["tiny-sdxl-1step"]
    assert Path(tiny.resolved_repo, "model_index.json").is_file()


def test_light_modules_do_not_import_torch():
    # The arena server imports these without the `generate` extra installed.
    code = (
        "import sys, models, models.cards, models.manifest\n"
        "heavy = sorted({'torch', 'diffusers', 'transformers'} & set(sys.modules))\n"
        "assert not heavy, heavy\n"
    )
    root = Path(__file__).resolve().parents[2]
    subprocess.run([sys.executable, "-c", code], check=True, cwd=root)
