"""Interview scripts and plain-English routing."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path
from xml.etree import ElementTree

import pytest

from pceval.errors import InstrumentError
from pceval.instrument import load_instrument, load_instruments, text_in
from pceval.instrument.script import (
    describe_expression,
    export_interview_script,
    html_text,
    interview_script_markdown,
    ordered_items,
    question_numbers,
)

TINY = """\
kind: instrument
schema_version: 1
id: tiny
version: "0.1"
title: Tiny
respondent: woman
waves: [baseline, followup]
support_services: ["Helpline: 1800 000 000"]
missing_codes:
  - {code: -99, label: Prefer not to say, kind: prefer_not_to_say}
choice_lists:
  yn: [{code: 1, label: "Yes"}, {code: 0, label: "No"}]
  help: [{code: police, label: Police}, {code: friend, label: A friend}]
  mode: [{code: phone, label: Phone call}, {code: sms, label: Text message}]
items:
  - {id: kids, type: integer, label: "How many children?", relevance: "safe == 1"}
  - {id: safe, type: single_choice, choices: yn, role: safety_gate, missing_codes: [-99],
     label: "Is it safe to talk now?"}
  - {id: help, type: multiple_choice, choices: help, label: "Who helped?", waves: [followup]}
  - {id: mode, type: single_choice, choices: mode, label: "How did we contact you?"}
  - {id: total, type: calculated, calculation: "kids + 1"}
  - {id: bye, type: note, label: "Thank you."}
