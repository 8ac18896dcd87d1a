"""Data-quality tables and the validation and quality reports.

A small hand-made build (inline instruments and frames, figures counted by hand) pins the
values; a small synthetic build checks the tables against recomputation from the files the
build writes, and that identifiers planted in the issues never reach the HTML.
"""

from __future__ import annotations

import json
from html.parser import HTMLParser

import pandas as pd
import pytest

from pceval import pipeline
from pceval.clean.quality import (
    QUALITY_TABLES,
    quality_report_html,
    quality_tables,
    validation_report_html,
    write_quality_report,
    write_validation_report,
)
from pceval.errors import ReportError
from pceval.instrument import load_instrument
from pceval.project import load_project
from pceval.synth import generate_evaluation

SURVEY = """\
kind: instrument
schema_version: 1
id: survey
version: "1"
title: Your experience
respondent: woman
waves: [baseline, exit, followup]
missing_codes:
  - {code: -99, label: Prefer not to say, kind: prefer_not_to_say}
choice_lists:
  age: [{code: 1, label: Under 35}, {code: 2, label: 35 or over}]
  yn: [{code: 1, label: "Yes"}, {code: 0, label: "No"}]
items:
  - {id: case_id, type: short_text, required: true, role: case_key, sensitivity: direct_identifier,
     label: Case number}
  - {id: service_id, type: short_text, required: true, role: service}
  - {id: first_name, type: short_text, sensitivity: direct_identifier}
  - {id: phone, type: short_text, sensitivity: contact_safety}
  - {id: age_group, type: single_choice, choices: age, sensitivity: quasi_identifier,
     missing_codes: [-99], waves: [baseline], label: "How old are you?"}
  - {id: kids, type: integer, sensitivity: quasi_identifier, constraint: {min: 0, max: 15}}
  - {id: kids_ok, type: single_choice, choices: yn, relevance: "kids > 0"}
  - {id: comments, type: long_text, sensitivity: free_text}
"""

RECORD = """\
kind: instrument
schema_version: 1
id: record
version: "1"
title: Case log
respondent: record
unit: event
choice_lists:
  event: [{code: identified, label: Identified}, {code: contact, label: Contact}]
  mode: [{code: phone, label: Phone}, {code: sms, label: SMS}]
items:
  - {id: case_id, type: short_text, required: true, role: case_key, sensitivity: direct_identifier}
  - {id: woman_name, type: short_text, sensitivity: direct_identifier}
  - {id: event_date, type: date, required: true, role: event_date}
  - {id: event_type, type: single_choice, choices: event, required: true}
  - {id: mode, type: single_choice, choices: mode, required: true,
     relevance: "event_type != 'identified'"}
  - {id: minutes, type: integer}
  - {id: notes, type: long_text, sensitivity: free_text}
"""

SURVEY_FILE = "raw/survey.csv"
RECORD_FILE = "raw/record.csv"
PLANTED = "Jacinta Wolfe-Planted"
PLANTED_PHONE = "0499 111 222"


@pytest.fixture(scope="module")
def instruments(tmp_path_factory):
    folder = tmp_path_factory.mktemp("inst")
    (folder / "survey.yml").write_text(SURVEY, encoding="utf-8")
    (folder / "record.yml").write_text(RECORD, encoding="utf-8")
    return {"survey": load_instrument(folder / "survey.yml"),
            "record": load_instrument(folder / "record.yml")}


def _survey_clean() -> pd.DataFrame:
    # women w1..w6: w1 all three waves; w2, w6 baseline + followup; w3 baseline + exit;
    # w4 baseline only; w5 followup only
    waves = [("w1", "baseline"), ("w2", "baseline"), ("w3", "baseline"), ("w4", "baseline"),
             ("w6", "baseline"), ("w1", "exit"), ("w3", "exit"), ("w1", "followup"),
             ("w2", "followup"), ("w5", "followup"), ("w6", "followup")]
    age = [1, 2, None, 1, 2] + [None] * 6           # baseline only; w3 preferred not to say
    kids = [0, 2, 1, 0, 3, 0, 1, 0, 2, None, 3]      # the tenth left blank
    kids_ok = [None, 1, None, None, 0, None, 1, None, 1, None, 1]
    return pd.DataFrame({
        "pid": pd.array([p for p, _ in waves], dtype="string"),
        "service_id": "S01",
        "age_group": pd.array(age, dtype="Int64"),
        "kids": pd.array(kids, dtype="Int64"),
        "kids_ok": pd.array(kids_ok, dtype="Int64"),
        "comments": pd.array([None] * 10 + ["[NAME] helped"], dtype="string"),
        "_file": SURVEY_FILE,
        "_row": range(2, 13),
        "_wave": pd.array([w for _, w in waves], dtype="string"),
    })


