"""A Frictionless data package describing the clean CSV files.

``datapackage.json`` (Data Package v2) lists one tabular resource per instrument: its CSV
(written by :func:`write_csv_safe`), a Table Schema whose fields carry the item's type, label,
choice categories, allowed codes and labelled missing values, and a ``pceval`` property with
the instrument's id and version. When the missing-reasons frame is given, each instrument also
gets a ``<name>_missing_reasons`` resource (``row, field, reason``) whose ``row`` is a foreign
key to the instrument resource's ``_row``: the reason of every blank cell, text and dates
included, travels with the data. ``frictionless validate datapackage.json`` passes.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
import pandas as pd

from pceval import __version__
from pceval.clean.log import MISSING_REASONS
from pceval.errors import ConfigError, DataError
from pceval.instrument.model import Instrument, ItemType, text_in
from pceval.io import write_json
from pceval.outputs._columns import ColumnInfo, clean_text, describe_columns, is_date_item
from pceval.outputs.csvsafe import neutralise_cell, write_csv_safe
from pceval.outputs.missing_codes import (
    MISSING_LABELS,
    apply_missing_codes,
    coded_columns,
    missing_code_labels,
    part_for,
    reason_cells,
    split_by_instrument,
)

__all__ = ["DATAPACKAGE_PROFILE", "write_datapackage"]

DATAPACKAGE_PROFILE = "https://datapackage.org/profiles/2.0/datapackage.json"
RESOURCE_PROFILE = "https://datapackage.org/profiles/2.0/dataresource.json"
SCHEMA_PROFILE = "https://datapackage.org/profiles/2.0/tableschema.json"
_NAME = re.compile(r"^[a-z0-9._-]+$")
_KEY_CANDIDATES = (("response_id",), ("response_id", "_wave"), ("_row",))

Resources = Mapping[str, tuple[pd.DataFrame, Instrument, str | Path]]


def _field_type(info: ColumnInfo, column: pd.Series) -> str:
    dtype = column.dtype
    if info.kind == "indicator":
        return "boolean"
    if pd.api.types.is_bool_dtype(dtype):
        return "boolean"
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return "date" if is_date_item(info) else "datetime"
    if pd.api.types.is_integer_dtype(dtype):
        return "integer"
    if pd.api.types.is_numeric_dtype(dtype):
        return "number"
    return "string"


def _description(info: ColumnInfo, instrument: Instrument) -> str:
    parts = [info.label]
    item = info.item
    if item is not None and item.hint:
        parts.append(clean_text(text_in(item.hint)))
    if info.kind == "scale" and info.scale is not None:
        scale = info.scale
        reverse = f"; reverse-keyed: {', '.join(scale.reverse)}" if scale.reverse else ""
        parts.append(f"Scale score ({scale.method} of {', '.join(scale.items)}{reverse}); "
                     "blank when not scored.")
    if item is not None and item.is_text:
        parts.append("Text cells starting with = + - @, tab or carriage return are written with a "
                     "leading ' (spreadsheet safety).")
    return " ".join(p for p in parts if p)


def _categories(info: ColumnInfo, instrument: Instrument, field_type: str) -> list[dict[str, Any]]:
    item = info.item
    if info.kind == "band" and info.scale is not None:
        return [{"value": neutralise_cell(b.label), "label": b.label} for b in info.scale.bands]
    if info.kind != "item" or item is None or not item.is_choice:
        return []
    out = []
    for choice in instrument.choices_of(item):
        label = clean_text(text_in(choice.label))
        if field_type == "integer":
            out.append({"value": int(choice.code), "label": label})
        elif field_type == "number":
            out.append({"value": float(choice.code), "label": label})
        else:
            # the CSV holds the neutralised form of a code (see csvsafe), so the schema does too
            out.append({"value": neutralise_cell(str(choice.code)), "label": label})
    return out


def _field(info: ColumnInfo, column: pd.Series, instrument: Instrument,
           coded: set[str]) -> dict[str, Any]:
    field_type = _field_type(info, column)
    field: dict[str, Any] = {"name": neutralise_cell(info.name), "type": field_type,
                             "title": info.label,
                             "description": _description(info, instrument)}
    if field_type == "boolean" and not pd.api.types.is_bool_dtype(column.dtype):
        field["trueValues"], field["falseValues"] = ["1"], ["0"]
    if field_type == "date":
        field["format"] = "default"
    categories = _categories(info, instrument, field_type)
    if categories:
        field["categories"] = categories
        field["constraints"] = {"enum": [c["value"] for c in categories]}
        if info.kind == "band" or (info.item is not None and info.item.type == ItemType.LIKERT):
            field["categoriesOrdered"] = True
    constraint = info.item.constraint if info.kind == "item" and info.item is not None else None
    if constraint is not None and field_type in {"integer", "number"}:
        bounds = {"minimum": constraint.min, "maximum": constraint.max}
        cast = int if field_type == "integer" else float
        for key, value in bounds.items():
            if value is not None and (field_type == "number" or float(value).is_integer()):
                field.setdefault("constraints", {})[key] = cast(value)
    if info.name in coded:
        labels = missing_code_labels(instrument, info.item)  # type: ignore[arg-type]
        # the value as the CSV spells it: a code in a decimal column is written as -95.0
        spell = str if field_type != "number" else (lambda code: repr(float(code)))
        field["missingValues"] = [{"value": ""}] + [
            {"value": spell(code), "label": label} for code, label in labels.items()]
    if info.kind == "item" and info.item is not None:
        field["pceval"] = {"item": info.item.id, "type": info.item.type.value}
    elif info.kind == "indicator" and info.item is not None and info.choice is not None:
        field["pceval"] = {"item": info.item.id, "type": info.item.type.value,
                           "choice": info.choice.code}
    elif info.kind in {"scale", "band"} and info.scale is not None:
        field["pceval"] = {"scale": info.scale.id}
    return field


def _primary_key(frame: pd.DataFrame) -> list[str] | None:
    for candidate in _KEY_CANDIDATES:
        if all(c in frame.columns for c in candidate):
            keys = frame[list(candidate)]
            if not keys.isna().any().any() and not keys.duplicated().any():
                return list(candidate)
    return None


def _relative(folder: Path, csv_path: str | Path, name: str) -> PurePosixPath:
    path = Path(csv_path)
    if path.is_absolute():
        try:
            path = path.relative_to(folder)
        except ValueError:
            raise ConfigError(f"resource {name!r}: its CSV {csv_path} is outside the package folder",
                              fix=f"give a path inside {folder}") from None
    rel = PurePosixPath(path.as_posix())
    if ".." in rel.parts:
        raise ConfigError(f"resource {name!r}: its CSV path {csv_path} leaves the package folder",
                          fix="give a path inside the package folder")
    return rel


def _reasons_frame(frame: pd.DataFrame, cells: Mapping[str, tuple[np.ndarray, np.ndarray]]) -> pd.DataFrame:
    if not cells:
        return pd.DataFrame({"row": pd.Series(dtype="Int64"), "field": pd.Series(dtype="string"),
                             "reason": pd.Series(dtype="string")})
    frame_rows = frame["_row"].astype("Int64").to_numpy(dtype=np.int64)
    fields = sorted(cells)
    positions = np.concatenate([cells[f][0] for f in fields])
    # fields as codes into the sorted list: sorting on (row, code) is sorting on (row, field)
    field_codes = np.concatenate([np.full(len(cells[f][0]), i, dtype=np.int64)
                                  for i, f in enumerate(fields)])
    rows = frame_rows[positions]
    order = np.lexsort((field_codes, rows))
    # categorical: the CSV writer formats each field and reason once, not once per cell
    return pd.DataFrame({
        "row": pd.array(rows[order], dtype="Int64"),
        "field": pd.Categorical.from_codes(field_codes[order], categories=fields),
        "reason": pd.Categorical.from_codes(np.concatenate([cells[f][1] for f in fields])[order],
                                            categories=list(MISSING_REASONS)),
    })


def _reasons_resource(name: str, path: PurePosixPath, fields: list[str]) -> dict[str, Any]:
    reasons = [{"value": r, "label": MISSING_LABELS[r]} for r in MISSING_REASONS]
    return {
        "$schema": RESOURCE_PROFILE,
        "name": f"{name}_missing_reasons",
        "title": f"Why cells of {name} are blank",
        "description": (f"One row per blank cell of {name} that has a recorded reason; row is the "
                        "_row of that resource."),
        "path": str(path), "type": "table", "format": "csv", "mediatype": "text/csv",
        "encoding": "utf-8",
        "schema": {
            "$schema": SCHEMA_PROFILE,
            "fields": [
                {"name": "row", "type": "integer", "title": "Row (the _row of the data resource)",
                 "constraints": {"required": True}},
                {"name": "field", "type": "string", "title": "Field whose cell is blank",
                 "constraints": {"required": True, "enum": fields}},
                {"name": "reason", "type": "string", "title": "Why the cell is blank",
                 "categories": reasons,
                 "constraints": {"required": True, "enum": list(MISSING_REASONS)}},
            ],
            "primaryKey": ["row", "field"],
            "foreignKeys": [{"fields": ["row"], "reference": {"resource": name, "fields": ["_row"]}}],
            "missingValues": [""],
        },
    }


def write_datapackage(folder: str | Path, resources: Resources, *, name: str, title: str,
                      missing: pd.DataFrame | None = None) -> Path:
    """Write the clean CSV files and a ``datapackage.json`` describing them.

    Parameters
    ----------
    folder : path
        The package folder; ``datapackage.json`` is written there.
    resources : mapping
        Resource name → ``(frame, instrument, csv_path)``; ``csv_path`` is relative to
        ``folder`` (or an absolute path inside it). Names are lower case (``[a-z0-9._-]``).
    name, title : str
        The package's name (lower case, as resource names) and title.
    missing : DataFrame, optional
        The missing-reasons frame (``instrument, row, field, reason``). When given, each
        frame must keep its ``_row`` column; missing cells of numeric items are written with
        their reason's code (:func:`apply_missing_codes`) and declared as labelled missing
        values, and a ``<name>_missing_reasons`` resource is written beside each CSV.

    Returns
    -------
    Path
        The ``datapackage.json`` written.

    Raises
    ------
    ConfigError
        If a name is not lower case or a CSV path leaves ``folder``.
    DataError, InstrumentError
        As :func:`apply_missing_codes`.

    Notes
    -----
    Field types: ``integer`` (integer columns, choice items with integer codes), ``number``,
    ``string`` (text, string-coded choices), ``date`` (date items, ``YYYY-MM-DD``),
    ``datetime``, ``boolean`` (multiple-choice indicators, ``1``/``0``). Each field has the
    item's English label as ``title`` and ``description`` (plus hint or scale method); choice
    items have ``categories`` (Data Package v2: value and label, ``categoriesOrdered`` for
    Likert items and bands) and the same values as ``constraints.enum``, which frictionless
    checks; number items carry their ``constraint`` as ``minimum``/``maximum``. Coded fields
    list ``""`` and their codes, spelled as in the CSV (``-95.0`` in a decimal column), as
    labelled ``missingValues`` (``{"value": "-99", "label": "Prefer not to say"}``), so
    frictionless reads them as missing; the schema-level missing value is ``""``.

    Spreadsheet safety and validation: text cells starting with a formula character get a
    leading ``'`` (:func:`write_csv_safe`). Only string fields are ever neutralised, and
    numbers never, so type checks are unaffected; where a string category or band label
    starts with such a character its ``categories``/``enum`` value is written in the same
    neutralised form, so the enum check still holds.

    Primary key: ``response_id`` when it is unique, else ``response_id`` + ``_wave`` (women's
    survey waves share a record id), else ``_row``, else none. The output has sorted keys and
    no time stamp: the same input gives the same bytes.
    """
    folder = Path(folder)
    for label in (name, *resources):
        if not _NAME.match(label):
            raise ConfigError(f"data package name {label!r} is not lower case letters, digits, "
                              "'.', '_' or '-'", fix="rename it, e.g. 'womens_survey'")
    taken = [f"{r}_missing_reasons" for r in resources] if missing is not None else []
    clash = sorted(set(taken) & set(resources))
    if clash:
        raise ConfigError(f"resource names {clash} are also the names of missing-reasons resources",
                          fix="rename those resources")
    descriptors = []
    versions: dict[str, str] = {}
    parts = split_by_instrument(missing)
    whole = missing
    for resource_name in sorted(resources):
        frame, instrument, csv_path = resources[resource_name]
        missing = part_for(parts, whole, instrument.id)
        rel = _relative(folder, csv_path, resource_name)
        versions[instrument.id] = instrument.version
        columns = describe_columns(frame, instrument)
        cells, written = None, frame
        if missing is not None:
            # the log matched to this frame's rows once, for the coded cells and the reasons
            cells = reason_cells(frame, missing, instrument)
            written = apply_missing_codes(frame, missing, instrument, cells=cells)
        coded = {c.name for c in coded_columns(frame, instrument)} if missing is not None else set()
        dates = [c.name for c in columns
                 if pd.api.types.is_datetime64_any_dtype(frame[c.name].dtype) and is_date_item(c)]
        write_csv_safe(folder / rel, written, dates=dates)
        schema: dict[str, Any] = {
            "$schema": SCHEMA_PROFILE,
            "fields": [_field(c, frame[c.name], instrument, coded) for c in columns],
            "missingValues": [""],
        }
        key = _primary_key(frame)
        if key:
            schema["primaryKey"] = key
        descriptors.append({
            "$schema": RESOURCE_PROFILE,
            "name": resource_name,
            "title": clean_text(text_in(instrument.title)) or instrument.id,
            "description": clean_text(text_in(instrument.description)),
            "path": str(rel), "type": "table", "format": "csv", "mediatype": "text/csv",
            "encoding": "utf-8",
            "schema": schema,
            "pceval": {"instrument": instrument.id, "version": instrument.version},
        })
        if missing is not None:
            if "_row" not in frame.columns:
                raise DataError("the frame has no _row column, so missing reasons cannot be "
                                "matched to rows", field="_row",
                                fix="keep the _row meta column of the clean frame")
            if frame["_row"].duplicated().any():
                raise DataError("_row is not unique in the frame", field="_row",
                                fix="pass one instrument's clean frame per resource")
            reasons = _reasons_frame(frame, cells)
            reasons_path = rel.with_name(f"{rel.stem}_missing_reasons.csv")
            write_csv_safe(folder / reasons_path, reasons)
            descriptors.append(_reasons_resource(resource_name, reasons_path,
                                                 sorted(str(c) for c in frame.columns)))
    package = {
        "$schema": DATAPACKAGE_PROFILE,
        "name": name,
        "title": title,
        "resources": descriptors,
        "pceval": {"instruments": dict(sorted(versions.items())), "pceval_version": __version__},
    }
    return write_json(folder / "datapackage.json", package)
