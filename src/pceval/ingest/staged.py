"""The staged frame every reader returns, and the assembly shared by the readers.

The staged frame
----------------
A :class:`pandas.DataFrame`, one row per data record of the export, in file order:

* one column per entry of :meth:`Instrument.columns() <pceval.instrument.Instrument.columns>`,
  in that order, dtype ``string`` (Arrow-backed): the cell text as read, stripped of
  surrounding whitespace, blank cells ``<NA>``; nothing is converted (``007`` stays ``007``,
  ``-99`` and REDCap missing-data codes such as ``UNK`` stay as written). A multiple-choice
  item has one column per choice (``item__code``, negative codes ``item__m99``) holding
  ``"1"``/``"0"``/``<NA>``; a column the file lacks is all ``<NA>`` and listed in
  :attr:`IngestResult.missing_columns`;
* then the meta columns of :data:`META_COLUMNS`:

  ================  ===========================================================================
  ``_file``         the path of the export, as given
  ``_row``          (int64) the row's number in a spreadsheet of the file: the header is row 1,
                    so the first data row is 2 (4 for Qualtrics, whose header takes three rows);
                    a value spanning several lines still counts as one row
  ``_record``       the platform's record id (REDCap ``record_id``, Kobo ``_uuid``, ODK ``KEY``,
                    Qualtrics ``ResponseId``), else ``<NA>``
  ``_event``        the platform's event name (REDCap ``redcap_event_name``), else ``<NA>``
  ``_wave``         the wave the event maps to (REDCap, through the source's ``events``), else
                    ``<NA>``
  ``_submitted_at`` when the platform received the row, ISO 8601 text, else ``<NA>``
  ``_complete``     ``"1"``/``"0"``/``<NA>``: REDCap form status 2 (complete), Qualtrics
                    ``Finished``; Kobo and ODK rows are submitted forms, so always ``"1"``
  ``_preview``      ``"1"`` for a Qualtrics survey preview (``Status`` 8), else ``"0"``
  ================  ===========================================================================

Platform metadata that is not kept (IP addresses, locations, recipient names and emails,
submitter accounts, device ids, timings) and columns that match no item (they may hold
identifiers) are dropped at ingest and listed in :attr:`IngestResult.dropped_columns`.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from pceval.errors import DataError, PcevalError
from pceval.ingest.textfile import TextGrid, clean_text
from pceval.instrument.model import Instrument, Item, multi_column

META_COLUMNS = ("_file", "_row", "_record", "_event", "_wave", "_submitted_at", "_complete", "_preview")
"""The meta columns that follow the item columns in every staged frame."""

UNMATCHED = "matches no item of the instrument (dropped: it may hold identifiers)"
_STRING = pa.string()


@dataclass(frozen=True)
class IngestResult:
    """A raw export read into the staged frame.

    Attributes
    ----------
    frame : DataFrame
        The staged frame (see the module documentation for its columns).
    platform : str
        ``'redcap'``, ``'kobo'``, ``'odk'``, ``'qualtrics'``, ``'csv'``, ``'spss'``,
        ``'stata'``, ``'excel'`` or ``'parquet'`` (detected or given).
    file : str
        The path of the export, as given.
    rows_read : int
        Data rows read (equal to ``len(frame)``: no row is ever dropped at ingest).
    dropped_columns : tuple of (column, reason)
        Columns of the file that are not in the frame, with why.
    missing_columns : tuple of str
        Staged columns the file lacks (left ``<NA>``).
    notes : tuple of str
        Other things a user should know (codes outside a choice list, disagreeing columns).
    encoding, delimiter : str
        How the file was read (``delimiter`` is ``''`` for a file that is not delimited text).
    """

    frame: pd.DataFrame
    platform: str
    file: str
    rows_read: int
    dropped_columns: tuple[tuple[str, str], ...] = ()
    missing_columns: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    encoding: str = "utf-8"
    delimiter: str = ","


# Matching headers to the instrument ---------------------------------------------------------

@dataclass(frozen=True)
class Target:
    """What a file column holds: an item's column, one choice of a multiple-choice item
    (``split``), or a multiple-choice item's codes in one cell (``summary``)."""

    kind: Literal["item", "split", "summary"]
    column: str
    item: Item
    code: str | None = None


