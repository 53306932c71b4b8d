"""Schema migrations, on SQLite and on PostgreSQL: empty databases, release-0.1 databases, and
several processes opening one database at once."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path
from types import ModuleType

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, MetaData, event, insert, inspect, text

from arena.store import Store
from arena.store.engine import make_engine
from arena.store.migrate import (
    RELEASE_0_1,
    MigrationError,
    current_revision,
    downgrade,
    head_revision,
    upgrade,
)
from arena.store.schema import Base


def _release() -> ModuleType:
    """tests/arena/release_0_1_schema.py (tests/arena is not a package)."""
    path = Path(__file__).with_name("release_0_1_schema.py")
    spec = importlib.util.spec_from_file_location("release_0_1_schema", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # the ORM resolves the Mapped[...] annotations through it
    spec.loader.exec_module(module)
    return module


release = _release()
ROOT = Path(__file__).resolve().parents[2]


def _differences(engine: Engine, metadata: MetaData) -> list:
    with engine.connect() as conn:
        return compare_metadata(MigrationContext.configure(conn), metadata)


def _revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return current_revision(conn)


def _describe(engine: Engine) -> dict:
    """Everything the database says about its arena tables, names of constraints included."""
    insp = inspect(engine)
    out = {}
    for t in sorted(set(insp.get_table_names()) - {"alembic_version"}):
        out[t] = {
            "columns": [
                (c["name"], str(c["type"]), c["nullable"], c.get("default"))
                for c in insp.get_columns(t)
            ],
            "pk": insp.get_pk_constraint(t),
            "fks": sorted(map(repr, insp.get_foreign_keys(t))),
            "unique": sorted(map(repr, insp.get_unique_constraints(t))),
            "checks": sorted(map(repr, insp.get_check_constraints(t))),
            "indexes": sorted(map(repr, insp.get_indexes(t))),
        }
    return out


def _fill_release(engine: Engine) -> None:
    """One row in every release-0.1 table but cell_counts, as release 0.1 wrote them."""
    r = release
    now = datetime(2024, 5, 1, tzinfo=timezone.utc)
    with engine.begin() as conn:
        conn.execute(insert(r.StudyRow).values(id=1, name="old", title="Old study"))
        conn.execute(insert(r.ModelRow), [{"id": 1, "name": "alpha"}, {"id": 2, "name": "beta"}])
        conn.execute(insert(r.PromptRow).values(id=1, study_id=1, key="p1", text="a red cube"))
        image = {"study_id": 1, "prompt_id": 1, "seed": 0, "sha256": "0" * 64}
        conn.execute(
            insert(r.ImageRow),
            [
                {**image, "id": 1, "model_id": 1, "path": "a.png", "width": 8, "height": 8},
                {**image, "id": 2, "model_id": 2, "path": "b.png", "width": 8, "height": 8},
            ],
        )
        conn.execute(insert(r.RaterRow).values(id=1, study_id=1, external_id="r1", source="url"))
        conn.execute(
            insert(r.TrialRow).values(
                id=1,
                study_id=1,
                rater_id=1,
                prompt_id=1,
                question="quality",
                left_image_id=1,
                right_image_id=2,
                token="tok",
                issued_at=now,
            )
        )
        conn.execute(insert(r.VoteRow).values(trial_id=1, choice="right", decision_ms=900.0))


def _check_release_data(store: Store) -> None:
    counts = store.counts()
    assert counts == {
        **dict.fromkeys(counts, 1),
        "models": 2,
        "images": 2,
        "cell_counts": 0,
        "consent_refusals": 0,  # a table of a later revision, empty
        **dict.fromkeys(("live_battles", "live_images", "live_votes"), 0),  # revision 0007
    }
    df = store.comparisons("old")
    assert df[["model_a", "model_b", "outcome", "rater"]].values.tolist() == [
        ["alpha", "beta", "b", "r1"]
    ]


def test_an_empty_database_is_upgraded_to_the_schema(db_url) -> None:
    store = Store.open(db_url)
    try:
        assert _revision(store.engine) == head_revision()
        assert _differences(store.engine, Base.metadata) == []
    finally:
        store.close()


def test_revision_0001_makes_what_release_0_1_made(db_url) -> None:
    engine = make_engine(db_url)
    try:
        release.Base.metadata.create_all(engine)
        made_by_release = _describe(engine)
        release.Base.metadata.drop_all(engine)
        upgrade(engine, RELEASE_0_1)
        assert _revision(engine) == RELEASE_0_1
        assert _describe(engine) == made_by_release
        assert _differences(engine, release.Base.metadata) == []
    finally:
        engine.dispose()


def test_a_release_0_1_database_is_carried_forward(db_url) -> None:
    engine = make_engine(db_url)
    release.Base.metadata.create_all(engine)
    _fill_release(engine)
    engine.dispose()

    store = Store.open(db_url)
    try:
        _check_release_data(store)
        assert "secret_hash" in {c["name"] for c in inspect(store.engine).get_columns("raters")}
        assert _revision(store.engine) == head_revision()
        assert _differences(store.engine, Base.metadata) == []
    finally:
        store.close()


def test_going_back_and_forth_keeps_the_data(db_url) -> None:
    """0002's downgrade drops a column, which SQLite does by copying the table: the trials and
    votes that reference the raters must survive it."""
    engine = make_engine(db_url)
    release.Base.metadata.create_all(engine)
    _fill_release(engine)
    upgrade(engine)
    downgrade(engine, RELEASE_0_1)
    assert _differences(engine, release.Base.metadata) == []
    upgrade(engine)
    engine.dispose()
    store = Store.open(db_url)
    try:
        _check_release_data(store)
    finally:
        store.close()


def test_opening_a_database_at_the_head_changes_nothing(db_url) -> None:
    Store.open(db_url).close()
    seen: list[str] = []

    def capture(conn, cursor, statement, parameters, context, executemany) -> None:
        seen.append(statement)

    # On the class: the listener must see the engine the store creates.
    event.listen(Engine, "before_cursor_execute", capture)
    try:
        Store.open(db_url).close()
    finally:
        event.remove(Engine, "before_cursor_execute", capture)
    assert seen  # the revision was read
    writes = ("CREATE", "ALTER", "DROP", "INSERT", "UPDATE", "DELETE", "BEGIN IMMEDIATE")
    assert [s for s in seen if s.lstrip().upper().startswith(writes) or "advisory" in s] == []
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            assert conn.scalars(text("SELECT version_num FROM alembic_version")).all() == [
                head_revision()
            ]
    finally:
        engine.dispose()


def test_processes_opening_an_empty_database_at_once_all_succeed(db_url) -> None:
    n = 4
    start = threading.Barrier(n)

    def open_store(_: int) -> str | None:
        start.wait()  # every "process" creates the schema at the same moment
        store = Store.open(db_url)  # each with its own engine and connections
        try:
            return _revision(store.engine)
        finally:
            store.close()

    with ThreadPoolExecutor(n) as pool:
        assert list(pool.map(open_store, range(n))) == [head_revision()] * n
    engine = make_engine(db_url)
    try:
        assert _differences(engine, Base.metadata) == []
    finally:
        engine.dispose()


#: A process that opens a store once its parent says go (a line on stdin).
_OPENER = """
import sys
from arena.store import Store
print("ready", flush=True)
sys.stdin.readline()
Store.open(sys.argv[1]).close()
"""


def test_servers_starting_together_on_an_empty_database_all_succeed(db_url) -> None:
    """Real processes, so that nothing in one interpreter (its lock on alembic) orders them."""
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _OPENER, db_url],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    try:
        for p in procs:
            assert p.stdout.readline().strip() == "ready", p.stderr.read()
        for p in procs:  # every process has imported everything: go, all at once
            p.stdin.write("\n")
            p.stdin.flush()
        results = [(p.wait(timeout=60), p.stderr.read()) for p in procs]
    finally:
        for p in procs:
            p.kill()
            p.wait()
    assert results == [(0, "")] * len(procs)
    engine = make_engine(db_url)
    try:
        assert _revision(engine) == head_revision()
        assert _differences(engine, Base.metadata) == []
    finally:
        engine.dispose()


def test_a_database_of_a_newer_arena_is_refused(db_url) -> None:
    Store.open(db_url).close()
    engine = make_engine(db_url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    engine.dispose()
    with pytest.raises(MigrationError, match="revision 9999, which this version"):
        Store.open(db_url)


def test_a_database_with_some_arena_tables_is_refused(db_url) -> None:
    engine = make_engine(db_url)
    release.Base.metadata.tables["studies"].create(engine)
    engine.dispose()
    with pytest.raises(MigrationError, match="not cell_counts, images"):
        Store.open(db_url)


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///{tmp}/arena.db"])
def test_sqlite_foreign_keys_are_off_only_while_migrating(url, tmp_path) -> None:
    store = Store.open(url.format(tmp=tmp_path))  # in memory: one connection, the migrating one
    try:
        assert _revision(store.engine) == head_revision()
        with store.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    finally:
        store.close()


def _study_columns(engine: Engine) -> set[str]:
    return {c["name"] for c in inspect(engine).get_columns("studies")}


def test_revision_0005_adds_display_names_and_keeps_every_vote(db_url) -> None:
    """0005 alters ``studies``, which every table references with ON DELETE CASCADE: on SQLite
    its downgrade copies the table, and the study's trials and votes must survive both ways."""
    engine = make_engine(db_url)
    release.Base.metadata.create_all(engine)
    _fill_release(engine)
    upgrade(engine, "0004")
    assert "display_names" not in _study_columns(engine)
    upgrade(engine)
    assert "display_names" in _study_columns(engine)
    engine.dispose()
    store = Store.open(db_url)
    try:
        assert store.display_names("old") is None  # never recorded: the report uses the cards
        _check_release_data(store)
    finally:
        store.close()
    engine = make_engine(db_url)
    downgrade(engine, "0004")
    assert "display_names" not in _study_columns(engine)
    engine.dispose()
    store = Store.open(db_url)
    try:
        _check_release_data(store)
    finally:
        store.close()


