"""Hostile files: every reader either conserves rows or raises a one-line DataError.

For every platform reader (auto detection and each platform forced), a generated file is
either read into an :class:`IngestResult` whose frame keeps the staged contract and has as
many rows as the file has data rows (counted independently where the file is valid), or
refused with a :class:`DataError` whose one-line message starts with the file's path. No
other exception type escapes, and reading writes no file.

Files generated: valid delimited text in any delimiter and encoding with extra, missing and
duplicated columns; the same read with the wrong delimiter or encoding; UTF-16 bytes
labelled UTF-8 and Latin-1 junk; valid files of every format cut at a random byte; random
bytes (some behind a real format's magic bytes) named like every format; workbooks with
formula cells; enormous fields; empty and header-only files.
"""

from __future__ import annotations

import codecs
import csv
import io
import os
import zipfile
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pyreadstat
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pceval.errors import DataError
from pceval.ingest import META_COLUMNS, PLATFORMS, IngestResult, read_export

ALL = ("auto", *PLATFORMS)
ONE_HEADER_ROW = ("auto", "csv", "redcap", "kobo", "odk")
EXTENSIONS = (".csv", ".sav", ".dta", ".xlsx", ".parquet")
MAGIC = (b"", b"$FL2", b"$FL3", b"<stata_dta>", b"\x72\x02\x01\x00", b"PK\x03\x04", b"PAR1",
         b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", codecs.BOM_UTF8, codecs.BOM_UTF16_LE)
ITEM_COLUMNS = ("case_id", "consent", "visit_date", "kids", "help", "help__1", "help__m99",
                "topics", "comments")
OTHER_COLUMNS = ("phone", "name", "record_id", "_uuid", "KEY", "ResponseId", "redcap_event_name",
                 "mini_complete", "_record", "_wave", "start", "end", "", " ")
TEXT = st.text(alphabet=list("ab1 -9,;|\t\"'\né€☂Zo"), max_size=12) | st.just("-99")


def _examples(factor: float) -> int:
    """Examples for one test: ``factor`` times the loaded profile's (tests/conftest.py)."""
    return max(5, int(settings.default.max_examples * factor))


def _hostile(factor: float):
    return settings(max_examples=_examples(factor),
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def _listing(folder: Path) -> set[tuple[str, int]]:
    found = set()
    for root, _, files in os.walk(folder):
        for name in files:
            path = Path(root, name)
            found.add((str(path), path.stat().st_mtime_ns))
    return found


def check_readers(path: Path, instrument, *, rows: int | None = None, platforms=ALL,
                  valid_for: tuple[str, ...] = (), at_most: int | None = None, **options) -> list:
    """Read ``path`` with every platform; check the property; return the results.

    ``rows``: the file's data rows, counted independently, for the platforms that read one
    header row. ``valid_for``: platforms that must succeed. ``at_most``: an upper bound on
    rows (a truncated file cannot gain rows).
    """
    folder = path.parent if path.parent.exists() else path
    before = _listing(folder)
    results = []
    here = Path.cwd()
    for platform in platforms:
        os.chdir(folder)  # a file written to a relative path would land here, and be seen
        try:
            result = read_export(path, instrument=instrument, platform=platform, **options)
        except Exception as exc:  # noqa: BLE001 - the property under test: only DataError escapes
            assert isinstance(exc, DataError), f"{platform}: {type(exc).__name__}: {exc}"
            message = str(exc)
            assert message.startswith(str(path)), (platform, message)
            assert "\n" not in message and "\r" not in message, (platform, message)
            assert platform not in valid_for, (platform, message)
            continue
        finally:
            os.chdir(here)
        assert type(result) is IngestResult
        frame = result.frame
        assert list(frame.columns) == [*instrument.columns(), *META_COLUMNS]
        assert len(frame) == result.rows_read
        assert all(str(frame[c].dtype) == "string" for c in instrument.columns()), platform
        assert frame["_row"].is_monotonic_increasing and frame["_row"].is_unique
        if len(frame):
            assert int(frame["_row"].min()) >= 2
        if rows is not None and (platform in ONE_HEADER_ROW or result.platform not in
                                 ("redcap", "kobo", "odk", "qualtrics", "csv")):
            assert len(frame) == rows, (platform, result.platform, len(frame), rows)
        if rows is not None and platform == "qualtrics":
            assert len(frame) == rows - 2, (platform, len(frame), rows)
        if at_most is not None:
            assert len(frame) <= at_most, (platform, len(frame), at_most)
        results.append(result)
    assert _listing(folder) == before, "reading wrote a file"
    return results


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """A fresh folder per example (function-scoped fixtures do not reset between examples)."""
    base = tmp_path_factory.mktemp("hostile")
    counter = iter(range(10**9))

    def _new() -> Path:
        path = base / f"case{next(counter)}"
        path.mkdir()
        return path

    return _new


# Generated delimited text -------------------------------------------------------------------

@st.composite
def tables(draw, *, min_rows: int = 0):
    """(header, rows): item and other columns, some missing, some duplicated."""
    names = draw(st.lists(st.sampled_from(ITEM_COLUMNS + OTHER_COLUMNS), min_size=1, max_size=7))
    if draw(st.booleans()):
        names = list(dict.fromkeys(names))  # mostly without duplicates
    count = draw(st.integers(min_rows, 6))
    rows = [[draw(TEXT) for _ in names] for _ in range(count)]
    return names, rows


def _csv_text(names, rows, delimiter):
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow(names)
    writer.writerows(rows)
    return buffer.getvalue()


def _data_rows(names, rows) -> int:
    """Data rows, counted from what was written: the csv module writes every row, even one of
    blank cells, as a line of its own (``,,`` or ``""``), so each is a spreadsheet row."""
    return len(rows)


@_hostile(1.0)
@given(table=tables(), delimiter=st.sampled_from([",", ";", "\t", "|"]),
       encoding=st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "cp1252"]),
       wrong=st.sampled_from([None, ",", ";", "\t", "|"]))
