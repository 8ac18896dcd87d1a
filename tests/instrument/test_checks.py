"""Instrument checks: structure first, then the design rules, one broken rule per test form."""

from __future__ import annotations

import pytest

from pceval.instrument import load_instrument, load_instruments
from pceval.instrument.checks import (
    CODES,
    FINDING_COLUMNS,
    check_files,
    check_instrument,
    shown_when_gate_closes,
)
from pceval.instrument.load import load_catalogue
from pceval.resources import default_path

CATALOGUE = """\
kind: domain_catalogue
schema_version: 1
version: "0.1"
respondents: {W: woman, PCW: worker}
domains:
  - {id: D12, name: safety and freedom from abuse, indicators: [felt safety], sources: [W],
     nos: [NOS1], rba: [BO]}
  - {id: D14, name: wellbeing and distress, indicators: [wellbeing], sources: [W],
     nos: [NOS1], rba: [BO]}
  - {id: D21, name: workforce, indicators: [caseload], sources: [PCW], nos: [NOS6], rba: [HW]}
"""

# A small women's survey that passes every check: the safety gate first, consent relevant on
# it, every question relevant on consent (so hidden through it), decline options, recall
# windows, one Likert group on one list, a numeric scale.
GOOD = """\
kind: instrument
schema_version: 1
id: tiny_women
version: "0.1"
title: Your experience of support
respondent: woman
missing_codes:
  - {code: -99, label: Prefer not to say, kind: prefer_not_to_say}
  - {code: -98, label: Don't know, kind: dont_know}
choice_lists:
  yes_no:
    - {code: 1, label: "Yes"}
    - {code: 0, label: "No"}
  agree3:
    - {code: 1, label: Disagree}
    - {code: 2, label: Neither}
    - {code: 3, label: Agree}
  agree5:
    - {code: 1, label: Strongly disagree}
    - {code: 2, label: Disagree}
    - {code: 3, label: Neither}
    - {code: 4, label: Agree}
    - {code: 5, label: Strongly agree}
items:
  - id: safe_now
    type: single_choice
    label: Is it safe for you to answer these questions right now?
    choices: yes_no
    role: safety_gate
  - id: consent
    type: single_choice
    label: Are you happy to answer some questions?
    choices: yes_no
    role: consent
    relevance: "safe_now == 1"
  - id: survey_date
    type: date
    label: Date of this survey
    role: event_date
  - id: case_id
    type: short_text
    label: Case number (filled in by the service)
    sensitivity: direct_identifier
    role: case_key
  - id: fs_home
    type: likert
    group: felt_safety
    label: In the past 3 months, I have felt safe at home.
    choices: agree3
    missing_codes: [-99]
    relevance: "consent == 1"
    domains: [D12]
  - id: fs_out
    type: likert
    group: felt_safety
    label: In the past 3 months, I have felt safe when I go out.
    choices: agree3
    missing_codes: [-99]
    relevance: "consent == 1"
    domains: [D12]
  - id: wellbeing
    type: integer
    label: At the moment, how satisfied are you with your life (0 to 10)?
    constraint: {min: 0, max: 10}
    missing_codes: [-99]
    relevance: "consent == 1"
    domains: [D14]
  - id: thanks
    type: note
    label: Thank you. You can call 1800RESPECT on 1800 737 732 at any time.
scales:
  - id: felt_safety
    label: Felt safety
    items: [fs_home, fs_out]
    min_valid: 1
    domains: [D12]
"""

