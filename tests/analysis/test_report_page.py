"""The HTML report in a real Chromium, at a laptop's and a phone's width: the page never scrolls
sideways, no plot label is cut, a figure that leaves a model out says which and why, and a
one-sided "≥ x" interval is explained under its table.

The study is the hard case for the layout: nine models with long display names, two questions,
ties and "both bad" votes, one model that never loses (so its rating is unbounded above and the
ratings figure leaves it out) and seconds per image for four models only.

Screenshots go to ``$T2I_ARENA_REPORT_SCREENS`` (default ``artifacts/report/`` in the repository,
ignored by git); ``T2I_ARENA_REPORT_SCREENS=docs/img/report`` refreshes the pictures that
docs/statistics.md shows.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest
from PIL import Image
from servers import BROWSER

from analysis.report import StudyAnalysis, analyze, write_report
from analysis.simulate import simulate_comparisons

pytestmark = BROWSER

ROOT = Path(__file__).resolve().parents[2]
SCREENS = Path(os.environ.get("T2I_ARENA_REPORT_SCREENS", ROOT / "artifacts" / "report"))
SIZES = {"laptop": (1280, 800), "phone": (390, 844)}

#: Display names as long as real cards' (models/cards/*.toml) get.
MODELS = {
    "sdxl_base_50": "Stable Diffusion XL Base 1.0 (50 steps, Euler)",
    "sdxl_turbo_1": "SDXL Turbo (1 step, adversarial diffusion distillation)",
    "sdxl_turbo_4": "SDXL Turbo (4 steps, adversarial diffusion distillation)",
    "sdxl_lightning_4": "SDXL Lightning (4 steps, progressive distillation)",
    "lcm_sdxl_4": "Latent Consistency Model LoRA on SDXL (4 steps)",
    "sd15_50": "Stable Diffusion 1.5 (50 steps, DPM++ 2M Karras)",
    "pixart_sigma": "PixArt-Σ XL 2 1024-MS (20 steps)",
    "playground_v25": "Playground v2.5 1024px Aesthetic (50 steps)",
    "flux_schnell": "FLUX.1 Schnell (4 steps, guidance-distilled, 1024 px)",
}
UNBEATEN = "flux_schnell"
LATENCY_MS = {
    "sdxl_base_50": 6200.0,
    "sdxl_turbo_1": 110.0,
    "sdxl_turbo_4": 400.0,
    "sd15_50": 3100.0,
}


def realistic_votes(seed: int = 7) -> pd.DataFrame:
    """Simulated votes in which :data:`UNBEATEN` never loses nor ties (separation)."""
    theta = [0.8, 0.2, 0.5, 0.4, 0.0, -0.6, 0.3, 0.6, 1.5]
    df = simulate_comparisons(
        theta,
        models=list(MODELS),
        n_raters=30,
        votes_per_rater=40,
        tie_nu=0.4,
        both_bad=0.05,
        rater_sd=0.3,
        questions=("quality", "prompt_alignment"),
        categories=("people", "animals", "text"),
        seed=seed,
    )
    df["outcome"] = df["outcome"].astype(str)
    # A tie links two models both ways (Davidson), so the unbeaten model must not tie either.
    decisive = df["outcome"].isin(["a", "b", "tie"])
    df.loc[decisive & (df["model_a"] == UNBEATEN), "outcome"] = "a"
    df.loc[decisive & (df["model_b"] == UNBEATEN), "outcome"] = "b"
    return df


def realistic_analysis() -> StudyAnalysis:
    return analyze(
        realistic_votes(),
        n_boot=60,
        seed=1,
        elo_orders=5,
        display_names=MODELS,
        latency_ms=LATENCY_MS,
    )


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    a = realistic_analysis()
    assert a.questions["quality"].separated  # the case this module is about
    out = tmp_path_factory.mktemp("report")
    return write_report(a, out, title="SDXL Turbo against its teacher").html


def _open(browser, report: Path, size: str):
    width, height = SIZES[size]
    page = browser.new_page(viewport={"width": width, "height": height})
    page.goto(report.as_uri())
    # Every figure container has been drawn by plotly (it adds .js-plotly-plot and an SVG).
    page.wait_for_function(
        "[...document.querySelectorAll('div.figure')].every(d => d.querySelector('svg.main-svg'))",
        timeout=60_000,
    )
    return page


#: Text of plotly figures that must lie inside the figure's SVG: tick labels, point labels,
#: titles and legend entries. Returns one entry per piece sticking out.
CUT_LABELS = """() => {
  const out = [];
  for (const fig of document.querySelectorAll('.js-plotly-plot')) {
    const box = fig.querySelector('svg.main-svg').getBoundingClientRect();
    const texts = fig.querySelectorAll(
      '.xtick text, .ytick text, .textpoint text, .gtitle, .xtitle, .ytitle, .legendtext');
    for (const t of texts) {
      const r = t.getBoundingClientRect();
      if (r.width === 0) continue;
      if (r.left < box.left - 1 || r.right > box.right + 1 ||
          r.top < box.top - 1 || r.bottom > box.bottom + 1)
        out.push(`${fig.id}: ${t.textContent}`);
    }
  }
  return out;
}"""


@pytest.mark.parametrize("size", list(SIZES))
def test_no_sideways_scroll_and_no_cut_label(chromium, report, size) -> None:
    page = _open(chromium, report, size)
    try:
        n_figures = page.locator("div.figure").count()
        assert n_figures >= 9  # ratings, differences and speed for each of the three
        assert page.evaluate(CUT_LABELS) == []
        assert page.evaluate("document.documentElement.scrollWidth") <= SIZES[size][0]
        wide = page.evaluate(
            "[...document.querySelectorAll('.scroll')]"
            ".filter(d => d.scrollWidth > d.clientWidth).map(d => d.firstChild.className)"
        )
        if size == "laptop":  # on a phone a table may scroll inside its wrapper, not here
            assert wide == []
        _screenshots(page, size)
    finally:
        page.close()


def test_left_out_models_and_one_sided_intervals_are_explained(chromium, report) -> None:
    page = _open(chromium, report, "laptop")
    try:
        unbeaten = MODELS[UNBEATEN]
        section = page.locator("#q0")  # "all questions"
        ratings = section.locator("#ratings0")
        shown = ratings.locator(".ytick text").all_text_contents()
        assert len(shown) == len(MODELS) - 1 and not any("FLUX" in t for t in shown)
        below = ratings.locator("xpath=following-sibling::p[1]").inner_text()
        assert below.startswith("Not shown: ") and unbeaten in below
        assert "never lost, so its rating has no upper bound" in below
        speed = section.locator("#latency0").locator("xpath=following-sibling::p[1]").inner_text()
        assert "Playground v2.5" in speed and "no time per image recorded" in speed
        board = section.locator(".scroll:has(table.leaderboard)")
        assert "≥ " in board.inner_text()
        note = board.locator("xpath=following-sibling::p[1]").inner_text()
        assert "≥ " in note and "one-sided" in note and "never lost" in note
        assert "pairwise_all.csv" in section.inner_text()  # the columns left to the CSV
    finally:
        page.close()


def _screenshots(page, size: str) -> None:
    """Viewport-sized pictures of the first question: its leaderboard, ratings figure and
    head-to-head table, saved with a 64-colour palette to stay small."""
    SCREENS.mkdir(parents=True, exist_ok=True)
    shots = (("leaderboard", "#q0 h2"), ("ratings", "#ratings0"), ("pairs", "#q0 table.pairs"))
    for name, selector in shots:
        page.evaluate(f"document.querySelector('{selector}').scrollIntoView()")
        path = SCREENS / f"{size}-{name}.png"
        page.screenshot(path=str(path))
        Image.open(path).convert("RGB").quantize(colors=64).save(path, optimize=True)