def _record_clean() -> pd.DataFrame:
    return pd.DataFrame({
        "pid": pd.array(["w1", "w1", "w2", "w3", "w4", "w9"], dtype="string"),
        "event_date": pd.to_datetime(["2025-01-02", "2025-01-09", "2025-01-03", "2025-01-04",
                                      None, "2025-01-05"]),
        "event_type": pd.array(["identified", "contact", "identified", "contact", "contact",
                                "contact"], dtype="string"),
        "mode": pd.array([None, "phone", None, None, "sms", "phone"], dtype="string"),
        "minutes": pd.array([None, 20, None, None, 15, 30], dtype="Int64"),
        "notes": pd.array([None] * 6, dtype="string"),
        "_file": RECORD_FILE,
        "_row": range(2, 8),
    })


def _missing() -> pd.DataFrame:
    rows = []
    # age_group: hidden at exit and follow-up (rows 7-12), prefer not to say at row 4
    rows += [("survey", r, "age_group", "skipped_by_logic") for r in range(7, 13)]
    rows += [("survey", 4, "age_group", "prefer_not_to_say")]
    # kids_ok hidden where kids == 0 or kids blank
    rows += [("survey", r, "kids_ok", "skipped_by_logic") for r in (2, 5, 7, 9, 11)]
    rows += [("survey", 4, "kids_ok", "missing")]
    rows += [("survey", 11, "kids", "missing")]
    rows += [("survey", r, "comments", "missing") for r in range(2, 12)]
    # the record: mode hidden for 'identified' events; one contact left blank; a bad date
    rows += [("record", r, "mode", "skipped_by_logic") for r in (2, 4)]
    rows += [("record", 5, "mode", "missing"), ("record", 6, "event_date", "invalid_value_removed")]
    return pd.DataFrame(rows, columns=["instrument", "row", "field", "reason"])


def _issues() -> pd.DataFrame:
    rows = [
        ("out_of_range", "warning", SURVEY_FILE, 9, "kids", "99",
         "outside the allowed range 0 to 15"),
        # upstream redaction failed: the report must still not show these
        ("pattern_mismatch", "warning", SURVEY_FILE, 3, "first_name", PLANTED,
         f"{PLANTED} does not match the pattern"),
        ("pattern_mismatch", "warning", SURVEY_FILE, 5, "phone", PLANTED_PHONE, "bad phone"),
        ("unknown_code", "warning", SURVEY_FILE, 6, "comments", "ring me at home", "free text"),
        ("not_a_number", "warning", SURVEY_FILE, 7, "mystery_field", "SECRETX", "unknown field"),
        ("invalid_date", "warning", RECORD_FILE, 6, "event_date", "2025-02-31",
         "not a valid date in the form YYYY-MM-DD"),
        ("invalid_date", "warning", RECORD_FILE, 6, "woman_name", PLANTED, "name in a date"),
        ("unknown_woman", "warning", SURVEY_FILE, 12, "pid", pd.NA, "no record for this case"),
    ]
    return pd.DataFrame(rows, columns=["code", "severity", "file", "row", "field", "value",
                                       "message"])


def _quarantine() -> pd.DataFrame:
    return pd.DataFrame({"instrument": ["survey", "survey", "record"],
                         "file": [SURVEY_FILE, SURVEY_FILE, RECORD_FILE],
                         "row": [13, 14, 8],
                         "reason": ["duplicate_submission", "no_case_key", "duplicate_submission"],
                         "detail": ["duplicate submission; row 2 kept", "no case number",
                                    "duplicate submission; row 3 kept"]})