"""


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    path = tmp_path_factory.mktemp("tiny") / "tiny.yml"
    path.write_text(TINY, encoding="utf-8")
    return load_instrument(path)


@pytest.fixture(scope="module")
def women():
    return load_instrument("womens_survey")


@pytest.fixture(scope="module")
def women_script(women, tmp_path_factory):
    out = tmp_path_factory.mktemp("script")
    html_path, docx_path = export_interview_script(women, out)
    return html_path, docx_path


# -- numbering ---------------------------------------------------------------------------------


def test_safety_gate_comes_first_and_calculated_items_and_notes_are_not_numbered(tiny):
    assert [i.id for i in ordered_items(tiny)] == ["safe", "kids", "help", "mode", "bye"]
    assert question_numbers(tiny) == {"safe": "Q1", "kids": "Q2", "help": "Q3", "mode": "Q4"}
    assert question_numbers(tiny, wave="baseline") == {"safe": "Q1", "kids": "Q2", "mode": "Q3"}


def test_unknown_wave_is_an_instrument_error(tiny):
    with pytest.raises(InstrumentError, match="wave 'exit' is not a wave"):
        ordered_items(tiny, wave="exit")


# -- describe_expression -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("safe == 1", "Q1 is 'Yes'"),
        ("safe == 1 and kids > 0", "Q1 is 'Yes' and Q2 is more than 0"),
        ("safe != 1 or kids <= 2", "Q1 is not 'Yes' or Q2 is at most 2"),
        ("kids >= 1.5", "Q2 is at least 1.5"),
        ("kids < 3", "Q2 is less than 3"),
        ("kids == 2.0", "Q2 is 2"),
        ("3 < kids", "Q2 is more than 3"),
        ("0 < kids < 5", "Q2 is more than 0 and Q2 is less than 5"),
        ("not (safe == 1)", "Q1 is not 'Yes'"),
        ("not kids > 2", "Q2 is not more than 2"),
        ("not (safe == 1 and kids > 0)", "not (Q1 is 'Yes' and Q2 is more than 0)"),
        ("safe == 1 and (kids > 0 or selected(help, 'friend'))",
         "Q1 is 'Yes' and (Q2 is more than 0 or Q3 includes 'A friend')"),
        ("safe == 1 or 0 < kids < 5", "Q1 is 'Yes' or (Q2 is more than 0 and Q2 is less than 5)"),
        ("selected(help, 'police')", "Q3 includes 'Police'"),
        ("not selected(help, 'police')", "Q3 does not include 'Police'"),
        ("mode == 'phone'", "Q4 is 'Phone call'"),
        ("mode != 'sms'", "Q4 is not 'Text message'"),
        ("mode == 'fax'", "Q4 is 'fax'"),
        ("safe == -99", "Q1 is 'Prefer not to say'"),
        ("answered(kids)", "Q2 is answered"),
        ("not answered(kids)", "Q2 is not answered"),
        ("kids + 1 > 2", "Q2 + 1 is more than 2"),
        ("safe", "Q1 is not 'No'"),
        ("total > 3", "total is more than 3"),
    ],
)
def test_describe_expression(tiny, expr, expected):
    assert describe_expression(expr, tiny) == expected


def test_describe_expression_with_own_names(tiny):
    assert describe_expression("safe == 1", tiny, numbers={}) == "safe is 'Yes'"
    assert describe_expression("kids > 0", tiny, numbers={"kids": "the children question"}) == (
        "the children question is more than 0")


def test_describe_expression_on_the_womens_survey(women):
    n = question_numbers(women)
    assert describe_expression("consent == 1 and children_n > 0", women) == (
        f"{n['consent']} is 'Yes' and {n['children_n']} is more than 0")


# -- the script ----------------------------------------------------------------------------------


def _section(markdown: str, heading: str) -> str:
    start = markdown.index(heading)
    following = markdown.find("\n### ", start + len(heading))
    return markdown[start:following if following > 0 else None]


def test_markdown_routes_the_safety_gate_and_consent_to_the_close(women):
    md = interview_script_markdown(women)
    q1 = _section(md, "### Q1 · safe\\_now")
    assert "**Before we start: is it safe for you to answer these questions right now?" in q1
    assert "IF No → go to CLOSE" in q1
    q2 = _section(md, "### Q2 · consent")
    assert "ASK IF Q1 is 'Yes'" in q2 and "IF No → go to CLOSE" in q2
    n = question_numbers(women)
    assert (f"ASK IF {n['consent']} is 'Yes' and {n['children_n']} is more than 0"
            in _section(md, f"### {n['children_safe']} · children\\_safe"))
    assert "ASK AT WAVES: exit, followup only" in _section(md, f"### {n['exp_listened']} · exp\\_listened")
    assert md.index("### Q1 ·") < md.index("### Introduction") < md.index("### Q2 ·")
    assert "## CLOSE" in md and md.rstrip().endswith(
        "INTERVIEWER: if she became distressed, follow the distress protocol above.")


def test_identifiers_are_recorded_only_if_offered_and_service_fields_are_not_read(women):
    md = interview_script_markdown(women)
    for item_id in ("first_name", "phone", "email", "street_address"):
        number = question_numbers(women)[item_id]
        block = _section(md, f"### {number} · {item_id.replace('_', chr(92) + '_')}")
        assert "record only if she offers it; never read it back" in block
    case = _section(md, "### Q4 · case\\_id")
    assert "do not ask her" in case and "*Case number (filled in by the service)*" in case


def test_html_has_the_safety_protocol_items_routing_and_support(women, women_script):
    html_path, _ = women_script
    document = html_path.read_text(encoding="utf-8")
    text = html_text(document)
    for phrase in (
        "Check it is safe to talk before anything else",
        "say 'Sorry, wrong number' and hang up",
        "Never leave a voicemail or a message that mentions the survey",
        "Call only on the number she nominated as safe, and only at the times she said are safe",
        "She can stop at any time and skip any question",
        "never affects the support she gets",
        "He is never told that she took part",
        "If she becomes distressed",
        "1800 737 732",
        "13 11 14",
        "[DO NOT READ: Prefer not to say]",
        "[DO NOT READ: Don't know]",
        "IF No → go to CLOSE",
    ):
        assert phrase in text, phrase
    for item in women.items:
        assert " ".join(text_in(item.label).split()) in text, item.id
        if item.relevance:
            assert "ASK IF " + describe_expression(item.relevance, women) in text, item.id
    # the support numbers appear at the start and at the close
    assert text.count("1800 737 732") >= 3
    assert text.index("1800 737 732") < text.index("Q1 · safe_now") < text.rindex("1800 737 732")
    # question text is bold (read aloud); the service's own fields are not
    assert "<strong>How old are you?</strong>" in document
    assert "<em>Case number (filled in by the service)</em>" in document


def test_html_is_self_contained(women_script):
    document = women_script[0].read_text(encoding="utf-8")
    assert re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", document) is None
    assert re.search(r"url\(", document) is None
    assert re.findall(r"https?://[^\s\"'<>]+", document) == ["http://www.w3.org/1999/xhtml"]
    assert "<style>" in document and "<script" not in document


def _docx_paragraphs(path: Path) -> list[str]:
    ns = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
    with zipfile.ZipFile(path) as archive:
        root = ElementTree.fromstring(archive.read("word/document.xml"))
    return ["".join(t.text or "" for t in p.iter(f"{ns}t")) for p in root.iter(f"{ns}p")]


def test_docx_holds_every_item_and_the_protocol(women, women_script):
    paragraphs = _docx_paragraphs(women_script[1])
    text = "\n".join(paragraphs)
    for item in women.items:
        assert " ".join(text_in(item.label).split()) in paragraphs, item.id
    assert "Safety protocol: read before every call" in paragraphs
    assert "IF No → go to CLOSE" in paragraphs
    assert "1800 737 732" in text and "13 11 14" in text


def test_a_wave_script_has_only_that_waves_items(women, tmp_path):
    (path,) = export_interview_script(women, tmp_path, formats=["md"], wave="baseline")
    assert path.name == "womens_survey_baseline_interview_script.md"
    md = path.read_text(encoding="utf-8")
    assert "How old are you?" in md and "I felt believed." not in md
    assert "ASK AT WAVES" not in md and "wave: baseline" in md


def test_output_is_byte_identical_across_runs(tiny, tmp_path):
    first = export_interview_script(tiny, tmp_path / "a")
    second = export_interview_script(tiny, tmp_path / "b")
    assert [p.read_bytes() for p in first] == [p.read_bytes() for p in second]


@pytest.mark.parametrize("instrument_id", sorted(load_instruments()))
def test_every_shipped_instrument_has_a_script(instrument_id, tmp_path):
    instrument = load_instrument(instrument_id)
    html_path, docx_path = export_interview_script(instrument, tmp_path)
    text = html_text(html_path.read_text(encoding="utf-8"))
    numbers = question_numbers(instrument)
    for item in ordered_items(instrument):
        assert " ".join(text_in(item.label).split()) in text
        if item.id in numbers:
            assert f"{numbers[item.id]} · {item.id}" in text
    assert zipfile.is_zipfile(docx_path)


def test_unknown_format_is_refused(tiny, tmp_path):
    with pytest.raises(ValueError, match="unknown script formats"):
        export_interview_script(tiny, tmp_path, formats=["pdf"])


ODD = """\
kind: instrument
schema_version: 1
id: odd
version: "1"
title: {en: "Odd * [text] <here>", fr: "Bizarre"}
respondent: worker
languages: [en, fr]
choice_lists:
  yn: [{code: "y", label: "Yes *really*"}, {code: "n", label: "No [never] <b>"}]
