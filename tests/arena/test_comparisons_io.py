"""Comparisons files through the real CLI: every promised format round-trips, everything else is
refused in one sentence, and display names come from the database, not from today's cards."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from arena.cli import cli
from arena.ingest import ingest
from arena.store import RaterIdentity, Store
from arena.store.engine import make_engine
from arena.store.migrate import downgrade, head_revision
from arena.study import Study

ROOT = Path(__file__).resolve().parents[2]
MODELS = ("alpha", "beta", "gamma")
NAMES = {"alpha": "Alpha One", "beta": "Beta Two", "gamma": "Gamma Three"}
#: How often each model's image wins: beta > gamma > alpha, so the ranking is clear.
STRENGTH = {"alpha": 1, "beta": 4, "gamma": 2}
COLUMNS = "model_a, model_b, outcome, rater, prompt, category, question, kind, decision_ms, seed"


def _card(folder: Path, model: str, name: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{model}.toml").write_text(
        f'id = "{model}"\ndisplay_name = "{name}"\nbackend = "image-folder"\nrepo = "../imgs"\n',
        encoding="utf-8",
    )


def _vote(study: Study, store: Store, raters: int = 6) -> None:
    """Raters who prefer the stronger model (the image path starts with the model id)."""
    for r in range(raters):
        rater = store.join(study, RaterIdentity(f"r{r:02d}"))
        progress = store.next_trial(study, rater)
        n = 0
        while progress.trial is not None:
            trial = progress.trial
            left, right = (STRENGTH[ref.path.split("/")[0]] for ref in (trial.left, trial.right))
            # Mostly the stronger one, sometimes not (every 4th vote), so nothing is separated.
            stronger = "left" if left > right else "right"
            weaker = "right" if stronger == "left" else "left"
            choice = weaker if (n + r) % 4 == 0 else stronger
            _, progress = store.vote_and_next(study, rater, trial.token, choice, 800.0 + 7 * n)
            n += 1


@pytest.fixture
def voted(make_study) -> Study:
    """A study with cards beside it, ingested (as serve does at start-up) and voted on, in the
    SQLite file the study names."""
    study, prompts = make_study(models=MODELS, quota=6, extra='cards = "cards"')
    for model, name in NAMES.items():
        _card(study.path.parent / "cards", model, name)
    store = Store.open(study.database_url)
    try:
        ingest(store, study, prompts)
        _vote(study, store)
    finally:
        store.close()
    return study


def arena(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.output


def report_json(*source: str, out: Path) -> dict:
    code, output = arena("report", *source, "--out", str(out), "--bootstrap", "50", "--json")
    assert code == 0, output
    return json.loads(output)


def the_analysis(report: dict) -> dict:
    """What the votes determine: everything but the generation latency (a database-only
    figure) and the source's title."""
    return {k: v for k, v in report.items() if k != "latency_ms"}


@pytest.mark.parametrize("suffix", [".csv", ".jsonl", ".ndjson", ".parquet", ".CSV"])
def test_export_then_report_gives_the_same_analysis(voted: Study, tmp_path: Path, suffix) -> None:
    from_db = report_json("--study", str(voted.path), out=tmp_path / "r-db")
    assert from_db["display_names"] == NAMES
    exported = tmp_path / f"votes{suffix}"
    code, output = arena("export", "--study", str(voted.path), "--out", str(exported))
    assert code == 0, output
    assert output == f"36 votes written to {exported}\n"
    from_file = report_json("--comparisons", str(exported), out=tmp_path / "r-file")
    assert the_analysis(from_file) == the_analysis(from_db)
    assert from_db["questions"]["quality"]["n_votes"] == 36


