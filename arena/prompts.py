"""Prompt sets: PartiPrompts-style TSV, plain CSV and JSONL files.

A prompt's id is the file's ``id`` column when there is one, else ``p`` and its 1-based row
number (``p0001``), which stays stable as long as the file is only appended to.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Prompt", "PromptError", "load_prompts"]

_TEXT_COLUMNS = ("prompt", "text")


class PromptError(ValueError):
    """A prompt file is malformed; the message names the file and the line."""


@dataclass(frozen=True)
class Prompt:
    """One prompt of a prompt set."""

    id: str
    text: str
    category: str = ""
    challenge: str = ""
    note: str = ""


def _rows_delimited(path: Path, delimiter: str) -> list[tuple[int, dict[str, str]]]:
    with path.open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh, delimiter=delimiter)
        if not reader.fieldnames:
            raise PromptError(f"{path}: the file is empty; expected a header row.")
        header = {name.strip().lower() for name in reader.fieldnames if name}
        if not header & set(_TEXT_COLUMNS):
            raise PromptError(
                f"{path}, line 1: no 'Prompt' column in the header {reader.fieldnames}; "
                "expected PartiPrompts' columns Prompt, Category, Challenge, Note."
            )
        rows = []
        for row in reader:
            if None in row:
                raise PromptError(
                    f"{path}, line {reader.line_num}: more fields than the header has."
                )
            rows.append(
                (reader.line_num, {k.strip().lower(): (v or "").strip() for k, v in row.items()})
            )
        return rows


def _rows_jsonl(path: Path) -> list[tuple[int, dict[str, str]]]:
    rows = []
    for line_no, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise PromptError(f"{path}, line {line_no}: not valid JSON ({exc.msg}).") from None
        if not isinstance(obj, dict):
            raise PromptError(f"{path}, line {line_no}: expected a JSON object.")
        rows.append((line_no, {str(k).lower(): str(v).strip() for k, v in obj.items()}))
    return rows


def load_prompts(
    path: str | Path, categories: tuple[str, ...] | list[str] = (), limit: int | None = None
) -> list[Prompt]:
    """Load a prompt set.

    Parameters
    ----------
    path
        A ``.tsv`` (PartiPrompts layout: ``Prompt``, ``Category``, ``Challenge``, ``Note``),
        ``.csv`` (a ``prompt`` column, optional ``id`` and ``category``) or ``.jsonl`` file
        (objects with ``prompt`` or ``text``, optional ``id`` and ``category``).
    categories
        Keep only prompts of these categories (case-insensitive); empty keeps all.
    limit
        Keep at most this many prompts (after filtering), in file order.

    Raises
    ------
    PromptError
        When the file is missing, a row has no prompt text, ids repeat, or nothing is left.
    """
    path = Path(path)
    if not path.is_file():
        raise PromptError(f"{path}: prompt file not found.")
    suffix = path.suffix.lower()
    if suffix == ".tsv":
        rows = _rows_delimited(path, "\t")
    elif suffix == ".csv":
        rows = _rows_delimited(path, ",")
    elif suffix in (".jsonl", ".ndjson"):
        rows = _rows_jsonl(path)
    else:
        raise PromptError(
            f"{path}: unknown prompt file type '{suffix}'; expected .tsv, .csv or .jsonl."
        )

    wanted = {c.lower() for c in categories}
    prompts: list[Prompt] = []
    seen: dict[str, int] = {}
    for index, (line_no, row) in enumerate(rows, start=1):
        text = next((row[c] for c in _TEXT_COLUMNS if row.get(c)), "")
        if not text:
            raise PromptError(f"{path}, line {line_no}: the prompt text is empty.")
        pid = row.get("id") or f"p{index:04d}"
        if pid in seen:
            raise PromptError(
                f"{path}, line {line_no}: prompt id '{pid}' repeats line {seen[pid]}."
            )
        seen[pid] = line_no
        prompt = Prompt(
            id=pid,
            text=text,
            category=row.get("category", ""),
            challenge=row.get("challenge", ""),
            note=row.get("note", ""),
        )
        if wanted and prompt.category.lower() not in wanted:
            continue
        prompts.append(prompt)
    if limit is not None:
        prompts = prompts[:limit]
    if not prompts:
        which = f" in categories {sorted(wanted)}" if wanted else ""
        raise PromptError(f"{path}: no prompts{which}.")
    return prompts
