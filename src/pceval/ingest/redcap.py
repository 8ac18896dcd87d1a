"""REDCap record exports ("CSV / Microsoft Excel (raw data)").

One header row of field names: the record id field (``record_id``, or whatever the project's
first field is called), ``redcap_event_name`` in longitudinal projects,
``redcap_repeat_instrument``/``redcap_repeat_instance`` when the project has repeating
instruments, then one column per field named by its variable name (the item id), checkbox
fields as one column per choice (``item___code``: three underscores; a negative code ``-99``
is written ``item____99``), and ``<form>_complete`` (0 incomplete, 1 unverified, 2 complete).
Values are raw codes; project-level missing-data codes (``UNK``, ``NASK``, ...) may appear in
any field and are kept as written.

Exports of *labels* (headers such as ``Record ID``, ``Event Name``, ``... (choice=...)``) are
refused: their values are choice labels that cannot be checked against the instrument.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pceval.errors import DataError
from pceval.ingest.staged import (
    ColumnPlan,
    HeaderIndex,
    IngestResult,
    Target,
    build_result,
    first_row_where,
    meta_text,
    plan_items,
)
from pceval.ingest.textfile import TextFile, TextGrid
from pceval.instrument.model import Instrument, multi_column

EVENT = "redcap_event_name"
RECORD = "record_id"
REPEAT = ("redcap_repeat_instrument", "redcap_repeat_instance")
_REASONS = {
    "redcap_data_access_group": "REDCap data access group (platform metadata)",
    "redcap_survey_identifier": "identifier: REDCap survey participant identifier",
}
_LABEL_HEADERS = ("Record ID", "Event Name", "Repeat Instrument", "Repeat Instance")


def checkbox_column(item_id: str, code: object) -> str:
    """REDCap's export name of one checkbox choice.

    REDCap joins the field name and the coded value with three underscores, lowercases the
    code and writes every character other than a letter, digit or underscore as ``_``.

    Examples
    --------
    >>> checkbox_column("help", 2), checkbox_column("help", -99), checkbox_column("c", "Safety.Plan")
    ('help___2', 'help____99', 'c___safety_plan')
    """
    return f"{item_id}___" + re.sub(r"[^a-z0-9_]", "_", str(code).lower())


def read_redcap(text: TextFile, instrument: Instrument, *, events: Mapping[str, str] | None = None) -> IngestResult:
    """Read a REDCap raw-data record export into the staged frame.

    Parameters
    ----------
    text : TextFile
        The opened export.
    instrument : Instrument
        The instrument whose fields the export holds.
    events : mapping, optional
        REDCap unique event name → wave (``{"baseline_arm_1": "baseline"}``). Without it
        ``_wave`` is left blank.

    Raises
    ------
    DataError
        For a label export, or an event missing from ``events``.
    """
    grid = text.read_grid(1)
    names = grid.names
    _refuse_labels(names, text.file)
    extra = {}
    for item in instrument.data_items():
        if item.is_multiple:
            for choice in instrument.choices_of(item):
                column = multi_column(item.id, choice.code)
                extra[checkbox_column(item.id, choice.code)] = Target("split", column, item, str(choice.code))
    index = HeaderIndex(instrument, extra)
    plan = ColumnPlan(file=text.file)
    position = {name: i for i, name in enumerate(names)}
    used: set[int] = set()
    n = grid.table.num_rows

    record = position.get(RECORD)
    if record is None and (EVENT in position or REPEAT[0] in position) and index.match(names[0]) is None:
        record = 0  # REDCap always exports the project's record id field first
        plan.notes.append(f"column {names[0]!r} (first column) was read as the REDCap record id")
    if record is not None:
        plan.meta["_record"] = meta_text(grid, record)
        used.add(record)

    if EVENT in position:
        i = position[EVENT]
        used.add(i)
        event = meta_text(grid, i)
        plan.meta["_event"] = event
        if events:
            plan.meta["_wave"] = _waves(grid, event, events, text.file)
        else:
            plan.notes.append("no events mapping was given, so _wave is blank; list the event names "
                              "under events: of this source in pceval.yml")

    elif events:
        plan.notes.append(f"an events mapping was given but the file has no {EVENT} column "
                          "(a classic, non-longitudinal project?), so _wave is blank")

    for name in REPEAT:
        if name in position:
            i = position[name]
            used.add(i)
            values = meta_text(grid, i)
            if values.null_count == n:
                plan.drop(name, i, "REDCap repeating-instrument column, blank (no repeating instruments)")
            else:
                plan.drop(name, i, "REDCap repeating-instrument bookkeeping")
                if name == REPEAT[1] and "_record" in plan.meta:
                    # REDCap's own key of a response is record, event and instance: an instance
                    # keeps its own record id, so two instances are never taken for one response
                    plan.meta["_record"] = pc.if_else(
                        pc.is_null(values), plan.meta["_record"],
                        pc.binary_join_element_wise(plan.meta["_record"], values, "#"))
                if name == REPEAT[0]:
                    kinds = sorted(set(values.drop_null().to_pylist()))
                    plan.notes.append(f"{n - values.null_count} row(s) are repeating-instrument instances "
                                      f"({', '.join(kinds)}); each is kept as a row of its own")

    complete, timestamps = [], []
    for i, name in enumerate(names):
        if i in used or index.match(name) is not None:
            continue
        if name.endswith("_complete"):
            complete.append(i)
        elif name.endswith("_timestamp"):
            timestamps.append(i)
    if complete:
        plan.meta["_complete"] = _complete(grid, complete, text.file)
        for i in complete:
            plan.drop(names[i], i, "REDCap form status (kept as _complete)")
    if timestamps:
        stamp = meta_text(grid, timestamps[0])
        stamp = pc.if_else(pc.match_substring_regex(stamp, r"^\d{4}-\d\d-\d\d"), stamp, pa.scalar(None, pa.string()))
        plan.meta["_submitted_at"] = pc.replace_substring_regex(stamp, r"^(\d{4}-\d\d-\d\d) ", r"\1T")
        for i in timestamps:
            plan.drop(names[i], i, "REDCap survey timestamp (the first is kept as _submitted_at)")
    used.update(complete, timestamps)

    plan_items(plan, grid, index, used=used, reasons=_REASONS)
    return build_result(text, grid, instrument, plan, platform="redcap")


def _refuse_labels(names: tuple[str, ...], file: str) -> None:
    label = next((n for n in names if n in _LABEL_HEADERS or "(choice=" in n or n.endswith("Complete?")), None)
    if label is not None:
        raise DataError(
            "this is a REDCap export of labels (headers are field labels), which cannot be "
            "checked against the instrument", file=file, row=1, field=label,
            fix='export again choosing "CSV / Microsoft Excel (raw data)" (raw values, variable names as headers)',
        )


def _waves(grid: TextGrid, event: pa.ChunkedArray | pa.Array, events: Mapping[str, str], file: str) -> pa.Array:
    keys = pa.array(list(events), pa.string())
    position = pc.index_in(event, value_set=keys)
    unknown = pc.and_(pc.is_null(position), pc.is_valid(event))
    row = first_row_where(grid, unknown)
    if row is not None:
        value = pc.filter(event, unknown)[0].as_py()
        raise DataError(
            f"event {value!r} is not in the events mapping (known events: {', '.join(events)})",
            file=file, row=row, field=EVENT,
            fix=f"add {value!r} with its wave under events: of this source in pceval.yml",
        )
    return pc.take(pa.array(list(events.values()), pa.string()), position)


def _complete(grid: TextGrid, columns: list[int], file: str) -> pa.Array:
    """"1" when every filled form status is 2 (complete), "0" when one is not, else null."""
    n = grid.table.num_rows
    any_filled = np.zeros(n, dtype=bool)
    not_complete = np.zeros(n, dtype=bool)
    for i in columns:
        status = meta_text(grid, i)
        bad = pc.invert(pc.is_in(status, value_set=pa.array(["0", "1", "2"])))
        row = first_row_where(grid, pc.and_(bad, pc.is_valid(status)))
        if row is not None:
            raise DataError(
                f"form status {pc.filter(status, pc.and_(bad, pc.is_valid(status)))[0].as_py()!r} "
                "is not 0, 1 or 2", file=file, row=row, field=grid.names[i],
                fix='export again choosing "CSV / Microsoft Excel (raw data)"')
        filled = status.is_valid().to_numpy(zero_copy_only=False)
        two = pc.fill_null(pc.equal(status, "2"), False).to_numpy(zero_copy_only=False)
        any_filled |= filled
        not_complete |= filled & ~two
    codes = np.where(not_complete, 0, 1).astype(np.int8)
    return pa.array(["0", "1"], pa.string()).take(pa.array(codes, mask=~any_filled))
