"""The CLI: documented, and errors reach users as one plain sentence."""

from __future__ import annotations

import re
from pathlib import Path

import click
from click.testing import CliRunner

from arena.cli import cli
from arena.study import STUDY_KEYS

ROOT = Path(__file__).resolve().parents[2]


def walk(group: click.Group, prefix: str = "arena"):
    for name, command in group.commands.items():
        path = f"{prefix} {name}"
        if isinstance(command, click.Group):
            yield from walk(command, path)
        else:
            yield path, command


def test_every_command_and_option_is_documented() -> None:
    doc = (ROOT / "docs" / "cli.md").read_text()
    commands = list(walk(cli))
    assert len(commands) >= 8
    for path, command in commands:
        assert f"`{path}" in doc, f"{path} is not in docs/cli.md"
        for param in command.params:
            for opt in getattr(param, "opts", []):
                if opt.startswith("--") and opt != "--help":
                    assert f"`{opt}" in doc, f"{path} {opt} is not in docs/cli.md"


def test_every_study_key_is_documented() -> None:
    doc = (ROOT / "docs" / "writing-a-study.md").read_text()
    for key in STUDY_KEYS:
        assert re.search(rf"`{key}`", doc), f"study key {key} is not in docs/writing-a-study.md"


def test_errors_are_one_sentence_without_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "study.toml"
    bad.write_text('name = "x"\nmodles = ["a", "b"]\n')
    result = CliRunner().invoke(cli, ["generate", "--study", str(bad)])
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert "unknown key 'modles'" in result.output
    assert str(bad) in result.output


def test_report_needs_exactly_one_source() -> None:
    result = CliRunner().invoke(cli, ["report"])
    assert result.exit_code == 2
    assert "exactly one of --study or --comparisons" in result.output


def test_plan_prints_the_count() -> None:
    result = CliRunner().invoke(cli, ["plan", "--win-rate", "0.6", "--design-effect", "1.5"])
    assert result.exit_code == 0, result.output
    assert re.search(r"^\d+ votes per pair", result.output)
    bad = CliRunner().invoke(cli, ["plan", "--win-rate", "0.5"])
    assert bad.exit_code == 2
    assert "Invalid value for '--win-rate': expected a win rate other than 0.5" in bad.output


def test_report_and_export_on_a_missing_database_say_so_and_create_nothing(make_study, tmp_path):
    study, _ = make_study()
    missing = tmp_path / "typo" / "arena.db"
    for args in (["report"], ["export", "--out", str(tmp_path / "votes.csv")]):
        result = CliRunner().invoke(
            cli, [*args, "--study", str(study.path), "--database", f"sqlite:///{missing}"]
        )
        assert result.exit_code == 1, result.output
        assert f"No database at {missing}" in result.output
        assert "Traceback" not in result.output
        assert not missing.exists() and not (tmp_path / "votes.csv").exists()


def test_report_choices_come_from_analysis_and_are_documented() -> None:
    """``--ties`` and ``--cluster`` offer analysis.modes' words (one definition), each one
    documented in docs/cli.md and described in the report's methods section."""
    from analysis.modes import (
        BOOTSTRAP_UNIT_TEXT,
        BOOTSTRAP_UNITS,
        DEFAULT_TIE_MODE,
        TIE_MODE_TEXT,
        TIE_MODES,
    )

    options = {p.name: p for p in cli.commands["report"].params}
    assert tuple(options["ties"].type.choices) == TIE_MODES
    assert options["ties"].default == DEFAULT_TIE_MODE
    assert tuple(options["cluster"].type.choices) == BOOTSTRAP_UNITS
    assert tuple(TIE_MODE_TEXT) == TIE_MODES and tuple(BOOTSTRAP_UNIT_TEXT) == BOOTSTRAP_UNITS
    doc = (ROOT / "docs" / "cli.md").read_text()
    ties = doc[doc.index("`--ties") :].split("\n- ")[0]
    cluster = doc[doc.index("`--cluster") :].split("\n- ")[0]
    assert all(f"`{m}`" in ties for m in TIE_MODES), ties
    assert all(f"`{u}`" in cluster for u in BOOTSTRAP_UNITS), cluster


def test_plan_for_a_study_counts_its_pairs_and_the_time_left(make_study, tmp_path) -> None:
    from arena.ingest import ingest
    from arena.store import RaterIdentity, Store

    study, prompts = make_study(models=("alpha", "beta", "gamma"), n_prompts=6, quota=6)
    before = CliRunner().invoke(cli, ["plan", "--study", str(study.path)])
    assert before.exit_code == 0, before.output
    assert "votes per compared pair" in before.output and "(no votes yet: 1)" in before.output
    assert "Compared: alpha vs beta, alpha vs gamma." in before.output
    assert not (study.folder / "arena.db").exists()  # planning creates no database
    store = Store.open(study.database_url)
    try:
        ingest(store, study, prompts)
        for r in range(4):
            rater = store.join(study, RaterIdentity(f"r{r}"))
            p = store.next_trial(study, rater)
            while not p.done:
                _, p = store.vote_and_next(study, rater, p.trial.token, "left", 400.0)
    finally:
        store.close()
    during = CliRunner().invoke(cli, ["plan", "--study", str(study.path), "--half-width", "50"])
    assert during.exit_code == 0, during.output
    assert "measured on the votes so far" in during.output
    assert re.search(r"24 rated votes so far, \d+ per hour \(measured over the last under a "
                     r"minute\): \d+ to go, about [\d.]+ h", during.output)  # fmt: skip
    alone = CliRunner().invoke(cli, ["plan", "--half-width", "50"])
    assert alone.exit_code == 2 and "--half-width needs --study" in alone.output
