"""Model cards: one TOML file per model in ``models/cards/<id>.toml``.

A card says which weights to load and exactly how to call them (scheduler, LoRA, the keyword
arguments of the pipeline call). Cards are validated strictly because a typo in a card would
otherwise silently change the model being evaluated: every error is a :class:`CardError` whose
message is one sentence naming the file, the key and what was expected.

This module must stay importable without torch or diffusers (the arena server imports it).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from models.engine import EngineError, EngineOptions, parse_engine
from models.tomlcheck import Table, read_toml, suggestion

__all__ = [
    "BACKENDS",
    "CALL_KEYS",
    "DEFAULT_CARDS_DIR",
    "DTYPES",
    "CardError",
    "LoraSpec",
    "ModelCard",
    "SchedulerSpec",
    "display_path",
    "load_card",
    "load_cards",
]

#: The cards shipped with the package.
DEFAULT_CARDS_DIR = Path(__file__).resolve().parent / "cards"

BACKENDS = ("diffusers", "image-folder")
DTYPES = ("float32", "float16", "bfloat16")

#: Pipeline-call keys the loader knows. Other ``[call]`` keys are passed through verbatim, unless
#: they are near-misses of one of these, which is almost always a typo.
CALL_KEYS = (
    "num_inference_steps",
    "guidance_scale",
    "height",
    "width",
    "negative_prompt",
    "negative_prompt_2",
    "prompt_2",
    "eta",
    "guidance_rescale",
    "clip_skip",
    "denoising_end",
    "original_size",
    "target_size",
    "crops_coords_top_left",
    "timesteps",
    "sigmas",
)
# The generator owns these: one prompt, one generator and one image per job, returned as PIL.
_RESERVED_CALL_KEYS = (
    "prompt",
    "generator",
    "num_images_per_prompt",
    "output_type",
    "latents",
    "return_dict",
)

_TOP_KEYS = (
    "id",
    "display_name",
    "backend",
    "repo",
    "revision",
    "variant",
    "dtype",
    "pipeline",
    "description",
    "scheduler",
    "lora",
    "call",
    "engine",
)
_REQUIRED = ("id", "display_name", "backend", "repo")
_LORA_KEYS = ("repo", "weight_name", "scale", "fuse")
_ID_RE = re.compile(r"^[a-z0-9][a-z0-9._-]*$")


class CardError(ValueError):
    """A model card is invalid; the message names the file, the key and what was expected."""


@dataclass(frozen=True)
class SchedulerSpec:
    """The ``[scheduler]`` table: a diffusers scheduler class and config overrides.

    ``name`` is ``None`` when the card keeps the checkpoint's own scheduler class (overrides such
    as ``timestep_spacing`` still apply).
    """

    name: str | None = None
    options: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class LoraSpec:
    """The optional ``[lora]`` table: LoRA weights loaded on top of the base pipeline."""

    repo: str
    weight_name: str | None = None
    scale: float = 1.0
    fuse: bool = True


@dataclass(frozen=True)
class ModelCard:
    """One model at one set of sampling settings, as read from ``models/cards/<id>.toml``."""

    id: str
    display_name: str
    backend: str
    repo: str
    revision: str | None
    dtype: str
    scheduler: SchedulerSpec
    lora: LoraSpec | None
    call: Mapping[str, Any]
    description: str
    path: Path
    pipeline: str | None = None
    variant: str | None = None
    sha256: str = ""
    engine: EngineOptions = field(default_factory=EngineOptions)

    @property
    def steps(self) -> int | None:
        """Number of inference steps from ``[call]``, or ``None`` when the card leaves it out."""
        return self.call.get("num_inference_steps")

    @property
    def width(self) -> int | None:
        """Image width from ``[call]``, or ``None`` (the pipeline's default)."""
        return self.call.get("width")

    @property
    def height(self) -> int | None:
        """Image height from ``[call]``, or ``None`` (the pipeline's default)."""
        return self.call.get("height")

    @property
    def guidance_scale(self) -> float | None:
        """Classifier-free guidance scale from ``[call]``, or ``None``."""
        return self.call.get("guidance_scale")

    @property
    def resolved_repo(self) -> str:
        """``repo`` with a leading-dot local path resolved against the card's folder."""
        return _resolve(self.repo, self.path)

    def resolve(self, repo: str) -> str:
        """Resolve another repo of the card (a VAE, say) like :attr:`resolved_repo`."""
        return _resolve(repo, self.path)

    @property
    def resolved_lora_repo(self) -> str | None:
        """The LoRA ``repo`` resolved like :attr:`resolved_repo`, or ``None`` without a LoRA."""
        return None if self.lora is None else _resolve(self.lora.repo, self.path)


def display_path(path: Path) -> str:
    """Return *path* relative to the working directory when it lies below it, for messages."""
    path = Path(path)
    try:
        return path.resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return str(path)


def _resolve(repo: str, card_path: Path) -> str:
    # Only a leading dot marks a card-relative path, so hub ids ("org/name") are never touched.
    if repo.startswith("."):
        return str((Path(card_path).parent / repo).resolve())
    return repo


def _is_scalar(value: Any) -> bool:
    return isinstance(value, (str, int, float, bool))


def _check_call(check: Table, call: Any) -> dict[str, Any]:
    if not isinstance(call, dict):
        raise check.fail("call", "a table ([call])", call)
    table = check.sub("call", call)
    out: dict[str, Any] = {}
    for key, value in call.items():
        if key in _RESERVED_CALL_KEYS:
            raise table.fail(key, "absent (the generator sets it for every image)", value)
        # Other [call] keys pass through to the pipeline (models validate checks them against
        # its signature), so only a near-miss of a known one is refused here, without a list
        # of "valid" keys that would mislead.
        if key not in CALL_KEYS and suggestion(key, CALL_KEYS, cutoff=0.8):
            raise table.unknown(key, None, suggestion(key, CALL_KEYS, cutoff=0.8))
        flat_array = isinstance(value, list) and all(_is_scalar(v) for v in value)
        if not (_is_scalar(value) or flat_array):
            raise table.fail(
                key, "a TOML scalar (string, number, boolean) or a flat array of them", value
            )
        out[key] = value
    steps = table.get("num_inference_steps", int, "a positive integer", None)
    if steps is not None and steps <= 0:
        raise table.fail("num_inference_steps", "a positive integer", steps)
    table.get("guidance_scale", (int, float), "a number", None)
    for key in ("height", "width"):
        size = table.get(key, int, "a positive multiple of 8", None)
        if size is not None and (size <= 0 or size % 8):
            raise table.fail(key, "a positive multiple of 8", size)
    return out


def _check_scheduler(check: Table, table: Any) -> SchedulerSpec:
    if table is None:
        return SchedulerSpec()
    if not isinstance(table, dict):
        raise check.fail("scheduler", "a table ([scheduler])", table)
    sub = check.sub("scheduler", table)
    options = dict(table)
    name = options.pop("class", None)
    if name is not None and not (isinstance(name, str) and name.endswith("Scheduler")):
        raise sub.fail(
            "class", "a diffusers scheduler class such as 'EulerDiscreteScheduler'", name
        )
    for key, value in options.items():
        if isinstance(value, dict):
            raise sub.fail(key, "a value, not a table", value)
    return SchedulerSpec(name=name, options=options)


def _check_lora(check: Table, table: Any) -> LoraSpec | None:
    if table is None:
        return None
    if not isinstance(table, dict):
        raise check.fail("lora", "a table ([lora])", table)
    lora = check.sub("lora", table)
    lora.check_keys(_LORA_KEYS)
    scale = lora.get("scale", (int, float), "a number", 1.0)
    return LoraSpec(
        repo=lora.get("repo", str, "a hub id or a local path"),
        weight_name=lora.get("weight_name", str, "a string", None),
        scale=float(scale),
        fuse=lora.get("fuse", bool, "true or false", True),
    )


def _check_top_keys(check: Table, data: Mapping[str, Any]) -> None:
    for key in data:
        if key not in _TOP_KEYS:
            hint = ""
            if not suggestion(key, _TOP_KEYS) and (key in CALL_KEYS or suggestion(key, CALL_KEYS)):
                hint = (
                    " (pipeline arguments such as num_inference_steps belong in the [call] table)"
                )
            raise check.unknown(key, _TOP_KEYS, hint)


def load_card(path: Path | str) -> ModelCard:
    """Read and validate one model card.

    Parameters
    ----------
    path : Path or str
        A ``<id>.toml`` file.

    Returns
    -------
    ModelCard
        The validated card.

    Raises
    ------
    CardError
        If the file is not valid TOML or breaks any rule of the card format; the message names
        the file and the offending key.
    """
    path = Path(path)
    where = display_path(path)
    data, raw = read_toml(path, CardError, where)
    check = Table(where, data, CardError)
    _check_top_keys(check, data)
    for key in _REQUIRED:
        check.get(key, object, f"a string; required: {', '.join(_REQUIRED)}")

    def text(key: str) -> str | None:
        return check.get(key, str, "a string", None)

    card_id = text("id")
    if not _ID_RE.match(card_id):
        raise check.fail(
            "id", "lower-case letters, digits, '.', '_' or '-' (it names a folder)", card_id
        )
    if path.stem != card_id:
        raise check.fail(
            "id",
            f"the file's name '{path.stem}' (rename the file to '{card_id}.toml' or fix the id)",
            card_id,
        )
    backend = text("backend")
    if backend not in BACKENDS:
        raise check.fail(
            "backend", f"one of {', '.join(BACKENDS)}{suggestion(backend, BACKENDS)}", backend
        )
    dtype = text("dtype") or "float16"
    if dtype not in DTYPES:
        raise check.fail("dtype", f"one of {', '.join(DTYPES)}{suggestion(dtype, DTYPES)}", dtype)
    repo = text("repo")
    if not repo:
        raise check.fail("repo", "a hub id or a local path", repo)
    try:
        engine = parse_engine(data.get("engine"), check.where)
    except EngineError as exc:
        raise CardError(str(exc)) from None
    return ModelCard(
        id=card_id,
        display_name=text("display_name"),
        backend=backend,
        repo=repo,
        revision=text("revision"),
        dtype=dtype,
        scheduler=_check_scheduler(check, data.get("scheduler")),
        lora=_check_lora(check, data.get("lora")),
        call=_check_call(check, data.get("call", {})),
        description=text("description") or "",
        path=path.resolve(),
        pipeline=text("pipeline"),
        variant=text("variant"),
        sha256=hashlib.sha256(raw).hexdigest(),
        engine=engine,
    )


def load_cards(directory: Path | str | None = None) -> dict[str, ModelCard]:
    """Load every ``*.toml`` card below *directory* (sub-folders included), keyed by id.

    Parameters
    ----------
    directory : Path or str, optional
        Folder to scan; defaults to the cards shipped in ``models/cards/``.

    Returns
    -------
    dict of str to ModelCard
        Cards sorted by id.

    Raises
    ------
    CardError
        If the folder does not exist, any card is invalid, or two files declare the same id.
    """
    directory = DEFAULT_CARDS_DIR if directory is None else Path(directory)
    if not directory.is_dir():
        raise CardError(f"{display_path(directory)}: not a folder of model cards.")
    cards: dict[str, ModelCard] = {}
    for path in sorted(directory.rglob("*.toml")):
        card = load_card(path)
        if card.id in cards:
            raise CardError(
                f"{display_path(path)}: key 'id' must be unique, not '{card.id}', which "
                f"{display_path(cards[card.id].path)} declares too."
            )
        cards[card.id] = card
    return dict(sorted(cards.items()))
