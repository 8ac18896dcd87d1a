"""Excel workbooks (``.xlsx``, ``.xlsm``), read with openpyxl in read-only mode.

The sheet read is the one named like the instrument id (ignoring case), else the first; its
row 1 holds the column names (item ids, as in a plain CSV file, with the staged meta columns
``_record``, ``_wave``, ... read under their names), and every later row down to the last one
holding a value is a data row, blank rows included, so ``_row`` is the spreadsheet row.

Cells become the staged text of :mod:`pceval.ingest.tabular`: what a user sees in the cell,
without its number format (``4`` for 4 shown as ``4.00``; a date ``YYYY-MM-DD``; ``TRUE``/
``FALSE`` as ``1``/``0``); an Excel error (``#DIV/0!``) is kept as written and noted.

Formulas are never evaluated. A formula cell is read as the value Excel saved with it (its
cached value, ``data_only=True``), and a note names the cells; a formula cell without a saved
value (a workbook written by a program, never opened in Excel) is blank. The formula's own
text never reaches the staged frame, so ``=HYPERLINK(...)`` or ``=cmd|' /C calc'!A0`` is
inert data at worst.

``.xls`` (Excel 97-2003), ``.xlsb`` and password-protected workbooks are refused with a fix.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
from openpyxl import load_workbook
from openpyxl.utils import get_column_letter

from pceval.errors import DataError
from pceval.ingest.detect import _OLE2
from pceval.ingest.staged import IngestResult
from pceval.ingest.tabular import (
    SourceFile,
    WarningNotes,
    assemble,
    check_file,
    plan_columns,
    read_head,
    unreadable,
    value_text,
)
from pceval.instrument.model import Instrument

_STRING = pa.string()
_WHAT = "Excel workbook (.xlsx)"
_SAVE_AS = ("open it in Excel and save it as an Excel Workbook (.xlsx) without a password, "
            "or export CSV")


def read_excel(path: str | Path, instrument: Instrument, *, sheet: str | None = None) -> IngestResult:
    """Read one sheet of an Excel workbook into the staged frame (see the module notes).

    Parameters
    ----------
    path : str or Path
        The workbook.
    instrument : Instrument
        The instrument whose items name the columns.
    sheet : str, optional
        The sheet to read; by default the sheet named like the instrument id, else the first.

    Raises
    ------
    DataError
        If the file is missing, empty, an ``.xls``/``.xlsb``/protected workbook, damaged, has
        no such sheet, a blank or duplicated column name, or no column named by an item.
    """
    file = str(path)
    check_file(path)
    head = read_head(path)
    if head.startswith(_OLE2):
        raise DataError("this is an Excel 97-2003 (.xls) or password-protected workbook, which "
                        "cannot be read", file=file, fix=_SAVE_AS)
    if not head.startswith(b"PK\x03\x04"):
        raise DataError(f"this is not an {_WHAT}", file=file, fix=_not_excel_fix(head))
    caught = WarningNotes()
    with caught:
        read = _read_sheet(file, instrument, sheet, data_only=False)
    notes = [read.note] if read.note else []
    cells = read.cells
    if read.formulas:
        with caught:
            second = _read_sheet(file, instrument, read.title, data_only=True, only=read.formulas)
        saved = second.saved
        read.errors.extend(second.errors)
        blank = []
        position = {r: p for p, r in enumerate(read.rows)}
        for r, c in sorted(read.formulas):
            value = saved.get((r, c))
            if r == 1:
                read.names[c] = value or ""
            elif r in position and c < len(cells[position[r]]):
                cells[position[r]][c] = value
            if value is None:
                blank.append(_cell(r, c))
        notes.append(f"{len(read.formulas)} formula cell(s) were read as the value Excel saved with "
                     f"them, never evaluated: {_cells_text([_cell(r, c) for r, c in sorted(read.formulas)])}")
        if blank:
            notes.append(f"{len(blank)} formula cell(s) have no saved value and were read as blank: "
                         f"{_cells_text(blank)} (open the workbook in Excel and save it to store "
                         "their values, or type the values)")
    if read.errors:
        notes.append(f"{len(read.errors)} cell(s) hold an Excel error, kept as written: "
                     f"{_cells_text(read.errors)}")
    notes.extend(caught.notes)
    plan, meta = plan_columns(file, read.names, instrument)
    # every column, used or not: a row is "entirely blank" only if all its cells are
    texts = {i: pa.array([row[i] if i < len(row) else None for row in cells], _STRING)
             for i in range(len(read.names))}
    return assemble(SourceFile(file), read.names, texts, np.asarray(read.rows, np.int64), instrument,
                    plan, meta, platform="excel", notes=notes)


@dataclass
class _Sheet:
    """What a pass over a sheet found."""

    title: str
    note: str | None = None
    names: list[str] = field(default_factory=list)
    rows: list[int] = field(default_factory=list)
    cells: list[list[str | None]] = field(default_factory=list)
    formulas: set[tuple[int, int]] = field(default_factory=set)
    errors: list[str] = field(default_factory=list)
    saved: dict[tuple[int, int], str | None] = field(default_factory=dict)


def _read_sheet(file: str, instrument: Instrument, sheet: str | None, *, data_only: bool,
                only: set[tuple[int, int]] | None = None) -> _Sheet:
    """One pass over a sheet. With ``only``, collect just those (row, column) cells' values
    into ``saved`` (the second pass, for formula cells' saved values)."""
    try:
        with open(file, "rb") as handle:
            workbook = load_workbook(handle, read_only=True, data_only=data_only, keep_links=False)
            try:
                return _pass(workbook, file, instrument, sheet, only)
            finally:
                workbook.close()
    except DataError:
        raise
    except Exception as exc:  # noqa: BLE001 - openpyxl, zipfile and the XML parser reading untrusted bytes
        raise unreadable(file, _WHAT, exc) from None


def _pass(workbook: Any, file: str, instrument: Instrument, sheet: str | None,
          only: set[tuple[int, int]] | None) -> _Sheet:
    sheets = list(workbook.worksheets)
    if not sheets:
        raise DataError("the workbook has no worksheet", file=file, fix="export the data again")
    note = None
    if sheet is not None:
        found = [ws for ws in sheets if ws.title == sheet]
        if not found:
            raise DataError(f"the workbook has no sheet {sheet!r} (sheets: "
                            f"{', '.join(repr(ws.title) for ws in sheets[:10])})", file=file,
                            fix="give the name of the sheet holding the data")
        worksheet = found[0]
    else:
        named = [ws for ws in sheets if ws.title.strip().casefold() == instrument.id.casefold()]
        worksheet = named[0] if named else sheets[0]
        if len(sheets) > 1:
            why = "named like the instrument" if named else "the first"
            note = f"the workbook has {len(sheets)} sheets; sheet {worksheet.title!r} ({why}) was read"
    worksheet.reset_dimensions()  # the stored dimensions may be wrong; read every row there is
    out = _Sheet(title=worksheet.title, note=note)
    if only is not None:
        wanted_rows = {r for r, _ in only}
        for number, row in _numbered(worksheet.iter_rows()):
            if number in wanted_rows:
                for c, cell in enumerate(row):
                    if (number, c) in only:
                        out.saved[(number, c)] = value_text(cell.value)
                        if getattr(cell, "data_type", "n") == "e" and cell.value is not None:
                            out.errors.append(_cell(number, c))
        return out
    last_filled = 0  # how many data rows up to the last one holding a value
    width = 0
    for number, row in _numbered(worksheet.iter_rows()):
        values: list[str | None] = []
        for c, cell in enumerate(row):
            kind = getattr(cell, "data_type", "n")
            if kind == "f":
                out.formulas.add((number, c))
                values.append(None)
                continue
            text = value_text(cell.value)
            if kind == "e" and text is not None:
                out.errors.append(_cell(number, c))
            values.append(text)
        while values and values[-1] is None and (number, len(values) - 1) not in out.formulas:
            values.pop()
        if number == 1:
            out.names = [v or "" for v in values]
            continue
        out.rows.append(number)
        out.cells.append(values)
        if values:
            last_filled = len(out.rows)
            width = max(width, len(values))
    del out.rows[last_filled:], out.cells[last_filled:]  # rows after the last value hold no data
    out.names += [""] * (width - len(out.names))  # values right of the last named column
    return out


def _cell(row: int, column: int) -> str:
    return f"{get_column_letter(column + 1)}{row}"


def _numbered(rows: Iterator[tuple[Any, ...]]) -> Iterator[tuple[int, tuple[Any, ...]]]:
    """Rows with their spreadsheet number (read-only sheets fill gaps with empty rows)."""
    for number, row in enumerate(rows, start=1):
        yield number, row


def _cells_text(cells: list[str], limit: int = 8) -> str:
    shown = ", ".join(cells[:limit])
    return shown + (f" and {len(cells) - limit} more" if len(cells) > limit else "")


def _not_excel_fix(head: bytes) -> str:
    from pceval.ingest.detect import binary_platform_of

    other = binary_platform_of(head)
    if other and other != "zip":
        return f"it looks like a {other} file: set platform: {other} (or auto)"
    if head and all(byte >= 0x09 for byte in head[:16]):
        return ("it looks like text (some systems name tab-separated or HTML exports .xls): "
                "if it is a delimited export, set platform: csv; otherwise " + _SAVE_AS)
    return _SAVE_AS

