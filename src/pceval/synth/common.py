"""Helpers the generator's modules share: dates as day numbers, answers as text, and the
instrument's own rules (choices, constraints, relevance, waves) applied to simulated answers.

An *answer frame* is the generator's form of one instrument's data before it is written in a
platform's format: one column per entry of ``Instrument.columns()`` holding the answer as the
platform would write it (text, or ``None`` for blank; a multiple-choice item's columns hold
``"1"``/``"0"``, or ``None`` where the question was not shown), plus columns whose names start
with ``meta:`` (platform metadata) or ``canary:`` (the identifier a free-text cell carries).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pceval.instrument.expressions import parse_expression
from pceval.instrument.model import Instrument, Item, ItemType, multi_column

META = "meta:"
CANARY = "canary:"
CANARY_KIND = "canary_kind:"


def day(text: str) -> int:
    """Day number (days since 1970-01-01) of an ISO date."""
    return int(np.datetime64(text, "D").astype(np.int64))


def iso(days: np.ndarray) -> np.ndarray:
    """ISO dates (``YYYY-MM-DD``) of day numbers; ``None`` where the day is NaN."""
    days = np.asarray(days, dtype=np.float64)
    ok = ~np.isnan(days)
    out = np.full(len(days), None, dtype=object)
    if ok.any():
        out[ok] = np.datetime_as_string(days[ok].astype(np.int64).astype("datetime64[D]"), unit="D")
    return out


def text(values: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """Values as text (integers without a decimal point); ``None`` where ``mask`` is False."""
    values = np.asarray(values)
    if values.dtype.kind == "f":
        ok = ~np.isnan(values)
        out = np.full(len(values), None, dtype=object)
        out[ok] = values[ok].astype(np.int64).astype(str)
    elif values.dtype.kind in "iub":
        out = values.astype(np.int64).astype(str).astype(object)
    else:
        out = values.astype(object)
    if mask is not None:
        out = np.where(np.asarray(mask, dtype=bool), out, None)
    return out


def codes(instrument: Instrument, item: Item | str) -> list:
    """Choice codes of an item, in the instrument's order."""
    return [c.code for c in instrument.choices_of(item)]


def code_range(instrument: Instrument, item: Item | str) -> tuple[int, int]:
    """Lowest and highest numeric choice code (for reverse keying: ``lo + hi - x``)."""
    values = [c for c in codes(instrument, item) if isinstance(c, int)]
    return min(values), max(values)


def pick(rng: np.random.Generator, options: list, probs, n: int) -> np.ndarray:
    """``n`` draws from ``options`` (as an object array) with probabilities ``probs``."""
    probs = np.asarray(probs, dtype=np.float64)
    idx = rng.choice(len(options), size=n, p=probs / probs.sum())
    return np.asarray(options, dtype=object)[idx]


def likert_from_latent(rng: np.random.Generator, latent: np.ndarray, instrument: Instrument,
                       item: Item, *, noise: float = 0.55, reverse: bool = False) -> np.ndarray:
    """A likert answer from a latent value on the item's code scale: round, clip, reverse."""
    lo, hi = code_range(instrument, item)
    value = np.clip(np.rint(latent + rng.normal(0.0, noise, len(latent))), lo, hi).astype(np.int64)
    return lo + hi - value if reverse else value


def generic_values(rng: np.random.Generator, instrument: Instrument, item: Item, n: int,
                   *, period: tuple[int, int]) -> dict[str, np.ndarray]:
    """Plausible answers for an item the simulation does not model as a construct.

    Likert items lean to agreement (as answers to practice questions do); single-choice items
    draw from fixed weights; numbers fall in the lower part of the allowed range; texts are
    blank. Returns column -> values, so that an item added to an instrument is filled with no
    change to the generator.
    """
    if item.is_multiple:
        out = {}
        for choice in instrument.choices_of(item):
            out[multi_column(item.id, choice.code)] = np.where(rng.random(n) < 0.35, "1", "0").astype(object)
        return out
    if item.type == ItemType.LIKERT:
        options = codes(instrument, item)
        base = np.array([0.06, 0.14, 0.22, 0.38, 0.20])
        probs = np.interp(np.linspace(0, 4, len(options)), np.arange(5), base)
        return {item.id: text(np.asarray(pick(rng, options, probs, n), dtype=object).astype(str))}
    if item.type == ItemType.SINGLE_CHOICE:
        options = codes(instrument, item)
        weights = rng.dirichlet(np.full(len(options), 3.0))
        return {item.id: pick(rng, [str(c) for c in options], weights, n)}
    if item.type in (ItemType.INTEGER, ItemType.DECIMAL):
        lo = item.constraint.min if item.constraint and item.constraint.min is not None else 0.0
        hi = item.constraint.max if item.constraint and item.constraint.max is not None else lo + 20
        value = lo + np.minimum(rng.gamma(2.0, (hi - lo) / 8.0, n), hi - lo)
        if item.type == ItemType.INTEGER:
            return {item.id: text(np.rint(value).astype(np.int64))}
        return {item.id: np.asarray([f"{v:.1f}" for v in value], dtype=object)}
    if item.type == ItemType.DATE:
        return {item.id: iso(rng.integers(period[0], period[1] + 1, n).astype(np.float64))}
    return {item.id: np.full(n, None, dtype=object)}


