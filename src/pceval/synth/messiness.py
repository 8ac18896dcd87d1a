"""What real exports look like: the faults the generator puts into clean simulated answers.

Every fault is injected at a rate set below and counted (with the cells or rows it touched
where there are few), so the ground truth says exactly what cleaning should find:

==============================  ==========================================================
fault                            where
==============================  ==========================================================
missing-value codes              ``-99`` prefer not to say on items that offer it, ``-98``
                                 don't know and ``-97`` does not apply where allowed
platform missing-data codes      REDCap ``UNK`` (and ``ASKU``) in any answer field
duplicate submissions            REDCap: the same woman and event entered again under a new
                                 record, incomplete; Kobo: an identical row resubmitted with a
                                 new ``_uuid``; Qualtrics: a second, unfinished response from
                                 the same person
survey previews                  Qualtrics: one preview response (``Status`` 8) per survey
out-of-range values              numbers above the item's maximum: one more than the
                                 maximum, ``99`` typed for ``-99``, or a value in the wrong
                                 unit (life satisfaction 11 or 99, minutes 600, children 99,
                                 caseload 750)
invalid dates                    a day the month does not have (``2025-02-31``)
unknown choice codes             Kobo: ``callback`` from an older version of the form
blank case numbers               REDCap: a survey opened without its case number; Kobo: an
                                 attempt saved before the case was chosen
trailing whitespace              in short text answers
answers though hidden            a few answers to questions the form hid (relevance or wave)
==============================  ==========================================================

Rows the cleaning stage must quarantine are exactly the duplicates, the previews and the rows
with a blank case number; every other fault is a cell the cleaning stage must flag or recode.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from pceval.instrument.model import Instrument, Item, ItemType, MissingKind, Role, Sensitivity
from pceval.synth.common import CANARY, META, generic_values, item_columns, shown, typed_view

MISSING_RATES = {MissingKind.PREFER_NOT_TO_SAY: 0.03, MissingKind.DONT_KNOW: 0.02,
                 MissingKind.NOT_APPLICABLE: 0.01}
PLATFORM_MISSING_RATES = {"UNK": 0.003, "ASKU": 0.0005}
OUT_OF_RANGE_RATE = 0.004
INVALID_DATE_RATE = 0.0005
UNKNOWN_CODE_RATE = 0.003
HIDDEN_ANSWER_RATE = 0.0005
TRAILING_SPACE_RATE = 0.01
REDCAP_DUPLICATE_RATE = 0.01
REDCAP_BLANK_KEY_RATE = 0.002
KOBO_DUPLICATE_RATE = 0.003
KOBO_BLANK_KEY_RATE = 0.001
QUALTRICS_DUPLICATE_RATE = 0.05

FEW = 2  # the least number of each kind of fault put in a file that can hold it


@dataclass
class Injected:
    """What was put into one file: counts, and the cells or rows of the rarer faults."""

    counts: dict[str, int] = field(default_factory=dict)
    missing_codes: dict[str, int] = field(default_factory=dict)
    platform_codes: dict[str, int] = field(default_factory=dict)
    cells: list[tuple[int, str, str]] = field(default_factory=list)  # (frame index, field, fault)

    def add(self, fault: str, index, column: str | None = None) -> None:
        index = list(index)
        self.counts[fault] = self.counts.get(fault, 0) + len(index)
        self.cells.extend((int(i), column or "", fault) for i in index)


def _how_many(rate: float, candidates: int, *, least: int = FEW) -> int:
    return min(candidates, max(least, math.ceil(rate * candidates))) if candidates else 0


def _choose(rng: np.random.Generator, candidates: np.ndarray, rate: float, least: int = FEW) -> np.ndarray:
    k = _how_many(rate, len(candidates), least=least)
    return np.sort(rng.choice(candidates, k, replace=False)) if k else candidates[:0]


def _answer_items(inst: Instrument) -> list[Item]:
    """Items a respondent answers: not roles, not identifiers, not free text, not calculated."""
    return [item for item in inst.data_items()
            if item.role is None and item.type != ItemType.CALCULATED
            and item.sensitivity in (Sensitivity.ANALYSIS, Sensitivity.QUASI_IDENTIFIER)]


def _answered(frame: pd.DataFrame, column: str) -> np.ndarray:
    return frame[column].notna().to_numpy()


def missing_codes(rng, frame: pd.DataFrame, inst: Instrument, log: Injected) -> pd.DataFrame:
    """Replace answers by the item's own missing-value codes at the configured rates."""
    for item in _answer_items(inst):
        if item.is_multiple or not item.missing_codes:
            continue
        answered = np.flatnonzero(_answered(frame, item.id))
        u = rng.random(len(answered))
        low = 0.0
        for missing in inst.missing_of(item):
            rate = MISSING_RATES.get(missing.kind, 0.0)
            hit = answered[(u >= low) & (u < low + rate)]
            low += rate
            if len(hit):
                frame.loc[frame.index[hit], item.id] = str(missing.code)
                key = missing.kind.value
                log.missing_codes[key] = log.missing_codes.get(key, 0) + len(hit)
    return frame


