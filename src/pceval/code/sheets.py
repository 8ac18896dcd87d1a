"""Coding workbooks (XLSX): written for each coder, read back and checked cell by cell.

A coder's workbook has an ``instructions`` sheet, the ``codebook``, and the ``coding`` sheet:
one row per segment (``segment_id``, ``respondent``, ``text``, ``done``) and one column per code,
each code cell a 0/1 drop-down; cells of codes that do not apply to the row's respondent type
are shaded. A hidden ``about`` sheet records whose workbook it is and which export it belongs
to, so a workbook returned under another name, or from an earlier export, is recognised.

The consensus workbook lists the disagreements of double-coded segments, one row per segment
and code, with a ``decision`` column for the adjudicator.

Workbooks are saved with fixed timestamps, so the same assignment gives the same bytes. Text is
always written as text: an answer starting with ``=`` is never a formula.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import io
import zipfile
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

import pandas as pd

from pceval.errors import DataError
from pceval.instrument.themes import ThematicCodebook
from pceval.io import atomic_path

__all__ = [
    "CODING_SHEET",
    "CONSENSUS_SHEET",
    "FIXED_COLUMNS",
    "binary_value",
    "read_coding_workbook",
    "read_consensus_workbook",
    "write_coding_workbook",
    "write_consensus_workbook",
]

CODING_SHEET = "coding"
CONSENSUS_SHEET = "consensus"
ABOUT_SHEET = "about"
#: The columns of the coding sheet before the code columns.
FIXED_COLUMNS = ("segment_id", "respondent", "text", "done")
CONSENSUS_COLUMNS = ("segment_id", "code", "label", "respondent", "text", "coder_values", "decision")

_EPOCH = _dt.datetime(2000, 1, 1)
_SHADE = "#D9D9D9"
#: Excel's limit on the characters of one cell.
_CELL_LIMIT = 32_767
_CUT = " [cut: longer than an Excel cell holds]"
_KEPT = _CELL_LIMIT - len(_CUT)

INSTRUCTIONS = (
    "How to code",
    "",
    ("Each row of the 'coding' sheet is one answer (a segment). Read the text and, for every "
    "theme it expresses, put 1 in that theme's column. Put 0 or leave the cell blank when the "
    "theme is not there. A segment may carry several themes, or none."),
    "The 'codebook' sheet defines each theme, with what to include and exclude and an example.",
    "Shaded cells are themes that do not apply to that respondent type: leave them blank.",
    ("Put 1 in 'done' when you have coded a row (a row with any theme marked counts as done too); "
    "rows left empty are treated as not yet coded."),
    ("Do not change segment ids, column headings or the order of columns; do not add rows. You "
    "may sort or filter the sheet."),
    ("Code what is written, not what you guess. The text has been de-identified: [NAME], [PHONE] "
    "and similar placeholders stand for what was taken out."),
    ("Do not share this workbook outside the evaluation team. Return it to the evaluator as it is "
    "(the file name may change); it is read back with `pceval code import`."),
)


def _text(value: object) -> str | None:
    """A cell's text, or None for a missing value; text too long for a cell is cut, visibly."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    text = str(value)
    if len(text) > _CELL_LIMIT:
        text = text[:_KEPT] + _CUT
    return text


def _column_text(values: pd.Series) -> list[str | None]:
    """A column's cells as :func:`_text` gives them, computed for the whole column at once."""
    text = values.astype("string")
    long = text.str.len() > _CELL_LIMIT
    if long.any():
        text = text.where(~long, text.str.slice(0, _KEPT) + _CUT)
    return [None if v is pd.NA else v for v in text.tolist()]


def _write_text(ws, row: int, col: int, value: object, fmt=None) -> None:
    """Write a value as text (never a formula or a link, whatever it starts with)."""
    text = _text(value)
    if text is not None:
        ws.write_string(row, col, text, fmt)
    elif fmt is not None:
        ws.write_blank(row, col, None, fmt)


