"""Study files and prompt sets: valid files load, every malformed one names file and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from arena.demo import DEMO_STUDY
from arena.prompts import PromptError, load_prompts
from arena.study import StudyError, load_study

BASE = """
name = "s1"
models = ["a", "b"]
seeds = [0, 1]
quota = 4
[prompts]
file = "prompts.tsv"
"""


def write_study(tmp_path: Path, text: str) -> Path:
    (tmp_path / "prompts.tsv").write_text(
        "Prompt\tCategory\tChallenge\tNote\na cat\tAnimals\tBasic\t\na car\tVehicles\tBasic\t\n"
    )
    path = tmp_path / "study.toml"
    path.write_text(text)
    return path


def test_demo_study_loads_with_defaults() -> None:
    study = load_study(DEMO_STUDY)
    assert study.name == "demo"
    assert len(study.models) >= 2
    assert study.choices == ("left", "right")
    assert study.database_url == f"sqlite:///{DEMO_STUDY.parent / 'arena.db'}"
    assert study.image_dir == DEMO_STUDY.parent / "images"
    assert [q.id for q in study.questions] == ["quality", "alignment"]
    prompts = load_prompts(study.prompts_file)
    assert len(prompts) >= 10 and all(p.category for p in prompts)


def test_minimal_study_paths_are_relative_to_the_file(tmp_path: Path) -> None:
    study = load_study(write_study(tmp_path, BASE + "\n[responses]\ntie = true\n"))
    assert study.prompts_file == (tmp_path / "prompts.tsv").resolve()
    assert study.seeds == (0, 1)
    assert study.choices == ("left", "right", "tie")
    assert study.questions[0].id == "quality"


def test_relative_sqlite_url_lands_in_the_study_folder(tmp_path: Path) -> None:
    study = load_study(write_study(tmp_path, 'database = "sqlite:///votes.db"\n' + BASE))
    assert study.database_url == f"sqlite:///{tmp_path.resolve() / 'votes.db'}"


@pytest.mark.parametrize(
    ("edit", "needles"),
    [
        (lambda t: t.replace("models =", "modles ="), ["'modles'", "(did you mean 'models'?)"]),
        (lambda t: t.replace('models = ["a", "b"]', 'models = ["a"]'), ["'models'", "two"]),
        (lambda t: t.replace("quota = 4", "quota = true"), ["'quota'", "positive integer"]),
        (lambda t: t.replace("quota = 4", "quota = 0"), ["'quota'", "positive integer"]),
        (lambda t: t.replace("seeds = [0, 1]", "seeds = [0, 0]"), ["'seeds'", "repeats"]),
        (lambda t: t.replace('file = "prompts.tsv"', 'file = "nope.tsv"'), ["'prompts.file'"]),
        (lambda t: t.replace('name = "s1"', 'name = "has space"'), ["'name'"]),
        (lambda t: t.replace('name = "s1"', ""), ["missing key 'name'"]),
        (lambda t: t + "\n[[questions]]\nid = 'q'\ntxt = 'x'\n", ["'questions[0].txt'"]),
        (lambda t: t + "\n[responses]\nties = true\n", ["'responses.ties'", "'tie'"]),
        (lambda t: 'name = "x"\n' + t, ["not valid TOML"]),
    ],
)
def test_malformed_study_names_file_and_key(tmp_path: Path, edit, needles) -> None:
    path = write_study(tmp_path, edit(BASE))
    with pytest.raises(StudyError) as info:
        load_study(path)
    message = str(info.value)
    assert str(path) in message
    for needle in needles:
        assert needle in message


def test_partiprompts_tsv_csv_and_jsonl(tmp_path: Path) -> None:
    tsv = tmp_path / "parti.tsv"
    tsv.write_text(
        "Prompt\tCategory\tChallenge\tNote\n"
        "a dog\tAnimals\tBasic\t\n"
        "a bridge at night\tOutdoor Scenes\tBasic\tnote here\n"
        "a cat\tAnimals\tImagination\t\n"
    )
    prompts = load_prompts(tsv)
    assert [p.id for p in prompts] == ["p0001", "p0002", "p0003"]
    assert prompts[1].note == "note here"
    animals = load_prompts(tsv, categories=["animals"])
    assert [p.text for p in animals] == ["a dog", "a cat"]
    assert load_prompts(tsv, limit=1)[0].text == "a dog"

    csv_file = tmp_path / "p.csv"
    csv_file.write_text('id,prompt,category\nx1,"a red, round ball",Objects\n')
    assert load_prompts(csv_file)[0] == load_prompts(csv_file)[0]
    assert load_prompts(csv_file)[0].id == "x1"
    assert load_prompts(csv_file)[0].text == "a red, round ball"

    jsonl = tmp_path / "p.jsonl"
    jsonl.write_text('{"text": "a tree", "category": "Plants"}\n\n{"prompt": "a rock"}\n')
    assert [p.text for p in load_prompts(jsonl)] == ["a tree", "a rock"]


@pytest.mark.parametrize(
    ("name", "body", "needle"),
    [
        ("bad.tsv", "Text2\tCategory\nx\ty\n", "line 1: no 'Prompt' column"),
        ("empty.tsv", "Prompt\tCategory\na\tb\n\tc\n", "line 3: the prompt text is empty"),
        ("extra.tsv", "Prompt\tCategory\na\tb\tc\n", "line 2: more fields"),
        ("dup.csv", "id,prompt\na,x\na,y\n", "line 3: prompt id 'a' repeats line 2"),
        ("bad.jsonl", '{"prompt": "a"}\n{oops\n', "line 2: not valid JSON"),
        ("p.txt", "a\n", "expected .tsv, .csv or .jsonl"),
    ],
)
def test_bad_prompt_rows_name_file_and_line(tmp_path: Path, name, body, needle) -> None:
    path = tmp_path / name
    path.write_text(body)
    with pytest.raises(PromptError) as info:
        load_prompts(path)
    assert str(path) in str(info.value)
    assert needle in str(info.value)


TWO_QUESTIONS = (
    BASE.replace('models = ["a", "b"]', 'models = ["a", "b", "c"]')
    + '[[questions]]\nid = "quality"\ntext = "Which is better?"\n'
    + '[[questions]]\nid = "alignment"\ntext = "Which matches?"\n'
)


def test_declared_comparisons_load_with_their_defaults(tmp_path: Path) -> None:
    text = (
        'reference = "b"\n'
        + TWO_QUESTIONS
        + (
            '[[comparisons]]\na = "a"\nb = "c"\nclaim = "non-inferiority"\nmargin = 0.05\n'
            'questions = ["quality"]\n[[comparisons]]\na = "b"\nb = "a"\n'
        )
    )
    study = load_study(write_study(tmp_path, text))
    assert study.reference == "b"
    first, second = study.comparisons
    assert (first.model_a, first.model_b, first.claim, first.margin) == (
        "a",
        "c",
        "non-inferiority",
        0.05,
    )
    assert first.questions == ("quality",)
    assert (second.claim, second.margin, second.questions) == ("superiority", 0.0, ())
    plain = load_study(write_study(tmp_path, TWO_QUESTIONS))
    assert plain.reference == "a" and plain.comparisons == ()


@pytest.mark.parametrize(
    ("table", "needles"),
    [
        ('a = "a"\nb = "x"', ["'comparisons[0].b'", "one of the study's models (a, b, c)", "'x'"]),
        ('a = "a"\nb = "a"', ["'comparisons[0].b'", "a model other than a"]),
        ('a = "a"\nb = "b"\nclaim = "better"', ["'comparisons[0].claim'", "'superiority'"]),
        (
            'a = "a"\nb = "b"\nclaim = "equivalence"',
            ["'comparisons[0].margin'", "between 0 and 0.5"],
        ),
        (
            'a = "a"\nb = "b"\nclaim = "non-inferiority"\nmargin = 5',
            ["'comparisons[0].margin'", "not 5"],
        ),
        ('a = "a"\nb = "b"\nmargin = 0.1', ["'comparisons[0].margin'", "takes no margin"]),
        (
            'a = "a"\nb = "b"\nquestions = ["style"]',
            ["'comparisons[0].questions'", "quality, alignment"],
        ),
        ('a = "a"\nb = "b"\nmodel = "c"', ["unknown key 'comparisons[0].model'"]),
        ('b = "b"', ["missing key 'comparisons[0].a'"]),
    ],
)
def test_a_bad_comparison_names_the_file_and_key(tmp_path: Path, table: str, needles) -> None:
    path = write_study(tmp_path, TWO_QUESTIONS + "[[comparisons]]\n" + table + "\n")
    with pytest.raises(StudyError) as err:
        load_study(path)
    message = str(err.value)
    assert message.startswith(str(path))
    for needle in needles:
        assert needle in message


def test_a_reference_outside_the_study_names_the_key(tmp_path: Path) -> None:
    with pytest.raises(StudyError, match=r"key 'reference' must be one of the study's models"):
        load_study(write_study(tmp_path, 'reference = "z"\n' + TWO_QUESTIONS))


LONG = "x" * 140_000


@pytest.mark.parametrize(
    ("name", "body", "needle"),
    [
        (
            "latin1.csv",
            "id,prompt\np1,caf\xe9\n".encode("latin-1"),
            "latin1.csv: line 2: not UTF-8 text (byte 0xe9); save the file as UTF-8.",
        ),
        ("nul.tsv", b"Prompt\tCategory\na\x00b\tc\n", "line 2: a NUL character"),
        (
            "nul.jsonl",
            b'{"prompt": "a\\u0000b"}\n',
            "line 1: column 'prompt' holds a NUL character",
        ),
        (
            "quote.csv",
            b'id,prompt\np1,"a red cube\np2,a cat\np3,a dog\n',
            'line 2: a quote (") opens a field that is never closed',
        ),
        (
            "runs-on.csv",
            b'id,prompt\np1,"a red cube\np2,a cat"\np3,a dog\n',
            "line 2: a quoted field runs on to line 3; expected one prompt per line",
        ),
        (
            "huge.csv",
            f"id,prompt\np1,a\np2,{LONG}\n".encode(),
            "line 3: a field has more than 131,072 characters; expected at most 10,000",
        ),
        (
            "long.csv",
            f"id,prompt\np1,{'y' * 10_001}\n".encode(),
            "line 2: column 'prompt' has 10,001 characters; expected at most 10,000",
        ),
        (
            "long.jsonl",
            f'{{"prompt": "a"}}\n{{"prompt": "{LONG}"}}\n'.encode(),
            "line 2: column 'prompt' has 140,000 characters; expected at most 10,000",
        ),
    ],
)
def test_unreadable_prompt_files_name_file_and_line(tmp_path: Path, name, body, needle) -> None:
    path = tmp_path / name
    path.write_bytes(body)
    with pytest.raises(PromptError) as info:
        load_prompts(path)
    assert str(info.value).startswith(f"{path}: line ")  # the study files' grammar
    assert needle in str(info.value)


@pytest.mark.parametrize("name", ["bom.csv", "bom.tsv", "bom.jsonl"])
def test_a_byte_order_mark_changes_no_id(tmp_path: Path, name: str) -> None:
    """Excel's "CSV UTF-8" starts with a BOM; it must not hide the 'id' column."""
    path = tmp_path / name
    body = {
        ".csv": "id,prompt\nx1,a cat\nx2,a dog\n",
        ".tsv": "id\tprompt\nx1\ta cat\nx2\ta dog\n",
        ".jsonl": '{"id": "x1", "prompt": "a cat"}\n{"id": "x2", "prompt": "a dog"}\n',
    }[path.suffix]
    path.write_text(body, encoding="utf-8-sig")
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")
    assert [(p.id, p.text) for p in load_prompts(path)] == [("x1", "a cat"), ("x2", "a dog")]


def test_toml_cut_short_names_the_last_line(tmp_path: Path) -> None:
    path = write_study(tmp_path, 'name = "x"\nmodels = ["a", "b"\n')
    with pytest.raises(StudyError) as info:
        load_study(path)
    assert str(info.value) == f"{path}: line 2: not valid TOML (Unclosed array)."