#: (name, text replaced in GOOD, replacement, the one finding code expected)
BROKEN = [
    ("no decline on a sensitive item",
     "    missing_codes: [-99]\n    relevance: \"consent == 1\"\n    domains: [D14]",
     "    relevance: \"consent == 1\"\n    domains: [D14]",
     "no_decline_option"),
    ("gate missing",
     "    choices: yes_no\n    role: safety_gate\n",
     "    choices: yes_no\n",
     "no_safety_gate"),
    ("a question before the gate",
     "items:\n",
     "items:\n  - {id: used_before, type: single_choice, choices: yes_no,\n"
     "     label: \"Have you used our service before?\"}\n",
     "safety_gate_not_first"),
    ("a question the gate does not hide",
     "    missing_codes: [-99]\n    relevance: \"consent == 1\"\n    domains: [D14]",
     "    missing_codes: [-99]\n    domains: [D14]",
     "safety_gate_does_not_end"),
    ("free text in a scale",
     "    label: In the past 3 months, I have felt safe when I go out.\n",
     "    label: In the past 3 months, I have felt safe when I go out.\n"
     "    sensitivity: free_text\n",
     "identifier_in_scale"),
    ("a domain of the respondent not covered",
     "    relevance: \"consent == 1\"\n    domains: [D14]\n",
     "    relevance: \"consent == 1\"\n",
     "domain_not_covered"),
    ("an identifier marked analysis",
     "  - id: thanks\n",
     "  - id: home_suburb\n    type: short_text\n    label: Which suburb do you live in?\n"
     "    relevance: \"consent == 1\"\n  - id: thanks\n",
     "likely_identifier"),
    ("no recall window",
     "In the past 3 months, I have felt safe at home.",
     "I have felt safe at home.",
     "no_recall_window"),
    ("relevance on a later item",
     "    missing_codes: [-99]\n    relevance: \"consent == 1\"\n    domains: [D12]\n"
     "  - id: fs_out",
     "    missing_codes: [-99]\n    relevance: \"consent == 1 and wellbeing > 0\"\n"
     "    domains: [D12]\n  - id: fs_out",
     "relevance_refers_to_later_item"),
    ("a Likert group on two lists",
     "    label: In the past 3 months, I have felt safe when I go out.\n    choices: agree3",
     "    label: In the past 3 months, I have felt safe when I go out.\n    choices: agree5",
     "likert_group_mixed_choices"),
    ("a scale on text codes",
     "  agree3:\n    - {code: 1, label: Disagree}\n    - {code: 2, label: Neither}\n"
     "    - {code: 3, label: Agree}",
     "  agree3:\n    - {code: dis, label: Disagree}\n    - {code: neither, label: Neither}\n"
     "    - {code: agree, label: Agree}",
     "scale_item_not_numeric"),
]


@pytest.fixture
def catalogue(write_yaml):
    return load_catalogue(write_yaml(CATALOGUE, "domains.yml"))


def _codes(findings):
    return {f.code for f in findings}


def test_the_good_form_passes_every_check(write_yaml, catalogue):
    assert check_instrument(write_yaml(GOOD), catalogue=catalogue) == []


@pytest.mark.parametrize(("old", "new", "code"), [b[1:] for b in BROKEN],
                         ids=[b[0] for b in BROKEN])
def test_each_broken_form_breaks_exactly_one_rule(write_yaml, catalogue, old, new, code):
    assert old in GOOD, "the replaced text must be in the good form"
    path = write_yaml(GOOD.replace(old, new, 1))
    findings = check_instrument(path, catalogue=catalogue)
    assert _codes(findings) == {code}
    for finding in findings:
        assert finding.severity == CODES[code]
        # one line that names the file and the item and says the fix
        assert "\n" not in finding.message
        assert finding.message.startswith(str(path))
        assert finding.item == "" or finding.item in finding.message
        assert finding.fix and finding.message.endswith(f"(fix: {finding.fix})")


def test_findings_name_what_is_wrong(write_yaml, catalogue):
    broken = dict((b[0], b[1:]) for b in BROKEN)

    def messages(name):
        old, new, _ = broken[name]
        return [f.message for f in check_instrument(write_yaml(GOOD.replace(old, new, 1)),
                                                    catalogue=catalogue)]

    [leak] = messages("a question the gate does not hide")
    assert "still shown: wellbeing" in leak
    [uncovered] = messages("a domain of the respondent not covered")
    assert "D14 (wellbeing and distress)" in uncovered and "D12" not in uncovered.split(":")[2]
    [mixed] = messages("a Likert group on two lists")
    assert "item fs_out" in mixed and "'agree5'" in mixed and "'agree3'" in mixed
    assert {m.split(",")[1].strip() for m in messages("a scale on text codes")} == {
        "scale felt_safety"}
    [later] = messages("relevance on a later item")
    assert "item fs_home" in later and "depends on wellbeing" in later
    [decline] = messages("no decline on a sensitive item")
    assert "add missing_codes: [-99]" in decline


def test_dont_know_counts_as_a_way_to_decline(write_yaml, catalogue):
    wellbeing = "    missing_codes: [-99]\n    relevance: \"consent == 1\"\n    domains: [D14]"
    text = GOOD.replace(wellbeing, wellbeing.replace("-99", "-98"))
    assert check_instrument(write_yaml(text), catalogue=catalogue) == []


def test_quasi_identifiers_need_a_decline_option_in_every_instrument(write_yaml, catalogue):
    worker = """\
    kind: instrument
    schema_version: 1
    id: tiny_worker
    version: "0.1"
    title: Practice survey
    respondent: worker
    choice_lists:
      years: [{code: 1, label: Under 2 years}, {code: 2, label: 2 years or more}]
    items:
      - {id: years, type: single_choice, choices: years, sensitivity: quasi_identifier,
         label: "How long have you done this work?", domains: [D21]}
    """
    findings = check_instrument(write_yaml(worker), catalogue=catalogue)
    assert [(f.code, f.item) for f in findings] == [("no_decline_option", "years")]
    # a worker survey needs no safety gate, and no recall windows are asked of it
    assert "no_safety_gate" not in _codes(findings)


