"""The diffusers backend: turn a model card into a ready pipeline and call it.

Tiny offline models and real hub checkpoints take the same path: ``from_pretrained`` on the card's
(resolved) repo, then the card's scheduler, then its LoRA, then the device. Nothing here knows
about image sets; :mod:`models.generate` drives it.
"""

from __future__ import annotations

import gc
import importlib
import inspect
import logging
import os
import platform
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import diffusers
import torch
import transformers

from models.cards import CardError, ModelCard, display_path
from models.engine import EngineError, EngineOptions, apply_engine
from models.hub import is_hub_id, missing_weights_message
from models.tomlcheck import suggestion

__all__ = [
    "LoadedPipeline",
    "library_versions",
    "load_pipeline",
    "resolve_device",
    "resolve_dtype",
]

logger = logging.getLogger(__name__)

_DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}
# diffusers 0.42 renamed from_pretrained's `torch_dtype` to `dtype` and warns on the old name.
_DIFFUSERS_MINOR = tuple(int(p) for p in diffusers.__version__.split(".")[:2])
_DTYPE_KWARG = "dtype" if _DIFFUSERS_MINOR >= (0, 42) else "torch_dtype"
_ADAPTER = "card_lora"


def resolve_device(device: str | None = None) -> str:
    """Return *device*, or the best available one: ``cuda``, then ``mps``, else ``cpu``."""
    if device:
        return device
    if torch.cuda.is_available():
        return "cuda"
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return "mps"
    return "cpu"


def resolve_dtype(card: ModelCard, device: str, override: str | None = None) -> torch.dtype:
    """Return the torch dtype to load *card* in on *device* (*override*, else the card's).

    float16 kernels are missing or very slow on CPUs, so a float16 card runs in float32 there,
    with a warning; the dtype actually used is recorded with every image.
    """
    dtype = _DTYPES[override or card.dtype]
    if dtype is torch.float16 and torch.device(device).type == "cpu":
        logger.warning("%s: float16 is not supported on the CPU; using float32", card.id)
        return torch.float32
    return dtype


def device_name(device: str) -> str:
    """The accelerator's or CPU's product name, recorded beside every latency."""
    kind = torch.device(device)
    if kind.type == "cuda":
        return torch.cuda.get_device_name(kind)
    if kind.type == "cpu":
        # /proc/cpuinfo names the model; platform.processor() is often just "x86_64".
        try:
            for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
        except OSError:
            pass
        return platform.processor() or platform.machine()
    return kind.type


def library_versions() -> dict[str, str]:
    """Versions of the libraries that determine an image, for the manifest's ``params``."""
    # str(): torch's version is a str subclass of torch's own; pickled into a live image's
    # message it would make the server import torch to read it (1.8 s on the first image).
    versions = {
        "python": platform.python_version(),
        "torch": str(torch.__version__),
        "diffusers": str(diffusers.__version__),
        "transformers": str(transformers.__version__),
    }
    try:
        import peft

        versions["peft"] = str(peft.__version__)
    except ImportError:
        pass
    return versions


@dataclass
class LoadedPipeline:
    """A pipeline built from a card, with what is needed to call it and to describe its images."""

    card: ModelCard
    pipe: Any
    device: str
    dtype: torch.dtype
    call_kwargs: dict[str, Any] = field(default_factory=dict)
    engine: EngineOptions = field(default_factory=EngineOptions)

    def params(self) -> dict[str, Any]:
        """Everything that made this pipeline's images, except the seed (added per image)."""
        card = self.card
        lora = None
        if card.lora is not None:
            lora = {
                "repo": card.lora.repo,
                "weight_name": card.lora.weight_name,
                "scale": card.lora.scale,
                "fuse": card.lora.fuse,
            }
        return {
            "card": card.id,
            "card_sha256": card.sha256,
            "backend": card.backend,
            "repo": card.repo,
            "revision": card.revision,
            "variant": card.variant,
            "pipeline": type(self.pipe).__name__,
            "scheduler": type(self.pipe.scheduler).__name__,
            "scheduler_overrides": dict(card.scheduler.options),
            "lora": lora,
            "call": dict(card.call),
            "steps": card.steps,
            "guidance_scale": card.guidance_scale,
            "dtype": str(self.dtype).removeprefix("torch."),
            "device": self.device,
            "device_name": device_name(self.device),
            "engine": self.engine.record(),
            "versions": library_versions(),
        }

    def __call__(self, prompts: Sequence[str], seeds: Sequence[int]) -> list[Any]:
        """Draw one PIL image per (prompt, seed), batched in a single pipeline call.

        Each image gets its own generator, so an image depends on its seed alone and not on
        which other images share its batch.
        """
        generators = [torch.Generator(self.device).manual_seed(int(s)) for s in seeds]
        out = self.pipe(
            prompt=list(prompts),
            generator=generators,
            num_images_per_prompt=1,
            output_type="pil",
            **self.call_kwargs,
        )
        return list(out.images)

    def close(self) -> None:
        """Drop the pipeline and return its memory before the next model is loaded."""
        self.pipe = None
        gc.collect()
        if torch.device(self.device).type == "cuda":
            torch.cuda.empty_cache()


