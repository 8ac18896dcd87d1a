"""Reading text robustly: encodings, delimiters, quoting, spreadsheet rows, plain CSV, errors."""

from __future__ import annotations

import codecs
import csv
import io

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from pceval.errors import DataError
from pceval.ingest import IngestResult, detect_platform, read_export

PLAIN = """\
case_id,consent,kids,help,comments
AB0001,1,007,1;2,Zoë
AB0002,0,-99,,
"""


# encodings ----------------------------------------------------------------------------------

@pytest.mark.parametrize(("encoding", "bom", "expected"), [
    ("utf-8", b"", "utf-8"),
    ("utf-8", codecs.BOM_UTF8, "utf-8-sig"),
    ("utf-16-le", codecs.BOM_UTF16_LE, "utf-16"),
    ("utf-16-be", codecs.BOM_UTF16_BE, "utf-16"),
    ("cp1252", b"", "cp1252"),
])
def test_encodings(mini, tmp_path, values, encoding, bom, expected):
    path = tmp_path / "plain.csv"
    path.write_bytes(bom + PLAIN.encode(encoding))
    result = read_export(path, instrument=mini)
    assert result.encoding == expected
    assert values(result.frame, "comments") == ["Zoë", None]
    assert values(result.frame, "kids") == ["007", "-99"]
    assert result.frame["_row"].tolist() == [2, 3]


def test_utf16_without_bom_is_recognised(mini, tmp_path, values):
    path = tmp_path / "plain.csv"
    path.write_bytes(PLAIN.encode("utf-16-le"))
    assert values(read_export(path, instrument=mini).frame, "comments") == ["Zoë", None]


def test_forced_encoding(mini, tmp_path, values):
    path = tmp_path / "plain.csv"
    path.write_bytes(PLAIN.replace("Zoë", "Zoë ☂").encode("utf-8"))
    result = read_export(path, instrument=mini, encoding="latin-1")  # the user knows better
    assert values(result.frame, "comments")[0] == "ZoÃ« â\x98\x82"


def test_undecodable_bytes_name_the_file(mini, tmp_path):
    path = tmp_path / "bad.csv"
    path.write_bytes(b"case_id,comments\nAB0001,caf\xe9 \x81\n")  # 0x81 is not Windows-1252
    with pytest.raises(DataError) as info:
        read_export(path, instrument=mini)
    message = str(info.value)
    assert message.startswith(str(path)) and "\n" not in message
    assert "line 2" in message and "UTF-8" in message


# delimiters and quoting ---------------------------------------------------------------------

@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_sniffed_delimiters(mini, export, values, delimiter):
    text = PLAIN.replace(",", delimiter).replace("1;2", '"1;2"' if delimiter == ";" else "1;2")
    result = read_export(export(text), instrument=mini)
    assert result.delimiter == delimiter
    assert values(result.frame, "help__2") == ["1", None]


def test_quoted_delimiters_newlines_and_rows(mini, export, values):
    text = (
        'case_id,comments,kids\r\n'
        'AB0001,"first, with a comma\r\nand a second line",1\r\n'
        'AB0002,"three\nlines\n""quoted""",2\r\n'
        '\r\n'
        'AB0003,  padded  ,\r\n'
    )
    result = read_export(export(text, dedent=False), instrument=mini)
    frame = result.frame
    assert values(frame, "comments") == ["first, with a comma\r\nand a second line",
                                         'three\nlines\n"quoted"', None, "padded"]
    # spreadsheet rows: a value spanning lines is one row; a blank line is a (blank) row
    assert frame["_row"].tolist() == [2, 3, 4, 5]
    assert values(frame, "kids") == ["1", "2", None, None]
    assert any("row(s): 4 are entirely blank" in note for note in result.notes)


