"""Row-level rules: which rows cannot be attributed, and which are duplicate submissions.

A row that cannot be attributed to a woman, a respondent, a service or a wave is quarantined
with its reason; so is every duplicate submission but the one kept by the project's stated
rule (``cleaning.duplicates`` in ``pceval.yml``).
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from pceval.clean.log import CleaningLog
from pceval.instrument.model import Instrument, Role, Sensitivity


def quarantine_previews(staged: pd.DataFrame, log: CleaningLog) -> pd.Series:
    """Rows that are survey previews or tests, not responses."""
    if "_preview" not in staged.columns:
        return pd.Series(False, index=staged.index)
    preview = staged["_preview"].astype("string").fillna("0").eq("1")
    log.quarantined(rows=staged.loc[preview, "_row"], reason="survey_preview",
                    detail="a preview of the survey, not a response")
    return preview


def quarantine_unattributable(typed: pd.DataFrame, instrument: Instrument, log: CleaningLog, *,
                              services: Sequence[str], waves: Sequence[str]) -> pd.Series:
    """Rows with no usable case key, an unknown service or an unknown wave."""
    bad = pd.Series(False, index=typed.index)
    key = instrument.role_item(Role.CASE_KEY)
    if key is not None:
        no_key = typed[key.id].isna()
        log.quarantined(rows=typed.loc[no_key, "_row"], reason="no_case_key",
                        detail=f"{key.id} is blank or not a valid case number")
        bad |= no_key
    service = instrument.role_item(Role.SERVICE)
    if service is not None:
        known = typed[service.id].isin(list(services)) if services else typed[service.id].notna()
        unknown = ~bad & ~known
        log.quarantined(rows=typed.loc[unknown, "_row"], reason="unknown_service",
                        detail=(f"{service.id} " + typed.loc[unknown, service.id].astype("string")
                                .fillna("(blank)") + " is not a service of this evaluation"))
        bad |= unknown
    if instrument.waves:
        wave = typed["_wave"].astype("string")
        unknown = ~bad & ~wave.isin(list(waves))
        log.quarantined(rows=typed.loc[unknown, "_row"], reason="unknown_wave",
                        detail="the row's event is not mapped to a wave of this evaluation")
        bad |= unknown
    return bad


def identity_columns(instrument: Instrument) -> list[str]:
    """Columns that say two rows are the same submission, derived from the instrument's roles."""
    key = instrument.role_item(Role.CASE_KEY)
    service = instrument.role_item(Role.SERVICE)
    if key is not None and instrument.waves:
        return [key.id] + ([service.id] if service else []) + ["_wave"]
    if key is not None or instrument.respondent not in {"worker", "facilitator"} or instrument.unit == "event":
        # one row per event (or no way to tell people apart): only a resubmission of the very
        # same entry is a duplicate
        return instrument.columns()
    # a practitioner survey: the same person answering twice, told apart by their identifiers
    identifiers = [item.id for item in instrument.items_with(Sensitivity.DIRECT_IDENTIFIER)
                   if item.is_text]
    return ([service.id] if service else []) + identifiers


def quarantine_duplicates(typed: pd.DataFrame, instrument: Instrument, log: CleaningLog, *,
                          rule: str, among: pd.Series | None = None) -> pd.Series:
    """Duplicate submissions other than the one the rule keeps.

    Rules: ``keep_last`` keeps the last row in the file, ``keep_first`` the first, and
    ``keep_complete_last`` the last complete row (or the last row if none is complete).
    Rows whose identity columns are all blank are never treated as duplicates. Only the rows
    ``among`` marks (all by default) take part: the others are already quarantined.
    """
    columns = identity_columns(instrument)
    service = instrument.role_item(Role.SERVICE)
    matching = [c for c in columns if service is None or c != service.id]
    if not columns or not matching:
        return pd.Series(False, index=typed.index)
    identity = typed[columns]
    if instrument.role_item(Role.CASE_KEY) is None or instrument.waves:
        # case numbers and names as typed by people: compare without case and spacing
        identity = identity.astype("string").apply(lambda s: s.str.strip().str.casefold())
    # rows whose identifying columns are all blank cannot be matched to another row
    blank = identity[matching].isna().all(axis=1)
    # a 64-bit hash of the identity keeps this fast on a million rows; a collision between
    # two different submissions has a probability of about n^2 / 2^65
    key = pd.util.hash_pandas_object(identity, index=False)
    order = pd.DataFrame({"row": typed["_row"].astype("int64"), "key": key}, index=typed.index)
    if rule == "keep_complete_last":
        order["complete"] = typed["_complete"].astype("string").fillna("0").eq("1").astype(int)
        order = order.sort_values(["complete", "row"], kind="stable")
    else:
        order = order.sort_values(["row"], kind="stable")
    taking_part = ~blank if among is None else ~blank & among.astype(bool)
    order = order[taking_part.loc[order.index]]
    keep = "first" if rule == "keep_first" else "last"
    is_dup = order["key"].duplicated(keep=keep)
    duplicate = pd.Series(False, index=typed.index)
    duplicate.loc[order.index[is_dup]] = True
    if is_dup.any():
        kept_row = order.loc[~is_dup].set_index("key")["row"]
        dups = order.loc[is_dup]
        detail = ("duplicate submission; row " + dups["key"].map(kept_row).astype(str)
                  + f" kept ({rule})").astype("string")
        log.quarantined(rows=dups["row"], reason="duplicate_submission", detail=detail)
    return duplicate


def quarantine_shared_records(typed: pd.DataFrame, log: CleaningLog, *,
                              among: pd.Series | None = None) -> pd.Series:
    """Rows that share one platform record id (and wave) with a different submission.

    A platform gives each response its own record id; two different answers under one id (a
    merged or hand-edited export) cannot be told apart downstream, and which of them is the
    record's cannot be known, so all of them are quarantined. Resubmissions of the same answers
    were already resolved as duplicates. Only the rows ``among`` marks (all by default) take
    part.
    """
    if "_record" not in typed.columns:
        return pd.Series(False, index=typed.index)
    keys = [c for c in ("_record", "_wave") if c in typed.columns]
    identity = typed[keys].astype("string")
    if among is not None:
        identity = identity.loc[among.astype(bool)]
    shared = identity["_record"].notna() & identity.duplicated(keep=False)
    shared = shared.reindex(typed.index, fill_value=False)
    if shared.any():
        log.quarantined(rows=typed.loc[shared, "_row"], reason="shared_record_id",
                        detail=("record id " + identity.loc[shared, "_record"]
                                + " also holds another submission").astype("string"))
    return shared
