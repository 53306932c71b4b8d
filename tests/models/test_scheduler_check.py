"""`arena models validate` checks [scheduler] keys against the scheduler class, in seconds."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from arena.cli import cli

pytest.importorskip("diffusers")


def validate(cards: Path) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["models", "validate", "--cards", str(cards)])
    assert "Traceback" not in result.output
    return result.exit_code, result.output.strip()


@pytest.mark.parametrize(
    ("scheduler", "fragments"),
    [
        (
            'class = "EulerDiscreteScheduler"\ntimestep_spcing = "trailing"',
            ["unknown key 'scheduler.timestep_spcing'", "did you mean 'timestep_spacing'"],
        ),
        ('class = "EulerDiscreteScheduler"\nfoo = 1', ["'scheduler.foo'", "valid keys: beta_end"]),
        ('class = "EulerDiscretScheduler"', ["key 'scheduler.class'", "'EulerDiscreteScheduler'"]),
    ],
)
def test_an_unknown_scheduler_key_is_refused(write_card, tmp_path, scheduler, fragments) -> None:
    card = write_card(
        "s", f'display_name = "x"\nbackend = "diffusers"\nrepo = "a/b"\n[scheduler]\n{scheduler}\n'
    )
    code, output = validate(card.parent)
    assert code == 1 and output.startswith(f"Error: {card}: "), output
    for fragment in fragments:
        assert fragment in output


def test_the_checkpoints_own_scheduler_class_is_read_from_its_folder(
    write_card, tiny_sdxl: Path
) -> None:
    """No class in the card: the keys are checked against the checkpoint's scheduler config."""
    body = f'display_name = "x"\nbackend = "diffusers"\nrepo = "{tiny_sdxl.as_posix()}"\n'
    card = write_card("own", body + '[scheduler]\ntimestep_spacing = "trailing"\n')
    assert validate(card.parent) == (0, "1 model cards are valid.")
    card.write_text(card.read_text() + "karras = true\n")
    code, output = validate(card.parent)
    assert code == 1 and "unknown key 'scheduler.karras'" in output, output


def test_a_class_unknown_offline_is_said(write_card) -> None:
    card = write_card(
        "hub",
        'display_name = "x"\nbackend = "diffusers"\nrepo = "nobody/none"\n'
        '[scheduler]\ntimestep_spacing = "trailing"\n',
    )
    code, output = validate(card.parent)
    assert code == 0 and "not checked" in output and "hub" in output, output