def test_plain_csv_codes_separated_any_way(mini, export, values):
    text = """\
    case_id,help,topics,_wave
    AB0001,1;2,program_info safety_plan,baseline
    AB0002,"-99, 1",,exit
    """
    result = read_export(export(text), instrument=mini)
    assert result.platform == "csv"
    assert values(result.frame, "help__1") == ["1", "1"]
    assert values(result.frame, "help__m99") == ["0", "1"]
    assert values(result.frame, "topics__safety_plan") == ["1", None]
    assert values(result.frame, "_wave") == ["baseline", "exit"]
    assert values(result.frame, "_complete") == [None, None]


def test_plain_csv_split_columns_and_unmatched(mini, export, values):
    text = """\
    case_id,help__1,help__m99,phone_of_partner
    AB0001,1,0,0400 000 000
    """
    result = read_export(export(text), instrument=mini)
    assert values(result.frame, "help__m99") == ["0"]
    assert values(result.frame, "help__2") == [None]
    assert "help__2" in result.missing_columns and "comments" in result.missing_columns
    assert dict(result.dropped_columns)["phone_of_partner"].startswith("matches no item")
    assert not result.frame.isin(["0400 000 000"]).any().any()


def test_header_only_file_gives_an_empty_frame(mini, export):
    result = read_export(export("case_id,consent\n"), instrument=mini)
    assert result.rows_read == 0 and len(result.frame) == 0
    assert list(result.frame.columns)[:10] == mini.columns()
    assert result.frame["_row"].dtype == "int64"


# errors -------------------------------------------------------------------------------------

def _error(call) -> DataError:
    with pytest.raises(DataError) as info:
        call()
    assert "\n" not in str(info.value)
    assert "(fix:" in str(info.value)
    return info.value


@pytest.mark.parametrize("content", [b"", b"\n\r\n", codecs.BOM_UTF8])
def test_empty_file(mini, tmp_path, content):
    path = tmp_path / "empty.csv"
    path.write_bytes(content)
    error = _error(lambda: read_export(path, instrument=mini))
    assert error.file == str(path) and "empty" in error.message


def test_missing_file(mini, tmp_path):
    error = _error(lambda: read_export(tmp_path / "nope.csv", instrument=mini))
    assert "not found" in error.message


def test_blank_header(mini, export):
    error = _error(lambda: read_export(export(",,\nAB0001,1,2\n"), instrument=mini))
    assert error.row == 1 and "no header" in error.message


def test_first_row_is_data(mini, export):
    error = _error(lambda: read_export(export("1,0,2025-03-04\n2,1,2025-03-05\n"), instrument=mini))
    assert error.row == 1 and "values, not column names" in error.message


def test_wrong_instrument_suggests_the_right_one(mini, export):
    text = "case/case_id;event/event_type;event/outcome;event/mode;_uuid\nAB1;call;reached;phone;u\n"
    from pceval.instrument import load_instrument

    worker = load_instrument("worker_survey")
    error = _error(lambda: read_export(export(text), instrument=worker))
    assert "no column matches" in error.message and "'contact_record'" in str(error)


def test_wrong_platform_is_suggested(mini, export):
    text = "Submission;Foo\n1;2\n"
    error = _error(lambda: read_export(export(text), instrument=mini, platform="redcap"))
    assert "mini" in error.message


def test_row_with_too_many_fields(mini, export):
    path = export("case_id,consent\nAB0001,1\nAB0002,1,extra\n")
    error = _error(lambda: read_export(path, instrument=mini))
    assert (error.file, error.row) == (str(path), 3)
    assert "3 fields" in error.message and "2" in error.message


def test_row_with_too_many_fields_after_multiline_value(mini, export):
    path = export('case_id,comments\nAB0001,"a\nb\nc"\nAB0002,x,y\n')
    assert _error(lambda: read_export(path, instrument=mini)).row == 3


def test_duplicated_column(mini, export):
    error = _error(lambda: read_export(export("case_id,kids,kids\nA,1,2\n"), instrument=mini))
    assert (error.row, error.field) == (1, "kids") and "more than once" in error.message


def test_two_columns_for_one_item(mini, export):
    text = "start;end;case/case_id;case_id;_uuid\na;b;AB1;AB1;u\n"
    error = _error(lambda: read_export(export(text), instrument=mini))
    assert error.field == "case_id" and "case/case_id" in error.message


