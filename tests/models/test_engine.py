"""Engine options ([engine] and arena generate's overrides) on the tiny SDXL pipeline."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from models.cards import CardError, load_card
from models.engine import EngineOptions, parse_engine
from models.generate import generate_image_set
from models.manifest import read_manifest

torch = pytest.importorskip("torch")
pytest.importorskip("diffusers")

from models.backends import load_pipeline  # noqa: E402


@pytest.mark.parametrize(
    ("table", "fragment"),
    [
        (
            {"channel_last": True},
            "unknown key 'engine.channel_last' (did you mean 'channels_last'?)",
        ),
        ({"dtype": "float16"}, "top-level key 'dtype'"),
        ({"compile": "fastest"}, "key 'engine.compile' must be false or one of"),
        ({"fuse_qkv": "yes"}, "key 'engine.fuse_qkv' must be true or false, not 'yes'."),
        ({"vae_revision": "main"}, "key 'engine.vae_revision' needs key 'engine.vae'."),
    ],
)
def test_bad_engine_tables_are_one_sentence(table, fragment):
    with pytest.raises(ValueError) as info:
        parse_engine(table, "cards/x.toml")
    assert str(info.value).startswith("cards/x.toml: ")
    assert fragment in str(info.value)


def test_a_card_with_a_bad_engine_key_is_a_card_error(write_card, tiny_card_body):
    body = tiny_card_body() + "\n[engine]\nfuse_qvk = true\n"
    with pytest.raises(CardError, match=r"bad\.toml: unknown key 'engine\.fuse_qvk'"):
        load_card(write_card("bad", body))


def test_engine_options_apply_to_the_pipeline(write_card, tiny_card_body, tiny_sdxl):
    engine = (
        "\n[engine]\nchannels_last = true\nfuse_qkv = true\nvae_tiling = true\n"
        f'vae_slicing = true\nvae = "{(tiny_sdxl / "vae").as_posix()}"\n'
    )
    card = load_card(write_card("fast", tiny_card_body() + engine))
    loaded = load_pipeline(card, "cpu")
    unet, vae = loaded.pipe.unet, loaded.pipe.vae
    conv = unet.conv_in.weight
    assert conv.is_contiguous(memory_format=torch.channels_last)
    assert any("Fused" in type(p).__name__ for p in unet.attn_processors.values())
    assert vae.use_tiling and vae.use_slicing
    assert vae.config.force_upcast is False
    assert loaded.params()["engine"]["vae"].endswith("vae")
    images = loaded(["a cube"], [0])
    assert images[0].size == (64, 64)


def test_an_option_the_pipeline_cannot_take_is_refused(write_card, tiny_card_body, tmp_path):
    from models.tiny import build_tiny_lora

    card_dir = tmp_path / "cards"
    lora = build_tiny_lora(
        load_card(write_card("base", tiny_card_body())).resolved_repo, tmp_path / "lora"
    )
    body = tiny_card_body() + (
        f'\n[lora]\nrepo = "{lora.as_posix()}"\nfuse = false\n\n[engine]\nfuse_qkv = true\n'
    )
    card = load_card(write_card("lora", body, card_dir))
    with pytest.raises(ValueError) as info:
        load_pipeline(card, "cpu")
    assert "lora.toml: key 'engine.fuse_qkv' cannot apply: an unfused LoRA" in str(info.value)


def test_command_line_overrides_and_their_errors(write_card, tiny_card_body, tmp_path):
    card = load_card(write_card("tiny-o", tiny_card_body()))
    assert card.engine == EngineOptions()
    out = tmp_path / "set"
    generate_image_set(
        [card],
        [("p1", "a cube")],
        [0],
        out,
        device="cpu",
        progress=False,
        engine={"channels_last": True, "compile": None},
    )
    (entry,) = read_manifest(out)
    assert entry.params["engine"]["channels_last"] is True
    with pytest.raises(CardError, match=r"tiny-o\.toml \(with the command-line options\): key"):
        generate_image_set(
            [card],
            [("p1", "a cube")],
            [0],
            out,
            device="cpu",
            progress=False,
            engine={"compile": "fastest"},
        )


def test_changed_engine_options_make_images_stale(write_card, tiny_card_body, tmp_path):
    card = load_card(write_card("tiny-s", tiny_card_body()))
    out = tmp_path / "set"
    args = ([card], [("p1", "a cube")], [0, 1], out)
    assert generate_image_set(*args, device="cpu", progress=False).generated == 2
    assert generate_image_set(*args, device="cpu", progress=False).skipped == 2
    again = generate_image_set(*args, device="cpu", progress=False, engine={"vae_slicing": True})
    assert again.generated == 2


def test_latency_two_ways_with_the_device_name(write_card, tiny_card_body, tmp_path):
    card = load_card(write_card("tiny-l", tiny_card_body()))
    out = tmp_path / "set"
    generate_image_set(
        [card],
        [("p1", "a cube"), ("p2", "a cone")],
        [0, 1, 2],
        out,
        device="cpu",
        batch_size=4,
        progress=False,
    )
    entries = read_manifest(out)
    warm = {e.params["latency"]["warm_single_ms"] for e in entries}
    assert len(warm) == 1 and next(iter(warm)) > 0
    sizes = sorted(e.params["latency"]["batch_size"] for e in entries)
    # Five images in batches of 4 and 1 warm the pipeline up; the sixth is drawn alone, timed.
    assert sizes == [1, 1, 4, 4, 4, 4]
    assert all(e.latency_ms > 0 and e.params["device_name"] for e in entries)


def _pixels(path):
    with Image.open(path) as image:
        return np.asarray(image, dtype=np.int16)


def test_an_image_does_not_depend_on_its_batch_position(write_card, tiny_card_body, tmp_path):
    card = load_card(write_card("tiny-p", tiny_card_body(steps=2)))
    prompts = [("p1", "a red cube")]
    generate_image_set(
        [card], prompts, [5, 6, 7, 8], tmp_path / "a", device="cpu", batch_size=3, progress=False
    )
    generate_image_set(
        [card], prompts, [8, 7, 6, 5], tmp_path / "b", device="cpu", batch_size=3, progress=False
    )
    # Seeds 6 and 7 sit at other positions of the batch of three in the two runs; seed 5 is
    # drawn alone in one run and third in a batch in the other. Same pixels within 2 levels
    # (of 255) on a rare pixel: matrix kernels sum in a shape-dependent order.
    for entry in read_manifest(tmp_path / "a"):
        a = _pixels(tmp_path / "a" / entry.path)
        b = _pixels(tmp_path / "b" / entry.path)
        assert np.abs(a - b).max() <= 2 and np.abs(a - b).mean() < 0.01, entry.path


def test_offline_without_cached_weights_names_card_files_and_command(
    write_card, monkeypatch, tmp_path
):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    body = 'display_name = "x"\nbackend = "diffusers"\nrepo = "nobody-org/not-cached-model"\n'
    card = load_card(write_card("far", body))
    with pytest.raises(CardError) as info:
        load_pipeline(card, "cpu")
    message = str(info.value)
    assert message.startswith(f"{card.path}: model 'far' needs nobody-org/not-cached-model")
    assert "missing: model_index.json" in message
    assert "`hf download nobody-org/not-cached-model`" in message
    assert "HF_HUB_OFFLINE=1" in message
    assert message.count(". ") == 0 and message.endswith(".")
