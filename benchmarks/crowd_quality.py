"""A scripted crowd through the real server: are exactly the careless raters flagged?

    .venv/bin/python benchmarks/crowd_quality.py          # 5 crowds of 16 careful + 3 careless
    .venv/bin/python benchmarks/crowd_quality.py --careful 30 --quota 80 --crowds 1 --json

Builds a toy study (the demo's five toy cards on its prompts of the toy grammar, with gold and
repeat trials), generates its images with ``arena generate``, serves it with ``arena serve`` (a real
server process) and lets a scripted crowd vote through the rater API, interleaved, until every
rater has finished: careful raters who vote by the toy judge, a left-clicker, a random clicker
and a too-fast rater (``benchmarks/_crowd.py``).

Then ``arena report --json`` and ``arena export`` (as a researcher runs them). Printed: each
rater's quality measures and flags, whether exactly the careless raters were flagged, how close
the ratings with everyone and without the flagged raters come to the judge (:func:`closeness`:
Kendall's tau against the judge's mean score per model, the mean gap between the Bradley–Terry
win probability of each model pair and the judge's own head-to-head share, and the share of the
judge's separation the ratings order the other way), and how close the
scheduler came to its design (cell counts, left/right balance, repeated cells, quotas); the
figures are computed and printed by ``benchmarks/_crowd_figures.py``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
# The root on the path, and not benchmarks/ (where Python puts a script's own folder), so that
# no benchmark's name can hide a package that the project imports.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [str(ROOT), *(p for p in sys.path if Path(p or ".").resolve() != _HERE)]

from benchmarks._crowd import CARELESS, crowd, vote_all, write_study  # noqa: E402
from benchmarks._crowd_figures import balance, closeness, judge_truth, print_figures  # noqa: E402

__all__ = ["CARELESS", "main", "run"]

ARENA = [sys.executable, "-m", "arena.cli"]


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
