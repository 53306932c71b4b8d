"""A scripted crowd through the real server: are exactly the careless raters flagged?

    .venv/bin/python benchmarks/crowd_quality.py          # 5 crowds of 16 careful + 3 careless
    .venv/bin/python benchmarks/crowd_quality.py --careful 30 --quota 80 --crowds 1 --json

Builds a toy study (the demo's five toy cards on its prompts of the toy grammar, with gold and
repeat trials), generates its images with ``arena generate``, serves it with ``arena serve`` (a real
server process) and lets a scripted crowd vote through the rater API, interleaved, until every
rater has finished:

- **careful** raters notice a plain mismatch (a spoiled copy, or an image of another prompt:
  the gold trials) and pick the other image; otherwise they fetch both images, score each with
  the toy world's automatic judge (:mod:`models.toy.judge`) against the trial's prompt, add
  their own perception noise and pick the higher one; 3% of their answers are lapses at
  random. They take about 1.5 to 6 s per answer;
- a **left-clicker** always picks the left image, at a human pace;
- a **random clicker** picks a side at random, at a human pace;
- a **too-fast** rater picks at random in about 0.3 s.

Then ``arena report --json`` and ``arena export`` (as a researcher runs them). Printed: each
rater's quality measures and flags, whether exactly the careless raters were flagged, how close
the ratings with everyone and without the flagged raters come to the judge (:func:`closeness`:
Kendall's tau against the judge's mean score per model, the mean gap between the Bradley–Terry
win probability of each model pair and the judge's own head-to-head share, and the share of the
judge's separation the ratings order the other way), and how close the
scheduler came to its design (cell counts, left/right balance, repeated cells, quotas).
"""

from __future__ import annotations

import argparse
import io
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
from PIL import Image
from scipy import stats

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from arena.demo import DEMO_STUDY  # noqa: E402
from arena.prompts import load_prompts  # noqa: E402
from arena.study import load_study  # noqa: E402
from models.toy.judge import judge  # noqa: E402

ARENA = [sys.executable, "-m", "arena.cli"]
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


