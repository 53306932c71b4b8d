"""Random generators for the resampling and simulation code, from a seed or a generator."""

from __future__ import annotations

import numpy as np

__all__ = ["as_generator"]


def as_generator(seed: int | np.random.Generator | None) -> np.random.Generator:
    """A ``numpy.random.Generator`` from a seed, or the generator itself.

    Parameters
    ----------
    seed : int, numpy.random.Generator or None
        A seed for ``numpy.random.default_rng`` (``None``: fresh entropy), or a generator that
        is returned unchanged so that callers can share one stream.

    Returns
    -------
    numpy.random.Generator
    """
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.default_rng(seed)