def test_the_formats_are_what_their_suffix_says(voted: Study, tmp_path: Path) -> None:
    import pandas as pd

    for suffix in (".csv", ".jsonl", ".parquet"):
        code, output = arena(
            "export", "--study", str(voted.path), "--out", str(tmp_path / f"v{suffix}")
        )
        assert code == 0, output
    lines = (tmp_path / "v.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(lines) == 36 and all(isinstance(json.loads(line), dict) for line in lines)
    assert json.loads(lines[0])["display_name_a"] in NAMES.values()
    assert (tmp_path / "v.parquet").read_bytes()[:4] == b"PAR1"
    header = (tmp_path / "v.csv").read_text(encoding="utf-8").splitlines()[0]
    assert header.startswith(COLUMNS.replace(" ", "")) and header.endswith(
        "display_name_a,display_name_b"
    )
    frames = [
        pd.read_csv(tmp_path / "v.csv", dtype={"rater": str}),
        pd.read_parquet(tmp_path / "v.parquet"),
    ]
    assert frames[0]["rater"].tolist() == frames[1]["rater"].tolist()


def test_the_report_shows_the_names_stored_at_ingest(voted: Study, tmp_path: Path) -> None:
    cards = voted.path.parent / "cards"
    _card(cards, "alpha", "Alpha (renamed after the study)")
    (cards / "beta.toml").unlink()  # and one card is gone altogether
    report = report_json("--study", str(voted.path), out=tmp_path / "r")
    assert report["display_names"] == NAMES
    code, output = arena("report", "--study", str(voted.path), "--out", str(tmp_path / "t"))
    assert code == 0, output
    assert "Beta Two" in output and "renamed" not in output

    exported = tmp_path / "votes.csv"
    assert arena("export", "--study", str(voted.path), "--out", str(exported))[0] == 0
    assert report_json("--comparisons", str(exported), out=tmp_path / "c")["display_names"] == NAMES


def test_a_new_ingest_stores_the_cards_names_of_that_time(
    voted: Study, make_study, tmp_path
) -> None:
    _card(voted.path.parent / "cards", "alpha", "Alpha v2")
    (voted.path.parent / "cards" / "beta.toml").unlink()
    store = Store.open(voted.database_url)
    try:
        from arena.prompts import load_prompts

        ingest(store, voted, load_prompts(voted.prompts_file))
        # beta's card is gone: its stored name stays, the votes still need it.
        assert store.display_names(voted.name) == {**NAMES, "alpha": "Alpha v2"}
    finally:
        store.close()


def test_a_database_from_before_stored_names_falls_back_to_the_cards(
    voted: Study, tmp_path
) -> None:
    engine = make_engine(voted.database_url)
    downgrade(engine, "0004")  # the schema of the release before names were stored
    engine.dispose()
    _card(voted.path.parent / "cards", "alpha", "Alpha from today's card")
    report = report_json("--study", str(voted.path), out=tmp_path / "r")
    assert report["display_names"] == {**NAMES, "alpha": "Alpha from today's card"}
    assert report["questions"]["quality"]["n_votes"] == 36
    store = Store.open(voted.database_url)  # the report upgraded it; nothing stored yet
    try:
        with store.engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar() == (
                head_revision()
            )
        assert store.display_names(voted.name) is None
    finally:
        store.close()


# --------------------------------------------------------------------------- refused inputs
def _good_row(**changes) -> dict:
    row = {
        "model_a": "alpha",
        "model_b": "beta",
        "outcome": "a",
        "rater": "r1",
        "prompt": "p1",
        "category": "c",
        "question": "quality",
        "kind": "2afc",
        "decision_ms": 900.0,
        "seed": 0,
    }
    return {**row, **changes}


def _jsonl(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def _bad_inputs(tmp: Path) -> list[tuple[Path, str]]:
    """(file, the exact sentence ``arena report --comparisons file`` must answer)."""
    good = json.dumps(_good_row())
    accepted = ".csv, .jsonl, .ndjson, .parquet"
    txt = tmp / "votes.txt"
    txt.write_text("model_a,model_b\n", encoding="utf-8")
    bare = tmp / "votes"
    bare.write_text("x", encoding="utf-8")
    xlsx = tmp / "votes.xlsx"
    xlsx.write_bytes(b"PK\x03\x04")
    bad_line = _jsonl(tmp / "bad-line.jsonl", [good, good, '{"model_a": "alpha", '])
    array = _jsonl(tmp / "array.jsonl", [good, '["alpha", "beta"]'])
    no_outcome = tmp / "no-outcome.csv"
    no_outcome.write_text(
        "model_a,model_b,rater,prompt,category,question,kind,decision_ms,seed\n"
        "alpha,beta,r1,p1,c,quality,2afc,900,0\n",
        encoding="utf-8",
    )
    no_rater = _jsonl(
        tmp / "no-rater.jsonl", [json.dumps({k: v for k, v in _good_row().items() if k != "rater"})]
    )
    bad_outcome = _jsonl(tmp / "bad-outcome.ndjson", [good, json.dumps(_good_row(outcome="left"))])
    bad_kind = _jsonl(tmp / "bad-kind.jsonl", [json.dumps(_good_row(kind="warmup"))])
    empty = tmp / "empty.csv"
    empty.write_text("", encoding="utf-8")
    not_parquet = tmp / "votes.parquet"
    not_parquet.write_text("model_a,model_b\n", encoding="utf-8")
    two_names = _jsonl(
        tmp / "two-names.jsonl",
        [
            json.dumps(_good_row(display_name_a="Alpha", display_name_b="Beta")),
            json.dumps(_good_row(display_name_a="Alpha?", display_name_b="Beta")),
        ],
    )
    missing = tmp / "nowhere.csv"
    return [
        (txt, f"{txt}: a comparisons file needs one of the suffixes {accepted}; it has the suffix '.txt'."),
        (bare, f"{bare}: a comparisons file needs one of the suffixes {accepted}; it has no suffix."),
        (xlsx, f"{xlsx}: Excel files (.xlsx) are not supported as comparisons files; expected one of {accepted}."),
        (bad_line, f"{bad_line}: line 3 is not valid JSON (Expecting property name enclosed in double quotes at column 22); expected one JSON object per line."),
        (array, f"{array}: line 2 is a JSON list, not an object; expected one JSON object per line."),
        (no_outcome, f"{no_outcome}: missing column(s) 'outcome'; expected the columns {COLUMNS} (docs/design.md, 'Comparisons DataFrame')."),
        (no_rater, f"{no_rater}: missing column(s) 'rater'; expected the columns {COLUMNS} (docs/design.md, 'Comparisons DataFrame')."),
        (bad_outcome, f"{bad_outcome}: column 'outcome' has 1 invalid value(s) such as 'left'; expected one of 'a', 'b', 'tie', 'both_bad'."),
        (bad_kind, f"{bad_kind}: column 'kind' has value(s) 'warmup'; expected one of '2afc', 'gold', 'repeat', 'practice'."),
        (empty, f"{empty}: the file is empty; expected a header line with the columns {COLUMNS}."),
        (not_parquet, f"{not_parquet}: not a Parquet file (it does not begin and end with the Parquet marker PAR1); expected a file written by arena export or pandas.DataFrame.to_parquet."),
        (two_names, f"{two_names}: model 'alpha' has the display names 'Alpha' and 'Alpha?' in the columns display_name_a / display_name_b; expected one name per model."),
        (missing, f"{missing}: comparisons file not found."),
    ]  # fmt: skip


def test_every_bad_comparisons_file_is_one_sentence(tmp_path: Path) -> None:
    for path, sentence in _bad_inputs(tmp_path):
        code, output = arena("report", "--comparisons", str(path), "--out", str(tmp_path / "r"))
        assert (code, output) == (1, f"Error: {sentence}\n"), path.name


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("votes.xlsx", "Excel files (.xlsx) are not supported as comparisons files; expected one of"),
        ("votes.json", "a comparisons file needs one of the suffixes .csv, .jsonl, .ndjson, "
                       ".parquet; it has the suffix '.json'."),
    ],
)  # fmt: skip
def test_export_refuses_a_format_it_does_not_write(voted: Study, tmp_path: Path, name, why) -> None:
    out = tmp_path / "out" / name
    code, output = arena("export", "--study", str(voted.path), "--out", str(out))
    assert code == 1 and output.startswith(f"Error: {out}: {why}"), output
    assert output.count("\n") == 1 and not out.parent.exists()


