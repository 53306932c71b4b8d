"""Coverage of the report's 95% intervals when raters, and prompts, differ in taste.

Seeded simulation: 4 models, ``--votes`` votes per rater, each rater's taste a per-model offset
with sd ``--rater-sd`` (0.6), and optionally each prompt's (``--prompt-sd``: some prompts suit
some models; 20 prompts per study, drawn afresh). For every simulated study the 95% intervals
of the 6 pairwise rating differences and of the 6 head-to-head win rates are computed the ways
the report can, and coverage is the share of intervals containing the target:

- differences, rater bootstrap: ``percentile`` (uncorrected) and ``expanded`` (Hesterberg's
  expanded percentile with G-1 d.f., the report's default);
- differences, sandwich: ``wald z`` (uncorrected), ``wald t`` (t with G-1 d.f.) and ``two-way t``
  (rater and prompt, Cameron-Gelbach-Miller, t with min(G_rater, G_prompt)-1 d.f.);
- ``simultaneous``: the share of studies in which all 6 max-|t| intervals (behind the rank
  intervals) hold at once, uncorrected and corrected;
- head-to-head win rates (the declared comparisons' intervals): Wilson on Kish effective counts
  (``kish``), with Korn-Graubard's d.f. adjustment (``kish t``, the default), and two-way.

Targets are population quantities (over raters and prompts): the Bradley-Terry differences and
the head-to-head win rates of one study of 2,000,000 votes with 5,000 prompts (same seed scheme).

Run:  .venv/bin/python benchmarks/interval_coverage.py  [--sims 200 --boot 200 --raters 12 30 100]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from analysis.bootstrap import bootstrap_ratings  # noqa: E402
from analysis.bt import bt_ratings  # noqa: E402
from analysis.contrasts import pairwise_differences, rank_intervals  # noqa: E402
from analysis.counts import count_comparisons  # noqa: E402
from analysis.robust import robust_fit  # noqa: E402
from analysis.simulate import simulate_comparisons  # noqa: E402
from analysis.smallsample import expanded_level  # noqa: E402
from analysis.winrate import pairwise_table  # noqa: E402

THETA = (0.4, 0.1, 0.0, -0.5)
UNITS = ("rater", "prompt", "rater+prompt")
DIFFERENCE_METHODS = ("percentile", "expanded", "wald z", "wald t", "two-way t")
JOINT_METHODS = ("simultaneous", "simultaneous t")
WIN_RATE_METHODS = ("kish", "kish t", "two-way kish t")


def targets(
    rater_sd: float, prompt_sd: float, votes: int, seed: int = 10_000
) -> tuple[np.ndarray, np.ndarray]:
    """Population differences (log-odds, i < j) and head-to-head win rates of model i over j."""
    df = simulate_comparisons(
        THETA,
        n_raters=max(10_000, 2_000_000 // votes),
        votes_per_rater=votes,
        rater_sd=rater_sd,
        prompt_sd=prompt_sd,
        n_prompts=5_000,
        seed=seed,
        categorical=True,
    )
    c = count_comparisons(df, clusters=())
    th = bt_ratings(c, tie_mode="exclude").theta
    i, j = np.triu_indices(len(THETA), k=1)
    w = c.wins
    return th[i] - th[j], w[i, j] / (w[i, j] + w[j, i])


def one_study(
    df, n_boot: int, rng: np.random.Generator, d_target: np.ndarray, w_target: np.ndarray
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Per method: whether each interval covers its target, and the intervals' widths."""
    c = count_comparisons(df, clusters=UNITS)
    models = c.models
    g_r, g_p = c.cluster("rater").n_clusters, c.cluster("prompt").n_clusters
    theta = bt_ratings(c, tie_mode="exclude").theta
    reps = bootstrap_ratings(c, n_boot=n_boot, seed=rng, tie_mode="exclude").theta
    one = robust_fit(c, cluster="rater", tie_mode="exclude")
    two = robust_fit(c, cluster="rater+prompt", tie_mode="exclude")
    scale = 1 / 400 * np.log(10)  # Elo points back to log-odds
    tables = {
        "percentile": pairwise_differences(models, theta, replicates=reps),
        "expanded": pairwise_differences(
            models, theta, replicates=reps, level=expanded_level(0.95, g_r)
        ),
        "wald z": pairwise_differences(models, one.theta, cov=one.theta_cov),
        "wald t": pairwise_differences(models, one.theta, cov=one.theta_cov, df=g_r - 1),
        "two-way t": pairwise_differences(
            models, two.theta, cov=two.theta_cov, df=min(g_r, g_p) - 1
        ),
    }
    hits, widths = {}, {}
    for k, t in tables.items():
        lo, hi = t["ci_low"].to_numpy() * scale, t["ci_high"].to_numpy() * scale
        hits[k] = (lo <= d_target) & (d_target <= hi)
        widths[k] = hi - lo
    # Joint: every pair's d +/- c se at once, c the rank intervals' max-|t| critical value.
    i, j = np.triu_indices(len(models), k=1)
    d_hat = theta[i] - theta[j]
    se = (reps[:, i] - reps[:, j]).std(axis=0, ddof=1)
    for k, g in (("simultaneous", None), ("simultaneous t", g_r)):
        crit = float(rank_intervals(models, theta, replicates=reps, n_clusters=g)["critical"][0])
        hits[k] = np.array([np.all(np.abs(d_hat - d_target) <= crit * se)])
        widths[k] = 2 * crit * se
    for k, cluster, small in (
        ("kish", "rater", False),
        ("kish t", "rater", True),
        ("two-way kish t", "rater+prompt", True),
    ):
        t = pairwise_table(c, cluster=cluster, small_sample=small)
        lo, hi = t["wilson_low_adj"].to_numpy(), t["wilson_high_adj"].to_numpy()
        hits[k] = (lo <= w_target) & (w_target <= hi)
        widths[k] = hi - lo
    return hits, widths