MANIFEST = {SURVEY_FILE: {"rows_in": 13, "rows_kept": 11, "rows_quarantined": 2},
            RECORD_FILE: {"rows_in": 7, "rows_kept": 6, "rows_quarantined": 1}}


@pytest.fixture(scope="module")
def tables(instruments):
    return quality_tables(manifest_rows=MANIFEST, issues=_issues(), quarantine=_quarantine(),
                          missing=_missing(), clean={"survey": _survey_clean(),
                                                     "record": _record_clean()},
                          instruments=instruments)


def _row(frame: pd.DataFrame, **where) -> dict:
    mask = pd.Series(True, index=frame.index)
    for column, value in where.items():
        mask &= frame[column].astype("string") == value
    found = frame[mask]
    assert len(found) == 1, where
    return found.iloc[0].to_dict()


# --------------------------------------------------------------------------------------------
# Tables on the hand-made build
# --------------------------------------------------------------------------------------------


def test_all_tables_returned(tables):
    assert tuple(tables) == QUALITY_TABLES


def test_rows_accounted_for(tables):
    rows = tables["rows"]
    assert rows["balanced"].tolist() == [True, True]
    survey = _row(rows, file=SURVEY_FILE)
    assert (survey["instrument"], survey["rows_in"], survey["rows_kept"],
            survey["rows_quarantined"], survey["quarantine_listed"]) == ("survey", 13, 11, 2, 2)


def test_rows_not_balanced_when_counts_or_list_disagree(instruments):
    manifest = {SURVEY_FILE: {"rows_in": 14, "rows_kept": 11, "rows_quarantined": 2},
                RECORD_FILE: {"rows_in": 8, "rows_kept": 6, "rows_quarantined": 2}}
    out = quality_tables(manifest_rows=manifest, issues=_issues(), quarantine=_quarantine(),
                         missing=_missing(), clean={"survey": _survey_clean(),
                                                    "record": _record_clean()},
                         instruments=instruments)["rows"]
    assert out["balanced"].tolist() == [False, False]


def test_quarantine_reasons(tables):
    got = tables["quarantine_reasons"].to_dict("records")
    assert got == [{"instrument": "record", "reason": "duplicate_submission", "rows": 1},
                   {"instrument": "survey", "reason": "duplicate_submission", "rows": 1},
                   {"instrument": "survey", "reason": "no_case_key", "rows": 1}]


def test_issues_by_code(tables):
    issues = tables["issues_by_code"]
    assert int(issues["issues"].sum()) == len(_issues())
    dates = issues[issues["code"] == "invalid_date"]
    assert dates["instrument"].unique().tolist() == ["record"]
    assert sorted(dates["field"]) == ["event_date", "woman_name"]
    assert dates["rows"].tolist() == [1, 1]


def test_missingness(tables):
    table = tables["missingness"]
    age = _row(table, instrument="survey", field="age_group", reason="skipped_by_logic")
    assert age["cells"] == 6 and age["rows"] == 11
    assert age["share_of_rows"] == pytest.approx(6 / 11)
    assert int(table["cells"].sum()) == len(_missing())


def test_a_log_of_categories_gives_the_tables_a_log_of_text_gives(tables, instruments):
    # the build keeps the reasons (and may keep fields) as categories; the tables are the same
    log = _missing()
    coded = log.astype({"instrument": "category", "field": "category",
                        "reason": pd.CategoricalDtype(sorted(set(log["reason"]), reverse=True))})
    again = quality_tables(manifest_rows=MANIFEST, issues=_issues(), quarantine=_quarantine(),
                           missing=coded, clean={"survey": _survey_clean(), "record": _record_clean()},
                           instruments=instruments)
    for name in ("missingness", "completeness"):
        pd.testing.assert_frame_equal(again[name], tables[name])
    assert coded["reason"].dtype == "category"  # the caller's log is not changed