@contextlib.contextmanager
def _workbook(path: Path) -> Iterator:
    """An XlsxWriter workbook written row by row to a temporary file, renamed over ``path``.

    The creation time is fixed (XlsxWriter stamps it into ``docProps/core.xml`` and takes the
    zip entries' times from it), so the same input gives the same bytes.
    """
    import xlsxwriter

    with atomic_path(path) as tmp:
        wb = xlsxwriter.Workbook(str(tmp), {"constant_memory": True, "tmpdir": str(tmp.parent),
                                            "strings_to_formulas": False, "strings_to_urls": False})
        wb.set_properties({"author": "pceval", "created": _EPOCH})
        try:
            yield wb
        finally:
            wb.close()


def _about_sheet(wb, about: Mapping[str, str]) -> None:
    ws = wb.add_worksheet(ABOUT_SHEET)
    for row, (key, value) in enumerate(about.items()):
        _write_text(ws, row, 0, key)
        _write_text(ws, row, 1, value)
    ws.hide()


def _header(ws, columns: Iterable[str], fmt) -> None:
    for col, name in enumerate(columns):
        ws.write_string(0, col, name, fmt)


def _instructions_sheet(wb, title: str, lines: Iterable[str], bold) -> None:
    ws = wb.add_worksheet("instructions")
    wrap = wb.add_format({"text_wrap": True, "valign": "top"})
    ws.write_string(0, 0, title, bold)
    for row, line in enumerate(lines, start=1):
        _write_text(ws, row, 0, line, wrap)
    ws.set_column(0, 0, 110)


def write_coding_workbook(path: str | Path, *, coder: str, segments: pd.DataFrame,
                          codebook: ThematicCodebook, about: Mapping[str, str]) -> Path:
    """Write one coder's workbook (atomically).

    Parameters
    ----------
    path : str or Path
        The ``.xlsx`` file to write.
    coder : str
        Whose workbook it is (shown on the instructions sheet).
    segments : DataFrame
        The coder's segments: ``segment_id``, ``respondent``, ``text`` (in the order to show).
    codebook : ThematicCodebook
        One code column per code, in codebook order.
    about : mapping of str to str
        What the hidden ``about`` sheet records (``coder``, ``export_id`` ...).

    Returns
    -------
    Path

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from pceval.instrument.themes import load_thematic_codebook
    >>> seg = pd.DataFrame({"segment_id": ["worker_survey:Pa:comments"], "respondent": ["worker"],
    ...                     "text": ["=Caseloads are too high."]})
    >>> path = write_coding_workbook(pathlib.Path(tempfile.mkdtemp()) / "c.xlsx", coder="A",
    ...                              segments=seg, codebook=load_thematic_codebook(),
    ...                              about={"coder": "A", "export_id": "x"})
    >>> from openpyxl import load_workbook
    >>> load_workbook(path)["coding"]["C2"].value
    '=Caseloads are too high.'
    """
    codes = codebook.codes
    first_code = len(FIXED_COLUMNS)
    last_row = max(len(segments), 1)
    with _workbook(Path(path)) as wb:
        bold = wb.add_format({"bold": True})
        rotated = wb.add_format({"bold": True, "rotation": 90})
        wrap = wb.add_format({"text_wrap": True, "valign": "top"})
        shade = wb.add_format({"bg_color": _SHADE, "pattern": 1})

        # the coding sheet first: it is the one a coder opens on
        ws = wb.add_worksheet(CODING_SHEET)
        _header(ws, FIXED_COLUMNS, bold)
        for offset, code_id in enumerate(codebook.ids):
            ws.write_string(0, first_code + offset, code_id, rotated)
        shaded: dict[str, list[int]] = {}
        # the cells' text prepared a column at a time: the loop below only writes
        columns = zip(*(_column_text(segments[c]) for c in ("segment_id", "respondent", "text")),
                      strict=True)
        write_string, write_blank = ws.write_string, ws.write_blank
        for row, (segment, respondent, text) in enumerate(columns, start=1):
            if segment is not None:
                write_string(row, 0, segment)
            if respondent is not None:
                write_string(row, 1, respondent)
            if text is not None:
                write_string(row, 2, text, wrap)
            if respondent not in shaded:
                shaded[respondent] = [first_code + offset for offset, code in enumerate(codes)
                                      if respondent not in code.respondents]
            for col in shaded[respondent]:
                write_blank(row, col, None, shade)
        if codes:
            ws.data_validation(1, first_code, last_row, first_code + len(codes) - 1, {
                "validate": "list", "source": ["0", "1"], "ignore_blank": True,
                "error_title": "0 or 1",
                "error_message": "Enter 1 when the theme is there, 0 or nothing when it is not."})
        ws.data_validation(1, 3, last_row, 3, {
            "validate": "list", "source": ["1"], "ignore_blank": True, "error_title": "done",
            "error_message": "Enter 1 when the row is coded."})
        ws.freeze_panes(1, 3)
        for col, width in enumerate((34, 12, 70, 6)):
            ws.set_column(col, col, width)
        if codes:
            ws.set_column(first_code, first_code + len(codes) - 1, 8)

        _instructions_sheet(wb, f"Coding sheet for {coder}: {codebook.title} (codebook "
                            f"{codebook.id} version {codebook.version})", INSTRUCTIONS, bold)

        ws = wb.add_worksheet("codebook")
        fields = ("id", "label", "definition", "include", "exclude", "example", "domains", "respondents")
        _header(ws, fields, bold)
        for row, code in enumerate(codes, start=1):
            values = (code.id, code.label, code.definition, code.include, code.exclude, code.example,
                      ", ".join(code.domains), ", ".join(code.respondents))
            for col, value in enumerate(values):
                _write_text(ws, row, col, value, wrap)
        for col, width in enumerate((24, 30, 60, 50, 50, 45, 12, 24)):
            ws.set_column(col, col, width)
        ws.freeze_panes(1, 1)

        _about_sheet(wb, about)
    return Path(path)


