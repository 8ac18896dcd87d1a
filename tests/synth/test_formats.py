"""The raw exports follow each platform's conventions, with every column derived from the instrument."""

from __future__ import annotations

import json
import re

import pytest

from pceval.instrument import load_instrument, multi_column
from pceval.project import load_project
from pceval.synth.exports import redcap_checkbox

REDCAP_META = ["record_id", "redcap_event_name", "redcap_repeat_instrument", "redcap_repeat_instance"]
KOBO_TAIL = ["_id", "_uuid", "_submission_time", "_validation_status", "_notes", "_status",
             "_submitted_by", "__version__", "_tags", "_index"]
QUALTRICS_META = ["StartDate", "EndDate", "Status", "IPAddress", "Progress", "Duration (in seconds)",
                  "Finished", "RecordedDate", "ResponseId", "RecipientLastName", "RecipientFirstName",
                  "RecipientEmail", "ExternalReference", "LocationLatitude", "LocationLongitude",
                  "DistributionChannel", "UserLanguage"]


def _source(small, instrument):
    project = load_project(small["root"])
    return next(s for s in project.config.sources if s.instrument == instrument), project


def test_redcap_checkbox_names():
    assert redcap_checkbox("help_received", 3) == "help_received___3"
    assert redcap_checkbox("help_received", -99) == "help_received____99"


def test_redcap_record_export(small, read_rows):
    source, project = _source(small, "womens_survey")
    inst = load_instrument("womens_survey")
    rows = read_rows(project.root / source.file, ",")
    header, data = rows[0], rows[1:]
    assert header[:4] == REDCAP_META
    assert header[-1] == "womens_survey_complete"
    staged = []
    for column in header[4:-1]:
        if "___" in column:
            item_id, code = column.split("___", 1)
            code = "-" + code[1:] if code.startswith("_") else code
            assert inst.item(item_id).is_multiple
            staged.append(multi_column(item_id, int(code)))
        else:
            staged.append(column)
    assert staged == inst.columns()
    checkbox = [i for i, c in enumerate(header) if "___" in c]
    assert checkbox, "the women's survey has a multiple-choice item"
    events = set(source.events)
    assert events == {f"{w}_arm_1" for w in inst.waves}
    for row in data:
        assert len(row) == len(header)
        assert row[1] in events
        assert row[2] == row[3] == ""
        assert row[-1] in {"0", "2"}
        assert all(row[i] in {"0", "1"} for i in checkbox)  # REDCap writes 0 in unticked boxes
    record_ids = [int(r[0]) for r in data]
    assert record_ids == sorted(record_ids)
    assert source.missing_data_codes == {"UNK": "dont_know", "NASK": "not_applicable",
                                         "ASKU": "prefer_not_to_say"}


def test_redcap_waves_and_safety_gate(small, read_rows):
    source, project = _source(small, "womens_survey")
    inst = load_instrument("womens_survey")
    rows = read_rows(project.root / source.file, ",")
    header, data = rows[0], rows[1:]
    col = {c: i for i, c in enumerate(header)}
    gate = inst.role_item("safety_gate").id
    consent = inst.role_item("consent").id
    service_filled = {inst.role_item(r).id for r in ("case_key", "service", "event_date")}
    wave_items = [item for item in inst.data_items() if item.waves and not item.is_multiple]
    said_no = [r for r in data if r[col[gate]] == "0"]
    assert said_no, "a few women answer No to the safety check"
    for row in said_no:
        assert row[col[consent]] == ""
        for item in inst.data_items():
            if item.id in service_filled or item.id == gate or item.is_multiple:
                continue
            assert row[col[item.id]] == "", item.id
    event_wave = dict(source.events)
    # an item restricted to waves is blank at the other events, except injected faults
    faults = small["truth"]["files"][source.file]["faults"]
    hidden = {(f["row"], f["field"]) for f in faults if f["fault"] == "answered_though_hidden"}
    for n, row in enumerate(data, start=2):
        wave = event_wave[row[col["redcap_event_name"]]]
        for item in wave_items:
            if wave not in item.waves and (n, item.id) not in hidden:
                assert row[col[item.id]] == "", (n, item.id)