def test_the_gate_hides_items_through_consent(write_yaml):
    inst = load_instrument(write_yaml(GOOD))
    shown, failed = shown_when_gate_closes(inst)
    assert shown == ["survey_date", "case_id", "thanks"]
    assert failed == []


def test_a_gate_with_a_missing_code_must_end_on_it_too(write_yaml, catalogue):
    # "prefer not to say" on the gate is a closing answer; the good form hides everything then
    text = GOOD.replace("    choices: yes_no\n    role: safety_gate\n",
                        "    choices: yes_no\n    missing_codes: [-99]\n    role: safety_gate\n")
    assert check_instrument(write_yaml(text), catalogue=catalogue) == []
    # ... but an item asked whenever the gate is not "No" leaks on "prefer not to say"
    leaky = text.replace('relevance: "safe_now == 1"', 'relevance: "safe_now != 0"')
    findings = check_instrument(write_yaml(leaky), catalogue=catalogue)
    assert _codes(findings) == {"safety_gate_does_not_end"}
    assert "consent, fs_home, fs_out, wellbeing" in findings[0].message


def test_a_file_that_does_not_load_is_one_error_and_the_others_are_still_checked(
        tmp_path, write_yaml):
    broken = write_yaml(GOOD.replace("  - id: fs_out\n", "  - id: fs_out\n   bad: [\n"), "a.yml")
    unknown_list = write_yaml(GOOD.replace("choices: agree3\n", "choices: nope\n", 1), "b.yml")
    good = write_yaml(GOOD, "c.yml")
    write_yaml(CATALOGUE, "domains.yml")
    frame = check_files(tmp_path)
    assert list(frame.columns) == list(FINDING_COLUMNS)
    by_file = frame.groupby("file")["code"].apply(list).to_dict()
    assert by_file[str(broken)] == ["invalid_instrument"]
    assert by_file[str(unknown_list)] == ["invalid_instrument"]
    assert str(good) not in by_file  # checked against the catalogue in the folder, and clean
    row = frame[frame["file"] == str(unknown_list)].iloc[0]
    assert row["item"] == "fs_home" and "'nope'" in row["message"]
    assert "row" in frame[frame["file"] == str(broken)].iloc[0]["message"]
    # a list of files works the same, a missing file included
    frame = check_files([tmp_path / "gone.yml", good], catalogue=tmp_path / "domains.yml")
    assert frame["code"].tolist() == ["invalid_instrument"]
    assert "file not found" in frame["message"].iloc[0]


def test_check_instrument_accepts_a_loaded_instrument(write_yaml, catalogue):
    text = GOOD.replace("In the past 3 months, I have felt safe at home.",
                        "I have felt safe at home.")
    inst = load_instrument(write_yaml(text))
    [finding] = check_instrument(inst, catalogue=catalogue)
    assert finding.file == "" and finding.message.startswith("instrument tiny_women, item fs_home")


SHIPPED = ["womens_survey", "worker_survey", "facilitator_survey", "contact_record"]


@pytest.fixture(scope="module")
def shipped_findings():
    return check_files([default_path("instruments") / f"{name}.yml" for name in SHIPPED])


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_instruments_have_no_errors(shipped_findings, name):
    mine = shipped_findings[shipped_findings["file"].str.endswith(f"{name}.yml")]
    errors = mine[mine["severity"] == "error"]
    assert errors.empty, "\n".join(errors["message"])


def test_shipped_findings_are_well_formed(shipped_findings):
    assert set(shipped_findings["code"]) <= set(CODES)
    assert set(shipped_findings["severity"]) <= {"error", "warning"}
    for row in shipped_findings.itertuples():
        assert row.message.startswith(row.file) and f"(fix: {row.fix})" in row.message
    # every shipped instrument is loaded and checked, none is invalid
    assert "invalid_instrument" not in set(shipped_findings["code"])
    assert set(load_instruments()) >= set(SHIPPED)


def test_a_broken_catalogue_is_one_error_and_the_instruments_are_still_checked(write_yaml):
    broken = write_yaml(CATALOGUE.replace("sources: [W],", "sources: [X],", 1), "domains.yml")
    no_window = write_yaml(GOOD.replace("In the past 3 months, I have felt safe at home.",
                                        "I have felt safe at home."), "women.yml")
    frame = check_files([no_window], catalogue=broken)
    assert frame["code"].tolist() == ["invalid_catalogue", "no_recall_window"]
    assert frame["file"].tolist() == [str(broken), str(no_window)]
    findings = check_instrument(no_window, catalogue=broken)
    assert [f.code for f in findings] == ["invalid_catalogue", "no_recall_window"]
