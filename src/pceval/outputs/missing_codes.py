"""Why a cell is missing, written into SPSS, Stata and CSV files as missing codes.

Clean data hold a missing cell as NA; the reason is a row of the missing-reasons frame
(``instrument, row, field, reason``; ``row`` is the clean frame's ``_row``, see
:mod:`pceval.clean.log`). Statistical packages carry the reason in the cell itself, so the
writers turn reasons into codes with the fixed, documented mappings below.

Numeric codes (SPSS user-missing values, labelled missing values of the data package)
    An item's own declared code is used when the reason is one of the kinds the item declares
    (``prefer_not_to_say`` → ``-99`` when the item lists ``-99`` with that kind). Otherwise the
    standard pceval code of the reason is used:

    ========================  =====  ==========================================
    reason                    code   label
    ========================  =====  ==========================================
    prefer_not_to_say          -99   Prefer not to say
    dont_know                  -98   Don't know
    not_applicable             -97   Not applicable
    missing                    -95   Missing (no answer)
    platform_missing_code      -94   Platform missing-data code
    not_reached                -93   Not reached (survey stopped earlier)
    invalid_value_removed      -92   Invalid value removed in cleaning
    skipped_by_logic           -91   Skipped by survey logic
    ========================  =====  ==========================================

Stata extended missing values (always by reason, whatever the item declares)
    ``.a`` prefer_not_to_say, ``.b`` dont_know, ``.c`` not_applicable, ``.d`` skipped_by_logic,
    ``.e`` invalid_value_removed, ``.f`` not_reached, ``.g`` platform_missing_code,
    ``.m`` missing. Their value labels use the item's declared label where the item declares
    the reason's kind, the standard label otherwise.

Which cells get a code: cells of numeric items (single choice, Likert, integer, decimal,
calculated) and of the 0/1 indicator columns of multiple-choice items. Text, date and key
columns stay blank (their reasons stay in the missing-reasons frame, which the data package
carries as a resource); scale scores stay blank (an unscored scale has no reason row).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from pceval.clean.log import MISSING_REASONS
from pceval.errors import DataError, InstrumentError
from pceval.instrument.model import Instrument, Item, Scale, text_in
from pceval.outputs._columns import (
    ColumnInfo,
    as_int,
    clean_text,
    describe_columns,
    numeric_choice_codes,
)
from pceval.partition import partition

__all__ = [
    "MISSING_CODES",
    "MISSING_LABELS",
    "STATA_MISSING",
    "apply_missing_codes",
    "missing_code_labels",
    "missing_code_map",
    "reason_grid",
]

MISSING_CODES: Mapping[str, int] = MappingProxyType({
    "prefer_not_to_say": -99,
    "dont_know": -98,
    "not_applicable": -97,
    "missing": -95,
    "platform_missing_code": -94,
    "not_reached": -93,
    "invalid_value_removed": -92,
    "skipped_by_logic": -91,
})
"""Standard pceval code of each missing reason (used when the item declares no code for it)."""

MISSING_LABELS: Mapping[str, str] = MappingProxyType({
    "prefer_not_to_say": "Prefer not to say",
    "dont_know": "Don't know",
    "not_applicable": "Not applicable",
    "missing": "Missing (no answer)",
    "platform_missing_code": "Platform missing-data code",
    "not_reached": "Not reached (survey stopped earlier)",
    "invalid_value_removed": "Invalid value removed in cleaning",
    "skipped_by_logic": "Skipped by survey logic",
})
"""Standard English label of each missing reason."""

STATA_MISSING: Mapping[str, str] = MappingProxyType({
    "prefer_not_to_say": "a",
    "dont_know": "b",
    "not_applicable": "c",
    "skipped_by_logic": "d",
    "invalid_value_removed": "e",
    "not_reached": "f",
    "platform_missing_code": "g",
    "missing": "m",
})
"""Stata extended missing letter of each missing reason (``.a`` ... ``.m``)."""

if set(MISSING_CODES) != set(MISSING_REASONS) or set(STATA_MISSING) != set(MISSING_REASONS):
    raise RuntimeError("pceval.outputs.missing_codes does not cover every missing reason")


def _item_of(instrument: Instrument, item: Item | str) -> Item:
    return instrument.item(item) if isinstance(item, str) else item


def missing_code_map(instrument: Instrument, item: Item | str) -> dict[str, int]:
    """The numeric code of every missing reason for one item.

    Parameters
    ----------
    instrument : Instrument
    item : Item or str
        The item (for an indicator column, its multiple-choice item).

    Returns
    -------
    dict
        reason → code, for every reason of :data:`pceval.clean.log.MISSING_REASONS`.

    Raises
    ------
    InstrumentError
        When a standard code would mean two things for this item: it is also one of the item's
        choice codes or one of its declared missing codes of another kind.

    Examples
    --------
    >>> from pceval.instrument import load_instrument
    >>> codes = missing_code_map(load_instrument("womens_survey"), "relationship")
    >>> codes["prefer_not_to_say"], codes["skipped_by_logic"], codes["dont_know"]
    (-99, -91, -98)
    """
    item = _item_of(instrument, item)
    declared: dict[str, int] = {}
    for code in item.missing_codes:
        spec = next(m for m in instrument.missing_codes if m.code == code)
        number = as_int(spec.code)
        if number is not None and spec.kind.value not in declared:
            declared[spec.kind.value] = number
    declared_codes = set(declared.values())
    choice_numbers = set(numeric_choice_codes(instrument, item).values()) if item.choices else set()
    out: dict[str, int] = {}
    for reason in MISSING_REASONS:
        if reason in declared:
            out[reason] = declared[reason]
            continue
        code = MISSING_CODES[reason]
        if code in declared_codes or code in choice_numbers:
            raise InstrumentError(
                f"item {item.id!r}: the standard missing code {code} for {reason} is also one of "
                "its choice codes or declared missing codes",
                field=item.id,
                fix=f"declare a missing code of kind {reason} for the item, or change the clashing code",
            )
        out[reason] = code
    return out


def missing_code_labels(instrument: Instrument, item: Item | str) -> dict[int, str]:
    """Label of each missing code of :func:`missing_code_map` (declared label, else standard).

    Labels are made unique (a clash gets the reason appended) so they can serve as value
    labels and as labelled missing values of a data package.

    Examples
    --------
    >>> from pceval.instrument import load_instrument
    >>> labels = missing_code_labels(load_instrument("womens_survey"), "children_contact_safe")
    >>> labels[-97], labels[-91]
    ('Does not apply to me', 'Skipped by survey logic')
    """
    item = _item_of(instrument, item)
    return {code: label for code, (_, label) in _code_reason_labels(instrument, item).items()}


def reason_labels(instrument: Instrument, item: Item) -> dict[str, str]:
    """Label of each reason for one item (declared label where the item declares the kind)."""
    labels: dict[str, str] = {}
    for code in item.missing_codes:
        spec = next(m for m in instrument.missing_codes if m.code == code)
        labels.setdefault(spec.kind.value, clean_text(text_in(spec.label)))
    out = {reason: labels.get(reason) or MISSING_LABELS[reason] for reason in MISSING_REASONS}
    return _unique(out)


def _code_reason_labels(instrument: Instrument, item: Item) -> dict[int, tuple[str, str]]:
    codes = missing_code_map(instrument, item)
    labels = reason_labels(instrument, item)
    out: dict[int, tuple[str, str]] = {}
    for reason in MISSING_REASONS:
        out.setdefault(codes[reason], (reason, labels[reason]))
    return dict(sorted(out.items()))


def _unique(labels: dict[str, str]) -> dict[str, str]:
    seen: set[str] = set()
    out = {}
    for reason, label in labels.items():
        if label.casefold() in seen:
            label = f"{label} ({reason.replace('_', ' ')})"
        seen.add(label.casefold())
        out[reason] = label
    return out


def split_by_instrument(missing: pd.DataFrame | None) -> dict[str, pd.DataFrame] | None:
    """The missing-reasons log cut into one part per instrument (``None`` when it has no
    ``instrument`` column, or is ``None``).

    Writers that handle several instruments pass each its own part: the same result as the
    whole log, without reading every instrument's rows for each one.

    Examples
    --------
    >>> log = pd.DataFrame({"instrument": ["a", "b", "a"], "row": [1, 2, 3],
    ...                     "field": ["x"] * 3, "reason": ["missing"] * 3})
    >>> {k: v["row"].tolist() for k, v in split_by_instrument(log).items()}
    {'a': [1, 3], 'b': [2]}
    """
    if missing is None or "instrument" not in missing.columns:
        return None
    return partition(missing, "instrument")


def part_for(parts: dict[str, pd.DataFrame] | None, missing: pd.DataFrame | None,
             instrument_id: str) -> pd.DataFrame | None:
    """One instrument's part of :func:`split_by_instrument` (the whole log when not split)."""
    if parts is None or missing is None:
        return missing
    return parts.get(instrument_id, missing.iloc[:0])


