"""SPSS files read back with their labels, measure levels and user-missing reasons."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pyreadstat
import pytest

from pceval.errors import DataError
from pceval.outputs import MISSING_CODES, missing_code_map, spss_names, write_sav


@pytest.fixture(scope="module")
def sav(mini, tmp_path_factory):
    path = tmp_path_factory.mktemp("sav") / "mini.sav"
    write_sav(path, mini.scored, mini.instrument, mini.missing)
    data, meta = pyreadstat.read_sav(path, user_missing=True)
    return path, data.set_index("v_row"), meta


def test_user_missing_codes_carry_the_reason(sav):
    _, data, meta = sav
    assert data.loc[2, "kids_ok"] == -99  # prefer_not_to_say, the item's own code
    assert data.loc[3, "kids_ok"] == -91  # skipped_by_logic
    assert data.loc[6, "kids_ok"] == -97  # not_applicable, the item's own code
    assert data.loc[3, "hours"] == -95  # missing, standard code
    assert data.loc[4, "help__1"] == -91
    assert data.loc[2, "kids"] == 2 and data.loc[2, "felt1"] == 3
    assert pd.isna(data.loc[4, "when"]) and data.loc[4, "comments"] == ""
    assert meta.missing_ranges["kids_ok"] == [{"lo": -99.0, "hi": -91.0}]
    assert meta.missing_ranges["help__2"] == [{"lo": -99.0, "hi": -91.0}]
    assert "comments" not in meta.missing_ranges and "felt" not in meta.missing_ranges


def test_system_reading_treats_codes_as_missing(sav):
    path, _, _ = sav
    data, _ = pyreadstat.read_sav(path)
    data = data.set_index("v_row")
    assert pd.isna(data.loc[2, "kids_ok"]) and pd.isna(data.loc[3, "kids_ok"])
    assert data.loc[2, "kids"] == 2


def test_labels_measures_and_types(sav, mini):
    _, data, meta = sav
    labels = meta.column_names_to_labels
    assert labels["kids"] == "How many children live with you?"
    assert labels["help__1"] == "What help did you get?: Safety plan"
    assert labels["felt"] == "Felt safety (mean of 2 items)"
    assert labels["v_row"] == "Row number in the raw export"
    assert len(labels["felt1"].encode()) <= 256 and labels["felt1"].endswith("...")
    values = meta.variable_value_labels
    assert values["kids_ok"][1] == "Yes" and values["kids_ok"][-97] == "Does not apply to me"
    assert values["kids_ok"][-91] == "Skipped by survey logic"
    assert values["help__1"] == {**{float(c): lab for c, lab in _code_labels(mini).items()},
                                 0.0: "Not selected", 1.0: "Selected"}
    assert values["tier"][1] == "Lower" and values["tier"][2] == "Higher"
    assert data.loc[2, "tier"] == 1 and data.loc[3, "tier"] == 2  # string codes numbered
    measure = meta.variable_measure
    assert (measure["felt1"], measure["safe"], measure["hours"], measure["felt"],
            measure["comments"]) == ("ordinal", "nominal", "scale", "scale", "nominal")
    assert meta.original_variable_types["when"].startswith("DATE")
    assert data.loc[2, "when"] == dt.date(2025, 1, 5)
    assert meta.original_variable_types["comments"].startswith("A")
    assert data.loc[2, "comments"].startswith("=HYPERLINK")  # SPSS is not a spreadsheet
    assert meta.original_variable_types["kids"] == "F8.0"
    assert "_row -> v_row" in meta.notes
    assert meta.file_label == "Mini survey (mini 1.2)"


def _code_labels(mini):
    from pceval.outputs import missing_code_labels

    return missing_code_labels(mini.instrument, "help")


def test_same_input_same_bytes(sav, mini, tmp_path):
    path, _, _ = sav
    again = write_sav(tmp_path / "again.sav", mini.scored, mini.instrument, mini.missing)
    assert again.read_bytes() == path.read_bytes()
    assert path.read_bytes()[92:109] == b"01 Jan 7000:00:00"  # no clock in the file


def test_a_real_value_inside_the_missing_range_is_refused(mini, tmp_path):
    frame = mini.scored.copy()
    frame.loc[0, "hours"] = -96.0  # not a code, but inside -99..-91
    with pytest.raises(DataError, match="hours"):
        write_sav(tmp_path / "x.sav", frame, mini.instrument, mini.missing)
    assert not (tmp_path / "x.sav").exists()


def test_without_reasons_cells_are_system_missing(mini, tmp_path):
    frame = mini.scored.drop(columns="_row")
    path = write_sav(tmp_path / "plain.sav", frame, mini.instrument, None)
    data, meta = pyreadstat.read_sav(path, user_missing=True)
    assert data["kids_ok"].isna().sum() == frame["kids_ok"].isna().sum()
    assert meta.missing_ranges["kids_ok"] == [{"lo": -99.0, "hi": -91.0}]


def test_names_spss_refuses_are_changed():
    assert spss_names(["_row", "ok", "BY", "a b", "OK"]) == {
        "_row": "v_row", "ok": "ok", "BY": "BY_", "a b": "a_b", "OK": "OK_2"}
    long = spss_names(["x" * 70, "x" * 65])
    assert [len(v) for v in long.values()] == [64, 64] and len(set(long.values())) == 2


def test_synthetic_build_round_trips(synthetic, tmp_path):
    for inst_id, frame in synthetic.scored.items():
        inst = synthetic.instruments[inst_id]
        path = write_sav(tmp_path / f"{inst_id}.sav", frame, inst, synthetic.missing)
        data, meta = pyreadstat.read_sav(path, user_missing=True)
        assert len(data) == len(frame)
        names = spss_names(frame.columns)
        assert set(meta.column_names_to_labels) == set(names.values())
        assert all(meta.column_names_to_labels.values())
        data.index = frame["_row"].to_numpy()
        log = synthetic.missing[synthetic.missing["instrument"] == inst_id]
        log = log[log["row"].isin(frame["_row"])]
        checked = 0
        for original, column in names.items():
            if column not in meta.missing_ranges:
                continue
            item = original.split("__")[0]
            codes = missing_code_map(inst, item)
            reasons = log[log["field"] == original].set_index("row")["reason"]
            got = data[column]
            assert got.loc[reasons.index].tolist() == [codes[r] for r in reasons], column
            assert int((got < -90).sum()) == len(reasons), column
            checked += len(reasons)
        assert checked > 0 or inst_id != "womens_survey"
        # every code that appears is labelled
        for column, labels in meta.variable_value_labels.items():
            used = set(data[column].dropna()) & {float(c) for c in MISSING_CODES.values()}
            assert used <= set(labels), column