def write_consensus_workbook(path: str | Path, disagreements: pd.DataFrame, *,
                             about: Mapping[str, str]) -> Path:
    """Write the consensus workbook: one row per disagreement, a ``decision`` to fill in.

    Parameters
    ----------
    path : str or Path
        The ``.xlsx`` file to write.
    disagreements : DataFrame
        Columns ``segment_id, code, label, respondent, text, coder_values`` and ``decision``
        (0, 1 or missing: a decision already made is written back so it is kept).
    about : mapping of str to str
        What the hidden ``about`` sheet records (``export_id`` ...).

    Returns
    -------
    Path

    Examples
    --------
    >>> import tempfile, pathlib
    >>> rows = pd.DataFrame({"segment_id": ["s1"], "code": ["validation"], "label": ["Validation"],
    ...                      "respondent": ["woman"], "text": ["She listened."],
    ...                      "coder_values": ["A=1; B=0"], "decision": [pd.NA]})
    >>> path = write_consensus_workbook(pathlib.Path(tempfile.mkdtemp()) / "c.xlsx", rows,
    ...                                 about={"kind": "consensus"})
    >>> from openpyxl import load_workbook
    >>> [c.value for c in load_workbook(path)["consensus"][2]]
    ['s1', 'validation', 'Validation', 'woman', 'She listened.', 'A=1; B=0', None]
    """
    decision_col = len(CONSENSUS_COLUMNS) - 1
    with _workbook(Path(path)) as wb:
        bold = wb.add_format({"bold": True})
        wrap = wb.add_format({"text_wrap": True, "valign": "top"})
        ws = wb.add_worksheet(CONSENSUS_SHEET)
        _header(ws, CONSENSUS_COLUMNS, bold)
        records = disagreements.loc[:, list(CONSENSUS_COLUMNS)].itertuples(index=False, name=None)
        for row, record in enumerate(records, start=1):
            for col, value in enumerate(record[:-1]):
                _write_text(ws, row, col, value, wrap if col == 4 else None)
            if not pd.isna(record[-1]):
                ws.write_number(row, decision_col, int(record[-1]))
        ws.data_validation(1, decision_col, max(len(disagreements), 1), decision_col,
                           {"validate": "list", "source": ["0", "1"], "ignore_blank": True})
        for col, width in enumerate((34, 22, 28, 12, 60, 22, 9)):
            ws.set_column(col, col, width)
        ws.freeze_panes(1, 2)
        _instructions_sheet(wb, "Consensus: decide the themes the coders disagreed on", (
            ("Each row is one theme of one segment that two coders coded differently "
             "('coder_values')."),
            ("Put 1 in 'decision' when the theme is there, 0 when it is not; leave it blank "
             "to decide later. Do not change the other columns."),
            ("Read back with `pceval code import`; every decision is kept in "
             "coding/consensus_audit.csv.")), bold)
        _about_sheet(wb, about)
    return Path(path)


