"""Stata files read back with their labels and extended missing values."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pyreadstat
import pytest

from pceval.outputs import STATA_MISSING, stata_names, write_dta


@pytest.fixture(scope="module")
def dta(mini, tmp_path_factory):
    path = tmp_path_factory.mktemp("dta") / "mini.dta"
    write_dta(path, mini.scored, mini.instrument, mini.missing)
    data, meta = pyreadstat.read_dta(path, user_missing=True)
    return path, data.set_index("_row"), meta


def test_extended_missing_letters_carry_the_reason(dta):
    _, data, meta = dta
    assert data.loc[2, "kids_ok"] == "a"  # prefer_not_to_say
    assert data.loc[3, "kids_ok"] == "d"  # skipped_by_logic
    assert data.loc[6, "kids_ok"] == "c"  # not_applicable
    assert data.loc[3, "hours"] == "m"  # missing
    assert data.loc[5, "kids"] == "a" and data.loc[4, "help__1"] == "d"
    assert data.loc[2, "kids"] == 2 and data.loc[2, "felt1"] == 3 and data.loc[2, "hours"] == 1.5
    assert pd.isna(data.loc[4, "when"]) and pd.isna(data.loc[2, "felt"])
    assert meta.readstat_variable_types["kids_ok"] == "double"


def test_plain_reading_treats_letters_as_missing(dta):
    path, _, _ = dta
    data, _ = pyreadstat.read_dta(path)
    data = data.set_index("_row")
    assert pd.isna(data.loc[2, "kids_ok"]) and data.loc[2, "kids"] == 2


def test_labels(dta):
    _, data, meta = dta
    labels = meta.column_names_to_labels
    assert labels["kids"] == "How many children live with you?"
    assert labels["help__2"] == "What help did you get?: Referral"
    assert all(len(label) <= 80 for label in labels.values())
    assert labels["felt1"].endswith("...")
    values = meta.variable_value_labels
    assert values["kids_ok"][1] == "Yes" and values["kids_ok"]["a"] == "Prefer not to say"
    assert values["kids_ok"]["c"] == "Does not apply to me"
    assert values["kids_ok"]["d"] == "Skipped by survey logic"
    assert values["hours"]["m"] == "Missing (no answer)"
    assert values["tier"] == {1: "Lower", 2: "Higher", **_letters(values["tier"])}
    assert data.loc[2, "tier"] == 1 and data.loc[3, "tier"] == 2
    assert meta.original_variable_types["when"] == "%td"
    assert data.loc[2, "when"] == dt.date(2025, 1, 5)
    assert data.loc[2, "comments"].startswith("=HYPERLINK")
    assert meta.file_label == "Mini survey (mini 1.2)"


def _letters(labels: dict) -> dict:
    return {k: v for k, v in labels.items() if isinstance(k, str)}


def test_same_input_same_bytes(dta, mini, tmp_path):
    path, _, _ = dta
    again = write_dta(tmp_path / "again.dta", mini.scored, mini.instrument, mini.missing)
    assert again.read_bytes() == path.read_bytes()
    assert b"<timestamp>\x1101 Jan 1970 00:00</timestamp>" in path.read_bytes()[:400]


def test_without_reasons_cells_are_system_missing(mini, tmp_path):
    path = write_dta(tmp_path / "plain.dta", mini.scored, mini.instrument, None)
    data, _ = pyreadstat.read_dta(path)
    assert data["kids_ok"].isna().sum() == mini.scored["kids_ok"].isna().sum()


def test_long_names_are_cut_to_32_and_stay_unique(mini, tmp_path):
    long_a = "a_rather_long_column_name_added_by_analyst_1"
    long_b = "a_rather_long_column_name_added_by_analyst_2"
    frame = mini.scored.assign(**{long_a: 1, long_b: 2, "int": 3})
    names = stata_names(frame.columns)
    assert all(len(n) <= 32 for n in names.values()) and len(set(names.values())) == len(names)
    assert names["int"] == "int_" and names["_row"] == "_row"
    path = write_dta(tmp_path / "long.dta", frame, mini.instrument, mini.missing)
    data, _ = pyreadstat.read_dta(path)
    assert list(data.columns) == [names[c] for c in frame.columns]
    assert data[names[long_b]].tolist() == [2] * len(frame)


def test_synthetic_build_round_trips(synthetic, tmp_path):
    letters = dict(STATA_MISSING)
    for inst_id, frame in synthetic.scored.items():
        inst = synthetic.instruments[inst_id]
        path = write_dta(tmp_path / f"{inst_id}.dta", frame, inst, synthetic.missing)
        data, meta = pyreadstat.read_dta(path, user_missing=True)
        assert len(data) == len(frame) and all(meta.column_names_to_labels.values())
        data.index = frame["_row"].to_numpy()
        names = stata_names(frame.columns)
        log = synthetic.missing[synthetic.missing["instrument"] == inst_id]
        log = log[log["row"].isin(frame["_row"])]
        checked = 0
        for original, column in names.items():
            if not _letters(meta.variable_value_labels.get(column, {})):
                continue  # not a numeric item: no extended missing values
            checked += 1
            reasons = log[log["field"] == original].set_index("row")["reason"]
            got = data[column]
            assert got.loc[reasons.index].tolist() == [letters[r] for r in reasons], column
            assert int(got.map(lambda v: isinstance(v, str)).sum()) == len(reasons), column
        assert checked > 5
