"""Small, untimed versions of the analysis benchmarks: they must run and give sane figures."""

import importlib.util
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]


def load(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_speed_benchmark_small():
    speed = load("analysis_speed")
    r = speed.run(
        votes=4000, models=5, raters=40, prompts=20, questions=2, n_boot=50, ref_reps=1, repeats=1
    )
    assert r["votes"] == 4000
    assert all(
        np.isfinite(r[k]) and r[k] >= 0 for k in ("counts_s", "bootstrap_s", "peak_traced_mb")
    )
    assert r["reference_extrapolated_s"] == r["reference_per_replicate_s"] * 50


def test_coverage_benchmark_small():
    cov = load("interval_coverage")
    # Cheap stand-in targets; only the intervals' shape is checked here, coverage itself is the
    # benchmark's figure (docs/benchmarks.md).
    target = (np.array([0.3, 0.4, 0.9, 0.1, 0.6, 0.5]), np.full(6, 0.55))
    r = cov.coverage(
        n_sims=3, n_raters=12, votes_per_rater=50, n_boot=200, prompt_sd=0.5, seed=1, target=target
    )
    methods = cov.DIFFERENCE_METHODS + cov.JOINT_METHODS + cov.WIN_RATE_METHODS
    for k in methods:
        assert 0.0 <= r[f"{k}_coverage"] <= 1.0 and r[f"{k}_width"] > 0
    # Every few-cluster correction widens its interval at 12 raters; two-way clustering widens
    # it again when prompts have effects of their own.
    for plain, corrected in (
        ("percentile", "expanded"),
        ("wald z", "wald t"),
        ("simultaneous", "simultaneous t"),
        ("kish", "kish t"),
        ("wald t", "two-way t"),
        ("kish t", "two-way kish t"),
    ):
        assert r[f"{corrected}_width"] > r[f"{plain}_width"], (plain, corrected)


def test_crowd_closeness_takes_an_unbounded_rating_as_infinite():
    figures = load("_crowd_figures")
    figures.MODELS = ["top", "mid", "low"]  # the module's own list is the toy family's
    board = [
        {"model": "top", "rating": None, "ci_open": "upper"},
        {"model": "mid", "rating": 1040.0, "ci_open": ""},
        {"model": "low", "rating": 960.0, "ci_open": ""},
    ]
    shares = {("top", "mid"): 0.9, ("mid", "low"): 0.6, ("top", "low"): 0.95}
    out = figures.closeness(board, {"top": 3.0, "mid": 2.0, "low": 1.0}, shares)
    assert out["kendall_tau"] == 1.0 and out["discordance"] == 0.0
    # top's pairs predict 1.0: gaps 0.1 and 0.05; mid-low predicts P(80 Elo) = 0.613.
    expected = (0.1 + 0.05 + abs(1 / (1 + 10 ** (-80 / 400)) - 0.6)) / 3
    assert abs(out["mean_abs_gap"] - expected) < 1e-12
