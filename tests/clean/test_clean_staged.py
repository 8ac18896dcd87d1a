"""Cleaning against an inline instrument: every change audited, every blank explained."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from pceval.clean import clean_staged
from pceval.instrument import load_instrument

SURVEY = """\
kind: instrument
schema_version: 1
id: mini
version: "1"
title: Mini
respondent: woman
waves: [baseline, followup]
missing_codes:
  - {code: -99, label: Prefer not to say, kind: prefer_not_to_say}
  - {code: -98, label: Don't know, kind: dont_know}
choice_lists:
  yn: [{code: 1, label: "Yes"}, {code: 0, label: "No"}]
  help: [{code: 1, label: A}, {code: 2, label: B}]
items:
  - {id: safe, type: single_choice, choices: yn, required: true, role: safety_gate}
  - {id: case_id, type: short_text, required: true, role: case_key, sensitivity: direct_identifier,
     constraint: {pattern: "^[A-Z]{2}[0-9]{4}$"}}
  - {id: service_id, type: short_text, required: true, role: service}
  - {id: kids, type: integer, constraint: {min: 0, max: 15}, missing_codes: [-99], relevance: "safe == 1"}
  - {id: kids_ok, type: single_choice, choices: yn, missing_codes: [-99, -98], relevance: "safe == 1 and kids > 0"}
  - {id: when, type: date, relevance: "safe == 1"}
  - {id: help, type: multiple_choice, choices: help, relevance: "safe == 1", waves: [followup]}
"""

COLUMNS = ["safe", "case_id", "service_id", "kids", "kids_ok", "when", "help__1", "help__2"]


@pytest.fixture(scope="module")
def instrument(tmp_path_factory):
    path = tmp_path_factory.mktemp("mini") / "mini.yml"
    path.write_text(SURVEY, encoding="utf-8")
    return load_instrument(path)


def staged(rows: list[dict]) -> pd.DataFrame:
    frame = pd.DataFrame([{c: r.get(c) for c in COLUMNS} for r in rows], columns=COLUMNS).astype("string")
    frame["_row"] = range(2, len(rows) + 2)
    frame["_wave"] = pd.array([r.get("_wave", "baseline") for r in rows], dtype="string")
    frame["_complete"] = pd.array([r.get("_complete", "1") for r in rows], dtype="string")
    frame["_preview"] = "0"
    return frame


def test_codes_ranges_dates_and_relevance(instrument):
    data = staged([
        {"safe": "1", "case_id": "AB1234", "service_id": "S01", "kids": "2", "kids_ok": "-98", "when": "2025-02-31"},
        {"safe": "1", "case_id": "AB1235", "service_id": "S01", "kids": "40", "kids_ok": "7", "when": "2025-01-05"},
        {"safe": "0", "case_id": "AB1236", "service_id": "S01", "kids": "3"},
        {"safe": "1", "case_id": "AB1237", "service_id": "S01", "kids": "UNK", "_complete": "0"},
    ])
    result = clean_staged(data, instrument, file="mini.csv", services=["S01"],
                          waves=["baseline", "followup"], platform_codes={"UNK": "dont_know"})
    frame = result.frame.set_index("_row")
    assert frame.loc[2, "kids"] == 2 and pd.isna(frame.loc[2, "kids_ok"]) and pd.isna(frame.loc[2, "when"])
    assert pd.isna(frame.loc[3, "kids"]) and pd.isna(frame.loc[3, "kids_ok"])
    assert frame.loc[3, "when"] == pd.Timestamp("2025-01-05")
    assert pd.isna(frame.loc[4, "kids"])  # answered though the safety gate hid it
    reasons = result.missing.set_index(["row", "field"])["reason"]
    assert reasons[(2, "kids_ok")] == "dont_know"
    assert reasons[(2, "when")] == "invalid_value_removed"
    assert reasons[(3, "kids")] == "invalid_value_removed"
    assert reasons[(4, "kids")] == "skipped_by_logic"
    assert reasons[(4, "when")] == "skipped_by_logic"
    assert reasons[(5, "kids")] == "platform_missing_code"
    assert reasons[(5, "when")] == "not_reached"
    assert reasons[(2, "help__1")] == "skipped_by_logic"  # a follow-up item at baseline
    rules = set(zip(result.audit["row"], result.audit["field"], result.audit["rule"], strict=True))
    assert {(2, "kids_ok", "missing_code"), (2, "when", "invalid_date"), (3, "kids", "out_of_range"),
            (3, "kids_ok", "unknown_code"), (4, "kids", "hidden_by_relevance"),
            (5, "kids", "platform_missing_code")} <= rules
    codes = set(zip(result.issues["row"], result.issues["code"], strict=True))
    assert {(2, "invalid_date"), (3, "out_of_range"), (3, "unknown_code"), (4, "answered_though_hidden")} <= codes


def test_identifier_values_never_reach_a_log(instrument):
    data = staged([{"safe": "1", "case_id": "not a case", "service_id": "S01"}])
    result = clean_staged(data, instrument, file="mini.csv", services=["S01"], waves=["baseline"])
    assert result.rows_kept == 0
    assert result.quarantine["reason"].tolist() == ["no_case_key"]
    for log in (result.issues, result.audit, result.quarantine):
        assert not log.astype(str).apply(lambda c: c.str.contains("not a case")).any().any()


def test_duplicates_keep_the_complete_submission(instrument):
    data = staged([
        {"safe": "1", "case_id": "AB1234", "service_id": "S01", "kids": "1", "_complete": "1"},
        {"safe": "1", "case_id": "ab1234 ", "service_id": "S01", "kids": "2", "_complete": "0"},
        {"safe": "1", "case_id": "AB1234", "service_id": "S01", "kids": "3", "_wave": "followup"},
        {"safe": "1", "case_id": "AB1239", "service_id": "S09"},
    ])
    data.loc[1, "case_id"] = "AB1234"
    result = clean_staged(data, instrument, file="mini.csv", services=["S01"],
                          waves=["baseline", "followup"])
    assert result.frame["_row"].tolist() == [2, 4]
    quarantine = result.quarantine.set_index("row")
    assert quarantine.loc[3, "reason"] == "duplicate_submission"
    assert "row 2 kept" in quarantine.loc[3, "detail"]
    assert quarantine.loc[5, "reason"] == "unknown_service"


cells = st.one_of(st.none(), st.sampled_from(["1", "0", "-99", "-98", "UNK", "x", "40", "2025-01-01", "AB1234", "S01", ""]))


@given(st.lists(st.fixed_dictionaries({c: cells for c in COLUMNS}), max_size=30),
       st.sampled_from(["keep_last", "keep_first", "keep_complete_last"]))
def test_rows_in_equal_rows_kept_plus_quarantined(instrument, rows, rule):
    data = staged(rows)
    result = clean_staged(data, instrument, file="mini.csv", services=["S01"],
                          waves=["baseline", "followup"], platform_codes={"UNK": "dont_know"}, duplicates=rule)
    assert result.rows_in == len(rows) == result.rows_kept + result.rows_quarantined
    assert set(result.frame["_row"]).isdisjoint(set(result.quarantine["row"]))
    # every cell that cleaning emptied is in the audit log
    original = data.set_index("_row")
    kept = result.frame.set_index("_row")
    audited = set(zip(result.audit["row"], result.audit["field"], strict=True))
    for column in ("kids", "kids_ok", "when", "help__1"):
        for row in kept.index:
            if pd.notna(original.loc[row, column]) and pd.isna(kept.loc[row, column]):
                assert (row, column) in audited


def test_the_missing_reasons_log_sorts_by_row_then_field_and_keeps_every_cell():
    from pceval.clean.log import MISSING_REASONS, CleaningLog

    log = CleaningLog(instrument="womens_survey", file="w.csv")
    log.missing_reason(rows=pd.Series([7, 3]), field="fs_out", reason="missing")
    log.missing_reason(rows=pd.Series([3, None], dtype="Int64"), field="age_group",
                       reason=pd.Series(["dont_know", "not_reached"]))
    log.missing_reason(rows=pd.Series([3]), field="fs_out", reason="skipped_by_logic")
    log.missing_reason(rows=pd.Series([5]), field="fs_home", reason=pd.Series([None], dtype="string"))
    with pytest.raises(ValueError, match="unknown missing reason 'no such reason'"):
        log.missing_reason(rows=pd.Series([5]), field="fs_home", reason="no such reason")
    log.missing_reason(rows=pd.Series([], dtype="Int64"), field="fs_home", reason="missing")
    frame = log.missing_frame()
    assert frame["row"].tolist() == [pd.NA, 3, 3, 3, 5, 7]
    assert frame["field"].tolist() == ["age_group", "age_group", "fs_out", "fs_out", "fs_home", "fs_out"]
    # two reasons for one cell stay in the order they were logged (the first one counts)
    assert frame["reason"].astype("string").tolist() == [
        "not_reached", "dont_know", "missing", "skipped_by_logic", pd.NA, "missing"]
    assert list(frame["reason"].cat.categories) == list(MISSING_REASONS)
    assert (frame["instrument"] == "womens_survey").all()
    # text held as categories (a byte or two a cell), the row as a nullable integer
    assert list(frame["field"].cat.categories) == ["age_group", "fs_home", "fs_out"]
    assert list(frame["instrument"].cat.categories) == ["womens_survey"]
    assert str(frame["row"].dtype) == "Int64"
    empty = CleaningLog(instrument="x", file="x.csv").missing_frame()
    assert list(empty.columns) == ["instrument", "row", "field", "reason"] and len(empty) == 0


@pytest.fixture(scope="module")
def synthetic_staged(tmp_path_factory):
    from pceval import pipeline
    from pceval.project import load_project
    from pceval.synth import generate_evaluation

    root = tmp_path_factory.mktemp("consume") / "evaluation"
    generate_evaluation(root, seed=5, services=3, women=120)
    project = load_project(root)
    instruments = pipeline.source_instruments(project)
    staged = pipeline.ingest(project, instruments)
    return project, instruments, staged


def test_a_consumed_staged_frame_cleans_as_a_kept_one_and_hands_back_the_quarantined_rows(synthetic_staged):
    project, instruments, staged = synthetic_staged
    checked = 0
    for source in project.config.sources:
        frame = staged[source.file].frame
        arguments = {"file": source.file, "services": [s.id for s in project.config.services],
                     "waves": project.config.waves, "platform_codes": source.missing_data_codes}
        kept = clean_staged(frame, instruments[source.file], **arguments)
        given = frame.copy(deep=False)
        consumed = clean_staged(given, instruments[source.file], consume=True, **arguments)
        for name in ("frame", "issues", "audit", "missing", "quarantine"):
            pd.testing.assert_frame_equal(getattr(consumed, name), getattr(kept, name))
        assert kept.quarantined_staged is None
        expected = frame.loc[frame["_row"].isin(kept.quarantine["row"])].reset_index(drop=True)
        pd.testing.assert_frame_equal(consumed.quarantined_staged, expected)
        assert given.columns.empty and len(frame.columns) > 0  # the caller's frame was taken
        checked += len(kept.quarantine) > 0
    assert checked >= 1  # at least one source had rows quarantined
