"""CSV that Excel opens correctly and cannot be turned into formulas.

Excel reads a UTF-8 CSV as UTF-8 only when it starts with a byte-order mark, and it evaluates
a cell that starts with ``=``, ``+``, ``-`` or ``@`` (and, through DDE tricks, tab and carriage
return) as a formula: free text typed by a respondent could then run in an evaluator's
spreadsheet. Following the OWASP guidance on CSV injection, every *text* cell that starts with
one of those characters is written with a leading apostrophe (``'``), which Excel shows as text
and hides. Numeric columns are written as numbers and never touched, so ``-99`` in a numeric
column stays a number.

The neutralising is reversible: a text cell that already starts with apostrophes followed by a
formula character gets one more apostrophe, so :func:`restore_cell` (strip one leading
apostrophe where the rest starts with apostrophes and a formula character) gives back the
original text exactly.

Written by hand because neither pandas' ``to_csv`` nor ``pyarrow.csv.write_csv`` has such an
option, and because both are slow or differ in bytes for this job: pandas formats cell by cell in
Python (minutes for millions of rows), and Arrow's writer quotes every string and spells floats
differently. Here every column is turned into its CSV text with Arrow compute kernels, chunk by
chunk, and the rows are written straight from Arrow's buffers; the bytes are those of Python's
``csv`` module with ``QUOTE_MINIMAL`` (what pandas writes), which a test checks.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from pceval.io import atomic_path

__all__ = ["FORMULA_CHARACTERS", "neutralise_cell", "neutralise_column", "restore_cell", "write_csv_safe"]

FORMULA_CHARACTERS = ("=", "+", "-", "@", "\t", "\r")
"""Characters that make Excel (or LibreOffice) read a cell as a formula (OWASP)."""


def _needs_quote(text: str) -> bool:
    rest = text.lstrip("'")
    return rest[:1] in FORMULA_CHARACTERS


def neutralise_cell(text: str) -> str:
    """``text`` made safe to open in a spreadsheet (see the module notes).

    Examples
    --------
    >>> neutralise_cell("=HYPERLINK(\\"http://x\\")"), neutralise_cell("-99"), neutralise_cell("ok")
    ('\\'=HYPERLINK("http://x")', "'-99", 'ok')
    >>> neutralise_cell("'=1")
    "''=1"
    """
    return "'" + text if _needs_quote(text) else text


# a formula character after any run of quotes: the vectorised form of _needs_quote
_NEEDS_QUOTE = r"^'*[=+\-@\t\r]"


def neutralise_column(column: pd.Series) -> pd.Series:
    """:func:`neutralise_cell` on every cell of a text column, vectorised (a million cells in
    well under a second); missing cells stay missing.

    Examples
    --------
    >>> neutralise_column(pd.Series(["=1", "ok", None, "'-2"])).tolist()
    ["'=1", 'ok', <NA>, "''-2"]
    """
    text = column.astype("string[pyarrow]")
    needs = text.str.contains(_NEEDS_QUOTE, regex=True).fillna(False).astype(bool)
    if not needs.any():
        return text.astype("string")
    return text.mask(needs, "'" + text).astype("string")


def restore_cell(text: str) -> str:
    """The original text of a cell written by :func:`neutralise_cell`.

    Examples
    --------
    >>> restore_cell(neutralise_cell("+61 400")), restore_cell("'plain")
    ('+61 400', "'plain")
    """
    if text.startswith("'") and _needs_quote(text[1:]):
        return text[1:]
    return text


def _is_text(column: pd.Series) -> bool:
    dtype = column.dtype
    return (pd.api.types.is_string_dtype(dtype) or pd.api.types.is_object_dtype(dtype)
            or isinstance(dtype, pd.CategoricalDtype))


def _is_midnight(column: pd.Series) -> bool:
    present = column.dropna()
    return bool((present == present.dt.normalize()).all())


def prepare_csv_frame(frame: pd.DataFrame, *, dates: Iterable[str] | None = None) -> pd.DataFrame:
    """The frame exactly as :func:`write_csv_safe` writes it (every column as text or number).

    Text cells are neutralised, datetimes formatted as ISO 8601 (``YYYY-MM-DD`` for the
    columns in ``dates``; by default the datetime columns whose values are all at midnight),
    booleans as ``true``/``false``; numbers are left as they are.
    """
    date_columns = None if dates is None else set(dates)
    out = {}
    for name in frame.columns:
        column = frame[name]
        if pd.api.types.is_datetime64_any_dtype(column.dtype):
            as_date = _is_midnight(column) if date_columns is None else name in date_columns
            if as_date:
                text = column.dt.strftime("%Y-%m-%d")
            else:
                text = column.map(lambda v: v.isoformat() if pd.notna(v) else pd.NA)
            out[name] = text.astype("string")
        elif pd.api.types.is_bool_dtype(column.dtype):
            out[name] = column.map({True: "true", False: "false"}, na_action="ignore").astype("string")
        elif _is_text(column):
            out[name] = neutralise_column(column)
        else:
            out[name] = column
    return pd.DataFrame(out, index=frame.index).rename(
        columns=lambda c: neutralise_cell(str(c)))


# Rows per chunk: bounds the memory of the formatted text (a few tens of MiB) whatever the size
# of the frame, while keeping Arrow's kernels on long arrays.
_CHUNK_ROWS = 65_536
# a cell Python's csv module quotes under QUOTE_MINIMAL with "\r\n" line ends
_NEEDS_CSV_QUOTE = r'[,"\r\n]'
_TEXT = pa.large_string()  # 64-bit offsets: a chunk of long texts cannot overflow


def _s(text: str) -> pa.Scalar:
    return pa.scalar(text, _TEXT)


def _csv_field(text: str) -> str:
    """One cell as :mod:`csv` writes it with ``QUOTE_MINIMAL`` (header cells)."""
    if any(ch in text for ch in ',"\r\n'):
        return '"' + text.replace('"', '""') + '"'
    return text


def _quote(cells: pa.Array) -> pa.Array:
    needs = pc.match_substring_regex(cells, _NEEDS_CSV_QUOTE)
    if not pc.any(needs).as_py():
        return cells
    doubled = pc.replace_substring(cells, '"', '""')
    quoted = pc.binary_join_element_wise(_s('"'), doubled, _s('"'), _s(""))
    return pc.if_else(needs, quoted, cells)


def _text_cells(values: pa.Array) -> pa.Array:
    needs = pc.match_substring_regex(values, _NEEDS_QUOTE)
    if pc.any(needs).as_py():
        values = pc.if_else(needs, pc.binary_join_element_wise(_s("'"), values, _s("")), values)
    return _quote(values.fill_null(_s("")))


def _float_cells(values: pa.Array) -> pa.Array:
    # numpy spells floats as Python's repr does ("-95.0", "1e-07"), which is what pandas writes;
    # Arrow's cast would write "-95" and "1e-7"
    valid = pc.is_valid(values).to_numpy(zero_copy_only=False)
    numbers = values.fill_null(0).to_numpy(zero_copy_only=False)
    text = numbers.astype(str).astype(object)
    text[~valid] = ""
    return pa.array(text, type=_TEXT)


def _date_cells(values: pa.Array) -> pa.Array:
    # a cast to date32 and then to text spells YYYY-MM-DD, many times faster than strftime
    return pc.cast(pc.cast(values, pa.date32()), _TEXT).fill_null(_s(""))


def _datetime_cells(values: pa.Array) -> pa.Array:
    # Arrow spells "YYYY-MM-DD HH:MM:SS"; isoformat puts a T between date and time
    text = pc.cast(values, _TEXT)
    return pc.replace_substring(text, " ", "T", max_replacements=1).fill_null(_s(""))


class _Column:
    """One column as Arrow data and the function that turns a slice of it into CSV cells."""

    def __init__(self, values: pa.Array, cells) -> None:
        self.values = values
        self.cells = cells


def _is_plain_timestamp(column: pd.Series) -> bool:
    dtype = column.dtype
    return isinstance(dtype, np.dtype) and dtype.kind == "M"


def _seconds_only(values: pa.Array) -> pa.Array | None:
    """Timestamps as whole seconds, or None when some value has a fraction of a second."""
    if values.type.unit == "s":
        return values
    seconds = pc.cast(values, pa.timestamp("s"), safe=False)
    if pc.all(pc.equal(pc.cast(seconds, values.type), values).fill_null(True)).as_py():
        return seconds
    return None


def _column_writer(name: str, column: pd.Series, as_date: bool | None) -> _Column | None:
    """How to write one column, or None when only the pandas path knows (unusual dtypes)."""
    dtype = column.dtype
    if pd.api.types.is_datetime64_any_dtype(dtype):
        if not _is_plain_timestamp(column):
            return None  # time zones: Python's isoformat spells the offset
        values = pa.array(column, from_pandas=True)
        as_date = _is_midnight(column) if as_date is None else as_date
        if as_date:
            return _Column(values, _date_cells)
        seconds = _seconds_only(values)
        if seconds is None:
            return None  # fractions of a second: isoformat's spelling of them
        return _Column(seconds, _datetime_cells)
    if pd.api.types.is_bool_dtype(dtype):
        values = pa.array(column, from_pandas=True, type=pa.bool_())
        return _Column(values, lambda v: pc.if_else(v, _s("true"), _s("false")).fill_null(_s(""))
                       .cast(_TEXT))
    if isinstance(dtype, pd.CategoricalDtype) and dtype.categories.inferred_type in {"string", "empty"}:
        # each category formatted once, the cells taken from them by code
        categories = pa.array(dtype.categories.astype(object), type=pa.string()).cast(_TEXT)
        formatted = _text_cells(categories)
        codes = column.cat.codes.to_numpy()
        values = pa.array(codes, type=pa.int32(), mask=codes < 0)
        return _Column(values, lambda v: pc.take(formatted, v).fill_null(_s("")))
    if _is_text(column):
        values = pa.array(column.astype("string[pyarrow]"), from_pandas=True).cast(_TEXT)
        return _Column(values, _text_cells)
    if pd.api.types.is_integer_dtype(dtype):
        values = pa.array(column, from_pandas=True)
        return _Column(values, lambda v: pc.cast(v, _TEXT).fill_null(_s("")))
    if pd.api.types.is_float_dtype(dtype):
        values = pa.array(column, from_pandas=True)
        return _Column(values, _float_cells)
    return None


def _write_rows(handle, rows: pa.Array | pa.ChunkedArray) -> None:
    """Write the characters of a non-null ``large_string`` array back to back.

    Columns read from Parquet (one chunk per row group) give a chunked array.
    """
    for chunk in (rows.chunks if isinstance(rows, pa.ChunkedArray) else (rows,)):
        offsets = np.frombuffer(chunk.buffers()[1], dtype=np.int64)
        offsets = offsets[chunk.offset:chunk.offset + len(chunk) + 1]
        if len(offsets) and offsets[-1] > offsets[0]:
            handle.write(memoryview(chunk.buffers()[2])[offsets[0]:offsets[-1]])


def write_csv_safe(path: str | Path, frame: pd.DataFrame, *,
                   dates: Iterable[str] | None = None) -> Path:
    """Write ``frame`` as a spreadsheet-safe UTF-8 CSV (with BOM), atomically.

    Parameters
    ----------
    path : path
        The CSV file to write (replaced atomically).
    frame : DataFrame
        Any frame; its index is not written.
    dates : iterable of str, optional
        Datetime columns to write as dates (``YYYY-MM-DD``); other datetime columns are
        written as ISO 8601 date-times. By default a datetime column is written as dates when
        every value is at midnight.

    Returns
    -------
    Path
        ``path``.

    Notes
    -----
    Bytes: a UTF-8 byte-order mark, a header row, one row per frame row, ``\\r\\n`` line
    ends (RFC 4180), fields quoted only where needed (comma, quote, line break), missing cells
    empty. Text cells starting with ``= + - @``, tab or carriage return get a leading ``'``
    (OWASP CSV injection guidance, see :func:`neutralise_cell`); column names are treated the
    same way. Numeric cells are never changed. The same frame gives the same bytes.

    The rows are formatted and written in chunks, so memory beyond the frame stays small.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "a.csv"
    >>> f = pd.DataFrame({"n": pd.array([-99, 2], dtype="Int64"), "t": ["=1+1", "ok"]})
    >>> _ = write_csv_safe(p, f)
    >>> p.read_bytes()
    b"\\xef\\xbb\\xbfn,t\\r\\n-99,'=1+1\\r\\n2,ok\\r\\n"
    """
    date_columns = None if dates is None else set(dates)
    names = [str(c) for c in frame.columns]
    writers = []
    for position, name in enumerate(names):
        column = frame.iloc[:, position]
        as_date = None if date_columns is None else name in date_columns
        writer = _column_writer(name, column, as_date)
        if writer is None:
            return _write_csv_pandas(path, frame, dates=dates)
        writers.append(writer)
    if not writers:
        return _write_csv_pandas(path, frame, dates=dates)
    header = ",".join(_csv_field(neutralise_cell(n)) for n in names)
    if len(names) == 1 and not header:
        header = '""'
    with atomic_path(path) as tmp, open(tmp, "wb") as handle:
        handle.write(("\ufeff" + header + "\r\n").encode("utf-8"))
        for start in range(0, len(frame), _CHUNK_ROWS):
            cells = [w.cells(w.values.slice(start, _CHUNK_ROWS)) for w in writers]
            if len(cells) == 1:
                # csv writes a record that is one empty field as "" (else it would be a blank line)
                cells[0] = pc.if_else(pc.equal(cells[0], _s("")), _s('""'), cells[0])
            body = cells[0] if len(cells) == 1 else pc.binary_join_element_wise(*cells, _s(","))
            rows = pc.binary_join_element_wise(body, _s("\r\n"), _s(""))
            _write_rows(handle, rows)
            del cells, rows
    return Path(path)


def _write_csv_pandas(path: str | Path, frame: pd.DataFrame, *,
                      dates: Iterable[str] | None = None) -> Path:
    """The same bytes through pandas, for what the fast path does not format (time zones,
    fractions of a second, unusual dtypes, frames without columns)."""
    prepared = prepare_csv_frame(frame, dates=dates)
    with atomic_path(path) as tmp:
        prepared.to_csv(tmp, index=False, encoding="utf-8-sig", lineterminator="\r\n",
                        quoting=csv.QUOTE_MINIMAL, na_rep="")
    return Path(path)
