"""k-anonymity of quasi-identifiers and declared generalisation rules.

Expected class sizes are counted by hand; the Hypothesis properties compare k_min with a plain
``groupby`` on random small frames.
"""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from pceval.errors import ConfigError
from pceval.instrument import load_instrument
from pceval.privacy.kanon import (
    KANON_COLUMNS,
    check_k_anonymity,
    generalise,
    k_anonymity,
    k_anonymity_warnings,
    quasi_identifiers,
)

RECORD = """\
kind: instrument
schema_version: 1
id: log
version: "1"
title: Case log
respondent: record
unit: event
choice_lists:
  age: [{code: 1, label: 18-24}, {code: 2, label: 25-34}, {code: 3, label: 35-44},
        {code: 4, label: 45-54}, {code: 5, label: 55 or over}]
  yn: [{code: 1, label: "Yes"}, {code: 0, label: "No"}]
  help: [{code: 1, label: Housing}, {code: 2, label: Legal}]
items:
  - {id: case_id, type: short_text, required: true, role: case_key, sensitivity: direct_identifier}
  - {id: woman_name, type: short_text, sensitivity: direct_identifier}
  - {id: age_group, type: single_choice, choices: age, sensitivity: quasi_identifier}
  - {id: atsi, type: single_choice, choices: yn, sensitivity: quasi_identifier}
  - {id: kids, type: integer, sensitivity: quasi_identifier}
  - {id: needs, type: multiple_choice, choices: help, sensitivity: quasi_identifier}
  - {id: minutes, type: integer}
"""


@pytest.fixture(scope="module")
def record(tmp_path_factory):
    path = tmp_path_factory.mktemp("kanon") / "log.yml"
    path.write_text(RECORD, encoding="utf-8")
    return load_instrument(path)


def _example() -> pd.DataFrame:
    # classes (age_group, atsi): (1,0) x4, (2,0) x3, (2,1) x1, (3,0) x2, (3,1) x2 -> 12 rows
    age = [1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3]
    atsi = [0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 1, 1]
    return pd.DataFrame({"_row": range(2, 14), "age_group": pd.array(age, dtype="Int64"),
                         "atsi": pd.array(atsi, dtype="Int64")})


def test_k_anonymity_hand_computed():
    result = k_anonymity(_example(), ["age_group", "atsi"], k=3)
    assert result.k_min == 1
    assert result.classes.to_dict("records") == [
        {"age_group": 2, "atsi": 1, "size": 1},
        {"age_group": 3, "atsi": 0, "size": 2},
        {"age_group": 3, "atsi": 1, "size": 2},
    ]
    assert (result.units, result.at_risk) == (12, 5)
    assert result.share_at_risk == pytest.approx(5 / 12)
    assert not result.ok
    # the classes never carry the rows
    assert list(result.classes.columns) == ["age_group", "atsi", "size"]


def test_k_anonymity_one_column_and_no_column():
    by_age = k_anonymity(_example(), ["age_group"], k=4)
    assert by_age.k_min == 4 and by_age.ok and by_age.classes.empty
    everyone = k_anonymity(_example(), [], k=5)
    assert everyone.k_min == 12 and everyone.at_risk == 0


def test_missing_values_form_their_own_class():
    frame = pd.DataFrame({"age_group": pd.array([1, 1, None, None, None], dtype="Int64")})
    result = k_anonymity(frame, ["age_group"], k=3)
    assert result.k_min == 2
    assert result.classes["age_group"].tolist() == [1]


def test_people_not_rows_are_counted():
    # w1 has five events alone in her class: one woman, not five
    frame = pd.DataFrame({"pid": ["w1"] * 5 + ["w2", "w3", "w4"],
                          "age_group": [1] * 5 + [2, 2, 2]})
    by_rows = k_anonymity(frame, ["age_group"], k=3)
    by_women = k_anonymity(frame, ["age_group"], k=3, unit="pid")
    assert by_rows.k_min == 3 and by_rows.ok
    assert by_women.k_min == 1 and by_women.units == 4 and by_women.at_risk == 1
    assert by_women.classes.to_dict("records") == [{"age_group": 1, "size": 1}]


def test_a_woman_in_a_small_class_at_any_row_is_at_risk():
    frame = pd.DataFrame({"pid": ["w1", "w1", "w2", "w3"], "worker": ["a", "b", "a", "a"]})
    result = k_anonymity(frame, ["worker"], k=2, unit="pid")
    assert result.k_min == 1 and result.at_risk == 1 and result.units == 3


def test_empty_frame():
    result = k_anonymity(_example().iloc[:0], ["age_group"], k=5)
    assert result.k_min is None and result.units == 0 and result.share_at_risk == 0.0
    assert list(result.classes.columns) == ["age_group", "size"]


def test_unknown_quasi_column_is_a_config_error():
    with pytest.raises(ConfigError) as caught:
        k_anonymity(_example(), ["age_group", "postcode"])
    assert caught.value.field == "postcode"


@pytest.mark.parametrize("k", [0, -1, 2.5, True])
def test_k_must_be_a_positive_integer(k):
    with pytest.raises(ValueError, match="k must be"):
        k_anonymity(_example(), ["age_group"], k=k)