# --- reading --------------------------------------------------------------------------------


def _open(path: Path):
    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    if not path.exists():
        raise DataError("file not found", file=path)
    try:
        # keep formulas as written: a formula is not a 0 or 1 and must be reported as such
        # from bytes in memory: a workbook that fails half-way through loading would leave
        # openpyxl's own file handle open
        return load_workbook(io.BytesIO(path.read_bytes()), data_only=False, read_only=True)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise DataError(f"not an Excel workbook ({type(exc).__name__})", file=path,
                        fix="return the .xlsx file written by `pceval code export`") from None


def _about(wb, path: Path) -> dict[str, str]:
    if ABOUT_SHEET not in wb.sheetnames:
        raise DataError("the workbook has no 'about' sheet, so it is not a pceval coding sheet",
                        file=path, fix="return the .xlsx file written by `pceval code export`")
    ws = wb[ABOUT_SHEET]
    return {str(k): "" if v is None else str(v)
            for k, v in ws.iter_rows(min_col=1, max_col=2, values_only=True) if k is not None}


def _rows(wb, path: Path, sheet: str) -> tuple[list[str], list[tuple[int, tuple]]]:
    if sheet not in wb.sheetnames:
        raise DataError(f"the workbook has no {sheet!r} sheet", file=path,
                        fix="return the .xlsx file written by `pceval code export`")
    ws = wb[sheet]
    rows = ws.iter_rows(values_only=True)
    try:
        header = next(rows)
    except StopIteration:
        raise DataError(f"sheet {sheet!r} is empty", file=path, row=1) from None
    # trailing empty header cells are Excel's formatting, not columns
    names = list(header)
    while names and (names[-1] is None or str(names[-1]).strip() == ""):
        names.pop()
    body = []
    for number, values in enumerate(rows, start=2):
        values = tuple(values[: len(names)]) + (None,) * max(0, len(names) - len(values))
        if all(v is None or (isinstance(v, str) and not v.strip()) for v in values):
            continue
        body.append((number, values))
    return ["" if n is None else str(n).strip() for n in names], body


def _read_sheet(path: Path, sheet: str) -> tuple[dict[str, str], list[str], list[tuple[int, tuple]]]:
    """The ``about`` sheet, the header and the non-empty rows of ``sheet`` (file closed after)."""
    wb = _open(path)
    try:
        about = _about(wb, path)
        header, body = _rows(wb, path, sheet)
    finally:
        wb.close()
    return about, header, body


def binary_value(value: object) -> int | None:
    """A cell as 0, 1 or None (blank); anything else raises ``ValueError``.

    Examples
    --------
    >>> [binary_value(v) for v in (1, "0", 1.0, None, " ", True)]
    [1, 0, 1, None, None, 1]
    """
    if value is None:
        return None
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int | float):
        if value in (0, 1):
            return int(value)
        raise ValueError(value)
    text = str(value).strip()
    if text == "":
        return None
    if text in {"0", "1", "0.0", "1.0"}:
        return int(float(text))
    raise ValueError(value)