def test_delimited_text(mini, folder, table, delimiter, encoding, wrong):
    names, rows = table
    text = _csv_text(names, rows, delimiter)
    path = folder() / "export.csv"
    path.write_bytes(text.encode(encoding, errors="replace"))
    stripped = [n.strip() for n in names]
    clean = len(set(stripped)) == len(stripped) and all(stripped) and len(names) >= 2
    matched = any(n in ITEM_COLUMNS for n in stripped)
    plain = not set(stripped) & set(OTHER_COLUMNS[2:12])
    expected = _data_rows(names, rows)
    check_readers(path, mini, rows=expected,
                  valid_for=("csv", "auto") if clean and matched and plain else ())
    if wrong is not None:  # the wrong delimiter given: rows may be ragged, never a crash
        check_readers(path, mini, platforms=("auto", "csv", "kobo"), delimiter=wrong,
                      at_most=text.count("\n"))


@_hostile(0.5)
@given(table=tables(min_rows=1), data=st.data())
def test_truncated_text(mini, folder, table, data):
    names, rows = table
    raw = _csv_text(names, rows, ",").encode("utf-8")
    cut = data.draw(st.integers(0, len(raw)), label="cut")
    path = folder() / "export.csv"
    path.write_bytes(raw[:cut])
    check_readers(path, mini, at_most=raw[:cut].count(b"\n"))


@_hostile(0.5)
@given(table=tables(min_rows=1), junk=st.binary(min_size=1, max_size=40),
       how=st.sampled_from(["utf16-as-utf8", "latin1-junk", "latin1-as-utf16", "nul"]))
def test_wrong_encodings(mini, folder, table, junk, how):
    names, rows = table
    text = _csv_text(names, rows, ",")
    path = folder() / "export.csv"
    options = {}
    if how == "utf16-as-utf8":
        raw, options = text.encode("utf-16"), {"encoding": "utf-8"}
    elif how == "latin1-junk":
        raw = text.encode("utf-8") + bytes(b | 0x80 for b in junk)
    elif how == "latin1-as-utf16":
        raw, options = text.encode("latin-1", errors="replace"), {"encoding": "utf-16"}
    else:
        raw = text.encode("utf-8").replace(b",", b"\x00", 1)
    path.write_bytes(raw)
    check_readers(path, mini, platforms=("auto", "csv", "redcap", "qualtrics", "excel"), **options)


# Random bytes with a format's name ----------------------------------------------------------

@_hostile(1.5)
@given(magic=st.sampled_from(MAGIC), body=st.binary(max_size=600),
       extension=st.sampled_from(EXTENSIONS), tail=st.sampled_from([b"", b"PAR1"]))
def test_random_bytes(mini, folder, magic, body, extension, tail):
    path = folder() / f"export{extension}"
    path.write_bytes(magic + body + tail)
    check_readers(path, mini)


# Typed formats: valid, truncated ------------------------------------------------------------

@st.composite
def typed_frames(draw):
    """A frame of typed columns, some named by items, one identifier."""
    count = draw(st.integers(0, 5))
    numbers = st.one_of(st.none(), st.integers(-99, 10).map(float),
                        st.floats(-1e6, 1e6, allow_nan=False, width=32))
    frame = {
        "consent": draw(st.lists(numbers, min_size=count, max_size=count)),
        "kids": draw(st.lists(numbers, min_size=count, max_size=count)),
        "case_id": draw(st.lists(st.text(alphabet="AB01 é", max_size=6), min_size=count, max_size=count)),
        "phone": draw(st.lists(st.text(alphabet="0123 ", max_size=6), min_size=count, max_size=count)),
    }
    columns = draw(st.lists(st.sampled_from(list(frame)), min_size=1, max_size=4, unique=True))
    result = pd.DataFrame({c: frame[c] for c in columns})
    for c in ("consent", "kids"):
        if c in result:
            result[c] = result[c].astype(float)
    return result


