"""CPU per vote in the store as a study fills up: the scheduler must not slow down with votes.

Ingests a PartiPrompts-sized synthetic study (1,632 prompts, 6 models = 15 pairs, 2 questions,
1 seed: 48,960 cells; 8x8 PNGs) into an SQLite file, then measures the CPU time of
``vote_and_next`` (the app's single transaction per vote; on a store from before it, such as an
older commit measured for comparison, ``record_vote`` + ``next_trial``) after 0, 10,000 and
100,000 prior votes. Prior trials and votes are written
with executemany, spread evenly over the cells, with ``cell_counts`` kept in step as the store
keeps it.

    .venv/bin/python benchmarks/store_scale.py
    .venv/bin/python benchmarks/store_scale.py --prior 0 10000 100000 --votes 1000
    .venv/bin/python benchmarks/store_scale.py --count [--rule adaptive]

CPU time (``time.process_time``) rather than wall time: the figures stay comparable on a
shared machine. Each level prints the median over ``--repeats`` blocks of the mean per vote.
``--count`` counts instead of timing (deterministic, so two trees compare exactly): SQLite VM
steps and Python calls per vote, over 100 votes of 20 raters on a 200-prompt study.
"""

from __future__ import annotations

import argparse
import json
import secrets
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from PIL import Image
from sqlalchemy import bindparam, event, insert, select, update

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from arena.ingest import ingest  # noqa: E402
from arena.prompts import load_prompts  # noqa: E402
from arena.store import RaterIdentity, Store  # noqa: E402
from arena.store.schema import Base, ImageRow, RaterRow, TrialRow, VoteRow  # noqa: E402
from arena.study import Study, load_study  # noqa: E402
from models.manifest import ManifestEntry, sha256_file, write_manifest  # noqa: E402

MODELS = tuple(f"model-{c}" for c in "abcdef")
RATER_TRIALS = 100  # prior trials per prior rater (a typical quota)


