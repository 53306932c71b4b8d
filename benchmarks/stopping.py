"""The stopping rule for a two-model comparison, checked after every vote (analysis.sequential).

Simulated raters each answer ``--quota`` votes on one pair; a rater's taste moves their
probability of preferring model a (logit-normal, sd ``--taste``), so votes cluster by rater.
After every vote three rules look at the data:

- ``e-process by rater`` (analysis.sequential.settle): each finished rater's share of votes
  for a, betting capital against a mean share of 50%; stops at capital >= 1/alpha;
- ``e-process by vote``: the same bet with every vote its own unit (ignores the clustering);
- ``p < alpha, peeking``: the pooled two-sided z test of 50%, at level alpha after every vote.

Printed: the share of studies that ever stop under a true 50/50 (a wrong decision: at most
alpha for a valid rule), and under a true mean share of ``--effect`` the share that stop, the
median votes when they do and the share that stop the wrong way.

    .venv/bin/python -P benchmarks/stopping.py
    .venv/bin/python -P benchmarks/stopping.py --runs 2000 --raters 300 --seed 1
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from scipy import optimize, stats

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from analysis.sequential import betting_capital  # noqa: E402

RULES = ("e-process by rater", "e-process by vote", "p < alpha, peeking")


def centre_for(share: float, taste: float) -> float:
    """The mean logit whose raters' mean probability is ``share``."""
    nodes, weights = np.polynomial.hermite_e.hermegauss(60)
    weights = weights / weights.sum()
    mean = lambda c: float((weights / (1 + np.exp(-(c + taste * nodes)))).sum()) - share  # noqa: E731
    return float(optimize.brentq(mean, -10, 10))


def one_study(rng: np.random.Generator, share: float, args: argparse.Namespace) -> dict:
    """First vote at which each rule stops (None: never) and the side it stops for."""
    centre = centre_for(share, args.taste)
    p = 1 / (1 + np.exp(-(centre + rng.normal(0, args.taste, args.raters))))
    votes = (rng.random((args.raters, args.quota)) < p[:, None]).astype(float)
    flat = votes.ravel()
    n = np.arange(1, flat.size + 1)
    level = 1 / args.alpha
    out = {}
    # By rater: a rater's share enters after their last vote.
    y = votes.mean(axis=1)
    up, down = betting_capital(y, 0.5, True), betting_capital(y, 0.5, False)
    hit = np.flatnonzero(0.5 * (up + down) >= level)
    out[RULES[0]] = (
        (int((hit[0] + 1) * args.quota), up[hit[0]] >= down[hit[0]]) if hit.size else None
    )
    up, down = betting_capital(flat, 0.5, True), betting_capital(flat, 0.5, False)
    hit = np.flatnonzero(0.5 * (up + down) >= level)
    out[RULES[1]] = (int(hit[0] + 1), up[hit[0]] >= down[hit[0]]) if hit.size else None
    z = (2 * np.cumsum(flat) - n) / np.sqrt(n)
    hit = np.flatnonzero((np.abs(z) > stats.norm.ppf(1 - args.alpha / 2)) & (n >= 10))
    out[RULES[2]] = (int(n[hit[0]]), z[hit[0]] > 0) if hit.size else None
    return out


def run(share: float, args: argparse.Namespace, stream: int) -> dict[str, dict[str, float]]:
    """Per rule: share of studies that stopped, median votes when they did, share wrong-way."""
    rngs = np.random.default_rng([args.seed, stream]).spawn(args.runs)
    results = [one_study(rng, share, args) for rng in rngs]
    out = {}
    for rule in RULES:
        stops = [r[rule] for r in results if r[rule] is not None]
        out[rule] = {
            "stopped": len(stops) / args.runs,
            "median_votes": float(np.median([v for v, _ in stops])) if stops else float("nan"),
            "wrong_way": sum(1 for _, up in stops if not up) / args.runs,
        }
    return out


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=1000)
    p.add_argument("--raters", type=int, default=200, help="most raters per study")
    p.add_argument("--quota", type=int, default=20)
    p.add_argument(
        "--taste", type=float, default=0.5, help="sd of a rater's logit, around the mean"
    )
    p.add_argument("--alpha", type=float, default=0.05)
    p.add_argument(
        "--effect", type=float, default=0.6, help="true mean share under the alternative"
    )
    p.add_argument("--seed", type=int, default=0)
    return p


def main() -> None:
    args = parser().parse_args()
    print(f"{args.runs} studies of up to {args.raters} raters x {args.quota} votes, rater taste sd "
          f"{args.taste} logits, alpha {args.alpha}, checked after every vote, seed {args.seed}")  # fmt: skip
    null, alt = run(0.5, args, 0), run(args.effect, args, 1)
    for rule in RULES:
        print(f"  {rule:>20}: true 50/50 -> wrong decisions {100 * null[rule]['stopped']:.1f}%; "
              f"true {100 * args.effect:.0f}% -> stopped {100 * alt[rule]['stopped']:.1f}% "
              f"(median {alt[rule]['median_votes']:.0f} votes), the wrong way "
              f"{100 * alt[rule]['wrong_way']:.1f}%")  # fmt: skip


if __name__ == "__main__":
    main()
