"""Cleaning rules, applied to staged text before validation.

Rules are declared in an instrument (its ``cleaning`` list: they travel with the instrument and
harmonise what its older versions and the platforms send) or in ``pceval.yml``
(``cleaning.rules``, each naming its instrument: for one evaluation's exports). An instrument's
rules run first.

Rules harmonise what platforms and instrument versions send before validation sees it:

- ``rename``: a column of an older instrument version holds this item
  (``{instrument: contact_record, rename: {contact_mins: minutes}}``);
- ``recode``: map codes to the current instrument's codes
  (``{instrument: womens_survey, field: relationship, recode: {"4": "3"}}``);
- ``date_formats``: accept dates written in other formats and rewrite them as ``YYYY-MM-DD``
  (``{instrument: contact_record, field: event_date, date_formats: ["%d/%m/%Y"]}``);
- ``trim``: collapse runs of white space (tabs, line breaks, non-breaking spaces) inside a
  text answer to one space (``{instrument: worker_survey, field: employer, trim: true}``).

Every cell a rule changes is in the audit log with the rule's name; a rule naming an unknown
instrument or field is a configuration error, never silently ignored.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from pceval.clean.convert import shown_value
from pceval.clean.log import CleaningLog
from pceval.errors import ConfigError
from pceval.instrument.model import Instrument, ItemType

# literal non-breaking and ideographic spaces: Arrow-backed strings match with RE2, whose \s is
# ASCII only
_WHITESPACE = "[\\s\u00a0\u2007\u202f\u3000]+"


def apply_rules(staged: pd.DataFrame, instrument: Instrument, rules: Sequence, log: CleaningLog,
                *, config_file: str = "pceval.yml", section: str = "cleaning.rules") -> pd.DataFrame:
    """Apply the rules that name this instrument to its staged frame; returns a new frame.

    Parameters
    ----------
    staged : DataFrame
        The staged frame (text cells).
    instrument : Instrument
        Rules naming another instrument are skipped; a rule without an ``instrument`` key
        (one declared in the instrument itself) applies.
    rules : sequence of CleaningRule or CleaningRuleSpec
    log : CleaningLog
        Receives one audit entry per changed cell, with the rule's name.
    config_file, section : str
        Where the rules were declared, for error messages.

    Examples
    --------
    >>> from pceval.instrument import load_instrument
    >>> from pceval.instrument.model import CleaningRuleSpec
    >>> inst = load_instrument("worker_survey")
    >>> staged = pd.DataFrame({"comments": pd.Series(["More\u00a0 time,   please "], dtype="string"),
    ...                        "_row": [2]})
    >>> log = CleaningLog(instrument=inst.id, file="w.csv")
    >>> apply_rules(staged, inst, [CleaningRuleSpec(field="comments", trim=True)], log)["comments"].tolist()
    ['More time, please']
    >>> log.audit_frame()["rule"].tolist()
    ['trim:cleaning.rules[1]']
    """
    out = staged.copy()
    rows = out["_row"]
    for number, rule in enumerate(rules, start=1):
        if getattr(rule, "instrument", instrument.id) != instrument.id:
            continue
        where = f"{section}[{number}]"
        name = rule.name or where
        for old, new in (rule.rename or {}).items():
            if new not in out.columns:
                raise ConfigError(f"rename target {new!r} is not a column of {instrument.id}",
                                  file=config_file, field=where)
            if old not in out.columns:
                continue
            moved = out[old].notna() & out[new].isna()
            target = instrument.item(new.split("__")[0])
            log.change(rows=rows[moved], field=new, old=pd.Series(pd.NA, index=rows[moved].index),
                       new=shown_value(target, out.loc[moved, old].astype("string")),
                       rule=f"rename:{name}")
            out.loc[moved, new] = out.loc[moved, old]
            out = out.drop(columns=[old])
        if rule.field is None:
            continue
        if rule.field not in out.columns:
            raise ConfigError(f"field {rule.field!r} is not a column of {instrument.id}",
                              file=config_file, field=where,
                              fix="name an item id (or item__code for a choice of a multiple-choice item)")
        item = instrument.item(rule.field.split("__")[0])
        values = out[rule.field].astype("string")
        if rule.recode:
            mapping = {str(k): str(v) for k, v in rule.recode.items()}
            hit = values.isin(list(mapping)) & values.notna()
            new_values = values[hit].map(mapping).astype("string")
            log.change(rows=rows[hit], field=rule.field, old=shown_value(item, values[hit]),
                       new=shown_value(item, new_values), rule=f"recode:{name}")
            values = values.mask(hit, new_values.reindex(values.index))
        if rule.date_formats:
            if item.type != ItemType.DATE:
                raise ConfigError(f"date_formats given for {rule.field}, which is not a date item",
                                  file=config_file, field=where)
            iso = pd.to_datetime(values, format="%Y-%m-%d", errors="coerce")
            pending = values.notna() & iso.isna()
            for fmt in rule.date_formats:
                parsed = pd.to_datetime(values.where(pending), format=fmt, errors="coerce")
                hit = pending & parsed.notna()
                text = parsed[hit].dt.strftime("%Y-%m-%d").astype("string")
                log.change(rows=rows[hit], field=rule.field, old=values[hit], new=text,
                           rule=f"date_format:{name}")
                values = values.mask(hit, text.reindex(values.index))
                pending = pending & ~hit
        if rule.trim:
            trimmed = values.str.replace(_WHITESPACE, " ", regex=True).str.strip()
            hit = values.notna() & values.ne(trimmed).fillna(False)
            log.change(rows=rows[hit], field=rule.field, old=values[hit], new=trimmed[hit],
                       rule=f"trim:{name}")
            values = values.mask(hit, trimmed)
        out[rule.field] = values
    return out