class HeaderIndex:
    """Find the staged column a header names, for one instrument.

    A header matches exactly (``case_id``, ``content__safety_plan``), or, given group
    separators, by its last segment(s): ``case/case_id`` is ``case_id``; ``event/content`` is
    the codes of ``content``; ``event/content/program_info`` (Kobo) or
    ``event-content-program_info`` (ODK) is ``content__program_info``.

    Examples
    --------
    >>> from pceval.instrument import load_instrument
    >>> index = HeaderIndex(load_instrument("contact_record"))
    >>> index.match("event/content/program_info", ("/",)).column
    'content__program_info'
    >>> index.match("case-case_id", ("-",)).column, index.match("event-content", ("-",)).kind
    ('case_id', 'summary')
    """

    def __init__(self, instrument: Instrument, extra: Mapping[str, Target] | None = None) -> None:
        self.instrument = instrument
        self.exact: dict[str, Target] = {}
        self._choices: list[tuple[Item, str, str]] = []
        for item in instrument.data_items():
            if item.is_multiple:
                self.exact[item.id] = Target("summary", item.id, item)
                for choice in instrument.choices_of(item):
                    column = multi_column(item.id, choice.code)
                    self.exact[column] = Target("split", column, item, str(choice.code))
                    self._choices.append((item, str(choice.code), column))
            else:
                self.exact[item.id] = Target("item", item.id, item)
        self.exact.update(extra or {})

    def match(self, name: str, separators: Sequence[str] = ()) -> Target | None:
        found = self.exact.get(name)
        if found is not None:
            return found
        best: tuple[int, Target] | None = None
        for sep in separators:
            if sep not in name:
                continue
            for item, code, column in self._choices:
                key = f"{item.id}{sep}{code}"
                if (name == key or name.endswith(sep + key)) and (best is None or len(key) > best[0]):
                    best = (len(key), Target("split", column, item, code))
            last = name.rsplit(sep, 1)[1]
            target = self.exact.get(last)
            if target is not None and target.kind != "split" and (best is None or len(last) > best[0]):
                best = (len(last), target)
        return best[1] if best else None


