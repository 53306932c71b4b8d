"""A scripted crowd through the real server (benchmarks/crowd_quality.py, one crowd): careful
raters who vote by the toy judge, a left-clicker, a random clicker and a too-fast rater.

Done when exactly the careless raters are flagged, the ratings without them are closer to the
judge than with them, and the scheduler kept its design. 15 attention checks per rater: a
random clicker passes the default rule (80% right) with probability 1.8%, a careful rater with
this benchmark's lapse rate fails it with probability below 0.01%.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")

ROOT = Path(__file__).resolve().parents[2]


def _benchmark():
    spec = importlib.util.spec_from_file_location(
        "crowd_quality", ROOT / "benchmarks" / "crowd_quality.py"
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_exactly_the_careless_raters_are_flagged_and_excluding_them_helps(
    tmp_path, demo_workdir
) -> None:
    bench = _benchmark()
    r = bench.run(n_careful=10, quota=60, prompts=24, gold_rate=0.25, repeat_rate=0.1,
                  seed=1, crowds=1, n_boot=100, workdir=tmp_path,
                  images=demo_workdir / "images")  # fmt: skip
    assert r["generated"] == 0  # the session's demo images hold every image of this study
    (crowd,) = r["crowds"]
    flags = {row["rater"]: row["flags"] for row in crowd["raters"]}
    assert crowd["flagged"] == sorted(bench.CARELESS), flags
    assert "side" in flags["left-clicker"] and "fast" in flags["too-fast"]
    assert "gold" in flags["random-clicker"]
    rows = {row["rater"]: row for row in crowd["raters"]}
    assert all(rows[f"careful-{i:02d}"]["n_gold"] == 15 for i in range(10))
    for q, fig in crowd["questions"].items():
        everyone, without = fig["everyone"], fig["excluding_flagged"]
        assert without["mean_abs_gap"] < everyone["mean_abs_gap"], (q, fig)
        assert without["discordance"] <= everyone["discordance"] + 0.05, (q, fig)
    b = crowd["balance"]
    assert b["cell_max"] - b["cell_min"] <= 1, b
    assert b["cells_left_right_off_by_more_than_1"] == 0, b
    assert b["repeated_cells_per_rater"] == 0 and b["raters_off_quota"] == 0, b
    assert b["kinds"] == {"2afc": 13 * 39, "gold": 13 * 15, "repeat": 13 * 6}, b