def test_kobo_export(small, read_rows):
    source, project = _source(small, "contact_record")
    inst = load_instrument("contact_record")
    rows = read_rows(project.root / source.file, ";")
    header, data = rows[0], rows[1:]
    assert header[:2] == ["start", "end"]
    assert header[-len(KOBO_TAIL):] == KOBO_TAIL
    items = header[2:-len(KOBO_TAIL)]
    staged, summaries = [], {}
    for position, column in enumerate(items):
        parts = column.split("/")
        item = inst.item(parts[1] if len(parts) > 1 else parts[0])
        if len(parts) > 1:
            assert parts[0] == item.group
        if item.is_multiple and len(parts) == 2:
            summaries[item.id] = position + 2
            continue
        if item.is_multiple:
            staged.append(multi_column(item.id, parts[2]))
        else:
            staged.append(item.id)
    assert staged == inst.columns()
    assert summaries, "the record has a select_multiple item"
    stamp = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+1[01]:00$")
    col = {c: i for i, c in enumerate(header)}
    uuids = set()
    for n, row in enumerate(data, start=1):
        assert len(row) == len(header)
        assert stamp.match(row[0]) and stamp.match(row[1])
        assert row[0] <= row[1]
        assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$", row[col["_submission_time"]])
        assert row[col["_index"]] == str(n)
        assert row[col["_status"]] == "submitted_via_web"
        uuids.add(row[col["_uuid"]])
        for item_id, at in summaries.items():
            item = inst.item(item_id)
            codes = [str(c.code) for c in inst.choices_of(item)]
            splits = [row[col[f"{header[at]}/{c}"]] for c in codes]
            if row[at] == "" and all(s == "" for s in splits):
                continue  # not shown
            assert all(s in {"0", "1"} for s in splits)
            assert row[at].split() == [c for c, s in zip(codes, splits) if s == "1"]
    assert len(uuids) == len(data)
    ids = [int(r[col["_id"]]) for r in data]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)


@pytest.mark.parametrize("instrument", ["worker_survey", "facilitator_survey"])
def test_qualtrics_export(small, instrument, read_rows):
    source, project = _source(small, instrument)
    inst = load_instrument(instrument)
    raw = (project.root / source.file).read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = read_rows(project.root / source.file, ",")
    tags, labels, imports, data = rows[0], rows[1], rows[2], rows[3:]
    assert tags[:len(QUALTRICS_META)] == QUALTRICS_META
    questions = tags[len(QUALTRICS_META):]
    assert questions == [item.id for item in inst.data_items()]
    assert labels[0] == "Start Date" and labels[8] == "Response ID"
    parsed = [json.loads(cell) for cell in imports]
    assert parsed[0] == {"ImportId": "startDate", "timeZone": "Australia/Sydney"}
    assert parsed[8] == {"ImportId": "_recordId"}
    for number, item in enumerate(inst.items, start=1):
        if not item.carries_data:
            continue
        expected = f"QID{number}_TEXT" if not (item.is_choice or item.is_multiple) else f"QID{number}"
        assert parsed[tags.index(item.id)] == {"ImportId": expected}
    col = {c: i for i, c in enumerate(tags)}
    assert sum(r[col["Status"]] == "8" for r in data) == 1
    for row in data:
        assert len(row) == len(tags)
        assert row[col["Status"]] in {"0", "8"}
        assert row[col["Finished"]] in {"0", "1"}
        assert re.match(r"^R_[A-Za-z0-9]{15}$", row[col["ResponseId"]])
        assert re.match(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$", row[col["StartDate"]])
        for item in inst.data_items():
            if item.is_multiple and row[col[item.id]]:
                allowed = {str(c.code) for c in inst.choices_of(item)}
                assert set(row[col[item.id]].split(",")) <= allowed
    unfinished = [r for r in data if r[col["Finished"]] == "0"]
    assert unfinished and all(int(r[col["Progress"]]) < 100 for r in unfinished)


def test_config_lists_the_written_files(small):
    project = load_project(small["root"])
    config = project.config
    assert [s.platform for s in config.sources] == ["redcap", "kobo", "qualtrics", "qualtrics"]
    assert [s.file for s in config.sources] == [
        "raw/womens_survey_redcap.csv", "raw/contact_record_kobo.csv",
        "raw/worker_survey_qualtrics.csv", "raw/facilitator_survey_qualtrics.csv"]
    assert all((project.root / s.file).is_file() for s in config.sources)
    assert config.waves == ("baseline", "exit", "followup")
    assert config.privacy.key_file == "private/pseudonym.key"
    assert {s.delivery_model for s in config.services} == {"in_house", "partner_agency"}
    assert [s.id for s in config.services] == [f"S{i:02d}" for i in range(1, 6)]