def test_completeness_by_hand(tables):
    table = tables["completeness"]
    # age_group: shown at the 5 baseline rows, 4 answered, 1 preferred not to say
    age = _row(table, instrument="survey", field="age_group")
    assert (age["shown"], age["answered"], age["declined"]) == (5, 4, 1)
    assert age["share_answered"] == pytest.approx(0.8)
    # kids_ok: shown where kids > 0 (6 rows: 3, 4, 6, 8, 10, 12); row 4 left blank
    kids_ok = _row(table, instrument="survey", field="kids_ok")
    assert (kids_ok["shown"], kids_ok["answered"]) == (6, 5)
    # the case number is assessed through its pseudonym; identifiers are not in clean data
    assert "pid" in set(table["field"])
    assert not {"first_name", "phone", "case_id"} & set(table["field"])


def test_completeness_of_the_record_is_per_required_field(tables):
    record = tables["completeness"][tables["completeness"]["instrument"] == "record"]
    assert record["field"].tolist() == ["pid", "event_date", "event_type", "mode"]
    assert record["required"].all()
    mode = _row(record, field="mode")
    assert (mode["shown"], mode["answered"]) == (4, 3)
    date = _row(record, field="event_date")
    assert (date["shown"], date["answered"], date["share_answered"]) == (6, 5, pytest.approx(5 / 6))


def test_waves_and_retention_by_hand(tables):
    waves = tables["waves"]
    assert _row(waves, measure="women")["women"] == 6
    at = {r["wave"]: r["women"] for r in waves[waves["measure"] == "at_wave"].to_dict("records")}
    assert at == {"baseline": 5, "exit": 2, "followup": 4}
    followup = _row(waves, measure="retained", wave="followup")
    assert (followup["women"], followup["denominator"]) == (3, 5)
    assert followup["share"] == pytest.approx(0.6)
    assert _row(waves, measure="retained", wave="exit")["women"] == 2


def test_linkage_by_hand(tables):
    link = tables["linkage"].to_dict("records")
    assert link == [{"instrument": "survey", "record": "record", "women": 6, "linked": 4,
                     "share_linked": pytest.approx(4 / 6)}]


def test_empty_logs_without_columns_are_accepted(instruments):
    # the build concatenates logs into pd.DataFrame() when every one is empty
    out = quality_tables(manifest_rows=MANIFEST, issues=pd.DataFrame(),
                         quarantine=pd.DataFrame(), missing=pd.DataFrame(),
                         clean={"survey": _survey_clean()}, instruments=instruments)
    assert out["issues_by_code"].empty and out["missingness"].empty
    assert out["linkage"].empty  # no record to link to
    age = _row(out["completeness"], field="age_group")
    assert age["shown"] == 11  # without missing reasons every row counts as shown


def test_a_log_without_its_columns_is_an_error(instruments):
    with pytest.raises(ReportError, match="no column"):
        quality_tables(manifest_rows=MANIFEST, issues=pd.DataFrame({"code": ["x"]}),
                       quarantine=_quarantine(), missing=_missing(),
                       clean={"survey": _survey_clean()}, instruments=instruments)


def test_inputs_are_not_modified(instruments):
    issues, missing = _issues(), _missing()
    before = (issues.copy(), missing.copy())
    quality_tables(manifest_rows=MANIFEST, issues=issues, quarantine=_quarantine(),
                   missing=missing, clean={"survey": _survey_clean()}, instruments=instruments)
    pd.testing.assert_frame_equal(issues, before[0])
    pd.testing.assert_frame_equal(missing, before[1])


# --------------------------------------------------------------------------------------------
# HTML
# --------------------------------------------------------------------------------------------