def test_to_frame_is_one_tidy_row():
    row = k_anonymity(_example(), ["age_group", "atsi"], k=3).to_frame()
    assert row.to_dict("records") == [{
        "quasi_identifiers": "age_group, atsi", "unit": "row", "units": 12, "k": 3, "k_min": 1,
        "classes_under_k": 3, "at_risk": 5, "share_at_risk": pytest.approx(5 / 12)}]


# --------------------------------------------------------------------------------------------
# Quasi-identifiers of an instrument; checking a build
# --------------------------------------------------------------------------------------------


def test_quasi_identifiers_from_the_instrument(record):
    assert quasi_identifiers(record) == ["age_group", "atsi", "kids", "needs__1", "needs__2"]
    frame = pd.DataFrame(columns=["pid", "age_group", "kids", "minutes"])
    assert quasi_identifiers(record, frame) == ["age_group", "kids"]


def test_check_k_anonymity_one_row_per_instrument(record):
    worker = load_instrument("worker_survey")
    frames = {
        "log": pd.DataFrame({"pid": ["w1", "w1", "w2", "w3", "w4", "w5", "w6"],
                             "age_group": [1, 1, 1, 1, 1, 1, 2], "atsi": 0, "minutes": 10}),
        "worker_survey": pd.DataFrame({"consent": [1, 1]}),
    }
    table = check_k_anonymity(frames, {"log": record, "worker_survey": worker}, k=5)
    assert tuple(table.columns) == KANON_COLUMNS
    log = table.iloc[0].to_dict()
    assert (log["instrument"], log["quasi_identifiers"], log["unit"], log["units"],
            log["k_min"], log["classes_under_k"], log["at_risk"]) == (
        "log", "age_group, atsi", "woman", 6, 1, 1, 1)
    other = table.iloc[1].to_dict()
    assert other["quasi_identifiers"] == "" and pd.isna(other["k_min"])
    assert other["unit"] == "row" and other["units"] == 2 and other["at_risk"] == 0
    warnings = k_anonymity_warnings(table)
    assert len(warnings) == 1
    assert warnings[0].startswith("log: 1 of 6 women (16.7%) are in 1 combination of "
                                  "age_group, atsi shared by fewer than 5")


# --------------------------------------------------------------------------------------------
# Generalisation
# --------------------------------------------------------------------------------------------


def _risky() -> pd.DataFrame:
    # 20 women: five age bands and 0-7 children, most combinations rare; under 35 / 35 or
    # over by none / 1 or more children gives four classes of five
    age = [1, 2, 2, 1, 2, 1, 2, 2, 1, 2, 3, 4, 5, 3, 4, 3, 3, 3, 4, 5]
    kids = [0, 0, 0, 0, 0, 1, 2, 6, 5, 1, 0, 0, 0, 0, 0, 1, 3, 7, 1, 2]
    return pd.DataFrame({"_row": range(2, 22), "_file": "raw/log.csv",
                         "pid": [f"w{i}" for i in range(20)],
                         "age_group": pd.array(age, dtype="Int64"),
                         "kids": pd.array(kids, dtype="Int64")})


RULES = {"age_group": {"recode": {1: "under 35", 2: "under 35", 3: "35 or over",
                                  4: "35 or over", 5: "35 or over"}},
         "kids": {"top_code": 1, "label": "1 or more"}}


def test_generalisation_reaches_k_5(record):
    frame = _risky()
    assert k_anonymity(frame, ["age_group", "kids"], k=5, unit="pid").k_min == 1
    out, audit = generalise(frame, RULES, instrument=record)
    result = k_anonymity(out, ["age_group", "kids"], k=5, unit="pid")
    assert result.k_min >= 5 and result.ok
    assert out["age_group"].tolist()[:3] == ["under 35", "under 35", "under 35"]
    assert out["kids"].tolist()[4:7] == ["0", "1 or more", "1 or more"]
    assert set(frame.columns) == set(out.columns)


def test_generalisation_audits_every_changed_cell(record):
    frame = _risky()
    out, audit = generalise(frame, RULES, instrument=record)
    assert list(audit.columns) == ["instrument", "file", "row", "field", "old", "new", "rule"]
    assert (audit["rule"] == "generalise").all() and (audit["instrument"] == "log").all()
    assert (audit["file"] == "raw/log.csv").all()
    # every age cell changes; kids only where 1 or more (10 of 20)
    ages = audit[audit["field"] == "age_group"]
    assert len(ages) == 20
    assert ages.iloc[0][["row", "old", "new"]].tolist() == [2, "1", "under 35"]
    kids = audit[audit["field"] == "kids"]
    assert len(kids) == int((frame["kids"] >= 1).sum()) == 10
    assert kids[kids["row"] == 9][["old", "new"]].values.tolist() == [["6", "1 or more"]]
    # the audit replays: old values are those of the input, new those of the output
    for r in audit.itertuples(index=False):
        before = frame.loc[frame["_row"] == r.row, r.field].iloc[0]
        after = out.loc[out["_row"] == r.row, r.field].iloc[0]
        assert (str(before), str(after)) == (r.old, r.new)


