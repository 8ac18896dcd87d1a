"""Typed files (SPSS, Stata, Excel, Parquet) → the staged frame: shared steps.

Delimited text is read as text from the start; these formats store typed values (numbers,
dates, booleans), so each value is first written as the text a user would type for it, then
the file goes through the same column matching and assembly as a CSV export
(:mod:`pceval.ingest.staged`).

Values as staged text
---------------------
=================  ========================================================================
stored value        staged text
=================  ========================================================================
integer             its digits: ``4``, ``-99``
whole float         as an integer: ``4.0`` → ``4``, ``-99.0`` → ``-99``
other float         shortest decimal at the type's precision (15 significant digits for a
                    double, 6 for a single), never in exponent form: ``0.30000000000000004``
                    → ``0.3``, ``1.5e-07`` → ``0.00000015``; infinities ``inf``/``-inf``;
                    NaN blank
decimal             without trailing zeros: ``4.50`` → ``4.5``
boolean             ``1`` / ``0``
date                ``YYYY-MM-DD``
date and time       ``YYYY-MM-DD`` when the time is midnight (how a date typed in a
                    spreadsheet is stored), else ISO 8601 ``YYYY-MM-DDTHH:MM:SS[.ffffff]``
                    with the offset when the value carries a time zone
time of day         ``HH:MM:SS``
text                stripped of surrounding whitespace; blank → ``<NA>``
=================  ========================================================================

Only the columns the staged frame uses are converted (and, where the format allows, read):
a column that matches no item is dropped unread.
"""

from __future__ import annotations

import datetime as dt
import math
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pceval.errors import DataError
from pceval.ingest.staged import (
    META_COLUMNS,
    ColumnPlan,
    HeaderIndex,
    IngestResult,
    build_result,
    plan_items,
)
from pceval.ingest.textfile import TextGrid, _check_names, clean_text
from pceval.instrument.model import Instrument

_STRING = pa.string()
READ_META = META_COLUMNS[2:]
"""Meta columns a typed file may carry under their staged names (``_record``, ``_wave``, ...)."""


@dataclass(frozen=True)
class SourceFile:
    """What :func:`pceval.ingest.staged.build_result` needs to know of a file that is not
    delimited text."""

    file: str
    encoding: str = "utf-8"
    delimiter: str = ""


# The file itself ----------------------------------------------------------------------------

def check_file(path: str | Path) -> int:
    """The size of ``path`` in bytes; a DataError when it is missing, a folder or empty."""
    file = str(path)
    try:
        size = Path(path).stat().st_size
    except FileNotFoundError:
        raise DataError("file not found", file=file, fix="check the path") from None
    except OSError as exc:
        raise DataError(f"the file cannot be read ({exc.strerror})", file=file) from None
    except ValueError as exc:  # a path holding a NUL character
        raise DataError(f"the path cannot be opened ({exc})", file=file.replace("\0", "\\0"),
                        fix="check the path") from None
    if Path(path).is_dir():
        raise DataError("this is a folder, not a file", file=file, fix="give the path of the export")
    if size == 0:
        raise DataError("the file is empty", file=file, fix="export the data again")
    return size


def read_head(path: str | Path, count: int = 16) -> bytes:
    """The first ``count`` bytes of ``path`` (after :func:`check_file`)."""
    try:
        with open(path, "rb") as handle:
            return handle.read(count)
    except OSError as exc:
        raise DataError(f"the file cannot be read ({exc.strerror})", file=str(path)) from None


# Column plan --------------------------------------------------------------------------------

def plan_columns(file: str, names: Sequence[str], instrument: Instrument, *,
                 reasons: Mapping[str, str] | None = None) -> tuple[ColumnPlan, dict[int, str]]:
    """Match a typed file's column names to the instrument, as the plain CSV reader does.

    Returns the plan (its ``meta`` still empty) and the file columns read as meta columns
    (position → meta column name). A column in neither is dropped with its reason.

    Raises
    ------
    DataError
        For a file without column names or with a duplicated one.
    """
    names = tuple(names)
    _check_names(names, file)
    plan = ColumnPlan(file=file)
    meta = {i: name for i, name in enumerate(names) if name in READ_META}
    header_only = TextGrid(header=(names,), table=pa.table({}), rows=np.zeros(0, np.int64))
    plan_items(plan, header_only, HeaderIndex(instrument), used=meta, reasons=reasons)
    return plan, meta


def used_columns(plan: ColumnPlan, meta: Mapping[int, str]) -> list[int]:
    """Positions of the file columns the staged frame takes values from, in file order."""
    return sorted({*plan.direct.values(), *plan.summaries.values(), *meta})


