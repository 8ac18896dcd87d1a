"""What each column of a clean or scored frame is, read from the instrument.

Shared by the SPSS, Stata and data-package writers so that all three label a column the same
way. A column is an item, one choice of a multiple-choice item (an indicator), a scale score,
a scale band, a pseudonymous key, a meta column (``_file``, ``_row``, ``_wave``, ``_complete``,
``_preview``) or something else the caller added.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

import pandas as pd

from pceval.errors import InstrumentError
from pceval.instrument.model import (
    Choice,
    Code,
    Instrument,
    Item,
    ItemType,
    Scale,
    multi_column,
    text_in,
)
from pceval.privacy.deidentify import PERSON_KEY, RESPONSE_KEY
from pceval.score.dex import DEX_SUFFIX
from pceval.score.domains import DOMAIN_PREFIX

ColumnKind = Literal["item", "indicator", "scale", "band", "key", "meta", "other"]

KEY_LABELS = {
    PERSON_KEY: "Pseudonymous person id (keyed hash of service and case number)",
    RESPONSE_KEY: "Pseudonymous response id (keyed hash of the platform record id)",
}
META_LABELS = {
    "_file": "Raw export the row came from",
    "_row": "Row number in the raw export",
    "_wave": "Survey wave",
    "_complete": "Platform's completion flag",
    "_preview": "Platform's preview or test flag",
}
INDICATOR_LABELS = {1: "Selected", 0: "Not selected"}


@dataclass(frozen=True)
class ColumnInfo:
    """One column of a frame and what the instrument says about it."""

    name: str
    kind: ColumnKind
    label: str
    item: Item | None = None
    choice: Choice | None = None
    scale: Scale | None = None

    @property
    def carries_codes(self) -> bool:
        """Whether missing cells of this column may hold a reason code (numeric items)."""
        if self.kind == "indicator":
            return True
        return self.kind == "item" and self.item is not None and self.item.is_numeric


def clean_text(text: str) -> str:
    """Whitespace collapsed to single spaces (YAML folded labels keep line breaks)."""
    return " ".join(text.split())


def item_label(item: Item) -> str:
    return clean_text(text_in(item.label)) or item.id


def describe_columns(frame: pd.DataFrame, instrument: Instrument,
                     scales: Iterable[Scale] | None = None) -> list[ColumnInfo]:
    """A :class:`ColumnInfo` for every column of ``frame``, in the frame's order."""
    scale_list = tuple(instrument.scales if scales is None else scales)
    by_scale = {s.id: s for s in scale_list}
    bands = {f"{s.id}_band": s for s in scale_list}
    items = {item.id: item for item in instrument.data_items()}
    indicators: dict[str, tuple[Item, Choice]] = {}
    for item in instrument.data_items():
        if item.is_multiple:
            for choice in instrument.choices_of(item):
                indicators[multi_column(item.id, choice.code)] = (item, choice)
    out: list[ColumnInfo] = []
    for name in frame.columns:
        name = str(name)
        if name in items:
            item = items[name]
            out.append(ColumnInfo(name, "item", item_label(item), item=item))
        elif name in indicators:
            item, choice = indicators[name]
            label = f"{item_label(item)}: {clean_text(text_in(choice.label))}"
            out.append(ColumnInfo(name, "indicator", label, item=item, choice=choice))
        elif name in by_scale:
            scale = by_scale[name]
            out.append(ColumnInfo(name, "scale", clean_text(text_in(scale.label)) or name,
                                  scale=scale))
        elif name in bands:
            scale = bands[name]
            label = f"{clean_text(text_in(scale.label)) or scale.id}: band"
            out.append(ColumnInfo(name, "band", label, scale=scale))
        elif name in KEY_LABELS:
            out.append(ColumnInfo(name, "key", KEY_LABELS[name]))
        elif name in META_LABELS:
            out.append(ColumnInfo(name, "meta", META_LABELS[name]))
        elif name.startswith(DOMAIN_PREFIX):
            domain = name.removeprefix(DOMAIN_PREFIX)
            out.append(ColumnInfo(name, "other", f"Domain {domain} score (0-100, higher is better)"))
        elif name.endswith(DEX_SUFFIX) and name.removesuffix(DEX_SUFFIX) in by_scale:
            scale = by_scale[name.removesuffix(DEX_SUFFIX)]
            label = f"{clean_text(text_in(scale.label)) or scale.id}: DEX SCORE rating (1-5)"
            out.append(ColumnInfo(name, "other", label, scale=scale))
        else:
            out.append(ColumnInfo(name, "other", name))
    return out


def numeric_choice_codes(instrument: Instrument, item: Item | str) -> dict[Code, int]:
    """The number each choice of an item is written as in SPSS and Stata files.

    Integer codes (and strings that are integers, such as ``"1"``) keep their value. A choice
    list with any other string code is numbered 1, 2, ... in its declared order, as Stata's
    ``encode`` would do, because Stata cannot label string values and user-missing codes need
    numbers; the labels travel as value labels.

    Examples
    --------
    >>> from pceval.instrument import load_instrument
    >>> numeric_choice_codes(load_instrument("contact_record"), "risk_tier")
    {'low': 1, 'elevated': 2, 'serious': 3}
    >>> numeric_choice_codes(load_instrument("womens_survey"), "relationship")
    {1: 1, 2: 2, 3: 3}
    """
    item = instrument.item(item) if isinstance(item, str) else item
    choices = instrument.choices_of(item)
    as_ints = [as_int(c.code) for c in choices]
    if all(v is not None for v in as_ints) and len(set(as_ints)) == len(as_ints):
        return {c.code: int(v) for c, v in zip(choices, as_ints, strict=True)}  # type: ignore[arg-type]
    return {c.code: position for position, c in enumerate(choices, start=1)}


def as_int(code: Code) -> int | None:
    """``code`` as an int when it is one (or a string spelling one), else ``None``."""
    if isinstance(code, bool):
        return None
    if isinstance(code, int):
        return code
    text = str(code).strip()
    if text.lstrip("+-").isdigit() and text.lstrip("+-").isascii():
        return int(text)
    return None


def encode_string_choices(frame: pd.DataFrame, columns: Sequence[ColumnInfo],
                          instrument: Instrument) -> pd.DataFrame:
    """String-coded choice items recoded to the numbers of :func:`numeric_choice_codes`."""
    out = frame.copy()
    for info in columns:
        item = info.item
        if info.kind != "item" or item is None or not item.is_choice:
            continue
        column = out[info.name]
        if pd.api.types.is_numeric_dtype(column.dtype):
            continue
        numbers = {str(code): value for code, value in numeric_choice_codes(instrument, item).items()}
        text = column.astype("string")
        unknown = sorted(set(text.dropna().unique()) - set(numbers))
        if unknown:
            raise InstrumentError(
                f"values {unknown[:5]} are not codes of choice list {item.choices!r}",
                field=info.name,
                fix="clean the data with this instrument before writing it out",
            )
        out[info.name] = text.map(numbers, na_action="ignore").astype("Int64")
    return out


def is_date_item(info: ColumnInfo) -> bool:
    return info.kind == "item" and info.item is not None and info.item.type == ItemType.DATE