def count_missing_codes(frame: pd.DataFrame, inst: Instrument) -> dict[str, int]:
    """Cells holding one of the item's declared missing-value codes, by kind."""
    out: dict[str, int] = {}
    for item in inst.data_items():
        if item.is_multiple or not item.missing_codes:
            continue
        values = frame[item.id].astype(object)
        for missing in inst.missing_of(item):
            hit = int((values == str(missing.code)).sum())
            if hit:
                out[missing.kind.value] = out.get(missing.kind.value, 0) + hit
    return dict(sorted(out.items()))


def platform_codes(rng, frame: pd.DataFrame, inst: Instrument, codes: dict[str, float],
                   log: Injected) -> pd.DataFrame:
    """REDCap project-level missing-data codes in any answer field but checkboxes.

    (REDCap records a missing-data code on a checkbox field in extra ``___code`` columns, which
    the export would only have if the project's form declared them.)
    """
    for item in _answer_items(inst):
        if item.is_multiple:
            continue
        for column in item_columns(inst, item):
            answered = np.flatnonzero(_answered(frame, column))
            u = rng.random(len(answered))
            low = 0.0
            for code, rate in codes.items():
                hit = answered[(u >= low) & (u < low + rate)]
                low += rate
                if len(hit):
                    frame.loc[frame.index[hit], column] = code
                    log.platform_codes[code] = log.platform_codes.get(code, 0) + len(hit)
    return frame


def out_of_range_values(item: Item) -> list[str]:
    """Typing errors that break an item's maximum.

    Examples
    --------
    >>> from pceval.instrument import load_instrument
    >>> out_of_range_values(load_instrument("womens_survey").item("life_satisfaction"))
    ['11', '99', '100']
    >>> out_of_range_values(load_instrument("contact_record").item("minutes"))
    ['241', '600']
    """
    top = item.constraint.max
    values = [top + 1]
    if 99 > top + 1:
        values.append(99)
    values.append(max(100, math.ceil(2.5 * top / 100) * 100))
    if item.type == ItemType.INTEGER:
        return [str(int(v)) for v in dict.fromkeys(values)]
    return [f"{v:g}" for v in dict.fromkeys(values)]


def out_of_range(rng, frame: pd.DataFrame, inst: Instrument, log: Injected) -> pd.DataFrame:
    for item in _answer_items(inst):
        if item.type not in (ItemType.INTEGER, ItemType.DECIMAL) or not item.constraint \
                or item.constraint.max is None:
            continue
        values = frame[item.id]
        numeric = pd.to_numeric(values, errors="coerce")
        candidates = np.flatnonzero((numeric >= (item.constraint.min or 0)).to_numpy())
        hit = _choose(rng, candidates, OUT_OF_RANGE_RATE)
        options = out_of_range_values(item)
        index = frame.index[hit]
        frame.loc[index, item.id] = np.asarray(options, dtype=object)[rng.integers(0, len(options), len(hit))]
        log.add("out_of_range", index, item.id)
    return frame