def test_unknown_platform(mini, export):
    error = _error(lambda: read_export(export(PLAIN), instrument=mini, platform="sas"))
    assert "sas" in error.message


# detection ----------------------------------------------------------------------------------

@pytest.mark.parametrize(("header", "platform"), [
    ("record_id,redcap_event_name,consent,mini_complete", "redcap"),
    ("record_id,consent,mini_complete", "redcap"),
    ("start;end;case/case_id", "kobo"),
    ("case/case_id;_uuid;_submission_time", "kobo"),
    ("SubmissionDate,case-case_id,KEY", "odk"),
    ("case_id,consent,records_complete", "csv"),
    ('ResponseId,case_id\nResponse ID,Case\n{"ImportId":"_recordId"},{"ImportId":"QID1_TEXT"}', "qualtrics"),
    ("ResponseId,case_id\nR_1,AB1\nR_2,AB2", "csv"),
])
def test_detect_platform(export, header, platform):
    assert detect_platform(export(header + "\n")) == platform


# the public surface -------------------------------------------------------------------------

def test_public_names():
    from pceval import ingest

    assert sorted(ingest.__all__) == ["IngestResult", "META_COLUMNS", "PLATFORMS", "detect_platform",
                                      "read_export"]


def test_result_is_frozen(mini, export):
    result = read_export(export(PLAIN), instrument=mini)
    assert isinstance(result, IngestResult)
    with pytest.raises(AttributeError):
        result.platform = "kobo"  # type: ignore[misc]


# round trip ---------------------------------------------------------------------------------

_TEXT = st.text(alphabet=st.sampled_from(list("ab Z0079-,;|\t\n\"'ë€.")), max_size=12)
_CODES = st.sampled_from(["0", "1", "007", "-99", "UNK", "", "  "])


@st.composite
def frames(draw):
    n = draw(st.integers(0, 12))
    columns = draw(st.lists(st.sampled_from(["case_id", "consent", "visit_date", "kids", "comments"]),
                            min_size=2, max_size=5, unique=True))  # one column has no delimiter to sniff
    return {c: draw(st.lists(_TEXT if c == "comments" else _CODES, min_size=n, max_size=n))
            for c in columns}


def _expected(value: str):
    stripped = value.strip()
    return stripped or None


@given(data=frames(), delimiter=st.sampled_from([",", ";", "\t", "|"]),
       encoding=st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "cp1252"]),
       newline=st.sampled_from(["\n", "\r\n"]))
def test_written_frames_read_back_identically(mini, tmp_path_factory, data, delimiter, encoding, newline):
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator=newline)
    names = list(data)
    writer.writerow(names)
    n = len(data[names[0]])
    writer.writerows([[data[c][i] for c in names] for i in range(n)])
    path = tmp_path_factory.mktemp("roundtrip") / "data.csv"
    path.write_bytes(out.getvalue().encode(encoding))
    result = read_export(path, instrument=mini, platform="csv")
    frame = result.frame
    assert result.rows_read == n == len(frame)
    assert frame["_row"].tolist() == list(range(2, n + 2))
    for c in names:
        got = [None if pd.isna(v) else v for v in frame[c].tolist()]
        assert got == [_expected(v) for v in data[c]], c
    assert set(result.missing_columns) == set(mini.columns()) - set(names)


def test_the_text_goes_once_its_records_are_parsed_and_the_values_stay(mini, export, values):
    from pceval.ingest.plain import read_plain
    from pceval.ingest.textfile import open_text

    text = open_text(export(PLAIN))
    assert len(text.data) > 0
    frame = read_plain(text, mini).frame
    assert text.data == b""  # the parsed columns hold their own copy of the file's text
    assert values(frame, "comments") == ["Zoë", None] and values(frame, "kids") == ["007", "-99"]
    assert (text.file, text.delimiter) == (str(export(PLAIN)), ",")
