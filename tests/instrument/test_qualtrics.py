"""Qualtrics Advanced Format TXT export, its companions and the structural checker."""

from __future__ import annotations

import csv
import re
import textwrap

import pytest

from pceval.instrument import ItemType, load_instrument, load_instruments, text_in
from pceval.instrument.qualtrics import (
    check_qualtrics_txt,
    companion_paths,
    export_qualtrics_txt,
    qualtrics_condition,
)
from pceval.instrument.script import describe_expression, question_numbers

SHIPPED = sorted(load_instruments())

TINY = """\
kind: instrument
schema_version: 1
id: tiny
version: "0.1"
title: Tiny
respondent: woman
missing_codes:
  - {code: -99, label: Prefer not to say, kind: prefer_not_to_say}
choice_lists:
  yn: [{code: 1, label: "Yes"}, {code: 0, label: "No"}]
  help: [{code: police, label: Police}, {code: friend, label: A friend}]
items:
  - {id: safe, type: single_choice, choices: yn, role: safety_gate, label: "Safe now?"}
  - {id: kids, type: integer, label: "How many children?"}
  - {id: rating, type: integer, constraint: {min: 0, max: 10}, missing_codes: [-99],
     label: "Rate it from 0 to 10"}
  - {id: help, type: multiple_choice, choices: help, label: "Who helped?"}
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
def women_txt(women, tmp_path_factory):
    return export_qualtrics_txt(women, tmp_path_factory.mktemp("qualtrics") / "women.txt")


def _questions(text: str) -> list[dict]:
    """Questions of a TXT file: type, id, text and choice/answer lines (for assertions)."""
    out: list[dict] = []
    section = None
    for line in text.splitlines():
        if line.startswith("[[Question:"):
            out.append({"type": line[11:-2], "id": None, "text": [], "Choices": [], "Answers": []})
            section = "text"
        elif line.startswith("[[ID:"):
            out[-1]["id"] = line[5:-2]
        elif line in ("[[Choices]]", "[[Answers]]"):
            section = line[2:-2]
        elif line.startswith("[["):
            section = None
        elif line and out and section:
            out[-1][section].append(line)
    return out


# -- every shipped instrument ------------------------------------------------------------------


@pytest.mark.parametrize("instrument_id", SHIPPED)
@pytest.mark.parametrize("likert", ["questions", "matrix"])
def test_shipped_instruments_export_to_valid_txt(instrument_id, likert, tmp_path):
    instrument = load_instrument(instrument_id)
    path = export_qualtrics_txt(instrument, tmp_path / f"{instrument_id}.txt", likert=likert)
    assert check_qualtrics_txt(path) == []
    assert all(p.exists() for p in companion_paths(path).values())
    text = path.read_text(encoding="utf-8")
    assert "Display this question" not in text   # builder notes never reach respondents
    ids = re.findall(r"^\[\[ID:(.+)\]\]$", text, flags=re.M)
    assert len(ids) == len(set(ids))
    if likert == "questions":
        data_items = [i.id for i in instrument.data_items() if i.type != ItemType.CALCULATED]
        assert sorted(set(ids) & {i.id for i in instrument.items}) == sorted(
            data_items + [i.id for i in instrument.items if i.type == ItemType.NOTE])
        for item_id in data_items:
            assert ids.count(item_id) == 1


@pytest.mark.parametrize("instrument_id", SHIPPED)
def test_missing_codes_are_offered_as_choices(instrument_id, tmp_path):
    instrument = load_instrument(instrument_id)
    path = export_qualtrics_txt(instrument, tmp_path / "s.txt")
    by_id = {q["id"]: q for q in _questions(path.read_text(encoding="utf-8"))}
    for item in instrument.data_items():
        if item.id in by_id and by_id[item.id]["type"].startswith("MC"):
            labels = [text_in(m.label) for m in instrument.missing_of(item)]
            if labels:
                assert by_id[item.id]["Choices"][-len(labels):] == labels, item.id


@pytest.mark.parametrize("instrument_id", SHIPPED)
def test_display_logic_companion_lists_every_item_with_relevance(instrument_id, tmp_path):
    instrument = load_instrument(instrument_id)
    path = export_qualtrics_txt(instrument, tmp_path / "s.txt")
    with open(companion_paths(path)["display_logic_csv"], newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["item"] for r in rows] == [i.id for i in instrument.items if i.relevance]
    numbers = question_numbers(instrument)
    for row in rows:
        item = instrument.item(row["item"])
        assert row["relevance"] == item.relevance
        assert row["display_logic"] == describe_expression(item.relevance, instrument)
        assert row["number"] == numbers[item.id]
        assert row["qualtrics"].startswith("Display this question if: ")


# -- the women's survey ------------------------------------------------------------------------


def test_safety_gate_is_the_first_question(women_txt):
    text = women_txt.read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if line]
    assert lines[:5] == ["[[AdvancedFormat]]", "[[Block:safety_check]]",
                         "[[Question:MC:SingleAnswer:Vertical]]", "[[ID:safe_now]]",
                         lines[4]]
    assert lines[4].startswith("Before we start: is it safe for you to answer")
    questions = _questions(text)
    assert questions[0]["id"] == "safe_now" and questions[0]["Choices"] == ["Yes", "No"]
    # the introduction with the support services comes once it is safe to go on
    assert questions[1]["type"] == "DB" and "1800 737 732" in questions[1]["text"][0]
    assert "[[Block:consent]]" in text


def test_item_types_map_to_question_types(women_txt):
    by_id = {q["id"]: q for q in _questions(women_txt.read_text(encoding="utf-8"))}
    assert by_id["fs_home"]["type"] == "MC:SingleAnswer:Vertical"
    assert by_id["fs_home"]["Choices"] == ["Strongly disagree", "Disagree",
                                           "Neither agree nor disagree", "Agree",
                                           "Strongly agree", "Prefer not to say"]
    assert by_id["exp_listened"]["Choices"][-2:] == ["Prefer not to say", "Does not apply to me"]
    assert by_id["help_received"]["type"] == "MC:MultipleAnswer:Vertical"
    assert by_id["life_satisfaction"]["type"] == "MC:SingleAnswer:Horizontal"
    assert by_id["life_satisfaction"]["Choices"] == [str(n) for n in range(11)] + ["Prefer not to say"]
    assert by_id["children_n"]["type"] == "TE:SingleLine"
    assert by_id["children_n"]["text"][0].endswith("(You can leave this blank if you prefer not to answer.)")
    assert by_id["survey_date"]["type"] == "TE:SingleLine"
    assert "YYYY-MM-DD" in by_id["survey_date"]["text"][0]
    assert by_id["comments"]["type"] == "TE:Essay"
    assert by_id["end_note"]["type"] == "DB"
    assert "1800 737 732" in by_id["end_note"]["text"][0]


def test_display_logic_markdown_says_what_to_add(women_txt):
    md = companion_paths(women_txt)["display_logic_md"].read_text(encoding="utf-8")
    assert ("| `consent` | Q2 | Q1 is 'Yes' | Display this question if: safe_now Is Selected Yes |"
            in md)
    n = question_numbers(load_instrument("womens_survey"))
    assert (f"| `children_safe` | {n['children_safe']} | {n['consent']} is 'Yes' and {n['children_n']} is "
            "more than 0 | Display this question if: consent Is Selected Yes And children_n Is Greater "
            "Than 0 |") in md
    assert "After block `safety_check`: add a Branch — If safe_now Is Selected No → End of Survey" in md
    assert "After block `consent`: add a Branch — If consent Is Selected No → End of Survey" in md
    assert "- `exp_listened`: exit, followup" in md
    assert "Recode seen but unanswered questions as -99" in md


def test_recode_map_lists_position_and_code(women_txt):
    paths = companion_paths(women_txt)
    with open(paths["recode_map_csv"], newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    consent = [(r["position"], r["code"], r["label"], r["set_recode_to"])
               for r in rows if r["item"] == "consent"]
    assert consent == [("1", "1", "Yes", "1"), ("2", "0", "No", "0")]
    pnts = [r for r in rows if r["item"] == "fs_home" and r["label"] == "Prefer not to say"]
    assert [(r["position"], r["code"], r["missing_kind"]) for r in pnts] == [
        ("6", "-99", "prefer_not_to_say")]
    help_columns = [r["column"] for r in rows if r["item"] == "help_received"]
    assert help_columns == [f"help_received_{n}" for n in range(1, 7)]
    assert "Recode values" in paths["recode_map_md"].read_text(encoding="utf-8")


def test_text_codes_are_left_to_pceval(tmp_path):
    record = load_instrument("contact_record")
    path = export_qualtrics_txt(record, tmp_path / "record.txt")
    with open(companion_paths(path)["recode_map_csv"], newline="", encoding="utf-8") as handle:
        mode = [r for r in csv.DictReader(handle) if r["item"] == "mode"]
    assert [(r["position"], r["code"], r["set_recode_to"]) for r in mode][:2] == [
        ("1", "phone", ""), ("2", "sms", "")]


def test_matrix_layout_groups_likert_items(women, tmp_path):
    path = export_qualtrics_txt(women, tmp_path / "m.txt", likert="matrix")
    assert check_qualtrics_txt(path) == []
    by_id = {q["id"]: q for q in _questions(path.read_text(encoding="utf-8"))}
    matrix = by_id["felt_safety"]
    assert matrix["type"] == "Matrix"
    assert matrix["Choices"] == [text_in(women.item(i).label)
                                 for i in ("fs_home", "fs_out", "fs_afraid", "fs_plan")]
    assert matrix["Answers"][-1] == "Prefer not to say"
    assert "fs_home" not in by_id and "children_safe" in by_id   # not in a group: stays a question
    with open(companion_paths(path)["recode_map_csv"], newline="", encoding="utf-8") as handle:
        rows = {(r["item"], r["column"]) for r in csv.DictReader(handle)}
    assert ("fs_afraid", "felt_safety_3") in rows


def test_a_wave_export_has_only_that_waves_items(women, tmp_path):
    path = export_qualtrics_txt(women, tmp_path / "base.txt", wave="baseline")
    ids = set(re.findall(r"^\[\[ID:(.+)\]\]$", path.read_text(encoding="utf-8"), flags=re.M))
    assert "age_group" in ids and "exp_listened" not in ids
    md = companion_paths(path)["display_logic_md"].read_text(encoding="utf-8")
    assert "wave `baseline`" in md and "asked only at some waves" not in md


def test_export_is_byte_identical_across_runs(women, tmp_path):
    a = export_qualtrics_txt(women, tmp_path / "a" / "s.txt")
    b = export_qualtrics_txt(women, tmp_path / "b" / "s.txt")
    for key in ("display_logic_md", "display_logic_csv", "recode_map_csv", "recode_map_md"):
        assert companion_paths(a)[key].read_bytes() == companion_paths(b)[key].read_bytes()
    assert a.read_bytes() == b.read_bytes()


# -- display logic in Qualtrics' terms ---------------------------------------------------------


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("safe == 1", "safe Is Selected Yes"),
        ("safe != 1", "safe Is Selected No"),
        ("not (safe == 1)", "safe Is Not Selected Yes"),
        ("kids > 0", "kids Is Greater Than 0"),
        ("kids <= 2", "kids Is Less Than or Equal To 2"),
        ("not kids > 0", "kids Is Less Than or Equal To 0"),
        ("rating >= 8", "rating Is Selected 8 Or rating Is Selected 9 Or rating Is Selected 10"),
        ("rating == -99", "rating Is Selected Prefer not to say"),
        ("selected(help, 'police')", "help Is Selected Police"),
        ("not selected(help, 'police')", "help Is Not Selected Police"),
        ("answered(kids)", "kids Is Not Empty"),
        ("not answered(kids)", "kids Is Empty"),
        ("safe == 1 and (kids > 0 or selected(help, 'friend'))",
         "safe Is Selected Yes And (kids Is Greater Than 0 Or help Is Selected A friend)"),
        ("not (safe == 1 or kids > 0)", "safe Is Not Selected Yes And kids Is Less Than or Equal To 0"),
        ("kids + rating > 3",
         "[no direct Qualtrics condition for kids + rating > 3: compute it as embedded data in the "
         "survey flow and test that]"),
    ],
)
def test_qualtrics_condition(tiny, expr, expected):
    assert qualtrics_condition(expr, tiny) == expected


# -- the checker -------------------------------------------------------------------------------

GOOD = """\
[[AdvancedFormat]]

