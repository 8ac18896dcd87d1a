"""Differences between two versions of an instrument, with harmonisation hints."""

from __future__ import annotations

import pytest

from pceval.instrument import load_instrument
from pceval.instrument.diff import CHANGES, DIFF_COLUMNS, diff_instruments, format_diff

OLD = """\
kind: instrument
schema_version: 1
id: tiny
version: "1.0"
title: Your experience
respondent: woman
missing_codes:
  - {code: -99, label: Prefer not to say, kind: prefer_not_to_say}
  - {code: -98, label: Don't know, kind: dont_know}
choice_lists:
  yes_no:
    - {code: 1, label: "Yes"}
    - {code: 0, label: "No"}
  agree5:
    - {code: 1, label: Strongly disagree}
    - {code: 2, label: Disagree}
    - {code: 3, label: Neither agree nor disagree}
    - {code: 4, label: Agree}
    - {code: 5, label: Strongly agree}
  mode:
    - {code: 1, label: Phone}
    - {code: 2, label: Text message}
    - {code: 3, label: Email}
items:
  - {id: safe_now, type: single_choice, choices: yes_no, role: safety_gate,
     label: "Is it safe to answer now?"}
  - {id: fs_home, type: likert, choices: agree5, missing_codes: [-99], relevance: "safe_now == 1",
     label: "In the past 3 months, I have felt safe at home."}
  - {id: fs_out, type: likert, choices: agree5, missing_codes: [-99], relevance: "safe_now == 1",
     label: "In the past 3 months, I have felt safe when I go out."}
  - {id: children_n, type: integer, constraint: {min: 0, max: 20}, missing_codes: [-99],
     relevance: "safe_now == 1", label: "How many children live with you?"}
  - {id: contact_mode, type: single_choice, choices: mode, relevance: "safe_now == 1",
     label: "How did we contact you?"}
  - {id: postcode, type: short_text, relevance: "safe_now == 1", label: Your postcode}
  - {id: old_question, type: single_choice, choices: yes_no, relevance: "safe_now == 1",
     label: "Did you get a leaflet?"}
scales:
  - {id: felt_safety, label: Felt safety, items: [fs_home, fs_out], min_valid: 2}
"""

NEW = """\
kind: instrument
schema_version: 1
id: tiny
version: "1.1"
title: Your experience
respondent: woman
missing_codes:
  - {code: -99, label: Prefer not to say, kind: prefer_not_to_say}
  - {code: -98, label: Don't know, kind: dont_know}
choice_lists:
  yes_no:
    - {code: 1, label: "Yes"}
    - {code: 0, label: "No"}
  agree4:
    - {code: 1, label: Strongly disagree}
    - {code: 2, label: Disagree}
    - {code: 3, label: Neither agree nor disagree}
    - {code: 4, label: Agree or strongly agree}
  mode:
    - {code: 1, label: Phone call}
    - {code: 3, label: Email}
    - {code: 4, label: Text message}
    - {code: 5, label: Video call}
items:
  - {id: safe_now, type: single_choice, choices: yes_no, role: safety_gate,
     label: "Is it safe to answer now?"}
  - {id: fs_home, type: likert, choices: agree4, missing_codes: [-99], relevance: "safe_now == 1",
     label: "In the past 6 months, I have felt safe at home."}
  - {id: fs_out, type: likert, choices: agree4, missing_codes: [-99, -98],
     relevance: "safe_now == 1", label: "In the past 3 months, I have felt safe when I go out."}
  - {id: children_n, type: decimal, constraint: {min: 0, max: 15}, missing_codes: [-99],
     relevance: "safe_now == 1 and fs_home > 1", label: "How many children live with you?"}
  - {id: contact_mode, type: single_choice, choices: mode, relevance: "safe_now == 1",
     label: "How did we contact you?"}
  - {id: postcode, type: short_text, relevance: "safe_now == 1", label: Your postcode,
     sensitivity: quasi_identifier}
  - {id: new_question, type: single_choice, choices: yes_no, relevance: "safe_now == 1",
     label: "Did you get a safety plan?"}
scales:
  - {id: felt_safety, label: Felt safety, items: [fs_home, fs_out], min_valid: 1}
"""


