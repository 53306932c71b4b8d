"""The report page as a reader sees it, in Chromium: no sideways scrolling on a laptop or a
phone, plot labels inside their figures, and every left-out model and one-sided interval
explained where it appears."""

from __future__ import annotations

import numpy as np
import pytest

from analysis.report import analyze, write_report
from analysis.simulate import simulate_comparisons

MODELS = [f"model-{k}" for k in range(8)]
NAMES = {
    m: f"Stable Diffusion XL Base 1.0 ({10 * k + 1} steps, Euler) {k}" for k, m in enumerate(MODELS)
}
TOP = "model-7"


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    df = simulate_comparisons(
        np.linspace(-1, 1, len(MODELS)),
        models=MODELS,
        n_raters=30,
        votes_per_rater=30,
        rater_sd=0.3,
        tie_nu=0.3,
        both_bad=0.05,
        questions=("quality", "alignment"),
        seed=4,
    )
    df["outcome"] = df["outcome"].astype(str)
    # In "quality" the top model wins every vote it is in: its rating has no upper bound.
    quality = df["question"] == "quality"
    df.loc[quality & (df["model_a"] == TOP), "outcome"] = "a"
    df.loc[quality & (df["model_b"] == TOP), "outcome"] = "b"
    a = analyze(
        df,
        n_boot=60,
        elo_orders=10,
        display_names=NAMES,
        latency_ms={m: 100.0 * (k + 1) for k, m in enumerate(MODELS[:5])},
    )
    assert a.questions["quality"].separated
    return write_report(a, tmp_path_factory.mktemp("report"), title="Long names").html


LABELS_OUTSIDE = """() => [...document.querySelectorAll('.figure')].flatMap(fig => {
    const box = fig.getBoundingClientRect();
    return [...fig.querySelectorAll('.ytick text, .xtick text, .gtitle, .xtitle, .ytitle')]
        .map(t => [t.textContent, t.getBoundingClientRect()])
        .filter(([, r]) => r.width > 0 && (r.left < box.left - 1 || r.right > box.right + 1))
        .map(([text]) => fig.id + ': ' + text);
})"""


@pytest.mark.parametrize(("width", "height"), [(1280, 800), (390, 844)])
def test_the_page_never_scrolls_sideways_and_labels_fit(chromium, report, width, height):
    page = chromium.new_page(viewport={"width": width, "height": height})
    page.goto(report.as_uri())
    page.wait_for_function("document.querySelectorAll('.figure .main-svg').length > 5")
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    if width >= 1280:  # on a laptop every table fits without its own scroll bar
        wide = page.evaluate(
            "[...document.querySelectorAll('.wide')].filter(w => w.scrollWidth > w.clientWidth)"
            ".map(w => w.firstElementChild.className)"
        )
        assert wide == []
        assert page.evaluate(LABELS_OUTSIDE) == []
    page.close()


def test_left_out_models_and_one_sided_intervals_are_explained(report):
    html = report.read_text()
    top = NAMES[TOP]
    assert f"Not shown: {top} (never lost, so its rating has no upper bound)" in html
    for m in MODELS[5:]:
        assert f"{NAMES[m]} (no seconds per image recorded)" in html
    assert "≥ " in html
    assert "≥ x: the interval has no upper end" in html