def write_study(folder: Path, n_prompts: int, rule: str = "balanced") -> Study:
    """A study of ``n_prompts`` prompts x 6 models x 1 seed x 2 questions, with its images,
    scheduled by ``rule``."""
    images = folder / "images"
    entries = []
    for m, model in enumerate(MODELS):
        (images / model).mkdir(parents=True, exist_ok=True)
        for p in range(n_prompts):
            rel = f"{model}/p{p:04d}.png"
            # A distinct colour per image, so that every sha256 (the image URL) differs.
            Image.new("RGB", (8, 8), (40 * m, p % 256, p // 256)).save(images / rel)
            entries.append(
                ManifestEntry(
                    model, f"p{p:04d}", f"prompt {p}", 0, rel, sha256_file(images / rel), 8, 8, {},
                    10.0,
                )
            )  # fmt: skip
    write_manifest(images, entries)
    (folder / "prompts.csv").write_text(
        "id,prompt\n" + "".join(f"p{p:04d},prompt {p}\n" for p in range(n_prompts))
    )
    (folder / "study.toml").write_text(
        f'name = "scale"\nmodels = {json.dumps(list(MODELS))}\nseeds = [0]\nquota = 100\n'
        '[prompts]\nfile = "prompts.csv"\n'
        '[[questions]]\nid = "quality"\ntext = "Which is better?"\n'
        '[[questions]]\nid = "alignment"\ntext = "Which matches the prompt?"\n'
        f'[scheduler]\nrule = "{rule}"\n'
    )
    return load_study(folder / "study.toml")


def add_prior_votes(store: Store, study: Study, start: int, count: int) -> None:
    """Answered trials ``start .. start + count`` of an even sweep over the cells."""
    if count <= 0:
        return
    if hasattr(store, "prepare"):
        store.prepare(study)  # the cell_counts rows
    with store.begin(write=True) as conn:
        sid = store.study_id(study.name, conn)
        images = conn.execute(
            select(ImageRow.prompt_id, ImageRow.model_id, ImageRow.id).where(
                ImageRow.study_id == sid
            )
        ).all()
        by = {(p, m): i for p, m, i in images}
        prompts = sorted({p for p, _, _ in images})
        models = sorted({m for _, m, _ in images})
        pairs = [(a, b) for i, a in enumerate(models) for b in models[i + 1 :]]
        cells = [(p, a, b, q) for p in prompts for a, b in pairs for q in ("quality", "alignment")]
        first_rater = start // RATER_TRIALS
        n_raters = -(-(start + count) // RATER_TRIALS) - first_rater
        conn.execute(
            insert(RaterRow),
            [
                {"study_id": sid, "external_id": f"prior-{first_rater + r}", "source": "url"}
                for r in range(n_raters)
            ],
        )
        rater_pk = {
            name: pk
            for name, pk in conn.execute(
                select(RaterRow.external_id, RaterRow.id).where(RaterRow.study_id == sid)
            )
        }
        trials = []
        for i in range(start, start + count):
            p, a, b, q = cells[i % len(cells)]
            left, right = (a, b) if i % 2 else (b, a)
            trials.append(
                {
                    "study_id": sid,
                    "rater_id": rater_pk[f"prior-{i // RATER_TRIALS}"],
                    "prompt_id": p,
                    "question": q,
                    "kind": "2afc",
                    "left_image_id": by[(p, left)],
                    "right_image_id": by[(p, right)],
                    "token": secrets.token_urlsafe(24),
                }
            )
        conn.execute(insert(TrialRow), trials)
        new = conn.execute(select(TrialRow.id).order_by(TrialRow.id.desc()).limit(count)).all()
        conn.execute(
            insert(VoteRow),
            [{"trial_id": t, "choice": "left", "decision_ms": 900.0} for (t,) in new],
        )
        counts = Base.metadata.tables.get("cell_counts")  # absent before the table existed
        if counts is not None:
            per_cell = Counter(cells[i % len(cells)] for i in range(start, start + count))
            c = counts.c
            bump = (
                update(counts)
                .where(
                    c.study_id == sid,
                    c.prompt_id == bindparam("p"),
                    c.model_lo == bindparam("lo"),
                    c.model_hi == bindparam("hi"),
                    c.question == bindparam("q"),
                )
                .values(n=c.n + bindparam("k"))
            )
            rows = [
                {"p": p, "lo": a, "hi": b, "q": q, "k": k} for (p, a, b, q), k in per_cell.items()
            ]
            conn.execute(bump, rows)


def measure(store: Store, study: Study, tag: str, votes: int, repeats: int) -> dict[str, float]:
    """Median over ``repeats`` blocks of the mean CPU ms per vote."""
    combined = hasattr(store, "vote_and_next")
    way = "vote_and_next" if combined else "record_vote + next_trial"
    raters = [store.join(study, RaterIdentity(f"{tag}-{i}")) for i in range(50)]
    tokens = {r: store.next_trial(study, r).trial.token for r in raters}
    blocks = []
    for rep in range(repeats):
        t0 = time.process_time()
        for i in range(votes // repeats):
            r = raters[(rep * votes + i) % len(raters)]
            if combined:
                progress = store.vote_and_next(study, r, tokens[r], "left", 900.0)[1]
            else:  # an older store, measured for comparison
                store.record_vote(study, r, tokens[r], "left", 900.0)
                progress = store.next_trial(study, r)
            tokens[r] = progress.trial.token if progress.trial else ""
        blocks.append(1000 * (time.process_time() - t0) / (votes // repeats))
    return {way: statistics.median(blocks)}


def count(store: Store, study: Study, raters: int = 20, votes: int = 100) -> tuple[float, float]:
    """SQLite VM steps and Python calls per vote (``vote_and_next``, or ``record_vote`` +
    ``next_trial`` on an older store), each rater's first trial issued before counting."""
    steps = [0]

    def step() -> int:
        steps[0] += 1
        return 0

    def install(dbapi_conn, record) -> None:
        dbapi_conn.set_progress_handler(step, 1)

    names = [store.join(study, RaterIdentity(f"count-{i}")) for i in range(raters)]
    tokens = {r: store.next_trial(study, r).trial.token for r in names}
    store.engine.dispose()  # later checkouts open connections that get the handler
    event.listen(store.engine, "connect", install)
    calls = [0]

    def profile(frame, what, arg) -> None:
        if what == "call":
            calls[0] += 1

    sys.setprofile(profile)
    try:
        for i in range(votes):
            r = names[i % raters]
            if hasattr(store, "vote_and_next"):
                progress = store.vote_and_next(study, r, tokens[r], "left", 900.0)[1]
            else:  # an older store, measured for comparison
                store.record_vote(study, r, tokens[r], "left", 900.0)
                progress = store.next_trial(study, r)
            tokens[r] = progress.trial.token if progress.trial else ""
    finally:
        sys.setprofile(None)
        event.remove(store.engine, "connect", install)
        store.engine.dispose()
    return steps[0] / votes, calls[0] / votes


def count_main(rule: str) -> None:
    """``--count``: the deterministic counts of :func:`count` on a fresh 200-prompt study."""
    with tempfile.TemporaryDirectory() as tmp:
        study = write_study(Path(tmp), 200, rule)
        url = f"sqlite:///{Path(tmp) / 'arena.db'}"
        ingest(Store.open(url), study, load_prompts(study.prompts_file))
        store = Store.open(url)
        try:
            steps, calls = count(store, study)
        finally:
            store.close()
        print(f"per vote: {steps:.1f} SQLite VM steps, {calls:.0f} Python calls "
              f"(200 prompts, 100 votes of 20 raters, {rule} rule)")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompts", type=int, default=1632)
    parser.add_argument("--prior", type=int, nargs="+", default=[0, 10_000, 100_000])
    parser.add_argument("--votes", type=int, default=1000, help="measured votes per level")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--count", action="store_true", help="count VM steps and calls instead")
    parser.add_argument("--rule", default="balanced", help="the study's scheduler rule (--count)")
    args = parser.parse_args()
    if args.count:
        count_main(args.rule)
        return
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        study = write_study(Path(tmp), args.prompts)
        url = f"sqlite:///{Path(tmp) / 'arena.db'}"
        ingest(Store.open(url), study, load_prompts(study.prompts_file))
        print(f"ingested {args.prompts} prompts x {len(MODELS)} models in "
              f"{time.perf_counter() - t0:.1f} s")  # fmt: skip
        done = 0
        for level in sorted(args.prior):
            setup = Store.open(url)
            add_prior_votes(setup, study, done, level - done)
            with setup.engine.connect() as conn:
                # Fold the bulk insert's WAL into the database now, not in the measured votes.
                conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
            setup.close()
            done = level
            store = Store.open(url)  # a fresh process's store: catalog and cells built anew
            t1 = time.process_time()
            store.next_trial(study, store.join(study, RaterIdentity(f"warm-{level}")))
            first = 1000 * (time.process_time() - t1)
            figures = measure(store, study, f"L{level}", args.votes, args.repeats)
            store.close()
            shown = "  ".join(f"{way} {ms:.2f} ms" for way, ms in figures.items())
            print(f"prior votes {level:>7,}: first trial {first:.0f} ms; CPU per vote: {shown}")


if __name__ == "__main__":
    main()
