"""The image-set manifest: round trip, atomic writes, deduplication and error messages."""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import replace

import pytest

from models.manifest import (
    MANIFEST_NAME,
    ManifestEntry,
    ManifestError,
    read_manifest,
    sha256_file,
    write_manifest,
)


def _entry(prompt_id: str = "p0001", seed: int = 0, model: str = "m", **changes) -> ManifestEntry:
    entry = ManifestEntry(
        model=model,
        prompt_id=prompt_id,
        prompt="a red cube",
        seed=seed,
        path=f"{model}/{prompt_id}-s{seed}.png",
        sha256="ab" * 32,
        width=64,
        height=64,
        params={"steps": 1, "versions": {"torch": "x"}},
        latency_ms=12.5,
    )
    return replace(entry, **changes)


def test_round_trip_through_json():
    entry = _entry()
    line = entry.to_json()
    assert "\n" not in line
    assert ManifestEntry.from_dict(json.loads(line)) == entry


def test_unknown_latency_is_null(tmp_path):
    entry = _entry(latency_ms=math.nan)
    assert json.loads(entry.to_json())["latency_ms"] is None
    write_manifest(tmp_path, [entry])
    (back,) = read_manifest(tmp_path)
    assert math.isnan(back.latency_ms)


def test_write_dedupes_last_wins_and_leaves_no_temp_files(tmp_path):
    first, other = _entry(), _entry(seed=1)
    newer = replace(first, sha256="cd" * 32)
    path = write_manifest(tmp_path, [first, other, newer])
    assert path == tmp_path / MANIFEST_NAME
    assert read_manifest(tmp_path) == [newer, other]
    assert sorted(p.name for p in tmp_path.iterdir()) == [MANIFEST_NAME]


def test_missing_manifest(tmp_path):
    assert read_manifest(tmp_path, missing_ok=True) == []
    with pytest.raises(ManifestError, match=MANIFEST_NAME):
        read_manifest(tmp_path)


def test_sha256_file(tmp_path):
    path = tmp_path / "x.bin"
    path.write_bytes(b"abc" * 100_000)
    assert sha256_file(path) == hashlib.sha256(b"abc" * 100_000).hexdigest()


@pytest.mark.parametrize(
    ("change", "fragments"),
    [
        ({"seed": "0"}, ["'seed'", "'0'"]),
        ({"seed": True}, ["'seed'"]),
        ({"width": 0}, ["'width'", "positive"]),
        ({"sha256": "XYZ"}, ["'sha256'", "hex"]),
        ({"path": "../escape.png"}, ["'path'", "relative"]),
        ({"path": "/abs.png"}, ["'path'"]),
        ({"params": []}, ["'params'"]),
        ({"latency_ms": -1}, ["'latency_ms'"]),
        ({"promt": "x"}, ["unknown key 'promt'", "did you mean 'prompt'"]),
        ({"model": None}, ["'model'"]),
    ],
)
def test_read_errors_name_file_line_and_key(tmp_path, change, fragments):
    good = json.loads(_entry().to_json())
    bad = {**good, **change}
    lines = [json.dumps(good), "", json.dumps({**good, "seed": 7}), json.dumps(bad)]
    (tmp_path / MANIFEST_NAME).write_text("\n".join(lines) + "\n")
    with pytest.raises(ManifestError) as info:
        read_manifest(tmp_path)
    message = str(info.value)
    assert f"{MANIFEST_NAME}:4:" in message
    for fragment in fragments:
        assert fragment in message


def test_missing_key_and_bad_json(tmp_path):
    good = json.loads(_entry().to_json())
    del good["sha256"]
    (tmp_path / MANIFEST_NAME).write_text(json.dumps(good) + "\n")
    with pytest.raises(ManifestError, match=r"manifest\.jsonl:1: missing key 'sha256'"):
        read_manifest(tmp_path)
    (tmp_path / MANIFEST_NAME).write_text('{"model": \n')
    with pytest.raises(ManifestError, match=r"manifest\.jsonl:1: invalid JSON"):
        read_manifest(tmp_path)
