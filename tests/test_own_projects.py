"""An evaluator's own REDCap project and Kobo form: imported, then their exports cleaned.

Both projects are written here as their owners would have them (not by pceval): a REDCap data
dictionary with its record export, and an XLSForm with its KoboToolbox CSV export. Every input
row must be accounted for (kept or quarantined with a reason) and no identifier may leave.
"""

from __future__ import annotations

import textwrap

import pandas as pd
from openpyxl import Workbook
from typer.testing import CliRunner

from pceval.cli import app

runner = CliRunner()

REDCAP_DICTIONARY = textwrap.dedent('''\
    "Variable / Field Name","Form Name","Section Header","Field Type","Field Label","Choices, Calculations, OR Slider Labels","Field Note","Text Validation Type OR Show Slider Number","Text Validation Min","Text Validation Max","Identifier?","Branching Logic (Show field only if...)","Required Field?","Custom Alignment","Question Number (surveys only)","Matrix Group Name","Matrix Ranking?","Field Annotation"
    record_id,follow_up,,text,Record ID,,,,,,,,,,,,,
    safe,follow_up,,yesno,Is it safe to talk now?,,,,,,,,y,,,,,
    full_name,follow_up,,text,Your name,,,,,,y,[safe] = '1',,,,,,
    mobile,follow_up,,text,Mobile,,,phone,,,y,[safe] = '1',,,,,,
    feel_safe,follow_up,How you feel,radio,I feel safe at home,"1, Never | 2, Sometimes | 3, Mostly | 4, Always | -99, Prefer not to say",,,,,,[safe] = '1',,,,safety,,
    feel_free,follow_up,,radio,I feel free to see friends,"1, Never | 2, Sometimes | 3, Mostly | 4, Always | -99, Prefer not to say",,,,,,[safe] = '1',,,,safety,,
    supports,follow_up,,checkbox,Supports used,"1, Counselling | 2, Legal help | 3, Housing | -99, Prefer not to say",,,,,,[safe] = '1',,,,,,
    kids,follow_up,,text,Number of children,,,integer,0,12,,[safe] = '1',,,,,,
    kids_ok,follow_up,,radio,Children are safe,"1, Yes | 0, No",,,,,,[safe] = '1' and [kids] > 0,,,,,,
    visit_date,follow_up,,text,Date of visit,,,date_ymd,,,,[safe] = '1',,,,,,
    story,follow_up,,notes,Anything else?,,,,,,,[safe] = '1',,,,,,
    ''')

REDCAP_RECORDS = textwrap.dedent('''\
    record_id,safe,full_name,mobile,feel_safe,feel_free,supports___1,supports___2,supports___3,supports____99,kids,kids_ok,visit_date,story,follow_up_complete
    1,1,Marguerite Okonkwo,0491 570 156,3,4,1,0,1,0,2,1,2025-03-01,Marguerite here: call me on 0491 570 156 any time,2
    2,1,Bronwyn Castellano,0491 570 157,-99,2,0,0,0,1,0,,2025-03-02,,2
    3,0,,,,,0,0,0,0,,,,,2
    4,1,Ysolde Papadakis,0491 570 158,9,3,0,1,0,0,40,1,2025-02-31,my email is ysolde.p@example.org,1
    5,1,,,UNK,2,0,0,0,0,1,0,2025-03-05,,2
    ''')


def test_an_evaluators_redcap_project_cleans(tmp_path):
    dictionary = tmp_path / "MyProject_DataDictionary.csv"
    dictionary.write_text(REDCAP_DICTIONARY, encoding="utf-8")
    records = tmp_path / "MyProject_DATA.csv"
    records.write_text(REDCAP_RECORDS, encoding="utf-8")
    key = tmp_path / "key"
    assert runner.invoke(app, ["key", "new", "--out", str(key)]).exit_code == 0
    imported = runner.invoke(app, ["instruments", "import", str(dictionary), "--from", "redcap",
                                   "--out", str(tmp_path / "follow_up.yml")])
    assert imported.exit_code == 0, imported.output
    result = runner.invoke(app, ["clean", str(records), "--instrument", str(tmp_path / "follow_up.yml"),
                                 "--out", str(tmp_path / "out"), "--key-file", str(key)])
    assert result.exit_code == 0, result.output
    build = tmp_path / "out" / "build"
    clean = pd.read_parquet(build / "clean" / "follow_up.parquet")
    quarantine = pd.read_csv(build / "quarantine" / "quarantine.csv")
    assert len(clean) + len(quarantine) == 5
    assert "full_name" not in clean.columns and "mobile" not in clean.columns
    by_row = clean.set_index("_row")
    assert pd.isna(by_row.loc[3, "feel_safe"])  # -99: prefer not to say
    assert pd.isna(by_row.loc[5, "feel_safe"]) and pd.isna(by_row.loc[5, "kids"])  # 9 and 40 out of range
    assert by_row.loc[2, "supports__1"] == 1
    text = " ".join(clean["story"].dropna())
    for canary in ("Marguerite", "0491 570 156", "ysolde.p@example.org"):
        assert canary not in text
    issues = pd.read_csv(build / "audit" / "validation_issues.csv")
    assert {"unknown_code", "out_of_range", "invalid_date"} <= set(issues["code"])


