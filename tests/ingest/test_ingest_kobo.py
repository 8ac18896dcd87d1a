"""KoboToolbox and ODK Central exports."""

from __future__ import annotations

from pceval.ingest import read_export
from pceval.instrument import load_instrument

KOBO = """\
start;end;case/case_id;case/consent;visit/visit_date;visit/kids;visit/help;visit/help/1;visit/help/2;visit/help/-99;visit/topics;visit/topics/program_info;visit/topics/safety_plan;comments;_id;_uuid;_submission_time;_validation_status;_notes;_status;_submitted_by;__version__;_tags;_index
2025-03-04T10:22:31.120+11:00;2025-03-04T10:30:02.000+11:00;AB0001;1;2025-03-04;2;1 2;1;1;0;program_info;1;0;ok;11;u-aaa;2025-03-04T00:25:10;;;submitted_via_web;pcw_anna;v1;;1
2025-03-05T09:00:00.000+11:00;2025-03-05T09:05:00.000+11:00;AB0002;1;2025-03-05;0;-99;0;0;1;;;;;12;u-bbb;2025-03-05T00:25:10;;;submitted_via_web;pcw_anna;v1;;2
"""


def test_kobo_groups_split_columns_and_metadata(mini, export, values):
    result = read_export(export(KOBO), instrument=mini)
    frame = result.frame
    assert (result.platform, result.delimiter) == ("kobo", ";")
    assert values(frame, "case_id") == ["AB0001", "AB0002"]
    assert values(frame, "help__1") == ["1", "0"]
    assert values(frame, "help__m99") == ["0", "1"]
    assert values(frame, "topics__safety_plan") == ["0", None]  # not shown: blank
    assert values(frame, "_record") == ["u-aaa", "u-bbb"]
    assert values(frame, "_submitted_at") == ["2025-03-04T00:25:10", "2025-03-05T00:25:10"]
    assert values(frame, "_complete") == ["1", "1"]
    assert values(frame, "_preview") == ["0", "0"]
    dropped = dict(result.dropped_columns)
    assert set(dropped) == {"start", "end", "_id", "_validation_status", "_notes", "_status",
                            "_submitted_by", "__version__", "_tags", "_index"}
    assert dropped["_submitted_by"].startswith("identifier")
    # the submitting account is nowhere in the frame
    assert not frame.isin(["pcw_anna"]).any().any()
    assert result.missing_columns == ()
    assert not any("disagree" in note for note in result.notes)


def test_kobo_summary_only_columns_are_split(mini, export, values):
    text = """\
    case/case_id;visit/help;visit/topics;_uuid
    AB0001;1 -99;safety_plan program_info;u-1
    AB0002;;program_info;u-2
    AB0003;2 7;;u-3
    """
    result = read_export(export(text), instrument=mini)
    frame = result.frame
    assert values(frame, "help__1") == ["1", None, "0"]
    assert values(frame, "help__2") == ["0", None, "1"]
    assert values(frame, "help__m99") == ["1", None, "0"]
    assert values(frame, "topics__program_info") == ["1", "1", None]
    assert values(frame, "topics__safety_plan") == ["1", "0", None]
    stray = [n for n in result.notes if "not choices" in n]
    assert len(stray) == 1 and "7" in stray[0] and "row(s): 4" in stray[0]


def test_kobo_summary_and_split_disagreeing_uses_split(mini, export, values):
    text = """\
    case/case_id;visit/help;visit/help/1;visit/help/2;visit/help/-99;_uuid
    AB0001;1;1;0;0;u-1
    AB0002;2;1;0;0;u-2
    """
    result = read_export(export(text), instrument=mini)
    assert values(result.frame, "help__1") == ["1", "1"]
    assert values(result.frame, "help__2") == ["0", "0"]
    notes = [n for n in result.notes if "disagree" in n]
    assert len(notes) == 1 and "row(s): 3" in notes[0]


ODK = """\
SubmissionDate,start,end,case-case_id,case-consent,visit-kids,visit-help,visit-topics,comments,meta-instanceID,KEY,SubmitterID,SubmitterName,AttachmentsPresent,AttachmentsExpected,Status,ReviewState,DeviceID,Edits,FormVersion
2025-03-04T00:25:10.123Z,2025-03-04T10:22:31.120+11:00,2025-03-04T10:30:02.000+11:00,AB0001,1,3,1 2,safety_plan,"line one
line two",uuid:1a,uuid:1a,7,Anna Worker,0,0,,,collect:XYZ123,0,1
"""


def test_odk_dashes_metadata_and_identifiers(mini, export, values):
    result = read_export(export(ODK), instrument=mini)
    frame = result.frame
    assert result.platform == "odk"
    assert values(frame, "case_id") == ["AB0001"]
    assert values(frame, "kids") == ["3"]
    assert values(frame, "help__2") == ["1"] and values(frame, "help__m99") == ["0"]
    assert values(frame, "topics__safety_plan") == ["1"]
    assert values(frame, "comments") == ["line one\nline two"]
    assert values(frame, "_record") == ["uuid:1a"]
    assert values(frame, "_submitted_at") == ["2025-03-04T00:25:10.123Z"]
    assert frame["_row"].tolist() == [2]
    dropped = dict(result.dropped_columns)
    for name in ("SubmitterName", "SubmitterID", "DeviceID"):
        assert dropped[name].startswith("identifier")
    assert "meta-instanceID" in dropped and "start" in dropped
    assert not frame.isin(["Anna Worker", "collect:XYZ123"]).any().any()


def test_contact_record_in_kobo_layout(export, values):
    record = load_instrument("contact_record")
    text = (
        "start;end;case/case_id;case/service_id;event/event_date;event/outcome;event/content;"
        + ";".join(f"event/content/{c}" for c in ("program_info", "risk_review", "safety_plan",
                                                   "referral", "status_notice"))
        + ";_uuid;_submission_time\n"
        "2025-03-04T10:22:31.120+11:00;2025-03-04T10:30:00+11:00;AB0007;S01;2025-03-04;reached;"
        "program_info safety_plan;1;0;1;0;0;u-9;2025-03-04T00:25:10\n"
    )
    result = read_export(export(text), instrument=record)
    assert values(result.frame, "content__safety_plan") == ["1"]
    assert values(result.frame, "outcome") == ["reached"]
    assert "woman_name" in result.missing_columns
