"""Model cards: one TOML file per model in ``models/cards/<id>.toml``.

A card says which weights to load and exactly how to call them (scheduler, LoRA, the keyword
arguments of the pipeline call). Cards are validated strictly because a typo in a card would
otherwise silently change the model being evaluated: every error is a :class:`CardError` whose
message is one sentence naming the file, the key and what was expected.

This module must stay importable without torch or diffusers (the arena server imports it).
"""

from __future__ import annotations

import difflib
import hashlib
import re
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from models.engine import EngineError, EngineOptions, parse_engine

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised only on Python 3.10
    import tomli as tomllib

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
_LINE_RE = re.compile(r"line (\d+)")


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


def _suggest(word: str, options: Iterable[str], cutoff: float = 0.6) -> str:
    match = difflib.get_close_matches(word, list(options), n=1, cutoff=cutoff)
    return f"; did you mean '{match[0]}'?" if match else ""


def _type_name(value: Any) -> str:
    names = {bool: "a boolean", int: "an integer", float: "a number", str: "a string"}
    names.update({list: "an array", dict: "a table"})
    return names.get(type(value), f"a {type(value).__name__}")


def _is_scalar(value: Any) -> bool:
    return isinstance(value, (str, int, float, bool))


class _Checker:
    """Validates one parsed card, building messages that name the file."""

    def __init__(self, path: Path) -> None:
        self.where = display_path(path)

    def fail(self, message: str) -> CardError:
        return CardError(f"{self.where}: {message}")

    def unknown(self, key: str, table: str, valid: Iterable[str]) -> CardError:
        valid = list(valid)
        hint = _suggest(key, valid)
        top = table == "the top level"
        if not hint and top and (key in CALL_KEYS or _suggest(key, CALL_KEYS)):
            hint = "; pipeline arguments such as num_inference_steps belong in the [call] table"
        if (
            table == "[call]"
        ):  # other [call] keys are allowed, so listing "valid" ones would mislead
            return self.fail(f"unknown key '{key}' in [call]{hint}")
        where = "at the top level" if top else f"in {table}"
        return self.fail(f"unknown key '{key}' {where}{hint} (valid keys: {', '.join(valid)})")

    def typed(self, table: Mapping[str, Any], key: str, kind: type | tuple, what: str, label: str):
        value = table.get(key)
        if value is None:
            return None
        # bool is an int subclass; a card that says `steps = true` is still wrong.
        if isinstance(value, bool) and bool not in (kind if isinstance(kind, tuple) else (kind,)):
            ok = False
        else:
            ok = isinstance(value, kind)
        if not ok:
            raise self.fail(f"key '{label}' must be {what}, not {_type_name(value)} {value!r}")
        return value


def _check_call(check: _Checker, call: Any) -> dict[str, Any]:
    if not isinstance(call, dict):
        raise check.fail(f"key 'call' must be a table ([call]), not {_type_name(call)}")
    out: dict[str, Any] = {}
    for key, value in call.items():
        if key in _RESERVED_CALL_KEYS:
            raise check.fail(
                f"key '{key}' in [call] is set by the generator for every image and must not "
                "appear in a card"
            )
        if key not in CALL_KEYS:
            near = difflib.get_close_matches(key, CALL_KEYS, n=1, cutoff=0.8)
            if near:
                raise check.unknown(key, "[call]", CALL_KEYS)
        flat_array = isinstance(value, list) and all(_is_scalar(v) for v in value)
        if not (_is_scalar(value) or flat_array):
            raise check.fail(
                f"key '{key}' in [call] must be a TOML scalar (string, number, boolean) or a flat "
                f"array of them, not {_type_name(value)}"
            )
        out[key] = value
    label = "[call] {}".format
    check.typed(out, "num_inference_steps", int, "a positive integer", label("num_inference_steps"))
    check.typed(out, "guidance_scale", (int, float), "a number", label("guidance_scale"))
    for key in ("height", "width"):
        size = check.typed(out, key, int, "a positive multiple of 8", label(key))
        if size is not None and (size <= 0 or size % 8):
            raise check.fail(f"key '[call] {key}' must be a positive multiple of 8, not {size}")
    steps = out.get("num_inference_steps")
    if steps is not None and steps <= 0:
        raise check.fail(f"key '[call] num_inference_steps' must be positive, not {steps}")
    return out


