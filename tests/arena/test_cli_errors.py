"""Bad input through the real ``arena`` command: one sentence naming where and what was expected,
no traceback, and nothing written."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from servers import free_port

from arena.cli import cli
from arena.ingest import ingest
from arena.store import Store

ROOT = Path(__file__).resolve().parents[2]
UNREACHABLE = "postgresql+psycopg://arena@127.0.0.1:1/votes"


def arena(*args: str) -> subprocess.CompletedProcess[str]:
    """The console command as a user runs it (the timeout only guards against a hang: a command
    that wrongly succeeded would go on serving)."""
    env = {k: v for k, v in os.environ.items() if k != "ARENA_DEBUG"}
    return subprocess.run(
        [sys.executable, "-m", "arena.cli", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=300,
    )


def one_sentence(result: subprocess.CompletedProcess[str]) -> str:
    """The error line, after checking the exit status and that nothing else was printed."""
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and lines[0].endswith("."), lines
    return lines[0][len("Error: ") :]


def invoke(*args: str) -> str:
    """The error sentence of an in-process run of a command that does not serve."""
    result = CliRunner().invoke(cli, list(args))
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output and result.exception is not None
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), lines
    return lines[0][len("Error: ") :]


# ----------------------------------------------------------------------------- database URLs
def test_an_unreachable_server_named_by_the_study_key(make_study) -> None:
    study, _ = make_study(extra=f'database = "{UNREACHABLE}"')
    for args in (["report"], ["export", "--out", str(study.folder / "votes.csv")]):
        message = invoke(*args, "--study", str(study.path))
        assert message == (
            f"{study.path}: key 'database': cannot connect to the database {UNREACHABLE} "
            "(Connection refused); expected a postgresql server running at 127.0.0.1 port 1 "
            "that accepts this user and has this database."
        )
    assert not (study.folder / "votes.csv").exists()


def test_an_unreachable_server_on_serve_writes_nothing(make_study) -> None:
    study, _ = make_study()
    before = sorted(p.name for p in study.folder.iterdir())
    message = one_sentence(
        arena(
            "serve",
            "--study",
            str(study.path),
            "--database",
            UNREACHABLE,
            "--port",
            str(free_port()),
        )
    )
    assert message.startswith(f"--database: cannot connect to the database {UNREACHABLE} ")
    assert sorted(p.name for p in study.folder.iterdir()) == before  # no arena.db either


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "mysql+nosuchdriver://u@db/votes",
            "--database: SQLAlchemy has no dialect or driver 'mysql.nosuchdriver' for the URL "
            "mysql+nosuchdriver://u@db/votes; expected a URL such as sqlite:///arena.db or "
            "postgresql+psycopg://user@host/arena.",
        ),
        (
            "votes.db",
            "--database: 'votes.db' is not a database URL; expected a URL such as "
            "sqlite:///arena.db or postgresql+psycopg://user@host/arena.",
        ),
    ],
)
def test_an_unknown_driver_or_no_url(make_study, url: str, expected: str) -> None:
    study, _ = make_study()
    assert invoke("report", "--study", str(study.path), "--database", url) == expected


@pytest.mark.skipif(importlib.util.find_spec("pymysql") is not None, reason="PyMySQL is installed")
def test_a_missing_driver_names_its_package_not_the_generate_extra(make_study) -> None:
    study, _ = make_study()
    message = invoke(
        "report", "--study", str(study.path), "--database", "mysql+pymysql://u:pw@db/v"
    )
    assert message == (
        "--database: the database URL mysql+pymysql://u:***@db/v needs the driver module "
        "'pymysql', which is not installed; expected it installed: pip install 'PyMySQL'."
    )


def test_a_missing_folder_is_named(make_study, tmp_path: Path) -> None:
    study, _ = make_study()
    db = tmp_path / "no-such-folder" / "arena.db"
    message = one_sentence(
        arena(
            "serve",
            "--study",
            str(study.path),
            "--database",
            f"sqlite:///{db}",
            "--port",
            str(free_port()),
        )
    )
    assert message == (
        f"--database: the folder {db.parent} of the SQLite database {db} does not exist; "
        "expected an existing folder (create it, or fix the path)."
    )
    assert not db.parent.exists()


# ----------------------------------------------------------------------------- read-only
@pytest.fixture
def read_only(tmp_path: Path) -> Iterator[tuple[Path, Callable[[], None]]]:
    """A folder and the function that makes it and its files read-only: file modes for a normal
    user; a tmpfs remounted read-only for root, whom modes do not stop (CI runs as root)."""
    folder = tmp_path / "ro"
    folder.mkdir()
    if os.geteuid() != 0:

        def freeze() -> None:
            for path in folder.iterdir():
                path.chmod(0o444)
            folder.chmod(0o555)

        yield folder, freeze
        folder.chmod(0o755)
        return
    made = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(folder)], capture_output=True
    )
    if made.returncode != 0:
        if os.environ.get("CI"):
            pytest.fail(f"cannot mount a tmpfs: {made.stderr.strip()}")
        pytest.skip("root without mount: no way to make a folder read-only for this test")

    def freeze() -> None:
        subprocess.run(["mount", "-o", "remount,ro", str(folder)], check=True)

    try:
        yield folder, freeze
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_a_read_only_database_is_one_sentence_and_unchanged(make_study, read_only) -> None:
    folder, freeze = read_only
    study, prompts = make_study()
    db = folder / "arena.db"
    store = Store.open(f"sqlite:///{db}")
    ingest(store, study, prompts)
    store.close()
    freeze()
    before = _files(folder)
    message = one_sentence(
        arena(
            "serve",
            "--study",
            str(study.path),
            "--database",
            f"sqlite:///{db}",
            "--port",
            str(free_port()),
        )
    )
    assert message.startswith("--database: ") and "read-only" in message and str(db) in message
    assert _files(folder) == before
    # A WAL database is not even readable there (SQLite must create arena.db-shm beside it).
    message = invoke("report", "--study", str(study.path), "--database", f"sqlite:///{db}")
    assert message.startswith("--database: ") and "read-only" in message and str(db) in message
    assert _files(folder) == before


def test_a_read_only_folder_creates_no_database(make_study, read_only) -> None:
    folder, freeze = read_only
    study, _ = make_study()
    freeze()
    db = folder / "arena.db"
    message = one_sentence(
        arena(
            "serve",
            "--study",
            str(study.path),
            "--database",
            f"sqlite:///{db}",
            "--port",
            str(free_port()),
        )
    )
    assert message.startswith(
        f"--database: the folder {folder} of the SQLite database {db} is read-only ("
    )
    assert message.endswith(
        "expected a folder this user may write (arena.db-wal and arena.db-shm are created beside the database)."
    )
    assert list(folder.iterdir()) == []


# ----------------------------------------------------------------------------- prompt files
def test_a_bad_prompt_file_stops_serve_before_the_database(make_study) -> None:
    study, _ = make_study()
    prompts = study.prompts_file
    prompts.write_text(prompts.read_text() + f"p99\t{'x' * 140_000}\ta\n", encoding="utf-8")
    message = one_sentence(arena("serve", "--study", str(study.path), "--port", str(free_port())))
    lines = len(prompts.read_text().splitlines())
    assert message == (
        f"{prompts}: line {lines}: a field has more than 131,072 characters; expected at most "
        "10,000."
    )
    assert not (study.folder / "arena.db").exists()


def test_a_long_field_in_a_comparisons_file_is_read(tmp_path: Path) -> None:
    """Comparisons files are read by pandas, which has no field limit: ids and categories of
    any length go through (only prompt files are capped)."""
    from arena.comparisons_io import read_comparisons

    row = "m1,m2,a,r1,p1,{},quality,2afc,100,0\n"
    path = tmp_path / "votes.csv"
    path.write_text(
        "model_a,model_b,outcome,rater,prompt,category,question,kind,decision_ms,seed\n"
        + row.format("c") * 3
        + row.format("z" * 140_000),
        encoding="utf-8",
    )
    frame = read_comparisons(path)
    assert len(frame) == 4 and frame["category"].astype(str).str.len().max() == 140_000


# ----------------------------------------------------------------------------- plan
@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--pairs", "0"], "Invalid value for '--pairs': 0 is not in the range x>=1."),
        (["--pairs", "-1"], "Invalid value for '--pairs': -1 is not in the range x>=1."),
        (["--alpha", "0"], "Invalid value for '--alpha': 0.0 is not in the range 0.0<x<1.0."),
        (["--power", "1"], "Invalid value for '--power': 1.0 is not in the range 0.0<x<1.0."),
        (["--win-rate", "0"], "Invalid value for '--win-rate': 0.0 is not in the range 0.0<x<1.0."),
        (
            ["--design-effect", "0"],
            "Invalid value for '--design-effect': 0.0 is not in the range x>=1.0.",
        ),
        (
            ["--design-effect", "nan"],
            "Invalid value for '--design-effect': expected a finite number, got nan.",
        ),
        (["--alpha", "nan"], "Invalid value for '--alpha': expected a finite number, got nan."),
    ],
)
def test_plan_refuses_values_outside_their_range(args: list[str], expected: str) -> None:
    result = CliRunner().invoke(cli, ["plan", *args])
    assert result.exit_code == 2 and not isinstance(result.exception, ZeroDivisionError)
    assert result.output.strip().splitlines()[-1] == f"Error: {expected}"


# ----------------------------------------------------------------------------- TOML files
def test_a_study_file_that_is_not_utf8_is_one_sentence(make_study) -> None:
    study, _ = make_study()
    text = study.path.read_text(encoding="utf-8")
    study.path.write_bytes(text.replace("title = ", 'title = "caf\xe9" #', 1).encode("latin-1"))
    message = invoke("report", "--study", str(study.path))
    assert message.startswith(f"{study.path}: line ")
    assert "not UTF-8 text (byte 0xe9); save the file as UTF-8." in message


def test_a_study_file_with_a_byte_order_mark_loads(make_study) -> None:
    study, _ = make_study()
    study.path.write_bytes(b"\xef\xbb\xbf" + study.path.read_bytes())
    from arena.study import load_study

    assert load_study(study.path).name == study.name


def test_a_card_that_is_not_utf8_is_one_sentence(tmp_path: Path) -> None:
    cards = tmp_path / "cards"
    cards.mkdir()
    card = cards / "latin.toml"
    card.write_bytes(b'id = "latin"\n# caf\xe9\ndisplay_name = "x"\n')
    message = invoke("models", "validate", "--cards", str(cards))
    assert message == f"{card}: line 2: not UTF-8 text (byte 0xe9); save the file as UTF-8."


def test_plan_refuses_a_win_rate_no_study_can_detect() -> None:
    message = invoke("plan", "--win-rate", "0.5001")
    assert message.startswith("win_rate 0.5001 needs about 196,221,991 votes per pair")
    assert message.endswith(
        "expected a win rate further from 0.5 (at most 10,000,000 votes are planned)."
    )