def _xlsform(path):
    book = Workbook()
    survey = book.active
    survey.title = "survey"
    rows = [
        ("type", "name", "label::English (en)", "relevant", "constraint", "required"),
        ("begin_group", "visit", "Visit", "", "", ""),
        ("text", "client_name", "Client name", "", "", ""),
        ("text", "phone_number", "Phone number", "", "", ""),
        ("date", "visit_date", "Date", "", "", "yes"),
        ("select_one outcome", "outcome", "Outcome", "", "", "yes"),
        ("integer", "minutes", "Minutes", "${outcome} = 'spoke'", ". >= 1 and . <= 240", ""),
        ("select_multiple topics", "topics", "Topics", "${outcome} = 'spoke'", "", ""),
        ("text", "note", "Note", "", "", ""),
        ("end_group", "", "", "", "", ""),
    ]
    for row in rows:
        survey.append(row)
    choices = book.create_sheet("choices")
    for row in [("list_name", "name", "label::English (en)"), ("outcome", "spoke", "Spoke with her"),
                ("outcome", "no_answer", "No answer"), ("topics", "safety", "Safety plan"),
                ("topics", "referral", "Referral")]:
        choices.append(row)
    settings = book.create_sheet("settings")
    settings.append(("form_title", "form_id"))
    settings.append(("Contact log", "contact_log"))
    book.save(path)


KOBO_EXPORT = textwrap.dedent('''\
    start;end;visit/client_name;visit/phone_number;visit/visit_date;visit/outcome;visit/minutes;visit/topics;visit/topics/safety;visit/topics/referral;visit/note;_id;_uuid;_submission_time;_validation_status;_notes;_status;_submitted_by;__version__;_tags;_index
    2025-03-01T10:00:00.000+11:00;2025-03-01T10:05:00.000+11:00;Oriana Whitlock;0491 570 110;2025-03-01;spoke;30;safety referral;1;1;Oriana asked us to call 0491 570 110 after 3pm;1;u-1;2025-03-01T00:06:00;;;submitted_via_web;worker1;v1;;1
    2025-03-02T10:00:00.000+11:00;2025-03-02T10:05:00.000+11:00;Oriana Whitlock;0491 570 110;2025-03-02;no_answer;;;;;;2;u-2;2025-03-02T00:06:00;;;submitted_via_web;worker1;v1;;2
    2025-03-02T10:00:00.000+11:00;2025-03-02T10:05:00.000+11:00;Oriana Whitlock;0491 570 110;2025-03-02;no_answer;;;;;;2;u-3;2025-03-02T00:06:00;;;submitted_via_web;worker1;v1;;3
    2025-03-03T10:00:00.000+11:00;2025-03-03T10:05:00.000+11:00;Tamsin Achterberg;0491 570 111;2025-03-03;callback;600;;;;;3;u-4;2025-03-03T00:06:00;;;submitted_via_web;worker2;v1;;4
    ''')


def test_an_evaluators_kobo_form_cleans(tmp_path):
    form = tmp_path / "contact_log.xlsx"
    _xlsform(form)
    export = tmp_path / "contact_log_export.csv"
    export.write_text(KOBO_EXPORT, encoding="utf-8")
    key = tmp_path / "key"
    assert runner.invoke(app, ["key", "new", "--out", str(key)]).exit_code == 0
    imported = runner.invoke(app, ["instruments", "import", str(form), "--from", "xlsform",
                                   "--out", str(tmp_path / "contact_log.yml")])
    assert imported.exit_code == 0, imported.output
    assert "client_name" in imported.output  # proposed as an identifier
    result = runner.invoke(app, ["clean", str(export), "--instrument", str(tmp_path / "contact_log.yml"),
                                 "--out", str(tmp_path / "out"), "--key-file", str(key)])
    assert result.exit_code == 0, result.output
    build = tmp_path / "out" / "build"
    clean = pd.read_parquet(build / "clean" / "contact_log.parquet")
    quarantine = pd.read_csv(build / "quarantine" / "quarantine.csv")
    assert len(clean) + len(quarantine) == 4
    assert "client_name" not in clean.columns and "phone_number" not in clean.columns
    assert clean["topics__safety"].fillna(0).sum() == 1
    text = clean.astype("string").to_csv(index=False)
    for canary in ("Oriana", "Whitlock", "Tamsin", "0491 570 110"):
        assert canary not in text
