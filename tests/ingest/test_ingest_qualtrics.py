"""Qualtrics CSV and TSV exports (numeric values, three header rows)."""

from __future__ import annotations

import codecs
import csv
import io

import pytest

from pceval.errors import DataError
from pceval.ingest import read_export

TAGS = ["StartDate", "EndDate", "Status", "IPAddress", "Progress", "Duration (in seconds)",
        "Finished", "RecordedDate", "ResponseId", "RecipientLastName", "RecipientFirstName",
        "RecipientEmail", "ExternalReference", "LocationLatitude", "LocationLongitude",
        "DistributionChannel", "UserLanguage", "case_id", "consent", "kids", "help", "comments"]
TEXT = ["Start Date", "End Date", "Response Type", "IP Address", "Progress", "Duration (in seconds)",
        "Finished", "Recorded Date", "Response ID", "Recipient Last Name", "Recipient First Name",
        "Recipient Email", "External Data Reference", "Location Latitude", "Location Longitude",
        "Distribution Channel", "User Language", "Case number", "Do you agree?",
        "How many children?\n(number)", "Which help, if any?", "Anything else?"]
IMPORT_IDS = ['{"ImportId":"startDate","timeZone":"Australia/Sydney"}',
              '{"ImportId":"endDate","timeZone":"Australia/Sydney"}', '{"ImportId":"status"}',
              '{"ImportId":"ipAddress"}', '{"ImportId":"progress"}', '{"ImportId":"duration"}',
              '{"ImportId":"finished"}', '{"ImportId":"recordedDate","timeZone":"Australia/Sydney"}',
              '{"ImportId":"_recordId"}', '{"ImportId":"recipientLastName"}',
              '{"ImportId":"recipientFirstName"}', '{"ImportId":"recipientEmail"}',
              '{"ImportId":"externalDataReference"}', '{"ImportId":"locationLatitude"}',
              '{"ImportId":"locationLongitude"}', '{"ImportId":"distributionChannel"}',
              '{"ImportId":"userLanguage"}', '{"ImportId":"QID1_TEXT"}', '{"ImportId":"QID2"}',
              '{"ImportId":"QID3_TEXT"}', '{"ImportId":"QID4"}', '{"ImportId":"QID5_TEXT"}']
META = ["2025-03-04 10:00:00", "2025-03-04 10:22:31"]
ROWS = [
    META + ["0", "203.0.113.7", "100", "1351", "1", "2025-03-04 10:22:31", "R_1a2B3c4D5e6F7g8",
            "Smith", "Ana", "ana@example.org", "C-88", "-33.87", "151.21", "anonymous", "EN",
            "AB0001", "1", "2", "1,-99", "Zoë said: ok"],
    META + ["8", "", "100", "12", "1", "2025-03-04 11:00:00", "R_preview00000001",
            "", "", "", "", "", "", "preview", "EN", "TEST", "1", "", "", ""],
    META + ["0", "198.51.100.2", "40", "600", "0", "2025-03-05 09:00:00", "R_2b3C4d5E6f7G8h9",
            "", "", "", "", "", "", "anonymous", "EN", "AB0002", "0", "-99", "2", ""],
]


def qualtrics_text(delimiter: str = ",", import_ids: list[str] = IMPORT_IDS) -> str:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\r\n")
    writer.writerows([TAGS, TEXT, import_ids, *ROWS])
    return out.getvalue()


def test_csv_export_with_bom(mini, tmp_path, values):
    path = tmp_path / "worker.csv"
    path.write_bytes(codecs.BOM_UTF8 + qualtrics_text().encode("utf-8"))
    result = read_export(path, instrument=mini)
    frame = result.frame
    assert (result.platform, result.encoding) == ("qualtrics", "utf-8-sig")
    assert frame["_row"].tolist() == [4, 5, 6]
    assert values(frame, "_record") == ["R_1a2B3c4D5e6F7g8", "R_preview00000001", "R_2b3C4d5E6f7G8h9"]
    assert values(frame, "_submitted_at")[0] == "2025-03-04T10:22:31"
    assert values(frame, "_complete") == ["1", "1", "0"]
    assert values(frame, "_preview") == ["0", "1", "0"]
    assert values(frame, "help__1") == ["1", None, "0"]
    assert values(frame, "help__2") == ["0", None, "1"]
    assert values(frame, "help__m99") == ["1", None, "0"]
    assert values(frame, "kids") == ["2", None, "-99"]
    assert values(frame, "comments")[0] == "Zoë said: ok"
    dropped = dict(result.dropped_columns)
    for name in ("IPAddress", "LocationLatitude", "LocationLongitude", "RecipientLastName",
                 "RecipientFirstName", "RecipientEmail", "ExternalReference"):
        assert dropped[name].startswith("identifier"), name
    # identifiers are not in the frame at all, under any name
    for secret in ("203.0.113.7", "198.51.100.2", "ana@example.org", "Smith", "-33.87", "C-88"):
        assert not frame.isin([secret]).any().any(), secret
    assert not set(dropped) & set(frame.columns)


def test_tsv_export_in_utf16(mini, tmp_path, values):
    path = tmp_path / "worker.tsv"
    path.write_bytes(qualtrics_text("\t").encode("utf-16"))  # Python writes the BOM (LE here)
    result = read_export(path, instrument=mini)
    assert (result.platform, result.encoding, result.delimiter) == ("qualtrics", "utf-16", "\t")
    assert values(result.frame, "comments")[0] == "Zoë said: ok"
    assert result.frame["_row"].tolist() == [4, 5, 6]


def test_row_three_must_be_import_ids(mini, export):
    broken = list(IMPORT_IDS)
    broken[19] = "QID3"
    path = export(qualtrics_text(import_ids=broken), dedent=False)
    with pytest.raises(DataError) as info:
        read_export(path, instrument=mini, platform="qualtrics")
    error = info.value
    assert (error.file, error.row, error.field) == (str(path), 3, "kids")
    assert "\n" not in str(error) and "ImportId" in str(error)


def test_choice_text_export_is_refused(mini, tmp_path):
    rows = [list(r) for r in ROWS]
    rows[0][2] = "IP Address"  # what a choice-text export writes for Status 0
    out = io.StringIO()
    csv.writer(out).writerows([TAGS, TEXT, IMPORT_IDS, *rows])
    path = tmp_path / "labels.csv"
    path.write_text(out.getvalue(), encoding="utf-8")
    with pytest.raises(DataError, match="numeric values") as info:
        read_export(path, instrument=mini)
    assert (info.value.row, info.value.field) == (4, "Status")


def test_split_multi_value_fields_are_pointed_out(mini, export, values):
    text = """\
    ResponseId,case_id,help_1,help_2
    Response ID,Case,Which help? - Counselling,Which help? - Legal
    {"ImportId":"_recordId"},{"ImportId":"QID1_TEXT"},{"ImportId":"QID4_1"},{"ImportId":"QID4_2"}
    R_1,AB0001,1,
    """
    result = read_export(export(text), instrument=mini)
    assert values(result.frame, "help__1") == [None]
    assert dict(result.dropped_columns)["help_1"].startswith("matches no item")
    assert any("look like choices of item 'help'" in note for note in result.notes)
