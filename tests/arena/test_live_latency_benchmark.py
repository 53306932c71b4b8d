"""benchmarks/live_latency.py runs, in both modes, on the tiny SDXL (the lent GPU runs the same
script on the full architecture: a bug found there costs device time)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("mode", ["worker", "serve"])
def test_the_live_latency_benchmark_times_each_model(tmp_path, mode) -> None:
    out = tmp_path / "live.json"
    args = ["--reduced", "--battles", "3", "--warmup", "1", "--json", str(out)]
    args += ["--worker"] if mode == "worker" else []
    command = [sys.executable, "-P", "benchmarks/live_latency.py", *args]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads(out.read_text(encoding="utf-8"))
    assert results["mode"] == mode and results["size"] == 64
    assert "1-step answer p95" in done.stdout
    kinds = {"answer", "drawn"} | ({"shown"} if mode == "serve" else set())
    for model in ("live-1step", "live-4step"):
        row = results["models"][model]
        assert set(row) == kinds and all(row[k]["n"] == 3 for k in kinds)
        # Each answer holds its drawing, each shown image its answer: so do their medians.
        assert row["answer"]["p50"] >= row["drawn"]["p50"] > 0
        if mode == "serve":
            assert row["shown"]["p50"] >= row["answer"]["p50"]
    # Fewer steps first: the 1-step image is named before the 4-step one.
    one, four = results["models"]["live-1step"], results["models"]["live-4step"]
    assert one["answer"]["p50"] < four["answer"]["p50"]
