"""The adaptive scheduler through the real server: does a scripted crowd get what the simulator
promised (benchmarks/scheduling.py)?

Builds a study of the simulator's 8 models (``--prompts`` prompts, one seed, small distinct
PNGs), with the declared comparisons of its second scenario (model 0 against each other model)
and ``[scheduler] rule = "adaptive"``; serves it with ``arena serve`` (a real server process:
its refits run in the server's background thread, racing the votes as they would live), and lets
raters vote through the rater API one after another (``--quota`` votes each, the simulator's
taste sd), each picking by the simulator's strengths plus their own taste. The crowd checks the
stopping criterion on its own votes every ``--check`` votes, as the simulator does, and stops;
then ``arena export`` gives the stored pair probabilities.

Printed per study: votes until every declared interval was narrower than ``--width`` Elo, their
coverage, and the share of votes on the declared pairs; then the simulator's figures for the
same settings (``--sim-runs`` studies) and the difference in Monte Carlo standard errors.

    .venv/bin/python -P benchmarks/scheduling_server.py
    .venv/bin/python -P benchmarks/scheduling_server.py --studies 8 --sim-runs 200
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from arena.scheduler.fit import contrasts, pair_design  # noqa: E402
from models.manifest import ManifestEntry, sha256_file, write_manifest  # noqa: E402


def _sibling(name: str):
    """A benchmark script beside this one (``benchmarks/`` is no package)."""
    spec = importlib.util.spec_from_file_location(
        f"bench_{name}", Path(__file__).with_name(f"{name}.py")
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


sim = _sibling("scheduling")
crowd_quality = _sibling("crowd_quality")
MODELS = [f"m{i}" for i in range(8)]
DECLARED = [(0, j) for j in range(1, 8)]


def write_study(folder: Path, n_prompts: int, quota: int, floor: float, refit_every: int) -> Path:
    """The study folder: prompts, images (manifest) and study.toml."""
    images, entries = folder / "images", []
    for m, model in enumerate(MODELS):
        (images / model).mkdir(parents=True, exist_ok=True)
        for p in range(n_prompts):
            rel = f"{model}/p{p:03d}.png"
            Image.new("RGB", (8, 8), (30 * m, p % 256, 7)).save(images / rel)
            entries.append(ManifestEntry(model, f"p{p:03d}", f"prompt {p}", 0, rel,
                                         sha256_file(images / rel), 8, 8, {}, 10.0))  # fmt: skip
    write_manifest(images, entries)
    (folder / "prompts.csv").write_text(
        "id,prompt\n" + "".join(f"p{p:03d},prompt {p}\n" for p in range(n_prompts))
    )
    declared = "".join(f'[[comparisons]]\na = "{MODELS[a]}"\nb = "{MODELS[b]}"\n'
                       for a, b in DECLARED)  # fmt: skip
    (folder / "study.toml").write_text(
        f'name = "sched"\nmodels = {json.dumps(MODELS)}\nseeds = [0]\nquota = {quota}\n'
        f'[prompts]\nfile = "prompts.csv"\n{declared}'
        f'[scheduler]\nrule = "adaptive"\nfloor = {floor}\nrefit_every = {refit_every}\n'
    )
    return folder / "study.toml"


def one_study(args: argparse.Namespace, world, seed: int, folder: Path) -> dict:
    """One study through a server on a fresh database; its figures."""
    study = write_study(folder, args.prompts, args.quota, args.floor, args.refit_every)
    model_of = {
        e["sha256"]: e["model"]
        for e in map(json.loads, (folder / "images" / "manifest.jsonl").read_text().splitlines())
    }
    rng = np.random.default_rng([args.seed, seed])
    k = len(MODELS)
    pairs, _ = pair_design(k)
    index = {(int(a), int(b)): e for e, (a, b) in enumerate(pairs)}
    rows = contrasts(k, DECLARED)
    truth, _ = world.truth(rows)
    pair, y, rater = [], [], []
    stopped, covered = None, float("nan")
    with (
        crowd_quality.Server(study, crowd_quality.free_port()) as server,
        httpx.Client(base_url=server.base, timeout=30) as http,
    ):
        r = 0
        while stopped is None and len(pair) < args.max_votes:
            taste = rng.normal(0, world.taste, k)
            state = http.post("api/start", json={"params": {"rater": f"r{r}"}, "secret": None,
                                                 "consent": True}).json()  # fmt: skip
            secret = state.get("secret")
            while state.get("trial") and stopped is None:
                trial = state["trial"]
                a, b = (
                    MODELS.index(model_of[trial[s]["url"].split("/")[-1]])
                    for s in ("left", "right")
                )
                s = world.strengths + taste
                left_wins = rng.random() < 1 / (1 + np.exp(s[b] - s[a]))
                lo, hi = min(a, b), max(a, b)
                pair.append(index[(lo, hi)])
                y.append(float(left_wins == (a == lo)))
                rater.append(r)
                body = {"rater": f"r{r}", "secret": secret, "token": trial["token"],
                        "choice": "left" if left_wins else "right", "decision_ms": 900.0}  # fmt: skip
                state = http.post("api/vote", json=body).json()
                n = len(pair)
                if n % args.check == 0:
                    p_, y_, r_ = (np.array(v) for v in (pair, y, rater))
                    if np.bincount(p_, minlength=len(pairs)).min() >= 2:
                        d, se = sim.robust_intervals(p_, y_, r_, k, rows)
                        if (2 * sim.Z95 * se * sim.ELO).max() < args.width:
                            stopped = n
                            covered = float(np.mean(np.abs(d - truth) <= sim.Z95 * se))
            r += 1
    out = folder / "votes.csv"
    subprocess.run([*crowd_quality.ARENA, "export", "--study", str(study), "--out", str(out)],
                   cwd=ROOT, check=True, capture_output=True)  # fmt: skip
    votes = pd.read_csv(out)
    on_declared = np.isin(np.array(pair), [index[t] for t in DECLARED]).mean()
    return {"votes": stopped, "coverage": covered, "declared_share": float(on_declared),
            "min_probability": float(votes["pair_probability"].min()), "stored": len(votes)}  # fmt: skip


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--studies", type=int, default=4, help="studies through the server")
    p.add_argument("--sim-runs", type=int, default=100, help="simulated studies to compare with")
    p.add_argument("--prompts", type=int, default=60)
    p.add_argument("--quota", type=int, default=20)
    p.add_argument("--width", type=float, default=150.0)
    p.add_argument("--taste", type=float, default=0.3)
    p.add_argument("--check", type=int, default=25)
    p.add_argument("--floor", type=float, default=0.1)
    p.add_argument("--refit-every", type=int, default=50)
    p.add_argument("--max-votes", type=int, default=6000)
    p.add_argument("--seed", type=int, default=0)
    return p


def main() -> None:
    args = parser().parse_args()
    world = sim.World(np.array(sim.STRENGTHS_ELO) / sim.ELO, args.taste, args.quota)
    print(f"adaptive rule through arena serve: 8 models, model 0 declared against the 7 others, "
          f"stop at 95% intervals < {args.width:g} Elo; {args.studies} studies, seed {args.seed}")  # fmt: skip
    served = []
    for s in range(args.studies):
        with tempfile.TemporaryDirectory() as tmp:
            served.append(one_study(args, world, s, Path(tmp)))
        f = served[-1]
        print(f"  server study {s}: {f['votes']} votes, coverage {100 * f['coverage']:.0f}%, "
              f"{100 * f['declared_share']:.0f}% of votes on declared pairs, smallest stored "
              f"pair probability {f['min_probability']:.4f} ({f['stored']} votes exported)")  # fmt: skip
    rngs = np.random.default_rng([args.seed, 7]).spawn(args.sim_runs)
    runs = [sim.simulate(world, "adaptive", rng, width=args.width, check=args.check,
                         max_votes=args.max_votes, floor=args.floor,
                         refit_every=args.refit_every, targets=DECLARED) for rng in rngs]  # fmt: skip
    sim_votes = np.array([r.votes for r in runs if r.votes is not None], dtype=float)
    got = np.array([f["votes"] for f in served if f["votes"] is not None], dtype=float)
    se = np.sqrt(sim_votes.var(ddof=1) / len(sim_votes) + sim_votes.var(ddof=1) / len(got))
    print(f"  server: mean {got.mean():.0f} votes, coverage "
          f"{100 * np.nanmean([f['coverage'] for f in served]):.1f}%; simulator ({args.sim_runs} "
          f"studies): mean {sim_votes.mean():.0f} votes (sd {sim_votes.std(ddof=1):.0f}), coverage "
          f"{100 * np.nanmean([r.covered for r in runs]):.1f}%; difference "
          f"{(got.mean() - sim_votes.mean()) / se:+.1f} Monte Carlo se")  # fmt: skip


if __name__ == "__main__":
    main()