def test_generalise_does_not_modify_its_input():
    frame = _risky()
    copy = frame.copy()
    generalise(frame, RULES)
    pd.testing.assert_frame_equal(frame, copy)


def test_plain_recode_map_keeps_numbers_numeric():
    frame = _risky()
    out, audit = generalise(frame, {"age_group": {"1": 1, "2": 1, "4": 3, "5": 3}})
    assert str(out["age_group"].dtype) == "Int64"
    assert sorted(out["age_group"].unique().tolist()) == [1, 3]
    # unchanged cells (1 -> 1, and 3 not in the map) are not in the audit
    assert len(audit) == int(frame["age_group"].isin([2, 4, 5]).sum())


def test_top_code_default_label():
    frame = pd.DataFrame({"kids": pd.array([0, 4, 5, 9, None], dtype="Int64")})
    out, audit = generalise(frame, {"kids": {"top_code": 5}})
    assert out["kids"].tolist()[:4] == ["0", "4", "5 or more", "5 or more"]
    assert pd.isna(out["kids"].iloc[4])
    assert audit[["row", "old", "new"]].values.tolist() == [[2, "5", "5 or more"],
                                                            [3, "9", "5 or more"]]


def test_drop_removes_the_column_and_audits_its_cells(record):
    frame = _risky().assign(age_group=pd.array([None] * 19 + [3], dtype="Int64"))
    out, audit = generalise(frame, {"age_group": {"drop": True}}, instrument=record)
    assert "age_group" not in out.columns
    assert audit[["row", "field", "old"]].values.tolist() == [[21, "age_group", "3"]]
    assert pd.isna(audit["new"].iloc[0])


def test_identifier_values_never_reach_the_audit(record):
    frame = pd.DataFrame({"_row": [2, 3], "woman_name": ["Mai Tran", "Ana Silva"]})
    _, audit = generalise(frame, {"woman_name": {"Mai Tran": "someone"}}, instrument=record)
    assert audit[["old", "new"]].values.tolist() == [["[redacted]", "[redacted]"]]
    _, dropped = generalise(frame, {"woman_name": {"drop": True}}, instrument=record)
    assert dropped["old"].tolist() == ["[redacted]", "[redacted]"]


def test_unknown_column_is_a_config_error():
    with pytest.raises(ConfigError) as caught:
        generalise(_risky(), {"postcode": {"top_code": 3000}})
    assert caught.value.field == "postcode"
    assert "postcode" in str(caught.value) and "not in the data" in str(caught.value)


@pytest.mark.parametrize("rule", [
    {"top_code": 5, "drop": True},           # two directives
    {"drop": False},                          # drop must be true
    {"top_code": "five"},                     # not a number
    {"recode": {1: 2}, "label": "x"},         # a label only goes with top_code
    {"top_code": 2, "bottom": 1},             # an unknown key beside a directive
    "under 35",                               # not a mapping
])
def test_malformed_rules_are_config_errors(rule):
    with pytest.raises(ConfigError) as caught:
        generalise(_risky(), {"kids": rule})
    assert caught.value.field == "kids"


def test_top_coding_text_is_a_config_error():
    frame = pd.DataFrame({"worker": pd.array(["a", "b"], dtype="string")})
    with pytest.raises(ConfigError, match="top_code needs numbers"):
        generalise(frame, {"worker": {"top_code": 2}})


# --------------------------------------------------------------------------------------------
# Properties
# --------------------------------------------------------------------------------------------

_values = st.one_of(st.none(), st.integers(min_value=0, max_value=3))


@st.composite
def _frames(draw):
    n = draw(st.integers(min_value=1, max_value=30))
    columns = draw(st.integers(min_value=1, max_value=3))
    data = {f"q{c}": pd.array(draw(st.lists(_values, min_size=n, max_size=n)), dtype="Int64")
            for c in range(columns)}
    data["pid"] = draw(st.lists(st.sampled_from(["a", "b", "c", "d", "e", "f"]), min_size=n,
                                max_size=n))
    return pd.DataFrame(data)


@given(frame=_frames(), k=st.integers(min_value=1, max_value=6))
def test_k_min_is_the_smallest_group(frame, k):
    quasi = [c for c in frame.columns if c.startswith("q")]
    sizes = frame.groupby(quasi, dropna=False).size()
    result = k_anonymity(frame, quasi, k=k)
    assert result.k_min == sizes.min()
    assert len(result.classes) == int((sizes < k).sum())
    assert result.at_risk == int(sizes[sizes < k].sum())
    assert (result.classes["size"] < k).all()
    assert 0 <= result.share_at_risk <= 1


@given(frame=_frames(), k=st.integers(min_value=1, max_value=6))
def test_k_min_counts_distinct_people(frame, k):
    quasi = [c for c in frame.columns if c.startswith("q")]
    people = frame.groupby(quasi, dropna=False)["pid"].nunique()
    result = k_anonymity(frame, quasi, k=k, unit="pid")
    assert result.k_min == people.min()
    assert result.units == frame["pid"].nunique()
    assert result.at_risk <= result.units