def _arrow(column: pd.Series) -> pa.Array:
    return pa.array(column, from_pandas=True)  # zero-copy for Arrow-backed columns


def _whole(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    return values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values


def _per_value(values: pa.Array | pa.ChunkedArray, compute) -> pa.Array | pa.ChunkedArray:
    """``compute`` of each value; of a categorical column's categories only, taken by its codes."""
    if not pa.types.is_dictionary(values.type):
        return compute(_text(values))
    values = _whole(values)
    return compute(_text(values.dictionary)).take(values.indices)


def _text(values: pa.Array) -> pa.Array:
    """Text values as they are (either string type), categories decoded; anything else as text."""
    if pa.types.is_string(values.type) or pa.types.is_large_string(values.type):
        return values
    return pc.cast(values, pa.string())


def reason_cells(frame: pd.DataFrame, missing: pd.DataFrame | None, instrument: Instrument,
                 columns: Iterable[str] | None = None) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Where each column of ``frame`` has a missing cell with a reason, and the reason.

    The sparse form of :func:`reason_grid`: field → ``(positions, reasons)``, positions into
    ``frame`` (ascending) and the reason of each as an index into
    :data:`pceval.clean.log.MISSING_REASONS`. Same rules and errors as :func:`reason_grid`;
    it works on whole columns, so a log of tens of millions of rows costs seconds.

    Examples
    --------
    >>> from pceval.instrument import load_instrument
    >>> frame = pd.DataFrame({"_row": [2, 3], "fs_home": pd.array([4, None], dtype="Int64")})
    >>> log = pd.DataFrame({"instrument": ["womens_survey"], "row": [3], "field": ["fs_home"],
    ...                     "reason": ["missing"]})
    >>> positions, reasons = reason_cells(frame, log, load_instrument("womens_survey"))["fs_home"]
    >>> positions.tolist(), [MISSING_REASONS[r] for r in reasons]
    ([1], ['missing'])
    """
    if missing is None or len(missing) == 0:
        return {}
    for needed in ("row", "field", "reason"):
        if needed not in missing.columns:
            raise DataError(f"the missing-reasons frame has no {needed!r} column",
                            fix="pass the frame built by cleaning (instrument, row, field, reason)")
    if "_row" not in frame.columns:
        raise DataError("the frame has no _row column, so missing reasons cannot be matched to rows",
                        field="_row", fix="keep the _row meta column of the clean frame")
    wanted = sorted({str(c) for c in (frame.columns if columns is None else columns)})
    # the log's columns are matched where they lie and only the chosen rows are taken: cast
    # to text and filtered as a table, they were gigabytes at national scale
    field_codes = _per_value(_arrow(missing["field"]),
                             lambda values: pc.index_in(values, value_set=pa.array(wanted, pa.string())))
    keep = pc.is_valid(field_codes)
    if "instrument" in missing.columns:
        keep = pc.and_(keep, _per_value(_arrow(missing["instrument"]),
                                        lambda values: pc.equal(values, pa.scalar(instrument.id))))
    keep = keep.fill_null(False)
    if not pc.any(keep).as_py():
        return {}
    reasons = _whole(pc.filter(_arrow(missing["reason"]), keep))
    if not pa.types.is_dictionary(reasons.type):
        reasons = _text(reasons).dictionary_encode()
    reasons = pa.DictionaryArray.from_arrays(reasons.indices, _text(reasons.dictionary))
    unknown = sorted(set(reasons.dictionary.to_pylist()) - set(MISSING_REASONS))
    if unknown:
        raise DataError(f"unknown missing reasons {unknown}", field="reason",
                        fix=f"use one of {list(MISSING_REASONS)}")
    known = [MISSING_REASONS.index(r) for r in reasons.dictionary.to_pylist()]
    reason_index = np.array(known + [-1], dtype=np.int64)
    reason_codes = reasons.indices.fill_null(len(reasons.dictionary)).to_numpy(zero_copy_only=False)
    del reasons
    field_codes = pc.filter(field_codes, keep).to_numpy(zero_copy_only=False).astype(np.int64)
    log_rows = pc.filter(pc.cast(_arrow(missing["row"]), pa.int64()), keep)
    del keep
    # a repeated _row is matched to its first row
    frame_rows = pd.Index(frame["_row"].astype("Int64").to_numpy(dtype="float64", na_value=np.nan))
    first = ~frame_rows.duplicated(keep="first")
    found = frame_rows[first].get_indexer(
        log_rows.cast(pa.float64()).fill_null(np.nan).to_numpy(zero_copy_only=False))
    matched = (found >= 0) & log_rows.is_valid().to_numpy(zero_copy_only=False)
    positions = np.flatnonzero(first)[found[matched]]
    field_codes, reason_codes = field_codes[matched], reason_index[reason_codes[matched]]
    # the first log row of a cell wins; then cells by field and position
    key = pd.Index(positions * len(wanted) + field_codes)
    once = ~key.duplicated(keep="first")
    positions, field_codes, reason_codes = positions[once], field_codes[once], reason_codes[once]
    order = np.lexsort((positions, field_codes))
    positions, field_codes, reason_codes = positions[order], field_codes[order], reason_codes[order]
    out: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    bounds = np.searchsorted(field_codes, np.arange(len(wanted) + 1))
    for code, field in enumerate(wanted):
        lo, hi = bounds[code], bounds[code + 1]
        if lo == hi:
            continue
        where, why = positions[lo:hi], reason_codes[lo:hi]
        # data win over a stray log row: a cell that holds a value has no reason
        blank = frame[field].isna().to_numpy(bool)[where] & (why >= 0)
        if blank.any():
            out[field] = (where[blank], why[blank])
    return out


def reason_grid(frame: pd.DataFrame, missing: pd.DataFrame | None, instrument: Instrument,
                columns: Iterable[str] | None = None) -> dict[str, pd.Series]:
    """The missing reason of every cell, as one string Series per column of ``frame``.

    Only columns that have at least one reason appear; each Series is aligned to ``frame``'s
    index and holds NA where the cell has no reason or is not missing (data win over a stray
    log row). Rows of the log for other instruments, for rows not in ``frame`` (quarantined)
    and for columns not in ``frame`` (dropped identifiers) are ignored.

    Raises
    ------
    DataError
        If ``frame`` has no ``_row`` column, or the log names a reason pceval does not know.

    Examples
    --------
    >>> from pceval.instrument import load_instrument
    >>> frame = pd.DataFrame({"_row": [2, 3], "fs_home": pd.array([4, None], dtype="Int64")})
    >>> log = pd.DataFrame({"instrument": ["womens_survey"] * 2, "row": [3, 2],
    ...                     "field": ["fs_home"] * 2, "reason": ["prefer_not_to_say", "missing"]})
    >>> reason_grid(frame, log, load_instrument("womens_survey"))["fs_home"].tolist()
    [<NA>, 'prefer_not_to_say']
    """
    out: dict[str, pd.Series] = {}
    names = np.array(MISSING_REASONS, dtype=object)
    for field, (positions, reasons) in reason_cells(frame, missing, instrument, columns).items():
        values = np.full(len(frame), None, dtype=object)
        values[positions] = names[reasons]
        out[field] = pd.Series(values, index=frame.index, dtype="string")
    return out


def apply_missing_codes(frame: pd.DataFrame, missing: pd.DataFrame | None, instrument: Instrument,
                        *, scales: Iterable[Scale] | None = None,
                        cells: Mapping[str, tuple[np.ndarray, np.ndarray]] | None = None) -> pd.DataFrame:
    """Fill each missing cell of a numeric item with the code of its reason.

    Parameters
    ----------
    frame : DataFrame
        A clean or scored frame of ``instrument`` (with its ``_row`` column).
    missing : DataFrame or None
        The missing-reasons frame (``instrument, row, field, reason``). ``None`` or empty
        returns a copy of ``frame``.
    instrument : Instrument
    scales : iterable of Scale, optional
        Scales whose score columns are in ``frame`` (default: the instrument's). They are left
        blank; passing them only keeps them from being taken for items.
    cells : mapping, optional
        :func:`reason_cells` of ``frame`` and ``missing`` already computed for (at least) the
        coded columns, by a caller that needs them for every column: the log is matched to the
        rows once.

    Returns
    -------
    DataFrame
        A new frame: cells of numeric items and multiple-choice indicators that are NA and
        have a reason hold the code of :func:`missing_code_map`; every other cell is as given.
        Integer columns stay integer (widened to ``Int64`` if a code does not fit).

    Raises
    ------
    DataError
        If a non-missing value of a numeric item equals one of its missing codes (the codes
        would make a real answer missing; applying codes twice is caught the same way), or as
        :func:`reason_grid`.

    Examples
    --------
    >>> from pceval.instrument import load_instrument
    >>> inst = load_instrument("womens_survey")
    >>> frame = pd.DataFrame({"_row": [2, 3], "fs_home": pd.array([4, None], dtype="Int64")})
    >>> log = pd.DataFrame({"instrument": ["womens_survey"], "row": [3], "field": ["fs_home"],
    ...                     "reason": ["prefer_not_to_say"]})
    >>> apply_missing_codes(frame, log, inst)["fs_home"].tolist()
    [4, -99]
    """
    # copy-on-write: columns not filled below share their data with ``frame``
    out = frame.copy(deep=False)
    columns = [c for c in describe_columns(frame, instrument, scales) if c.carries_codes]
    coded = [c for c in columns if pd.api.types.is_numeric_dtype(frame[c.name].dtype)]
    for info in coded:
        _check_no_collision(frame[info.name], info, instrument)
    if cells is None:
        cells = reason_cells(frame, missing, instrument, [c.name for c in coded])
    for info in coded:
        if info.name not in cells:
            continue
        positions, reasons = cells[info.name]
        codes = missing_code_map(instrument, info.item)  # type: ignore[arg-type]
        numbers = np.array([codes[r] for r in MISSING_REASONS], dtype=np.int64)[reasons]
        out[info.name] = _fill(out[info.name], positions, numbers)
    return out


def _check_no_collision(column: pd.Series, info: ColumnInfo, instrument: Instrument) -> None:
    codes = list(set(missing_code_map(instrument, info.item).values()))  # type: ignore[arg-type]
    clash = column.isin(codes).fillna(False).to_numpy(bool)
    if clash.any():
        raise DataError(
            f"value {column.iloc[int(np.argmax(clash))]} is also a missing code of this item, so "
            "it would be read as missing (were missing codes applied twice?)",
            field=info.name,
            fix="apply missing codes once, to a clean frame whose missing cells are blank",
        )


def _fill(column: pd.Series, positions: np.ndarray, codes: np.ndarray) -> pd.Series:
    """``column`` with ``codes`` written in at ``positions`` (integer dtypes widened if needed)."""
    if not len(positions):
        return column
    out = column
    if pd.api.types.is_integer_dtype(out.dtype):
        limits = _int_range(out.dtype)
        if limits is not None and (codes.min() < limits[0] or codes.max() > limits[1]):
            out = out.astype("Int64")
        values = codes
    else:
        values = codes.astype("float64")
    # one masked-array write instead of iloc on an Arrow-backed column (a copy per call)
    array = (out.array.copy() if isinstance(out.array, pd.api.extensions.ExtensionArray)
             else out.to_numpy(copy=True))
    array[positions] = values
    return pd.Series(array, index=column.index, name=column.name)


def _int_range(dtype) -> tuple[int, int] | None:
    try:
        limits = np.iinfo(np.dtype(getattr(dtype, "numpy_dtype", dtype)))
    except (TypeError, ValueError):
        return None
    return int(limits.min), int(limits.max)


def coded_columns(frame: pd.DataFrame, instrument: Instrument,
                  scales: Iterable[Scale] | None = None) -> list[ColumnInfo]:
    """Columns of ``frame`` whose missing cells :func:`apply_missing_codes` would fill."""
    return [c for c in describe_columns(frame, instrument, scales)
            if c.carries_codes and pd.api.types.is_numeric_dtype(frame[c.name].dtype)]
