"""Apply each item's relevance (branching) logic and waves to every row.

An answer given though the item was hidden is removed (audit rule ``hidden_by_relevance``)
and flagged; a blank where the item was hidden gets the reason ``skipped_by_logic``; a blank
where it was shown gets ``not_reached`` if the response was not completed, else ``missing``,
and a shown, required item left blank is an issue.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pceval.clean.convert import shown_value
from pceval.clean.log import CleaningLog
from pceval.instrument.expressions import parse_expression
from pceval.instrument.model import Instrument, Item, multi_column


def _columns(instrument: Instrument, item: Item) -> list[str]:
    if item.is_multiple:
        return [multi_column(item.id, c.code) for c in instrument.choices_of(item)]
    return [item.id]


def apply_relevance(typed: pd.DataFrame, staged: pd.DataFrame, instrument: Instrument,
                    log: CleaningLog) -> pd.DataFrame:
    """Return a copy of ``typed`` with hidden answers removed and every blank given a reason.

    ``staged`` (text cells; its rows include ``typed``'s, matched by index) tells an originally
    blank cell from one that an earlier rule emptied (which already has its reason). Rows
    ``typed`` does not hold are left out by index, so the staged frame need not be cut to
    ``typed``'s rows first (a copy of every text column).
    """
    # copy-on-write: only the columns assigned below get new data, the others stay shared
    out = typed.copy(deep=False)
    positions = None if staged.index.equals(out.index) else staged.index.get_indexer(out.index)
    if positions is not None and (positions < 0).any():
        raise ValueError("the staged frame does not hold every row of the typed frame")

    def staged_blank(column: str) -> pd.Series:
        blank = staged[column].isna()
        return blank if positions is None else pd.Series(blank.to_numpy()[positions], index=out.index)

    def staged_cells(column: str, where: pd.Series) -> pd.Series:
        if positions is None:
            return staged.loc[where, column]
        chosen = where.to_numpy(dtype=bool, na_value=False)
        return staged[column].iloc[positions[chosen]].set_axis(out.index[chosen])
    rows = out["_row"]
    complete = out["_complete"].astype("string").fillna("1").eq("1")
    blank_reason = pd.Series("missing", index=out.index, dtype="string").where(complete, "not_reached")
    for item in instrument.data_items():
        shown = pd.Series(True, index=out.index)
        if item.relevance:
            shown &= parse_expression(item.relevance).evaluate(out).astype(bool)
        if item.waves:
            shown &= out["_wave"].isin(list(item.waves)).fillna(False).astype(bool)
        columns = _columns(instrument, item)
        hidden = ~shown
        for column in columns:
            present = out[column].notna()
            originally_blank = staged_blank(column)
            stray = hidden & present
            if item.is_multiple:
                # a platform writes 0 in every box of a hidden checkbox question
                stray_flag = hidden & out[column].fillna(0).eq(1)
            else:
                stray_flag = stray
            if stray.any():
                log.change(rows=rows[stray], field=column,
                           old=shown_value(item, out.loc[stray, column].astype("string")),
                           new=pd.NA, rule="hidden_by_relevance")
                log.missing_reason(rows=rows[stray], field=column, reason="skipped_by_logic")
                out[column] = out[column].mask(stray)
            if stray_flag.any():
                log.issue(code="answered_though_hidden", severity="warning", rows=rows[stray_flag],
                          field=column, values=shown_value(item, staged_cells(column, stray_flag)),
                          message=f"answered although hidden by {item.relevance or 'its waves'}; "
                                  "the answer was removed")
            skipped = hidden & originally_blank
            log.missing_reason(rows=rows[skipped], field=column, reason="skipped_by_logic")
            blank_shown = shown & originally_blank
            log.missing_reason(rows=rows[blank_shown], field=column, reason=blank_reason[blank_shown])
        if item.required:
            blank = shown & pd.concat([staged_blank(c) for c in columns], axis=1).all(axis=1)
            log.issue(code="required_blank", severity="warning", rows=rows[blank], field=item.id,
                      values=None, message="required and shown, but left blank")
    return out


def staged_for_relevance(staged: pd.DataFrame, instrument: Instrument) -> pd.DataFrame:
    """What :func:`apply_relevance` needs of the staged frame, and no more.

    It reads which staged cells were blank in every item's columns, and the staged text only
    where an answer can be found hidden: in the columns of items with relevance logic or
    waves. Other columns keep their blanks as a one-category categorical (a byte a cell,
    where the text took twenty or more), so cleaning can let the staged text go before it
    cuts and checks the typed frame.

    Examples
    --------
    >>> from pceval.instrument import load_instrument
    >>> inst = load_instrument("worker_survey")
    >>> staged = pd.DataFrame({c: pd.Series(["x", None], dtype="string") for c in inst.columns()})
    >>> slim = staged_for_relevance(staged, inst)
    >>> slim["consent"].isna().tolist(), str(slim["consent"].dtype)
    ([False, True], 'category')
    """
    out = {}
    for item in instrument.data_items():
        hideable = bool(item.relevance or item.waves)
        for column in _columns(instrument, item):
            if column not in staged.columns or column in out:
                continue
            values = staged[column]
            if hideable:
                out[column] = values
            else:
                blank = values.isna().to_numpy(dtype=bool)
                out[column] = pd.Categorical.from_codes(np.where(blank, -1, 0).astype(np.int8),
                                                        categories=["answered"])
    return pd.DataFrame(out, index=staged.index, copy=False)