def arena(*args: str) -> str:
    """Run ``arena ARGS…``; its standard output (a failure raises with its output)."""
    done = subprocess.run([*ARENA, *args], cwd=ROOT, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"arena {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


class Server:
    """``arena serve --study STUDY`` as a process, stopped on exit."""

    def __init__(self, study: Path, port: int) -> None:
        self.log = tempfile.TemporaryFile("w+")  # noqa: SIM115 (closed in __exit__)
        cmd = [*ARENA, "serve", "--study", str(study), "--port", str(port)]
        self.proc = subprocess.Popen(cmd, cwd=ROOT, stdout=self.log, stderr=subprocess.STDOUT)
        self.base = f"http://127.0.0.1:{port}/"

    def __enter__(self) -> Server:
        for _ in range(600):  # up to about a minute on a busy machine
            if self.proc.poll() is not None:
                self.log.seek(0)
                raise RuntimeError(f"arena serve exited:\n{self.log.read()[-3000:]}")
            try:
                if httpx.get(self.base, timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError("arena serve did not answer within a minute")

    def __exit__(self, *exc: object) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)
        self.log.close()


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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
            return str(rater.rng.choice(["left", "right"]))
        urls = trial["left"]["url"], trial["right"]["url"]
        wrong = [eyes.mismatch(u, trial["prompt"]) for u in urls]
        if wrong[0] != wrong[1]:
            return "right" if wrong[0] else "left"
        seen = [eyes.score(u, trial["prompt"]) + rater.rng.normal(0, NOISE) for u in urls]
        return "left" if seen[0] > seen[1] else "right"

    return choose


def _left(rater: Rater, trial: dict) -> str:
    return "left"


def _random(rater: Rater, trial: dict) -> str:
    return str(rater.rng.choice(["left", "right"]))


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


def judge_truth(
    image_dir: Path, prompts: int
) -> tuple[dict[str, float], dict[tuple[str, str], float]]:
    """The judge's mean score per model of the study, and its head-to-head share per model pair
    (ties half) over the study's (prompt, seed) cells (the image set may hold more)."""
    ids = {p.id for p in load_prompts(PROMPTS, limit=prompts)}
    lines = (image_dir / "manifest.jsonl").read_text(encoding="utf-8").splitlines()
    rows = [e for e in map(json.loads, lines) if e["model"] in MODELS and e["prompt_id"] in ids]
    score: dict[tuple[str, str, int], float] = {}
    for e in rows:
        with Image.open(image_dir / e["path"]) as im:
            score[(e["model"], e["prompt_id"], e["seed"])] = judge(
                im.convert("RGB"), e["prompt"]
            ).score
    frame = pd.Series(score).rename_axis(["model", "prompt", "seed"]).unstack("model")
    means = {m: float(frame[m].mean()) for m in MODELS}
    shares = {}
    for a, b in combinations(MODELS, 2):
        diff = frame[a] - frame[b]
        shares[(a, b)] = float(((diff > 0) + 0.5 * (diff == 0)).mean())
    return means, shares


def closeness(leaderboard: list[dict], means: dict[str, float], shares: dict) -> dict[str, float]:
    """How close ratings come to the judge.

    ``kendall_tau`` of ratings against the judge's mean scores; ``mean_abs_gap``, the mean over
    model pairs of |Bradley–Terry P(a beats b) − the judge's head-to-head share|; and
    ``discordance``, the share of the judge's separation (|share − ½| summed over pairs) on
    pairs the ratings order the other way: 0 when every pair the judge separates is in its
    order, and a pair the judge finds even (two models with nearly equal means) weighs nothing.
    """
    rating = {row["model"]: row["rating"] for row in leaderboard}
    tau = stats.kendalltau([rating[m] for m in MODELS], [means[m] for m in MODELS]).statistic
    gaps, weight, wrong = [], 0.0, 0.0
    for (a, b), share in shares.items():
        gaps.append(abs(1 / (1 + 10 ** ((rating[b] - rating[a]) / 400)) - share))
        weight += abs(share - 0.5)
        wrong += abs(share - 0.5) * ((rating[a] - rating[b]) * (share - 0.5) < 0)
    return {
        "kendall_tau": float(tau),
        "mean_abs_gap": float(np.mean(gaps)),
        "discordance": float(wrong / weight) if weight else 0.0,
    }


def balance(votes: pd.DataFrame, quota: int) -> dict[str, Any]:
    """How close the scheduler came to its design, from the exported votes."""
    rated = votes[votes["kind"] == "2afc"].copy()
    lo = rated[["model_a", "model_b"]].min(axis=1)
    hi = rated[["model_a", "model_b"]].max(axis=1)
    rated["cell"] = rated["prompt"].astype(str) + "|" + lo + "|" + hi + "|" + rated["question"]
    per_cell = rated.groupby("cell").size()
    lo_left = (rated["model_a"] == lo).groupby([lo, hi]).mean()
    per_cell_left = (rated["model_a"] == lo).groupby(rated["cell"]).sum()
    imbalance = (2 * per_cell_left - per_cell).abs()
    per_rater = votes[votes["kind"] != "practice"].groupby("rater").size()
    return {
        "rated_votes": len(rated),
        "cells_served": int(per_cell.size),
        "cell_min": int(per_cell.min()),
        "cell_max": int(per_cell.max()),
        "pair_left_share_min": float(lo_left.min()),
        "pair_left_share_max": float(lo_left.max()),
        "cells_left_right_off_by_more_than_1": int((imbalance > 1).sum()),
        "repeated_cells_per_rater": int(rated.duplicated(["rater", "cell"]).sum()),
        "raters_off_quota": int((per_rater != quota).sum()),
        "kinds": {str(k): int(v) for k, v in votes["kind"].value_counts().items()},
    }


def one_crowd(
    folder: Path, study: Path, image_dir: Path, means: dict, shares: dict, n_careful: int,
    quota: int, seed: int, n_boot: int,
) -> dict[str, Any]:  # fmt: skip
    """One crowd on a fresh database: serve, vote, report, export; its figures."""
    for old in folder.glob("arena.db*"):
        old.unlink()
    with Server(study, free_port()) as server:
        began = time.perf_counter()
        n_votes = vote_all(crowd(server.base, image_dir, n_careful, seed), seed)
        voting_s = time.perf_counter() - began
    report = json.loads(
        arena(
            "report",
            "--study",
            str(study),
            "--json",
            "--bootstrap",
            str(n_boot),
            "--out",
            str(folder / "report"),
        )  # fmt: skip
    )
    csv = folder / "votes.csv"
    arena("export", "--study", str(study), "--out", str(csv))
    flagged = sorted(r["rater"] for r in report["raters"] if r["flags"])
    excluded = report["excluding_flagged"]
    out: dict[str, Any] = {
        "seed": seed,
        "votes": n_votes,
        "voting_s": voting_s,
        "raters": report["raters"],
        "flagged": flagged,
        "exactly_careless_flagged": flagged == sorted(CARELESS),
        "questions": {},
        "balance": balance(pd.read_csv(csv), quota),
    }
    for q in ("quality", "alignment"):
        everyone = closeness(report["questions"][q]["leaderboard"], means, shares)
        without = (
            closeness(excluded["questions"][q]["leaderboard"], means, shares)
            if excluded and q in excluded["questions"]
            else everyone
        )
        out["questions"][q] = {"everyone": everyone, "excluding_flagged": without}
    return out


def run(
    n_careful: int = 16,
    quota: int = 60,
    prompts: int = 24,
    gold_rate: float = 0.15,
    repeat_rate: float = 0.1,
    seed: int = 0,
    crowds: int = 1,
    n_boot: int = 200,
    workdir: Path | None = None,
    images: Path | None = None,
) -> dict[str, Any]:
    """Generate once, then ``crowds`` crowds (seeds ``seed``, ``seed + 1``, …) on fresh
    databases; the figures :func:`main` prints."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(workdir or tmp)
        study = write_study(folder, quota, prompts, gold_rate, repeat_rate, images)
        image_dir = images or folder / "images"
        began = time.perf_counter()
        said = arena("generate", "--study", str(study))
        generated_s = time.perf_counter() - began
        means, shares = judge_truth(image_dir, prompts)
        runs = [
            one_crowd(folder, study, image_dir, means, shares, n_careful, quota, seed + k, n_boot)
            for k in range(crowds)
        ]
    careful_flagged = sum(sum(1 for r in c["flagged"] if r not in CARELESS) for c in runs)
    careless_missed = sum(len(set(CARELESS) - set(c["flagged"])) for c in runs)
    return {
        "careful": n_careful,
        "quota": quota,
        "gold_rate": gold_rate,
        "repeat_rate": repeat_rate,
        "generate_s": generated_s,
        "generated": int(said.split(" images generated")[0].split()[-1]),
        "judge_means": means,
        "crowds": runs,
        "exact_crowds": sum(c["exactly_careless_flagged"] for c in runs),
        "careful_flagged": careful_flagged,
        "careless_missed": careless_missed,
        "closer_without_flagged": sum(
            x["excluding_flagged"]["mean_abs_gap"] < x["everyone"]["mean_abs_gap"]
            for c in runs
            for x in c["questions"].values()
        ),
    }


def _cell(row: dict, key: str, spec: str = ".2f") -> str:
    return "-" if row[key] is None else format(row[key], spec)


def print_crowd(c: dict[str, Any]) -> None:
    print(f"crowd seed {c['seed']}: {c['votes']} votes in {c['voting_s']:.1f} s")
    print(
        f"  {'rater':<16}{'gold':>6}{'repeat':>8}{'left':>6}{'left p':>9}{'ms':>6}{'majority':>9}  flags"
    )
    for row in c["raters"]:
        print(
            f"  {row['rater']:<16}{_cell(row, 'gold_accuracy'):>6}"
            f"{_cell(row, 'repeat_consistency'):>8}{_cell(row, 'left_rate'):>6}"
            f"{_cell(row, 'left_p', '.1e'):>9}{_cell(row, 'median_decision_ms', '.0f'):>6}"
            f"{_cell(row, 'majority_agreement'):>9}  {','.join(row['flags']) or '-'}"
        )
    verdict = "yes" if c["exactly_careless_flagged"] else "NO"
    print(
        f"  flagged: {', '.join(c['flagged']) or 'nobody'}; exactly the careless raters: {verdict}"
    )
    for q, fig in c["questions"].items():
        e, x = fig["everyone"], fig["excluding_flagged"]
        print(
            f"  {q}: everyone -> flagged excluded: Kendall tau {e['kendall_tau']:.2f} -> "
            f"{x['kendall_tau']:.2f}; mean |P_BT - judge| {e['mean_abs_gap']:.3f} -> "
            f"{x['mean_abs_gap']:.3f}; discordance {e['discordance']:.3f} -> {x['discordance']:.3f}"
        )
    b = c["balance"]
    print(
        f"  scheduler: {b['rated_votes']} rated votes over {b['cells_served']} cells, "
        f"{b['cell_min']} to {b['cell_max']} per cell; lower-named model on the left in "
        f"{b['pair_left_share_min']:.1%} to {b['pair_left_share_max']:.1%} of each pair's trials; "
        f"cells off left/right balance by more than 1: {b['cells_left_right_off_by_more_than_1']}; "
        f"repeated cells within a rater: {b['repeated_cells_per_rater']}; raters off quota: "
        f"{b['raters_off_quota']}; trials by kind: {b['kinds']}"
    )


def print_figures(r: dict[str, Any]) -> None:
    print(
        f"{r['careful']} careful + {len(CARELESS)} careless raters, quota {r['quota']}, gold "
        f"rate {r['gold_rate']}, repeat rate {r['repeat_rate']} (images in {r['generate_s']:.0f} s)"
    )
    print("judge's mean score: " + ", ".join(f"{m} {v:.3f}" for m, v in r["judge_means"].items()))
    for c in r["crowds"]:
        print_crowd(c)
    n = len(r["crowds"])
    print(
        f"summary over {n} crowds: exactly the careless raters flagged in {r['exact_crowds']}; "
        f"careful raters flagged {r['careful_flagged']} of {n * r['careful']}; careless raters "
        f"missed {r['careless_missed']} of {n * len(CARELESS)}; ratings closer to the judge "
        f"without the flagged raters in {r['closer_without_flagged']} of {2 * n} questions"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--careful", type=int, default=16, help="careful raters (default 16)")
    parser.add_argument("--quota", type=int, default=60, help="trials per rater (default 60)")
    parser.add_argument("--prompts", type=int, default=24, help="toy prompts (default 24)")
    parser.add_argument("--gold-rate", type=float, default=0.15, help="default 0.15")
    parser.add_argument("--repeat-rate", type=float, default=0.1, help="default 0.1")
    parser.add_argument("--seed", type=int, default=0, help="first crowd's seed (default 0)")
    parser.add_argument("--crowds", type=int, default=5, help="crowds, one seed each (default 5)")
    parser.add_argument("--bootstrap", type=int, default=200, help="report's replicates")
    parser.add_argument("--workdir", type=Path, default=None, help="keep the study here")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    r = run(
        args.careful, args.quota, args.prompts, args.gold_rate, args.repeat_rate, args.seed,
        args.crowds, args.bootstrap, args.workdir,
    )  # fmt: skip
    if args.json:
        print(json.dumps(r, indent=2))
    else:
        print_figures(r)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
