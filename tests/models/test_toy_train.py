"""Training the toy family (quick setting), saving it and loading it back through model cards."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("diffusers")

from safetensors.torch import load_file  # noqa: E402

from models.backends import load_pipeline  # noqa: E402
from models.cards import CardError, load_card  # noqa: E402
from models.generate import generate_image_set  # noqa: E402
from models.manifest import read_manifest  # noqa: E402
from models.toy.pipeline import ToyPipeline  # noqa: E402
from models.toy.train import main  # noqa: E402

PROMPTS = [
    ("p1", "a small red circle on a white background"),
    ("p2", "a large blue square above a small yellow triangle on a grey background"),
]


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, str]:
    """The training command in its quick setting, run once: (toy-base, toy-turbo, its output)."""
    out = tmp_path_factory.mktemp("toy-weights")
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        assert main(["--quick", "--out", str(out), "--seed", "3"]) == 0
    return out / "toy-base", out / "toy-turbo", printed.getvalue()


def _card(write_card, card_id: str, folder: Path, steps: int, guidance: float, extra: str = ""):
    return load_card(
        write_card(
            card_id,
            f"""
            display_name = "Toy {card_id}"
            backend = "diffusers"
            repo = "{folder.as_posix()}"
            pipeline = "models.toy.pipeline:ToyPipeline"
            dtype = "float32"
            {extra}
            [scheduler]
            class = "DDIMScheduler"
            timestep_spacing = "trailing"

            [call]
            num_inference_steps = {steps}
            guidance_scale = {guidance}
            height = 32
            width = 32
            """,
        )
    )


def test_quick_training_saves_teacher_and_student_in_diffusers_format(trained) -> None:
    base, turbo, printed = trained
    assert "teacher step 3/3" in printed and "student step 3/3" in printed
    assert "saved" in printed and "training wall time" in printed
    for folder in (base, turbo):
        names = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}
        assert {
            "model_index.json",
            "unet/diffusion_pytorch_model.safetensors",
            "text_encoder/model.safetensors",
            "tokenizer/tokenizer.json",
            "scheduler/scheduler_config.json",
        } <= names
    # The student is its own set of weights, trained away from the teacher it started from.
    a = load_file(base / "unet" / "diffusion_pytorch_model.safetensors")
    b = load_file(turbo / "unet" / "diffusion_pytorch_model.safetensors")
    assert a.keys() == b.keys()
    assert any(not torch.equal(a[k], b[k]) for k in a)
    pipe = ToyPipeline.from_pretrained(turbo)
    assert pipe.scheduler.config.prediction_type == "v_prediction"
    assert pipe.scheduler.config.timestep_spacing == "trailing"
    assert pipe.tokenizer("a small red circle").input_ids[1:-1] != [pipe.tokenizer.unk_token_id] * 4


def test_cards_load_the_custom_pipeline_and_generate_resumable_seeded_images(
    trained, write_card, tmp_path
) -> None:
    base, turbo, _ = trained
    cards = [
        _card(write_card, "qbase-2", base, steps=2, guidance=3.0),
        _card(write_card, "qturbo-1", turbo, steps=1, guidance=0.0),
    ]
    loaded = load_pipeline(cards[0], device="cpu")
    assert type(loaded.pipe).__name__ == "ToyPipeline"
    assert type(loaded.pipe.scheduler).__name__ == "DDIMScheduler"
    assert loaded.params()["pipeline"] == "ToyPipeline"
    # One generator per image: an image depends on its seed, not on its batch.
    alone = loaded([PROMPTS[0][1]], [5])[0]
    batched = loaded([PROMPTS[1][1], PROMPTS[0][1]], [9, 5])[1]
    assert alone.size == (32, 32)
    diff = np.abs(np.asarray(alone, dtype=int) - np.asarray(batched, dtype=int))
    assert diff.max() <= 1
    loaded.close()

    out = tmp_path / "images"
    first = generate_image_set(cards, PROMPTS, [0, 1], out, device="cpu", progress=False)
    assert first.generated == 8 and first.skipped == 0
    entries = {e.key: e for e in read_manifest(out)}
    assert {e.width for e in entries.values()} == {32}
    assert entries[("qturbo-1", "p1", 0)].sha256 != entries[("qturbo-1", "p1", 1)].sha256
    assert entries[("qturbo-1", "p1", 0)].params["steps"] == 1
    again = generate_image_set(cards, PROMPTS, [0, 1], out, device="cpu", progress=False)
    assert again.generated == 0 and again.skipped == 8


@pytest.mark.parametrize(
    ("pipeline", "expected"),
    [
        (
            "models.toy.no_such_module:ToyPipeline",
            "an importable module, not 'models.toy.no_such_module'",
        ),
        (
            "models.toy.pipeline:NoSuchPipeline",
            "class of module 'models.toy.pipeline', not 'NoSuchPipeline'",
        ),
        ("models.toy.pipeline:build_tokenizer", "not 'build_tokenizer'"),
    ],
)
def test_a_card_naming_a_missing_pipeline_class_is_one_plain_error(
    trained, write_card, pipeline: str, expected: str
) -> None:
    card = _card(write_card, "broken", trained[0], steps=1, guidance=0.0)
    path = card.path
    path.write_text(
        path.read_text().replace("models.toy.pipeline:ToyPipeline", pipeline), encoding="utf-8"
    )
    with pytest.raises(CardError, match=expected) as info:
        load_pipeline(load_card(path), device="cpu")
    assert "broken.toml" in str(info.value) and "'pipeline'" in str(info.value)


def test_the_pooled_prompt_reaches_the_unet_and_ignores_padding() -> None:
    from models.toy.nets import NetSize, build_pipeline
    from models.toy.pipeline import denoise, encode_prompts

    pipe = build_pipeline(NetSize(channels=(16, 32), text_layers=1), seed=0)
    assert pipe.unet.config.class_embed_type == "projection"
    prompts = [
        "a small red circle on a white background",
        "a small blue circle on a white background",
    ]
    context, mask = encode_prompts(pipe.tokenizer, pipe.text_encoder, prompts)
    sample = torch.randn((1, 12, 16, 16), generator=torch.Generator().manual_seed(0)).repeat(
        2, 1, 1, 1
    )
    with torch.no_grad():
        out = denoise(pipe.unet, sample, torch.tensor(999), context, mask)
        # Garbage in the padded positions must change nothing: the mask hides them from the
        # cross-attention and from the pooled prompt alike.
        padded = context.clone()
        padded[mask == 0] = 100.0
        assert torch.equal(denoise(pipe.unet, sample, torch.tensor(999), padded, mask), out)
        # One word apart, two prompts must draw differently from the same noise.
        assert (out[0] - out[1]).abs().max() > 1e-4


def test_judge_table_scores_a_perfect_drawer_one_and_a_blurred_one_lower() -> None:
    from PIL import ImageFilter

    from models.toy.evaluate import judge_table
    from models.toy.grammar import benchmark_scenes, render

    scenes = benchmark_scenes(20, seed=4)
    by_prompt = {s.prompt: s for s in scenes}

    def renderer(blur: float):
        def draw(prompts, seeds):
            images = [render(by_prompt[p]) for p in prompts]
            return [im.filter(ImageFilter.GaussianBlur(blur)) if blur else im for im in images]

        return draw

    rows = {
        r.model: r
        for r in judge_table(
            {"toy-base-50step": renderer(0), "blurred": renderer(2.5)}, scenes, seeds=(0, 1)
        )
    }
    perfect, blurred = rows["toy-base-50step"], rows["blurred"]
    assert perfect.mean == 1.0 and perfect.n_images == 40
    assert perfect.checks == {"background": 1.0, "colour": 1.0, "shape": 1.0, "size": 1.0}
    assert blurred.mean < 0.9 and blurred.diff < 0 and blurred.diff_high < 0
    assert min(blurred.checks.values()) < 1.0
