"""Shared fixtures: a tiny real image set (Pillow PNGs + manifest) and a study file around it."""

from __future__ import annotations

import contextlib
import json
import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
from PIL import Image
from servers import CHROMIUM, CHROMIUM_ARGS, running

from arena.ingest import ingest
from arena.prompts import Prompt, load_prompts
from arena.serve import create_server
from arena.store import Store
from arena.study import Study, load_study

PROMPT_TEXTS = (
    "a red cube on a table",
    "a cat wearing a hat",
    "a city skyline at night",
    "two dogs playing chess",
    "a bowl of <b>fruit</b> & ${danger} {{x}}",  # hostile markup must stay text
    "a lighthouse in fog",
    "an astronaut riding a horse",
    "a watercolor fox",
)


def _png(path: Path, color: tuple[int, int, int], size: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (size, size), color).save(path, format="PNG")


def write_image_set(
    folder: Path,
    prompts: list[Prompt],
    models: tuple[str, ...],
    seeds: tuple[int, ...],
    size: int = 8,
) -> list[dict]:
    """Write one PNG per (model, prompt, seed) and a manifest.jsonl; return the manifest rows."""
    from models.manifest import MANIFEST_NAME, sha256_file

    rows = []
    for m_i, model in enumerate(models):
        for p_i, prompt in enumerate(prompts):
            for seed in seeds:
                rel = f"{model}/{prompt.id}_s{seed}.png"
                color = (40 * m_i % 256, 30 * p_i % 256, 50 * seed % 256)
                _png(folder / rel, color, size)
                rows.append(
                    {
                        "model": model,
                        "prompt_id": prompt.id,
                        "prompt": prompt.text,
                        "seed": seed,
                        "path": rel,
                        "sha256": sha256_file(folder / rel),
                        "width": size,
                        "height": size,
                        "params": {"steps": 1 + m_i, "card": model},
                        "latency_ms": 100.0 * (m_i + 1) + seed,
                    }
                )
    write_manifest_rows(folder / MANIFEST_NAME, rows)
    return rows


def write_manifest_rows(path: Path, rows: list[dict]) -> None:
    """Write manifest rows by hand (tests corrupt them on purpose)."""
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


def build_study(
    folder: Path,
    models: tuple[str, ...] = ("alpha", "beta"),
    n_prompts: int = 6,
    seeds: tuple[int, ...] = (0, 1),
    quota: int = 5,
    questions: tuple[tuple[str, str], ...] = (("quality", "Which image looks better?"),),
    tie: bool = False,
    both_bad: bool = False,
    completion_code: str | None = "DONE-123",
    name: str = "t1",
    images: bool = True,
    extra: str = "",
) -> tuple[Study, list[Prompt]]:
    """A study folder with prompts, images and study.toml under ``folder/name``.

    ``extra``: more top-level lines of the study file (e.g. ``max_raters = 2``).
    """
    folder = folder / name
    folder.mkdir(parents=True, exist_ok=True)
    lines = ["id\tprompt\tcategory"] + [
        f"p{i:02d}\t{PROMPT_TEXTS[i % len(PROMPT_TEXTS)]}\t{'ab'[i % 2]}" for i in range(n_prompts)
    ]
    (folder / "prompts.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    qs = "".join(f'[[questions]]\nid = "{q}"\ntext = "{t}"\n' for q, t in questions)
    code = f'completion_code = "{completion_code}"\n' if completion_code else ""
    (folder / "study.toml").write_text(
        f'name = "{name}"\ntitle = "Test <study>"\n'
        'instructions = "Pick the better image.\\n\\nUse 1/2 or the arrow keys."\n'
        f"models = {json.dumps(list(models))}\nseeds = {list(seeds)}\nquota = {quota}\n"
        f"seed = 7\n{code}{extra}\n"
        f'[prompts]\nfile = "prompts.tsv"\n{qs}'
        f"[responses]\ntie = {str(tie).lower()}\nboth_bad = {str(both_bad).lower()}\n",
        encoding="utf-8",
    )
    study = load_study(folder / "study.toml")
    prompts = load_prompts(study.prompts_file)
    if images:
        write_image_set(study.image_dir, prompts, models, seeds)
    return study, prompts


@pytest.fixture(scope="session")
def study_builder() -> Callable[..., tuple[Study, list[Prompt]]]:
    """The plain :func:`build_study`, for fixtures of wider scope than a test."""
    return build_study


@pytest.fixture
def make_study(tmp_path: Path) -> Callable[..., tuple[Study, list[Prompt]]]:
    """Factory: ``make_study(**options)`` builds a study in this test's tmp_path."""

    def make(**options) -> tuple[Study, list[Prompt]]:
        return build_study(tmp_path, **options)

    return make


@pytest.fixture
def launched(make_study, tmp_path: Path):
    """Start a study's server: ``launched(**study_options, admin_password=None)`` gives
    (base url, study, store)."""
    stack = ExitStack()

    def launch(admin_password: str | None = None, **options):
        study, prompts = make_study(**options)
        store = Store.open(f"sqlite:///{tmp_path / 'arena.db'}")
        stack.callback(store.close)
        ingest(store, study, prompts)
        app = create_server(study, store, admin_password=admin_password)
        return stack.enter_context(running(app)), study, store

    with stack:
        yield launch


@pytest.fixture
def chromium():
    """A headless Debian chromium (Playwright), closed after the test."""
    from playwright import sync_api

    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(scope="session")
def serve_app() -> Callable[..., contextlib.AbstractContextManager[str]]:
    """:func:`running` for tests that manage a server's lifetime themselves."""
    return running


#: A PostgreSQL server's admin URL (``…/postgres``); .ci/run starts one and sets it.
PG_ENV = "T2I_ARENA_PG_URL"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database: an SQLite file, or a new database on the PostgreSQL server.

    PostgreSQL runs where ``T2I_ARENA_PG_URL`` is set; it is skipped elsewhere, except under CI
    (``CI`` set), where a missing server is a failure, not a skip.
    """
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'arena.db'}"
        return
    admin_url = os.environ.get(PG_ENV)
    if not admin_url:
        if os.environ.get("CI"):
            pytest.fail(f"{PG_ENV} is not set; .ci/run starts PostgreSQL and sets it.")
        pytest.skip(f"set {PG_ENV} to a PostgreSQL admin URL to run this against PostgreSQL")
    import sqlalchemy as sa

    name = f"arena_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield sa.make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()
