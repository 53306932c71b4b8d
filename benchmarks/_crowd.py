"""The scripted crowd of ``benchmarks/crowd_quality.py``: its study and its raters.

The study: the demo's five toy cards on the toy grammar's prompts, with gold and repeat
trials. The raters vote through the rater API, interleaved, until every one has finished:

- **careful** raters notice a plain mismatch (a spoiled copy, or an image of another prompt:
  the gold trials) and pick the other image; otherwise they fetch both images, score each with
  the toy world's automatic judge (:mod:`models.toy.judge`) against the trial's prompt, add
  their own perception noise and pick the higher one; 3% of their answers are lapses at
  random. They take about 1.5 to 6 s per answer;
- a **left-clicker** always picks the left image, at a human pace;
- a **random clicker** picks a side at random, at a human pace;
- a **too-fast** rater picks at random in about 0.3 s.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np
from PIL import Image

from arena.choices import LEFT, RIGHT, SIDES
from arena.demo import DEMO_STUDY
from arena.study import load_study
from models.toy.judge import judge

ROOT = Path(__file__).resolve().parents[1]
PROMPTS = ROOT / "data" / "prompts" / "toy.tsv"
#: The demo's models (the SDXL Turbo question in miniature), its 50-step teacher first: the
#: crowd study can then share the demo's image set.
MODELS = tuple(load_study(DEMO_STUDY).models)
CARELESS = ("left-clicker", "random-clicker", "too-fast")
NOISE = 0.1  # sd of a careful rater's perceived judge score
LAPSE = 0.03  # share of a careful rater's answers given at random


def write_study(
    folder: Path, quota: int, prompts: int, gold_rate: float, repeat_rate: float,
    images: Path | None = None,
) -> Path:  # fmt: skip
    """The crowd study's ``study.toml`` in ``folder`` (its database lives there, and its images
    too unless ``images`` names another image set)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "study.toml"
    path.write_text(
        f"""name = "crowd"
title = "Scripted crowd"
models = {json.dumps(list(MODELS))}
seeds = [0, 1]
quota = {quota}
seed = 0
gold_rate = {gold_rate}
repeat_rate = {repeat_rate}
completion_code = "CROWD-DONE"
images = {json.dumps(str(images or folder / "images"))}

[prompts]
file = {json.dumps(str(PROMPTS))}
limit = {prompts}

[[questions]]
id = "quality"
text = "Which image is of higher quality?"
gold = "spoiled"

[[questions]]
id = "alignment"
text = "Which image better matches the prompt?"
gold = "other-prompt"
""",
        encoding="utf-8",
    )
    return path


@dataclass
class Rater:
    """One scripted rater: how it answers and how fast."""

    name: str
    choose: Callable[[Rater, dict], str]
    pace_ms: tuple[float, float]  # (median, log-sd) of its decision times
    rng: np.random.Generator
    http: httpx.Client
    state: dict | None = None

    def post(self, path: str, body: dict) -> dict:
        got = self.http.post(f"api/{path}", json=body)
        if got.status_code != 200:
            raise RuntimeError(f"{self.name}: {path} answered {got.status_code}: {got.text}")
        return got.json()

    def start(self) -> None:
        self.state = self.post("start", {"params": {"rater": self.name}, "secret": None})
        self.secret = self.state["secret"]

    def step(self) -> None:
        """Answer the trial on screen."""
        trial = self.state["trial"]
        median, sd = self.pace_ms
        body = {
            "rater": self.name,
            "secret": self.secret,
            "token": trial["token"],
            "choice": self.choose(self, trial),
            "decision_ms": float(min(median * np.exp(self.rng.normal(0, sd)), 60_000)),
        }
        self.state = self.post("vote", body)

    @property
    def done(self) -> bool:
        return bool(self.state and self.state["done"])


class Eyes:
    """What a careful rater sees: the judge's score of an image against the trial's prompt,
    and whether the image is a plain mismatch (a spoiled copy, or an image of another prompt:
    the gold trials, which any attentive person answers right)."""

    def __init__(self, http: httpx.Client, image_dir: Path) -> None:
        self.http = http
        manifest = (image_dir / "manifest.jsonl").read_text(encoding="utf-8").splitlines()
        self.prompt_of = {e["sha256"]: e["prompt"] for e in map(json.loads, manifest)}
        self.scores: dict[tuple[str, str], float] = {}

    def mismatch(self, url: str, prompt: str) -> bool:
        """True for a spoiled copy (in no manifest entry) or another prompt's image."""
        return self.prompt_of.get(url.rsplit("/", 1)[-1]) != prompt

    def score(self, url: str, prompt: str) -> float:
        if (url, prompt) not in self.scores:
            got = self.http.get(url)  # the image as the page shows it
            got.raise_for_status()
            image = Image.open(io.BytesIO(got.content)).convert("RGB")
            self.scores[(url, prompt)] = judge(image, prompt).score
        return self.scores[(url, prompt)]


def careful(eyes: Eyes) -> Callable[[Rater, dict], str]:
    def choose(rater: Rater, trial: dict) -> str:
        if rater.rng.random() < LAPSE:
            return str(rater.rng.choice(SIDES))
        urls = trial["left"]["url"], trial["right"]["url"]
        wrong = [eyes.mismatch(u, trial["prompt"]) for u in urls]
        if wrong[0] != wrong[1]:
            return RIGHT if wrong[0] else LEFT
        seen = [eyes.score(u, trial["prompt"]) + rater.rng.normal(0, NOISE) for u in urls]
        return LEFT if seen[0] > seen[1] else RIGHT

    return choose


def _left(rater: Rater, trial: dict) -> str:
    return LEFT


def _random(rater: Rater, trial: dict) -> str:
    return str(rater.rng.choice(SIDES))


def crowd(base: str, image_dir: Path, n_careful: int, seed: int) -> list[Rater]:
    """The raters, each with its own HTTP connection and generator."""
    eyes = Eyes(httpx.Client(base_url=base, timeout=30), image_dir)
    kinds: list[tuple[str, Callable, tuple[float, float]]] = [
        (f"careful-{i:02d}", careful(eyes), (2800.0, 0.45)) for i in range(n_careful)
    ]
    kinds += [
        ("left-clicker", _left, (2200.0, 0.4)),
        ("random-clicker", _random, (2500.0, 0.4)),
        ("too-fast", _random, (320.0, 0.25)),
    ]
    return [
        Rater(name, choose, pace, np.random.default_rng([seed, i]), httpx.Client(base_url=base))
        for i, (name, choose, pace) in enumerate(kinds)
    ]


def vote_all(raters: list[Rater], seed: int) -> int:
    """Interleave the raters' votes (each step a random unfinished rater answers) to the end."""
    rng = np.random.default_rng(seed)
    for r in raters:
        r.start()
    votes = 0
    active = [r for r in raters if not r.done]
    while active:
        rater = active[int(rng.integers(len(active)))]
        rater.step()
        votes += 1
        active = [r for r in active if not r.done]
    return votes
