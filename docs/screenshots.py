"""Take the README's screenshots from the running demo (needs Debian's chromium).

    .venv/bin/python docs/screenshots.py

It generates the demo study into a temporary folder, serves it, photographs the rater's page in
headless Chromium, lets scripted raters vote through the store's hot-path call (each prefers the
image the toy world's automatic judge scores higher, seen through some noise: see
docs/toy-models.md), runs `arena report` and photographs the top of the report. The report
screenshot therefore shows simulated votes, and the README says so.
"""

from __future__ import annotations

import random
import subprocess
import sys
import tempfile
from pathlib import Path

from PIL import Image
from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from servers import CHROMIUM, CHROMIUM_ARGS, running  # noqa: E402

from arena.demo import demo_study  # noqa: E402
from arena.ingest import ingest  # noqa: E402
from arena.prompts import load_prompts  # noqa: E402
from arena.serve import create_server  # noqa: E402
from arena.store import RaterIdentity, Store  # noqa: E402
from models.cards import load_cards  # noqa: E402
from models.manifest import read_manifest  # noqa: E402
from models.toy.judge import judge  # noqa: E402

OUT = ROOT / "docs" / "img"
RATERS = 24


def vote_as_scripted_raters(store: Store, study) -> None:
    """Votes through the store's hot-path call (what the page's vote event runs), not HTTP:
    the page itself is exercised by the tests; here only the report needs votes."""
    score = {
        e.sha256: judge(Image.open(study.image_dir / e.path), e.prompt).score
        for e in read_manifest(study.image_dir)
    }
    rng = random.Random(0)
    for i in range(RATERS):
        rater = store.join(study, RaterIdentity(f"sim-{i:02d}"))
        progress = store.next_trial(study, rater)
        while not progress.done:
            trial = progress.trial
            left, right = (score[s.sha256] + rng.gauss(0, 0.1) for s in (trial.left, trial.right))
            choice = "left" if left > right else "right"
            _, progress = store.vote_and_next(
                study, rater, trial.token, choice, rng.uniform(800, 4000)
            )


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        study = demo_study(Path(tmp))
        _generate(study)
        store = Store.open(study.database_url)
        ingest(store, study, load_prompts(study.prompts_file))
        with running(create_server(study, store)) as base, sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1100, "height": 760})
            page.goto(base + "?rater=readme")
            page.wait_for_function("window.arena && window.arena.shownAt !== null")
            page.keyboard.press("2")
            page.wait_for_function(
                "document.querySelector('#arena-progress').innerText.includes('1 /')"
            )
            page.wait_for_function("window.arena && window.arena.shownAt !== null")
            page.screenshot(path=str(OUT / "arena.png"))
            vote_as_scripted_raters(store, study)
            report_dir = Path(tmp) / "report"
            subprocess.run(
                [sys.executable, "-m", "arena.cli", "report", "--study", str(study.path),
                 "--database", study.database_url, "--out", str(report_dir)],
                check=True, cwd=ROOT,
            )  # fmt: skip
            page = browser.new_page(viewport={"width": 1100, "height": 1300})
            page.goto((report_dir / "report.html").as_uri())
            page.wait_for_timeout(1500)
            page.screenshot(path=str(OUT / "report.png"))
            browser.close()
        store.close()
    print(f"wrote {OUT / 'arena.png'} and {OUT / 'report.png'}")


def _generate(study) -> None:
    from models.generate import generate_image_set

    cards = load_cards(study.cards_dir)
    prompts = load_prompts(study.prompts_file, study.categories, study.prompt_limit)
    generate_image_set(
        [cards[m] for m in study.models],
        [(p.id, p.text) for p in prompts],
        study.seeds,
        study.image_dir,
        progress=False,
    )


if __name__ == "__main__":
    main()