def test_revision_0006_adds_pair_probability_and_keeps_every_vote(db_url) -> None:
    """0006 alters ``trials``, which votes reference with ON DELETE CASCADE: the release's
    votes survive both ways, and their trials read back with no pair probability."""
    engine = make_engine(db_url)
    release.Base.metadata.create_all(engine)
    _fill_release(engine)
    upgrade(engine, "0005")
    assert "pair_probability" not in {c["name"] for c in inspect(engine).get_columns("trials")}
    upgrade(engine, "0006")
    assert "pair_probability" in {c["name"] for c in inspect(engine).get_columns("trials")}
    assert "ix_cell_counts_pair" in {i["name"] for i in inspect(engine).get_indexes("cell_counts")}
    upgrade(engine)  # 0008: the pair index only holds adaptive studies' cells
    indexes = {i["name"] for i in inspect(engine).get_indexes("cell_counts")}
    assert "ix_cell_counts_paired" in indexes and "ix_cell_counts_pair" not in indexes
    engine.dispose()
    store = Store.open(db_url)
    try:
        _check_release_data(store)
        assert store.comparisons("old")["pair_probability"].isna().all()
    finally:
        store.close()
    engine = make_engine(db_url)
    downgrade(engine, "0005")
    assert "pair_probability" not in {c["name"] for c in inspect(engine).get_columns("trials")}
    engine.dispose()
    store = Store.open(db_url)
    try:
        _check_release_data(store)
    finally:
        store.close()


