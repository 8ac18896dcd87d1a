"""Qualtrics response exports ("Use numeric values"), CSV or TSV.

Three header rows: (1) export tags, (2) question text, (3) ImportId JSON such as
``{"ImportId":"QID7"}`` (``QIDn_TEXT`` for a text entry question, ``_recordId`` for
``ResponseId``). Data starts on row 4. The CSV is UTF-8 with a byte-order mark; the TSV option
writes UTF-16 LE with a byte-order mark and tabs (both are read the same way).

Export tags are item ids. A multiple-choice question is one column of comma-separated codes
(``1,3,5``), split into the item's choice columns. Metadata: ``ResponseId`` → ``_record``,
``RecordedDate`` → ``_submitted_at`` (ISO), ``Finished`` → ``_complete``, ``Status`` 8 (survey
preview) → ``_preview`` ``"1"``. IP address, location, recipient names, email and external
reference are identifiers and are dropped; so are timings and other metadata (all listed).
"""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.compute as pc

from pceval.errors import DataError
from pceval.ingest.staged import (
    ColumnPlan,
    HeaderIndex,
    IngestResult,
    build_result,
    first_row_where,
    meta_text,
    plan_items,
)
from pceval.ingest.textfile import TextFile, TextGrid
from pceval.instrument.model import Instrument

HEADER_ROWS = 3
_NUMERIC_VALUES = 'export again choosing "Use numeric values" (Data & Analysis → Export & Import → Export Data)'
_DROPPED = {
    "StartDate": "platform metadata (start time)",
    "EndDate": "platform metadata (end time)",
    "Progress": "platform metadata (progress)",
    "Duration (in seconds)": "platform metadata (duration)",
    "DistributionChannel": "platform metadata (distribution channel)",
    "UserLanguage": "platform metadata (language)",
    "IPAddress": "identifier: IP address",
    "LocationLatitude": "identifier: location",
    "LocationLongitude": "identifier: location",
    "RecipientLastName": "identifier: recipient name",
    "RecipientFirstName": "identifier: recipient name",
    "RecipientEmail": "identifier: recipient email",
    "ExternalReference": "identifier: external reference (often a contact id)",
    "ExternalDataReference": "identifier: external reference (often a contact id)",
}
_META = {"ResponseId": "_record", "RecordedDate": "_submitted_at", "Finished": "_complete",
         "Status": "_preview"}


def read_qualtrics(text: TextFile, instrument: Instrument) -> IngestResult:
    """Read a Qualtrics CSV or TSV response export into the staged frame.

    Raises
    ------
    DataError
        If row 3 is not ImportId JSON (an export in the legacy format, or edited header
        rows), or the export holds choice text instead of numeric values.
    """
    grid = text.read_grid(HEADER_ROWS)
    names = grid.names
    import_ids = _import_ids(text, grid)
    plan = ColumnPlan(file=text.file)
    used: set[int] = set()
    for i, name in enumerate(names):
        meta = _META.get(name)
        if meta is None:
            continue
        used.add(i)
        values = meta_text(grid, i)
        if meta == "_record":
            plan.meta[meta] = values
        elif meta == "_submitted_at":
            plan.meta[meta] = pc.replace_substring_regex(values, r"^(\d{4}-\d\d-\d\d) (\d)", r"\1T\2")
        elif meta == "_complete":
            plan.meta[meta] = _flag(grid, values, name, text.file)
        else:
            _require_numeric(grid, values, name, text.file)
            plan.meta[meta] = pc.if_else(pc.fill_null(pc.equal(values, "8"), False), "1", "0")
            plan.drop(name, i, "platform metadata (response status; survey previews kept as _preview)")
    index = HeaderIndex(instrument)
    plan_items(plan, grid, index, used=used, reasons=_DROPPED)
    for name, i in ((n, i) for i, n in enumerate(names) if i not in used):
        target = index.match(name)
        # numbers and dates are text entry questions in Qualtrics too; a choice item is not
        if target is not None and import_ids[i].endswith("_TEXT") and \
                (target.item.is_choice or target.item.is_multiple):
            plan.notes.append(f"column {name!r} is a text entry question in Qualtrics "
                              f"({import_ids[i]}) but item {target.item.id!r} is {target.item.type.value}")
    return build_result(text, grid, instrument, plan, platform="qualtrics")


def _import_ids(text: TextFile, grid: TextGrid) -> list[str]:
    row = text.leading_lines + HEADER_ROWS
    out = []
    for name, cell in zip(grid.names, grid.header[2], strict=True):
        try:
            value = json.loads(cell)
        except ValueError:
            value = None
        if not isinstance(value, dict) or not isinstance(value.get("ImportId"), str):
            raise DataError(
                f"row 3 should hold Qualtrics ImportId JSON such as {{\"ImportId\":\"QID1\"}} but "
                f"holds {cell[:40]!r}", file=text.file, row=row, field=name,
                fix="export again from Qualtrics (CSV or TSV, numeric values) without editing the "
                    "three header rows; for a file without them use platform: csv",
            )
        out.append(value["ImportId"])
    return out


def _require_numeric(grid: TextGrid, values: pa.ChunkedArray | pa.Array, name: str, file: str) -> None:
    bad = pc.invert(pc.match_substring_regex(values, r"^-?\d+$"))
    row = first_row_where(grid, bad)
    if row is not None:
        raise DataError(f"{name} is {pc.filter(values, pc.fill_null(bad, False))[0].as_py()!r}, "
                        "not a number: this looks like an export of choice text",
                        file=file, row=row, field=name, fix=_NUMERIC_VALUES)


def _flag(grid: TextGrid, values: pa.ChunkedArray | pa.Array, name: str, file: str) -> pa.Array:
    lowered = pc.utf8_lower(values)
    keys = pa.array(["1", "0", "true", "false"])
    position = pc.index_in(lowered, value_set=keys)
    bad = pc.and_(pc.is_null(position), pc.is_valid(values))
    row = first_row_where(grid, bad)
    if row is not None:
        raise DataError(f"{name} is {pc.filter(values, bad)[0].as_py()!r}, not 1 or 0",
                        file=file, row=row, field=name, fix=_NUMERIC_VALUES)
    return pc.take(pa.array(["1", "0", "1", "0"], pa.string()), position)
