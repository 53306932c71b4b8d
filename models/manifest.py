"""The image-set manifest: the only contract between ``models/`` and ``arena/``.

An image set is a folder of PNG files plus ``manifest.jsonl``, one JSON object per line and per
image. ``path`` is relative to the folder, in POSIX form (``sdxl-turbo-1step/p0001-s0.png``), so a
set can be moved or copied as a whole. Images made anywhere else (an API, another lab) join a
study by shipping the same manifest.

Writes are atomic (temporary file + ``os.replace``), so a reader never sees half a manifest and an
interrupted generation run leaves a manifest that describes exactly the images it finished.
Lines are unique by ``(model, prompt_id, seed)``; when a key repeats, the last line wins.

This module must stay importable without torch or diffusers.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import math
import os
import re
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, fields
from pathlib import Path, PurePosixPath
from typing import Any

__all__ = [
    "MANIFEST_NAME",
    "ManifestEntry",
    "ManifestError",
    "atomic_write_bytes",
    "read_manifest",
    "sha256_file",
    "write_manifest",
]

MANIFEST_NAME = "manifest.jsonl"
_SHA_RE = re.compile(r"^[0-9a-f]{64}$")


class ManifestError(ValueError):
    """A manifest line is malformed; the message names the file, the line and the key."""


@dataclass(frozen=True)
class ManifestEntry:
    """One image of an image set.

    ``latency_ms`` is the measured wall time per image; it is ``nan`` when unknown (images from
    outside), which is written as JSON ``null``.
    """

    model: str
    prompt_id: str
    prompt: str
    seed: int
    path: str
    sha256: str
    width: int
    height: int
    params: dict
    latency_ms: float

    @property
    def key(self) -> tuple[str, str, int]:
        """The identity of the image within a set: ``(model, prompt_id, seed)``."""
        return (self.model, self.prompt_id, self.seed)

    def to_json(self) -> str:
        """Serialise as one line of JSON (no trailing newline), keys in field order."""
        data = asdict(self)
        if math.isnan(self.latency_ms):
            data["latency_ms"] = None
        return json.dumps(data, ensure_ascii=False, allow_nan=False)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ManifestEntry:
        """Build an entry from a parsed JSON object, checking every key and type.

        Parameters
        ----------
        data : Mapping
            One decoded manifest line.

        Returns
        -------
        ManifestEntry

        Raises
        ------
        ManifestError
            Naming the missing, unknown or badly typed key (but not the file: callers add it).
        """
        if not isinstance(data, Mapping):
            raise ManifestError(f"expected a JSON object, not {type(data).__name__}")
        names = [f.name for f in fields(cls)]
        for key in data:
            if key not in names:
                near = difflib.get_close_matches(key, names, n=1)
                hint = f"; did you mean '{near[0]}'?" if near else ""
                raise ManifestError(f"unknown key '{key}'{hint} (valid keys: {', '.join(names)})")
        missing = [n for n in names if n not in data and n != "latency_ms"]
        if missing:
            raise ManifestError(f"missing key '{missing[0]}'")

        def bad(key: str, expected: str) -> ManifestError:
            return ManifestError(f"key '{key}' must be {expected}, not {data[key]!r}")

        for key in ("model", "prompt_id", "path"):
            if not isinstance(data[key], str) or not data[key]:
                raise bad(key, "a non-empty string")
        if not isinstance(data["prompt"], str):
            raise bad("prompt", "a string")
        for key in ("seed", "width", "height"):
            value = data[key]
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise bad(key, "a non-negative integer")
        if data["width"] == 0 or data["height"] == 0:
            raise bad("width" if data["width"] == 0 else "height", "a positive integer")
        if not isinstance(data["sha256"], str) or not _SHA_RE.match(data["sha256"]):
            raise bad("sha256", "64 lower-case hex digits")
        if not isinstance(data["params"], dict):
            raise bad("params", "a JSON object")
        path = PurePosixPath(data["path"])
        if path.is_absolute() or ".." in path.parts or "\\" in data["path"]:
            raise bad("path", "a relative POSIX path inside the image-set folder")
        latency = data.get("latency_ms")
        if latency is None:
            latency = math.nan
        elif isinstance(latency, bool) or not isinstance(latency, (int, float)) or latency < 0:
            raise bad("latency_ms", "a non-negative number or null")
        return cls(
            model=data["model"],
            prompt_id=data["prompt_id"],
            prompt=data["prompt"],
            seed=data["seed"],
            path=data["path"],
            sha256=data["sha256"],
            width=data["width"],
            height=data["height"],
            params=dict(data["params"]),
            latency_ms=float(latency),
        )


def sha256_file(path: Path | str) -> str:
    """Return the hex SHA-256 of a file's bytes, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write *data* to *path* so that readers see either the old file or the new one, whole.

    The temporary file lives in the destination folder because ``os.replace`` is only atomic
    within one file system.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        # mkstemp creates 0600 files; image sets are read by the arena server, maybe as another user.
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _dedupe(entries: Iterable[ManifestEntry]) -> list[ManifestEntry]:
    # dict keeps first-insertion order, so a replaced image keeps its place in the file.
    latest: dict[tuple[str, str, int], ManifestEntry] = {}
    for entry in entries:
        latest[entry.key] = entry
    return list(latest.values())


def read_manifest(
    folder: Path | str, *, missing_ok: bool = False, name: str = MANIFEST_NAME
) -> list[ManifestEntry]:
    """Read ``manifest.jsonl`` from an image-set folder.

    Parameters
    ----------
    folder : Path or str
        The image-set folder.
    missing_ok : bool, optional
        Return an empty list instead of raising when the folder has no manifest.
    name : str, optional
        The file name; other names are the per-process parts of a sharded run.

    Returns
    -------
    list of ManifestEntry
        In file order, unique by ``(model, prompt_id, seed)`` (a later line replaces an earlier).

    Raises
    ------
    ManifestError
        If the manifest is missing (unless *missing_ok*) or a line is not valid JSON or breaks the
        schema; the message names the file, the line number and the key.
    """
    path = Path(folder) / name
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        if missing_ok:
            return []
        raise ManifestError(f"{path}: no {name} in this image-set folder") from None
    entries = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            entries.append(ManifestEntry.from_dict(json.loads(line)))
        except json.JSONDecodeError as exc:
            raise ManifestError(f"{path}:{number}: invalid JSON ({exc.msg})") from None
        except ManifestError as exc:
            raise ManifestError(f"{path}:{number}: {exc}") from None
    return _dedupe(entries)


def write_manifest(
    folder: Path | str, entries: Iterable[ManifestEntry], *, name: str = MANIFEST_NAME
) -> Path:
    """Atomically replace the folder's manifest (or the file *name*) with *entries*
    (deduplicated, last wins).

    Returns
    -------
    Path
        The manifest file.
    """
    path = Path(folder) / name
    lines = [entry.to_json() + "\n" for entry in _dedupe(entries)]
    atomic_write_bytes(path, "".join(lines).encode("utf-8"))
    return path
