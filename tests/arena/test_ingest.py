"""Ingest checks the whole image set before writing; re-running it changes nothing."""

from __future__ import annotations

import json
import struct
import zlib

import pytest
from PIL import Image

from arena.ingest import IngestError, ingest
from arena.store import Store
from models.manifest import MANIFEST_NAME, sha256_file


@pytest.fixture
def store(db_url: str):
    s = Store.open(db_url)
    yield s
    s.close()


def _rows(study) -> list[dict]:
    text = (study.image_dir / MANIFEST_NAME).read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def _write(study, rows: list[dict]) -> None:
    text = "".join(json.dumps(r) + "\n" for r in rows)
    (study.image_dir / MANIFEST_NAME).write_text(text, encoding="utf-8")


def test_ingest_is_idempotent_and_adds_later_images(make_study, store) -> None:
    study, prompts = make_study(seeds=(0,))
    first = ingest(store, study, prompts)
    assert (first.models, first.prompts, first.images) == (2, 6, 12)
    assert first.new_images == 12 and "12 images" in str(first)
    before = store.counts()
    again = ingest(store, study, prompts)
    assert again.new_images == again.new_prompts == 0 and store.counts() == before

    # A second seed generated later joins the same study.
    rows = _rows(study)
    for r in list(rows):
        rel = r["path"].replace("_s0", "_s1")
        Image.new("RGB", (8, 8), (1, 2, 3 + len(rel))).save(study.image_dir / rel)
        rows.append({**r, "seed": 1, "path": rel, "sha256": sha256_file(study.image_dir / rel)})
    _write(study, rows)
    study = type(study)(**{**study.__dict__, "seeds": (0, 1)})
    later = ingest(store, study, prompts)
    assert later.new_images == 12 and later.images == 24


def _corrupt_png(study, rows):
    path = study.image_dir / rows[0]["path"]
    data = path.read_bytes()
    path.write_bytes(data[:20] + b"\x00" * 10 + data[30:])
    rows[0]["sha256"] = sha256_file(path)  # the hash is right, the PNG is not
    return rows[0]["path"], "not a readable image"


def _png(width: int, height: int, pixels: bytes) -> bytes:
    """A PNG whose chunks and checksums are all valid (so ``verify()`` passes) around the
    given compressed pixel data."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


def _replace_png(study, row, data: bytes) -> None:
    path = study.image_dir / row["path"]
    path.write_bytes(data)
    row["sha256"] = sha256_file(path)


def _corrupt_pixels(study, rows):
    # 7 bytes of pixel data where an 8x8 RGB image needs 8 x (1 + 24): only decoding finds out.
    _replace_png(study, rows[1], _png(8, 8, zlib.compress(b"\x00" * 7)))
    return rows[1]["path"], "is not a readable image (OSError: image file is truncated"


def _header_only_giant(study, rows):
    # 144 megapixels declared in 65 bytes: refused before any pixel is decoded.
    _replace_png(study, rows[2], _png(12_000, 12_000, zlib.compress(b"")))
    rows[2]["width"] = rows[2]["height"] = 12_000
    return rows[2]["path"], "is 12000x12000 pixels; expected at most 16,777,216 pixels (4096x4096)"


def _sha_mismatch(study, rows):
    rows[1]["sha256"] = "0" * 64
    return rows[1]["path"], "sha256"


def _missing_file(study, rows):
    (study.image_dir / rows[2]["path"]).unlink()
    return rows[2]["path"], "missing"


def _unknown_model(study, rows):
    rows[3]["model"] = "gamma"
    return "gamma", "not in study"


def _unknown_prompt(study, rows):
    rows[0]["prompt_id"] = "p99"
    return "p99", "not in the study's prompt set"


def _incomplete_pair(study, rows):
    gone = rows.pop()
    return gone["prompt_id"], "no image from"


def _wrong_size(study, rows):
    rows[0]["width"] = 16
    return rows[0]["path"], "8x8 pixels"


@pytest.mark.parametrize(
    "breaker",
    [
        _corrupt_png,
        _corrupt_pixels,
        _header_only_giant,
        _sha_mismatch,
        _missing_file,
        _unknown_model,
        _unknown_prompt,
        _incomplete_pair,
        _wrong_size,
    ],
)
def test_a_broken_image_set_writes_nothing(make_study, store, breaker) -> None:
    study, prompts = make_study(seeds=(0,))
    rows = _rows(study)
    where, what = breaker(study, rows)
    _write(study, rows)
    before = store.counts()
    with pytest.raises(IngestError) as info:
        ingest(store, study, prompts)
    message = str(info.value)
    assert where in message and what in message and MANIFEST_NAME in message
    assert "nothing was ingested" in message
    assert store.counts() == before


def test_a_changed_image_is_refused_after_ingest(make_study, store) -> None:
    study, prompts = make_study(seeds=(0,))
    ingest(store, study, prompts)
    rows = _rows(study)
    path = study.image_dir / rows[0]["path"]
    Image.new("RGB", (8, 8), (9, 9, 9)).save(path)
    rows[0]["sha256"] = sha256_file(path)
    _write(study, rows)
    before = store.counts()
    with pytest.raises(IngestError, match="stored images never change"):
        ingest(store, study, prompts)
    assert store.counts() == before


def test_missing_manifest_is_one_plain_error(make_study, store) -> None:
    study, prompts = make_study(images=False)
    with pytest.raises(IngestError, match="cannot read the image set"):
        ingest(store, study, prompts)
    assert store.counts()["studies"] == 0