[[Block:start]]

[[Question:MC:SingleAnswer:Vertical]]
[[ID:q1]]
Pick one
[[Choices]]
A
B

[[PageBreak]]

[[Question:Matrix]]
[[ID:q2]]
Rate each
[[Choices]]
Row one
[[Answers]]
Low
High

[[Question:TE:Essay]]
[[ID:q3]]
Tell us more

[[Question:DB]]
[[ID:q4]]
Thank you.
"""


def _check(tmp_path, text: str) -> list[str]:
    path = tmp_path / "s.txt"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return check_qualtrics_txt(path)


def test_checker_passes_a_well_formed_file(tmp_path):
    assert _check(tmp_path, GOOD) == []


@pytest.mark.parametrize(
    ("broken", "message"),
    [
        (GOOD.replace("[[AdvancedFormat]]\n", ""),
         "line 2: the first line must be [[AdvancedFormat]], found '[[Block:start]]'"),
        (GOOD.replace("[[ID:q3]]", "[[ID:q1]]"),
         "line 24: question id 'q1' is also used on line 6"),
        (GOOD.replace("[[ID:q3]]", "[[ID:my q3]]"), "line 24: question id 'my q3' is not a valid export tag"),
        (GOOD.replace("[[Question:TE:Essay]]", "[[Question:TE:Paragraph]]"),
         "line 23: unknown question type 'TE:Paragraph'"),
        (GOOD.replace("[[PageBreak]]", "[[ Page Break ]]"), "line 12: tag [[ Page Break ]] has spaces"),
        (GOOD.replace("[[PageBreak]]", "[[Pagebreak]]"), "line 12: unknown tag [[Pagebreak]]"),
        (GOOD.replace("[[Choices]]\nA\nB\n", ""), "line 5: question q1 (MC:SingleAnswer:Vertical) has no choices"),
        (GOOD.replace("[[Answers]]\nLow\nHigh\n", ""), "line 14: question q2 (Matrix) has no answers"),
        (GOOD.replace("Tell us more\n", "Tell us more\n[[Choices]]\nx\n"),
         "line 23: question q3 (TE:Essay) cannot have choices"),
        (GOOD.replace("Thank you.\n", ""), "line 27: question q4 (DB) has no text"),
        (GOOD.replace("[[Block:start]]\n", "[[Block:start]]\nStray words\n"),
         "line 4: text outside a question: 'Stray words'"),
        (GOOD.replace("[[ID:q1]]\nPick one", "Pick one\n[[ID:q1]]"),
         "line 7: [[ID:q1]] must come before the question text"),
        (GOOD.replace("A\nB\n", "A\nA\n"),
         "line 5: question q1 (MC:SingleAnswer:Vertical) lists 'A' twice in its choices"),
        (GOOD.replace("[[ID:q1]]", "[[ID:q1]]\n[[ID:q9]]"), "line 7: question q1 has a second id 'q9'"),
        (GOOD.replace("[[Block:start]]", "[[Choices]]"), "line 3: [[Choices]] stands outside a question"),
    ],
)
def test_checker_reports_structural_problems(tmp_path, broken, message):
    problems = _check(tmp_path, broken)
    assert any(p.startswith(message) for p in problems), problems


def test_checker_reports_an_empty_file(tmp_path):
    assert _check(tmp_path, "\n\n") == [
        "line 1: the file is empty; it must start with [[AdvancedFormat]]"]
