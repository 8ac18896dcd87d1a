"""Excel workbooks and Parquet files: displayed values as text, formulas never evaluated."""

from __future__ import annotations

import datetime as dt
import re
import zipfile
from decimal import Decimal

import numpy as np
import openpyxl
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pceval.errors import DataError
from pceval.ingest import META_COLUMNS, detect_platform, read_export
from pceval.ingest.excel import read_excel
from pceval.ingest.parquet import read_parquet

UNMATCHED = "matches no item of the instrument (dropped: it may hold identifiers)"


def save_workbook(workbook, path, cached=None):
    """Save ``workbook``; give formula cells the value Excel would have saved with them
    (``{"F2": "2"}``), which openpyxl cannot write."""
    workbook.save(path)
    if not cached:
        return path
    with zipfile.ZipFile(path) as archive:
        parts = {name: archive.read(name) for name in archive.namelist()}
    sheet = parts["xl/worksheets/sheet1.xml"].decode()
    for ref, value in cached.items():
        kind = ("" if re.fullmatch(r"-?\d+(\.\d+)?", value)
                else ' t="e"' if value.startswith("#") else ' t="str"')
        sheet, count = re.subn(rf'<c r="{ref}"([^>]*)>(<f>.*?</f>)<v\s*/>',
                               rf'<c r="{ref}"\1{kind}>\2<v>{value}</v>', sheet)
        assert count == 1, ref
    parts["xl/worksheets/sheet1.xml"] = sheet.encode()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in parts.items():
            archive.writestr(name, data)
    return path


@pytest.fixture
def workbook_path(tmp_path):
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = "Data"
    sheet.append(["case_id", "consent", "visit_date", "kids", "help__1", "help", "comments", "phone"])
    sheet.append(["AB0001", 1, dt.datetime(2025, 3, 4), 4.0, True, "1;2", "=1+1", "0400 000 000"])
    sheet.append([])
    sheet.append([" AB0003 ", 0.0, dt.date(2025, 3, 5), 2.5, False, -99, '=HYPERLINK("http://x","y")', None])
    sheet.append(["AB0004", "=2*1", dt.datetime(2025, 3, 6, 10, 22, 31), -99, None, None,
                  "=cmd|' /C calc'!A0", None])
    sheet["C5"].number_format = "yyyy-mm-dd hh:mm:ss"
    for row in range(6, 9):  # formatted but empty rows after the data are no data rows
        sheet.cell(row=row, column=1).number_format = "0.00"
    return save_workbook(workbook, tmp_path / "women.xlsx", cached={"G2": "2", "G4": "y", "B5": "2"})


def test_excel_cells_become_staged_text(mini, workbook_path, values):
    result = read_export(workbook_path, instrument=mini)
    frame = result.frame
    assert result.platform == "excel" and result.rows_read == 4
    assert list(frame.columns) == [*mini.columns(), *META_COLUMNS]
    assert values(frame, "case_id") == ["AB0001", None, "AB0003", "AB0004"]
    assert values(frame, "consent") == ["1", None, "0", "2"]  # 0.0 → "0"; B5 from its saved value
    assert values(frame, "visit_date") == ["2025-03-04", None, "2025-03-05", "2025-03-06T10:22:31"]
    assert values(frame, "kids") == ["4", None, "2.5", "-99"]
    assert values(frame, "help__1") == ["1", None, "0", None]  # TRUE/FALSE → 1/0 ...
    assert values(frame, "help__2") == ["1", None, "0", None]  # ... the summary agrees
    assert values(frame, "help__m99") == ["0", None, "1", None]
    assert frame["_row"].tolist() == [2, 3, 4, 5]  # spreadsheet rows, the blank row 3 kept
    assert result.dropped_columns == (("phone", UNMATCHED),)


def test_formula_cells_are_never_evaluated(mini, workbook_path, values):
    result = read_export(workbook_path, instrument=mini)
    comments = values(result.frame, "comments")
    assert comments == ["2", None, "y", None]  # saved values; G5 has none, so blank
    assert not any(v and v.startswith("=") for v in comments)
    assert ("4 formula cell(s) were read as the value Excel saved with them, never evaluated: "
            "G2, G4, B5, G5") in result.notes
    blank = next(n for n in result.notes if "have no saved value" in n)
    assert blank.startswith("1 formula cell(s) have no saved value and were read as blank: G5")
    assert "entirely blank" in " ".join(result.notes)  # row 3