@pytest.fixture
def versions(write_yaml):
    return load_instrument(write_yaml(OLD, "old.yml")), load_instrument(write_yaml(NEW, "new.yml"))


@pytest.fixture
def diff(versions):
    return diff_instruments(*versions)


def _rows(frame, change, item=None):
    hit = frame[frame["change"] == change]
    if item is not None:
        hit = hit[hit["item"] == item]
    return hit.to_dict("records")


def test_diff_is_tidy_with_known_change_types(diff):
    assert list(diff.columns) == list(DIFF_COLUMNS)
    assert set(diff["change"]) <= set(CHANGES)
    assert diff["harmonise"].str.len().gt(0).all()


def test_identical_versions_have_no_differences(versions):
    old, _ = versions
    assert diff_instruments(old, old).empty
    assert format_diff(diff_instruments(old, old)) == "no differences"


def test_version_items_added_and_removed(diff):
    [version] = _rows(diff, "version_changed")
    assert version["detail"] == "1.0 → 1.1" and version["item"] == ""
    assert [r["item"] for r in _rows(diff, "item_added")] == ["new_question"]
    assert [r["item"] for r in _rows(diff, "item_removed")] == ["old_question"]
    # a removed item is listed where it was
    items = diff["item"].tolist()
    assert items.index("old_question") > items.index("postcode")


def test_merged_codes_say_how_to_recode(diff):
    [row] = _rows(diff, "choices_changed", "fs_home")
    assert "codes 4,5 merged into 4" in row["detail"]
    assert "codes 4,5 merged: recode old 5 to 4 before pooling" in row["harmonise"]


def test_codes_added_removed_relabelled_and_recoded(diff):
    [row] = _rows(diff, "choices_changed", "contact_mode")
    detail, hint = row["detail"], row["harmonise"]
    assert "'Text message' recoded 2 → 4" in detail and "recode old 2 to 4" in hint
    assert "added 5 'Video call'" in detail and "code 5 did not exist" in hint
    assert "relabelled 1 'Phone' → 'Phone call'" in detail
    assert "removed" not in detail


def test_label_type_missing_relevance_constraint_sensitivity_and_scale(diff):
    [label] = _rows(diff, "label_changed", "fs_home")
    assert "past 3 months" in label["detail"] and "past 6 months" in label["detail"]
    assert label["harmonise"].startswith("recall window changed")
    [kind] = _rows(diff, "type_changed", "children_n")
    assert kind["detail"] == "integer → decimal"
    [missing] = _rows(diff, "missing_codes_changed", "fs_out")
    assert "added -98 \"Don't know\" (dont_know)" in missing["detail"]
    [relevance] = _rows(diff, "relevance_changed", "children_n")
    assert relevance["detail"] == "safe_now == 1 → safe_now == 1 and fs_home > 1"
    [constraint] = _rows(diff, "constraint_changed", "children_n")
    assert constraint["detail"] == "min 0, max 20 → min 0, max 15"
    assert "narrower range" in constraint["harmonise"]
    [sensitivity] = _rows(diff, "sensitivity_changed", "postcode")
    assert sensitivity["detail"] == "analysis → quasi_identifier"
    [scale] = _rows(diff, "scale_changed", "felt_safety")
    assert scale["detail"] == "min_valid 2 → 1" and "rescore" in scale["harmonise"]


def test_a_renamed_list_with_the_same_codes_is_no_change(write_yaml):
    old = load_instrument(write_yaml(OLD, "old.yml"))
    renamed = OLD.replace("  mode:\n", "  contact_modes:\n").replace("choices: mode,",
                                                                      "choices: contact_modes,")
    assert diff_instruments(old, load_instrument(write_yaml(renamed, "renamed.yml"))).empty


def test_format_diff_marks_each_change_and_its_hint(diff):
    text = format_diff(diff)
    lines = text.splitlines()
    assert len(lines) == 2 * len(diff)
    assert any(line.startswith("+ new_question") for line in lines)
    assert any(line.startswith("- old_question") for line in lines)
    assert any(line.startswith("~ (instrument)") and "version_changed" in line for line in lines)
    assert all(line.lstrip().startswith("→") for line in lines[1::2])
