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