items:
  - {id: consent, type: single_choice, choices: yn, role: consent,
     label: {en: "Agree? Email me @ a_b@x.org, $5 | 50% #1 [[tag]]", fr: "D'accord ?"}}
  - {id: q, type: short_text, label: "`code` ~ ^", relevance: "consent == 'y'"}
"""


def test_odd_characters_reach_the_reader_literally(tmp_path):
    from pceval.instrument.qualtrics import check_qualtrics_txt, export_qualtrics_txt

    path = tmp_path / "odd.yml"
    path.write_text(ODD, encoding="utf-8")
    odd = load_instrument(path)
    html_path, docx_path = export_interview_script(odd, tmp_path)
    text = html_text(html_path.read_text(encoding="utf-8"))
    for phrase in ("Agree? Email me @ a_b@x.org, $5 | 50% #1 [[tag]]", "`code` ~ ^",
                   "Yes *really*", "No [never] <b>", "Odd * [text] <here>",
                   "ASK IF Q1 is 'Yes *really*'", "IF No [never] <b> → go to CLOSE"):
        assert phrase in text, phrase
    assert "D'accord ?" in html_text(export_interview_script(
        odd, tmp_path / "fr", formats=["html"], lang="fr")[0].read_text(encoding="utf-8"))
    txt = export_qualtrics_txt(odd, tmp_path / "odd.txt")
    assert check_qualtrics_txt(txt) == []
    assert "No [never] &lt;b&gt;" in txt.read_text(encoding="utf-8")
