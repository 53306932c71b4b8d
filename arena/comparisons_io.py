"""Comparisons files: read and write exactly the formats docs/cli.md promises, refuse the rest.

A comparisons file holds the Comparisons DataFrame of docs/design.md, one row per vote. The
format follows the file's suffix:

- ``.csv`` — comma-separated, one header line;
- ``.jsonl`` or ``.ndjson`` — one JSON object per line (blank lines are skipped);
- ``.parquet`` — Apache Parquet, through pyarrow (a dependency of t2i-arena).

Anything else, Excel's ``.xlsx`` included, is refused in one sentence that names the file, its
suffix and the accepted ones. A file that cannot be read, lacks a column or holds a value the
contract does not allow is a :class:`ComparisonsFileError` naming the file, the line or column,
and what was expected.

``arena export`` adds the optional columns ``display_name_a`` and ``display_name_b`` (the
display names stored at ingest), so that ``arena report --comparisons`` shows the same names
as the report of the study's database; :func:`display_names` reads them back.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from analysis.frame import COLUMNS, kind_codes, validate_comparisons, with_kind

__all__ = [
    "DISPLAY_NAME_COLUMNS",
    "SUFFIXES",
    "ComparisonsFileError",
    "check_suffix",
    "display_names",
    "read_comparisons",
    "with_display_names",
    "write_comparisons",
]

#: Accepted suffixes (compared case-insensitively) and the format each one means.
SUFFIXES: dict[str, str] = {
    ".csv": "csv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".parquet": "parquet",
}
#: The optional columns that carry each side's display name.
DISPLAY_NAME_COLUMNS: tuple[str, str] = ("display_name_a", "display_name_b")
#: Columns read as text whatever they look like: a rater id "007" or a prompt id "12" must not
#: turn into numbers (and lose their zeros) on the way through a CSV file.
_NUMERIC_COLUMNS = ("decision_ms", "seed")
_TEXT_COLUMNS = (
    *(c for c in COLUMNS if c not in _NUMERIC_COLUMNS),
    "expected",
    *DISPLAY_NAME_COLUMNS,
)
#: The columns a file must have: the contract's, except ``kind``, which analysis reads as
#: ``2afc`` when absent (files from before trial kinds existed).
_REQUIRED = tuple(c for c in COLUMNS if c != "kind")
_PARQUET_PACKAGE = "pyarrow"
#: The four bytes every Parquet file begins and ends with.
_PARQUET_MAGIC = b"PAR1"


class ComparisonsFileError(ValueError):
    """A comparisons file cannot be read or written; the message names the file and the fix."""


def _accepted() -> str:
    return ", ".join(SUFFIXES)


def check_suffix(path: Path) -> str:
    """The format of ``path`` (``csv``, ``jsonl`` or ``parquet``), chosen by its suffix.

    Raises
    ------
    ComparisonsFileError
        For any other suffix, naming the file, the suffix and the accepted ones.
    """
    suffix = path.suffix.lower()
    if suffix in SUFFIXES:
        return SUFFIXES[suffix]
    if suffix in (".xlsx", ".xls"):
        raise ComparisonsFileError(
            f"{path}: Excel files ({suffix}) are not supported as comparisons files; "
            f"expected one of {_accepted()}."
        )
    found = f"the suffix '{path.suffix}'" if path.suffix else "no suffix"
    raise ComparisonsFileError(
        f"{path}: a comparisons file needs one of the suffixes {_accepted()}; it has {found}."
    )


def _needs_pyarrow(path: Path, doing: str) -> ComparisonsFileError:
    return ComparisonsFileError(
        f"{path}: {doing} Parquet files needs the package '{_PARQUET_PACKAGE}', which is not "
        f"installed: pip install {_PARQUET_PACKAGE} (or use a .csv or .jsonl file)."
    )


def read_comparisons(path: Path) -> pd.DataFrame:
    """Read a comparisons file in the format its suffix names, and check its columns.

    Parameters
    ----------
    path : Path
        A ``.csv``, ``.jsonl``/``.ndjson`` or ``.parquet`` file.

    Returns
    -------
    pandas.DataFrame
        One row per vote; text columns (:data:`_TEXT_COLUMNS`) as strings.

    Raises
    ------
    ComparisonsFileError
        When the file is missing, has another suffix, cannot be parsed (a bad JSON line is
        named by its number), lacks a required column or breaks the contract
        (:func:`analysis.frame.validate_comparisons`); the message names the file.
    """
    fmt = check_suffix(path)
    if not path.is_file():
        raise ComparisonsFileError(f"{path}: comparisons file not found.")
    if fmt == "csv":
        frame = _read_csv(path)
    elif fmt == "jsonl":
        frame = _read_jsonl(path)
    else:
        frame = _read_parquet(path)
    _check(path, frame)
    return frame


def _read_csv(path: Path) -> pd.DataFrame:
    text = dict.fromkeys(_TEXT_COLUMNS, str)
    try:
        return _read_csv_arrow(path)
    except Exception:  # noqa: BLE001 - pandas' own parser below names what is wrong
        pass
    try:
        return pd.read_csv(path, dtype=text)
    except pd.errors.EmptyDataError:
        raise ComparisonsFileError(
            f"{path}: the file is empty; expected a header line with the columns "
            f"{', '.join(COLUMNS)}."
        ) from None
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise ComparisonsFileError(f"{path}: not a readable CSV file ({exc}).") from None


def _read_csv_arrow(path: Path) -> pd.DataFrame:
    import pyarrow as pa
    import pyarrow.csv as pa_csv

    # pyarrow's parser is several times faster than pandas' on a million rows, and reading the
    # text columns as dictionaries hands the analysis categories whose codes it reuses, instead
    # of a million strings to hash again (0.27 s against 0.50 s through pandas' pyarrow engine).
    as_codes = pa.dictionary(pa.int32(), pa.string())
    options = pa_csv.ConvertOptions(
        column_types=dict.fromkeys(_TEXT_COLUMNS, as_codes), strings_can_be_null=True
    )
    return pa_csv.read_csv(path, convert_options=options).to_pandas()


def _read_jsonl(path: Path) -> pd.DataFrame:
    records = []
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ComparisonsFileError(f"{path}: not a UTF-8 text file ({exc}).") from None
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ComparisonsFileError(
                f"{path}: line {number} is not valid JSON ({exc.msg} at column {exc.colno}); "
                "expected one JSON object per line."
            ) from None
        if not isinstance(record, dict):
            raise ComparisonsFileError(
                f"{path}: line {number} is a JSON {type(record).__name__}, not an object; "
                "expected one JSON object per line."
            )
        records.append(record)
    if not records:  # an export of a study without votes: the columns, no rows
        return pd.DataFrame({c: pd.Series(dtype=object) for c in COLUMNS})
    frame = pd.DataFrame.from_records(records)
    for column in _TEXT_COLUMNS:
        # JSON may spell an id as a number; the contract's ids are text (missing stays missing).
        if column in frame.columns:
            values = frame[column]
            frame[column] = values.where(values.isna(), values.astype(str))
    return frame


def _read_parquet(path: Path) -> pd.DataFrame:
    try:
        import pyarrow  # noqa: F401  (pandas' Parquet engine; its absence is named here)
    except ImportError:
        raise _needs_pyarrow(path, "reading") from None
    # Checked here because pyarrow's own message for this, the common mistake, is several
    # sentences that repeat the path.
    with path.open("rb") as fh:
        head = fh.read(4)
        fh.seek(max(0, path.stat().st_size - 4))
        tail = fh.read(4)
    if head != _PARQUET_MAGIC or tail != _PARQUET_MAGIC:
        raise ComparisonsFileError(
            f"{path}: not a Parquet file (it does not begin and end with the Parquet marker "
            "PAR1); expected a file written by arena export or pandas.DataFrame.to_parquet."
        )
    try:
        return pd.read_parquet(path)
    except (OSError, ValueError) as exc:  # pyarrow's ArrowInvalid is a ValueError
        raise ComparisonsFileError(f"{path}: not a readable Parquet file ({exc}).") from None


def _check(path: Path, frame: pd.DataFrame) -> None:
    missing = [c for c in _REQUIRED if c not in frame.columns]
    if missing:
        raise ComparisonsFileError(
            f"{path}: missing column(s) {', '.join(map(repr, missing))}; expected the columns "
            f"{', '.join(COLUMNS)} (docs/design.md, 'Comparisons DataFrame')."
        )
    try:
        checked = with_kind(frame)
        validate_comparisons(checked)
        kind_codes(checked)
    except ValueError as exc:
        raise ComparisonsFileError(f"{path}: {exc}.") from None
    display_names(frame, path)  # two names for one model is an error here, not in the report


def write_comparisons(frame: pd.DataFrame, path: Path) -> None:
    """Write ``frame`` to ``path`` in the format its suffix names (folders are created).

    Raises
    ------
    ComparisonsFileError
        For a suffix other than :data:`SUFFIXES`, or a Parquet file without pyarrow.
    """
    fmt = check_suffix(path)
    if fmt == "parquet":
        try:
            import pyarrow  # noqa: F401
        except ImportError:
            raise _needs_pyarrow(path, "writing") from None
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "csv":
        frame.to_csv(path, index=False)
    elif fmt == "jsonl":
        # One object per line, NaN as null; text stays readable (no \\u escapes).
        frame.to_json(path, orient="records", lines=True, force_ascii=False)
    else:
        frame.to_parquet(path, index=False)


def with_display_names(frame: pd.DataFrame, names: Mapping[str, str]) -> pd.DataFrame:
    """A copy of ``frame`` with ``display_name_a`` / ``display_name_b`` from ``names`` (a model
    without a name gets an empty value)."""
    out = frame.copy()
    for side, column in zip(("model_a", "model_b"), DISPLAY_NAME_COLUMNS, strict=True):
        out[column] = out[side].map(dict(names)).astype(object)
    return out


def display_names(frame: pd.DataFrame, path: Path | None = None) -> dict[str, str]:
    """The display names a comparisons frame carries (``display_name_a`` / ``_b``), by model.

    Models without a name, and frames without the columns, give no entry.

    Raises
    ------
    ComparisonsFileError
        When one model has two different display names (``path`` names the file).
    """
    pairs = [
        frame[[side, column]].set_axis(["model", "name"], axis=1)
        for side, column in zip(("model_a", "model_b"), DISPLAY_NAME_COLUMNS, strict=True)
        if side in frame.columns and column in frame.columns
    ]
    if not pairs:
        return {}
    both = pd.concat(pairs, ignore_index=True).dropna()
    both = both[both["name"].astype(str) != ""].astype(str).drop_duplicates()
    twice = both[both["model"].duplicated(keep=False)]
    if len(twice):
        model = twice["model"].iloc[0]
        found = " and ".join(repr(n) for n in twice.loc[twice["model"] == model, "name"])
        where = f"{path}: " if path is not None else ""
        raise ComparisonsFileError(
            f"{where}model {model!r} has the display names {found} in the columns "
            f"{' / '.join(DISPLAY_NAME_COLUMNS)}; expected one name per model."
        )
    return dict(zip(both["model"], both["name"], strict=True))