def coverage(
    n_sims: int = 200,
    n_raters: int = 12,
    votes_per_rater: int = 200,
    rater_sd: float = 0.6,
    prompt_sd: float = 0.0,
    n_boot: int = 200,
    seed: int = 0,
    target: tuple[np.ndarray, np.ndarray] | None = None,
) -> dict[str, float]:
    """Coverage (share, 0-1) and mean width of every method over ``n_sims`` studies."""
    d_target, w_target = target or targets(rater_sd, prompt_sd, votes_per_rater)
    rng = np.random.default_rng(seed)
    hits: dict[str, list] = {}
    widths: dict[str, list] = {}
    for _ in range(n_sims):
        df = simulate_comparisons(
            THETA,
            n_raters=n_raters,
            votes_per_rater=votes_per_rater,
            rater_sd=rater_sd,
            prompt_sd=prompt_sd,
            n_prompts=20,
            seed=rng,
            categorical=True,
        )
        h, w = one_study(df, n_boot, rng, d_target, w_target)
        for k in h:
            hits.setdefault(k, []).append(h[k])
            widths.setdefault(k, []).append(w[k])
    out = {f"{k}_coverage": float(np.mean(v)) for k, v in hits.items()}
    out.update({f"{k}_width": float(np.mean(v)) for k, v in widths.items()})
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sims", type=int, default=200)
    p.add_argument("--raters", type=int, nargs="+", default=[12, 30, 100])
    p.add_argument("--votes", type=int, default=200, help="votes per rater")
    p.add_argument("--rater-sd", type=float, default=0.6)
    p.add_argument("--prompt-sd", type=float, nargs="+", default=[0.0, 0.5])
    p.add_argument("--boot", type=int, default=200)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    t0 = time.perf_counter()
    print(
        f"{a.sims} simulated studies per row: 4 models, {a.votes} votes per rater, rater taste "
        f"sd {a.rater_sd}, 20 prompts; B={a.boot}; seed {a.seed}. Coverage of nominal 95% (%)."
    )
    methods = DIFFERENCE_METHODS + JOINT_METHODS + WIN_RATE_METHODS
    print(f"{'raters':>6} {'prompt sd':>9} | " + " | ".join(f"{m:>14}" for m in methods))
    for prompt_sd in a.prompt_sd:
        target = targets(a.rater_sd, prompt_sd, a.votes)
        for n_raters in a.raters:
            r = coverage(a.sims, n_raters, a.votes, a.rater_sd, prompt_sd, a.boot, a.seed, target)
            cells = " | ".join(f"{100 * r[m + '_coverage']:14.1f}" for m in methods)
            print(f"{n_raters:>6} {prompt_sd:>9.2f} | {cells}", flush=True)
    se = np.sqrt(0.95 * 0.05 / a.sims)
    print(
        f"Monte Carlo se of one 95% coverage over {a.sims} studies ~ {100 * se:.1f} points "
        f"(per-pair methods pool 6 correlated pairs, so their se lies between {100 * se:.1f} "
        f"and {100 * se / np.sqrt(6):.1f}); {time.perf_counter() - t0:.0f} s"
    )


if __name__ == "__main__":
    main()
