"""De-identification: the one boundary between the identifiable staging area and the rest.

Direct identifiers and contact-safety details are dropped; the case key becomes a keyed
pseudonym (HMAC-SHA256) that links waves and instruments; platform record ids become keyed
pseudonyms too; free text is scrubbed of names, phone numbers, emails, addresses and dates,
including the identifier values of the same row and every name held anywhere in the
evaluation's identifier fields.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

import pandas as pd

from pceval.instrument.model import Instrument, Role, Sensitivity
from pceval.privacy.pseudonym import pseudonymise
from pceval.privacy.scrub import Scrubber

PERSON_KEY = "pid"
RESPONSE_KEY = "response_id"
_DROPPED_META = ("_record", "_submitted_at", "_event")
_NAME_TOKEN = re.compile(r"^[^\W\d_][^\W\d_'\-]+$")


def secret_items(instrument: Instrument) -> list[str]:
    """Items whose values never leave the staging area."""
    return [item.id for item in instrument.data_items() if not item.leaves_staging]


def identifier_names(frame: pd.DataFrame, instrument: Instrument) -> set[str]:
    """Name-like values held in an instrument's text direct-identifier fields.

    Values with digits or ``@`` (phones, emails, addresses) are left to the scrubber's patterns;
    whole values and their word tokens of three or more letters are returned.

    Examples
    --------
    >>> from pceval.instrument import load_instrument
    >>> inst = load_instrument("contact_record")
    >>> f = pd.DataFrame({"woman_name": ["Ana Smith"], "man_name": [None], "woman_phone": ["0412"]})
    >>> sorted(identifier_names(f, inst))
    ['Ana', 'Ana Smith', 'Smith']
    """
    names: set[str] = set()
    for item in instrument.data_items():
        # contact-safety notes ("mornings only") are not names: searching every text for their
        # words would blank everyday words everywhere; each is removed from its own row's text
        if (item.sensitivity != Sensitivity.DIRECT_IDENTIFIER or not item.is_text
                or item.id not in frame.columns):
            continue
        values = frame[item.id].dropna().astype(str).str.strip()
        values = values[~values.str.contains(r"[\d@]", regex=True)]
        for value in values.unique():
            if not value:
                continue
            names.add(value)
            names.update(tok for tok in value.split() if len(tok) >= 3 and _NAME_TOKEN.match(tok))
    return names


@dataclass(frozen=True)
class Deidentified:
    frame: pd.DataFrame
    scrub_counts: pd.DataFrame
    dropped: tuple[str, ...]


def deidentify(frame: pd.DataFrame, instrument: Instrument, *, key: bytes,
               known_names: Iterable[str] = (), scrubber: Scrubber | None = None) -> Deidentified:
    """Drop identifiers, pseudonymise keys and scrub free text.

    Parameters
    ----------
    frame : DataFrame
        Clean, typed rows of one instrument (still identifiable).
    instrument : Instrument
        Declares each item's sensitivity and role.
    key : bytes
        The evaluation's pseudonym key.
    known_names : iterable of str
        Names held in identifier fields anywhere in the evaluation (scrubbed from free text).
    scrubber : Scrubber, optional
        A prepared scrubber (reused across instruments); built from ``known_names`` if absent.

    Returns
    -------
    Deidentified
        ``frame`` with ``pid`` (from the case key and service) in place of the case key,
        ``response_id`` in place of the platform's record id, no direct identifiers or
        contact-safety details, scrubbed free text; ``scrub_counts`` (tidy: ``instrument,
        row, field, kind, count``, never the removed text); ``dropped`` column names.
    """
    scrubber = scrubber or Scrubber(known_global=tuple(sorted(set(known_names))))
    # copy-on-write: the columns kept as they are stay shared with the clean frame
    out = frame.copy(deep=False)
    secret = secret_items(instrument)
    case_key = instrument.role_item(Role.CASE_KEY)
    service = instrument.role_item(Role.SERVICE)
    if case_key is not None:
        scope = out[service.id].astype("string") if service is not None else "all"
        out.insert(0, PERSON_KEY, pseudonymise(scope + "/" + out[case_key.id].astype("string"),
                                               key, namespace="case"))
    if "_record" in out.columns or "_row" in out.columns:
        record = (out["_record"].astype("string") if "_record" in out.columns
                  else pd.Series(pd.NA, index=out.index, dtype="string"))
        if "_row" in out.columns:
            # an export without record ids (plain CSV, SPSS, Excel ...): the row of its file
            # identifies the response, so every kept response has an id to code its text by
            file = out["_file"].astype("string") if "_file" in out.columns else ""
            record = record.fillna("row:" + file + "#" + out["_row"].astype("string"))
        out.insert(1 if case_key is not None else 0, RESPONSE_KEY,
                   pseudonymise(record, key, namespace=f"record/{instrument.id}"))

    # every identifier value of the row is removed from that row's free text, whatever it is;
    # only rows that hold some free text need their identifiers gathered
    free_items = [i.id for i in instrument.items_with(Sensitivity.FREE_TEXT) if i.id in out.columns]
    has_text = out[free_items].notna().any(axis=1) if free_items else pd.Series(False, index=out.index)
    identifiers = frame.loc[has_text, secret].astype("string") if secret else None
    counts = []
    for item_id in free_items:
        texts = out.loc[has_text, item_id].astype("string")
        scrubbed, found = scrubber.scrub_series(texts, known_per_row=identifiers)
        column = out[item_id].astype("string")
        column.loc[has_text] = scrubbed
        out[item_id] = column
        if len(found):
            found = found.copy()
            found.insert(0, "field", item_id)
            counts.append(found)
    dropped = tuple(c for c in (*secret, *_DROPPED_META) if c in out.columns)
    out = out.drop(columns=list(dropped))
    scrub_counts = _scrub_counts(counts, frame, instrument.id)
    return Deidentified(frame=out.reset_index(drop=True), scrub_counts=scrub_counts, dropped=dropped)


def _scrub_counts(parts: list[pd.DataFrame], frame: pd.DataFrame, instrument_id: str) -> pd.DataFrame:
    columns = ["instrument", "row", "field", "kind", "count"]
    if not parts:
        return pd.DataFrame({c: pd.Series(dtype="string" if c in {"instrument", "field", "kind"} else "Int64")
                             for c in columns})
    found = pd.concat(parts, ignore_index=True)
    rows = frame["_row"].astype("Int64")
    found["row"] = rows.loc[found["row"].to_numpy()].to_numpy()
    found["instrument"] = instrument_id
    found = found[columns].astype({"instrument": "string", "row": "Int64", "field": "string",
                                   "kind": "string", "count": "Int64"})
    return found.sort_values(["row", "field", "kind"], kind="stable").reset_index(drop=True)
