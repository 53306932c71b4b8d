"""A small, seeded, untimed run of benchmarks/scheduling.py: its claims must hold in little."""

import argparse
import importlib.util
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]


def load(name: str):
    spec = importlib.util.spec_from_file_location(
        f"bench_{name}", ROOT / "benchmarks" / f"{name}.py"
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_adaptive_needs_fewer_votes_and_weighting_removes_the_bias() -> None:
    bench = load("scheduling")
    args = bench.parser().parse_args(
        ["--runs", "6", "--width", "220", "--budget", "400", "--seed", "3"]
    )
    world = bench.World(np.array(bench.STRENGTHS_ELO) / bench.ELO, args.taste, args.quota)
    declared = [(0, j) for j in range(1, 8)]
    runs = bench.votes_needed(world, args, declared)
    means = {d: bench.summary(r)["mean"] for d, r in runs.items()}
    assert all(r.votes is not None for rs in runs.values() for r in rs)
    assert means["adaptive"] < 0.9 * means["uniform"], means
    assert bench.best_possible(world, declared) > bench.best_possible(world, None) > 0
    bias = bench.weighting_bias(world, args, runs=60).groupby("estimate")["z"]
    worst = bias.apply(lambda z: z.abs().max())
    # Weighted: within Monte Carlo error. Unweighted: the adaptive rule's uneven pairs show.
    assert worst["weighted"] < 4 < worst["unweighted"], worst


def test_the_benchmark_parser_has_the_documented_defaults() -> None:
    args = load("scheduling").parser().parse_args([])
    assert isinstance(args, argparse.Namespace) and args.floor == 0.1 and args.width == 150


def test_the_stopping_rule_stays_valid_where_peeking_does_not() -> None:
    bench = load("stopping")
    args = bench.parser().parse_args(["--runs", "150", "--raters", "40", "--seed", "2"])
    null = bench.run(0.5, args, 0)
    bound = args.alpha + 3 * np.sqrt(args.alpha * (1 - args.alpha) / args.runs)
    assert null["e-process by rater"]["stopped"] <= bound
    assert null["p < alpha, peeking"]["stopped"] > 2 * args.alpha  # the rule it replaces
    alt = bench.run(0.7, args, 1)["e-process by rater"]
    assert alt["stopped"] > 0.8 and alt["wrong_way"] == 0


def test_the_grid_bound_grows_with_the_spread_and_no_schedule_beats_it() -> None:
    bench = load("scheduling_grid")
    args = bench.parser().parse_args(
        ["--runs", "2", "--models", "4", "--spreads", "200", "1200", "--seed", "4"]
    )
    rows = {(r["targets"], r["spread"]): r for r in bench.grid(args)}
    for kind in bench.TARGETS:
        narrow, wide = rows[(kind, 200)], rows[(kind, 1200)]
        assert wide["votes"] > 2 * narrow["votes"]  # far-apart models tell less per vote
        assert wide["bound"] > narrow["bound"] + 0.1 > 0.1
        for row in (narrow, wide):
            # The adaptive studies' pair counts are one fixed allocation among all: the best
            # one (the bound) does at least as well, up to the optimiser's tolerance.
            assert row["adaptive"] <= row["bound"] + 0.01, row
        assert wide["adaptive"] > 0.5 * wide["bound"], wide  # and adaptive gets most of it


def test_aiming_at_the_widest_target_brings_the_allocation_to_the_bound(monkeypatch) -> None:
    """The issue's world: the weight power (--power) moves the adaptive allocation towards
    the oracle bound; the floor and the refit cadence are options of the same measure."""
    from arena.scheduler import adaptive

    bench = load("scheduling_grid")
    saved = {}
    for power in (4.0, 32.0):
        monkeypatch.setattr(adaptive, "WEIGHT_POWER", power)
        args = bench.parser().parse_args(["--issue", "--runs", "2", "--seed", "1"])
        rows = bench.grid(args)
        assert [r["models"] for r in rows] == [8, 8] and rows[0]["bound"] < rows[1]["bound"]
        saved[power] = rows[0]["adaptive"]
        assert all(r["adaptive"] <= r["bound"] + 0.01 for r in rows), rows
    assert saved[32.0] > saved[4.0] + 0.03, saved


def test_the_stopping_simulation_runs_one_design_alone() -> None:
    bench = load("scheduling")
    args = bench.parser().parse_args(
        ["--runs", "3", "--width", "260", "--designs", "adaptive", "--seed", "2"]
    )
    world = bench.World(np.array(bench.STRENGTHS_ELO) / bench.ELO, args.taste, args.quota)
    runs = bench.votes_needed(world, args, None)
    assert list(runs) == ["adaptive"] and all(r.votes for r in runs["adaptive"])
    summary = bench.summary(runs["adaptive"])
    assert summary["mean_se"] > 0 and summary["unfinished"] == 0


def test_the_oracle_design_draws_its_pairs_from_the_best_allocation() -> None:
    bench = load("scheduling")
    world = bench.World(np.array(bench.STRENGTHS_ELO) / bench.ELO, 0.3, 20)
    declared = [(0, j) for j in range(1, 8)]
    best = bench.best_allocation(world, declared)
    assert best.shape == (28,) and abs(best.sum() - 1) < 1e-9 and (best > 0).all()
    rows = bench.contrasts(8, declared)
    uniform = np.full(28, 1 / 28)
    widest = {name: bench.target_variances(world.strengths, rows, share).max()
              for name, share in (("best", best), ("uniform", uniform))}  # fmt: skip
    assert widest["best"] < 0.8 * widest["uniform"]
    run = bench.simulate(world, "oracle", np.random.default_rng(5), width=None, check=25,
                         max_votes=4000, floor=0.1, refit_every=50, targets=declared,
                         allocation=best, keep=True)  # fmt: skip
    pairs, _ = bench.pair_design(8)
    index = {(str(i), str(j)): e for e, (i, j) in enumerate(pairs)}
    sides = zip(run.record["model_a"], run.record["model_b"], strict=True)
    chosen = np.array([index[ab] for ab in sides])
    assert np.allclose(run.record["pair_probability"], best[chosen])
    counts = np.bincount(chosen, minlength=28)
    expected = 4000 * best
    assert ((counts - expected) ** 2 / expected).sum() < 60  # chi-square, 27 df: p < 1e-3
