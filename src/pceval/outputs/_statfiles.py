"""What the SPSS and Stata writers share: names, label lengths, value labels, dates, timestamps."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Sequence
from pathlib import Path

import pandas as pd

from pceval.errors import DataError
from pceval.instrument.model import Instrument, ItemType, text_in
from pceval.outputs._columns import (
    INDICATOR_LABELS,
    ColumnInfo,
    clean_text,
    is_date_item,
    numeric_choice_codes,
)

SPSS_RESERVED = frozenset({"ALL", "AND", "BY", "EQ", "GE", "GT", "LE", "LT", "NE", "NOT", "OR",
                           "TO", "WITH"})
STATA_RESERVED = frozenset({"_all", "_b", "byte", "_coef", "_cons", "double", "float", "if", "in",
                            "int", "long", "_n", "_N", "_pi", "_pred", "_rc", "_skip", "strL",
                            "using", "with"})
_STATA_STR = re.compile(r"^str\d+$")


def fit(text: str, *, max_chars: int | None = None, max_bytes: int | None = None) -> str:
    """``text`` shortened (with ``...``) to at most ``max_chars`` characters and ``max_bytes``
    UTF-8 bytes, cutting on a character boundary."""
    text = clean_text(text)

    def ok(candidate: str) -> bool:
        return ((max_chars is None or len(candidate) <= max_chars)
                and (max_bytes is None or len(candidate.encode("utf-8")) <= max_bytes))

    if ok(text):
        return text
    cut = len(text)
    while cut > 0 and not ok(text[:cut].rstrip() + "..."):
        cut -= 1
    return text[:cut].rstrip() + "..."


def _unique_names(columns: Sequence[str], clean, *, limit: int, fold) -> dict[str, str]:
    out: dict[str, str] = {}
    taken: set[str] = set()
    for column in columns:
        base = clean(str(column))[:limit]
        name, n = base, 1
        while fold(name) in taken:
            n += 1
            suffix = f"_{n}"
            name = base[: limit - len(suffix)] + suffix
        taken.add(fold(name))
        out[str(column)] = name
    return out


def spss_names(columns: Iterable[str]) -> dict[str, str]:
    """SPSS variable name of each column (original → SPSS name).

    SPSS names start with a letter, hold letters, digits and ``_``, are at most 64 bytes, are
    not reserved words and are unique ignoring case. Other characters become ``_``; a name
    not starting with a letter gets a leading ``v`` (``_row`` → ``v_row``); a reserved word
    gets a trailing ``_``; a name clash gets ``_2``, ``_3``, ... Names already valid are kept.

    Examples
    --------
    >>> spss_names(["pid", "_row", "to", "help__m99"])
    {'pid': 'pid', '_row': 'v_row', 'to': 'to_', 'help__m99': 'help__m99'}
    """
    def clean(name: str) -> str:
        name = re.sub(r"[^A-Za-z0-9_]", "_", name) or "v"
        if not name[0].isalpha():
            name = "v" + name
        if name.upper() in SPSS_RESERVED:
            name += "_"
        return name

    return _unique_names(list(columns), clean, limit=64, fold=str.casefold)


def stata_names(columns: Iterable[str]) -> dict[str, str]:
    """Stata variable name of each column (original → Stata name).

    Stata names hold letters, digits and ``_``, do not start with a digit, are at most 32
    characters and are not reserved words. Other characters become ``_``; a name starting
    with a digit gets a leading ``v``; a reserved word a trailing ``_``; longer names are cut
    to 32 characters and a clash gets ``_2``, ``_3``, ...

    Examples
    --------
    >>> stata_names(["_row", "int", "a" * 40])["a" * 40]
    'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa'
    """
    def clean(name: str) -> str:
        name = re.sub(r"[^A-Za-z0-9_]", "_", name) or "v"
        if name[0].isdigit():
            name = "v" + name
        if name in STATA_RESERVED or _STATA_STR.match(name):
            name += "_"
        return name

    return _unique_names(list(columns), clean, limit=32, fold=lambda s: s)


def choice_value_labels(info: ColumnInfo, instrument: Instrument) -> dict[int, str]:
    """Value labels of the answer codes of a column (choices, or indicator 0/1)."""
    if info.kind == "indicator":
        return dict(INDICATOR_LABELS)
    item = info.item
    if info.kind != "item" or item is None or not item.is_choice:
        return {}
    numbers = numeric_choice_codes(instrument, item)
    return {numbers[c.code]: clean_text(text_in(c.label)) for c in instrument.choices_of(item)}


def valid_span(info: ColumnInfo, instrument: Instrument) -> tuple[set[int], tuple[float, float] | None]:
    """Codes a column's answers take, and the constraint interval of a number item."""
    labels = choice_value_labels(info, instrument)
    interval = None
    item = info.item
    if (info.kind == "item" and item is not None and item.constraint is not None
            and item.type in {ItemType.INTEGER, ItemType.DECIMAL, ItemType.CALCULATED}):
        low = item.constraint.min if item.constraint.min is not None else float("-inf")
        high = item.constraint.max if item.constraint.max is not None else float("inf")
        interval = (low, high)
    return set(labels), interval


