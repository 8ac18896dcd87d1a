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

Written by hand because pandas' ``to_csv`` has no such option; pandas does the CSV quoting.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

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

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "a.csv"
    >>> f = pd.DataFrame({"n": pd.array([-99, 2], dtype="Int64"), "t": ["=1+1", "ok"]})
    >>> _ = write_csv_safe(p, f)
    >>> p.read_bytes()
    b"\\xef\\xbb\\xbfn,t\\r\\n-99,'=1+1\\r\\n2,ok\\r\\n"
    """
    prepared = prepare_csv_frame(frame, dates=dates)
    with atomic_path(path) as tmp:
        prepared.to_csv(tmp, index=False, encoding="utf-8-sig", lineterminator="\r\n",
                        quoting=csv.QUOTE_MINIMAL, na_rep="")
    return Path(path)
