"""Reasons become codes: the fixed mappings, the item's own codes first, nothing else touched."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pceval.clean.log import MISSING_REASONS
from pceval.errors import DataError, InstrumentError
from pceval.instrument import load_instrument
from pceval.outputs import (
    MISSING_CODES,
    STATA_MISSING,
    apply_missing_codes,
    missing_code_labels,
    missing_code_map,
    numeric_choice_codes,
)


def test_mappings_are_fixed_and_cover_every_reason():
    assert dict(MISSING_CODES) == {
        "prefer_not_to_say": -99, "dont_know": -98, "not_applicable": -97, "missing": -95,
        "platform_missing_code": -94, "not_reached": -93, "invalid_value_removed": -92,
        "skipped_by_logic": -91,
    }
    assert dict(STATA_MISSING) == {
        "prefer_not_to_say": "a", "dont_know": "b", "not_applicable": "c", "skipped_by_logic": "d",
        "invalid_value_removed": "e", "not_reached": "f", "platform_missing_code": "g",
        "missing": "m",
    }
    assert set(MISSING_CODES) == set(STATA_MISSING) == set(MISSING_REASONS)
    assert len(set(MISSING_CODES.values())) == len(set(STATA_MISSING.values())) == len(MISSING_REASONS)


def test_item_codes_win_over_standard_codes(mini_instrument):
    codes = missing_code_map(mini_instrument, "kids_ok")
    assert codes["prefer_not_to_say"] == -99 and codes["not_applicable"] == -97
    assert codes["skipped_by_logic"] == -91 and codes["dont_know"] == -98
    labels = missing_code_labels(mini_instrument, "kids_ok")
    assert labels[-97] == "Does not apply to me" and labels[-91] == "Skipped by survey logic"
    # string codes declared by an instrument are used as numbers
    record = load_instrument("contact_record")
    assert missing_code_map(record, "risk_rating_changed")["dont_know"] == -98
    assert numeric_choice_codes(record, "risk_tier") == {"low": 1, "elevated": 2, "serious": 3}


def test_an_item_declared_code_can_differ_from_the_standard(write_yaml):
    inst = load_instrument(write_yaml("""\
        kind: instrument
        schema_version: 1
        id: odd
        version: "1"
        title: Odd
        respondent: woman
        missing_codes: [{code: -999, label: Refused, kind: prefer_not_to_say}]
        items:
          - {id: n, type: integer, missing_codes: [-999]}
        """))
    assert missing_code_map(inst, "n")["prefer_not_to_say"] == -999
    assert missing_code_labels(inst, "n")[-999] == "Refused"


def test_a_standard_code_that_is_also_a_choice_is_refused(write_yaml):
    inst = load_instrument(write_yaml("""\
        kind: instrument
        schema_version: 1
        id: clash
        version: "1"
        title: Clash
        respondent: woman
        choice_lists:
          weird: [{code: 1, label: One}, {code: -91, label: Minus ninety-one}]
        items:
          - {id: q, type: single_choice, choices: weird}
        """))
    with pytest.raises(InstrumentError, match="-91"):
        missing_code_map(inst, "q")


def test_codes_fill_numeric_items_only(mini):
    frame = mini.scored
    before = frame.copy()
    out = apply_missing_codes(frame, mini.missing, mini.instrument)
    pd.testing.assert_frame_equal(frame, before)  # the input is not changed
    by_row = out.set_index("_row")
    assert by_row.loc[2, "kids_ok"] == -99 and by_row.loc[2, "felt2"] == -99
    assert by_row.loc[3, "kids_ok"] == -91 and by_row.loc[6, "kids_ok"] == -97
    assert by_row.loc[3, "hours"] == -95.0 and by_row.loc[5, "kids"] == -99
    assert by_row.loc[4, "help__1"] == -91 and out["help__1"].dtype == "Int8"
    assert pd.isna(by_row.loc[4, "when"]) and pd.isna(by_row.loc[4, "comments"])
    assert pd.isna(by_row.loc[2, "felt"])  # scale scores have no reason
    for column in frame.columns:
        assert out[column].dtype == frame[column].dtype
        answered = frame[column].notna()
        assert out.loc[answered, column].equals(frame.loc[answered, column])


def test_applying_twice_or_without_rows_fails(mini):
    once = apply_missing_codes(mini.scored, mini.missing, mini.instrument)
    with pytest.raises(DataError, match="missing code"):
        apply_missing_codes(once, mini.missing, mini.instrument)
    with pytest.raises(DataError, match="_row"):
        apply_missing_codes(mini.scored.drop(columns="_row"), mini.missing, mini.instrument)
    bad = mini.missing.assign(reason="lost")
    with pytest.raises(DataError, match="unknown missing reasons"):
        apply_missing_codes(mini.scored, bad, mini.instrument)


def test_other_instruments_and_quarantined_rows_are_ignored(mini):
    extra = pd.DataFrame({"instrument": ["other", "mini"], "row": [2, 99], "field": ["kids", "kids"],
                          "reason": ["missing", "missing"]})
    out = apply_missing_codes(mini.scored, pd.concat([mini.missing, extra]), mini.instrument)
    expected = apply_missing_codes(mini.scored, mini.missing, mini.instrument)
    pd.testing.assert_frame_equal(out, expected)


@settings(max_examples=20)
@given(st.lists(st.sampled_from(MISSING_REASONS), min_size=5, max_size=5))
def test_every_reason_maps_to_one_code_and_back(mini, reasons):
    frame = mini.scored.assign(hours=pd.array([None] * 5, dtype="Float64"))
    log = pd.DataFrame({"instrument": "mini", "row": frame["_row"], "field": "hours", "reason": reasons})
    out = apply_missing_codes(frame, log, mini.instrument)
    back = {code: reason for reason, code in missing_code_map(mini.instrument, "hours").items()}
    assert [back[int(v)] for v in out["hours"]] == reasons