def _card_error(card: ModelCard, message: str) -> CardError:
    return CardError(f"{display_path(card.path)}: {message}")


def _check_local(card: ModelCard, written: str, resolved: str, key: str) -> None:
    # A local path that is missing would otherwise be tried as a hub id, with a confusing error.
    if (written.startswith(".") or Path(written).is_absolute()) and not Path(resolved).exists():
        raise _card_error(card, f"key '{key}' must be an existing folder, not '{resolved}'.")


def _named_class(card: ModelCard, name: str, key: str, base: type, kind: str) -> type:
    cls = getattr(diffusers, name, None)
    if isinstance(cls, type) and issubclass(cls, base):
        return cls
    known = [n for n in dir(diffusers) if isinstance(getattr(diffusers, n, None), type)]
    known = [n for n in known if issubclass(getattr(diffusers, n), base)]
    hint = suggestion(name, known)
    raise _card_error(card, f"key '{key}' must name a diffusers {kind} class{hint}, not '{name}'.")


def _imported_class(card: ModelCard, spec: str) -> type:
    """Resolve ``package.module:Class``: a pipeline class that ships with a project, not diffusers.

    Explicit on purpose: the card names the module, which is imported like any other code of
    the project, instead of diffusers' ``custom_pipeline`` fetching code from a weights folder.
    """
    module_name, _, class_name = spec.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise _card_error(
            card, f"key 'pipeline' must name an importable module, not '{module_name}' ({exc})."
        ) from exc
    cls = getattr(module, class_name, None)
    if not (isinstance(cls, type) and issubclass(cls, diffusers.DiffusionPipeline)):
        raise _card_error(
            card,
            f"key 'pipeline' must name a DiffusionPipeline class of module '{module_name}', "
            f"not '{class_name}'.",
        )
    return cls


def _pipeline_class(card: ModelCard) -> Any:
    if card.pipeline is None:
        return diffusers.AutoPipelineForText2Image
    if ":" in card.pipeline:
        return _imported_class(card, card.pipeline)
    return _named_class(card, card.pipeline, "pipeline", diffusers.DiffusionPipeline, "pipeline")


def _apply_scheduler(card: ModelCard, pipe: Any) -> None:
    spec = card.scheduler
    if spec.name is None and not spec.options:
        return
    cls = type(pipe.scheduler)
    if spec.name is not None:
        cls = _named_class(
            card, spec.name, "scheduler.class", diffusers.SchedulerMixin, "scheduler"
        )
    # from_config only warns about keys a scheduler does not take; a typo must not pass silently.
    accepted = set(inspect.signature(cls.__init__).parameters) - {"self", "kwargs"}
    for key in spec.options:
        if key not in accepted:
            hint = suggestion(key, sorted(accepted))
            raise _card_error(
                card, f"unknown key 'scheduler.{key}'{hint}; {cls.__name__} takes no such option."
            )
    pipe.scheduler = cls.from_config(pipe.scheduler.config, **dict(spec.options))


def _apply_lora(card: ModelCard, pipe: Any) -> None:
    if card.lora is None:
        return
    if not hasattr(pipe, "load_lora_weights"):
        raise _card_error(
            card, f"key 'lora' cannot apply: {type(pipe).__name__} cannot load LoRAs."
        )
    kwargs: dict[str, Any] = {"adapter_name": _ADAPTER}
    if card.lora.weight_name:
        kwargs["weight_name"] = card.lora.weight_name
    pipe.load_lora_weights(card.resolved_lora_repo, **kwargs)
    if card.lora.fuse:
        pipe.fuse_lora(lora_scale=card.lora.scale, adapter_names=[_ADAPTER])
        # Fusing bakes the LoRA into the base weights; dropping the adapter layers afterwards
        # gives a plain pipeline that runs as fast as the base model.
        pipe.unload_lora_weights()
    else:
        pipe.set_adapters([_ADAPTER], adapter_weights=[card.lora.scale])


def _call_kwargs(card: ModelCard, pipe: Any) -> dict[str, Any]:
    accepted = set(inspect.signature(pipe.__call__).parameters) - {"self", "kwargs"}
    kwargs: dict[str, Any] = {}
    for key, value in card.call.items():
        if key not in accepted:
            hint = suggestion(key, sorted(accepted))
            raise _card_error(
                card,
                f"unknown key 'call.{key}'{hint}; {type(pipe).__name__} takes no such argument.",
            )
        # TOML arrays arrive as lists; pipelines concatenate size arguments as tuples.
        kwargs[key] = tuple(value) if isinstance(value, list) else value
    return kwargs


def _quiet_libraries() -> None:
    """Turn off diffusers' and transformers' own loading bars and chatter: a generation run
    shows one progress bar (``arena generate``'s). ``ARENA_DEBUG=1`` keeps them."""
    if os.environ.get("ARENA_DEBUG"):
        return
    for library in (diffusers, transformers):
        library.utils.logging.disable_progress_bar()
        library.utils.logging.set_verbosity_error()


