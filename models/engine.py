"""Engine options: how fast a card's pipeline runs, never what it is asked to draw.

A card's optional ``[engine]`` table (and ``arena generate``'s overrides of it) turns on the
usual GPU speed-ups of a diffusers pipeline::

    [engine]
    channels_last = true      # UNet and VAE in channels-last memory format
    fuse_qkv = true           # fuse_qkv_projections(): one matmul for q, k and v
    compile = "max-autotune"  # torch.compile the UNet with this mode; false (default) is off
    vae_tiling = false        # decode large images tile by tile (less memory)
    vae_slicing = false       # decode a batch one image at a time (less memory)
    vae = "madebyollin/sdxl-vae-fp16-fix"  # another VAE, loaded like the card's repo

The dtype stays the card's top-level ``dtype`` key (``--dtype`` overrides it). A replacement
``vae`` is loaded through the same ``from_pretrained`` path as the card's repo (hub id or a
leading-dot path relative to the card) and runs with ``force_upcast`` off: the SDXL VAE upcasts
to float32 because it overflows in float16, and the fp16-fix VAE exists to make that unneeded.

Parsing (:func:`parse_engine`) needs neither torch nor diffusers, because the arena server
imports the cards; :func:`apply_engine` runs on a loaded pipeline.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from typing import Any

from models.tomlcheck import Table

__all__ = [
    "COMPILE_MODES",
    "ENGINE_KEYS",
    "EngineError",
    "EngineOptions",
    "apply_engine",
    "parse_engine",
]

#: torch.compile modes a card may name; ``false`` (or ``"off"``) leaves the UNet eager.
COMPILE_MODES = ("default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs")

#: Every key of the ``[engine]`` table, with what it expects (used in messages and docs).
ENGINE_KEYS = {
    "channels_last": "true or false",
    "fuse_qkv": "true or false",
    "compile": f"false or one of the torch.compile modes {', '.join(COMPILE_MODES)}",
    "vae_tiling": "true or false",
    "vae_slicing": "true or false",
    "vae": "a hub id or a local path of a diffusers AutoencoderKL",
    "vae_revision": "a string (a branch, tag or commit of the vae repo)",
}


class EngineError(ValueError):
    """An engine option is malformed or cannot apply; the message names file and key."""


@dataclass(frozen=True)
class EngineOptions:
    """The parsed ``[engine]`` table; the defaults leave the pipeline exactly as loaded."""

    channels_last: bool = False
    fuse_qkv: bool = False
    compile: str | None = None
    vae_tiling: bool = False
    vae_slicing: bool = False
    vae: str | None = None
    vae_revision: str | None = None

    def with_overrides(self, overrides: Mapping[str, Any], where: str) -> EngineOptions:
        """Return a copy with *overrides* (``None`` values ignored) applied, validated; *where*
        names the card and the command line in messages."""
        table = {k: v for k, v in asdict(self).items() if v is not None}
        table.update({k: v for k, v in overrides.items() if v is not None})
        return parse_engine(table, where)

    def record(self) -> dict[str, Any]:
        """The options as a plain dict, for the manifest's ``params``."""
        return asdict(self)


def parse_engine(table: Any, where: str) -> EngineOptions:
    """Validate an ``[engine]`` table.

    Parameters
    ----------
    table : Any
        The parsed TOML value of the card's ``engine`` key (``None`` when absent).
    where : str
        The card file as shown in messages.

    Returns
    -------
    EngineOptions

    Raises
    ------
    EngineError
        Naming the file and the key, for an unknown key (with a suggestion) or a bad value.
    """
    if table is None:
        return EngineOptions()
    if not isinstance(table, Mapping):
        raise Table(where, {}, EngineError).fail("engine", "a table ([engine])", table)
    check = Table(where, table, EngineError, "engine.")
    if "dtype" in table:
        raise check.say(
            "unknown key 'engine.dtype'; the dtype is the card's top-level key 'dtype' "
            "(arena generate --dtype overrides it)"
        )
    check.check_keys(ENGINE_KEYS)

    def fail(key: str) -> ValueError:
        return check.fail(key, ENGINE_KEYS[key], table[key])

    values: dict[str, Any] = {}
    for key in ("channels_last", "fuse_qkv", "vae_tiling", "vae_slicing"):
        if key in table:
            if not isinstance(table[key], bool):
                raise fail(key)
            values[key] = table[key]
    if "compile" in table:
        mode = table["compile"]
        if mode is False or mode == "off":
            mode = None
        elif mode is True:
            mode = "default"
        elif mode not in COMPILE_MODES:
            raise fail("compile")
        values["compile"] = mode
    for key in ("vae", "vae_revision"):
        if key in table:
            if not isinstance(table[key], str) or not table[key]:
                raise fail(key)
            values[key] = table[key]
    if "vae_revision" in values and "vae" not in values:
        raise check.say("key 'engine.vae_revision' needs key 'engine.vae'")
    return replace(EngineOptions(), **values)


def _refuse(where: str, key: str, why: str) -> EngineError:
    return EngineError(f"{where}: key 'engine.{key}' cannot apply: {why}.")


def _denoiser(pipe: Any) -> Any:
    return getattr(pipe, "unet", None) or getattr(pipe, "transformer", None)


def apply_engine(pipe: Any, options: EngineOptions, where: str, *, lora_unfused: bool) -> None:
    """Apply *options* to a loaded pipeline (before it is moved to its device).

    The replacement VAE is not handled here: it must be passed to ``from_pretrained`` (see
    :func:`models.backends.load_pipeline`). Each option that the pipeline cannot take is refused
    in one sentence naming the card and the key, instead of being skipped silently.

    Parameters
    ----------
    pipe : diffusers.DiffusionPipeline
        The loaded pipeline.
    options : EngineOptions
        The card's options with any overrides.
    where : str
        The card file as shown in messages.
    lora_unfused : bool
        Whether the card keeps its LoRA as separate adapter layers (``[lora] fuse = false``),
        which fused projections would break.

    Raises
    ------
    EngineError
        When an option cannot apply to this pipeline.
    """
    import torch  # deferred: see the module docstring

    name = type(pipe).__name__
    denoiser = _denoiser(pipe)
    vae = getattr(pipe, "vae", None)
    if options.fuse_qkv:
        if not hasattr(pipe, "fuse_qkv_projections"):
            raise _refuse(where, "fuse_qkv", f"{name} has no fuse_qkv_projections()")
        if lora_unfused:
            raise _refuse(where, "fuse_qkv", "an unfused LoRA needs separate q, k, v layers")
        pipe.fuse_qkv_projections()
    if options.channels_last:
        if denoiser is None:
            raise _refuse(where, "channels_last", f"{name} has no UNet or transformer")
        for module in (denoiser, vae):
            if module is not None:
                module.to(memory_format=torch.channels_last)
    for key, method in (("vae_tiling", "enable_tiling"), ("vae_slicing", "enable_slicing")):
        if getattr(options, key):
            if vae is None or not hasattr(vae, method):
                raise _refuse(where, key, f"{name} has no VAE with {method}()")
            getattr(vae, method)()
    if options.compile is not None:
        if denoiser is None:
            raise _refuse(where, "compile", f"{name} has no UNet or transformer to compile")
        compiled = torch.compile(denoiser, mode=options.compile, fullgraph=True)
        attr = "unet" if getattr(pipe, "unet", None) is not None else "transformer"
        # diffusers' own recipe: the pipeline unwraps a compiled module when it saves config.
        setattr(pipe, attr, compiled)
