"""Segments: the non-empty free-text answers to be coded, one row each.

Which items are free text comes from the instruments (``sensitivity: free_text``), never from a
list in code. Text is taken only from the scored zone (``build/scored``), where it has been
scrubbed; the segment id is made of pseudonymous parts only: the instrument, the response's
pseudonymous ``response_id``, the wave (for instruments asked at several waves, where one
response id recurs across waves) and the item.
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from pceval.errors import DataError
from pceval.instrument.model import Instrument, Role, Sensitivity
from pceval.privacy.deidentify import PERSON_KEY, RESPONSE_KEY

__all__ = ["SEGMENT_COLUMNS", "free_text_items", "segment_id", "text_segments"]

#: Columns of :func:`text_segments`.
SEGMENT_COLUMNS = ("segment_id", "instrument", "item", "respondent", "response_id", "pid",
                   "service", "wave", "text")

WAVE_COLUMN = "_wave"
_SEP = ":"


def free_text_items(instruments: Mapping[str, Instrument]) -> list[tuple[str, str]]:
    """``(instrument id, item id)`` of every free-text item, in instrument and item order.

    Examples
    --------
    >>> from pceval.instrument import load_instruments
    >>> free_text_items(load_instruments())[:2]
    [('contact_record', 'notes'), ('facilitator_survey', 'comments')]
    """
    return [(inst_id, item.id)
            for inst_id, inst in sorted(instruments.items())
            for item in inst.items_with(Sensitivity.FREE_TEXT)]


def segment_id(instrument: str, response_id: str, wave: str | None, item: str) -> str:
    """The id of one segment: ``instrument:response_id[:wave]:item``.

    Examples
    --------
    >>> segment_id("womens_survey", "P3cbd74fe", "exit", "comments")
    'womens_survey:P3cbd74fe:exit:comments'
    >>> segment_id("worker_survey", "P193d2c10", None, "comments")
    'worker_survey:P193d2c10:comments'
    """
    parts = [instrument, response_id] + ([wave] if wave else []) + [item]
    return _SEP.join(parts)


def text_segments(scored: Mapping[str, pd.DataFrame],
                  instruments: Mapping[str, Instrument]) -> pd.DataFrame:
    """One row per non-empty free-text answer of the scored data.

    Parameters
    ----------
    scored : mapping of str to DataFrame
        Scored (de-identified, scrubbed) data per instrument id, as in ``build/scored``.
    instruments : mapping of str to Instrument
        The instruments, keyed by id; instruments without scored data are skipped.

    Returns
    -------
    DataFrame
        Columns :data:`SEGMENT_COLUMNS` (string dtype), sorted by ``segment_id``:
        ``respondent`` is the instrument's respondent type (``woman``, ``record``, ``worker``,
        ``facilitator``); ``pid`` the woman's pseudonym where the instrument has one;
        ``service`` the service code; ``wave`` the wave where the instrument has waves;
        ``text`` the scrubbed answer, with surrounding white space removed.

    Raises
    ------
    DataError
        A scored frame lacks ``response_id`` or a free-text column, or two segments would
        share an id.

    Examples
    --------
    >>> from pceval.instrument import load_instrument
    >>> inst = load_instrument("worker_survey")
    >>> frame = pd.DataFrame({"response_id": ["Pa", "Pb"], "service_id": ["S01", "S02"],
    ...                       "comments": ["More hours please.", "  "]})
    >>> text_segments({"worker_survey": frame}, {"worker_survey": inst})[["segment_id", "text"]].values.tolist()
    [['worker_survey:Pa:comments', 'More hours please.']]
    """
    parts = []
    for inst_id, item_id in free_text_items(instruments):
        if inst_id not in scored:
            continue
        inst, frame = instruments[inst_id], scored[inst_id]
        for column in (RESPONSE_KEY, item_id):
            if column not in frame.columns:
                raise DataError(f"scored data of {inst_id} has no column {column!r}",
                                file=f"build/scored/{inst_id}.parquet", field=column,
                                fix="rebuild with `pceval build`")
        text = frame[item_id].astype("string").str.strip()
        keep = text.notna() & (text != "")
        if not keep.any():
            continue
        rows = frame.loc[keep]
        n = len(rows)
        service = inst.role_item(Role.SERVICE)
        wave = (rows[WAVE_COLUMN].astype("string") if inst.waves and WAVE_COLUMN in rows.columns
                else pd.Series(pd.NA, index=rows.index, dtype="string"))
        response = rows[RESPONSE_KEY].astype("string")
        ids = [segment_id(inst_id, r, None if pd.isna(w) else w, item_id)
               for r, w in zip(response, wave, strict=True)]
        parts.append(pd.DataFrame({
            "segment_id": ids,
            "instrument": [inst_id] * n,
            "item": [item_id] * n,
            "respondent": [inst.respondent] * n,
            "response_id": response.to_numpy(),
            "pid": (rows[PERSON_KEY].astype("string").to_numpy() if PERSON_KEY in rows.columns
                    else pd.array([pd.NA] * n, dtype="string")),
            "service": (rows[service.id].astype("string").to_numpy()
                        if service is not None and service.id in rows.columns
                        else pd.array([pd.NA] * n, dtype="string")),
            "wave": wave.to_numpy(),
            "text": text[keep].to_numpy(),
        }))
    if not parts:
        return pd.DataFrame({c: pd.Series(dtype="string") for c in SEGMENT_COLUMNS})
    out = pd.concat(parts, ignore_index=True).astype("string")
    dupes = out["segment_id"][out["segment_id"].duplicated()]
    if len(dupes):
        inst_id = dupes.iloc[0].split(_SEP)[0]
        raise DataError(f"two answers share the segment id {dupes.iloc[0]!r}",
                        file=f"build/scored/{inst_id}.parquet", field=RESPONSE_KEY,
                        fix="each response (and wave) must have its own response_id; rebuild")
    return out.sort_values("segment_id", kind="stable").reset_index(drop=True)
