"""The study file's ``[live]`` table: which models may answer a rater's own prompt.

Checked when the study file is loaded (``arena.study.load_study`` calls :func:`check_live`),
with the study's own error class and message grammar: the file, the key, what was expected and
what was found.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from models.tomlcheck import Table, read_toml

if TYPE_CHECKING:
    from arena.study import Study

__all__ = ["LIVE_KEYS", "LiveSettings", "check_live", "live_settings"]

#: The ``[live]`` table's keys and their descriptions (docs/writing-a-study.md).
LIVE_KEYS: dict[str, str] = {
    "models": "model card ids that may answer a rater's prompt (at least two; any cards, not only the study's)",
    "max_prompt_chars": "longest prompt a rater may type, in characters (default 300, at most 2000)",
    "queue": "prompts waiting for the generation worker before a new one is refused as busy (default 8)",
    "device": "where the worker runs the pipelines: 'cpu', 'cuda', 'mps' (default: the best there is)",
}
DEFAULT_MAX_CHARS, MOST_CHARS, DEFAULT_QUEUE, MOST_QUEUE = 300, 2000, 8, 1000


@dataclass(frozen=True)
class LiveSettings:
    """A validated ``[live]`` table; ``cards_dir`` is the study's folder of model cards."""

    models: tuple[str, ...]
    cards_dir: Path
    image_dir: Path
    max_prompt_chars: int = DEFAULT_MAX_CHARS
    queue: int = DEFAULT_QUEUE
    device: str | None = None

    @property
    def folder(self) -> Path:
        """Where the live images go: the ``live/`` subfolder of the study's image folder."""
        return self.image_dir / "live"


def _int(check: Table, key: str, default: int, most: int) -> int:
    value = check.table.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= most:
        raise check.fail(key, f"a whole number from 1 to {most}", value)
    return value


def check_live(
    path: Path, table: Any, cards_dir: Path | None = None, image_dir: Path | None = None
) -> LiveSettings | None:
    """Validate a ``[live]`` table (``None``: the study has no live mode).

    Raises
    ------
    arena.study.StudyError
        When the table is not a table, a key is unknown, or a value is not what it must be
        (models.tomlcheck's grammar, as every study key).
    """
    from arena.study import StudyError  # late: arena.study imports this module

    if table is None:
        return None
    if not isinstance(table, dict):
        raise Table(str(path), {}, StudyError).fail("live", "a table ([live])", table)
    check = Table(str(path), table, StudyError, "live.")
    check.check_keys(LIVE_KEYS)
    models = check.get("models", list, "a list of at least two model card ids")
    expected = "a list of at least two model card ids"
    if len(models) < 2 or not all(isinstance(m, str) and m and m[0] != "_" for m in models):
        raise check.fail("models", expected, models)
    if len(set(models)) != len(models):
        raise check.fail("models", "a list without repeats", models)
    device = table.get("device")
    if device is not None and device not in ("cpu", "cuda", "mps"):
        raise check.fail("device", "'cpu', 'cuda' or 'mps'", device)
    return LiveSettings(
        models=tuple(models),
        cards_dir=cards_dir or path.parent,
        image_dir=image_dir or path.parent / "images",
        max_prompt_chars=_int(check, "max_prompt_chars", DEFAULT_MAX_CHARS, MOST_CHARS),
        queue=_int(check, "queue", DEFAULT_QUEUE, MOST_QUEUE),
        device=device,
    )


def live_settings(study: Study) -> LiveSettings | None:
    """The study's ``[live]`` table, read again from its file (checked at load already), or None.

    Its model ids must name cards in the study's card folder: checked here, where the cards are
    read, so that a missing card is said before the server starts.
    """
    from arena.study import StudyError

    data, _ = read_toml(study.path, StudyError)
    settings = check_live(study.path, data.get("live"), study.cards_dir, study.image_dir)
    if settings is None:
        return None
    from models.cards import load_cards  # card files only: no torch

    known = load_cards(study.cards_dir)
    missing = [m for m in settings.models if m not in known]
    if missing:
        check = Table(str(study.path), data["live"], StudyError, "live.")
        raise check.fail("models", f"model card ids found in {study.cards_dir}", missing)
    return settings
