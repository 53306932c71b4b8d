"""The CLI's error boundary: the project's validation errors as one plain sentence.

Every ``arena`` command is wrapped in :func:`plain_errors`; ``ARENA_DEBUG=1`` shows the
traceback instead.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from functools import wraps
from typing import Any

import click

DEBUG_ENV = "ARENA_DEBUG"


def plain_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn the project's validation errors into one plain sentence and exit status 1."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except click.ClickException:
            raise
        except (ValueError, OSError, KeyError, ImportError) as exc:
            if os.environ.get(DEBUG_ENV):
                raise
            message = str(exc) or exc.__class__.__name__
            if isinstance(exc, ImportError):
                message = _missing_package(exc, message)
            raise click.ClickException(message) from None

    return wrapper


#: The packages of the ``generate`` extra (pyproject.toml): only these are its fault.
_GENERATE_EXTRA = frozenset(
    {"torch", "diffusers", "transformers", "accelerate", "safetensors", "peft"}
)


def _missing_package(exc: ImportError, message: str) -> str:
    """Say which package to install: the ``generate`` extra only for its own packages."""
    package = (exc.name or "").split(".")[0]
    if package in _GENERATE_EXTRA:
        return (
            f"{message}. Generating images needs the 'generate' extra: "
            "pip install 't2i-arena[generate]'."
        )
    if package:
        return f"{message}. Install the package '{package}': pip install {package}."
    return f"{message}."
