"""For which studies can a scheduler save 35% of the votes at all? The oracle bound on a grid.

``benchmarks/scheduling.py`` measures one world (8 models over 400 Elo). Here, for worlds of
``K`` models evenly spread over ``S`` Elo points (``--models``, ``--spreads``) and two kinds of
targets (every pairwise difference; one reference, the weakest model, against each other
model, as in SDXL Turbo's study), two figures, both against uniform random pairs:

- ``bound``: the share of votes the best fixed allocation of pairs saves knowing the true
  strengths (:func:`scheduling.best_possible`: the widest target's model-based variance);
- ``adaptive``: the share the server's adaptive rule (``--floor``, ``--refit-every``) saves,
  measured the same way: its studies' pair counts after the votes uniform needs for a 95%
  interval of ``--width`` Elo on the widest target (model-based, from the true strengths),
  and the widest target's variance under those counts against uniform counts of the same
  total. Variance is inverse to votes, so ``1 - ratio`` is the share of votes saved.
  Mean over ``--runs`` seeded studies per cell, with its Monte Carlo standard error.

Model-based variances leave out the clustering by rater (it inflates every design's variance
by a similar design effect); ``scheduling.py``'s stopping simulation, with it, is the check
on one world.

    .venv/bin/python -P benchmarks/scheduling_grid.py
    .venv/bin/python -P benchmarks/scheduling_grid.py --runs 4 --models 4 8 --spreads 400 800
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from arena.scheduler import adaptive  # noqa: E402
from arena.scheduler.fit import contrasts, pair_design  # noqa: E402


def _sibling(name: str):
    spec = importlib.util.spec_from_file_location(
        f"bench_{name}", Path(__file__).with_name(f"{name}.py")
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


sim = _sibling("scheduling")
TARGETS = ("all pairs", "reference vs rest")


def targets_of(kind: str, k: int) -> list[tuple[int, int]] | None:
    """None (every pairwise difference) or model 0 against each other model."""
    return None if kind == "all pairs" else [(0, j) for j in range(1, k)]


def widest_variance(strengths: np.ndarray, rows: np.ndarray, counts: np.ndarray) -> float:
    """The widest target's model-based variance (logits²) under ``counts`` votes per pair."""
    return float(sim.target_variances(strengths, rows, counts).max())


def uniform_budget(strengths: np.ndarray, rows: np.ndarray, width: float) -> int:
    """Votes uniform needs for a 95% interval of ``width`` Elo on the widest target
    (model-based)."""
    n_pairs = len(pair_design(len(strengths))[0])
    per_vote = widest_variance(strengths, rows, np.full(n_pairs, 1.0 / n_pairs))
    return int(np.ceil(per_vote * (2 * sim.Z95 * sim.ELO / width) ** 2))


def adaptive_saving(
    world, targets: list[tuple[int, int]] | None, budget: int, args: argparse.Namespace,
    seed: list[int],
) -> tuple[float, float]:  # fmt: skip
    """Mean and Monte Carlo se of the adaptive rule's saving over ``args.runs`` studies."""
    k = len(world.strengths)
    pairs, _ = pair_design(k)
    rows = contrasts(k, targets)
    index = {(int(i), int(j)): e for e, (i, j) in enumerate(pairs)}
    uniform = widest_variance(world.strengths, rows, np.full(len(pairs), budget / len(pairs)))
    savings = []
    for rng in np.random.default_rng(seed).spawn(args.runs):
        run = sim.simulate(world, "adaptive", rng, width=None, check=budget, max_votes=budget,
                           floor=args.floor, refit_every=args.refit_every, targets=targets,
                           keep=True)  # fmt: skip
        chosen = [index[(int(a), int(b))] for a, b in zip(run.record["model_a"],
                                                          run.record["model_b"], strict=True)]  # fmt: skip
        counts = np.bincount(chosen, minlength=len(pairs)).astype(float)
        savings.append(1.0 - widest_variance(world.strengths, rows, counts) / uniform)
    values = np.array(savings)
    return float(values.mean()), float(values.std(ddof=1) / np.sqrt(len(values)))


def grid(args: argparse.Namespace) -> list[dict[str, float]]:
    """One row per (targets, models, spread): uniform's votes, the bound, adaptive's saving.
    With ``args.issue``, only the issue's world (scheduling.STRENGTHS_ELO), spread 0 in the
    rows."""
    out = []
    worlds = [(len(sim.STRENGTHS_ELO), 0.0)] if args.issue else [
        (k, spread) for k in args.models for spread in args.spreads]  # fmt: skip
    for t, kind in enumerate(TARGETS):
        for k, spread in worlds:
            elo = np.array(sim.STRENGTHS_ELO) if args.issue else np.linspace(0.0, spread, k)
            strengths = elo / sim.ELO
            world = sim.World(strengths, args.taste, args.quota)
            targets = targets_of(kind, k)
            budget = uniform_budget(strengths, contrasts(k, targets), args.width)
            row = {"targets": kind, "models": k, "spread": spread, "votes": budget,
                   "bound": sim.best_possible(world, targets)}  # fmt: skip
            if budget <= args.max_votes:
                seed = [args.seed, t, k, int(spread)]
                row["adaptive"], row["se"] = adaptive_saving(world, targets, budget, args, seed)
            out.append(row)
    return out


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", type=int, nargs="+", default=[4, 8, 16])
    p.add_argument("--spreads", type=float, nargs="+", default=[200, 400, 800, 1200])
    p.add_argument("--runs", type=int, default=10, help="adaptive studies per cell")
    p.add_argument("--width", type=float, default=150.0, help="target 95%% interval width, Elo")
    p.add_argument("--taste", type=float, default=0.3, help="rater taste sd, logits")
    p.add_argument("--quota", type=int, default=20, help="votes per rater")
    p.add_argument("--floor", type=float, default=0.1)
    p.add_argument("--refit-every", type=int, default=50)
    p.add_argument("--max-votes", type=int, default=30_000,
                   help="cells needing more votes than this get the bound only")  # fmt: skip
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--power", type=float, default=adaptive.WEIGHT_POWER,
                   help="the adaptive rule's weight power (arena.scheduler.adaptive)")  # fmt: skip
    p.add_argument("--issue", action="store_true",
                   help="only the issue's world: scheduling.py's 8 models (0 to 400 Elo)")  # fmt: skip
    return p


def main() -> None:
    args = parser().parse_args()
    adaptive.WEIGHT_POWER = args.power  # read by adaptive.gains on every call
    t0 = time.perf_counter()
    print(f"models evenly spread; widest target's 95% interval {args.width:g} Elo; adaptive "
          f"floor {args.floor}, refit every {args.refit_every} votes, {args.runs} studies per "
          f"cell, seed {args.seed}; savings vs uniform random pairs")  # fmt: skip
    print(f"{'targets':>18} {'models':>6} {'spread':>6} {'uniform votes':>13} {'bound':>6} "
          f"{'adaptive (MC se)':>17}")  # fmt: skip
    for row in grid(args):
        got = (f"{100 * row['adaptive']:5.1f}% ({100 * row['se']:.1f})" if "adaptive" in row
               else "(too many votes)")  # fmt: skip
        spread = "issue" if args.issue else f"{row['spread']:.0f}"
        print(f"{row['targets']:>18} {row['models']:>6} {spread:>6} "
              f"{row['votes']:>13,} {100 * row['bound']:>5.1f}% {got:>17}")  # fmt: skip
    print(f"({time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    main()
