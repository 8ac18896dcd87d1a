"""SPSS (``.sav``, ``.zsav``) and Stata (``.dta``) data files, read with pyreadstat.

Columns are named by item ids, as in a plain CSV file: a multiple-choice item is one column
per choice (``help__2``, ``help__m99``) holding 1/0, or one text column of its codes; Stata
files may carry the staged meta columns under their names (``_record``, ``_wave``, ...; SPSS
variable names cannot begin with ``_``). Columns that match no item are dropped unread.

Values become the staged text of :mod:`pceval.ingest.tabular` (``4``, never ``4.0``; dates
``YYYY-MM-DD``); ``_row`` is the case number + 1, the row a spreadsheet of the data shows.

Codes, labels and missing values
--------------------------------
* **Value labels** are read (the codes are kept; labels are never applied). When a numeric
  column's labels give an instrument choice label to another code (the file codes ``No`` as
  2, the instrument as 0), a note says so; the values are kept as stored.
* **Labels stored instead of codes**: a text column of a single-choice item whose values are
  choice labels (``Yes``, ``prefer not to say``; compared case-insensitively with the labels
  and missing-code labels of the instrument, in any of its languages) is read as the codes,
  with a note. Values that are neither a code nor a label are kept as written (cleaning
  reports them).
* **SPSS user-missing values** (``-99`` declared missing) are read as their codes, so the
  cleaner sees ``-99`` and records why the answer is missing.
* **Stata extended missing values** (``.a`` to ``.z``) have no code. One whose value label
  names a missing code of the item (or a choice of it) is read as that code (``.a`` labelled
  "Prefer not to say" → ``-99``); any other is kept as the text ``.a`` with a note, and cleaning
  reports it as an invalid value (an unknown code for a choice item, not a number for a
  number). Stata's system missing ``.`` is blank.

Damaged files
-------------
ReadStat is C code: pyreadstat runs in a child process (forked on Linux), so a file that
crashes it (fuzzing found SPSS files that do) is a DataError rather than a dead process, and a
file whose stated number of rows is more than its size can hold is refused before anything is
allocated for it. Every other failure to parse is a DataError naming the file.
"""

from __future__ import annotations

import faulthandler
import multiprocessing
import sys
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyreadstat

from pceval.errors import DataError
from pceval.ingest.detect import binary_platform_of, is_spss, is_stata
from pceval.ingest.staged import HeaderIndex, IngestResult, Target
from pceval.ingest.tabular import (
    SourceFile,
    WarningNotes,
    assemble,
    check_file,
    column_text,
    floats_text,
    plan_columns,
    read_head,
    rows_text,
    unreadable,
    used_columns,
    value_text,
)
from pceval.instrument.model import Instrument, Item, text_in

StatKind = Literal["spss", "stata"]
_STRING = pa.string()
_WHAT = {"spss": "SPSS data file (.sav/.zsav)", "stata": "Stata data file (.dta)"}
_READERS = {"spss": pyreadstat.read_sav, "stata": pyreadstat.read_dta}
_PROGRAM = {"spss": "SPSS", "stata": "Stata"}
# a row of k columns takes at least k bytes (one per Stata byte variable or SPSS compression
# code); zlib (.zsav) packs at most about 1,032 bytes into one
_MAX_RATIO = 1100


def read_spss(path: str | Path, instrument: Instrument, *, encoding: str | None = None) -> IngestResult:
    """Read an SPSS ``.sav``/``.zsav`` file into the staged frame (see the module notes).

    Parameters
    ----------
    path : str or Path
        The file.
    instrument : Instrument
        The instrument whose items name the columns.
    encoding : str, optional
        The text encoding, for old files that do not record theirs (pyreadstat's ``encoding``).

    Raises
    ------
    DataError
        If the file is missing, empty, not an SPSS file, damaged, or has no column named by an
        item of the instrument.
    """
    return _read_statfile(path, instrument, kind="spss", encoding=encoding)


def read_stata(path: str | Path, instrument: Instrument, *, encoding: str | None = None) -> IngestResult:
    """Read a Stata ``.dta`` file into the staged frame (see the module notes).

    Parameters and errors as for :func:`read_spss`.
    """
    return _read_statfile(path, instrument, kind="stata", encoding=encoding)