def _check_scheduler(check: _Checker, table: Any) -> SchedulerSpec:
    if table is None:
        return SchedulerSpec()
    if not isinstance(table, dict):
        raise check.fail(f"key 'scheduler' must be a table ([scheduler]), not {_type_name(table)}")
    options = dict(table)
    name = options.pop("class", None)
    if name is not None and not (isinstance(name, str) and name.endswith("Scheduler")):
        raise check.fail(
            f"key '[scheduler] class' must name a diffusers scheduler class such as "
            f"'EulerDiscreteScheduler', not {name!r}"
        )
    for key, value in options.items():
        if isinstance(value, dict):
            raise check.fail(f"key '[scheduler] {key}' must be a value, not a table")
    return SchedulerSpec(name=name, options=options)


def _check_lora(check: _Checker, table: Any) -> LoraSpec | None:
    if table is None:
        return None
    if not isinstance(table, dict):
        raise check.fail(f"key 'lora' must be a table ([lora]), not {_type_name(table)}")
    for key in table:
        if key not in _LORA_KEYS:
            raise check.unknown(key, "[lora]", _LORA_KEYS)
    if "repo" not in table:
        raise check.fail("missing required key 'repo' in [lora] (a hub id or a local path)")
    repo = check.typed(table, "repo", str, "a string", "[lora] repo")
    weight_name = check.typed(table, "weight_name", str, "a string", "[lora] weight_name")
    scale = check.typed(table, "scale", (int, float), "a number", "[lora] scale")
    fuse = check.typed(table, "fuse", bool, "true or false", "[lora] fuse")
    return LoraSpec(
        repo=repo,
        weight_name=weight_name,
        scale=1.0 if scale is None else float(scale),
        fuse=True if fuse is None else fuse,
    )


def _parse(path: Path) -> tuple[dict[str, Any], bytes]:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise CardError(f"{display_path(path)}: cannot read the card ({exc.strerror})") from exc
    try:
        return tomllib.loads(raw.decode("utf-8")), raw
    except UnicodeDecodeError as exc:
        raise CardError(f"{display_path(path)}: the card is not UTF-8 text") from exc
    except tomllib.TOMLDecodeError as exc:
        line = _LINE_RE.search(str(exc))
        where = f" at line {line.group(1)}" if line else ""
        reason = str(exc).split(" (at ")[0]
        raise CardError(f"{display_path(path)}: invalid TOML{where}: {reason}") from exc


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
    data, raw = _parse(path)
    check = _Checker(path)
    for key in data:
        if key not in _TOP_KEYS:
            raise check.unknown(key, "the top level", _TOP_KEYS)
    for key in _REQUIRED:
        if key not in data:
            raise check.fail(f"missing required key '{key}' (required: {', '.join(_REQUIRED)})")

    def text(key: str) -> str | None:
        return check.typed(data, key, str, "a string", key)

    card_id = text("id")
    if not _ID_RE.match(card_id):
        raise check.fail(
            f"key 'id' must be lower-case letters, digits, '.', '_' or '-' (it names a folder), "
            f"not {card_id!r}"
        )
    if path.stem != card_id:
        raise check.fail(
            f"key 'id' is '{card_id}' but the file is named '{path.name}'; "
            f"rename the file to '{card_id}.toml' or fix the id"
        )
    backend = text("backend")
    if backend not in BACKENDS:
        raise check.fail(
            f"unknown backend '{backend}' in key 'backend'{_suggest(backend, BACKENDS)} "
            f"(valid: {', '.join(BACKENDS)})"
        )
    dtype = text("dtype") or "float16"
    if dtype not in DTYPES:
        raise check.fail(
            f"bad dtype '{dtype}' in key 'dtype'{_suggest(dtype, DTYPES)} "
            f"(valid: {', '.join(DTYPES)})"
        )
    repo = text("repo")
    if not repo:
        raise check.fail("key 'repo' must not be empty")
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
        raise CardError(f"{display_path(directory)}: not a folder of model cards")
    cards: dict[str, ModelCard] = {}
    for path in sorted(directory.rglob("*.toml")):
        card = load_card(path)
        if card.id in cards:
            raise CardError(
                f"{display_path(path)}: duplicate id '{card.id}' in key 'id', already declared "
                f"in {display_path(cards[card.id].path)}; ids must be unique"
            )
        cards[card.id] = card
    return dict(sorted(cards.items()))
