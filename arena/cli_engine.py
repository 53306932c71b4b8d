"""``arena generate``'s engine options: overrides of every card's ``dtype`` and ``[engine]``.

Each flag defaults to ``None``, meaning "the card's own value"; see :mod:`models.engine`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

__all__ = ["engine_options"]

_DTYPE_ALIASES = {"fp32": "float32", "fp16": "float16", "bf16": "bfloat16"}


def _dtype(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    return _DTYPE_ALIASES.get(value, value) if value else None


def engine_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``arena generate``'s overrides of every card's ``dtype`` and ``[engine]`` table."""
    flags = [
        ("channels-last", "channels_last", "UNet and VAE in channels-last memory format."),
        ("fuse-qkv", "fuse_qkv", "Fuse the attention projections (fuse_qkv_projections)."),
        ("vae-tiling", "vae_tiling", "Decode large images tile by tile."),
        ("vae-slicing", "vae_slicing", "Decode a batch one image at a time."),
    ]
    for flag, name, text in reversed(flags):
        fn = click.option(
            f"--{flag}/--no-{flag}", name, default=None, help=f"{text} Default: the card's."
        )(fn)
    fn = click.option(
        "--compile",
        "compile",
        default=None,
        type=click.Choice(["off", "default", "reduce-overhead", "max-autotune"]),
        help="torch.compile the UNet with this mode ('off' disables). Default: the card's.",
    )(fn)
    return click.option(
        "--dtype",
        default=None,
        callback=_dtype,
        type=click.Choice(["float32", "float16", "bfloat16", "fp32", "fp16", "bf16"]),
        help="Weights' dtype for every model (float16 runs as float32 on a CPU). "
        "Default: the card's.",
    )(fn)