def read_coding_workbook(path: str | Path, *, codebook: ThematicCodebook,
                         manifest: pd.DataFrame | None = None,
                         export_id: str | None = None) -> tuple[dict[str, str], pd.DataFrame]:
    """Read a filled coding workbook, checking its layout and every cell.

    Parameters
    ----------
    path : str or Path
        The workbook.
    codebook : ThematicCodebook
        The codebook the workbook was written from.
    manifest : DataFrame, optional
        The assignments (``segment_id, respondent, coder``). When given, the workbook's coder
        must be in it, every segment must be assigned to that coder, and each segment's
        respondent type is taken from it (not from the sheet, where it could be edited).
    export_id : str, optional
        The current export; a workbook from another export is refused.

    Returns
    -------
    about : dict
        The hidden ``about`` sheet (``coder``, ``export_id`` ...).
    rows : DataFrame
        Long, one row per coded segment and applicable code: ``segment_id, respondent, code,
        value`` (0/1), plus ``row`` (the sheet row, for messages). Rows with no value and no
        ``done`` mark are not coded and are left out; in a coded row a blank code cell is 0.

    Raises
    ------
    DataError
        One line naming the file, row and field: an unknown or missing column, a value that
        is not 0, 1 or blank, a 1 for a code that does not apply to the respondent type, a
        blank or repeated segment id; with a manifest, a segment not in it or assigned to
        another coder; a workbook of an unknown coder or from another export.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from pceval.instrument.themes import load_thematic_codebook
    >>> book = load_thematic_codebook()
    >>> seg = pd.DataFrame({"segment_id": ["worker_survey:Pa:comments"], "respondent": ["worker"],
    ...                     "text": ["Caseloads are too high."]})
    >>> path = write_coding_workbook(pathlib.Path(tempfile.mkdtemp()) / "c.xlsx", coder="A",
    ...                              segments=seg, codebook=book, about={"coder": "A"})
    >>> from openpyxl import load_workbook
    >>> wb = load_workbook(path)
    >>> wb["coding"].cell(row=2, column=5 + book.ids.index("resourcing_workforce")).value = 1
    >>> wb.save(path)
    >>> about, rows = read_coding_workbook(path, codebook=book)
    >>> rows.loc[rows["value"] == 1, "code"].tolist(), len(rows)
    (['resourcing_workforce'], 11)
    """
    path = Path(path)
    about, header, body = _read_sheet(path, CODING_SHEET)
    coder = about.get("coder", "")
    if export_id is not None and about.get("export_id") != export_id:
        raise DataError(f"the workbook belongs to another export ({about.get('export_id') or 'unknown'}, "
                        f"the current one is {export_id})", file=path, field="about.export_id",
                        fix="code the workbooks of the current export (coding/sheets/), or export again")
    assigned: dict[str, tuple[str, set[str]]] = {}
    if manifest is not None:
        for seg_id, resp, who in manifest[["segment_id", "respondent", "coder"]].itertuples(index=False):
            assigned.setdefault(str(seg_id), (str(resp), set()))[1].add(str(who))
        coders = set(manifest["coder"].astype(str))
        if coder not in coders:
            raise DataError(f"the workbook is for coder {coder or '(none)'}, who is not in the "
                            f"manifest (coders: {', '.join(sorted(coders))})", file=path,
                            field="about.coder", fix="return the workbooks written by the current export")
    known = [*FIXED_COLUMNS, *codebook.ids]
    for col, name in enumerate(header, start=1):
        if name not in known:
            raise DataError(f"unknown column {name!r} in the coding sheet", file=path, row=1,
                            field=name or f"column {col}",
                            fix=f"use only the columns written by the export: the fixed ones and the codes of "
                                f"codebook {codebook.id} {codebook.version}")
        if header.index(name) != col - 1:
            raise DataError(f"column {name!r} appears twice", file=path, row=1, field=name)
    missing = [name for name in known if name not in header]
    if missing:
        raise DataError(f"column {missing[0]!r} is missing from the coding sheet", file=path,
                        row=1, field=missing[0], fix="restore the column as the export wrote it")
    at = {name: header.index(name) for name in header}
    codes = codebook.codes
    records: list[tuple[str, str, str, int, int]] = []
    seen: dict[str, int] = {}
    for number, values in body:
        seg = values[at["segment_id"]]
        seg = "" if seg is None else str(seg).strip()
        respondent = values[at["respondent"]]
        respondent = "" if respondent is None else str(respondent).strip()
        parsed: dict[str, int | None] = {}
        for name in ("done", *codebook.ids):
            try:
                parsed[name] = binary_value(values[at[name]])
            except ValueError:
                raise DataError(f"value {values[at[name]]!r} is not 0, 1 or blank", file=path,
                                row=number, field=name,
                                fix="enter 1 when the theme is there, 0 or nothing when not") from None
        if not seg:
            raise DataError("a coded row has no segment id", file=path, row=number,
                            field="segment_id", fix="restore the segment id the export wrote")
        if seg in seen:
            raise DataError(f"segment {seg} appears twice (first in row {seen[seg]})", file=path,
                            row=number, field="segment_id", fix="delete the repeated row")
        seen[seg] = number
        if manifest is not None:
            if seg not in assigned:
                raise DataError(f"segment {seg} is not in the manifest", file=path, row=number,
                                field="segment_id", fix="restore the segment id the export wrote, "
                                "or delete the row")
            respondent, holders = assigned[seg]
            if coder not in holders:
                raise DataError(f"segment {seg} is assigned to {', '.join(sorted(holders))}, not to "
                                f"{coder}: the row comes from another coder's workbook", file=path,
                                row=number, field="segment_id",
                                fix=f"code only the rows of {coder}'s own workbook")
        coded = parsed["done"] == 1 or any(parsed[c.id] is not None for c in codes)
        if not coded:
            continue
        for code in codes:
            value = parsed[code.id]
            if respondent not in code.respondents:
                if value == 1:
                    raise DataError(f"code {code.id} does not apply to respondent type "
                                    f"{respondent or '(blank)'}", file=path, row=number,
                                    field=code.id, fix="leave shaded cells blank")
                continue
            records.append((seg, respondent, code.id, 0 if value is None else value, number))
    rows = pd.DataFrame(records, columns=["segment_id", "respondent", "code", "value", "row"])
    return about, rows.astype({"segment_id": "string", "respondent": "string", "code": "string",
                               "value": "int64", "row": "int64"})


