"""The tiny SDXL builder and the card -> from_pretrained -> pipeline path."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("diffusers")

from safetensors.torch import load_file  # noqa: E402

from models.backends import load_pipeline, resolve_device, resolve_dtype  # noqa: E402
from models.cards import CardError, load_card, load_cards  # noqa: E402

SHIPPED = Path(__file__).resolve().parents[2] / "data" / "weights" / "tiny-sdxl"
# Written by the library, not by us: they change with the installed version.
_VERSION_KEYS = {"_diffusers_version", "transformers_version", "dtype", "torch_dtype"}


def _files(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}


def test_shipped_weights_are_small_and_reproducible(tiny_sdxl):
    assert sum(p.stat().st_size for p in SHIPPED.rglob("*") if p.is_file()) < 2_000_000
    assert _files(SHIPPED) == _files(tiny_sdxl)
    for name in sorted(_files(SHIPPED)):
        ours, theirs = SHIPPED / name, tiny_sdxl / name
        if name.endswith(".safetensors"):
            a, b = load_file(ours), load_file(theirs)
            assert a.keys() == b.keys(), name
            for key in a:
                assert torch.equal(a[key], b[key]), f"{name}:{key} differs; rerun models.tiny"
        elif name.endswith(".json"):
            a, b = json.loads(ours.read_text()), json.loads(theirs.read_text())
            for data in (a, b):
                for key in _VERSION_KEYS:
                    data.pop(key, None)
            assert a == b, name
        else:
            assert ours.read_bytes() == theirs.read_bytes(), name


def test_card_loads_tiny_pipeline_through_from_pretrained(write_card, tiny_card_body, tiny_sdxl):
    card = load_card(write_card("tiny-a", tiny_card_body(steps=4)))
    loaded = load_pipeline(card, device="cpu")
    pipe = loaded.pipe
    assert type(pipe).__name__ == "StableDiffusionXLPipeline"
    assert type(pipe.scheduler).__name__ == "EulerAncestralDiscreteScheduler"
    assert pipe.scheduler.config.timestep_spacing == "trailing"
    # The scheduler keeps the checkpoint's noise schedule; only the overridden keys change.
    assert pipe.scheduler.config.beta_schedule == "scaled_linear"
    assert pipe.unet.dtype == torch.float32 and loaded.device == "cpu"
    assert pipe._progress_bar_config.get("disable") is True
    params = loaded.params()
    assert params["pipeline"] == "StableDiffusionXLPipeline"
    assert params["scheduler_overrides"] == {"timestep_spacing": "trailing"}
    assert params["steps"] == 4 and params["dtype"] == "float32"
    assert {"torch", "diffusers", "transformers"} <= params["versions"].keys()
    images = loaded(["a red cube", "a blue ball"], [0, 1])
    assert [im.size for im in images] == [(64, 64), (64, 64)]
    loaded.close()


def test_shipped_tiny_card_and_auto_pipeline(tiny_sdxl, write_card):
    # Without `pipeline`, AutoPipelineForText2Image picks the class from model_index.json.
    card = load_card(
        write_card(
            "tiny-auto",
            f'display_name = "x"\nbackend = "diffusers"\nrepo = "{tiny_sdxl.as_posix()}"\n'
            'dtype = "float32"\n[call]\nnum_inference_steps = 1\n',
        )
    )
    assert type(load_pipeline(card, "cpu").pipe).__name__ == "StableDiffusionXLPipeline"
    shipped = load_cards()["tiny-sdxl-25step"]
    loaded = load_pipeline(shipped, "cpu")
    assert type(loaded.pipe.scheduler).__name__ == "EulerDiscreteScheduler"


@pytest.mark.parametrize(
    ("scheduler", "extra", "fragments"),
    [
        (
            'class = "EulerAncestralDiscreteScheduler"\ntimestep_spcing = "trailing"',
            "",
            ["unknown key 'scheduler.timestep_spcing'", "(did you mean 'timestep_spacing'?)"],
        ),
        (
            'class = "EulerAncestralDiscretScheduler"',
            "",
            [
                "key 'scheduler.class' must name",
                "(did you mean 'EulerAncestralDiscreteScheduler'?)",
            ],
        ),
        (
            'class = "EulerDiscreteScheduler"',
            'pipeline = "StableDiffusionXLPipelin"',
            ["key 'pipeline' must name", "(did you mean 'StableDiffusionXLPipeline'?)"],
        ),
    ],
)
def test_class_and_option_typos_are_card_errors(
    write_card, tiny_card_body, scheduler, extra, fragments
):
    body = tiny_card_body(scheduler=scheduler, extra=extra)
    if extra:
        body = body.replace('pipeline = "StableDiffusionXLPipeline"\n', "")
    path = write_card("typo", body)
    with pytest.raises(CardError) as info:
        load_pipeline(load_card(path), "cpu")
    message = str(info.value)
    assert "typo.toml" in message
    for fragment in fragments:
        assert fragment in message


def test_call_argument_the_pipeline_lacks(write_card, tiny_card_body):
    body = tiny_card_body() + "guidance_rescal = 0.7\n"
    with pytest.raises(CardError, match=r"typo\.toml: unknown key 'call\.guidance_rescal'"):
        load_pipeline(load_card(write_card("typo", body)), "cpu")


def test_missing_weights_name_the_card(write_card, tmp_path):
    body = 'display_name = "x"\nbackend = "diffusers"\nrepo = "./nowhere"\n'
    with pytest.raises(
        CardError, match=r"gone\.toml: key 'repo' must be an existing folder, not '.*nowhere'\."
    ):
        load_pipeline(load_card(write_card("gone", body)), "cpu")
    (tmp_path / "cards" / "empty").mkdir()
    body = 'display_name = "x"\nbackend = "diffusers"\nrepo = "./empty"\n'
    with pytest.raises(CardError, match=r"hollow\.toml: key 'repo' must name a loadable pipeline"):
        load_pipeline(load_card(write_card("hollow", body)), "cpu")


def test_float16_falls_back_on_cpu(write_card, caplog):
    card = load_card(
        write_card("half", 'display_name = "x"\nbackend = "diffusers"\nrepo = "a/b"\n')
    )
    assert card.dtype == "float16"
    with caplog.at_level(logging.WARNING, logger="models.backends"):
        assert resolve_dtype(card, "cpu") == torch.float32
    assert "float16" in caplog.text and "half" in caplog.text
    assert resolve_dtype(card, "cuda") == torch.float16


def test_resolve_device():
    assert resolve_device("cpu") == "cpu"
    expected = "cuda" if torch.cuda.is_available() else None
    assert resolve_device(None) in {"cuda", "mps", "cpu"}
    if expected:
        assert resolve_device(None) == expected
