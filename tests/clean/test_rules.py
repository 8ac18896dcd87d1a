"""Declared cleaning rules: renames, recodes and date formats, each change audited."""

from __future__ import annotations

import pandas as pd
import pytest

from pceval.clean import clean_staged
from pceval.errors import ConfigError
from pceval.instrument import load_instrument
from pceval.project import CleaningRule

RECORD = load_instrument("contact_record")


def staged(**columns) -> pd.DataFrame:
    n = len(next(iter(columns.values())))
    frame = pd.DataFrame({c: pd.Series([None] * n, dtype="string") for c in RECORD.columns()})
    for name, values in columns.items():
        frame[name] = pd.Series(values, dtype="string")
    frame["_row"] = range(2, n + 2)
    frame["_wave"] = pd.NA
    frame["_complete"] = "1"
    frame["_preview"] = "0"
    return frame


BASE = {"case_id": ["AB1234", "AB1235"], "service_id": ["S01", "S01"], "referral_date": ["2025-01-02"] * 2,
        "his_status": ["attending"] * 2, "event_type": ["contact"] * 2, "mode": ["phone"] * 2}


def test_recode_and_date_formats_are_applied_and_audited():
    data = staged(**BASE, outcome=["spoke", "reached"], event_date=["03/02/2025", "2025-02-04"])
    rules = [CleaningRule(instrument="contact_record", name="v0 outcome", field="outcome", recode={"spoke": "reached"}),
             CleaningRule(instrument="contact_record", name="au dates", field="event_date",
                          date_formats=("%d/%m/%Y",))]
    result = clean_staged(data, RECORD, file="r.csv", services=["S01"], rules=rules)
    assert result.frame["outcome"].tolist() == ["reached", "reached"]
    assert result.frame["event_date"].tolist() == [pd.Timestamp("2025-02-03"), pd.Timestamp("2025-02-04")]
    audit = result.audit.set_index(["row", "field"])
    assert audit.loc[(2, "outcome"), "rule"] == "recode:v0 outcome"
    assert audit.loc[(2, "event_date"), "old"] == "03/02/2025" and audit.loc[(2, "event_date"), "new"] == "2025-02-03"
    assert "unknown_code" not in set(result.issues["code"])


def test_rename_moves_an_old_versions_column():
    data = staged(**BASE, outcome=["reached", "reached"], event_date=["2025-02-03"] * 2)
    data["contact_mins"] = pd.Series(["30", "45"], dtype="string")
    rules = [CleaningRule(instrument="contact_record", rename={"contact_mins": "minutes"})]
    result = clean_staged(data, RECORD, file="r.csv", services=["S01"], rules=rules)
    assert result.frame["minutes"].tolist() == [30, 45]
    assert "contact_mins" not in result.frame.columns
    assert set(result.audit.loc[result.audit["field"] == "minutes", "rule"]) == {"rename:cleaning.rules[1]"}


def test_a_rule_naming_an_unknown_field_is_a_config_error():
    data = staged(**BASE)
    rules = [CleaningRule(instrument="contact_record", field="nope", recode={"1": "2"})]
    with pytest.raises(ConfigError, match="field 'nope' is not a column of contact_record"):
        clean_staged(data, RECORD, file="r.csv", services=["S01"], rules=rules)


def test_a_rule_must_do_something():
    with pytest.raises(ValueError, match="needs rename, recode, date_formats or trim"):
        CleaningRule(instrument="contact_record", field="outcome")


def test_an_instruments_own_rules_run_first_and_are_audited_by_name():
    from pceval.instrument.model import CleaningRuleSpec

    own = (CleaningRuleSpec(name="v1 outcome words", field="outcome", recode={"spoke": "reached"}),
           CleaningRuleSpec(name="tidy notes", field="notes", trim=True))
    record = RECORD.model_copy(update={"cleaning": own})
    data = staged(**BASE, outcome=["spoke", "talked"], event_date=["2025-02-03"] * 2,
                  notes=["called\u00a0 back,\tno answer", "fine"])
    # the evaluation's rule sees the instrument's result: "talked" is recoded by pceval.yml
    rules = [CleaningRule(instrument="contact_record", name="local word", field="outcome",
                          recode={"talked": "reached"})]
    result = clean_staged(data, record, file="r.csv", services=["S01"], rules=rules)
    assert result.frame["outcome"].tolist() == ["reached", "reached"]
    assert result.frame["notes"].tolist() == ["called back, no answer", "fine"]
    audit = result.audit.set_index(["row", "field"])["rule"]
    assert audit[(2, "outcome")] == "recode:v1 outcome words"
    assert audit[(3, "outcome")] == "recode:local word"
    assert audit[(2, "notes")] == "trim:tidy notes"
    assert (3, "notes") not in audit.index


def test_an_instrument_rule_naming_an_unknown_field_fails_at_load(write_yaml):
    from pceval.errors import InstrumentError

    path = write_yaml("""\
        kind: instrument
        schema_version: 1
        id: tiny
        version: "1"
        title: Tiny
        respondent: worker
        items:
          - {id: note_text, type: long_text, label: Notes}
        cleaning:
          - {field: notes_text, trim: true}
        """)
    with pytest.raises(InstrumentError, match="cleaning rule 1 names field 'notes_text'"):
        load_instrument(path)
