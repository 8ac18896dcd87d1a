"""Score every scale an instrument declares: reverse keys, minimum valid items, bands.

Missing-value codes never reach a score: cleaning has already turned them into missing
values with their reasons, and :func:`score_scale` checks that every item value lies within the
item's declared range before it counts it.
"""

from __future__ import annotations

import pandas as pd

from pceval.errors import AnalysisError
from pceval.instrument.model import Instrument, Item, Scale


def item_bounds(instrument: Instrument, item: Item) -> tuple[float, float]:
    """Lowest and highest valid value of a scale item (from its choices or its constraint).

    Examples
    --------
    >>> from pceval.instrument import load_instrument
    >>> inst = load_instrument("womens_survey")
    >>> item_bounds(inst, inst.item("fs_home"))
    (1.0, 5.0)
    """
    if item.is_choice:
        codes = [c.code for c in instrument.choices_of(item)]
        if not all(isinstance(c, int) for c in codes):
            raise AnalysisError(f"scale item {item.id} has text codes and cannot be scored",
                                field=item.id, fix="give its choice list numeric codes")
        return float(min(codes)), float(max(codes))
    if item.constraint is not None and item.constraint.min is not None and item.constraint.max is not None:
        return float(item.constraint.min), float(item.constraint.max)
    raise AnalysisError(f"scale item {item.id} has no bounded range", field=item.id,
                        fix="give it a choice list or a constraint with min and max")


def reverse_key(values: pd.Series, low: float, high: float) -> pd.Series:
    """Reverse-key item values: ``low + high - x``.

    Examples
    --------
    >>> reverse_key(pd.Series([1, 5, None], dtype="Float64"), 1, 5).tolist()
    [5.0, 1.0, <NA>]
    """
    return (low + high) - values


def score_scale(frame: pd.DataFrame, instrument: Instrument, scale: Scale) -> pd.Series:
    """One scale's score for every row.

    Parameters
    ----------
    frame : DataFrame
        Clean data with the scale's item columns (missing codes already removed).
    instrument : Instrument
        Declares the items' ranges.
    scale : Scale
        Items, reverse keys, ``method`` (``mean``, ``sum`` or ``prorated_sum``),
        ``min_valid`` (default: all items) and ``multiplier``.

    Returns
    -------
    Series of Float64
        Missing where fewer than ``min_valid`` items are answered.

    Notes
    -----
    ``mean`` is the mean of answered items; ``sum`` needs every item; ``prorated_sum`` is
    the mean of answered items times the number of items (mean imputation of the missing
    ones, as the K10 rule allows for one missing item). A value outside an item's range is
    treated as missing, so a stray code such as -99 can never change a score.

    Examples
    --------
    >>> from pceval.instrument import load_instrument
    >>> inst = load_instrument("womens_survey")
    >>> data = pd.DataFrame({"fs_home": [4, 2], "fs_out": [4, None], "fs_afraid": [2, 5],
    ...                      "fs_plan": [4, -99]})
    >>> score_scale(data, inst, inst.scale("felt_safety")).round(2).tolist()
    [4.0, <NA>]
    """
    columns = []
    for item_id in scale.items:
        item = instrument.item(item_id)
        low, high = item_bounds(instrument, item)
        values = pd.to_numeric(frame[item_id], errors="coerce").astype("Float64")
        values = values.where((values >= low) & (values <= high))
        if item_id in scale.reverse:
            values = reverse_key(values, low, high)
        columns.append(values.rename(item_id))
    items = pd.concat(columns, axis=1)
    answered = items.notna().sum(axis=1)
    uniform = pd.Series(False, index=items.index)
    if scale.screen_uniform:
        # all answers at the floor, or all at the ceiling, is screened out as a response set
        # (Personal Wellbeing Index manual); reverse keys do not apply to such scales
        lows = [item_bounds(instrument, instrument.item(i))[0] for i in scale.items]
        highs = [item_bounds(instrument, instrument.item(i))[1] for i in scale.items]
        complete = answered.eq(len(scale.items))
        uniform = complete & (items.eq(pd.Series(lows, index=items.columns)).all(axis=1)
                              | items.eq(pd.Series(highs, index=items.columns)).all(axis=1))
        uniform = uniform.fillna(False).astype(bool)
    needed = len(scale.items) if scale.method == "sum" else (scale.min_valid or len(scale.items))
    mean = items.mean(axis=1, skipna=True)
    if scale.method == "mean":
        score = mean
    elif scale.method == "sum":
        score = items.sum(axis=1, skipna=True)
    else:
        score = mean * len(scale.items)
    score = score.astype("Float64").where((answered >= needed) & ~uniform) * scale.multiplier
    return score.rename(scale.id)


def score_band(score: pd.Series, scale: Scale) -> pd.Series:
    """The band label of each score (missing outside every band or when unscored).

    Bands are closed intervals; a score that falls in a gap between two bands (a prorated
    K10 of 15.6 between "low" 10-15 and "moderate" 16-21) takes the lower band, since it has
    not reached the next band's threshold.

    Examples
    --------
    >>> from pceval.instrument.load import load_scale_rules
    >>> from pceval.instrument.model import Scale
    >>> k10 = Scale(id="k10", label="K10", items=("a",), bands=load_scale_rules().rule("k10").bands)
    >>> score_band(pd.Series([10, 15.6, 16, 29, 30, 50, 51, None], dtype="Float64"), k10).tolist()
    ['low', 'low', 'moderate', 'high', 'very high', 'very high', <NA>, <NA>]
    """
    out = pd.Series(pd.NA, index=score.index, dtype="string")
    bands = sorted(scale.bands, key=lambda b: b.min)
    for position, band in enumerate(bands):
        upper = bands[position + 1].min if position + 1 < len(bands) else None
        inside = score.ge(band.min) & (score.lt(upper) if upper is not None else score.le(band.max))
        out = out.mask(inside.fillna(False).astype(bool), band.label)
    return out


def score_scales(frame: pd.DataFrame, instrument: Instrument) -> pd.DataFrame:
    """Append every declared scale (and its band, where bands are declared) to ``frame``.

    Parameters
    ----------
    frame : DataFrame
        Clean data with the scales' item columns.
    instrument : Instrument
        Declares the scales.

    Returns
    -------
    DataFrame
        A new frame; scale columns are named by scale id, bands ``<scale id>_band``.

    Examples
    --------
    >>> from pceval.instrument import load_instrument
    >>> inst = load_instrument("womens_survey")
    >>> data = pd.DataFrame({"fs_home": [4], "fs_out": [4], "fs_afraid": [2], "fs_plan": [5]})
    >>> score_scales(data.reindex(columns=[i for s in inst.scales for i in s.items]), inst)["felt_safety"].tolist()
    [4.25]
    """
    # copy-on-write: the scored frame shares the columns it does not add (a deep copy held
    # a second contact record in memory at national scale)
    out = frame.copy(deep=False)
    for scale in instrument.scales:
        out[scale.id] = score_scale(out, instrument, scale)
        if scale.bands:
            out[f"{scale.id}_band"] = score_band(out[scale.id], scale)
    return out


__all__ = ["item_bounds", "reverse_key", "score_band", "score_scale", "score_scales"]
