"""Batched, resumable generation with the tiny pipeline, and the image-folder backend."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from models.cards import load_card
from models.generate import GenerationError, generate_image_set
from models.manifest import MANIFEST_NAME, read_manifest, sha256_file, write_manifest

pytest.importorskip("torch")
pytest.importorskip("diffusers")

PROMPTS = [("p0001", "a red cube on a table"), ("p0002", "a lighthouse at night")]
SEEDS = [0, 1, 2]


def _run(cards, out: Path, prompts=PROMPTS, seeds=SEEDS, batch_size: int = 4):
    return generate_image_set(
        cards, prompts, seeds, out, device="cpu", batch_size=batch_size, progress=False
    )


def _hashes(out: Path) -> dict[tuple[str, str, int], str]:
    return {e.key: e.sha256 for e in read_manifest(out)}


@pytest.fixture
def tiny(write_card, tiny_card_body):
    return load_card(write_card("tiny-1", tiny_card_body(steps=1)))


def _pixels(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image, dtype=np.int16)


def test_seed_determines_the_image(tiny, tmp_path):
    three = _run([tiny], tmp_path / "b3", batch_size=3)
    again = _run([tiny], tmp_path / "b3-again", batch_size=3)
    one = _run([tiny], tmp_path / "b1", batch_size=1)
    assert (three.generated, three.skipped, again.generated, one.generated) == (6, 0, 6, 6)
    # Same seed, same batches: the same bytes.
    assert _hashes(tmp_path / "b3") == _hashes(tmp_path / "b3-again")
    # Another batch size: floating-point kernels (CPU and GPU alike) sum in a shape-dependent
    # order, so a rare pixel may round the other way; the image is otherwise the same.
    for entry in read_manifest(tmp_path / "b1"):
        a, b = _pixels(tmp_path / "b1" / entry.path), _pixels(tmp_path / "b3" / entry.path)
        assert np.abs(a - b).max() <= 2 and np.abs(a - b).mean() < 0.01, entry.path
    # Different seeds draw clearly different images.
    hashes = _hashes(tmp_path / "b1")
    assert len(set(hashes.values())) == len(hashes) == 6
    a, b = (_pixels(tmp_path / "b1" / f"tiny-1/p0001-s{s}.png") for s in (0, 1))
    assert np.abs(a - b).mean() > 5


def test_files_and_manifest_lines(tiny, tmp_path):
    summary = _run([tiny], tmp_path, prompts=PROMPTS[:1], seeds=[7], batch_size=2)
    assert summary.manifest_path == tmp_path / MANIFEST_NAME and summary.seconds > 0
    (entry,) = read_manifest(tmp_path)
    assert entry.path == "tiny-1/p0001-s7.png"
    assert (entry.model, entry.prompt_id, entry.prompt, entry.seed) == ("tiny-1", *PROMPTS[0], 7)
    file = tmp_path / entry.path
    assert sha256_file(file) == entry.sha256
    with Image.open(file) as image:
        assert image.format == "PNG" and image.size == (64, 64) and image.mode == "RGB"
        assert image.size == (entry.width, entry.height)
        # No text chunks (timestamps, software tags): same pixels, same bytes, same sha256.
        assert not image.text
    params = entry.params
    assert params["seed"] == 7 and params["card"] == "tiny-1" and params["steps"] == 1
    assert params["card_sha256"] == tiny.sha256 and params["device"] == "cpu"
    assert params["scheduler"] == "EulerAncestralDiscreteScheduler"
    assert params["guidance_scale"] == 0.0 and params["dtype"] == "float32"
    assert entry.latency_ms > 0
    assert not [p for p in tmp_path.rglob("*.tmp")]


def test_resume_skips_repairs_and_regenerates(tiny, tmp_path, write_card, tiny_card_body):
    _run([tiny], tmp_path)
    original = _hashes(tmp_path)
    files = sorted((tmp_path / "tiny-1").glob("*.png"))
    mtimes = [f.stat().st_mtime_ns for f in files]

    again = _run([tiny], tmp_path)
    assert (again.generated, again.skipped) == (0, 6)
    assert [f.stat().st_mtime_ns for f in files] == mtimes

    files[0].unlink()
    files[1].write_bytes(b"not a png any more")
    repaired = _run([tiny], tmp_path)
    assert (repaired.generated, repaired.skipped) == (2, 4)
    # Repaired files match their (rewritten) manifest lines and show the original images.
    repaired_hashes = _hashes(tmp_path)
    assert repaired_hashes.keys() == original.keys()
    for file, key in ((files[0], ("tiny-1", "p0001", 0)), (files[1], ("tiny-1", "p0001", 1))):
        assert sha256_file(file) == repaired_hashes[key]
    assert _run([tiny], tmp_path).skipped == 6

    # A run over a subset keeps the other lines; a changed card makes its images stale.
    edited = load_card(write_card("tiny-1", tiny_card_body(steps=2)))
    partial = _run([edited], tmp_path, prompts=PROMPTS[:1], seeds=[0])
    assert (partial.generated, partial.skipped) == (1, 0)
    assert len(read_manifest(tmp_path)) == 6
    assert _hashes(tmp_path)[("tiny-1", "p0001", 0)] != original[("tiny-1", "p0001", 0)]


def test_changed_prompt_text_regenerates(tiny, tmp_path):
    _run([tiny], tmp_path, prompts=PROMPTS[:1], seeds=[0])
    summary = _run([tiny], tmp_path, prompts=[("p0001", "a green cube")], seeds=[0])
    assert summary.generated == 1
    assert read_manifest(tmp_path)[0].prompt == "a green cube"


@pytest.mark.parametrize(
    ("prompts", "seeds", "fragment"),
    [
        ([("p1", "a"), ("p1", "b")], [0], "'p1' appears twice"),
        ([("p 1", "a")], [0], "prompt id 'p 1'"),
        ([("p1", " ")], [0], "no text"),
        ([("p1", "a")], [0, 0], "repeat"),
        ([("p1", "a")], [-1], "seed -1"),
    ],
)
def test_bad_inputs(tiny, tmp_path, prompts, seeds, fragment):
    with pytest.raises(GenerationError, match=fragment):
        _run([tiny], tmp_path, prompts=prompts, seeds=seeds)
    assert not (tmp_path / MANIFEST_NAME).exists()


def test_image_folder_copies_outside_images(write_card, tiny_card_body, tmp_path):
    # An "outside lab" made these with some pipeline and shipped only PNGs and a manifest.
    outside = tmp_path / "outside"
    lab = load_card(write_card("lab-model", tiny_card_body(), folder=tmp_path / "lab"))
    _run([lab], outside, seeds=[0, 1])
    made = {e.key: e for e in read_manifest(outside)}

    body = 'display_name = "Lab model"\nbackend = "image-folder"\nrepo = "../outside"\n'
    card = load_card(write_card("lab-model", body))
    out = tmp_path / "study-images"
    summary = _run([card], out, seeds=[1, 0])
    assert (summary.generated, summary.skipped) == (4, 0)
    for entry in read_manifest(out):
        source = made[entry.key]
        assert entry.sha256 == source.sha256 == sha256_file(out / entry.path)
        assert entry.path == f"lab-model/{entry.prompt_id}-s{entry.seed}.png"
        assert entry.params["backend"] == "image-folder"
        assert entry.params["source_params"] == source.params
        assert entry.latency_ms == source.latency_ms
    assert _run([card], out, seeds=[0, 1]).skipped == 4

    with pytest.raises(GenerationError) as info:
        _run([card], out, seeds=[0, 5])
    message = str(info.value)
    assert "lab-model.toml" in message and "p0001 seed 5" in message and "p0002 seed 5" in message

    with pytest.raises(GenerationError, match="was made for the prompt"):
        _run([card], tmp_path / "other", prompts=[("p0001", "something else")], seeds=[0])

    lines = [json.loads(x) for x in (outside / MANIFEST_NAME).read_text().splitlines()]
    lines[0]["sha256"] = "0" * 64
    (outside / MANIFEST_NAME).write_text("".join(json.dumps(x) + "\n" for x in lines))
    with pytest.raises(GenerationError, match="does not match its sha256"):
        _run([card], tmp_path / "third", seeds=[0, 1])


def test_image_folder_without_manifest(write_card, tmp_path):
    (tmp_path / "empty").mkdir()
    body = 'display_name = "x"\nbackend = "image-folder"\nrepo = "../empty"\n'
    card = load_card(write_card("ext", body))
    with pytest.raises(GenerationError, match=r"ext\.toml: .*no manifest\.jsonl"):
        _run([card], tmp_path / "out")


def test_lora_card(tiny, tiny_sdxl, write_card, tiny_card_body, tmp_path):
    pytest.importorskip("peft")
    from models.tiny import build_tiny_lora

    lora_dir = build_tiny_lora(tiny_sdxl, tmp_path / "lora", seed=1)
    fused = load_card(
        write_card("tiny-lora", tiny_card_body(extra=f'[lora]\nrepo = "{lora_dir.as_posix()}"'))
    )
    # An unfused adapter at scale 0 adds exact zeros: same image as without the LoRA.
    off = load_card(
        write_card(
            "tiny-lora-off",
            tiny_card_body(
                extra=f'[lora]\nrepo = "{lora_dir.as_posix()}"\nscale = 0.0\nfuse = false'
            ),
        )
    )
    args = {"prompts": PROMPTS[:1], "seeds": [0]}
    _run([tiny, fused, off], tmp_path / "out", **args)
    hashes = {key[0]: sha for key, sha in _hashes(tmp_path / "out").items()}
    assert hashes["tiny-lora"] != hashes["tiny-1"]
    assert hashes["tiny-lora-off"] == hashes["tiny-1"]
    params = {e.model: e.params for e in read_manifest(tmp_path / "out")}
    assert params["tiny-lora"]["lora"]["fuse"] is True and params["tiny-1"]["lora"] is None
    assert "peft" in params["tiny-lora"]["versions"]


def test_existing_foreign_lines_survive(tiny, tmp_path):
    _run([tiny], tmp_path, prompts=PROMPTS[:1], seeds=[0])
    (entry,) = read_manifest(tmp_path)
    foreign = entry.__class__(**{**entry.__dict__, "model": "other", "path": "other/x.png"})
    write_manifest(tmp_path, [entry, foreign])
    _run([tiny], tmp_path, prompts=PROMPTS[:1], seeds=[0, 1])
    assert {e.model for e in read_manifest(tmp_path)} == {"tiny-1", "other"}