def _cells(masks: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """All (mask number, row) pairs where a mask is true, as two arrays."""
    which = [np.full(int(m.sum()), k) for k, m in enumerate(masks)]
    rows = [np.flatnonzero(m) for m in masks]
    if not which:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    return np.concatenate(which).astype(np.int64), np.concatenate(rows).astype(np.int64)


def _set_cells(frame: pd.DataFrame, column: str, rows: np.ndarray, values) -> None:
    """Set cells of one column at row positions in one assignment (no per-cell copies)."""
    data = frame[column].to_numpy(dtype=object).copy()
    data[rows] = values
    frame[column] = pd.Series(data, index=frame.index, dtype=object)


def invalid_dates(rng, frame: pd.DataFrame, inst: Instrument, log: Injected, *,
                  exclude: set[str] = frozenset()) -> pd.DataFrame:
    """A day the month does not have, in the same year: ``2025-02-31``, ``2025-06-31``."""
    columns = [item.id for item in inst.data_items() if item.type == ItemType.DATE and item.id not in exclude]
    which, rows = _cells([_answered(frame, c) for c in columns])
    if not len(rows):
        return frame
    chosen = np.sort(rng.choice(len(rows), _how_many(INVALID_DATE_RATE, len(rows)), replace=False))
    impossible = np.asarray(["02-30", "02-31", "04-31", "06-31", "09-31", "11-31"], dtype=object)
    days = impossible[rng.integers(0, len(impossible), len(chosen))]
    for k, column in enumerate(columns):
        mine = which[chosen] == k
        if not mine.any():
            continue
        at = rows[chosen][mine]
        years = np.asarray([str(v)[:4] for v in frame[column].to_numpy(dtype=object)[at]], dtype=object)
        _set_cells(frame, column, at, years + "-" + days[mine])
        log.add("invalid_date", frame.index[at], column)
    return frame


def hidden_answers(rng, frame: pd.DataFrame, inst: Instrument, log: Injected, *,
                   wave: np.ndarray | None, live: np.ndarray, period: tuple[int, int]) -> pd.DataFrame:
    """A few answers to questions the form hid, on rows that were otherwise answered.

    Items whose answers steer other questions are left alone, so the fault stays local.
    """
    from pceval.instrument.expressions import parse_expression

    steering = set()
    for item in inst.data_items():
        if item.relevance:
            steering |= set(parse_expression(item.relevance).names)
    typed = typed_view(frame, inst, only=steering)
    items = [item for item in _answer_items(inst)
             if item.id not in steering and (item.relevance or item.waves)]
    which, rows = _cells([~shown(frame, inst, item, wave, typed) & live for item in items])
    if not len(rows):
        return frame
    chosen = np.sort(rng.choice(len(rows), min(len(rows), _how_many(HIDDEN_ANSWER_RATE, len(frame))),
                                replace=False))
    for k, item in enumerate(items):
        mine = which[chosen] == k
        if not mine.any():
            continue
        at = rows[chosen][mine]
        values = generic_values(rng, inst, item, len(at), period=period)
        if item.is_multiple:  # at least one box ticked, or nothing shows
            first = next(iter(values))
            values[first] = np.full(len(at), "1", dtype=object)
        for column, value in values.items():
            _set_cells(frame, column, at, value)
        log.add("answered_though_hidden", frame.index[at], item.id)
    return frame


def trailing_spaces(rng, frame: pd.DataFrame, inst: Instrument, log: Injected) -> pd.DataFrame:
    for item in inst.data_items():
        if item.type != ItemType.SHORT_TEXT:
            continue
        answered = np.flatnonzero(_answered(frame, item.id))
        hit = answered[rng.random(len(answered)) < TRAILING_SPACE_RATE]
        if len(hit):
            index = frame.index[hit]
            frame.loc[index, item.id] = frame.loc[index, item.id].astype(object) + " "
            log.counts["trailing_whitespace"] = log.counts.get("trailing_whitespace", 0) + len(hit)
    return frame


def _new_index(frame: pd.DataFrame, k: int) -> np.ndarray:
    start = int(frame.index.max()) + 1 if len(frame) else 0
    return np.arange(start, start + k)


def _blank_after(frame: pd.DataFrame, inst: Instrument, first_item: np.ndarray) -> pd.DataFrame:
    """Blank, row by row, every answer from the ``first_item``-th data item on (unfinished)."""
    first_item = np.asarray(first_item)
    for position, item in enumerate(inst.data_items()):
        blank = position >= first_item
        if not blank.any():
            continue
        for column in item_columns(inst, item):
            frame[column] = frame[column].where(~blank, None)
        if CANARY + item.id in frame.columns:
            frame[CANARY + item.id] = frame[CANARY + item.id].where(~blank, None)
    return frame


# --- per platform -------------------------------------------------------------------------------

def redcap(rng, frame: pd.DataFrame, inst: Instrument, codes: dict[str, float], consent_yes: str,
           period: tuple[int, int]) -> tuple[pd.DataFrame, Injected]:
    log = Injected()
    frame = frame.reset_index(drop=True)
    consent = inst.role_item(Role.CONSENT)
    key = inst.role_item(Role.CASE_KEY)
    live = frame[consent.id].to_numpy(dtype=object) == consent_yes
    wave = frame[META + "wave"].to_numpy(dtype=object)
    frame = hidden_answers(rng, frame, inst, log, wave=wave, live=live, period=period)
    frame = missing_codes(rng, frame, inst, log)
    frame = platform_codes(rng, frame, inst, codes, log)
    frame = out_of_range(rng, frame, inst, log)
    frame = invalid_dates(rng, frame, inst, log)
    frame = trailing_spaces(rng, frame, inst, log)
    n_answer_items = len(list(inst.data_items()))
    # the same woman and event entered again under a new record, left incomplete
    sources = _choose(rng, np.flatnonzero(live), REDCAP_DUPLICATE_RATE, least=1)
    dups = frame.iloc[sources].copy()
    dups.index = _new_index(frame, len(dups))
    next_record = int(frame[META + "record_id"].max()) + 1 if len(frame) else 1
    dups[META + "record_id"] = np.arange(next_record, next_record + len(dups))
    dups[META + "complete"] = "0"
    dups = _blank_after(dups, inst, rng.integers(n_answer_items // 3, 2 * n_answer_items // 3, len(dups)))
    frame = pd.concat([frame, dups])
    log.add("duplicate_submission", dups.index)
    # surveys opened without their case number, abandoned
    blanks = frame.loc[frame.index[_choose(rng, np.flatnonzero(live), REDCAP_BLANK_KEY_RATE, least=1)]].copy()
    blanks.index = _new_index(frame, len(blanks))
    next_record = int(frame[META + "record_id"].max()) + 1 if len(frame) else 1
    blanks[META + "record_id"] = np.arange(next_record, next_record + len(blanks))
    blanks[META + "complete"] = "0"
    blanks[key.id] = None
    blanks = _blank_after(blanks, inst, np.full(len(blanks), n_answer_items // 2))
    frame = pd.concat([frame, blanks])
    log.add("no_case_key", blanks.index, key.id)
    return frame, log


def kobo(rng, frame: pd.DataFrame, inst: Instrument, outcome_item: str, attempt_codes: set[str],
         unknown_code: str, old_version: str, period: tuple[int, int]) -> tuple[pd.DataFrame, Injected]:
    log = Injected()
    frame = frame.reset_index(drop=True)
    key = inst.role_item(Role.CASE_KEY)
    live = np.ones(len(frame), dtype=bool)
    frame = hidden_answers(rng, frame, inst, log, wave=None, live=live, period=period)
    # the record's own missing-value codes (her cohort "prefer not to say", "not known") are
    # case details, simulated once per woman; none are sprinkled over single rows
    frame = out_of_range(rng, frame, inst, log)
    event_date = inst.role_item(Role.EVENT_DATE)
    frame = invalid_dates(rng, frame, inst, log, exclude={event_date.id} if event_date else set())
    frame = trailing_spaces(rng, frame, inst, log)
    outcome = frame[outcome_item].to_numpy(dtype=object)
    attempts = np.flatnonzero(np.isin(outcome, list(attempt_codes)))
    # a code from an older form version on a few failed attempts
    hit = _choose(rng, attempts, UNKNOWN_CODE_RATE)
    frame.loc[frame.index[hit], outcome_item] = unknown_code
    frame.loc[frame.index[hit], META + "version"] = old_version
    log.add("unknown_code", frame.index[hit], outcome_item)
    # attempts saved before the case was chosen: only a woman's later failed attempts, so that
    # whether she was offered contact and reached does not change
    is_attempt = np.isin(outcome, list(attempt_codes))
    order = pd.DataFrame({"woman": frame[META + "woman"].to_numpy(), "day": frame[META + "day"].to_numpy(),
                          "attempt": is_attempt.astype(np.int64)})
    order = order.sort_values(["woman", "day"], kind="stable")
    before = order.groupby("woman")["attempt"].cumsum() - order["attempt"]
    prior = before.reindex(np.arange(len(frame))).to_numpy()
    eligible = np.setdiff1d(np.flatnonzero(is_attempt & (prior >= 1)), hit)
    blank = _choose(rng, eligible, KOBO_BLANK_KEY_RATE)
    frame.loc[frame.index[blank], key.id] = None
    log.add("no_case_key", frame.index[blank], key.id)
    # a submission sent again: the same entry with a new uuid, later
    sources = _choose(rng, np.setdiff1d(np.arange(len(frame)), blank), KOBO_DUPLICATE_RATE, least=1)
    dups = frame.iloc[sources].copy()
    dups.index = _new_index(frame, len(dups))
    from pceval.synth.exports import uuids

    dups[META + "uuid"] = uuids(rng, len(dups))
    dups[META + "submitted"] = dups[META + "submitted"] + rng.integers(600, 3 * 86400, len(dups))
    frame = pd.concat([frame, dups])
    log.add("duplicate_submission", dups.index)
    return frame, log


def qualtrics(rng, frame: pd.DataFrame, inst: Instrument, period: tuple[int, int]) -> tuple[pd.DataFrame, Injected]:
    log = Injected()
    frame = frame.reset_index(drop=True)
    frame = missing_codes(rng, frame, inst, log)
    frame = out_of_range(rng, frame, inst, log)
    frame = trailing_spaces(rng, frame, inst, log)
    identifiers = [item for item in inst.data_items()
                   if item.sensitivity == Sensitivity.DIRECT_IDENTIFIER and item.is_text]
    items = list(inst.data_items())
    last_identifier = max((items.index(i) for i in identifiers), default=0)
    named = np.flatnonzero(frame[[i.id for i in identifiers]].notna().any(axis=1).to_numpy()) \
        if identifiers else np.arange(0)
    # a second, unfinished response from the same person
    sources = _choose(rng, named, QUALTRICS_DUPLICATE_RATE, least=1)
    dups = frame.iloc[sources].copy()
    dups.index = _new_index(frame, len(dups))
    from pceval.synth.exports import response_ids

    later = rng.integers(86400, 10 * 86400, len(dups))
    dups[META + "start"] = dups[META + "start"] + later
    dups[META + "end"] = dups[META + "start"] + rng.integers(60, 300, len(dups))
    dups[META + "recorded"] = dups[META + "start"] + 7 * 86400  # closed after a week
    dups[META + "duration"] = dups[META + "end"] - dups[META + "start"]
    dups[META + "finished"] = "0"
    dups[META + "response_id"] = response_ids(rng, len(dups))
    stop = rng.integers(last_identifier + 1, max(last_identifier + 2, len(items) - 1), len(dups))
    dups[META + "progress"] = [str(int(100 * s / len(items))) for s in stop]
    dups = _blank_after(dups, inst, stop)
    frame = pd.concat([frame, dups])
    log.add("duplicate_submission", dups.index)
    # the survey preview someone clicked through before the survey went out
    preview = frame.iloc[[int(rng.integers(0, len(frame)))]].copy()
    preview.index = _new_index(frame, 1)
    for item in identifiers:
        preview[item.id] = None
    for column in [c for c in preview.columns if c.startswith(CANARY)]:
        preview[column] = None
    text_items = [item for item in inst.data_items() if item.is_text and item.role is None]
    for item in text_items:
        preview[item.id] = None
    first_start = int(frame[META + "start"].min())
    preview[META + "start"] = first_start - 5 * 86400
    preview[META + "end"] = first_start - 5 * 86400 + 95
    preview[META + "recorded"] = first_start - 5 * 86400 + 96
    preview[META + "duration"] = 95
    preview[META + "status"] = "8"
    preview[META + "ip"] = None
    preview[META + "channel"] = "preview"
    for column in ("recipient_first", "recipient_last", "recipient_email", "latitude", "longitude"):
        preview[META + column] = None
    preview[META + "response_id"] = response_ids(rng, 1)
    frame = pd.concat([frame, preview])
    log.add("survey_preview", preview.index)
    return frame, log