def _read_statfile(path: str | Path, instrument: Instrument, *, kind: StatKind,
                   encoding: str | None) -> IngestResult:
    file = str(path)
    size = check_file(path)
    head = read_head(path)
    if not (is_spss(head) if kind == "spss" else is_stata(head)):
        raise DataError(f"this is not an {_WHAT[kind]}" if kind == "spss" else f"this is not a {_WHAT[kind]}",
                        file=file, fix=_other_format_fix(head, kind))
    caught = WarningNotes()
    with caught:
        _, meta = _read_isolated(kind, file, metadataonly=True, user_missing=True, encoding=encoding)
    names = [str(n) for n in meta.column_names]
    plan, meta_columns = plan_columns(file, names, instrument)
    used = used_columns(plan, meta_columns)
    stated = int(meta.number_rows) if meta.number_rows is not None and meta.number_rows >= 0 else None
    if stated is not None and stated * max(len(names), 1) > size * _MAX_RATIO:
        raise DataError(f"the file says it holds {stated:,} rows of {len(names)} column(s), more "
                        f"than its {size:,} bytes can hold: it is damaged", file=file,
                        fix=f"export the data from {_PROGRAM[kind]} again")
    data: Mapping[str, list[Any]] = {}
    if used:
        with caught:
            data, _ = _read_isolated(kind, file, usecols=[names[i] for i in used], user_missing=True,
                                     apply_value_formats=False, encoding=encoding)
    n = len(next(iter(data.values()))) if data else (stated or 0)
    index = HeaderIndex(instrument)
    labels: Mapping[str, Mapping[Any, str]] = getattr(meta, "variable_value_labels", None) or {}
    types: Mapping[str, str] = getattr(meta, "readstat_variable_types", None) or {}
    notes = list(caught.notes)
    texts: dict[int, pa.Array] = {}
    rows = np.arange(2, n + 2, dtype=np.int64)
    for i in used:
        name = names[i]
        target = index.match(name)
        column_labels = dict(labels.get(name) or {})
        texts[i] = _column(data[name], name=name, file=file, is_text=types.get(name) == "string",
                           target=target, labels=column_labels, instrument=instrument,
                           rows=rows, notes=notes)
        if target is not None and target.kind == "item" and target.item.is_choice:
            if types.get(name) == "string":
                texts[i] = _labels_to_codes(texts[i], name, target.item, instrument, notes)
            else:
                notes.extend(_label_disagreements(name, column_labels, target.item, instrument))
    encoding_used = str(getattr(meta, "file_encoding", None) or encoding or "utf-8")
    return assemble(SourceFile(file, encoding=encoding_used), names, texts, rows, instrument,
                    plan, meta_columns, platform=kind, notes=notes)


def _read_isolated(kind: StatKind, file: str, **options: Any) -> tuple[Any, Any]:
    """``pyreadstat.read_sav``/``read_dta`` (lists output) in a child process.

    ReadStat is C code, and some damaged files crash it (a segmentation fault found by
    fuzzing: a value-label record whose count is corrupted). In a child process a crash ends
    only the child, and becomes a DataError here. On Linux the child is forked (about 10 ms);
    elsewhere it is spawned (slower, but the only safe way there).
    """
    context = multiprocessing.get_context("fork" if sys.platform.startswith("linux") else "spawn")
    receiver, sender = context.Pipe(duplex=False)
    child = context.Process(target=_read_in_child, args=(sender, kind, file, options), daemon=True)
    with warnings.catch_warnings():
        # Python 3.12+ warns that forking a threaded process may deadlock; the child only
        # runs ReadStat and pickles lists, and touches no lock another thread may hold
        warnings.filterwarnings("ignore", category=DeprecationWarning, message=".*fork.*")
        child.start()
    sender.close()
    try:
        outcome = receiver.recv()
    except (EOFError, OSError):
        outcome = None
    finally:
        receiver.close()
        child.join()
    if outcome is None:
        code = child.exitcode
        how = f"signal {-code}" if code is not None and code < 0 else f"exit code {code}"
        raise DataError(f"the {_PROGRAM[kind]} file reader stopped on this file ({how}): it is "
                        "damaged or not a complete data file", file=file,
                        fix=f"export the data from {_PROGRAM[kind]} again")
    status, payload, caught = outcome
    for message in caught:
        warnings.warn(message, stacklevel=2)
    if status == "error":
        raise unreadable(file, _WHAT[kind], _Failure(payload))
    return payload


class _Failure(Exception):
    """A parsing failure reported by the child process."""


def _read_in_child(sender: Any, kind: StatKind, file: str, options: dict[str, Any]) -> None:
    faulthandler.disable()  # a crash here is expected and reported by the parent: no dump
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            outcome: tuple[str, Any] = ("ok", _READERS[kind](file, output_format="dict", **options))
        except BaseException as exc:  # noqa: BLE001 - reported to the parent, which raises DataError
            outcome = ("error", " ".join(str(exc).split()) or type(exc).__name__)
    try:
        sender.send((*outcome, [str(w.message) for w in caught]))
    finally:
        sender.close()


def _other_format_fix(head: bytes, kind: StatKind) -> str:
    other = binary_platform_of(head)
    other = "excel" if other == "zip" else other
    if other and other != kind:
        return f"it looks like a {other} file: set platform: {other} (or auto)"
    return (f"export the data from {'SPSS' if kind == 'spss' else 'Stata'} again, or set the "
            "platform that wrote the file")


# Values -------------------------------------------------------------------------------------