#: Runs the real CLI in a fresh interpreter where pyarrow cannot be imported, as on an install
#: without it (``sys.modules[name] = None`` is how Python spells "this import fails").
_WITHOUT_PYARROW = """
import sys
sys.modules["pyarrow"] = None
from arena.cli import main
main(sys.argv[1:])
"""


def test_parquet_without_pyarrow_names_the_package(voted: Study, tmp_path: Path) -> None:
    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-c", _WITHOUT_PYARROW, *args],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )

    out = tmp_path / "votes.parquet"
    written = run("export", "--study", str(voted.path), "--out", str(out))
    assert (written.returncode, written.stderr) == (
        1,
        f"Error: {out}: writing Parquet files needs the package 'pyarrow', which is not "
        "installed: pip install pyarrow (or use a .csv or .jsonl file).\n",
    )
    assert not out.exists()
    assert arena("export", "--study", str(voted.path), "--out", str(out))[0] == 0
    read = run("report", "--comparisons", str(out), "--out", str(tmp_path / "r"))
    assert (read.returncode, read.stderr) == (
        1,
        f"Error: {out}: reading Parquet files needs the package 'pyarrow', which is not "
        "installed: pip install pyarrow (or use a .csv or .jsonl file).\n",
    )


@pytest.mark.parametrize("suffix", [".csv", ".jsonl"])
def test_ids_that_look_like_numbers_stay_text(tmp_path: Path, suffix: str) -> None:
    from arena.comparisons_io import read_comparisons

    row = {
        "model_a": "1",
        "model_b": "02",
        "outcome": "a",
        "rater": "007",
        "prompt": "12",
        "category": "0",
        "question": "quality",
        "kind": "2afc",
        "decision_ms": 900,
        "seed": 0,
    }
    path = tmp_path / f"votes{suffix}"
    if suffix == ".csv":
        path.write_text(",".join(row) + "\n" + ",".join(str(v) for v in row.values()) + "\n")
    else:
        path.write_text(json.dumps(row) + "\n")
    got = read_comparisons(path).iloc[0]
    for column in ("model_a", "model_b", "rater", "prompt", "category"):
        assert str(got[column]) == row[column], column