def _load_vae(card: ModelCard, options: EngineOptions, dtype: torch.dtype, index: dict) -> Any:
    """The card's replacement VAE, loaded like its repo, with ``force_upcast`` off."""
    where = display_path(card.path)
    if "vae" not in index:
        raise _card_error(card, "key 'engine.vae' cannot apply: the pipeline has no VAE.")
    repo = card.resolve(options.vae)
    _check_local(card, options.vae, repo, "engine.vae")
    kwargs: dict[str, Any] = {_DTYPE_KWARG: dtype}
    if options.vae_revision:
        kwargs["revision"] = options.vae_revision
    try:
        vae = diffusers.AutoencoderKL.from_pretrained(repo, **kwargs)
    except OSError as exc:
        if is_hub_id(repo):
            raise CardError(
                missing_weights_message(card, repo, options.vae_revision, None)
            ) from exc
        raise EngineError(f"{where}: key 'engine.vae' holds no loadable VAE; {exc}") from exc
    # The point of an fp16-safe VAE: decode in the pipeline's dtype instead of float32.
    vae.register_to_config(force_upcast=False)
    return vae


def _load_index(card: ModelCard, repo: str) -> dict:
    if is_hub_id(repo) and os.environ.get("HF_HUB_OFFLINE") and not _index_cached(repo, card):
        raise CardError(missing_weights_message(card, repo, card.revision, None))
    try:
        return diffusers.DiffusionPipeline.load_config(repo, revision=card.revision)
    except (OSError, ValueError) as exc:
        if is_hub_id(repo):
            raise CardError(missing_weights_message(card, repo, card.revision, None)) from exc
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise _card_error(
            card, f"key 'repo' must name a loadable pipeline; {repo} is not ({first})."
        ) from exc


def _index_cached(repo: str, card: ModelCard) -> bool:
    """Whether the cache holds the repo's ``model_index.json`` (so offline loading can try)."""
    from huggingface_hub import try_to_load_from_cache

    found = try_to_load_from_cache(repo, "model_index.json", revision=card.revision)
    return isinstance(found, str)


def load_pipeline(
    card: ModelCard,
    device: str | None = None,
    *,
    engine: EngineOptions | None = None,
    dtype: str | None = None,
) -> LoadedPipeline:
    """Build the pipeline a ``diffusers`` card describes, ready to draw images.

    Parameters
    ----------
    card : ModelCard
        A card with ``backend = "diffusers"``.
    device : str, optional
        Torch device; by default the best available (see :func:`resolve_device`).
    engine : EngineOptions, optional
        Engine options to use instead of the card's ``[engine]`` table.
    dtype : str, optional
        ``float32``, ``float16`` or ``bfloat16`` instead of the card's ``dtype``.

    Returns
    -------
    LoadedPipeline
        The pipeline on its device, with safety checker and progress bars off.

    Raises
    ------
    CardError
        If the card names an unknown pipeline or scheduler class, a scheduler option or call
        argument the classes do not take, sets a LoRA on a pipeline without LoRA support, or
        its weights are neither cached nor downloadable (naming the files and how to fetch).
    EngineError
        If an engine option cannot apply to this pipeline.
    """
    if card.backend != "diffusers":
        raise _card_error(card, f"key 'backend' must be 'diffusers', not '{card.backend}'.")
    device = resolve_device(device)
    torch_dtype = resolve_dtype(card, device, dtype)
    options = card.engine if engine is None else engine
    repo = card.resolved_repo
    kwargs: dict[str, Any] = {_DTYPE_KWARG: torch_dtype}
    if card.revision:
        kwargs["revision"] = card.revision
    if card.variant:
        kwargs["variant"] = card.variant
    _check_local(card, card.repo, repo, "repo")
    if card.lora is not None:
        _check_local(card, card.lora.repo, card.resolved_lora_repo, "lora.repo")
    # Raters must see what the model drew: a safety checker would swap some images for black
    # squares, which is a judgement about the filter, not the model. Reading model_index.json
    # first avoids downloading the checker's weights only to drop them.
    index = _load_index(card, repo)
    if "safety_checker" in index:
        kwargs.update(safety_checker=None, requires_safety_checker=False)
    _quiet_libraries()
    if options.vae is not None:
        kwargs["vae"] = _load_vae(card, options, torch_dtype, index)
    try:
        pipe = _pipeline_class(card).from_pretrained(repo, **kwargs)
    except OSError as exc:
        if is_hub_id(repo):
            raise CardError(missing_weights_message(card, repo, card.revision, index)) from exc
        raise
    _apply_scheduler(card, pipe)
    _apply_lora(card, pipe)
    call_kwargs = _call_kwargs(card, pipe)
    unfused = card.lora is not None and not card.lora.fuse
    apply_engine(pipe, options, display_path(card.path), lora_unfused=unfused)
    pipe.to(device)
    pipe.set_progress_bar_config(disable=True)
    return LoadedPipeline(
        card=card,
        pipe=pipe,
        device=device,
        dtype=torch_dtype,
        call_kwargs=call_kwargs,
        engine=options,
    )
