"""The HTML codebook: content, privacy (no identifier values, n.p. for small counts), access."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pandas as pd
import pytest

from pceval.errors import ReportError
from pceval.instrument import load_catalogue, load_instrument, load_instruments
from pceval.instrument.codebook import NOT_PUBLISHED, codebook_html, write_codebook
from pceval.instrument.script import html_text

TINY = """\
kind: instrument
schema_version: 1
id: tiny
version: "2.3"
title: "Your experience <of> support & care"
respondent: woman
waves: [baseline, followup]
missing_codes:
  - {code: -99, label: Prefer not to say, kind: prefer_not_to_say}
  - {code: -98, label: Don't know, kind: dont_know}
choice_lists:
  yes_no:
    - {code: 1, label: "Yes"}
    - {code: 0, label: "No"}
  agree3:
    - {code: 1, label: Disagree}
    - {code: 2, label: Neither agree nor disagree}
    - {code: 3, label: Agree}
  help:
    - {code: police, label: Police}
    - {code: friend, label: A friend}
  times:
    - {code: morning, label: Mornings}
    - {code: evening, label: Evenings}
items:
  - {id: safe_now, type: single_choice, choices: yes_no, role: safety_gate,
     label: "Is it safe to answer now?"}
  - {id: case_id, type: short_text, sensitivity: direct_identifier, role: case_key,
     label: Case number}
  - {id: her_name, type: short_text, sensitivity: direct_identifier, relevance: "safe_now == 1",
     label: Your first name}
  - {id: phone, type: short_text, sensitivity: contact_safety, relevance: "safe_now == 1",
     label: A safe phone number}
  - {id: fs_home, type: likert, choices: agree3, missing_codes: [-99], relevance: "safe_now == 1",
     label: "In the past 3 months, I have felt safe at home <really>.", domains: [D12],
     nos: [NOS1]}
  - {id: fs_out, type: likert, choices: agree3, missing_codes: [-99, -98],
     relevance: "safe_now == 1", label: "In the past 3 months, I have felt safe going out.",
     domains: [D12]}
  - {id: children_n, type: integer, constraint: {min: 0, max: 15}, missing_codes: [-99],
     sensitivity: quasi_identifier, relevance: "safe_now == 1 and fs_home > 1",
     label: "How many children live with you?", waves: [followup]}
  - {id: wellbeing, type: integer, constraint: {min: 0, max: 10}, relevance: "safe_now == 1",
     label: "At the moment, how satisfied are you with life?", domains: [D14]}
  - {id: help, type: multiple_choice, choices: help, relevance: "safe_now == 1",
     label: "Who helped you?"}
  - {id: safe_times, type: multiple_choice, choices: times, sensitivity: contact_safety,
     relevance: "safe_now == 1", label: "When is it safe to call you?"}
  - {id: comments, type: long_text, sensitivity: free_text, relevance: "safe_now == 1",
     label: "Anything else?"}
scales:
  - {id: felt_safety, label: Felt safety, items: [fs_home, fs_out], reverse: [fs_out],
     min_valid: 1, domains: [D12],
     bands: [{label: low, min: 1, max: 1.5}, {label: high, min: 1.5, max: 3}]}
"""

SECRETS = ["Jane Citizen", "0412 345 678", "my secret words", "AB123456"]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    path = tmp_path_factory.mktemp("codebook") / "tiny.yml"
    path.write_text(TINY, encoding="utf-8")
    return load_instrument(path)


@pytest.fixture(scope="module")
def data():
    n = 40
    # fs_home: 3 disagree (small), 20 neither, 15 agree, 2 blank
    fs_home = [1] * 3 + [2] * 20 + [3] * 15 + [None] * 2
    return pd.DataFrame({
        "safe_now": pd.array([1] * n, dtype="Int64"),
        # identifiers and free text that should never have reached the clean zone
        "case_id": [SECRETS[3]] * n,
        "her_name": [SECRETS[0]] * n,
        "phone": [SECRETS[1]] * n,
        "comments": [SECRETS[2]] * n,
        "fs_home": pd.array(fs_home, dtype="Int64"),
        "fs_out": pd.array([3] * 30 + [1] * 10, dtype="Int64"),
        "children_n": pd.array(list(range(10)) * 4, dtype="Int64"),
        "wellbeing": pd.array([7] * 34 + [None] * 6, dtype="Int64"),
        "help__police": pd.array([1] * 2 + [0] * 38, dtype="Int8"),
        "help__friend": pd.array([1] * 12 + [0] * 28, dtype="Int8"),
        "safe_times__morning": pd.array([1] * 17 + [0] * 23, dtype="Int8"),
        "safe_times__evening": pd.array([0] * 17 + [1] * 23, dtype="Int8"),
    })


@pytest.fixture(scope="module")
def missing():
    # fs_home: one reason each for its two blanks; wellbeing: 3 of its 6 blanks have a reason
    return pd.DataFrame({"instrument": "tiny", "row": [38, 39, 34, 35, 36],
                         "field": ["fs_home", "fs_home", "wellbeing", "wellbeing", "wellbeing"],
                         "reason": ["prefer_not_to_say", "skipped_by_logic",
                                    "skipped_by_logic", "skipped_by_logic", "skipped_by_logic"]})


@pytest.fixture(scope="module")
def page(tiny, data, missing):
    reliability = pd.DataFrame({"instrument": ["tiny"], "scale": ["felt_safety"],
                                "statistic": ["cronbach_alpha"], "estimate": [0.8123],
                                "ci_low": [0.71], "ci_high": [0.88], "n": [40]})
    return codebook_html([tiny], data={"tiny": data}, missing=missing, reliability=reliability)


def _section(page: str, anchor: str) -> str:
    """The HTML from an element with this id to the next h4."""
    start = page.index(f'id="{anchor}"')
    end = page.find("<h4", start + 1)
    return page[start:end if end != -1 else None]


def _rows(fragment: str) -> dict[str, str]:
    """Answer label -> count text, from one distribution table."""
    found = re.findall(r'<th scope="row">(.*?)</th><td>.*?</td><td class="num">(.*?)</td>',
                       fragment)
    return {html_text(label): count for label, count in found}


def test_instrument_metadata_and_items(page):
    text = html_text(page)
    assert "Your experience <of> support & care (tiny)" in text
    assert "Version 2.3" in text and "Respondent woman" in text and "baseline, followup" in text
    for item_id in ["safe_now", "fs_home", "children_n", "help", "comments"]:
        assert f'id="tiny-{item_id}"' in page
    # choices and missing codes with their codes, labels and kinds
    assert "<code>1</code>: Disagree" in page and "<code>police</code>: Police" in page
    assert ("<code>-99</code>: Prefer not to say <span class=\"kind\">(prefer not to say)</span>"
            in page)
    assert "<code>-98</code>: Don&#x27;t know" in page
    # relevance in plain words, waves, domains named from the catalogue, NOS tags
    assert "if safe_now is 'Yes' and fs_home is more than 'Disagree'" in text
    assert "at waves followup" in text
    assert "D12 safety and freedom from abuse" in text and "NOS1" in text
    assert "0 to 15" in text and "role: safety gate" in text


def test_scales_with_keys_method_bands_and_reliability(page):
    scales = page[page.index('id="tiny-scales"'):page.index('id="tiny-answers"')]
    text = html_text(scales)
    assert "<code>fs_home</code>, <code>fs_out</code>" in scales
    assert "low: 1 to 1.5" in text and "high: 1.5 to 3" in text
    assert "cronbach alpha 0.81 (95% CI 0.71 to 0.88), n = 40" in text
    assert re.search(r"<td><code>fs_out</code></td>", scales)  # reverse-keyed column


def test_counts_under_five_are_not_published(page):
    rows = _rows(_section(page, "tiny-fs_home-answers"))
    assert rows["Disagree"] == NOT_PUBLISHED
    # with only one small cell, the next smallest is hidden too, so it cannot be worked back
    assert rows["missing: prefer not to say"] == NOT_PUBLISHED
    assert rows["Neither agree nor disagree"] == "20" and rows["Agree"] == "15"
    assert rows["missing: skipped by the survey's routing"] == NOT_PUBLISHED
    help_rows = _rows(_section(page, "tiny-help-answers"))
    assert help_rows == {"Police": NOT_PUBLISHED, "A friend": "12"}


def test_numbers_show_summaries_and_quasi_identifiers_no_extremes(page):
    wellbeing = _rows(_section(page, "tiny-wellbeing-answers"))
    assert wellbeing["answered"] == "34" and wellbeing["median"] == "7"
    assert wellbeing["minimum"] == "7" and wellbeing["maximum"] == "7"
    # two small cells hide each other: nothing more needs hiding
    assert wellbeing["missing: skipped by the survey's routing"] == NOT_PUBLISHED
    assert wellbeing["blank, no reason recorded"] == NOT_PUBLISHED
    children = _rows(_section(page, "tiny-children_n-answers"))
    assert children["answered"] == "40" and "median" in children
    assert "minimum" not in children and "maximum" not in children


def test_identifier_and_free_text_values_never_appear(page, tiny, data):
    for secret in SECRETS:
        assert secret not in page
        assert secret not in codebook_html(tiny, data={"tiny": data})
    for item_id in ["her_name", "phone", "comments", "case_id", "safe_times"]:
        rows = _rows(_section(page, f"tiny-{item_id}-answers"))
        [(label, count)] = rows.items()
        assert "values not shown" in label and count == "40"
    assert "Mornings" not in _section(page, "tiny-safe_times-answers")


def test_text_is_escaped(page):
    assert "<of>" not in page and "&lt;of&gt; support &amp; care" in page
    assert "<really>" not in page and "&lt;really&gt;" in page


class _Structure(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.headings: list[int] = []
        self.th_without_scope = 0
        self.urls: list[str] = []
        self.tags: set[str] = set()

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.add(tag)
        if re.fullmatch(r"h[1-6]", tag):
            self.headings.append(int(tag[1]))
        if tag == "th" and attrs.get("scope") not in {"col", "row"}:
            self.th_without_scope += 1
        for name in ("href", "src"):
            if name in attrs:
                self.urls.append(attrs[name])


def test_document_is_self_contained_and_accessible(page):
    assert page.startswith("<!DOCTYPE html>\n<html lang=\"en\">")
    parser = _Structure()
    parser.feed(page)
    assert parser.headings[0] == 1 and parser.headings.count(1) == 1
    assert all(b - a <= 1 for a, b in zip(parser.headings, parser.headings[1:], strict=False))
    assert parser.th_without_scope == 0
    assert all(url.startswith("#") for url in parser.urls)
    assert not {"script", "link", "img", "iframe"} & parser.tags
    assert "http://" not in page and "https://" not in page and "<style>" in page
    assert len(re.findall(r"<table[ >]", page)) == page.count("<caption>")


def test_shipped_codebook_names_every_item_and_domain(tmp_path):
    instruments = load_instruments()
    catalogue = load_catalogue()
    target = write_codebook(tmp_path / "codebook.html", instruments, catalogue=catalogue)
    page = target.read_text(encoding="utf-8")
    for inst in instruments.values():
        for item in inst.items:
            assert f'id="{inst.id}-{item.id}"' in page
    used = {d for inst in instruments.values() for item in inst.items for d in item.domains}
    names = {d.id: d.name for d in catalogue.domains}
    text = html_text(page)
    assert all(f"{d} {names[d]}" in text for d in used)
    # the same input gives the same bytes
    again = write_codebook(tmp_path / "again.html", instruments, catalogue=catalogue)
    assert again.read_bytes() == target.read_bytes()
    assert "Rows in the data" not in page  # no data, no distributions


def test_bad_side_frames_are_reported(tiny):
    with pytest.raises(ReportError, match="missing frame has no column reason"):
        codebook_html(tiny, missing=pd.DataFrame({"instrument": [], "field": []}))
    with pytest.raises(ReportError, match="reliability frame has no column estimate"):
        codebook_html(tiny, reliability=pd.DataFrame({"scale": ["felt_safety"]}))
