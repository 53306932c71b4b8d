"""The SDXL Turbo question in miniature: the README's demo, rated by scripted judges.

``arena demo`` generates the embedded demo study (the five shipped toy cards on prompts of the
toy grammar) and serves it as a real server process; scripted raters vote through
the rater API (as the page does), on both of the study's questions, for the image the automatic judge scores
higher (with perception noise and the odd lapse); ``arena report --json`` must then rank the
models as the judge does and separate the 1-step teacher from the rest.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from servers import RaterClient

pytest.importorskip("torch")

from arena.demo import DEMO_STUDY  # noqa: E402
from models.toy.judge import judge  # noqa: E402
from models.toy.nets import CARD_SETTINGS  # noqa: E402

MODELS = tuple(CARD_SETTINGS)
WEAK = "toy-base-1step"
RATERS = 32  # x the demo's quota of trials each
NOISE, LAPSE = 0.1, 0.05  # sd of a rater's perceived score; share of random votes
CLOSE = 0.1  # judge means closer than this may come out in either order


@pytest.fixture(scope="module")
def demo(demo_workdir: Path, launch_arena) -> Iterator[tuple[str, Path]]:
    """``arena demo --workdir DIR`` running on the session's demo images: (its base URL, DIR)."""
    with launch_arena(["demo", "--workdir", str(demo_workdir)]) as base:
        yield base, demo_workdir


def judged_images(image_dir: Path) -> dict[str, tuple[str, float]]:
    """sha256 -> (model, judge score) for every image of an image set."""
    out = {}
    for line in (image_dir / "manifest.jsonl").read_text().splitlines():
        entry = json.loads(line)
        image = Image.open(image_dir / entry["path"])
        out[entry["sha256"]] = (entry["model"], judge(image, entry["prompt"]).score)
    return out


def vote_as_judges(base: str, images: dict[str, tuple[str, float]]) -> int:
    """Every scripted rater runs the demo to its end; returns the number of votes cast."""
    rng = np.random.default_rng(0)
    votes = 0
    for r in range(RATERS):
        page = RaterClient(base)
        got = page.start(f"judge-{r}")
        while not got["done"]:
            shas = [got["trial"][side]["url"].rsplit("/", 1)[1] for side in ("left", "right")]
            assert len(shas) == 2, got["html"]
            left, right = (images[s][1] + rng.normal(0, NOISE) for s in shas)
            if rng.random() < LAPSE:
                choice = str(rng.choice(["left", "right"]))
            else:
                choice = "left" if left > right else "right"
            got = page.vote(choice, float(rng.uniform(800, 3000)))
            votes += 1
    return votes


def test_judge_driven_raters_rank_the_demo_models_in_the_judges_order(demo, arena_cli) -> None:
    base, workdir = demo
    images = judged_images(workdir / "images")
    by_model: dict[str, list[float]] = {}
    for model, score in images.values():
        by_model.setdefault(model, []).append(score)
    assert set(by_model) == set(MODELS)
    judge_mean = {m: float(np.mean(v)) for m, v in by_model.items()}
    assert min(judge_mean, key=judge_mean.get) == WEAK, judge_mean

    votes = vote_as_judges(base, images)
    report = json.loads(
        arena_cli(
            "report",
            "--study",
            str(DEMO_STUDY),
            "--database",
            f"sqlite:///{workdir / 'arena.db'}",
            "--out",
            str(workdir / "report"),
            "--bootstrap",
            "300",
            "--json",
        ).stdout
    )
    # The report opens with the study's declared comparisons, one per question: the distilled
    # 1-step model beats the 1-step teacher the judge ranks last.
    assert next(iter(report)) == "comparisons"
    declared = {(c["model_a"], c["model_b"], c["question"]): c for c in report["comparisons"]}
    assert len(declared) == 6, list(declared)
    for question in ("quality", "alignment"):
        row = declared[("toy-turbo-1step", WEAK, question)]
        assert row["verdict"] == "a better", row["sentence"]
        assert row["sentence"].startswith(f"{question}: ")
    questions = report["questions"]
    assert questions["quality"]["n_votes"] + questions["alignment"]["n_votes"] == votes
    # "all" is the mean over the questions, as the SDXL Turbo paper reports it.
    for question in ("quality", "alignment", "all"):
        q = questions[question]
        board = {row["model"]: row for row in q["leaderboard"]}
        assert set(board) == set(MODELS)
        rating = {m: board[m]["rating"] for m in MODELS}
        # The report orders every pair of models the judge tells apart as the judge does ...
        for a in MODELS:
            for b in MODELS:
                if judge_mean[a] > judge_mean[b] + CLOSE:
                    assert rating[a] > rating[b], (question, a, b, judge_mean, rating)
        # ... and the 1-step teacher comes last, its interval clear of every other model's.
        assert q["leaderboard"][-1]["model"] == WEAK, (question, q["leaderboard"])
        for m in MODELS:
            if m != WEAK:
                assert board[WEAK]["ci_high"] < board[m]["ci_low"], (question, m, board[WEAK])
