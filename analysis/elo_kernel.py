"""Compiled replay of online Elo over many shuffled orders (numba).

The SDXL Turbo variant averages online Elo over 1,000 random orders of the votes (Sauer et al.
2023). A million votes make a billion sequential updates, which no vectorisation across votes
can reach: each update reads the ratings the previous one wrote. A compiled loop does one
(shuffle + update) in about 13 ns per core on this project's machines, 6–8 ns on its two cores
(benchmarks/analysis_speed.py).

Each vote is packed into one int32 (left model << 16 | right model << 2 | score code), so a
shuffle moves one small array that stays in cache. Every order is an in-place Fisher–Yates
shuffle of a fresh copy of the votes driven by xorshift64* seeded per order (the seeds come from
the caller's :class:`numpy.random.Generator`), so a result depends only on the seed. Two orders
are replayed side by side ("lanes") because one order's updates form a dependency chain that
leaves the CPU idle between them.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from analysis.types import FloatArray

#: Largest number of models the packed vote holds (14 bits per side).
MAX_MODELS = 16384
_LANES = 2


@njit(cache=True)
def _shuffle(arr: np.ndarray, seed: int) -> None:
    """Fisher–Yates shuffle of ``arr`` in place; xorshift64* (Vigna 2016) seeded by ``seed``."""
    x = np.uint64(seed) * np.uint64(0x9E3779B97F4A7C15) + np.uint64(1)
    for i in range(arr.shape[0] - 1, 0, -1):
        x ^= x >> np.uint64(12)
        x ^= x << np.uint64(25)
        x ^= x >> np.uint64(27)
        u = (x * np.uint64(2685821657736338717)) >> np.uint64(11)  # 53 random bits
        j = int(u * (1.0 / 9007199254740992.0) * (i + 1))
        tmp = arr[i]
        arr[i] = arr[j]
        arr[j] = tmp


@njit(cache=True)
def order_permutation(n: int, seed: int) -> np.ndarray:
    """The vote order that ``seed`` gives: the shuffle of ``range(n)`` the kernel applies."""
    arr = np.arange(n).astype(np.int32)
    _shuffle(arr, seed)
    return arr


@njit(cache=True, parallel=True)
def shuffled_replays(
    codes: np.ndarray, m: int, k: float, base: float, scale: float, seeds: np.ndarray
) -> np.ndarray:
    """Final ratings of one shuffled replay per seed, shape ``(len(seeds), m)``.

    ``codes`` are packed votes (:func:`pack_votes`); the update is the published one,
    ``r_a += K (s - E)``, ``r_b -= K (s - E)`` with ``E = 1 / (1 + 10^((r_b - r_a) / scale))``.
    Pairs of orders run on all cores (``prange``); each order depends only on its seed, so the
    result is the same whatever the number of threads.
    """
    n, n_orders = codes.shape[0], seeds.shape[0]
    out = np.empty((n_orders, m))
    ln10 = np.log(10.0) / scale
    for group in prange((n_orders + _LANES - 1) // _LANES):
        start = group * _LANES
        lanes = min(_LANES, n_orders - start)
        work = np.empty((_LANES, n), dtype=codes.dtype)
        r = np.empty((_LANES, m))
        for lane in range(lanes):
            work[lane, :] = codes
            _shuffle(work[lane], seeds[start + lane])
            r[lane, :] = base
        for t in range(n):
            for lane in range(lanes):
                c = work[lane, t]
                ia, ib = c >> 16, (c >> 2) & (MAX_MODELS - 1)
                expected = 1.0 / (1.0 + np.exp((r[lane, ib] - r[lane, ia]) * ln10))
                delta = k * ((c & 3) * 0.5 - expected)
                r[lane, ia] += delta
                r[lane, ib] -= delta
        for lane in range(lanes):
            out[start + lane] = r[lane]
    return out


@njit(cache=True)
def given_order(codes: np.ndarray, m: int, k: float, base: float, scale: float) -> np.ndarray:
    """Final ratings of one replay of the packed votes in the order given (FastChat's Elo)."""
    r = np.full(m, base)
    ln10 = np.log(10.0) / scale
    for t in range(codes.shape[0]):
        c = codes[t]
        ia, ib = c >> 16, (c >> 2) & (MAX_MODELS - 1)
        expected = 1.0 / (1.0 + np.exp((r[ib] - r[ia]) * ln10))
        delta = k * ((c & 3) * 0.5 - expected)
        r[ia] += delta
        r[ib] -= delta
    return r


def pack_votes(a: np.ndarray, b: np.ndarray, score: np.ndarray) -> np.ndarray:
    """One int32 per vote: ``a << 16 | b << 2 | 2 * score`` (score 0, 0.5 or 1)."""
    if len(a) and max(int(a.max()), int(b.max())) >= MAX_MODELS:
        raise ValueError(f"online Elo packs model indices below {MAX_MODELS}; got more models")
    code = np.rint(np.asarray(score) * 2).astype(np.int64)
    return ((np.asarray(a, np.int64) << 16) | (np.asarray(b, np.int64) << 2) | code).astype(
        np.int32
    )


def shuffled_elo(
    a: np.ndarray,
    b: np.ndarray,
    score: np.ndarray,
    m: int,
    k: float,
    base: float,
    scale: float,
    n_orders: int,
    rng: np.random.Generator,
) -> FloatArray:
    """Final ratings after each of ``n_orders`` shuffled replays, shape ``(n_orders, m)``."""
    seeds = rng.integers(0, 2**62, size=n_orders, dtype=np.int64)
    return shuffled_replays(
        pack_votes(a, b, score), int(m), float(k), float(base), float(scale), seeds
    )
