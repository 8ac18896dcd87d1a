"""REDCap raw-data record exports."""

from __future__ import annotations

import pandas as pd
import pytest

from pceval.errors import DataError
from pceval.ingest import read_export

EVENTS = {"baseline_arm_1": "baseline", "exit_arm_1": "exit"}

RECORD_EXPORT = """\
record_id,redcap_event_name,redcap_repeat_instrument,redcap_repeat_instance,case_id,consent,visit_date,kids,help___1,help___2,help____99,topics___program_info,topics___safety_plan,comments,mini_complete
1,baseline_arm_1,,,AB0001,1,2025-03-04,007,1,0,0,1,0,"Said ""fine"", then left",2
1,exit_arm_1,,,AB0001,1,2025-06-01,UNK,0,0,1,0,0,,1
2,baseline_arm_1,,,AB0002,0,2025-03-05,-99,0,0,0,0,0,  spaced  ,0
"""


def test_record_export_becomes_the_staged_frame(mini, export, values):
    result = read_export(export(RECORD_EXPORT), instrument=mini, events=EVENTS)
    frame = result.frame
    assert result.platform == "redcap"
    assert result.rows_read == 3
    assert list(frame.columns) == mini.columns() + ["_file", "_row", "_record", "_event", "_wave",
                                                    "_submitted_at", "_complete", "_preview"]
    assert all(frame[c].dtype == "string" for c in mini.columns())
    assert values(frame, "_record") == ["1", "1", "2"]
    assert values(frame, "_event") == ["baseline_arm_1", "exit_arm_1", "baseline_arm_1"]
    assert values(frame, "_wave") == ["baseline", "exit", "baseline"]
    assert values(frame, "_complete") == ["1", "0", "0"]
    assert values(frame, "_preview") == ["0", "0", "0"]
    assert frame["_row"].tolist() == [2, 3, 4]
    # codes kept exactly as text, REDCap missing-data codes included
    assert values(frame, "kids") == ["007", "UNK", "-99"]
    # checkbox columns: three underscores become two; a negative code's minus becomes m
    assert values(frame, "help__1") == ["1", "0", "0"]
    assert values(frame, "help__m99") == ["0", "1", "0"]
    assert values(frame, "topics__program_info") == ["1", "0", "0"]
    assert values(frame, "comments") == ['Said "fine", then left', None, "spaced"]
    assert result.missing_columns == ()
    dropped = dict(result.dropped_columns)
    assert "blank" in dropped["redcap_repeat_instrument"]
    assert "mini_complete" in dropped


def test_unknown_event_names_file_row_and_field(mini, export):
    path = export(RECORD_EXPORT.replace("2,baseline_arm_1", "2,followup_arm_1"))
    with pytest.raises(DataError) as info:
        read_export(path, instrument=mini, events=EVENTS)
    error = info.value
    assert (error.file, error.row, error.field) == (str(path), 4, "redcap_event_name")
    message = str(error)
    assert "\n" not in message
    assert "'followup_arm_1'" in message and "baseline_arm_1, exit_arm_1" in message
    assert "fix:" in message


def test_without_events_the_wave_is_blank_and_said(mini, export, values):
    result = read_export(export(RECORD_EXPORT), instrument=mini)
    assert values(result.frame, "_wave") == [None, None, None]
    assert values(result.frame, "_event")[1] == "exit_arm_1"
    assert any("events" in note for note in result.notes)


def test_classic_project_with_a_renamed_record_id(mini, export, values):
    text = """\
    study_id,redcap_repeat_instrument,redcap_repeat_instance,case_id,consent,mini_complete
    S-1,,,AB0001,1,2
    """
    result = read_export(export(text), instrument=mini, events=EVENTS)
    assert result.platform == "redcap"
    assert any("no redcap_event_name column" in note for note in result.notes)
    assert values(result.frame, "_record") == ["S-1"]
    assert values(result.frame, "_event") == [None]
    assert values(result.frame, "_complete") == ["1"]
    assert "help__1" in result.missing_columns


def test_repeating_instances_are_kept_as_rows(mini, export, values):
    text = """\
    record_id,redcap_repeat_instrument,redcap_repeat_instance,case_id,consent,mini_complete
    1,,,AB0001,1,2
    1,mini,2,AB0001,0,2
    """
    result = read_export(export(text), instrument=mini)
    assert values(result.frame, "consent") == ["1", "0"]
    assert any("repeating" in note for note in result.notes)


def test_label_export_is_refused(mini, export):
    text = """\
    Record ID,Event Name,Case number,Help received (choice=Counselling),Complete?
    1,Baseline,AB0001,Checked,Complete
    """
    path = export(text)
    with pytest.raises(DataError, match=r"raw data") as info:
        read_export(path, instrument=mini)
    assert info.value.row == 1 and info.value.field == "Record ID"


def test_an_item_named_like_a_form_status_stays_an_item(tmp_path, export, values):
    from pceval.instrument import load_instrument

    facilitator = load_instrument("facilitator_survey")
    text = "record_id,consent,records_complete,facilitator_survey_complete\n1,1,4,2\n"
    result = read_export(export(text), instrument=facilitator)
    assert values(result.frame, "records_complete") == ["4"]
    assert values(result.frame, "_complete") == ["1"]


def test_input_mapping_is_not_changed(mini, export):
    events = dict(EVENTS)
    read_export(export(RECORD_EXPORT), instrument=mini, events=events)
    assert events == EVENTS


def test_frame_is_independent_of_the_file(mini, export):
    path = export(RECORD_EXPORT)
    before = path.read_bytes()
    frame = read_export(path, instrument=mini, events=EVENTS).frame
    assert path.read_bytes() == before
    assert isinstance(frame.index, pd.RangeIndex)