def measure_of(info: ColumnInfo, column: pd.Series) -> str:
    """SPSS measurement level: nominal, ordinal or scale."""
    if info.kind == "indicator":
        return "nominal"
    if info.kind == "item" and info.item is not None:
        kind = info.item.type
        if kind == ItemType.LIKERT:
            return "ordinal"
        if kind in {ItemType.INTEGER, ItemType.DECIMAL, ItemType.CALCULATED, ItemType.DATE}:
            return "scale"
        return "nominal"
    if info.kind == "scale":
        return "scale"
    if info.kind == "band":
        return "ordinal"
    if info.name == "_row":
        return "scale"
    if pd.api.types.is_numeric_dtype(column.dtype) and info.kind == "other":
        return "scale"
    return "nominal"


def date_columns(columns: Sequence[ColumnInfo], frame: pd.DataFrame) -> list[str]:
    """Date items whose column holds datetimes (written as dates, not date-times)."""
    return [c.name for c in columns
            if is_date_item(c) and pd.api.types.is_datetime64_any_dtype(frame[c.name].dtype)]


def as_date_column(column: pd.Series) -> pd.Series:
    """A datetime column as Python dates (pyreadstat writes those with a date format).

    An all-missing column stays numeric (pyreadstat cannot tell the type of no values); the
    caller gives it a date format explicitly.
    """
    if column.notna().sum() == 0:
        return pd.Series(float("nan"), index=column.index, dtype="float64")
    values: list[dt.date | None] = [v.date() if pd.notna(v) else None for v in column]
    return pd.Series(values, index=column.index, dtype=object)


def check_user_missing_free(column: pd.Series, name: str, codes: Iterable[float],
                            ranges: Iterable[tuple[float, float]] = ()) -> None:
    """Raise if a real (non-missing) value would be read as user-missing."""
    present = pd.to_numeric(column.dropna(), errors="coerce").dropna()
    hit = present.isin(list(codes))
    for low, high in ranges:
        hit |= present.between(low, high)
    if hit.any():
        raise DataError(
            f"value {present[hit].iloc[0]} would be read as a missing code",
            field=name,
            fix="check the value (a real answer cannot equal a missing code) or declare other "
                "missing codes in the instrument",
        )


# pyreadstat (ReadStat) stamps each file with the time of writing and offers no way to set it;
# pceval promises the same bytes for the same input, so the stamp is overwritten with a fixed
# one after writing. The layouts are those of the SPSS system file header and the Stata 117+
# XML-like header; anything unexpected raises rather than being patched blindly.
_SAV_DATE = slice(92, 101)
_SAV_TIME = slice(101, 109)
_SAV_FIXED = (b"01 Jan 70", b"00:00:00")
_DTA_TAG = b"<timestamp>"
_DTA_FIXED = b"01 Jan 1970 00:00"


def pin_sav_timestamp(path: Path) -> None:
    data = bytearray(path.read_bytes())
    if data[:4] not in (b"$FL2", b"$FL3") or not re.fullmatch(
            rb"\d\d [A-Z][a-z]{2} \d\d", bytes(data[_SAV_DATE])) or not re.fullmatch(
            rb"\d\d:\d\d:\d\d", bytes(data[_SAV_TIME])):
        raise RuntimeError(f"{path}: unexpected SPSS header layout; cannot pin its timestamp")
    data[_SAV_DATE], data[_SAV_TIME] = _SAV_FIXED
    path.write_bytes(bytes(data))


def pin_dta_timestamp(path: Path) -> None:
    data = bytearray(path.read_bytes())
    at = data.find(_DTA_TAG, 0, 512)
    if not data.startswith(b"<stata_dta>") or at < 0:
        raise RuntimeError(f"{path}: unexpected Stata header layout; cannot pin its timestamp")
    start = at + len(_DTA_TAG)
    length = data[start]
    if length == 0:
        return
    if length != len(_DTA_FIXED) or data[start + 1 + length:start + 1 + length + 12] != b"</timestamp>":
        raise RuntimeError(f"{path}: unexpected Stata timestamp; cannot pin it")
    data[start + 1:start + 1 + length] = _DTA_FIXED
    path.write_bytes(bytes(data))