LIVE_TABLES = {"live_battles", "live_images", "live_votes"}


def test_revision_0007_adds_the_live_tables_and_keeps_every_vote(db_url) -> None:
    """0007 only adds tables: the controlled votes read back the same at 0006 and 0007, and
    a live vote stored at 0007 goes with its tables on the way back."""
    engine = make_engine(db_url)
    release.Base.metadata.create_all(engine)
    _fill_release(engine)
    upgrade(engine, "0006")
    assert not LIVE_TABLES & set(inspect(engine).get_table_names())
    upgrade(engine)
    assert set(inspect(engine).get_table_names()) >= LIVE_TABLES
    engine.dispose()
    store = Store.open(db_url)
    try:
        from arena.store import LiveStore

        _check_release_data(store)
        before = store.comparisons("old")
        live = LiveStore(store)
        live.add_battle("old", "tok-live", "r9", "a red circle", ("alpha", "beta"), 3)
        image = {"path": "live/x.png", "sha256": "0" * 64, "width": 8, "height": 8}
        live.add_image("tok-live", "left", {**image, "latency_ms": 1.0, "params": {}})
        assert live.add_vote("tok-live", "left", 100.0)
        assert live.frame("old")["outcome"].tolist() == ["a"]
        assert store.comparisons("old").equals(before)
    finally:
        store.close()
    engine = make_engine(db_url)
    downgrade(engine, "0006")
    assert not LIVE_TABLES & set(inspect(engine).get_table_names())
    engine.dispose()
    engine = make_engine(db_url)
    upgrade(engine, "0006")  # still 0006: nothing to do
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM votes")).scalar_one() == 1
    engine.dispose()