def _write_typed(frame: pd.DataFrame, path: Path, kind: str) -> None:
    if kind == "sav":
        pyreadstat.write_sav(frame, path, missing_ranges={"kids": [-99]} if "kids" in frame else None)
    elif kind == "dta":
        pyreadstat.write_dta(frame, path)
    elif kind == "parquet":
        frame.to_parquet(path)
    else:
        workbook = openpyxl.Workbook()
        workbook.active.append(list(frame.columns))
        for row in frame.itertuples(index=False):
            workbook.active.append([None if isinstance(v, float) and np.isnan(v) else v for v in row])
        workbook.save(path)


@_hostile(1.0)
@given(frame=typed_frames(), kind=st.sampled_from(["sav", "dta", "parquet", "xlsx"]), data=st.data())
def test_typed_files_valid_and_truncated(mini, folder, frame, kind, data):
    path = folder() / f"export.{kind}"
    _write_typed(frame, path, kind)
    rows = len(frame)
    if kind == "xlsx":  # trailing rows without a value are no rows of a sheet
        filled = [i for i, row in enumerate(frame.itertuples(index=False))
                  if any(not (v is None or (isinstance(v, float) and np.isnan(v)) or
                              (isinstance(v, str) and not v.strip())) for v in row)]
        rows = filled[-1] + 1 if filled else 0
    matched = bool({"consent", "kids", "case_id"} & set(frame.columns))
    platform = {"sav": "spss", "dta": "stata", "parquet": "parquet", "xlsx": "excel"}[kind]
    check_readers(path, mini, rows=rows, valid_for=("auto", platform) if matched else ())
    raw = path.read_bytes()
    # the cut is drawn as a share of the file: SPSS, Stata and Excel writers stamp the time,
    # so a file's length can differ by a byte between runs and a drawn byte offset would not
    # replay
    cut = int(data.draw(st.integers(0, 9999), label="cut per 10,000") * len(raw) / 10_000)
    path.write_bytes(raw[:cut])
    check_readers(path, mini, at_most=max(len(frame), 0) if kind != "xlsx" else None)


# Workbooks with formulas --------------------------------------------------------------------

FORMULAS = ("=1+1", '=HYPERLINK("http://example.org","click")', "=cmd|' /C calc'!A0",
            "=SUM(A1:A3)", "=A2", "=1/0", '="="&"1+1"')


@_hostile(0.7)
@given(grid=st.lists(st.lists(st.one_of(st.none(), st.sampled_from(FORMULAS), st.integers(-99, 9),
                                         st.floats(-10, 10, allow_nan=False), st.booleans(),
                                         st.text(alphabet="ab -", max_size=4)),
                              min_size=1, max_size=4), max_size=6),
       names=st.lists(st.sampled_from(["consent", "kids", "comments", "phone", "help__1"]),
                      min_size=1, max_size=4, unique=True))
def test_workbooks_with_formulas(mini, folder, grid, names):
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(names)
    for row in grid:
        sheet.append(row)
    path = folder() / "export.xlsx"
    workbook.save(path)
    filled = [i for i, row in enumerate(grid)
              if any(v is not None and not (isinstance(v, str) and not v.strip()) for v in row)]
    rows = filled[-1] + 1 if filled else 0
    results = check_readers(path, mini, rows=rows, platforms=("auto", "excel"),
                            valid_for=("auto", "excel") if set(names) - {"phone"} else ())
    for result in results:
        items = result.frame[mini.columns()]
        text = items.stack().astype(str)
        assert not text.str.startswith("=").any()  # no formula text is ever a value
        if any(isinstance(v, str) and v.startswith("=") for row in grid for v in row):
            assert any("formula cell(s)" in n for n in result.notes)


# Enormous fields, empty and header-only files -----------------------------------------------

def _enormous(kind: str, path: Path) -> None:
    big = "x" * (5 << 20)
    frame = pd.DataFrame({"case_id": ["AB1", "AB2"], "comments": [big, "short"]})
    if kind == "csv":
        path.write_text(_csv_text(list(frame.columns), frame.values.tolist(), ","), encoding="utf-8")
    elif kind == "xlsx":  # openpyxl cuts a cell at Excel's 32,767 characters: write the XML
        _write_typed(frame.assign(comments=["BIG", "short"]), path, "xlsx")
        with zipfile.ZipFile(path) as archive:
            parts = {name: archive.read(name) for name in archive.namelist()}
        sheet = "xl/worksheets/sheet1.xml"
        parts[sheet] = parts[sheet].replace(b"<t>BIG</t>", f"<t>{big}</t>".encode())
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
            for name, data in parts.items():
                archive.writestr(name, data)
    elif kind == "parquet":
        frame.to_parquet(path)
    else:
        pyreadstat.write_dta(frame, path)