def relevance_names(instrument: Instrument) -> set[str]:
    """Item ids that some item's relevance refers to."""
    names: set[str] = set()
    for item in instrument.data_items():
        if item.relevance:
            names |= set(parse_expression(item.relevance).names)
    return names


def typed_view(frame: pd.DataFrame, instrument: Instrument, only: set[str] | None = None) -> pd.DataFrame:
    """Answers typed as the expression language compares them (numbers as numbers).

    ``only`` limits the view to the items named (those the relevance expressions use).
    """
    data = {}
    for item in instrument.data_items():
        if only is not None and item.id not in only:
            continue
        if item.is_multiple:
            for choice in instrument.choices_of(item):
                column = multi_column(item.id, choice.code)
                data[column] = pd.to_numeric(pd.Series(frame[column].to_numpy(), index=frame.index),
                                             errors="coerce")
            continue
        values = pd.Series(frame[item.id].to_numpy(), index=frame.index, dtype=object)
        numeric = item.type in (ItemType.INTEGER, ItemType.DECIMAL) or (
            item.is_choice and all(isinstance(c, int) for c in codes(instrument, item)))
        if numeric:
            data[item.id] = pd.to_numeric(values, errors="coerce")
        elif item.type == ItemType.DATE:
            data[item.id] = pd.to_datetime(values, errors="coerce")
        else:
            data[item.id] = values  # text compared as Python strings; blanks are None
    return pd.DataFrame(data, index=frame.index)


def item_columns(instrument: Instrument, item: Item) -> list[str]:
    if item.is_multiple:
        return [multi_column(item.id, c.code) for c in instrument.choices_of(item)]
    return [item.id]


def shown(frame: pd.DataFrame, instrument: Instrument, item: Item, wave: np.ndarray | None,
          typed: pd.DataFrame | None = None) -> np.ndarray:
    """Where the item is shown: its relevance is true and the row's wave is one of its waves."""
    mask = np.ones(len(frame), dtype=bool)
    if item.relevance:
        typed = typed_view(frame, instrument) if typed is None else typed
        mask &= parse_expression(item.relevance).evaluate(typed).fillna(False).to_numpy(dtype=bool)
    if item.waves and wave is not None:
        mask &= np.isin(wave, list(item.waves))
    return mask


def apply_visibility(frame: pd.DataFrame, instrument: Instrument, wave: np.ndarray | None) -> pd.DataFrame:
    """Blank every answer the instrument hides (relevance or waves), in item order.

    Item order matters: hiding the consent question hides everything that depends on it.
    """
    frame = frame.copy()
    names = relevance_names(instrument)
    typed = typed_view(frame, instrument, only=names)
    for item in instrument.data_items():
        if not item.relevance and not item.waves:
            continue
        visible = shown(frame, instrument, item, wave, typed)
        if visible.all():
            continue
        for column in item_columns(instrument, item):
            frame[column] = frame[column].astype(object).where(visible, None)
            for side in (CANARY + column, CANARY_KIND + column):  # a hidden text carries nothing
                if side in frame.columns:
                    frame[side] = frame[side].astype(object).where(visible, None)
        hidden = pd.Series(~visible, index=typed.index)
        for column in item_columns(instrument, item):
            if column in typed.columns:
                typed[column] = typed[column].mask(hidden)
    return frame
