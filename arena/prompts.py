"""Prompt sets: PartiPrompts-style TSV, plain CSV and JSONL files.

A prompt's id is the file's ``id`` column when there is one, else ``p`` and its 1-based row
number (``p0001``), which stays stable as long as the file is only appended to.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from pathlib import Path

from models.tomlcheck import decode_utf8

__all__ = ["MAX_FIELD_CHARS", "Prompt", "PromptError", "load_prompts"]

_TEXT_COLUMNS = ("prompt", "text")
#: The longest field (prompt text, id, category, ...) any prompt file may hold, whatever its
#: format: far beyond what a text encoder reads (CLIP 77 tokens, T5 512), and short enough for
#: the rater's page. Python's csv module stops at 131,072 characters on its own.
MAX_FIELD_CHARS = 10_000


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


def _read_text(path: Path) -> str:
    """The file as text: UTF-8, a leading byte-order mark dropped, no NUL characters."""
    text = decode_utf8(path.read_bytes(), str(path), PromptError)
    nul = text.find("\x00")
    if nul >= 0:
        line = text.count("\n", 0, nul) + 1
        raise PromptError(
            f"{path}: line {line}: a NUL character; expected plain UTF-8 text (a UTF-16 or "
            "binary file has them)."
        )
    return text


def _check_fields(path: Path, line_no: int, row: dict[str, str]) -> dict[str, str]:
    for column, value in row.items():
        if "\x00" in value:  # a JSON line can spell one as \u0000
            raise PromptError(
                f"{path}: line {line_no}: column '{column}' holds a NUL character; expected "
                "plain text."
            )
        if len(value) > MAX_FIELD_CHARS:
            raise PromptError(
                f"{path}: line {line_no}: column '{column}' has {len(value):,} characters; "
                f"expected at most {MAX_FIELD_CHARS:,}."
            )
    return row


def _records(path: Path, text: str, delimiter: str) -> list[tuple[int, list[str]]]:
    """The file's non-blank records with their line numbers; each must be one line."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    records = []
    while True:
        start = reader.line_num + 1
        try:
            record = next(reader)
        except StopIteration:
            return records
        except csv.Error as exc:
            raise PromptError(_csv_problem(path, start, reader.line_num, str(exc))) from None
        if reader.line_num > start:
            # A stray quote pairs with the next one, however far away, and the prompts between
            # them become one prompt: refused rather than guessed at.
            raise PromptError(
                f"{path}: line {start}: a quoted field runs on to line {reader.line_num}; "
                'expected one prompt per line (close the quote (") on the line it opens).'
            )
        if record:
            records.append((start, record))


def _csv_problem(path: Path, start: int, line: int, reason: str) -> str:
    if "unexpected end of data" in reason:
        return (
            f'{path}: line {start}: a quote (") opens a field that is never closed; expected '
            "the closing quote on the same line."
        )
    if "field larger than field limit" in reason:
        return (
            f"{path}: line {line}: a field has more than {csv.field_size_limit():,} characters; "
            f"expected at most {MAX_FIELD_CHARS:,}."
        )
    return f"{path}: line {line}: not a readable row ({reason}); expected delimited fields."


def _rows_delimited(path: Path, delimiter: str) -> list[tuple[int, dict[str, str]]]:
    records = _records(path, _read_text(path), delimiter)
    if not records:
        raise PromptError(f"{path}: the file is empty; expected a header row.")
    header_line, fieldnames = records[0]
    header = {name.strip().lower() for name in fieldnames if name}
    if not header & set(_TEXT_COLUMNS):
        raise PromptError(
            f"{path}: line {header_line}: no 'Prompt' column in the header {fieldnames}; "
            "expected PartiPrompts' columns Prompt, Category, Challenge, Note."
        )
    names = [name.strip().lower() for name in fieldnames]
    rows = []
    for line_no, record in records[1:]:
        if len(record) > len(names):
            raise PromptError(f"{path}: line {line_no}: more fields than the header has.")
        values = dict(zip(names, (v.strip() for v in record), strict=False))
        row = {name: values.get(name, "") for name in names}
        rows.append((line_no, _check_fields(path, line_no, row)))
    return rows


def _rows_jsonl(path: Path) -> list[tuple[int, dict[str, str]]]:
    rows = []
    for line_no, line in enumerate(_read_text(path).splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise PromptError(f"{path}: line {line_no}: not valid JSON ({exc.msg}).") from None
        if not isinstance(obj, dict):
            raise PromptError(f"{path}: line {line_no}: expected a JSON object.")
        row = {str(k).lower(): str(v).strip() for k, v in obj.items()}
        rows.append((line_no, _check_fields(path, line_no, row)))
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
        When the file is missing, is not UTF-8 or holds a NUL character, a quoted field is not
        closed on its line, a field is longer than :data:`MAX_FIELD_CHARS`, a row has no prompt
        text, ids repeat, or nothing is left. A leading UTF-8 byte-order mark is ignored.
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
            raise PromptError(f"{path}: line {line_no}: the prompt text is empty.")
        pid = row.get("id") or f"p{index:04d}"
        if pid in seen:
            raise PromptError(
                f"{path}: line {line_no}: prompt id '{pid}' repeats line {seen[pid]}."
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