def assemble(source: SourceFile, names: Sequence[str], texts: Mapping[int, pa.Array],
             rows: np.ndarray, instrument: Instrument, plan: ColumnPlan,
             meta: Mapping[int, str], *, platform: str, notes: Iterable[str] = ()) -> IngestResult:
    """Build the staged frame from staged-text columns (position → text) and a plan.

    ``texts`` holds every used column; a column not in it was not read, and stands in as
    non-blank so that no row is called "entirely blank" for want of the unread columns.
    """
    n = len(rows)
    filler = pa.repeat(pa.scalar("", _STRING), n)
    columns = [texts.get(i, filler) for i in range(len(names))]
    table = pa.table({f"f{i}": column for i, column in enumerate(columns)}) if columns else pa.table({})
    grid = TextGrid(header=(tuple(names),), table=table, rows=np.asarray(rows, dtype=np.int64))
    for i, name in meta.items():
        plan.meta[name] = texts[i]
    plan.notes.extend(notes)
    return build_result(source, grid, instrument, plan, platform=platform)


# Typed values → staged text -----------------------------------------------------------------

def value_text(value: object) -> str | None:
    """One stored value as staged text (see the module documentation); None for blank.

    Examples
    --------
    >>> [value_text(v) for v in (4.0, -99, 0.1 + 0.2, True, " a ", "", None)]
    ['4', '-99', '0.3', '1', 'a', None, None]
    >>> value_text(dt.datetime(2025, 3, 4)), value_text(dt.datetime(2025, 3, 4, 10, 22, 31))
    ('2025-03-04', '2025-03-04T10:22:31')
    """
    if value is None:
        return None
    if isinstance(value, bool | np.bool_):
        return "1" if value else "0"
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating):
        return float_text(float(value), _digits(np.asarray(value).dtype))
    if isinstance(value, str):
        text = value.strip()
        return text or None
    if isinstance(value, dt.datetime):
        return datetime_text(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return duration_text(value)
    if isinstance(value, bytes):
        return value_text(value.decode("utf-8", errors="replace"))
    return value_text(str(value))


def float_text(value: float, digits: int = 15) -> str | None:
    """A float as staged text at ``digits`` significant digits (see the module documentation).

    Examples
    --------
    >>> float_text(-99.0), float_text(3.9999999999999996), float_text(1.5e-07), float_text(1e20)
    ('-99', '4', '0.00000015', '100000000000000000000')
    >>> len(float_text(1.7976931348623151e308))
    309
    """
    if math.isnan(value):
        return None
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    rounded = float(f"{value:.{digits}g}")
    if math.isinf(rounded):  # rounding up the largest doubles passes the largest double
        rounded = value
    if rounded == math.trunc(rounded):
        return str(int(rounded))
    return np.format_float_positional(rounded, unique=True, trim="-")


def datetime_text(value: dt.datetime) -> str:
    """A date and time as ISO 8601, or only its date when it is a naive midnight."""
    if value.tzinfo is None and value.time() == dt.time(0):
        return value.date().isoformat()
    return value.isoformat()


def duration_text(value: dt.timedelta) -> str:
    """A duration as ``H:MM:SS`` (hours may exceed 24), as a spreadsheet shows ``[h]:mm:ss``."""
    total = value.total_seconds()
    sign = "-" if total < 0 else ""
    seconds = abs(total)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    whole = int(secs)
    fraction = float_text(secs - whole, 6) if secs != whole else None
    tail = "" if fraction in (None, "0") else fraction.lstrip("0")
    return f"{sign}{int(hours)}:{int(minutes):02d}:{whole:02d}{tail}"


def _digits(dtype: np.dtype) -> int:
    try:
        return min(int(np.finfo(dtype).precision), 15)
    except ValueError:
        return 15


def column_text(values: pa.Array | pa.ChunkedArray, *, file: str, field: str) -> pa.Array:
    """A typed Arrow column as staged text (see the module documentation).

    Raises
    ------
    DataError
        For a column of lists, structures, maps or binary data that is not UTF-8 text.

    Examples
    --------
    >>> column_text(pa.array([4.0, -99.0, 2.5, None]), file="a.parquet", field="x").to_pylist()
    ['4', '-99', '2.5', None]
    """
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks() if values.num_chunks else pa.array([], values.type)
    kind = values.type
    n = len(values)
    if pa.types.is_dictionary(kind):
        return column_text(values.dictionary_decode(), file=file, field=field)
    if pa.types.is_null(kind):
        return pa.nulls(n, _STRING)
    if pa.types.is_string(kind) or pa.types.is_large_string(kind) or _is_string_view(kind):
        values = values.cast(_STRING)
        try:
            values.validate(full=True)  # a reader trusts the file's bytes to be UTF-8
        except pa.ArrowInvalid:
            raise DataError("this text column is not valid UTF-8: the file is damaged", file=file,
                            field=field, fix="export the data again") from None
        return clean_text(values)
    if pa.types.is_binary(kind) or pa.types.is_large_binary(kind) or pa.types.is_fixed_size_binary(kind):
        try:
            return clean_text(values.cast(pa.binary()).cast(_STRING))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            raise DataError("this column holds binary data that is not UTF-8 text", file=file,
                            field=field, fix="store the column as text") from None
    if pa.types.is_boolean(kind):
        return pc.if_else(values, pa.scalar("1", _STRING), pa.scalar("0", _STRING))
    if pa.types.is_integer(kind):
        return values.cast(_STRING)
    if pa.types.is_floating(kind):
        return floats_text(values.to_numpy(zero_copy_only=False))
    if pa.types.is_decimal(kind):
        text = values.cast(_STRING)
        text = pc.replace_substring_regex(text, r"(\.\d*?)0+$", r"\1")
        return pc.replace_substring_regex(text, r"\.$", "")
    if pa.types.is_date(kind):
        return values.cast(pa.date32()).cast(_STRING) if pa.types.is_date64(kind) else values.cast(_STRING)
    if (pa.types.is_timestamp(kind) or pa.types.is_time(kind) or pa.types.is_duration(kind)):
        return _python_text(values)
    raise DataError(f"this column holds values of type {kind}, which are not answers to an item",
                    file=file, field=field, fix="store the column as numbers, dates or text")


def floats_text(values: np.ndarray) -> pa.Array:
    """A float array as staged text; whole numbers vectorised, the rest one distinct value at
    a time (they are few: answers are mostly codes)."""
    x = np.asarray(values)
    digits = _digits(x.dtype)
    x = x.astype(np.float64)
    finite = np.isfinite(x)
    whole = np.zeros(len(x), dtype=bool)
    np.equal(x, np.trunc(x, where=finite, out=np.zeros_like(x)), out=whole, where=finite)
    whole &= np.abs(np.where(finite, x, 0)) < 2.0**53
    ints = pa.array(np.where(whole, x, 0).astype(np.int64)).cast(_STRING)
    rest = ~whole & ~np.isnan(x)
    if not rest.any():
        return pc.if_else(pa.array(whole), ints, pa.scalar(None, _STRING))
    out = np.full(len(x), None, dtype=object)
    positions = np.flatnonzero(rest)
    distinct, inverse = np.unique(x[positions], return_inverse=True)
    texts = np.array([float_text(float(v), digits) for v in distinct], dtype=object)
    out[positions] = texts[inverse]
    return pc.if_else(pa.array(whole), ints, pa.array(out, _STRING))


def _python_text(values: pa.Array) -> pa.Array:
    """Times, timestamps and durations, through Python values (ISO formatting with the
    midnight rule is clearer there; such columns are few)."""
    try:
        items = values.to_pylist()
    except (ValueError, OverflowError, pa.ArrowException):
        # beyond Python's datetime range (years after 9999): Arrow's own text
        return clean_text(values.cast(_STRING))
    texts = [None if v is None else _python_value_text(v) for v in items]
    return pa.array(texts, _STRING)


def _python_value_text(value: object) -> str | None:
    isoformat = getattr(value, "isoformat", None)
    if isinstance(value, dt.datetime) or (isoformat and hasattr(value, "tz_localize")):
        # pandas Timestamp (nanosecond columns) is a datetime subclass too
        return datetime_text(value)  # type: ignore[arg-type]
    if hasattr(value, "to_pytimedelta"):
        value = value.to_pytimedelta()  # type: ignore[union-attr]
    return value_text(value)


def _is_string_view(kind: pa.DataType) -> bool:
    check = getattr(pa.types, "is_string_view", None)
    return bool(check and check(kind))



def rows_text(rows: Sequence[int] | np.ndarray, limit: int = 5) -> str:
    """``'3 row(s): 2, 5, 9'`` for a note."""
    rows = [int(r) for r in rows]
    shown = ", ".join(str(r) for r in rows[:limit])
    more = f" and {len(rows) - limit} more" if len(rows) > limit else ""
    return f"{len(rows)} row(s): {shown}{more}"


# Failures of the parsing libraries ----------------------------------------------------------

def unreadable(file: str, what: str, exc: BaseException) -> DataError:
    """The DataError for a file a parsing library could not read (damaged, truncated, or not
    the format its name says)."""
    detail = " ".join(str(exc).split())[:200] or type(exc).__name__
    return DataError(f"the file cannot be read as {what} ({detail})", file=file,
                     fix=f"check that the file is a complete {what} (it may be truncated or "
                         "damaged, or be another format with this file's extension); export it again")


class WarningNotes:
    """Collect the warnings a parsing library gives while reading a file, as notes.

    Examples
    --------
    >>> import warnings
    >>> with WarningNotes() as caught:
    ...     warnings.warn("odd file")
    >>> caught.notes
    ['the reading library warned: odd file']
    """

    def __init__(self) -> None:
        self.notes: list[str] = []
        self._seen: set[str] = set()
        self._contexts: list[tuple[Any, list[warnings.WarningMessage]]] = []

    def __enter__(self) -> WarningNotes:
        context = warnings.catch_warnings(record=True)
        caught = context.__enter__()
        warnings.simplefilter("always")
        self._contexts.append((context, caught))
        return self

    def __exit__(self, *exc: object) -> None:
        context, caught = self._contexts.pop()
        context.__exit__(*exc)
        for warning in caught:
            text = " ".join(str(warning.message).split())
            if text not in self._seen:
                self._seen.add(text)
                self.notes.append(f"the reading library warned: {text}")