def test_formula_without_any_saved_value(mini, tmp_path, values):
    workbook = openpyxl.Workbook()
    workbook.active.append(["case_id", "kids"])
    workbook.active.append(["=HYPERLINK(\"mailto:x@y.z\",\"x\")", "=1+1"])
    path = save_workbook(workbook, tmp_path / "a.xlsx")
    result = read_excel(path, mini)
    assert values(result.frame, "case_id") == [None] and values(result.frame, "kids") == [None]
    assert any(n.startswith("2 formula cell(s) have no saved value") for n in result.notes)
    assert "mailto" not in " ".join(result.notes)  # the formula text is not repeated anywhere


def test_formula_whose_saved_value_is_an_error(mini, tmp_path, values):
    workbook = openpyxl.Workbook()
    workbook.active.append(["kids", "consent"])
    workbook.active.append(["=1/0", 1])
    path = save_workbook(workbook, tmp_path / "a.xlsx", cached={"A2": "#DIV/0!"})
    result = read_excel(path, mini)
    assert values(result.frame, "kids") == ["#DIV/0!"]  # kept for cleaning to report
    assert "1 cell(s) hold an Excel error, kept as written: A2" in result.notes


def test_sheet_named_like_the_instrument_or_given(mini, tmp_path, values):
    workbook = openpyxl.Workbook()
    workbook.active.title = "Read me"
    workbook.active.append(["about this file"])
    data = workbook.create_sheet("MINI")
    data.append(["consent"])
    data.append([1])
    other = workbook.create_sheet("old")
    other.append(["consent"])
    other.append([0])
    path = save_workbook(workbook, tmp_path / "a.xlsx")
    result = read_export(path, instrument=mini)
    assert values(result.frame, "consent") == ["1"]
    assert "the workbook has 3 sheets; sheet 'MINI' (named like the instrument) was read" in result.notes
    assert values(read_export(path, instrument=mini, sheet="old").frame, "consent") == ["0"]
    with pytest.raises(DataError, match="no sheet 'new'"):
        read_export(path, instrument=mini, sheet="new")


def test_excel_meta_columns_errors_and_stray_cells(mini, tmp_path, values):
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["_record", "consent", "kids"])
    sheet.append(["r1", 1, "#DIV/0!"])
    sheet["C2"].data_type = "e"
    sheet.append(["r2", 0, 3, None, "stray"])
    result = read_export(save_workbook(workbook, tmp_path / "a.xlsx"), instrument=mini)
    assert values(result.frame, "_record") == ["r1", "r2"]
    assert values(result.frame, "kids") == ["#DIV/0!", "3"]
    assert "1 cell(s) hold an Excel error, kept as written: C2" in result.notes
    assert ("(column 5, no name)", "no header name") in result.dropped_columns


def test_duplicated_excel_header(mini, tmp_path):
    workbook = openpyxl.Workbook()
    workbook.active.append(["consent", "kids", "consent"])
    path = save_workbook(workbook, tmp_path / "a.xlsx")
    with pytest.raises(DataError) as info:
        read_export(path, instrument=mini)
    assert str(info.value).startswith(f"{path}, row 1, field consent:")


@pytest.mark.parametrize("name", ["old.xls", "protected.xlsx"])
def test_xls_and_protected_workbooks_are_refused(mini, tmp_path, name):
    path = tmp_path / name
    path.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504))
    with pytest.raises(DataError) as info:
        read_export(path, instrument=mini)
    assert "Excel 97-2003 (.xls)" in str(info.value) and "save it as an Excel Workbook (.xlsx)" in str(info.value)


def test_workbook_named_csv_is_read_as_excel(mini, workbook_path, tmp_path):
    renamed = workbook_path.rename(tmp_path / "export.csv")
    assert detect_platform(renamed) == "excel"
    assert read_export(renamed, instrument=mini).platform == "excel"
    with pytest.raises(DataError, match="set platform: excel"):
        read_export(renamed, instrument=mini, platform="kobo")


def test_header_only_workbook(mini, tmp_path):
    workbook = openpyxl.Workbook()
    workbook.active.append(["consent", "kids"])
    result = read_export(save_workbook(workbook, tmp_path / "a.xlsx"), instrument=mini)
    assert len(result.frame) == 0 and "the file has a header but no data rows" in result.notes


def test_empty_workbook_sheet(mini, tmp_path):
    path = save_workbook(openpyxl.Workbook(), tmp_path / "a.xlsx")
    with pytest.raises(DataError, match="no header row"):
        read_export(path, instrument=mini)


# Parquet ------------------------------------------------------------------------------------