def read_consensus_workbook(path: str | Path) -> tuple[dict[str, str], pd.DataFrame]:
    """Read the consensus workbook's decisions.

    Returns
    -------
    about : dict
        The hidden ``about`` sheet.
    decisions : DataFrame
        ``segment_id, code, decision, row``: the rows with a decision (0 or 1).

    Raises
    ------
    DataError
        An unknown or missing column, a decision that is not 0, 1 or blank, a repeated row.
    """
    path = Path(path)
    about, header, body = _read_sheet(path, CONSENSUS_SHEET)
    for name in header:
        if name not in CONSENSUS_COLUMNS:
            raise DataError(f"unknown column {name!r} in the consensus sheet", file=path, row=1,
                            field=name, fix="use only the columns written by the import")
    missing = [name for name in CONSENSUS_COLUMNS if name not in header]
    if missing:
        raise DataError(f"column {missing[0]!r} is missing from the consensus sheet", file=path,
                        row=1, field=missing[0], fix="restore the column as the import wrote it")
    at = {name: header.index(name) for name in header}
    records = []
    seen: dict[tuple[str, str], int] = {}
    for number, values in body:
        seg = str(values[at["segment_id"]] or "").strip()
        code = str(values[at["code"]] or "").strip()
        try:
            decision = binary_value(values[at["decision"]])
        except ValueError:
            raise DataError(f"decision {values[at['decision']]!r} is not 0, 1 or blank", file=path,
                            row=number, field="decision", fix="enter 1 (theme there) or 0 (not there)") from None
        if (seg, code) in seen:
            raise DataError(f"segment {seg}, code {code} appears twice (first in row "
                            f"{seen[(seg, code)]})", file=path, row=number, field="segment_id",
                            fix="delete the repeated row")
        seen[(seg, code)] = number
        if decision is not None:
            records.append((seg, code, decision, number))
    out = pd.DataFrame(records, columns=["segment_id", "code", "decision", "row"])
    return about, out.astype({"segment_id": "string", "code": "string", "decision": "int64", "row": "int64"})