def _column(values: list[Any], *, name: str, file: str, is_text: bool, target: Target | None,
            labels: Mapping[Any, str], instrument: Instrument, rows: np.ndarray,
            notes: list[str]) -> pa.Array:
    """One pyreadstat column (a list) as staged text, Stata extended missing values resolved."""
    if is_text:
        return column_text(pa.array(values, _STRING), file=file, field=name)
    try:
        numbers = np.array(values, dtype=np.float64)  # None becomes NaN
    except (TypeError, ValueError):
        pass  # dates, times, or Stata extended missing letters among the numbers
    else:
        return floats_text(numbers)
    extended: dict[str, list[int]] = {}
    texts: list[str | None] = []
    for position, value in enumerate(values):
        if isinstance(value, str) and not is_text:
            # a string in a numeric column is a Stata extended missing value ('a' for .a)
            extended.setdefault(value, []).append(position)
            texts.append(None)
        elif value is None or (isinstance(value, float) and np.isnan(value)):
            texts.append(None)
        else:
            texts.append(value_text(value))
    if extended:
        item = target.item if target is not None and target.kind == "item" else None
        mapped, kept = [], []
        for letter, positions in sorted(extended.items()):
            label = labels.get(letter)
            code = _missing_code_for(label, item, instrument) if item is not None else None
            shown = f".{letter}"
            for position in positions:
                texts[position] = code if code is not None else shown
            where = rows_text(rows[positions])
            if code is not None:
                mapped.append(f"{shown} ({label!r}) → {code} in {where}")
            else:
                why = f"labelled {label!r}" if label else "without a value label"
                kept.append(f"{shown} ({why}) in {where}")
        if mapped:
            notes.append(f"column {name!r}: Stata extended missing values were read as the missing "
                         f"codes their labels name: {'; '.join(mapped)}")
        if kept:
            owner = f"item {item.id!r}" if item is not None else "this column"
            notes.append(f"column {name!r} holds Stata extended missing values that match no missing "
                         f"code of {owner} by label: {'; '.join(kept)}; they are kept as written "
                         "and cleaning reports them as invalid values (unknown code, not a number) "
                         "(label them with the item's missing-code label, or store the code)")
    return pa.array(texts, _STRING)


def _label_texts(label: Any) -> list[str]:
    if isinstance(label, dict):
        return [str(v).strip().casefold() for v in label.values() if str(v).strip()]
    text = str(text_in(label)).strip().casefold()
    return [text] if text else []


def _labels_of(item: Item, instrument: Instrument) -> dict[str, str]:
    """Casefolded label → code text over the item's choices and missing codes (a label that
    two codes share is left out: it cannot say which)."""
    found: dict[str, set[str]] = {}
    entries = [(c.code, c.label) for c in instrument.choices_of(item)]
    entries += [(m.code, m.label) for m in instrument.missing_of(item)]
    for code, label in entries:
        for text in _label_texts(label):
            found.setdefault(text, set()).add(str(code))
    return {text: next(iter(codes)) for text, codes in found.items() if len(codes) == 1}


def _missing_code_for(label: str | None, item: Item, instrument: Instrument) -> str | None:
    """The code of the item's missing code (or choice) whose label or kind is ``label``."""
    if not label:
        return None
    wanted = label.strip().casefold()
    for missing in instrument.missing_of(item):
        kind = str(missing.kind.value).replace("_", " ").casefold()
        if wanted in _label_texts(missing.label) or wanted in (kind, kind.replace("dont", "don't")):
            return str(missing.code)
    return _labels_of(item, instrument).get(wanted)


def _labels_to_codes(text: pa.Array, name: str, item: Item, instrument: Instrument,
                     notes: list[str]) -> pa.Array:
    """A text column of a choice item holding choice labels, read as the codes."""
    codes = {str(c.code) for c in instrument.choices_of(item)} | {str(m.code) for m in instrument.missing_of(item)}
    by_label = _labels_of(item, instrument)
    distinct = [v for v in pc.unique(text).to_pylist() if v is not None and v not in codes]
    mapping = {v: by_label[v.casefold()] for v in distinct if v.casefold() in by_label}
    if not mapping:
        return text
    keys = pa.array(list(mapping), _STRING)
    position = pc.index_in(text, value_set=keys)
    recoded = pc.take(pa.array(list(mapping.values()), _STRING), position)
    out = pc.if_else(pc.is_null(position), text, recoded)
    count = int(pc.sum(pc.is_valid(position)).as_py() or 0)
    shown = ", ".join(f"{k!r} → {v}" for k, v in list(mapping.items())[:6])
    notes.append(f"column {name!r} holds choice labels instead of codes; {count} value(s) were read "
                 f"as the codes of item {item.id!r} ({shown})")
    return out


def _label_disagreements(name: str, labels: Mapping[Any, str], item: Item,
                         instrument: Instrument) -> list[str]:
    by_label = _labels_of(item, instrument)
    clashes = []
    for value, label in labels.items():
        if not isinstance(label, str) or isinstance(value, str):
            continue  # Stata extended missing values are keyed by their letter
        code = by_label.get(label.strip().casefold())
        stored = value_text(value)
        if code is not None and stored is not None and code != stored:
            clashes.append(f"{stored} = {label!r} (code {code} in the instrument)")
    if not clashes:
        return []
    return [f"the value labels of column {name!r} differ from the codes of item {item.id!r}: "
            f"{'; '.join(clashes[:6])}; the values were kept as stored, so check the file's coding"]
