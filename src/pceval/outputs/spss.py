"""SPSS ``.sav`` files with labels and user-missing values, written with pyreadstat."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import pandas as pd
import pyreadstat

from pceval.errors import InstrumentError
from pceval.instrument.model import Instrument, Scale, text_in
from pceval.io import atomic_path
from pceval.outputs._columns import describe_columns, encode_string_choices
from pceval.outputs._statfiles import (
    as_date_column,
    check_user_missing_free,
    choice_value_labels,
    date_columns,
    fit,
    measure_of,
    pin_sav_timestamp,
    spss_names,
    valid_span,
)
from pceval.outputs.missing_codes import apply_missing_codes, missing_code_labels

__all__ = ["SPSS_LIMITS", "write_sav"]

SPSS_LIMITS = {"variable_label_bytes": 256, "value_label_bytes": 120, "file_label_bytes": 64,
               "name_bytes": 64, "note_chars": 80}
"""Lengths SPSS allows; longer labels are shortened with ``...``."""


def _missing_ranges(codes: list[int], answers: set[int],
                    interval: tuple[float, float] | None, name: str) -> list:
    """SPSS user-missing declaration covering ``codes``: up to three discrete values, or one
    range (plus one discrete value) that holds no valid answer code or constrained value."""
    codes = sorted(set(codes))
    if len(codes) <= 3:
        return list(codes)

    def clear(low: int, high: int) -> bool:
        if any(low <= a <= high for a in answers):
            return False
        return interval is None or interval[1] < low or interval[0] > high

    if clear(codes[0], codes[-1]):
        return [{"lo": codes[0], "hi": codes[-1]}]
    for outlier, rest in ((codes[0], codes[1:]), (codes[-1], codes[:-1])):
        if clear(rest[0], rest[-1]):
            return [{"lo": rest[0], "hi": rest[-1]}, outlier]
    raise InstrumentError(
        f"the missing codes {codes} cannot be declared as SPSS user-missing values (one range "
        "and one value) without also covering valid answers",
        field=name, fix="use missing codes outside the range of valid answers")


def write_sav(path: str | Path, frame: pd.DataFrame, instrument: Instrument,
              missing: pd.DataFrame | None, *, scales: Iterable[Scale] | None = None) -> Path:
    """Write one instrument's clean or scored frame as an SPSS ``.sav`` file, atomically.

    Parameters
    ----------
    path : path
        The ``.sav`` file to write.
    frame : DataFrame
        Clean or scored rows of ``instrument`` (``pid``, ``response_id``, item columns, scale
        columns, meta columns); written in its column order.
    instrument : Instrument
        Gives labels, choices, missing codes and item types.
    missing : DataFrame or None
        The missing-reasons frame (``instrument, row, field, reason``); rows of other
        instruments are ignored. ``None``: missing cells stay system-missing.
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
        If a string value of a choice item is not one of its codes, or the missing codes
        cannot be declared without covering valid answers.
    DataError
        If a real value equals or falls in the declared user-missing codes of its column, or
        the frame has no ``_row`` column while ``missing`` is given.

    Notes
    -----
    - Variable labels: the item's English label (``item label: choice label`` for the 0/1
      indicator columns of a multiple-choice item, the scale label for a scale column), cut
      to 256 bytes; value labels: choice labels and the labels of the missing codes, cut to
      120 bytes.
    - Missing cells of numeric items hold the code of their reason
      (:mod:`pceval.outputs.missing_codes`), declared user-missing: one range (``-99`` to
      ``-91`` with the standard codes) or up to three discrete values. Text, date and scale
      columns stay system-missing (blank).
    - Choice items with string codes are written as numbers (:func:`numeric_choice_codes`)
      with the choice labels as value labels.
    - Measure levels: Likert, scale bands ordinal; single choice, indicators, text, keys
      nominal; integer, decimal, calculated, date, scale scores scale. Dates are SPSS dates
      (``DATE11``), text columns strings.
    - Names that SPSS refuses are changed (:func:`spss_names`: ``_row`` → ``v_row``); each
      change is listed in the file's notes (``DISPLAY DOCUMENTS``).
    - The file's creation stamp is fixed (01 Jan 70 00:00:00), so the same input gives the
      same bytes.
    """
    columns = describe_columns(frame, instrument, scales)
    data = encode_string_choices(frame, columns, instrument)
    data = apply_missing_codes(data, missing, instrument, scales=scales)
    names = spss_names([c.name for c in columns])
    dates = set(date_columns(columns, data))
    labels: dict[str, str] = {}
    value_labels: dict[str, dict[int, str]] = {}
    ranges: dict[str, list] = {}
    measures: dict[str, str] = {}
    formats: dict[str, str] = {}
    for info in columns:
        name = names[info.name]
        column = data[info.name]
        labels[name] = fit(info.label, max_bytes=SPSS_LIMITS["variable_label_bytes"])
        measures[name] = measure_of(info, column)
        numeric = pd.api.types.is_numeric_dtype(column.dtype) and info.name not in dates
        if not numeric:
            if info.name in dates:
                formats[name] = "DATE11"
            continue
        vlabels = dict(choice_value_labels(info, instrument))
        if info.carries_codes:
            code_labels = missing_code_labels(instrument, info.item)  # type: ignore[arg-type]
            vlabels.update(code_labels)
            answers, interval = valid_span(info, instrument)
            declared = _missing_ranges(list(code_labels), answers, interval, info.name)
            ranges[name] = declared
            codes = [d for d in declared if not isinstance(d, dict)]
            spans = [(d["lo"], d["hi"]) for d in declared if isinstance(d, dict)]
            real = column.where(~column.isin(list(code_labels)))
            check_user_missing_free(real, info.name, codes, spans)
        if vlabels:
            value_labels[name] = {int(k): fit(v, max_bytes=SPSS_LIMITS["value_label_bytes"])
                                  for k, v in sorted(vlabels.items())}
        if pd.api.types.is_integer_dtype(column.dtype):
            width = max([8, *(len(str(v)) for v in column.dropna().unique()[:1000])])
            formats[name] = f"F{width}.0"
    out = pd.DataFrame({names[c]: (as_date_column(data[c]) if c in dates else data[c])
                        for c in data.columns}, index=data.index).reset_index(drop=True)
    renamed = [f"{old} -> {new}" for old, new in names.items() if old != new]
    notes = [f"pceval: {instrument.id} version {instrument.version}"]
    if renamed:
        notes.append("Variables renamed for SPSS (original -> SPSS):")
        notes.extend(fit(r, max_chars=SPSS_LIMITS["note_chars"]) for r in renamed)
    title = fit(f"{text_in(instrument.title)} ({instrument.id} {instrument.version})",
                max_bytes=SPSS_LIMITS["file_label_bytes"])
    with atomic_path(path) as tmp:
        pyreadstat.write_sav(out, tmp, file_label=title, column_labels=labels, note=notes,
                             variable_value_labels=value_labels, missing_ranges=ranges,
                             variable_measure=measures, variable_format=formats)
        pin_sav_timestamp(tmp)
    return Path(path)
