"""What is missing from the Hugging Face cache, said in one sentence with the command to fetch it.

A card names a hub repo; without network and without the weights in the cache, diffusers says
only that a file "does not appear" to exist. This module looks in the cache (never on the
network) and names the card, the files that are missing and the ``hf download`` command that
fetches them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from models.cards import ModelCard, display_path

__all__ = ["is_hub_id", "missing_files", "missing_weights_message"]

_WEIGHT_SUFFIXES = (".safetensors", ".bin")


def is_hub_id(repo: str) -> bool:
    """Whether *repo* is a hub id (``org/name``) rather than a local folder."""
    return not (repo.startswith(".") or Path(repo).is_absolute() or Path(repo).exists())


def _snapshot(repo: str, revision: str | None) -> Path | None:
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    try:
        return Path(snapshot_download(repo, revision=revision, local_files_only=True))
    except (LocalEntryNotFoundError, OSError, ValueError):
        return None


def missing_files(repo: str, revision: str | None, index: dict[str, Any] | None) -> list[str]:
    """The files of *repo* that the local cache lacks: ``model_index.json``, or per component
    (``unet/``, ``vae/``, ...) its config or its weights."""
    snapshot = _snapshot(repo, revision)
    if snapshot is None or not (snapshot / "model_index.json").is_file():
        return ["model_index.json and every component folder"]
    missing = []
    for name, spec in (index or {}).items():
        # model_index.json lists components as [library, class]; other keys are settings.
        if name.startswith("_") or not (isinstance(spec, list) and spec and spec[0]):
            continue
        folder = snapshot / name
        if not folder.is_dir():
            missing.append(f"{name}/")
            continue
        files = [f.name for f in folder.iterdir()]
        if name.startswith(("unet", "vae", "text_encoder", "transformer")) and not any(
            f.endswith(_WEIGHT_SUFFIXES) for f in files
        ):
            missing.append(f"{name}/ weights")
    return missing or ["some component files (the cache holds a partial download)"]


def missing_weights_message(
    card: ModelCard, repo: str, revision: str | None, index: dict[str, Any] | None
) -> str:
    """One sentence: which card, which repo and files are missing, and how to fetch them."""
    files = ", ".join(missing_files(repo, revision, index))
    fetch = f"hf download {repo}" + (f" --revision {revision}" if revision else "")
    return (
        f"{display_path(card.path)}: model '{card.id}' needs {repo}, which is not in the "
        f"Hugging Face cache and cannot be downloaded here (missing: {files}); fetch it on a "
        f"machine with network with `{fetch}` into the same cache (HF_HOME), then run with "
        "HF_HUB_OFFLINE=1 to use the cache alone."
    )
