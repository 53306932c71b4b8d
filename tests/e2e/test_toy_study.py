"""The SDXL Turbo question in miniature, through the launched arena, with the shipped toy models.

``arena generate`` draws a small study with the five toy cards; ``arena serve`` runs as a real
server process; scripted raters vote through gradio_client for the image the automatic judge
scores higher (with perception noise and the odd lapse); ``arena report --json`` must then rank
the models as the judge does and separate the 1-step teacher from the rest.
"""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
from gradio_client import Client
from PIL import Image

pytest.importorskip("torch")

from models.toy.grammar import benchmark_scenes  # noqa: E402
from models.toy.judge import judge  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
ARENA = [sys.executable, "-m", "arena.cli"]
MODELS = (
    "toy-base-50step",
    "toy-base-4step",
    "toy-base-1step",
    "toy-turbo-1step",
    "toy-turbo-4step",
)
WEAK = "toy-base-1step"
RATERS, QUOTA = 8, 40
NOISE, LAPSE = 0.1, 0.05  # sd of a rater's perceived score; share of random votes
CLOSE = 0.1  # judge means closer than this may come out in either order


def arena(*args: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([*ARENA, *args], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A generated study: 12 prompts of the grammar x 1 seed x the five toy cards."""
    folder = tmp_path_factory.mktemp("toy-study")
    rows = ["Prompt\tCategory"] + [
        f"{s.prompt}\t{'one' if len(s.objects) == 1 else 'two'} objects"
        for s in benchmark_scenes(12, seed=77)
    ]
    (folder / "prompts.tsv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    path = folder / "study.toml"
    path.write_text(
        f'name = "toy"\ntitle = "toy study"\nmodels = {json.dumps(list(MODELS))}\n'
        f"seeds = [0]\nquota = {QUOTA}\nseed = 3\n"
        '[prompts]\nfile = "prompts.tsv"\n'
        '[[questions]]\nid = "alignment"\ntext = "Which image better matches the prompt?"\n',
        encoding="utf-8",
    )
    generated = arena("generate", "--study", str(path), "--batch-size", "12")
    assert "60 images generated" in generated.stdout
    return path


@pytest.fixture(scope="module")
def served(study: Path) -> Iterator[str]:
    port = free_port()
    proc = subprocess.Popen(
        [*ARENA, "serve", "--study", str(study), "--port", str(port)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 90
        while True:
            assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
            try:
                if httpx.get(base, timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "arena serve did not come up"
            time.sleep(0.3)
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def judged_images(study: Path) -> dict[str, tuple[str, float]]:
    """sha256 -> (model, judge score) for every image of the study's image set."""
    folder = study.parent / "images"
    out = {}
    for line in (folder / "manifest.jsonl").read_text().splitlines():
        entry = json.loads(line)
        image = Image.open(folder / entry["path"])
        out[entry["sha256"]] = (entry["model"], judge(image, entry["prompt"]).score)
    return out


def test_judge_driven_raters_rank_the_models_in_the_judges_order(served, study: Path) -> None:
    images = judged_images(study)
    by_model: dict[str, list[float]] = {}
    for model, score in images.values():
        by_model.setdefault(model, []).append(score)
    judge_mean = {m: float(np.mean(v)) for m, v in by_model.items()}
    assert min(judge_mean, key=judge_mean.get) == WEAK, judge_mean

    rng = np.random.default_rng(0)
    page = Client(served, verbose=False, download_files=False)
    for r in range(RATERS):
        rater, token, html, progress, done = page.predict(f"judge-{r}", api_name="/start")
        while not done:
            shas = re.findall(r"images/([0-9a-f]{64})", html)
            assert len(shas) == 2, html
            left, right = (images[s][1] + rng.normal(0, NOISE) for s in shas)
            if rng.random() < LAPSE:
                choice = str(rng.choice(["left", "right"]))
            else:
                choice = (
                    "left" if left > right or (left == right and rng.random() < 0.5) else "right"
                )
            rater, token, html, progress, done = page.predict(
                rater, token, choice, float(rng.uniform(800, 3000)), api_name="/vote"
            )

    report = json.loads(
        arena(
            "report",
            "--study",
            str(study),
            "--out",
            str(study.parent / "report"),
            "--bootstrap",
            "300",
            "--json",
        ).stdout
    )
    q = report["questions"]["alignment"]
    assert q["n_votes"] == RATERS * QUOTA
    board = {row["model"]: row for row in q["leaderboard"]}
    assert set(board) == set(MODELS)
    rating = {m: board[m]["rating"] for m in MODELS}
    # The report orders every pair of models the judge tells apart as the judge does ...
    for a in MODELS:
        for b in MODELS:
            if judge_mean[a] > judge_mean[b] + CLOSE:
                assert rating[a] > rating[b], (a, b, judge_mean, rating)
    # ... and the 1-step teacher comes last, its interval clear of every other model's.
    assert q["leaderboard"][-1]["model"] == WEAK
    for m in MODELS:
        if m != WEAK:
            assert board[WEAK]["ci_high"] < board[m]["ci_low"], (m, board[WEAK], board[m])
