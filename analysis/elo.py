"""Online Elo ratings — ORDER-DEPENDENT, reported for comparison with published leaderboards.

Online Elo (Elo 1978) updates two ratings after every vote, so the result depends on the order of
the votes and on ``K``; it is not a statistical estimate and carries no interval. Two published
variants are provided:

* ``fastchat`` — Chatbot Arena's original online Elo (Zheng et al. 2023; Chiang et al. 2024):
  ``K = 4``, base 1000, scale 400, votes in the given order.
* ``sdxl_turbo`` — the SDXL Turbo / ADD paper (Sauer et al. 2023): ``K = 1``, ratings averaged
  over 1000 random orders of the votes (seeded here).

Ties score 0.5 for each side. ``both_bad`` votes score as ties in ``fastchat`` (FastChat counts
"tie (bothbad)" as a tie) and are skipped in ``sdxl_turbo``; ``both_bad_as_tie`` chooses either.
Use :func:`analysis.bt.bt_ratings` for order-free ratings.

Elo is sequential by definition, so the only loops over votes in ``analysis`` live here and in
the compiled kernel of the shuffled variant (:mod:`analysis.elo_kernel`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis.elo_kernel import given_order, pack_votes, shuffled_elo
from analysis.frame import A_WINS, B_WINS, BOTH_BAD, TIE, EncodedComparisons, encode_comparisons
from analysis.rng import as_generator
from analysis.types import FloatArray

#: Published online-Elo settings: K, number of orders (0 = the given order only).
ELO_VARIANTS: dict[str, dict[str, float]] = {
    "fastchat": {"k": 4.0, "n_orders": 0},
    "sdxl_turbo": {"k": 1.0, "n_orders": 1000},
}


@dataclass(frozen=True)
class EloRatings:
    """Online Elo ratings (order-dependent).

    Attributes
    ----------
    models : tuple of str
        Model names.
    ratings : ndarray, shape (m,)
        Final ratings (mean over orders for the shuffled variant).
    spread : ndarray, shape (m,)
        Standard deviation over orders (zeros for a single order) — order sensitivity, not a
        sampling interval.
    variant : str
        ``fastchat``, ``sdxl_turbo`` or ``custom``.
    k, base, scale : float
        Update step, initial rating and logistic scale.
    n_orders : int
        Orders averaged (0 = the given order).
    seed : int or None
        Seed of the shuffles.
    n_votes : int
        Votes used.
    """

    models: tuple[str, ...]
    ratings: FloatArray
    spread: FloatArray
    variant: str
    k: float
    base: float
    scale: float
    n_orders: int
    seed: int | None
    n_votes: int

    def as_dict(self) -> dict[str, float]:
        """Ratings keyed by model name."""
        return dict(zip(self.models, self.ratings.tolist(), strict=True))


def elo_ratings(
    comparisons: pd.DataFrame | EncodedComparisons,
    *,
    variant: str = "fastchat",
    k: float | None = None,
    n_orders: int | None = None,
    base: float = 1000.0,
    scale: float = 400.0,
    seed: int | np.random.Generator | None = 0,
    mask: np.ndarray | None = None,
    both_bad_as_tie: bool | None = None,
) -> EloRatings:
    """Online Elo ratings over the votes, in the given order or averaged over shuffled orders.

    Parameters
    ----------
    comparisons : pandas.DataFrame or EncodedComparisons
        Votes, in the order they should be replayed.
    variant : {"fastchat", "sdxl_turbo"}, default "fastchat"
        Preset ``k`` and ``n_orders`` (see :data:`ELO_VARIANTS`).
    k : float, optional
        Override the update step ``K``.
    n_orders : int, optional
        Override the number of shuffled orders (0 = the given order).
    base, scale : float
        Initial rating and logistic scale (1000, 400).
    seed : int or numpy.random.Generator
        Randomness for the shuffles.
    mask : ndarray of bool, optional
        Subset of votes to use.
    both_bad_as_tie : bool, optional
        Score ``both_bad`` as a tie instead of skipping it. Default: True for ``fastchat``
        (FastChat scores "tie (bothbad)" as a tie), False otherwise.

    Returns
    -------
    EloRatings
        Final ratings and their spread over orders.

    Notes
    -----
    Elo (1978), *The Rating of Chessplayers*. ``fastchat``: K=4 in the given order, as in
    Chatbot Arena (Zheng et al. 2023; Chiang et al. 2024). ``sdxl_turbo``: K=1, mean over 1000
    random orders, as in Sauer et al. (2023), *Adversarial Diffusion Distillation*.
    The result depends on vote order; it is not a maximum-likelihood estimate.
    """
    if variant not in ELO_VARIANTS:
        raise ValueError(
            f"variant must be one of {', '.join(map(repr, ELO_VARIANTS))}; got {variant!r}"
        )
    preset = ELO_VARIANTS[variant]
    k_ = float(preset["k"] if k is None else k)
    orders = int(preset["n_orders"] if n_orders is None else n_orders)
    enc = (
        comparisons
        if isinstance(comparisons, EncodedComparisons)
        else encode_comparisons(comparisons)
    )
    if both_bad_as_tie is None:
        both_bad_as_tie = variant == "fastchat"
    keep = enc.outcome != BOTH_BAD if not both_bad_as_tie else np.ones(enc.n_votes, dtype=bool)
    if mask is not None:
        keep &= np.asarray(mask, dtype=bool)
    a, b, o = enc.a[keep], enc.b[keep], enc.outcome[keep]
    score = np.select([o == A_WINS, o == B_WINS, (o == TIE) | (o == BOTH_BAD)], [1.0, 0.0, 0.5])
    m = len(enc.models)
    rng = as_generator(seed)
    if orders <= 0 or len(a) == 0:
        r = given_order(pack_votes(a, b, score), m, k_, base, scale)
        spread = np.zeros(m)
        orders = 0
    else:
        finals = shuffled_elo(a, b, score, m, k_, base, scale, orders, rng)
        r, spread = finals.mean(axis=0), finals.std(axis=0)
    is_preset = k is None and n_orders is None
    return EloRatings(
        models=enc.models,
        ratings=r,
        spread=spread,
        variant=variant if is_preset else "custom",
        k=k_,
        base=base,
        scale=scale,
        n_orders=orders,
        seed=seed if isinstance(seed, int) else None,
        n_votes=int(len(a)),
    )