class _Page(HTMLParser):
    """Headings, tables (caption and cell texts) and every attribute of a page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lang = None
        self.headings: list[int] = []
        self.tables: dict[str, list[list[str]]] = {}
        self.unscoped_th = 0
        self.attributes: list[str] = []
        self.tags: set[str] = set()
        self._caption: str | None = None
        self._in_caption = False
        self._rows: list[list[str]] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        attrs = dict(attrs)
        self.attributes += [str(v) for v in attrs.values() if v]
        if tag == "html":
            self.lang = attrs.get("lang")
        if len(tag) == 2 and tag[0] == "h" and tag[1].isdigit():
            self.headings.append(int(tag[1]))
        if tag == "table":
            self._caption, self._rows = "", []
        elif tag == "caption":
            self._in_caption = True
        elif tag == "tr":
            self._rows.append([])
        elif tag in {"td", "th"}:
            if tag == "th" and "scope" not in attrs:
                self.unscoped_th += 1
            self._cell = []

    def handle_endtag(self, tag):
        if tag == "caption":
            self._in_caption = False
        elif tag in {"td", "th"} and self._cell is not None:
            self._rows[-1].append("".join(self._cell).strip())
            self._cell = None
        elif tag == "table":
            self.tables[self._caption or ""] = self._rows

    def handle_data(self, data):
        if self._in_caption:
            self._caption = (self._caption or "") + data
        if self._cell is not None:
            self._cell.append(data)


def _parse(page: str) -> _Page:
    parser = _Page()
    parser.feed(page)
    parser.close()
    return parser


def _assert_accessible(page: str) -> _Page:
    parsed = _parse(page)
    assert page.startswith("<!DOCTYPE html>")
    assert parsed.lang == "en"
    assert parsed.headings[0] == 1 and parsed.headings.count(1) == 1
    assert all(b - a <= 1 for a, b in zip(parsed.headings, parsed.headings[1:], strict=False))
    assert parsed.unscoped_th == 0
    assert all(caption for caption in parsed.tables)
    assert not {"script", "link", "img", "iframe"} & parsed.tags
    assert not [a for a in parsed.attributes if "//" in a]
    assert "http://" not in page and "https://" not in page
    return parsed


def test_validation_report_never_shows_identifier_values(instruments):
    page = validation_report_html(_issues(), title="Validation", instruments=instruments)
    parsed = _assert_accessible(page)
    for secret in (PLANTED, "Jacinta", PLANTED_PHONE, "ring me at home", "SECRETX"):
        assert secret not in page
    assert "<code>99</code>" in page  # an analysis field's value is shown
    assert "<code>2025-02-31</code>" in page
    listed = parsed.tables[f"Issues in {SURVEY_FILE}, by row"]
    assert [r[0] for r in listed[1:]] == ["3", "5", "6", "7", "9", "12"]  # in row order
    by_row = {r[0]: r for r in listed[1:]}
    assert by_row["3"][4] == "not shown"
    assert by_row["3"][5] == "[redacted] does not match the pattern"


def test_validation_report_without_instruments_shows_no_value():
    page = validation_report_html(_issues())
    assert "99</code>" not in page and PLANTED not in page and "2025-02-31" not in page


def test_validation_report_groups_and_counts(instruments):
    parsed = _parse(validation_report_html(_issues(), instruments=instruments))
    summary = parsed.tables["Validation issues by file, code and field"]
    assert summary[0] == ["File", "Code", "What it means", "Severity", "Field", "Issues", "Rows"]
    assert len(summary) - 1 == len(_issues().groupby(["file", "code", "field"]))
    dates = [r for r in summary[1:] if r[1] == "invalid_date"]
    assert {(r[0], r[4], r[5]) for r in dates} == {(RECORD_FILE, "event_date", "1"),
                                                  (RECORD_FILE, "woman_name", "1")}


def test_validation_report_caps_the_list(instruments):
    many = pd.concat([_issues()] * 5, ignore_index=True)
    many["row"] = range(2, len(many) + 2)
    page = validation_report_html(many, instruments=instruments, max_rows=10,
                                  csv_name="audit/validation_issues.csv")
    parsed = _parse(page)
    listed = sum(len(rows) - 1 for caption, rows in parsed.tables.items()
                 if caption.startswith("Issues in"))
    assert listed == 10
    assert "The first 10 of 40 issues" in page and "audit/validation_issues.csv" in page
    assert "40 issues in 2 files" in page


def test_validation_report_with_no_issues():
    page = validation_report_html(pd.DataFrame(), title="Validation")
    _assert_accessible(page)
    assert "No validation issues" in page


def test_quality_report_hides_small_counts_of_women(tables):
    page = quality_report_html(tables, title="Quality", min_cell=5)
    parsed = _assert_accessible(page)
    waves = parsed.tables["Women answering survey, by wave"]
    cells = {r[0]: r[1:] for r in waves[1:]}
    # 6 women in all; 5 at baseline (complement 1), 2 at exit, 4 at follow-up: all n.p.
    assert cells["any wave"][0] == "6"
    assert cells["at baseline"][:3] == ["n.p.", "6", "n.p."]
    assert cells["at exit"][0] == "n.p." and cells["at followup"][0] == "n.p."
    assert cells["at baseline and followup"] == ["n.p.", "n.p.", "n.p."]
    link = parsed.tables["Survey women found in the partner contact record"]
    assert link[1][2:] == ["6", "n.p.", "n.p."]
    # rows, cells and issues are not counts of women: shown in full
    rows = parsed.tables["Rows read, kept and set aside, per raw file"]
    assert [r[4] for r in rows[1:]] == ["2", "1"]


def test_quality_report_complement_and_retention_rules():
    waves = pd.DataFrame({
        "instrument": "survey",
        "measure": ["women", "at_wave", "at_wave", "at_wave", "retained", "retained"],
        "wave": [None, "baseline", "exit", "followup", "exit", "followup"],
        "women": [100, 100, 60, 43, 60, 40],
        "denominator": [None, 100, 100, 100, 100, 100],
        "share": [None, 1.0, 0.6, 0.43, 0.6, 0.4],
    })
    link = pd.DataFrame({"instrument": ["survey"], "record": ["record"], "women": [100],
                         "linked": [97], "share_linked": [0.97]})
    parsed = _parse(quality_report_html({"waves": waves, "linkage": link}))
    cells = {r[0]: r[1:] for r in parsed.tables["Women answering survey, by wave"][1:]}
    assert cells["at baseline"] == ["100", "100", "100.0%"]
    assert cells["at exit"] == ["60", "100", "60.0%"]
    # 43 at follow-up, 40 of them with a baseline: 3 without one would show by subtraction
    assert cells["at followup"] == ["n.p.", "100", "n.p."]
    assert cells["at baseline and followup"] == ["40", "100", "40.0%"]
    # 97 of 100 linked shows that 3 were not
    found = parsed.tables["Survey women found in the partner contact record"][1]
    assert found[2:] == ["100", "n.p.", "n.p."]


def test_quality_report_in_words(tables):
    page = quality_report_html(tables)
    assert ("2 rows of the women&#x27;s survey could not be used and were set aside: "
            "1 duplicate submission and 1 with no case number.") in page
    assert "Every row of the 2 raw files is accounted for" in page


def test_reports_are_written_atomically_and_deterministically(tmp_path, tables, instruments):
    first = write_quality_report(tmp_path / "q.html", tables, title="Quality").read_bytes()
    second = write_quality_report(tmp_path / "q.html", tables, title="Quality").read_bytes()
    assert first == second
    path = write_validation_report(tmp_path / "v.html", _issues(), title="V",
                                   instruments=instruments)
    assert path.read_text(encoding="utf-8").count("<h1>") == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["q.html", "v.html"]


def test_min_cell_must_be_positive(tables):
    with pytest.raises(ValueError, match="min_cell"):
        quality_report_html(tables, min_cell=0)


# --------------------------------------------------------------------------------------------
# A synthetic build
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    root = tmp_path_factory.mktemp("quality") / "evaluation"
    generate_evaluation(root, seed=11, services=3, women=150)
    project = load_project(root)
    pipeline.build(project)
    instruments = pipeline.load_instruments_for(project)
    build = project.build
    manifest = json.loads((build / "manifest.json").read_text(encoding="utf-8"))
    clean = {i: pd.read_parquet(build / "clean" / f"{i}.parquet") for i in instruments}
    issues = pd.read_csv(build / "audit" / "validation_issues.csv")
    quarantine = pd.read_csv(build / "quarantine" / "quarantine.csv")
    missing = pd.read_parquet(build / "clean" / "missing_reasons.parquet")
    tables = quality_tables(manifest_rows=manifest["rows"], issues=issues,
                            quarantine=quarantine, missing=missing, clean=clean,
                            instruments=instruments)
    canaries = json.loads((root / "truth" / "canaries.json").read_text(encoding="utf-8"))
    return {"root": root, "manifest": manifest, "clean": clean, "issues": issues,
            "missing": missing, "quarantine": quarantine, "tables": tables,
            "instruments": instruments, "canaries": canaries["canaries"]}


def test_synthetic_rows_balance(synthetic):
    rows = synthetic["tables"]["rows"]
    assert len(rows) == len(synthetic["manifest"]["rows"]) == 4
    assert rows["balanced"].all()
    reasons = synthetic["tables"]["quarantine_reasons"].groupby("instrument")["rows"].sum()
    for r in rows.itertuples(index=False):
        assert r.rows_kept == len(synthetic["clean"][r.instrument])
        assert reasons.get(r.instrument, 0) == r.rows_quarantined


def test_synthetic_retention_equals_recomputation(synthetic):
    survey = synthetic["clean"]["womens_survey"]
    by_wave = {str(wave): set(group["pid"].dropna())
               for wave, group in survey.groupby("_wave")}
    waves = synthetic["tables"]["waves"]
    assert _row(waves, measure="women")["women"] == survey["pid"].nunique()
    for wave, women in by_wave.items():
        assert _row(waves, measure="at_wave", wave=wave)["women"] == len(women)
    both = by_wave["baseline"] & by_wave["followup"]
    followup = _row(waves, measure="retained", wave="followup")
    assert followup["women"] == len(both) > 0
    assert followup["share"] == pytest.approx(len(both) / len(by_wave["baseline"]))


def test_synthetic_linkage_equals_recomputation(synthetic):
    women = set(synthetic["clean"]["womens_survey"]["pid"])
    known = set(synthetic["clean"]["contact_record"]["pid"])
    link = _row(synthetic["tables"]["linkage"], instrument="womens_survey")
    assert (link["women"], link["linked"]) == (len(women), len(women & known))


def test_synthetic_completeness_and_missingness(synthetic):
    completeness = synthetic["tables"]["completeness"]
    share = completeness["share_answered"].dropna()
    assert len(share) and share.between(0, 1).all()
    assert (completeness["answered"] + completeness["declined"] <= completeness["shown"]).all()
    assert (completeness["shown"] <= completeness["rows"]).all()
    record = completeness[completeness["instrument"] == "contact_record"]
    assert record["required"].all() and len(record) >= 5
    missingness = synthetic["tables"]["missingness"]
    assert int(missingness["cells"].sum()) == len(synthetic["missing"])
    assert missingness["share_of_rows"].between(0, 1).all()
    issues = synthetic["tables"]["issues_by_code"]
    assert int(issues["issues"].sum()) == len(synthetic["issues"])


def test_synthetic_reports_never_show_planted_identifiers(synthetic, tmp_path):
    identifiers = [c for c in synthetic["canaries"]
                   if c["field"] in {"woman_name", "woman_phone", "first_name", "phone", "email",
                                     "street_address", "comments", "notes", "safe_contact"}]
    planted = identifiers[:40]
    assert planted
    issues = synthetic["issues"]
    extra = pd.DataFrame([{"code": "pattern_mismatch", "severity": "warning", "file": c["file"],
                           "row": c["row"], "field": c["field"], "value": c["value"],
                           "message": "does not match the pattern"} for c in planted])
    page = write_validation_report(tmp_path / "validation.html",
                                   pd.concat([issues, extra], ignore_index=True),
                                   title="Validation", instruments=synthetic["instruments"]
                                   ).read_text(encoding="utf-8")
    quality = write_quality_report(tmp_path / "quality.html", synthetic["tables"],
                                   title="Quality").read_text(encoding="utf-8")
    _assert_accessible(page)
    _assert_accessible(quality)
    for text in (page.casefold(), quality.casefold()):
        leaked = [c["value"] for c in synthetic["canaries"] if c["value"].casefold() in text]
        assert not leaked
