"""SPSS and Stata files: codes as text, dates, value labels, user-missing and extended missing."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pyreadstat
import pytest

from pceval.errors import DataError
from pceval.ingest import META_COLUMNS, detect_platform, read_export
from pceval.ingest.statfiles import read_spss, read_stata


def _sav(path, frame, **options):
    pyreadstat.write_sav(frame, path, **options)
    return path


def _dta(path, frame, **options):
    pyreadstat.write_dta(frame, path, **options)
    return path


@pytest.fixture
def sav(tmp_path):
    """An SPSS file of the mini instrument: labels, user-missing -99, split and summary
    columns, a date, an identifier that matches no item."""
    frame = pd.DataFrame({
        "case_id": [" AB0001 ", "AB0002", "", "AB0004"],
        "consent": [1.0, 0.0, np.nan, 1.0],
        "visit_date": [dt.date(2025, 3, 4), None, dt.date(2024, 1, 31), dt.date(2025, 12, 1)],
        "kids": [2.0, -99.0, 3.0, 0.0],
        "help__1": [1.0, 0.0, np.nan, 0.0],
        "help__2": [1.0, 0.0, np.nan, 0.0],
        "help__m99": [0.0, 1.0, np.nan, 0.0],
        "topics": ["program_info safety_plan", "", "safety_plan", "program_info"],
        "comments": ["Zoë  ", "", "two\nlines", "x"],
        "phone": ["0400 000 000", "", "", ""],
    })
    return _sav(tmp_path / "women.sav", frame,
                variable_value_labels={"consent": {1: "Yes", 0: "No"},
                                       "kids": {-99: "Prefer not to say"}},
                missing_ranges={"kids": [-99]})


def test_spss_values_become_staged_text(mini, sav, values):
    result = read_export(sav, instrument=mini)
    frame = result.frame
    assert result.platform == "spss" and result.file == str(sav) and result.rows_read == 4
    assert list(frame.columns) == [*mini.columns(), *META_COLUMNS]
    assert all(str(frame[c].dtype) == "string" for c in mini.columns())
    assert values(frame, "case_id") == ["AB0001", "AB0002", None, "AB0004"]
    assert values(frame, "consent") == ["1", "0", None, "1"]  # never "1.0"
    assert values(frame, "visit_date") == ["2025-03-04", None, "2024-01-31", "2025-12-01"]
    # -99 is declared user-missing: it survives as its code for the cleaner to explain
    assert values(frame, "kids") == ["2", "-99", "3", "0"]
    assert values(frame, "help__m99") == ["0", "1", None, "0"]
    assert values(frame, "topics__program_info") == ["1", None, "0", "1"]
    assert values(frame, "topics__safety_plan") == ["1", None, "1", "0"]
    assert values(frame, "comments") == ["Zoë", None, "two\nlines", "x"]
    assert frame["_row"].tolist() == [2, 3, 4, 5]
    assert values(frame, "_file") == [str(sav)] * 4
    assert values(frame, "_preview") == ["0"] * 4
    assert result.dropped_columns == (
        ("phone", "matches no item of the instrument (dropped: it may hold identifiers)"),)
    assert result.missing_columns == ()
    assert result.delimiter == "" and result.encoding.lower().replace("-", "") == "utf8"


def test_spss_without_user_missing_declaration_keeps_the_code(mini, tmp_path, values):
    path = _sav(tmp_path / "a.sav", pd.DataFrame({"kids": [-99.0, 1.5, 1e20, np.nan]}))
    frame = read_spss(path, mini).frame
    assert values(frame, "kids") == ["-99", "1.5", "100000000000000000000", None]


def test_spss_missing_range_and_string_user_missing(mini, tmp_path, values):
    frame = pd.DataFrame({"kids": [-98.0, -91.0, 4.0], "case_id": ["NA", "AB1", "AB2"]})
    path = _sav(tmp_path / "a.sav", frame,
                missing_ranges={"kids": [{"lo": -99.0, "hi": -90.0}], "case_id": ["NA"]})
    staged = read_export(path, instrument=mini).frame
    assert values(staged, "kids") == ["-98", "-91", "4"]
    assert values(staged, "case_id") == ["NA", "AB1", "AB2"]


def test_zsav_is_read(mini, tmp_path, values):
    path = _sav(tmp_path / "a.zsav", pd.DataFrame({"consent": [1.0, 0.0]}), compress=True)
    result = read_export(path, instrument=mini)
    assert result.platform == "spss" and values(result.frame, "consent") == ["1", "0"]


def test_spss_labels_stored_instead_of_codes_are_read_as_codes(mini, tmp_path, values):
    frame = pd.DataFrame({"consent": ["Yes", "no", "1", "maybe", ""],
                          "help": ["1", "2", "", "", ""]})
    result = read_export(_sav(tmp_path / "a.sav", frame), instrument=mini)
    assert values(result.frame, "consent") == ["1", "0", "1", "maybe", None]
    note = next(n for n in result.notes if "choice labels instead of codes" in n)
    assert "2 value(s)" in note and "'Yes' → 1" in note and "'no' → 0" in note


def test_spss_value_labels_that_disagree_with_the_instrument_are_noted(mini, tmp_path, values):
    path = _sav(tmp_path / "a.sav", pd.DataFrame({"consent": [1.0, 2.0]}),
                variable_value_labels={"consent": {1: "Yes", 2: "No"}})
    result = read_spss(path, mini)
    assert values(result.frame, "consent") == ["1", "2"]  # kept as stored: never recoded silently
    assert any("2 = 'No' (code 0 in the instrument)" in n for n in result.notes)


def test_spss_datetimes_and_decimals(mini, tmp_path, values):
    frame = pd.DataFrame({
        "visit_date": [dt.datetime(2025, 3, 4), dt.datetime(2025, 3, 4, 10, 22, 31)],
        "kids": [0.1 + 0.2, 2.5],
    })
    staged = read_spss(_sav(tmp_path / "a.sav", frame), mini).frame
    assert values(staged, "visit_date") == ["2025-03-04", "2025-03-04T10:22:31"]
    assert values(staged, "kids") == ["0.3", "2.5"]


def test_stata_codes_labels_and_meta_columns(mini, tmp_path, values):
    frame = pd.DataFrame({
        "_record": ["r1", "r2", "r3"],
        "_wave": ["baseline", "exit", ""],
        "case_id": ["AB0001", "AB0002", "AB0003"],
        "consent": [1, 0, 1],
        "visit_date": [dt.date(2025, 3, 4), dt.date(2025, 3, 5), None],
        "help": ["1,2", "-99", ""],
        "email": ["a@b.c", "", ""],
    })
    path = _dta(tmp_path / "record.dta", frame, variable_value_labels={"consent": {1: "Yes", 0: "No"}})
    result = read_export(path, instrument=mini)
    staged = result.frame
    assert result.platform == "stata"
    assert values(staged, "consent") == ["1", "0", "1"]
    assert values(staged, "visit_date") == ["2025-03-04", "2025-03-05", None]
    assert values(staged, "help__2") == ["1", "0", None]
    assert values(staged, "help__m99") == ["0", "1", None]
    assert values(staged, "_record") == ["r1", "r2", "r3"]
    assert values(staged, "_wave") == ["baseline", "exit", None]
    assert staged["_row"].tolist() == [2, 3, 4]
    assert [name for name, _ in result.dropped_columns] == ["email"]


def test_stata_extended_missing_values(mini, tmp_path, values):
    frame = pd.DataFrame({
        "kids": pd.Series([2.0, "a", 3.0, "b", None, "c"], dtype=object),
        "consent": pd.Series([1.0, "a", 0.0, 1.0, 1.0, 0.0], dtype=object),
    })
    path = _dta(tmp_path / "a.dta", frame, missing_user_values={"kids": ["a", "b", "c"], "consent": ["a"]},
                variable_value_labels={"kids": {"a": "prefer not to say", "b": "refused"}})
    result = read_export(path, instrument=mini)
    # .a is labelled like the item's missing code -99; .b's label and unlabelled .c name none
    assert values(result.frame, "kids") == ["2", "-99", "3", ".b", None, ".c"]
    assert values(result.frame, "consent") == ["1", ".a", "0", "1", "1", "0"]
    mapped = next(n for n in result.notes if "were read as the missing codes" in n)
    assert "column 'kids'" in mapped and ".a ('prefer not to say') → -99 in 1 row(s): 3" in mapped
    kept = next(n for n in result.notes if "column 'kids' holds Stata extended missing" in n)
    assert ".b (labelled 'refused') in 1 row(s): 5" in kept and ".c (without a value label)" in kept
    assert any("column 'consent' holds Stata extended missing" in n for n in result.notes)


def test_stata_file_is_recognised_by_its_bytes(mini, tmp_path, values):
    path = _dta(tmp_path / "a.dta", pd.DataFrame({"consent": [1.0]}))
    renamed = path.rename(tmp_path / "export.dat")
    assert detect_platform(renamed) == "stata"
    assert values(read_export(renamed, instrument=mini).frame, "consent") == ["1"]


def test_header_only_statfile(mini, tmp_path):
    path = _sav(tmp_path / "a.sav", pd.DataFrame({"consent": pd.Series([], dtype=float)}))
    result = read_export(path, instrument=mini)
    assert len(result.frame) == 0 and result.rows_read == 0
    assert "the file has a header but no data rows" in result.notes


@pytest.mark.parametrize("reader", [read_spss, read_stata])
def test_not_a_statfile(mini, export, reader):
    path = export("case_id,consent\nAB1,1\n", name="a.sav")
    with pytest.raises(DataError) as info:
        reader(path, mini)
    assert str(info.value).startswith(str(path)) and "not a" in str(info.value)


def test_truncated_spss_file_is_a_data_error(mini, sav, tmp_path):
    cut = tmp_path / "cut.sav"
    cut.write_bytes(sav.read_bytes()[:300])
    with pytest.raises(DataError) as info:
        read_export(cut, instrument=mini)
    message = str(info.value)
    assert message.startswith(str(cut)) and "SPSS" in message and "\n" not in message


def test_no_item_column(mini, tmp_path):
    path = _sav(tmp_path / "a.sav", pd.DataFrame({"name": ["x"], "phone": ["y"]}))
    with pytest.raises(DataError, match="no column matches an item of instrument 'mini'"):
        read_export(path, instrument=mini)


def test_text_platform_given_for_a_statfile(mini, sav):
    with pytest.raises(DataError, match="set platform: spss"):
        read_export(sav, instrument=mini, platform="redcap")
