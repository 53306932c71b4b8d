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
    cov = load("coverage")
    target = np.array([0.3, 0.4, 0.9, 0.1, 0.6, 0.5])  # cheap stand-in; only sanity is checked
    r = cov.coverage(n_sims=3, n_raters=20, votes_per_rater=50, n_boot=30, seed=1, target=target)
    for k in ("rater_bootstrap", "vote_bootstrap", "sandwich_rater"):
        assert 0.0 <= r[f"{k}_coverage"] <= 1.0 and r[f"{k}_width"] > 0
    # Resampling whole raters gives wider intervals than resampling votes when tastes differ.
    assert r["rater_bootstrap_width"] > r["vote_bootstrap_width"]