@dataclass
class ColumnPlan:
    """Which file column feeds which staged column, and what happened to the others."""

    file: str
    direct: dict[str, int] = field(default_factory=dict)
    summaries: dict[str, int] = field(default_factory=dict)
    meta: dict[str, pa.Array | pa.ChunkedArray] = field(default_factory=dict)
    dropped: list[tuple[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    _sources: dict[str, str] = field(default_factory=dict)

    def use(self, target: Target, index: int, name: str) -> None:
        """Let file column ``index`` (header ``name``) feed ``target``."""
        key = f"{target.kind}:{target.column}"
        if key in self._sources:
            raise DataError(
                f"columns {self._sources[key]!r} and {name!r} both hold "
                f"{'the codes of item' if target.kind == 'summary' else 'column'} {target.column!r}",
                file=self.file, row=1, field=name, fix="remove one of them and export again",
            )
        self._sources[key] = name
        if target.kind == "summary":
            self.summaries[target.column] = index
        else:
            self.direct[target.column] = index

    def drop(self, name: str, index: int, reason: str) -> None:
        self.dropped.append((name or f"(column {index + 1}, no name)", reason))

    def summary_header(self, item_id: str) -> str:
        return self._sources.get(f"summary:{item_id}", item_id)


def plan_items(plan: ColumnPlan, grid: TextGrid, index: HeaderIndex, *, used: Iterable[int] = (),
               separators: Sequence[str] = (), reasons: Mapping[str, str] | None = None) -> None:
    """Match every column not in ``used`` to the instrument; drop the rest with a reason.

    The instrument wins: a header that names an item is read as that item even when the
    platform uses the same name for metadata (``reasons``).
    """
    taken = set(used)
    reasons = reasons or {}
    for i, name in enumerate(grid.names):
        if i in taken:
            continue
        target = index.match(name, separators) if name else None
        if target is None:
            plan.drop(name, i, reasons.get(name, UNMATCHED) if name else "no header name")
            continue
        plan.use(target, i, name)
        group = target.item.group
        prefix = _prefix(name, target, separators)
        if group and prefix and group not in prefix:
            plan.notes.append(f"column {name!r} was read as {target.column!r}, though that item "
                              f"is declared in group {group!r}")


def _prefix(name: str, target: Target, separators: Sequence[str]) -> list[str]:
    """The group segments in front of a matched header (``['event']`` for ``event/outcome``)."""
    for sep in separators:
        key = f"{target.item.id}{sep}{target.code}" if target.kind == "split" else target.item.id
        if name.endswith(sep + key):
            return name[: -len(key) - 1].split(sep)
    return []


# Assembly -----------------------------------------------------------------------------------

class Source(Protocol):
    """What assembly needs of the file read: a :class:`TextFile`, or
    :class:`pceval.ingest.tabular.SourceFile` for a file that is not delimited text."""

    @property
    def file(self) -> str: ...
    @property
    def encoding(self) -> str: ...
    @property
    def delimiter(self) -> str: ...


def build_result(text: Source, grid: TextGrid, instrument: Instrument, plan: ColumnPlan, *,
                 platform: str) -> IngestResult:
    """Assemble the staged frame from a parsed file and a column plan."""
    if not plan.direct and not plan.summaries:
        raise _no_match(text, grid, instrument, platform)
    release = getattr(text, "release", None)
    if release is not None:
        release()  # every record is parsed: the file's text can go before its columns are made
    n = grid.table.num_rows
    raw = grid.table.columns
    cleaned: dict[int, pa.ChunkedArray | pa.Array] = {}

    def cell(i: int) -> pa.ChunkedArray | pa.Array:
        if i not in cleaned:
            cleaned[i] = clean_text(raw[i], empty_is_null=True)
        return cleaned[i]

    columns: dict[str, pa.ChunkedArray | pa.Array] = {}
    missing: list[str] = []
    notes = list(plan.notes)
    for item in instrument.data_items():
        if not item.is_multiple:
            if item.id in plan.direct:
                columns[item.id] = cell(plan.direct[item.id])
            else:
                columns[item.id] = pa.nulls(n, _STRING)
                missing.append(item.id)
            continue
        codes = [str(c.code) for c in instrument.choices_of(item)]
        names = [multi_column(item.id, c) for c in codes]
        derived: dict[str, pa.Array] = {}
        if item.id in plan.summaries:
            header = plan.summary_header(item.id)
            derived, unknown = split_codes(cell(plan.summaries[item.id]), codes)
            if unknown is not None:
                tokens, rows = unknown
                notes.append(
                    f"column {header!r} holds codes that are not choices of item {item.id!r}: "
                    f"{', '.join(tokens)} ({_rows_text(grid.rows[rows])}); they have no column "
                    f"and are not kept (choices: {', '.join(codes)})")
        disagree: list[np.ndarray] = []
        for code, name in zip(codes, names, strict=True):
            if name in plan.direct:
                columns[name] = cell(plan.direct[name])
                if code in derived:
                    disagree.append(_differ(columns[name], derived[code]))
            elif code in derived:
                columns[name] = derived[code]
            else:
                columns[name] = pa.nulls(n, _STRING)
                missing.append(name)
        if disagree:
            rows = np.flatnonzero(np.logical_or.reduce(disagree))
            if len(rows):
                notes.append(
                    f"column {plan.summary_header(item.id)!r} and its one-column-per-choice "
                    f"columns disagree in {_rows_text(grid.rows[rows])}; the per-choice columns "
                    "were used")
    if missing:
        shown = ", ".join(missing[:10]) + (f" and {len(missing) - 10} more" if len(missing) > 10 else "")
        notes.append(f"{len(missing)} column(s) of instrument {instrument.id!r} are not in the file "
                     f"and are left blank: {shown}")
    notes.extend(_split_field_hints(plan, instrument))

    meta = plan.meta
    columns["_file"] = pa.repeat(pa.scalar(text.file, _STRING), n)
    columns["_row"] = pa.array(grid.rows, pa.int64())
    for name in META_COLUMNS[2:]:
        default = pa.repeat(pa.scalar("0", _STRING), n) if name == "_preview" else pa.nulls(n, _STRING)
        columns[name] = meta.get(name, default)
    # pandas holds text as large_string; the file's UTF-8 was validated when it was opened,
    # so the cast need not validate it again (which would cost as much as parsing)
    table = pa.table({name: _large(values) for name, values in columns.items()})
    frame = table.to_pandas(types_mapper=_string_dtype)
    if n == 0:
        notes.append("the file has a header but no data rows")
    blank = _blank_rows(grid)
    if len(blank):
        notes.append(f"{_rows_text(grid.rows[blank])} are entirely blank (kept, so that row "
                     "numbers stay those of the file)")
    return IngestResult(
        frame=frame, platform=platform, file=text.file, rows_read=n,
        dropped_columns=tuple(plan.dropped), missing_columns=tuple(missing), notes=tuple(notes),
        encoding=text.encoding, delimiter=text.delimiter,
    )


def _blank_rows(grid: TextGrid) -> np.ndarray:
    """Positions of rows whose every cell is blank (a blank line, or only delimiters)."""
    columns = grid.table.columns
    if not columns or any(c.null_count == 0 for c in columns):
        return np.zeros(0, dtype=np.int64)  # some column is never blank: the usual, free answer
    blank = np.ones(grid.table.num_rows, dtype=bool)
    for column in columns:
        blank &= pc.is_null(column).to_numpy(zero_copy_only=False)
    return np.flatnonzero(blank)


def _large(values: pa.ChunkedArray | pa.Array) -> pa.ChunkedArray | pa.Array:
    if pa.types.is_string(values.type):
        return pc.cast(values, options=pc.CastOptions(pa.large_string(), allow_invalid_utf8=True))
    return values


def _string_dtype(arrow_type: pa.DataType) -> pd.StringDtype | None:
    if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type) or pa.types.is_null(arrow_type):
        return pd.StringDtype("pyarrow")
    return None


def split_codes(column: pa.ChunkedArray | pa.Array, codes: Sequence[str]
                ) -> tuple[dict[str, pa.Array], tuple[list[str], np.ndarray] | None]:
    """One ``"1"``/``"0"`` column per code from a column of codes separated by ``, ; space``.

    A blank cell gives ``<NA>`` in every column. Also returns the codes found that are not in
    ``codes`` (sorted) and the positions of the rows holding them, or None.

    Examples
    --------
    >>> cols, unknown = split_codes(pa.array(["1,3", None, "2 -99", "3;7"]), ["1", "2", "3", "-99"])
    >>> cols["3"].to_pylist(), cols["-99"].to_pylist()
    (['1', None, '0', '1'], ['0', None, '1', '0'])
    >>> unknown[0], unknown[1].tolist()
    (['7'], [3])
    """
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    n = len(column)
    # commas and semicolons become spaces, then one split on (ASCII) whitespace: twice as fast
    # as a regular-expression split, and choice codes are identifiers or numbers
    spaced = pc.replace_substring(pc.replace_substring(column, ",", " "), ";", " ")
    lists = pc.ascii_split_whitespace(spaced)
    flat = pc.list_flatten(lists)
    parents = pc.list_parent_indices(lists).to_numpy()
    position = pc.fill_null(pc.index_in(flat, value_set=pa.array(list(codes), _STRING)), -1)
    position = position.to_numpy(zero_copy_only=False)
    known = position >= 0
    chosen = np.zeros((len(codes), n), dtype=np.int8)
    chosen[position[known], parents[known]] = 1
    blank = column.is_null().to_numpy(zero_copy_only=False)
    choices = pa.array(["0", "1"], _STRING)
    out = {code: choices.take(pa.array(chosen[k], mask=blank)) for k, code in enumerate(codes)}
    if known.all():
        return out, None
    stray = ~known
    tokens = sorted(set(flat.filter(pa.array(stray)).to_pylist()), key=_code_order)
    return out, (tokens, np.unique(parents[stray]))


def _code_order(code: str) -> tuple[int, float, str]:
    try:
        return (0, float(code), code)
    except ValueError:
        return (1, 0.0, code)


def _differ(a: pa.ChunkedArray | pa.Array, b: pa.Array) -> np.ndarray:
    # blank and 0 agree: both say the choice was not ticked
    left = pc.fill_null(a, "0")
    right = pc.fill_null(b, "0")
    return pc.not_equal(left, right).to_numpy(zero_copy_only=False)


def _rows_text(rows: np.ndarray, limit: int = 5) -> str:
    shown = ", ".join(str(int(r)) for r in rows[:limit])
    more = f" and {len(rows) - limit} more" if len(rows) > limit else ""
    return f"{len(rows)} row(s): {shown}{more}"


def _split_field_hints(plan: ColumnPlan, instrument: Instrument) -> list[str]:
    """Say when dropped columns look like a multiple-choice item split in a foreign way."""
    hints = []
    dropped = [name for name, reason in plan.dropped if reason == UNMATCHED]
    for item in instrument.data_items():
        if not item.is_multiple or item.id in plan.summaries:
            continue
        if any(multi_column(item.id, c.code) in plan.direct for c in instrument.choices_of(item)):
            continue
        lookalikes = [name for name in dropped if re.match(rf"^(.*[/-])?{item.id}[_./-]", name)]
        if lookalikes:
            hints.append(f"columns {', '.join(map(repr, lookalikes[:3]))} look like choices of item "
                         f"{item.id!r} but are not named {multi_column(item.id, '<code>')!r}; export "
                         "the item as one column of codes or rename them")
    return hints


def meta_text(grid: TextGrid, index: int) -> pa.ChunkedArray | pa.Array:
    """A file column as staged text (stripped, blank → null), for a meta column."""
    return clean_text(grid.table.column(index), empty_is_null=True)


def constant(value: str, n: int) -> pa.Array:
    return pa.repeat(pa.scalar(value, _STRING), n)


def first_row_where(grid: TextGrid, mask: pa.Array | pa.ChunkedArray | np.ndarray) -> int | None:
    """Spreadsheet row of the first True in ``mask`` (nulls count as False), or None."""
    if not isinstance(mask, np.ndarray):
        mask = pc.fill_null(mask, False).to_numpy(zero_copy_only=False)
    hits = np.flatnonzero(mask)
    return int(grid.rows[hits[0]]) if len(hits) else None


# When nothing matches -----------------------------------------------------------------------

_DATA_LIKE = re.compile(r"^[-+]?\d+([.,:/ T-]\d+)*$")


def _no_match(text: Source, grid: TextGrid, instrument: Instrument, platform: str) -> DataError:
    names = [n for n in grid.names if n]
    if names and all(_DATA_LIKE.match(n) for n in names):
        return DataError("the first row holds values, not column names", file=text.file, row=1,
                         fix="export the file with its header row (item ids as column names)")
    hints = []
    from pceval.ingest.detect import platform_of

    looks = platform_of([list(grid.names)])
    if looks != platform and looks != "csv":
        hints.append(f"the headers look like a {looks} export: set platform: {looks}")
    better = _best_instrument(names, instrument)
    if better and better[1] >= max(2, len(names) // 4):
        hints.append(f"the headers match instrument {better[0]!r} ({better[1]} of {len(names)} "
                     "columns): check the source's instrument")
    if not hints:
        first = ", ".join(i.id for i in list(instrument.data_items())[:4])
        hints.append(f"check that the file is an export of instrument {instrument.id!r} "
                     f"(first items: {first}) with item ids as column names (REDCap raw data, "
                     "Kobo XML values and headers, Qualtrics numeric values)")
    shown = ", ".join(repr(n) for n in names[:5]) + (" ..." if len(names) > 5 else "")
    return DataError(
        f"no column matches an item of instrument {instrument.id!r} (read as {platform}; "
        f"columns: {shown})",
        file=text.file, row=1, fix="; ".join(hints),
    )


def _best_instrument(names: Sequence[str], instrument: Instrument) -> tuple[str, int] | None:
    best: tuple[str, int] | None = None
    for other_id, index in _shipped_indexes():
        if other_id == instrument.id:
            continue
        hits = sum(index.match(n, ("/", "-")) is not None for n in names)
        if hits and (best is None or hits > best[1]):
            best = (other_id, hits)
    return best


@functools.lru_cache(maxsize=1)
def _shipped_indexes() -> tuple[tuple[str, HeaderIndex], ...]:
    """Header indexes of the shipped instruments, built once: loading them takes about half a
    second, too long to repeat for every file whose headers match nothing."""
    from pceval.instrument import load_instruments

    try:
        others = load_instruments()
    except PcevalError:
        return ()
    return tuple((other.id, HeaderIndex(other)) for other in others.values())