@pytest.mark.parametrize("kind", ["csv", "xlsx", "parquet", "dta"])
def test_enormous_field(mini, tmp_path, kind):
    path = tmp_path / f"export.{kind}"
    _enormous(kind, path)
    results = check_readers(path, mini, rows=2, valid_for=("auto",))
    assert len(results[0].frame.loc[0, "comments"]) == 5 << 20


@pytest.mark.parametrize("extension", EXTENSIONS + (".xls", ".zsav", ""))
def test_empty_files(mini, tmp_path, extension):
    path = tmp_path / f"export{extension}"
    path.write_bytes(b"")
    check_readers(path, mini, rows=0)
    with pytest.raises(DataError, match="empty"):
        read_export(path, instrument=mini)


@pytest.mark.parametrize("kind", ["csv", "sav", "dta", "parquet", "xlsx"])
def test_header_only_files(mini, tmp_path, kind):
    path = tmp_path / f"export.{kind}"
    frame = pd.DataFrame({"consent": pd.Series([], dtype=float), "phone": pd.Series([], dtype=str)})
    if kind == "csv":
        path.write_text("consent,phone\n", encoding="utf-8")
    else:
        _write_typed(frame, path, kind)
    [result, *_] = check_readers(path, mini, rows=0, valid_for=("auto",))
    assert len(result.frame) == 0


def test_missing_file_and_folder(mini, tmp_path):
    for path in (tmp_path / "absent.sav", tmp_path / "absent.xlsx", tmp_path / "absent.csv", tmp_path):
        check_readers(path, mini)


def test_path_with_a_nul_character(mini):
    for name in ("export\0.csv", "export\0.sav", "export\0.xlsx"):
        for platform in ALL:
            with pytest.raises(DataError) as info:
                read_export(name, instrument=mini, platform=platform)
            assert str(info.value).startswith("export\\0.") and "\0" not in str(info.value)


# Crashes found by fuzzing, kept as cases --------------------------------------------------

def test_spss_file_that_crashes_readstat(mini, tmp_path):
    """A value-label record naming a variable index far past the last variable makes
    ReadStat's C code crash the process (segmentation fault); the file is read in a child
    process, so the crash is a DataError."""
    path = tmp_path / "export.sav"
    pyreadstat.write_sav(pd.DataFrame({"consent": [1.0, 0.0], "kids": [2.0, 3.0]}), path,
                         variable_value_labels={"consent": {1: "Yes", 0: "No"}})
    raw = bytearray(path.read_bytes())
    record = raw.index(b"\x04\x00\x00\x00\x01\x00\x00\x00")  # value-label variables, count 1
    raw[record + 9] = 0xC8  # the variable index: 1 becomes 51,201
    path.write_bytes(bytes(raw))
    for platform in ("auto", "spss"):
        with pytest.raises(DataError) as info:
            read_export(path, instrument=mini, platform=platform)
        assert str(info.value).startswith(f"{path}: the SPSS file reader stopped on this file")


def test_stata_file_stating_too_many_rows(mini, tmp_path):
    """A corrupted row count made pyreadstat allocate for 570 million rows (the process was
    killed for memory); the count is checked against the file's size first."""
    path = tmp_path / "export.dta"
    pyreadstat.write_dta(pd.DataFrame({"consent": [1.0, 0.0]}), path)
    raw = path.read_bytes()
    at = raw.index(b"<N>") + 3
    path.write_bytes(raw[:at] + (570_425_348).to_bytes(8, "little") + raw[at + 8:])
    with pytest.raises(DataError, match="says it holds 570,425,348 rows"):
        read_export(path, instrument=mini)


def test_zip_with_a_corrupted_version(mini, tmp_path):
    """zipfile raises NotImplementedError for an unknown 'version needed to extract'."""
    path = tmp_path / "export.xlsx"
    workbook = openpyxl.Workbook()
    workbook.active.append(["consent"])
    workbook.save(path)
    raw = bytearray(path.read_bytes())
    central = raw.index(b"PK\x01\x02")
    raw[central + 6:central + 8] = (0x0FFF).to_bytes(2, "little")
    for name in ("export.xlsx", "export.csv"):
        renamed = tmp_path / name
        renamed.write_bytes(bytes(raw))
        check_readers(renamed, mini)
