"""Votes saved by the adaptive scheduler, and what it does to the intervals and the estimates.

Simulated studies with known strengths: 8 models, raters who each answer ``--quota`` votes and
carry a taste of their own (each model's strength moved by a normal draw of sd ``--taste`` logits
per rater, so votes cluster by rater). Three ways to choose each vote's pair:

- ``uniform``: a pair drawn uniformly at random (the baseline of the issue);
- ``balanced``: the least-served pair, ties drawn (the default rule: every pair evenly);
- ``adaptive``: :func:`arena.scheduler.adaptive.pair_probabilities` from a Bradley–Terry fit
  refitted every ``--refit-every`` votes (with each vote folded into the covariance in between),
  floor ``--floor``: the code the server runs;
- ``oracle``: pairs drawn at random from the best fixed allocation, computed from the true
  strengths (:func:`best_allocation`): what no scheduler can know, measured by the same
  stopping rule as the others.

A study stops when every pairwise difference's 95% interval (Bradley–Terry, cluster-robust
sandwich by rater) is narrower than ``--width`` Elo points, checked every ``--check`` votes.
Printed per design: votes needed (mean and quartiles), and the coverage of those intervals at
the stop (share of all pairwise intervals holding the true difference: the Bradley–Terry
projection of the population's vote probabilities under uniform sampling of pairs).

Then, for the adaptive design at a fixed number of votes (``--budget``, no stopping rule), each
model's share of wins: weighted by the inverse pair probability (analysis.ipw) and unweighted,
against the truth (the mean over its opponents of the population's probability that it wins).
Bias over the runs is printed in Monte Carlo standard errors.

    .venv/bin/python -P benchmarks/scheduling.py
    .venv/bin/python -P benchmarks/scheduling.py --runs 200 --width 120 --seed 1

"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from analysis.ipw import ipw_win_shares  # noqa: E402
from arena.scheduler import adaptive  # noqa: E402
from arena.scheduler.adaptive import pair_probabilities  # noqa: E402
from arena.scheduler.fit import Fit, add_vote, contrasts, fit_strengths, pair_design  # noqa: E402

ELO = 400 / np.log(10)  # Elo points per logit
#: Strengths of the simulated models, Elo points: a leaderboard's spread of 400 points.
STRENGTHS_ELO = (0.0, 60.0, 110.0, 150.0, 200.0, 260.0, 330.0, 400.0)
DESIGNS = ("uniform", "balanced", "adaptive", "oracle")
Z95 = 1.959963984540054
TARGETS = ("all", "declared")


@dataclass(frozen=True)
class World:
    """A simulated population: strengths (logits), rater taste sd (logits), votes per rater."""

    strengths: np.ndarray
    taste: float
    quota: int

    def marginal(self) -> np.ndarray:
        """(K, K) population probability that model i beats model j (Gauss–Hermite over the
        two models' tastes, whose difference has sd ``taste * sqrt(2)``)."""
        nodes, weights = np.polynomial.hermite_e.hermegauss(60)
        weights = weights / weights.sum()
        d = self.strengths[:, None] - self.strengths[None, :]
        z = d[..., None] + self.taste * np.sqrt(2.0) * nodes
        return (weights / (1.0 + np.exp(-z))).sum(axis=-1)

    def truth(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """True differences of the contrast ``rows`` (logits) and win shares (per model).

        The differences are the Bradley–Terry fit to the population's probabilities with every
        pair equally often: what a uniform study's estimate converges to.
        """
        p = self.marginal()
        k = len(self.strengths)
        wins = 1e6 * p * (1 - np.eye(k))
        theta = fit_strengths(wins, ridge=1e-9).theta
        shares = (p.sum(axis=1) - np.diag(p)) / (k - 1)
        return rows @ theta, shares


@dataclass
class Run:
    """One simulated study: votes until it stopped (None: never) and what was recorded."""

    votes: int | None
    covered: float  # share of pairwise intervals holding the truth at the stop
    record: pd.DataFrame | None = None  # the votes, for the weighting check


def robust_intervals(
    pair: np.ndarray, y: np.ndarray, rater: np.ndarray, k: int, rows: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Bradley–Terry differences of the contrast ``rows`` and their cluster-robust standard
    errors (sandwich, votes clustered by rater)."""
    pairs, x = pair_design(k)
    wins = np.zeros((k, k))
    np.add.at(wins, (pairs[pair, 0], pairs[pair, 1]), y)
    np.add.at(wins, (pairs[pair, 1], pairs[pair, 0]), 1.0 - y)
    fit = fit_strengths(wins, ridge=1e-6)
    p = 1.0 / (1.0 + np.exp(-(x[pair] @ fit.theta)))
    scores = (y - p)[:, None] * x[pair]  # per vote
    per_rater = np.zeros((rater.max() + 1, k))
    np.add.at(per_rater, rater, scores)
    bread = fit.cov
    cov = bread @ (per_rater.T @ per_rater) @ bread
    return rows @ fit.theta, np.sqrt(np.einsum("pk,kl,pl->p", rows, cov, rows))


def simulate(
    world: World,
    design: str,
    rng: np.random.Generator,
    *,
    width: float | None,
    check: int,
    max_votes: int,
    floor: float,
    refit_every: int,
    targets: list[tuple[int, int]] | None = None,
    keep: bool = False,
    allocation: np.ndarray | None = None,
) -> Run:
    """One study under ``design``; stops when every target's interval is narrower than
    ``width`` (Elo, full interval), or at ``max_votes``. ``targets``: the differences the
    study declares (and the adaptive rule aims at); None: every pairwise difference.
    ``allocation``: the ``oracle`` design's pair shares (default: :func:`best_allocation`)."""
    k = len(world.strengths)
    pairs, x = pair_design(k)
    n_pairs = len(pairs)
    rows = contrasts(k, targets)
    truth_d, _ = world.truth(rows)
    pair = np.zeros(max_votes, dtype=np.int64)
    y = np.zeros(max_votes)
    rater = np.zeros(max_votes, dtype=np.int64)
    prob = np.zeros(max_votes)
    counts = np.zeros(n_pairs)
    wins = np.zeros((k, k))
    fit = Fit(np.zeros(k), np.eye(k) / 0.04)
    taste = np.zeros(k)
    if design == "oracle":
        allocation = best_allocation(world, targets) if allocation is None else allocation
        cumulative = np.cumsum(allocation)
    for t in range(max_votes):
        if t % world.quota == 0:
            taste = rng.normal(0.0, world.taste, k)
        if design == "uniform":
            e, pe = int(rng.integers(n_pairs)), 1.0 / n_pairs
        elif design == "oracle":
            e = min(int(np.searchsorted(cumulative, rng.random(), side="right")), n_pairs - 1)
            pe = float(allocation[e])
        elif design == "balanced":
            low = np.flatnonzero(counts == counts.min())
            e, pe = int(low[rng.integers(len(low))]), 1.0 / len(low)
        else:
            if t and t % refit_every == 0:
                fit = fit_strengths(wins)
            pi = pair_probabilities(fit, pairs, x, rows, floor)
            e = min(int(np.searchsorted(np.cumsum(pi), rng.random(), side="right")), n_pairs - 1)
            pe = float(pi[e])
            q = 1.0 / (1.0 + np.exp(-(x[e] @ fit.theta)))
            fit = Fit(fit.theta, add_vote(fit.cov, x[e], q * (1 - q)))
        i, j = pairs[e]
        s = world.strengths + taste
        won = float(rng.random() < 1.0 / (1.0 + np.exp(s[j] - s[i])))
        pair[t], y[t], rater[t], prob[t] = e, won, t // world.quota, pe
        counts[e] += 1
        wins[i, j] += won
        wins[j, i] += 1.0 - won
        n = t + 1
        if width is not None and n % check == 0 and counts.min() >= 2:
            d, se = robust_intervals(pair[:n], y[:n], rater[:n], k, rows)
            if (2 * Z95 * se * ELO).max() < width:
                covered = float(np.mean(np.abs(d - truth_d) <= Z95 * se))
                return Run(n, covered)
    record = None
    if keep:
        record = pd.DataFrame(
            {
                "model_a": pairs[pair, 0].astype(str),
                "model_b": pairs[pair, 1].astype(str),
                "outcome": np.where(y > 0.5, "a", "b"),
                "rater": rater.astype(str),
                "pair_probability": prob,
            }
        )
    return Run(None, float("nan"), record)


def votes_needed(
    world: World, args: argparse.Namespace, targets: list[tuple[int, int]] | None
) -> dict[str, list[Run]]:
    """``args.runs`` studies per design, each from its own seeded generator."""
    out = {}
    allocation = None
    if "oracle" in args.designs:
        best = best_allocation(world, targets)
        allocation = args.mix * best + (1.0 - args.mix) / len(best)
    for design in args.designs:
        rngs = np.random.default_rng([args.seed, DESIGNS.index(design)]).spawn(args.runs)
        out[design] = [
            simulate(world, design, rng, width=args.width, check=args.check,
                     max_votes=args.max_votes, floor=args.floor, refit_every=args.refit_every,
                     targets=targets, allocation=allocation)
            for rng in rngs
        ]  # fmt: skip
    return out


def target_variances(strengths: np.ndarray, rows: np.ndarray, share: np.ndarray) -> np.ndarray:
    """(T,) model-based variances of the contrast ``rows`` (logits²) under ``share`` votes per
    pair (shares per vote, or counts), from the true ``strengths``."""
    _, x = pair_design(len(strengths))
    p = 1.0 / (1.0 + np.exp(-(x @ strengths)))
    info = (x.T * (share * p * (1 - p))) @ x + 1e-9 * np.eye(len(strengths))
    return np.einsum("tk,kl,tl->t", rows, np.linalg.pinv(info), rows)


def _power_mean(v: np.ndarray, order: float) -> float:
    return float((v**order).mean() ** (1 / order))


def best_allocation(world: World, targets: list[tuple[int, int]] | None) -> np.ndarray:
    """(P,) pair shares that minimise the widest target's model-based variance, knowing the
    true strengths: the power mean of order 20 (a smooth maximum) minimised over the simplex
    (softmax parameters, BFGS)."""
    from scipy.optimize import minimize

    k = len(world.strengths)
    n_pairs = len(pair_design(k)[0])
    rows = contrasts(k, targets)
    soft = lambda z: np.exp(z - z.max()) / np.exp(z - z.max()).sum()  # noqa: E731
    found = minimize(
        lambda z: _power_mean(target_variances(world.strengths, rows, soft(z)), 20.0),
        np.zeros(n_pairs),
        method="BFGS",
    )
    return soft(found.x)


def best_possible(world: World, targets: list[tuple[int, int]] | None) -> float:
    """Share of votes the best fixed allocation of pairs would save against uniform, knowing
    the true strengths: a bound for any fixed allocation (model-based variances, clustering
    aside), by the widest target's variance."""
    rows = contrasts(len(world.strengths), targets)
    n_pairs = len(pair_design(len(world.strengths))[0])
    best = target_variances(world.strengths, rows, best_allocation(world, targets)).max()
    uniform = target_variances(world.strengths, rows, np.full(n_pairs, 1 / n_pairs)).max()
    return float(1.0 - best / uniform)


def weighting_bias(world: World, args: argparse.Namespace, runs: int) -> pd.DataFrame:
    """Per model: mean error of the weighted and the unweighted win share over adaptive
    studies of ``args.budget`` votes, in Monte Carlo standard errors."""
    _, shares = world.truth(contrasts(len(world.strengths), None))
    rngs = np.random.default_rng([args.seed, 99]).spawn(runs)
    weighted, plain = [], []
    for rng in rngs:
        run = simulate(world, "adaptive", rng, width=None, check=args.check,
                       max_votes=args.budget, floor=args.floor, refit_every=args.refit_every,
                       keep=True)  # fmt: skip
        weighted.append(ipw_win_shares(run.record)["share"].sort_index(key=lambda s: s.astype(int)))
        plain.append(
            ipw_win_shares(run.record, weighted=False)["share"].sort_index(
                key=lambda s: s.astype(int)
            )
        )
    rows = []
    for name, est in (("weighted", weighted), ("unweighted", plain)):
        values = np.array([e.to_numpy() for e in est])
        err = values.mean(axis=0) - shares
        mcse = values.std(axis=0, ddof=1) / np.sqrt(runs)
        for m in range(len(shares)):
            rows.append({"estimate": name, "model": m, "truth": shares[m], "bias": err[m],
                         "mcse": mcse[m], "z": err[m] / mcse[m]})  # fmt: skip
    return pd.DataFrame(rows)


def summary(runs: list[Run]) -> dict[str, float]:
    """Votes needed (mean, quartiles, studies that never stopped) and mean coverage."""
    done = np.array([r.votes for r in runs if r.votes is not None], dtype=float)
    return {
        "mean": float(done.mean()) if done.size else float("nan"),
        "mean_se": float(done.std(ddof=1) / np.sqrt(done.size)) if done.size > 1 else float("nan"),
        "q25": float(np.percentile(done, 25)) if done.size else float("nan"),
        "q75": float(np.percentile(done, 75)) if done.size else float("nan"),
        "unfinished": sum(r.votes is None for r in runs),
        "coverage": float(np.nanmean([r.covered for r in runs])),
        "coverage_se": float(np.nanstd([r.covered for r in runs]) / np.sqrt(len(runs))),
    }


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=100, help="simulated studies per design")
    p.add_argument("--width", type=float, default=150.0, help="target 95%% interval width, Elo")
    p.add_argument("--taste", type=float, default=0.3, help="rater taste sd, logits")
    p.add_argument("--quota", type=int, default=20, help="votes per rater")
    p.add_argument("--check", type=int, default=25, help="votes between two stop checks")
    p.add_argument("--max-votes", type=int, default=40_000)
    p.add_argument("--floor", type=float, default=0.1)
    p.add_argument("--refit-every", type=int, default=50)
    p.add_argument("--budget", type=int, default=2000, help="votes per weighting-check study")
    p.add_argument("--bias-runs", type=int, default=400)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--designs", nargs="+", choices=DESIGNS, default=list(DESIGNS))
    p.add_argument("--targets", nargs="+", choices=TARGETS, default=list(TARGETS),
                   help="all: every pairwise difference; declared: model 0 against each other")  # fmt: skip
    p.add_argument("--mix", type=float, default=1.0,
                   help="the oracle design's shares: this much of the best allocation, the rest "
                        "uniform")  # fmt: skip
    p.add_argument("--power", type=float, default=adaptive.WEIGHT_POWER,
                   help="the adaptive rule's weight power (arena.scheduler.adaptive)")  # fmt: skip
    return p


def main() -> None:
    args = parser().parse_args()
    adaptive.WEIGHT_POWER = args.power  # read by adaptive.gains on every call
    world = World(np.array(STRENGTHS_ELO) / ELO, args.taste, args.quota)
    t0 = time.perf_counter()
    print(f"8 models at {', '.join(f'{s:.0f}' for s in STRENGTHS_ELO)} Elo; rater taste sd "
          f"{args.taste} logits, {args.quota} votes per rater; a study stops when every target's "
          f"95% interval < {args.width:g} Elo (checked every {args.check} votes); "
          f"{args.runs} studies per design, seed {args.seed}; adaptive floor {args.floor}, "
          f"refit every {args.refit_every} votes, weight power {args.power:g}")  # fmt: skip
    scenarios = {
        "every pairwise difference (28)": None,
        "declared: model 0 against each other (7)": [(0, j) for j in range(1, 8)],
    }
    for (label, targets), name in zip(scenarios.items(), TARGETS, strict=True):
        if name not in args.targets:
            continue
        results = votes_needed(world, args, targets)
        bound = 100 * best_possible(world, targets)
        print(f"targets: {label}; the best fixed allocation saves {bound:.0f}% vs uniform")
        base = summary(results["uniform"])["mean"] if "uniform" in results else float("nan")
        for design in args.designs:
            s = summary(results[design])
            saved = 100 * (1 - s["mean"] / base)
            print(f"  {design:>8}: votes mean {s['mean']:7.0f} (MC se {s['mean_se']:.0f}; quartiles {s['q25']:.0f}-"
                  f"{s['q75']:.0f}; {s['unfinished']} unfinished), {saved:+5.1f}% vs uniform; "
                  f"coverage {100 * s['coverage']:.1f}% (MC se {100 * s['coverage_se']:.1f})")  # fmt: skip
    if not args.bias_runs:
        print(f"({time.perf_counter() - t0:.0f} s)")
        return
    bias = weighting_bias(world, args, args.bias_runs)
    print(f"win shares after {args.budget} adaptive votes, {args.bias_runs} studies "
          f"(floor {args.floor}):")  # fmt: skip
    for name, rows in bias.groupby("estimate", sort=False):
        worst = rows.loc[rows["z"].abs().idxmax()]
        print(f"  {name:>10}: max |bias| {rows['bias'].abs().max():.4f}, "
              f"max |bias| / MC se {rows['z'].abs().max():.1f} (model {int(worst['model'])})")  # fmt: skip
    print(f"({time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    main()
