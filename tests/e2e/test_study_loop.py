"""The whole loop through the `arena` command, as a researcher runs it.

generate (tiny diffusers pipelines, offline) -> serve (a real server process) -> raters vote
through the rater API -> report (--json and HTML) -> export -> report from the exported file.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from servers import RaterClient

from arena.study import load_study
from models.cards import load_cards

ROOT = Path(__file__).resolve().parents[2]
MODELS = ("tiny-sdxl-1step", "tiny-sdxl-4step")
PREFERRED = "tiny-sdxl-4step"  # every scripted rater prefers it
QUOTA = 6


def write_study(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "data" / "prompts" / "demo.tsv", folder / "prompts.tsv")
    path = folder / "study.toml"
    path.write_text(
        f"""
name = "loop"
title = "loop test"
models = {list(MODELS)!r}
seeds = [0]
quota = {QUOTA}
completion_code = "LOOP-OK"
[prompts]
file = "prompts.tsv"
limit = 4
[[questions]]
id = "quality"
text = "Which image is of higher quality?"
[[questions]]
id = "alignment"
text = "Which image better matches the prompt?"
"""
    )
    return path


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory, arena_cli) -> Path:
    arena = arena_cli
    study = write_study(tmp_path_factory.mktemp("loop"))
    first = arena("generate", "--study", str(study))
    assert "8 images generated, 0 already present" in first.stdout
    again = arena("generate", "--study", str(study))
    assert "0 images generated, 8 already present" in again.stdout
    return study


@pytest.fixture(scope="module")
def served(generated: Path, serve_study) -> Iterator[tuple[str, Path]]:
    with serve_study(generated) as base:
        yield base, generated


def manifest_models(study: Path) -> dict[str, str]:
    lines = (study.parent / "images" / "manifest.jsonl").read_text().splitlines()
    return {e["sha256"]: e["model"] for e in map(json.loads, lines)}


def shown_models(answer: dict, by_sha: dict[str, str]) -> tuple[str, str]:
    """The models of the pair on screen, from the image URLs the page shows (by hash)."""
    shas = [answer["trial"][side]["url"].rsplit("/", 1)[1] for side in ("left", "right")]
    for sha in shas:
        assert f'src="images/{sha}"' in answer["html"]
    return by_sha[shas[0]], by_sha[shas[1]]


def test_raters_vote_and_the_report_ranks_what_they_preferred(
    served, tmp_path: Path, arena_cli
) -> None:
    arena = arena_cli
    base, study = served
    by_sha = manifest_models(study)
    raters = ["alice", "bob", "carol"]
    for i, name in enumerate(raters):
        page = RaterClient(base)
        got = page.start(name)
        for n in range(QUOTA):
            if n == QUOTA // 2:  # a refresh mid-session: the URL's id and the kept secret
                token, page = page.token, RaterClient(base, secret=page.secret)
                got = page.start(name)
                assert page.token == token and got["answered"] == n
            left, right = shown_models(got, by_sha)
            assert {left, right} == set(MODELS)
            choice = "left" if left == PREFERRED else "right"
            got = page.vote(choice, 900.0 + 10 * i + n)
        assert got["done"] and "LOOP-OK" in got["html"]
        assert (got["answered"], got["total"]) == (QUOTA, QUOTA)

    db = sqlite3.connect(study.parent / "arena.db")
    assert db.execute("select count(*) from votes").fetchone()[0] == QUOTA * len(raters)
    assert db.execute("select count(*) from trials").fetchone()[0] == QUOTA * len(raters)
    db.close()

    out = tmp_path / "report"
    result = arena(
        "report", "--study", str(study), "--out", str(out), "--bootstrap", "200", "--json"
    )
    report = json.loads(result.stdout)
    assert report["settings"]["seed"] == 0
    for question in ("quality", "alignment"):
        q = report["questions"][question]
        board = q["leaderboard"]
        assert board[0]["model"] == PREFERRED
        assert q["n_raters"] == len(raters)
    assert sum(report["questions"][q]["n_votes"] for q in ("quality", "alignment")) == 18
    html = (out / "report.html").read_text()
    assert '<script src="http' not in html
    assert load_cards()[PREFERRED].display_name in html  # the card's name, not its id
    assert list(out.glob("*.csv"))

    table = arena("report", "--study", str(study), "--out", str(out), "--bootstrap", "200")
    assert load_cards()[PREFERRED].display_name in table.stdout and "report.html" in table.stdout
    # The terminal opens with the answers: the study's reference against every other model.
    answers = [c["sentence"] for c in report["comparisons"]]
    assert len(answers) == 2 * (len(load_study(study).models) - 1)
    assert table.stdout.startswith(answers[0] + "\n")

    exported = tmp_path / "votes.csv"
    arena("export", "--study", str(study), "--out", str(exported))
    assert len(exported.read_text().splitlines()) == 1 + QUOTA * len(raters)
    from_file = json.loads(
        arena(
            "report",
            "--comparisons",
            str(exported),
            "--out",
            str(tmp_path / "r2"),
            "--bootstrap",
            "200",
            "--json",
        ).stdout
    )
    for question in ("quality", "alignment"):
        want = report["questions"][question]["leaderboard"]
        got = from_file["questions"][question]["leaderboard"]
        assert [r["model"] for r in got] == [r["model"] for r in want]
        assert [r["rating"] for r in got] == pytest.approx([r["rating"] for r in want])


def test_serve_refuses_a_corrupt_image_set_with_one_sentence(
    generated: Path, tmp_path: Path, arena_cli
) -> None:
    arena = arena_cli
    copy = tmp_path / "copy"
    shutil.copytree(generated.parent, copy, ignore=shutil.ignore_patterns("arena.db*"))
    victim = sorted((copy / "images").rglob("*.png"))[0]
    victim.write_bytes(victim.read_bytes()[:100])
    result = arena("serve", "--study", str(copy / "study.toml"), "--port", "1", check=False)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert victim.name in result.stderr
    assert (
        not (copy / "arena.db").exists()
        or sqlite3.connect(copy / "arena.db").execute("select count(*) from images").fetchone()[0]
        == 0
    )