def test_parquet_columns_become_staged_text(mini, tmp_path, values):
    frame = pd.DataFrame({
        "_record": ["r1", "r2", "r3"],
        "case_id": [" AB0001", None, "AB0003"],
        "consent": pd.array([1, None, 0], dtype="Int64"),
        "kids": [4.0, -99.0, 2.5],
        "visit_date": [dt.date(2025, 3, 4), None, dt.date(2025, 3, 6)],
        "help__1": [True, False, None],
        "topics": pd.Categorical(["program_info", "safety_plan program_info", None]),
        "comments": ["a", "", "c"],
        "name": ["Jane", "Ann", "Kim"],
    }, index=pd.Index([10, 11, 12]))
    path = tmp_path / "a.parquet"
    frame.to_parquet(path)
    result = read_export(path, instrument=mini)
    staged = result.frame
    assert result.platform == "parquet" and result.rows_read == 3
    assert values(staged, "_record") == ["r1", "r2", "r3"]
    assert values(staged, "case_id") == ["AB0001", None, "AB0003"]
    assert values(staged, "consent") == ["1", None, "0"]
    assert values(staged, "kids") == ["4", "-99", "2.5"]
    assert values(staged, "visit_date") == ["2025-03-04", None, "2025-03-06"]
    assert values(staged, "help__1") == ["1", "0", None]
    assert values(staged, "topics__safety_plan") == ["0", "1", None]
    assert values(staged, "comments") == ["a", None, "c"]
    assert staged["_row"].tolist() == [2, 3, 4]
    assert ("name", UNMATCHED) in result.dropped_columns
    assert ("__index_level_0__", "the row index pandas writes with a frame (not data)") in result.dropped_columns


def test_parquet_arrow_types(mini, tmp_path, values):
    table = pa.table({
        "kids": pa.array([Decimal("4.00"), Decimal("4.50"), None], pa.decimal128(5, 2)),
        "consent": pa.array([1, 0, None], pa.int8()),
        "visit_date": pa.array([dt.datetime(2025, 3, 4), dt.datetime(2025, 3, 4, 1, 2, 3), None],
                               pa.timestamp("ms")),
        "_submitted_at": pa.array([dt.datetime(2025, 3, 4, tzinfo=dt.UTC), None, None],
                                  pa.timestamp("us", "UTC")),
        "case_id": pa.array([b"AB1", None, b"AB3"], pa.binary()),
        "comments": pa.array([np.float32(0.1), np.float32(2.0), None], pa.float32()),
        "unused": pa.array([[1], [2], []], pa.list_(pa.int64())),
    })
    path = tmp_path / "a.parquet"
    pq.write_table(table, path)
    staged = read_parquet(path, mini).frame
    assert values(staged, "kids") == ["4", "4.5", None]
    assert values(staged, "consent") == ["1", "0", None]
    assert values(staged, "visit_date") == ["2025-03-04", "2025-03-04T01:02:03", None]
    assert values(staged, "_submitted_at") == ["2025-03-04T00:00:00+00:00", None, None]
    assert values(staged, "case_id") == ["AB1", None, "AB3"]
    assert values(staged, "comments") == ["0.1", "2", None]


def test_parquet_list_column_used_as_an_item(mini, tmp_path):
    path = tmp_path / "a.parquet"
    pq.write_table(pa.table({"kids": pa.array([[1], [2]], pa.list_(pa.int64()))}), path)
    with pytest.raises(DataError) as info:
        read_export(path, instrument=mini)
    assert str(info.value).startswith(f"{path}, field kids:")


def test_truncated_parquet(mini, tmp_path):
    path = tmp_path / "a.parquet"
    pd.DataFrame({"kids": [1, 2]}).to_parquet(path)
    path.write_bytes(path.read_bytes()[:-20])
    with pytest.raises(DataError, match="cannot be read as Parquet file"):
        read_export(path, instrument=mini)


def test_parquet_text_that_is_not_utf8_and_the_largest_double(mini, tmp_path, values):
    # a string column whose bytes are not UTF-8: Parquet stores them unchecked
    good = pa.array(["AB1", "AB2"], pa.string())
    offsets, data = good.buffers()[1], pa.py_buffer(b"AB1\xd3B2")
    bad = pa.Array.from_buffers(pa.string(), 2, [None, offsets, data])
    path = tmp_path / "bad.parquet"
    pq.write_table(pa.table({"case_id": bad}), path)
    with pytest.raises(DataError) as info:
        read_export(path, instrument=mini)
    assert str(info.value).startswith(f"{path}, field case_id: this text column is not valid UTF-8")
    # 1.7976931348623151e308 rounds up past the largest double at 15 digits
    path = tmp_path / "big.parquet"
    pq.write_table(pa.table({"kids": pa.array([1.7976931348623151e308, 2.0])}), path)
    staged = read_parquet(path, mini).frame
    assert values(staged, "kids") == [str(int(1.7976931348623151e308)), "2"]
