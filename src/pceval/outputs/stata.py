"""Stata ``.dta`` files with labels and extended missing values, written with pyreadstat."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import pandas as pd
import pyreadstat

from pceval.instrument.model import Instrument, Scale, text_in
from pceval.errors import DataError
from pceval.io import atomic_path
from pceval.outputs._columns import describe_columns, encode_string_choices
from pceval.outputs._statfiles import (
    as_date_column,
    choice_value_labels,
    date_columns,
    fit,
    pin_dta_timestamp,
    stata_names,
)
from pceval.outputs.missing_codes import (
    STATA_MISSING,
    apply_missing_codes,
    reason_grid,
    reason_labels,
)

__all__ = ["STATA_LIMITS", "write_dta"]

STATA_LIMITS = {"variable_label_chars": 80, "file_label_chars": 80, "name_chars": 32,
                "value_label_bytes": 32000}
"""Lengths Stata allows; longer labels are shortened with ``...``."""

_LETTERS = sorted(STATA_MISSING.values())


def write_dta(path: str | Path, frame: pd.DataFrame, instrument: Instrument,
              missing: pd.DataFrame | None, *, scales: Iterable[Scale] | None = None) -> Path:
    """Write one instrument's clean or scored frame as a Stata ``.dta`` file, atomically.

    Parameters
    ----------
    path : path
        The ``.dta`` file to write (Stata 15 format, release 119, UTF-8).
    frame : DataFrame
        Clean or scored rows of ``instrument``; written in its column order.
    instrument : Instrument
        Gives labels, choices and item types.
    missing : DataFrame or None
        The missing-reasons frame (``instrument, row, field, reason``); rows of other
        instruments are ignored. ``None``: missing cells stay ``.``.
    scales : iterable of Scale, optional
        Scales whose score (and ``<id>_band``) columns are in ``frame``; default the
        instrument's.

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    InstrumentError
        If a string value of a choice item is not one of its codes.
    DataError
        If a real value equals one of its item's missing codes, or the frame has no ``_row``
        column while ``missing`` is given.

    Notes
    -----
    - Missing cells of numeric items (and of multiple-choice indicators) hold the extended
      missing value of their reason: ``.a`` prefer not to say, ``.b`` don't know, ``.c`` not
      applicable, ``.d`` skipped by logic, ``.e`` invalid value removed, ``.f`` not reached,
      ``.g`` platform missing code, ``.m`` missing (:data:`STATA_MISSING`); the value labels
      name them (the item's declared label where it declares the reason's kind). Text, date
      and scale columns stay ``.`` / empty.
    - Item and indicator columns are stored as ``double``. (pyreadstat 1.3 reads a ``long``
      column that mixes ``.`` and ``.a``-``.z`` back with ``.`` turned into 0 when
      ``user_missing=True``; ``double`` columns read back right. The files themselves are
      correct either way.)
    - Choice items with string codes are written as numbers (:func:`numeric_choice_codes`)
      with the choice labels as value labels: Stata cannot label string values.
    - Variable labels are the item's English label (``item label: choice label`` for the
      indicators, the scale label for a scale column), cut to 80 characters; names longer
      than 32 characters or not valid in Stata are changed (:func:`stata_names`).
    - Dates are Stata dates (``%td``); the file's time stamp is fixed (01 Jan 1970 00:00),
      so the same input gives the same bytes.
    """
    columns = describe_columns(frame, instrument, scales)
    data = encode_string_choices(frame, columns, instrument)
    # codes are filled and then replaced by letters: this runs the same checks as the SPSS
    # and CSV outputs (a real value equal to a missing code is an error in every format)
    apply_missing_codes(data, None, instrument, scales=scales)
    coded = [c for c in columns if c.carries_codes
             and pd.api.types.is_numeric_dtype(data[c.name].dtype)]
    grid = reason_grid(data, missing, instrument, [c.name for c in coded])
    names = stata_names([c.name for c in columns])
    dates = set(date_columns(columns, data))
    labels: dict[str, str] = {}
    value_labels: dict[str, dict] = {}
    user_missing: dict[str, list[str]] = {}
    formats: dict[str, str] = {}
    out: dict[str, pd.Series] = {}
    for info in columns:
        name = names[info.name]
        column = data[info.name]
        labels[name] = fit(info.label, max_chars=STATA_LIMITS["variable_label_chars"])
        if info.name in dates:
            out[name] = as_date_column(column)
            formats[name] = "%td"
            continue
        out[name] = column
        if info not in coded:
            continue
        reasons = grid.get(info.name)
        numbers = pd.to_numeric(column, errors="coerce").astype("float64")
        values = numbers.to_numpy(dtype=object)
        values[numbers.isna().to_numpy()] = None
        if reasons is not None:
            letters = pd.Series(reasons, index=column.index).astype("string").map(
                STATA_MISSING, na_action="ignore")
            has_letter = letters.notna().to_numpy()
            values[has_letter] = letters.to_numpy(dtype=object)[has_letter]
        out[name] = pd.Series(values, index=column.index, dtype=object)
        user_missing[name] = list(_LETTERS)
        vlabels: dict = {float(k): v for k, v in choice_value_labels(info, instrument).items()}
        for reason, label in reason_labels(instrument, info.item).items():  # type: ignore[arg-type]
            vlabels[STATA_MISSING[reason]] = label
        value_labels[name] = {k: fit(v, max_bytes=STATA_LIMITS["value_label_bytes"])
                              for k, v in vlabels.items()}
    table = pd.DataFrame(out, index=data.index).reset_index(drop=True)
    table = _numbers_first(table, [names[c.name] for c in coded])
    title = fit(f"{text_in(instrument.title)} ({instrument.id} {instrument.version})",
                max_chars=STATA_LIMITS["file_label_chars"])
    with atomic_path(path) as tmp:
        pyreadstat.write_dta(table, tmp, file_label=title, column_labels=labels, version=15,
                             variable_value_labels=value_labels, missing_user_values=user_missing,
                             variable_format=formats)
        pin_dta_timestamp(tmp)
    return Path(path)


def _numbers_first(table: pd.DataFrame, coded: list[str]) -> pd.DataFrame:
    """Rows reordered so every coded column has a real number within its first 100 rows.

    pyreadstat hands the frame to narwhals, which decides an object column's type from its
    first 100 values: a column whose first 100 cells are all missing-value letters is taken
    for text and the write fails. Moving, for each such column, its first row with a number to
    the top (a few rows at most; the rest keep their order, and ``v_row`` says where each row
    came from) makes every coded column read as numeric. The order is deterministic.
    """
    lead: list[int] = []
    for name in coded:
        head = table[name].iloc[:100]
        if head.map(lambda v: isinstance(v, float)).any():
            continue
        numbers = table.index[table[name].map(lambda v: isinstance(v, float))]
        if len(numbers) and numbers[0] not in lead:
            lead.append(int(numbers[0]))
    if not lead:
        return table
    if len(lead) > 100:  # pragma: no cover - more coded columns than rows narwhals samples
        raise DataError("too many coded columns start with missing values to write a Stata file",
                        fix="write SPSS or CSV instead")
    first = set(lead)
    order = lead + [i for i in table.index if i not in first]
    return table.loc[order].reset_index(drop=True)
