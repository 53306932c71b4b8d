"""Reading and checking the project's TOML files (study files, model cards) with one grammar.

Every problem is one sentence naming the file first; a key is named by its dotted path as TOML
spells it (``quota``, ``prompts.file``, ``questions[0].id``, ``call.height``,
``scheduler.class``) and a value as it is written in the file (``'ten'``, ``true``, ``[1, 2]``)::

    <file>: key 'K' must be <expected>, not <actual>.
    <file>: missing key 'K' (<expected>).
    <file>: unknown key 'K' (did you mean 'X'?); valid keys: a, b, c.
    <file>: line N: not valid TOML (<reason>).        (and: not UTF-8 text, no such file)

Each caller raises its own error class (``StudyError``, ``CardError``). Standard library only:
``models`` never imports ``arena``, so both share this module from here, and the arena server
imports it without torch. docs/design.md ("Errors") documents the grammar.
"""

from __future__ import annotations

import difflib
import re
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised only on Python 3.10
    import tomli as tomllib

__all__ = ["MISSING", "Table", "decode_utf8", "read_toml", "shown", "suggestion"]

#: The default of :meth:`Table.get` that makes a key required.
MISSING: Any = object()
_LINE_RE = re.compile(r"\s*\(at line (\d+), column (\d+)\)")
_END_RE = re.compile(r"\s*\(at end of document\)")
_SHOWN_MAX = 80


def shown(value: Any) -> str:
    """``value`` spelled as in a TOML file (``true``, not ``True``), shortened when long."""
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, dict):
        text = "{" + ", ".join(f"{k} = {shown(v)}" for k, v in value.items()) + "}"
    elif isinstance(value, list):
        text = "[" + ", ".join(shown(v) for v in value) + "]"
    else:
        text = repr(value)
    return text if len(text) <= _SHOWN_MAX else text[: _SHOWN_MAX - 3] + "..."


def suggestion(word: str, options: Iterable[str], cutoff: float = 0.6) -> str:
    """``" (did you mean 'x'?)"`` for the closest of ``options``, or ``""``."""
    match = difflib.get_close_matches(word, list(options), n=1, cutoff=cutoff)
    return f" (did you mean '{match[0]}'?)" if match else ""


def decode_utf8(raw: bytes, where: str, error: type[ValueError]) -> str:
    """``raw`` as UTF-8 text, a leading byte-order mark dropped (Notepad and Excel write one;
    left in, it would become part of the first key or column name); bytes that are not UTF-8
    raise ``error`` naming ``where`` and the line. Study files, cards and prompt files share it."""
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise error(
            f"{where}: line {line}: not UTF-8 text (byte 0x{raw[exc.start]:02x}); "
            "save the file as UTF-8."
        ) from None


def read_toml(
    path: Path, error: type[ValueError], where: str | None = None
) -> tuple[dict[str, Any], bytes]:
    """Parse ``path`` as TOML and return the table and the raw bytes (cards hash them).

    ``where`` names the file in messages (default: the path as given). A leading UTF-8
    byte-order mark (Notepad writes one) is ignored. A missing or unreadable file, bytes that are
    not UTF-8 and invalid TOML raise ``error`` with one sentence naming the file and the line.
    """
    where = str(path) if where is None else where
    try:
        raw = Path(path).read_bytes()
    except FileNotFoundError:
        raise error(f"{where}: no such file.") from None
    except IsADirectoryError:
        raise error(f"{where}: is a folder, not a TOML file.") from None
    except OSError as exc:
        raise error(f"{where}: cannot be read ({exc.strerror}).") from None
    text = decode_utf8(raw, where, error)
    try:
        return tomllib.loads(text), raw
    except tomllib.TOMLDecodeError as exc:
        found = _LINE_RE.search(str(exc))
        reason = _LINE_RE.sub("", str(exc)).strip().rstrip(".")
        if found:
            line = f"line {found.group(1)}: "
        else:  # tomllib says "(at end of document)": the last line, then
            reason = _END_RE.sub("", reason).strip().rstrip(".")
            line = f"line {max(1, len(text.splitlines()))}: "
        raise error(f"{where}: {line}not valid TOML ({reason}).") from None


class Table:
    """Typed access to one TOML table; every problem is one ``error`` in this module's grammar.

    ``where`` names the file; ``prefix`` is the dotted path of the table (``"prompts."``,
    ``"questions[0]."``, ``""`` for the top level).
    """

    def __init__(
        self, where: str, table: Mapping[str, Any], error: type[ValueError], prefix: str = ""
    ) -> None:
        self.where, self.table, self.error, self.prefix = where, table, error, prefix

    def key(self, key: str) -> str:
        """The dotted path of ``key`` in this table."""
        return f"{self.prefix}{key}"

    def say(self, sentence: str) -> ValueError:
        """``<file>: <sentence>.``: for the few rules no other method words."""
        return self.error(f"{self.where}: {sentence}.")

    def fail(self, key: str, expected: str, value: Any = MISSING) -> ValueError:
        """``<file>: key 'K' must be <expected>, not <value>.`` (no value: ``..must be E.``)."""
        actual = "" if value is MISSING else f", not {shown(value)}"
        return self.say(f"key '{self.key(key)}' must be {expected}{actual}")

    def unknown(self, key: str, allowed: Iterable[str] | None, hint: str = "") -> ValueError:
        """An unknown key, with the closest allowed one (or ``hint``) and, when ``allowed`` is
        the whole list, every valid key."""
        options = list(allowed or ())
        close = suggestion(key, options) or hint
        valid = f"; valid keys: {', '.join(sorted(options))}" if allowed is not None else ""
        return self.say(f"unknown key '{self.key(key)}'{close}{valid}")

    def sub(self, key: str, table: Mapping[str, Any]) -> Table:
        """The checker of a nested table (``call`` -> keys ``call.height``...)."""
        return Table(self.where, table, self.error, f"{self.key(key)}.")

    def check_keys(self, allowed: Iterable[str], hint: str = "") -> None:
        """Refuse the first key not in ``allowed``."""
        allowed = list(allowed)
        for key in self.table:
            if key not in allowed:
                raise self.unknown(key, allowed, hint)

    def get(
        self, key: str, kind: type | tuple[type, ...], expected: str, default: Any = MISSING
    ) -> Any:
        """The value of ``key``, which must be of ``kind``; ``default`` when it is absent (no
        default: the key is required)."""
        if key not in self.table:
            if default is MISSING:
                raise self.say(f"missing key '{self.key(key)}' ({expected})")
            return default
        value = self.table[key]
        kinds = kind if isinstance(kind, tuple) else (kind,)
        # bool is an int in Python; `quota = true` is still a mistake.
        if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
            raise self.fail(key, expected, value)
        return value
